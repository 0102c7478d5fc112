//! JWT claims checks (RFC 7519 §4.1, RFC 9068 §2 and §4) and the
//! [`AccessToken`](crate::AccessToken) they produce.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};

use super::json::{self, Name, Unique, member_bit};
use super::profile::{Profile, View};
use crate::time;
use crate::{AccessToken, InvalidToken, Principal, TokenSource};

/// What a token's claims are checked against.
#[derive(Debug, Clone)]
pub(crate) struct ClaimRules {
    pub(crate) issuer: Arc<str>,
    /// `aud` must name one of these (canonical URL comparison, exact otherwise).
    pub(crate) audiences: Vec<String>,
    /// A token without `aud` is accepted only from these clients (Cognito).
    pub(crate) allowed_clients: Vec<String>,
    pub(crate) profile: Profile,
    pub(crate) leeway: Duration,
}

/// The parsed claims plus what later checks (a verified-token cache) need.
pub(crate) struct Checked {
    pub(crate) token: AccessToken,
    pub(crate) not_before: Option<SystemTime>,
}

/// Which claims set a payload is read as: the members typed beyond those of
/// every JWT differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimSet {
    /// An access token (RFC 9068): the ID-JAG members are left as other claims.
    AccessToken,
    /// An ID-JAG (draft-ietf-oauth-identity-assertion-authz-grant §3.1): its
    /// own members are typed too.
    IdJag,
}

/// The members [`Registered`] acts on; a name's position is its bit in
/// [`json::Members`] (see [`json::bit`]). The first
/// [`ACCESS_TOKEN_MEMBERS`] are read for every claim set, the others for
/// ID-JAGs only.
const MEMBERS: [&str; 20] = [
    "iss",
    "sub",
    "client_id",
    "azp",
    "jti",
    "scope",
    "scp",
    "aud",
    "exp",
    "nbf",
    "iat",
    "cnf",
    "resource",
    "tenant",
    "aud_tenant",
    "aud_sub",
    "auth_time",
    "acr",
    "amr",
    "email",
];

/// The members [`Registered`] reads for an access token (up to `cnf`).
pub(crate) const ACCESS_TOKEN_MEMBERS: &[&str] = MEMBERS.split_at(12).0;

/// The claims this crate checks, read in one pass over the payload that also
/// refuses a repeated member name at any depth. Other members are skipped here
/// (their values still checked for duplicates) and kept for
/// [`AccessToken::claims`], parsed only if a handler asks. The members after
/// `cnf` are read only for [`ClaimSet::IdJag`].
#[derive(Default)]
pub struct Registered<'a> {
    /// `iss`.
    pub iss: Option<Cow<'a, str>>,
    /// `sub`.
    pub sub: Option<Cow<'a, str>>,
    /// `client_id`.
    pub client_id: Option<Cow<'a, str>>,
    pub(crate) azp: Option<Cow<'a, str>>,
    /// `jti`.
    pub jti: Option<Cow<'a, str>>,
    /// `scope`, space-separated.
    pub scope: Option<Cow<'a, str>>,
    pub(crate) scp: Option<Vec<String>>,
    /// `aud`, a string read as a one-element array.
    pub aud: Option<Vec<String>>,
    /// `exp`.
    pub exp: Option<SystemTime>,
    /// `nbf`.
    pub nbf: Option<SystemTime>,
    /// `iat`.
    pub iat: Option<SystemTime>,
    /// `cnf` (RFC 7800).
    pub cnf: Option<Confirmation<'a>>,
    /// `resource` (RFC 8707), ID-JAG only.
    pub resource: Option<Vec<String>>,
    /// `tenant`, ID-JAG only.
    pub tenant: Option<Cow<'a, str>>,
    /// `aud_tenant`, ID-JAG only.
    pub aud_tenant: Option<Cow<'a, str>>,
    /// `aud_sub`, ID-JAG only.
    pub aud_sub: Option<Cow<'a, str>>,
    /// `auth_time`, ID-JAG only.
    pub auth_time: Option<SystemTime>,
    /// `acr`, ID-JAG only.
    pub acr: Option<Cow<'a, str>>,
    /// `amr`, ID-JAG only.
    pub amr: Option<Vec<String>>,
    /// `email`, ID-JAG only.
    pub email: Option<Cow<'a, str>>,
}

