//! JWT claims checks (RFC 7519 §4.1, RFC 9068 §2 and §4) and the
//! [`AccessToken`](crate::AccessToken) they produce.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use super::json;
use crate::{AccessToken, InvalidToken, Principal, Scopes, TokenSource};

/// Which access-token profile an issuer's tokens follow.
///
/// ```
/// use tower_bearer::jwt::Profile;
/// assert_eq!(Profile::default(), Profile::Rfc9068);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Profile {
    /// RFC 9068 JWT access tokens: header `typ` is `at+jwt` (or
    /// `application/at+jwt`), and `sub`, `client_id`, `iat`, `jti` are present.
    /// Stops an ID token or another JWT of the issuer from being used as an
    /// access token.
    #[default]
    Rfc9068,
    /// For issuers that send `typ: JWT` or no `typ`, or omit some RFC 9068 claims:
    /// `exp`, `iss` and `aud` are still required and checked; `client_id` falls
    /// back to `azp`, scopes to `scp`.
    Relaxed,
}

/// Latest accepted NumericDate (9999-12-31T23:59:59Z): larger values are refused
/// rather than saturated.
const MAX_NUMERIC_DATE: f64 = 253_402_300_799.0;

/// What a token's claims are checked against.
#[derive(Debug, Clone)]
pub(crate) struct ClaimRules {
    pub(crate) issuer: Arc<str>,
    pub(crate) audiences: Vec<String>,
    pub(crate) profile: Profile,
    pub(crate) leeway: Duration,
}

/// The parsed claims plus what later checks (a verified-token cache) need.
pub(crate) struct Checked {
    pub(crate) token: AccessToken,
    pub(crate) not_before: Option<SystemTime>,
}

impl ClaimRules {
    pub(crate) fn check(
        &self,
        header: &Map<String, Value>,
        payload: &[u8],
        now: SystemTime,
    ) -> Result<Checked, InvalidToken> {
        if self.profile == Profile::Rfc9068 && !is_at_jwt(header.get("typ")) {
            return Err(InvalidToken::Type);
        }
        let claims = json::object(payload).ok_or(InvalidToken::Malformed)?;
        match claims.get("iss") {
            Some(Value::String(iss)) if *iss == *self.issuer => {}
            _ => return Err(InvalidToken::Issuer),
        }
        let exp = numeric_date(&claims, "exp")?.ok_or(InvalidToken::Claims)?;
        let nbf = numeric_date(&claims, "nbf")?;
        let iat = numeric_date(&claims, "iat")?;
        self.check_times(exp, nbf, iat, now)?;
        let audience = audiences(&claims)?;
        if !audience.iter().any(|a| self.accepts_audience(a)) {
            return Err(InvalidToken::Audience);
        }
        let subject = opt_str(&claims, "sub")?;
        let jti = opt_str(&claims, "jti")?;
        let mut client_id = opt_str(&claims, "client_id")?;
        if self.profile == Profile::Rfc9068 {
            if subject.is_none() || client_id.is_none() || jti.is_none() || iat.is_none() {
                return Err(InvalidToken::Claims);
            }
        } else if client_id.is_none() {
            client_id = opt_str(&claims, "azp")?;
        }
        let scopes = scopes(&claims, self.profile)?;

        let mut principal = Principal::new().with_issuer(self.issuer.clone());
        if let Some(sub) = subject {
            principal = principal.with_subject(sub);
        }
        if let Some(client_id) = client_id {
            principal = principal.with_client_id(client_id);
        }
        let token = AccessToken::new(principal)
            .with_scopes(scopes)
            .with_expires_at(exp)
            .with_audience(audience)
            .with_source(TokenSource::Jwt)
            .with_claims(claims);
        Ok(Checked {
            token,
            not_before: nbf.into_iter().chain(iat).max(),
        })
    }

    /// Whether a presented audience names this resource (canonical comparison:
    /// case of scheme and host, default port, trailing slash; never a prefix).
    fn accepts_audience(&self, presented: &str) -> bool {
        self.audiences
            .iter()
            .any(|c| crate::resource::audience_matches(c, presented))
    }

    /// `exp` must be after `now - leeway`; `nbf` and `iat` before `now + leeway`.
    pub(crate) fn check_times(
        &self,
        exp: SystemTime,
        nbf: Option<SystemTime>,
        iat: Option<SystemTime>,
        now: SystemTime,
    ) -> Result<(), InvalidToken> {
        if exp + self.leeway <= now {
            return Err(InvalidToken::Expired);
        }
        let latest_start = now + self.leeway;
        if nbf.is_some_and(|t| t > latest_start) || iat.is_some_and(|t| t > latest_start) {
            return Err(InvalidToken::NotYetValid);
        }
        Ok(())
    }
}

fn is_at_jwt(typ: Option<&Value>) -> bool {
    // RFC 9068 §4: "at+jwt", compared case-insensitively, with or without the
    // "application/" prefix (RFC 7515 §4.1.9).
    let Some(Value::String(typ)) = typ else {
        return false;
    };
    let typ = typ.strip_prefix("application/").unwrap_or(typ);
    typ.eq_ignore_ascii_case("at+jwt")
}

fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<SystemTime>, InvalidToken> {
    let Some(value) = claims.get(name) else {
        return Ok(None);
    };
    let seconds = value.as_f64().ok_or(InvalidToken::Claims)?;
    if !(0.0..=MAX_NUMERIC_DATE).contains(&seconds) {
        return Err(InvalidToken::Claims);
    }
    Ok(Some(UNIX_EPOCH + Duration::from_secs_f64(seconds)))
}

fn opt_str<'a>(claims: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, InvalidToken> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(InvalidToken::Claims),
    }
}

fn audiences(claims: &Map<String, Value>) -> Result<Vec<String>, InvalidToken> {
    match claims.get("aud") {
        Some(Value::String(a)) => Ok(vec![a.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or(InvalidToken::Claims))
            .collect(),
        Some(_) => Err(InvalidToken::Claims),
        None => Err(InvalidToken::Audience),
    }
}

fn scopes(claims: &Map<String, Value>, profile: Profile) -> Result<Scopes, InvalidToken> {
    if let Some(scope) = opt_str(claims, "scope")? {
        return Ok(Scopes::parse(scope));
    }
    if profile == Profile::Relaxed {
        match claims.get("scp") {
            Some(Value::String(s)) => return Ok(Scopes::parse(s)),
            Some(Value::Array(items)) => {
                return items
                    .iter()
                    .map(|v| v.as_str().ok_or(InvalidToken::Claims))
                    .collect::<Result<Scopes, _>>();
            }
            Some(_) => return Err(InvalidToken::Claims),
            None => {}
        }
    }
    Ok(Scopes::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: u64 = 1_700_000_000;

    fn rules(profile: Profile) -> ClaimRules {
        ClaimRules {
            issuer: "https://as.example".into(),
            audiences: vec!["https://rs.example/mcp".into()],
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
        let mut header = Map::new();
        if let Some(typ) = typ {
            header.insert("typ".into(), typ.into());
        }
        let now = UNIX_EPOCH + Duration::from_secs(NOW);
        rules(profile)
            .check(&header, &serde_json::to_vec(claims).unwrap(), now)
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
        let t = check(Profile::Rfc9068, Some("at+jwt"), &good()).unwrap();
        assert_eq!(t.principal().subject(), Some("alice"));
        assert_eq!(t.principal().client_id(), Some("app"));
        assert_eq!(t.principal().issuer(), Some("https://as.example"));
        assert!(t.scopes().contains("mcp:write"));
        assert_eq!(t.audience(), ["https://rs.example/mcp"]);
        assert!(check(Profile::Rfc9068, Some("application/AT+JWT"), &good()).is_ok());
    }

    #[test]
    fn typ_profile() {
        for typ in [None, Some("JWT"), Some("at+jwt2")] {
            assert_eq!(
                check(Profile::Rfc9068, typ, &good()).unwrap_err(),
                InvalidToken::Type
            );
            assert!(check(Profile::Relaxed, typ, &good()).is_ok());
        }
    }

    #[test]
    fn time_claims() {
        use InvalidToken::*;
        let c = |k: &str, v: Value| check(Profile::Rfc9068, Some("at+jwt"), &with(good(), k, v));
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
        let c = |k: &str, v: Value| check(Profile::Rfc9068, Some("at+jwt"), &with(good(), k, v));
        assert_eq!(c("iss", json!("https://as.example/")).unwrap_err(), Issuer);
        assert_eq!(c("iss", Value::Null).unwrap_err(), Issuer);
        assert_eq!(
            c("aud", json!("https://rs.example/mcp/sub")).unwrap_err(),
            Audience
        );
        assert_eq!(c("aud", json!("https://rs.example/mc")).unwrap_err(), Audience);
        assert_eq!(c("aud", Value::Null).unwrap_err(), Audience);
        assert_eq!(c("aud", json!(["x", 1])).unwrap_err(), Claims);
        assert!(c("aud", json!(["x", "https://rs.example/mcp"])).is_ok());
        assert!(
            c("aud", json!("HTTPS://RS.EXAMPLE:443/mcp/")).is_ok(),
            "canonical variants"
        );
        assert_eq!(c("aud", json!("https://rs.example/MCP")).unwrap_err(), Audience);
    }

    #[test]
    fn rfc9068_claims_required_unless_relaxed() {
        for claim in ["sub", "client_id", "jti"] {
            let claims = with(good(), claim, Value::Null);
            assert_eq!(
                check(Profile::Rfc9068, Some("at+jwt"), &claims).unwrap_err(),
                InvalidToken::Claims
            );
            assert!(check(Profile::Relaxed, None, &claims).is_ok());
        }
        let azp = with(with(good(), "client_id", Value::Null), "azp", json!("web"));
        let t = check(Profile::Relaxed, None, &azp).unwrap();
        assert_eq!(t.principal().client_id(), Some("web"));
        let scp = with(with(good(), "scope", Value::Null), "scp", json!(["a", "b"]));
        assert!(
            check(Profile::Relaxed, None, &scp)
                .unwrap()
                .scopes()
                .contains("b")
        );
        assert_eq!(
            check(Profile::Rfc9068, Some("at+jwt"), &with(good(), "sub", json!(5))).unwrap_err(),
            InvalidToken::Claims
        );
    }
}