/// Why a claims set could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadError {
    /// Not a JSON object, not UTF-8, bad syntax, or a member name twice.
    Malformed,
    /// A member read here has the wrong type or range.
    Claims,
}

impl From<ReadError> for InvalidToken {
    fn from(error: ReadError) -> Self {
        match error {
            ReadError::Malformed => InvalidToken::Malformed,
            ReadError::Claims => InvalidToken::Claims,
        }
    }
}

impl<'a> Registered<'a> {
    /// Reads a verified payload as `set`, strictly: a JSON object (UTF-8,
    /// RFC 8259 §8.1, checked once here in one pass rather than string by
    /// string inside the parser) with no repeated member name at any depth.
    pub fn read(payload: &'a [u8], set: ClaimSet) -> Result<Self, ReadError> {
        if payload.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ReadError::Malformed);
        }
        let text = std::str::from_utf8(payload).map_err(|_| ReadError::Malformed)?;
        json::read_strict(|| {
            let mut de = serde_json::Deserializer::from_str(text);
            let claims = (&mut de).deserialize_map(RegisteredVisitor { set })?;
            de.end()?;
            Ok(claims)
        })
        .map_err(|e| match e {
            json::StrictError::Duplicate => ReadError::Malformed,
            json::StrictError::Other(e) if e.is_syntax() || e.is_eof() => ReadError::Malformed,
            json::StrictError::Other(_) => ReadError::Claims,
        })
    }
}

struct RegisteredVisitor {
    set: ClaimSet,
}

impl<'de> Visitor<'de> for RegisteredVisitor {
    type Value = Registered<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JWT claims set")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Registered<'de>, A::Error> {
        fn text<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Option<Cow<'de, str>>, A::Error> {
            Ok(map.next_value::<Option<Name<'de>>>()?.map(|n| n.0))
        }
        fn strings<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Option<Vec<String>>, A::Error> {
            Ok(map.next_value::<Option<Strings>>()?.map(|s| s.0))
        }
        fn date<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Option<SystemTime>, A::Error> {
            Ok(map.next_value::<Option<time::NumericDate>>()?.map(|d| d.0))
        }
        let id_jag = self.set == ClaimSet::IdJag;
        let mut claims = Registered::default();
        let mut members = json::Members::default();
        while let Some(name) = map.next_key::<Name<'de>>()? {
            match &*name.0 {
                "iss" => {
                    claims.iss = members
                        .known(member_bit!(MEMBERS, "iss"))
                        .and_then(|()| text(&mut map))?
                }
                "sub" => {
                    claims.sub = members
                        .known(member_bit!(MEMBERS, "sub"))
                        .and_then(|()| text(&mut map))?
                }
                "client_id" => {
                    claims.client_id = members
                        .known(member_bit!(MEMBERS, "client_id"))
                        .and_then(|()| text(&mut map))?
                }
                "azp" => {
                    claims.azp = members
                        .known(member_bit!(MEMBERS, "azp"))
                        .and_then(|()| text(&mut map))?
                }
                "jti" => {
                    claims.jti = members
                        .known(member_bit!(MEMBERS, "jti"))
                        .and_then(|()| text(&mut map))?
                }
                "scope" => {
                    claims.scope = members
                        .known(member_bit!(MEMBERS, "scope"))
                        .and_then(|()| text(&mut map))?
                }
                "scp" => {
                    claims.scp = members
                        .known(member_bit!(MEMBERS, "scp"))
                        .and_then(|()| strings(&mut map))?
                }
                "aud" => {
                    claims.aud = members
                        .known(member_bit!(MEMBERS, "aud"))
                        .and_then(|()| strings(&mut map))?
                }
                "exp" => {
                    claims.exp = members
                        .known(member_bit!(MEMBERS, "exp"))
                        .and_then(|()| date(&mut map))?
                }
                "nbf" => {
                    claims.nbf = members
                        .known(member_bit!(MEMBERS, "nbf"))
                        .and_then(|()| date(&mut map))?
                }
                "iat" => {
                    claims.iat = members
                        .known(member_bit!(MEMBERS, "iat"))
                        .and_then(|()| date(&mut map))?
                }
                "cnf" => {
                    claims.cnf = members
                        .known(member_bit!(MEMBERS, "cnf"))
                        .and_then(|()| map.next_value())?
                }
                "resource" if id_jag => {
                    claims.resource = members
                        .known(member_bit!(MEMBERS, "resource"))
                        .and_then(|()| strings(&mut map))?
                }
                "tenant" if id_jag => {
                    claims.tenant = members
                        .known(member_bit!(MEMBERS, "tenant"))
                        .and_then(|()| text(&mut map))?
                }
                "aud_tenant" if id_jag => {
                    claims.aud_tenant = members
                        .known(member_bit!(MEMBERS, "aud_tenant"))
                        .and_then(|()| text(&mut map))?
                }
                "aud_sub" if id_jag => {
                    claims.aud_sub = members
                        .known(member_bit!(MEMBERS, "aud_sub"))
                        .and_then(|()| text(&mut map))?
                }
                "auth_time" if id_jag => {
                    claims.auth_time = members
                        .known(member_bit!(MEMBERS, "auth_time"))
                        .and_then(|()| date(&mut map))?
                }
                "acr" if id_jag => {
                    claims.acr = members
                        .known(member_bit!(MEMBERS, "acr"))
                        .and_then(|()| text(&mut map))?
                }
                // An array (OpenID Connect Core §2), never a lone string.
                "amr" if id_jag => {
                    claims.amr = members
                        .known(member_bit!(MEMBERS, "amr"))
                        .and_then(|()| map.next_value())?
                }
                "email" if id_jag => {
                    claims.email = members
                        .known(member_bit!(MEMBERS, "email"))
                        .and_then(|()| text(&mut map))?
                }
                _ => {
                    map.next_value_seed(Unique { top: false })?;
                    members.other(name);
                }
            }
        }
        members.finish()?;
        Ok(claims)
    }
}

/// `cnf` (RFC 7800 §3.1): its `jkt`, and whether it names any other method.
#[derive(Default)]
pub struct Confirmation<'a> {
    /// The JWK SHA-256 thumbprint (RFC 9449 §6.1), if named.
    pub jkt: Option<Cow<'a, str>>,
    /// Whether any other confirmation method is named.
    pub others: bool,
}

impl<'de> Deserialize<'de> for Confirmation<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Confirmation<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a confirmation object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Confirmation<'de>, A::Error> {
                let mut cnf = Confirmation::default();
                let mut members = json::Members::default();
                while let Some(name) = map.next_key::<Name<'de>>()? {
                    if name.0 == "jkt" {
                        members.known(member_bit!(["jkt"], "jkt"))?;
                        cnf.jkt = Some(map.next_value::<Name<'de>>()?.0);
                    } else {
                        map.next_value_seed(Unique { top: false })?;
                        members.other(name);
                        cnf.others = true;
                    }
                }
                members.finish()?;
                Ok(cnf)
            }
        }
        deserializer.deserialize_map(V)
    }
}

/// Reads a token's `cnf` (RFC 7800) as the verifiers see it: `jkt` (the only
/// confirmation method this crate can check) or nothing. A `cnf` with any other
/// member is bound by a method that cannot be checked here: refused.
pub fn confirmation(jkt: Option<&str>, other_members: bool) -> Result<Option<Arc<str>>, InvalidToken> {
    if other_members {
        return Err(InvalidToken::Binding);
    }
    match jkt {
        None => Err(InvalidToken::Binding),
        // A base64url SHA-256 thumbprint: 43 characters, 32 bytes.
        Some(jkt) if jkt.len() == 43 && crate::b64::decode(jkt.as_bytes()).is_some_and(|b| b.len() == 32) => {
            Ok(Some(Arc::from(jkt)))
        }
        Some(_) => Err(InvalidToken::Claims),
    }
}

/// A string or an array of strings (`aud`, `scp`, `resource`).
struct Strings(Vec<String>);

impl<'de> Deserialize<'de> for Strings {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Vec<String>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }

            fn visit_str<E>(self, v: &str) -> Result<Vec<String>, E> {
                Ok(vec![v.to_owned()])
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(out)
            }
        }
        deserializer.deserialize_any(V).map(Strings)
    }
}

impl ClaimRules {
    /// Checks a verified payload; `typ` is the header's.
    pub(crate) fn check(
        &self,
        typ: Option<&str>,
        payload: Vec<u8>,
        now: SystemTime,
    ) -> Result<Checked, InvalidToken> {
        let claims = Registered::read(&payload, ClaimSet::AccessToken)?;
        if claims.iss.as_deref() != Some(&*self.issuer) {
            return Err(InvalidToken::Issuer);
        }
        let profile = &self.profile;
        let mut view = View::new(&claims, &payload, profile)?;
        view.check_kind(profile, typ, &self.issuer, &payload)?;
        let exp = claims.exp.ok_or(InvalidToken::Claims)?;
        self.check_times(exp, claims.nbf, claims.iat, now)?;
        if view.first_party(profile) {
            return Err(InvalidToken::FirstParty);
        }
        let client_id: Option<Arc<str>> = view.client_id(profile)?.map(Arc::from);
        self.check_audience(claims.aud.as_deref(), client_id.as_deref())?;
        let scopes = view.scopes(profile)?;
        drop(view);

        let mut principal = Principal::new().with_issuer(self.issuer.clone());
        if let Some(sub) = claims.sub {
            principal = principal.with_subject(sub);
        }
        if let Some(client_id) = client_id {
            principal = principal.with_client_id(client_id);
        }
        let not_before = claims.nbf.into_iter().chain(claims.iat).max();
        let binding = match &claims.cnf {
            Some(cnf) => confirmation(cnf.jkt.as_deref(), cnf.others)?,
            None => None,
        };
        let mut token = AccessToken::new(principal)
            .with_scopes(scopes)
            .with_expires_at(exp)
            .with_audience(claims.aud.unwrap_or_default())
            .with_source(TokenSource::Jwt)
            .with_claims_json(payload);
        if let Some(jkt) = binding {
            token = token.with_dpop_jkt(jkt);
        }
        Ok(Checked { token, not_before })
    }

    /// The one audience check: `aud` names this resource (or an accepted
    /// audience); a token without `aud` only from an allowed client.
    fn check_audience(
        &self,
        audience: Option<&[String]>,
        client_id: Option<&str>,
    ) -> Result<(), InvalidToken> {
        match audience {
            Some(audience) if crate::resource::names_accepted_audience(&self.audiences, audience) => Ok(()),
            Some(_) => Err(InvalidToken::Audience),
            None if self.allowed_clients.is_empty() => Err(InvalidToken::AudienceMissing),
            None if client_id.is_some_and(|c| self.allowed_clients.iter().any(|a| a == c)) => Ok(()),
            None => Err(InvalidToken::ClientNotAllowed),
        }
    }

    /// [`check_times`] with this issuer's leeway.
    pub(crate) fn check_times(
        &self,
        exp: SystemTime,
        nbf: Option<SystemTime>,
        iat: Option<SystemTime>,
        now: SystemTime,
    ) -> Result<(), InvalidToken> {
        check_times(exp, nbf, iat, self.leeway, now)
    }
}

/// The validity window of a JWT (RFC 7519 §4.1.4–4.1.6): `exp` must be after
/// `now - leeway`; `nbf` and `iat` before `now + leeway`.
pub fn check_times(
    exp: SystemTime,
    nbf: Option<SystemTime>,
    iat: Option<SystemTime>,
    leeway: Duration,
    now: SystemTime,
) -> Result<(), InvalidToken> {
    if time::is_expired(exp, leeway, now) {
        return Err(InvalidToken::Expired);
    }
    let early = |t: SystemTime| time::is_not_yet_valid(t, leeway, now);
    if nbf.is_some_and(early) || iat.is_some_and(early) {
        return Err(InvalidToken::NotYetValid);
    }
    Ok(())
}

/// The explicitly typed JWTs (RFC 8725 §3.11) this crate tells apart by the
/// header's `typ`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtType {
    /// `at+jwt`: an access token (RFC 9068 §4).
    AccessToken,
    /// `oauth-id-jag+jwt`: an Identity Assertion JWT Authorization Grant.
    IdJag,
    /// Anything else, or no `typ`.
    Other,
}

impl JwtType {
    /// The type a header's `typ` names: media type names compare
    /// case-insensitively, with or without the "application/" prefix
    /// (RFC 7515 §4.1.9).
    pub(crate) fn of(typ: Option<&str>) -> JwtType {
        let Some(typ) = typ else {
            return JwtType::Other;
        };
        const PREFIX: &str = "application/";
        let typ = match typ.get(..PREFIX.len()) {
            Some(prefix) if prefix.eq_ignore_ascii_case(PREFIX) => &typ[PREFIX.len()..],
            _ => typ,
        };
        if typ.eq_ignore_ascii_case("at+jwt") {
            JwtType::AccessToken
        } else if typ.eq_ignore_ascii_case("oauth-id-jag+jwt") {
            JwtType::IdJag
        } else {
            JwtType::Other
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use serde_json::json;
    use std::time::UNIX_EPOCH;

    const NOW: u64 = 1_700_000_000;

    fn rules(profile: Profile) -> ClaimRules {
        ClaimRules {
            issuer: "https://as.example".into(),
            audiences: vec!["https://rs.example/mcp".into()],
            allowed_clients: Vec::new(),
            profile,
            leeway: Duration::from_secs(60),
        }
    }

    fn good() -> Value {
        json!({
            "iss": "https://as.example", "aud": "https://rs.example/mcp", "sub": "alice",
            "client_id": "app", "jti": "1", "iat": NOW, "exp": NOW + 300, "scope": "mcp:read mcp:write"
        })
    }

    fn check(profile: Profile, typ: Option<&str>, claims: &Value) -> Result<AccessToken, InvalidToken> {
        let now = UNIX_EPOCH + Duration::from_secs(NOW);
        rules(profile)
            .check(typ, serde_json::to_vec(claims).unwrap(), now)
            .map(|c| c.token)
    }

    fn with(mut v: Value, key: &str, value: Value) -> Value {
        if value.is_null() {
            v.as_object_mut().unwrap().remove(key);
        } else {
            v[key] = value;
        }
        v
    }

    #[test]
    fn good_token_yields_principal_and_scopes() {
        let t = check(Profile::rfc9068(), Some("at+jwt"), &good()).unwrap();
        assert_eq!(t.principal().subject(), Some("alice"));
        assert_eq!(t.principal().client_id(), Some("app"));
        assert_eq!(t.principal().issuer(), Some("https://as.example"));
        assert!(t.scopes().contains("mcp:write"));
        assert_eq!(t.audience(), ["https://rs.example/mcp"]);
        assert!(check(Profile::rfc9068(), Some("application/AT+JWT"), &good()).is_ok());
    }

    #[test]
    fn explicit_types() {
        for typ in ["at+jwt", "AT+JWT", "application/at+jwt", "Application/At+Jwt"] {
            assert_eq!(JwtType::of(Some(typ)), JwtType::AccessToken, "{typ}");
        }
        for typ in [
            "oauth-id-jag+jwt",
            "OAUTH-ID-JAG+JWT",
            "application/oauth-id-jag+jwt",
        ] {
            assert_eq!(JwtType::of(Some(typ)), JwtType::IdJag, "{typ}");
        }
        for typ in [
            "JWT",
            "id-jag+jwt",
            "oauth-id-jag+jwt2",
            "application/",
            "text/at+jwt",
            "application/application/at+jwt",
            "applicatio\u{e9}/at+jwt",
            "",
        ] {
            assert_eq!(JwtType::of(Some(typ)), JwtType::Other, "{typ}");
        }
        assert_eq!(JwtType::of(None), JwtType::Other);
    }

    #[test]
    fn id_jag_members_are_typed_only_for_id_jags() {
        let read =
            |claims: &Value, set| Registered::read(&serde_json::to_vec(claims).unwrap(), set).map(|_| ());
        for (name, bad) in [
            ("resource", json!(5)),
            ("resource", json!(["a", 1])),
            ("tenant", json!(1)),
            ("aud_tenant", json!({})),
            ("aud_sub", json!(true)),
            ("auth_time", json!("1700000000")),
            ("acr", json!([])),
            ("amr", json!("pwd")),
            ("amr", json!([1])),
            ("email", json!(1)),
        ] {
            let claims = with(good(), name, bad);
            assert_eq!(read(&claims, ClaimSet::AccessToken), Ok(()), "{name}");
            assert_eq!(read(&claims, ClaimSet::IdJag), Err(ReadError::Claims), "{name}");
        }
        let payload = serde_json::to_vec(&json!({
            "resource": ["https://rs.example/a", "https://rs.example/b"], "tenant": "t",
            "aud_tenant": "at", "aud_sub": "as", "auth_time": NOW, "acr": "urn:mace:x",
            "amr": ["mfa", "hwk"], "email": "a@example.com"
        }))
        .unwrap();
        let c = Registered::read(&payload, ClaimSet::IdJag).unwrap();
        assert_eq!(c.resource.unwrap().len(), 2);
        assert_eq!(c.amr.unwrap(), ["mfa", "hwk"]);
        assert_eq!(c.auth_time, Some(UNIX_EPOCH + Duration::from_secs(NOW)));
        assert_eq!(
            (c.tenant.as_deref(), c.aud_tenant.as_deref(), c.aud_sub.as_deref()),
            (Some("t"), Some("at"), Some("as"))
        );
        assert_eq!(
            (c.acr.as_deref(), c.email.as_deref()),
            (Some("urn:mace:x"), Some("a@example.com"))
        );
        let c = Registered::read(br#"{"resource":"https://rs.example"}"#, ClaimSet::IdJag).unwrap();
        assert_eq!(c.resource.unwrap(), ["https://rs.example"]);
        for set in [ClaimSet::AccessToken, ClaimSet::IdJag] {
            assert_eq!(
                Registered::read(br#"{"resource":"a","resource":"a"}"#, set).map(|_| ()),
                Err(ReadError::Malformed)
            );
            assert_eq!(
                Registered::read(br#"{} x"#, set).map(|_| ()),
                Err(ReadError::Malformed)
            );
        }
    }

    #[test]
    fn typ_profile() {
        for typ in [None, Some("JWT"), Some("at+jwt2")] {
            assert_eq!(
                check(Profile::rfc9068(), typ, &good()).unwrap_err(),
                InvalidToken::Type
            );
            assert!(check(Profile::relaxed(), typ, &good()).is_ok());
        }
    }

    #[test]
    fn time_claims() {
        use InvalidToken::*;
        let c = |k: &str, v: Value| check(Profile::rfc9068(), Some("at+jwt"), &with(good(), k, v));
        assert_eq!(c("exp", json!(NOW - 61)).unwrap_err(), Expired);
        assert!(c("exp", json!(NOW - 59)).is_ok(), "within leeway");
        assert_eq!(c("exp", Value::Null).unwrap_err(), Claims);
        assert_eq!(c("exp", json!("9999999999")).unwrap_err(), Claims);
        assert_eq!(c("exp", json!(1e300)).unwrap_err(), Claims);
        assert_eq!(c("exp", json!(-1)).unwrap_err(), Claims);
        assert_eq!(c("nbf", json!(NOW + 61)).unwrap_err(), NotYetValid);
        assert!(c("nbf", json!(NOW + 59)).is_ok());
        assert_eq!(c("iat", json!(NOW + 3600)).unwrap_err(), NotYetValid);
        assert_eq!(c("iat", Value::Null).unwrap_err(), Claims);
        assert!(c("exp", json!((NOW + 10) as f64 + 0.5)).is_ok());
    }

    #[test]
    fn issuer_and_audience() {
        use InvalidToken::*;
        let c = |k: &str, v: Value| check(Profile::rfc9068(), Some("at+jwt"), &with(good(), k, v));
        assert_eq!(c("iss", json!("https://as.example/")).unwrap_err(), Issuer);
        assert_eq!(c("iss", Value::Null).unwrap_err(), Issuer);
        assert_eq!(
            c("aud", json!("https://rs.example/mcp/sub")).unwrap_err(),
            Audience
        );
        assert_eq!(c("aud", json!("https://rs.example/mc")).unwrap_err(), Audience);
        assert_eq!(c("aud", Value::Null).unwrap_err(), AudienceMissing);
        assert_eq!(c("aud", json!(["x", 1])).unwrap_err(), Claims);
        assert!(c("aud", json!(["x", "https://rs.example/mcp"])).is_ok());
        assert!(
            c("aud", json!("HTTPS://RS.EXAMPLE:443/mcp/")).is_ok(),
            "canonical variants"
        );
        assert_eq!(c("aud", json!("https://rs.example/MCP")).unwrap_err(), Audience);
    }

    #[test]
    fn duplicates_and_syntax_are_malformed_types_are_claims() {
        let now = UNIX_EPOCH + Duration::from_secs(NOW);
        let check = |payload: String| {
            rules(Profile::rfc9068())
                .check(Some("at+jwt"), payload.into_bytes(), now)
                .map(|_| ())
        };
        let good = good().to_string();
        let body = &good[1..good.len() - 1];
        assert_eq!(check(good.clone()), Ok(()));
        assert_eq!(
            check(format!(r#"{{{body},"sub":"mallory"}}"#)),
            Err(InvalidToken::Malformed)
        );
        assert_eq!(
            check(format!(r#"{{{body},"x":{{"a":1,"a":2}}}}"#)),
            Err(InvalidToken::Malformed)
        );
        assert_eq!(
            check(format!(r#"{{{body},"x":[{{"a":1,"a":2}}]}}"#)),
            Err(InvalidToken::Malformed)
        );
        assert_eq!(
            check(format!(r#"{{{body},"\u0073ub":"mallory"}}"#)),
            Err(InvalidToken::Malformed)
        );
        assert_eq!(check(format!("[{good}]")), Err(InvalidToken::Malformed));
        assert_eq!(check(format!("{good} trailing")), Err(InvalidToken::Malformed));
        assert_eq!(
            check(format!(r#"{{{body},"x":1e400}}"#)),
            Err(InvalidToken::Malformed)
        );
        assert_eq!(check(format!(r#"{{{body},"x":{{"nested":true}}}}"#)), Ok(()));
        // Not UTF-8 (a stray byte, a surrogate, an overlong '/'), in a claim read
        // here or in another one: malformed. UTF-8 beyond ASCII is fine.
        for bad in [&b"\xff"[..], b"\xed\xa0\x80", b"\xc0\xaf"] {
            for name in ["jti", "x"] {
                let mut payload = format!(r#"{{{body},"{name}":""#).into_bytes();
                payload.extend_from_slice(bad);
                payload.extend_from_slice(b"\"}");
                let result = rules(Profile::rfc9068())
                    .check(Some("at+jwt"), payload, now)
                    .map(|_| ());
                assert_eq!(result, Err(InvalidToken::Malformed), "{name} {bad:?}");
            }
        }
        let token = rules(Profile::rfc9068())
            .check(
                Some("at+jwt"),
                good.replace("alice", "\u{e5}lice").into_bytes(),
                now,
            )
            .unwrap()
            .token;
        assert_eq!(token.principal().subject(), Some("\u{e5}lice"));
        // Every claim read here, and others, once each is fine; twice is not.
        let all = format!(r#"{{{body},"azp":"app","scp":["a"],"nbf":{NOW},"x":1,"y":2}}"#);
        assert_eq!(check(all.clone()), Ok(()));
        let members: serde_json::Map<String, Value> = serde_json::from_str(&all).unwrap();
        assert_eq!(members.len(), 13);
        for (name, value) in &members {
            let again = format!(r#"{},"{name}":{value}}}"#, &all[..all.len() - 1]);
            assert_eq!(check(again), Err(InvalidToken::Malformed), "{name} twice");
        }
    }

    #[test]
    fn a_duplicate_of_every_member_read_here_is_malformed_in_both_claim_sets() {
        let value = |name: &str| match name {
            "exp" | "nbf" | "iat" | "auth_time" => json!(NOW),
            "scp" | "aud" | "resource" | "amr" => json!(["a"]),
            "cnf" => json!({"jkt": "x"}),
            _ => json!("v"),
        };
        for set in [ClaimSet::AccessToken, ClaimSet::IdJag] {
            for name in MEMBERS.into_iter().chain(["unknown"]) {
                let value = value(name);
                let once = format!(r#"{{"{name}":{value}}}"#);
                assert!(Registered::read(once.as_bytes(), set).is_ok(), "{name} once");
                let twice = format!(r#"{{"{name}":{value},"x":1,"{name}":{value}}}"#);
                let result = Registered::read(twice.as_bytes(), set).map(|_| ());
                assert_eq!(result, Err(ReadError::Malformed), "{name} twice in {set:?}");
            }
            // Inside `cnf`, and inside a member not read here.
            for nested in [r#"{"cnf":{"jkt":"a","jkt":"a"}}"#, r#"{"x":{"y":1,"y":1}}"#] {
                let result = Registered::read(nested.as_bytes(), set).map(|_| ());
                assert_eq!(result, Err(ReadError::Malformed), "{nested}");
            }
        }
    }

    #[test]
    fn access_token_members_end_with_cnf_and_id_jag_ones_follow() {
        assert_eq!(ACCESS_TOKEN_MEMBERS.last(), Some(&"cnf"));
        assert_eq!(MEMBERS[ACCESS_TOKEN_MEMBERS.len()], "resource");
    }

    #[test]
    fn every_member_read_here_has_its_own_bit() {
        for (position, name) in MEMBERS.iter().enumerate() {
            assert_eq!(json::bit(&MEMBERS, name), position as u32);
        }
    }

    #[test]
    fn raw_claims_are_kept_and_parsed_on_demand() {
        let mut claims = good();
        claims["tenant"] = json!({"id": "acme", "tags": ["a"]});
        let t = check(Profile::rfc9068(), Some("at+jwt"), &claims).unwrap();
        assert_eq!(t.claims()["tenant"]["id"], "acme");
        assert_eq!(t.claims()["sub"], "alice");
    }

    #[test]
    fn rfc9068_claims_required_unless_relaxed() {
        for claim in ["sub", "client_id", "jti"] {
            let claims = with(good(), claim, Value::Null);
            assert_eq!(
                check(Profile::rfc9068(), Some("at+jwt"), &claims).unwrap_err(),
                InvalidToken::Claims
            );
            assert!(check(Profile::relaxed(), None, &claims).is_ok());
        }
        let azp = with(with(good(), "client_id", Value::Null), "azp", json!("web"));
        let t = check(Profile::relaxed(), None, &azp).unwrap();
        assert_eq!(t.principal().client_id(), Some("web"));
        let scp = with(with(good(), "scope", Value::Null), "scp", json!(["a", "b"]));
        assert!(
            check(Profile::relaxed(), None, &scp)
                .unwrap()
                .scopes()
                .contains("b")
        );
        assert_eq!(
            check(Profile::rfc9068(), Some("at+jwt"), &with(good(), "sub", json!(5))).unwrap_err(),
            InvalidToken::Claims
        );
    }
}
