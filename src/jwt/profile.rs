//! [`Profile`]: what an issuer's access tokens look like, its building
//! blocks, and a preset per identity provider ([`Provider`]).

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use super::claims::{ACCESS_TOKEN_MEMBERS, Registered};
use crate::{InvalidToken, Scopes};

/// Why a piece of a [`Profile`] could not be configured.
///
/// ```
/// use tower_bearer::jwt::{ClaimPath, ProfileError};
/// assert_eq!(ClaimPath::new("").unwrap_err(), ProfileError::EmptyClaimName);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// A claim path with no name, or an empty name in it.
    #[error("claim path: a claim name is empty")]
    EmptyClaimName,
    /// A `typ` value that is empty or not visible ASCII.
    #[error("typ: {0:?} is not a media type name")]
    Typ(String),
    /// A [`Provider`] name that is not one of [`Provider::ALL`].
    #[error(
        "provider: {0:?} is not one of rfc9068, entra, entra-v1, auth0, okta, cognito, keycloak, workos, hydra"
    )]
    UnknownProvider(String),
}

/// Where a claim is in a token's payload: a top-level name, or names into
/// nested objects (`resource_access` → `my-api` → `roles`). Names are taken
/// as given: a dot is part of a name (Auth0 namespaced claims are URLs).
///
/// ```
/// use tower_bearer::jwt::ClaimPath;
/// let path = ClaimPath::nested(["resource_access", "my-api", "roles"]).unwrap();
/// assert_eq!(path.to_string(), "resource_access.my-api.roles");
/// assert!(ClaimPath::nested(Vec::<String>::new()).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClaimPath(Box<[Cow<'static, str>]>);

impl ClaimPath {
    /// A top-level claim.
    ///
    /// See [`ClaimPath`] for an example.
    pub fn new(name: impl Into<String>) -> Result<Self, ProfileError> {
        Self::nested([name.into()])
    }

    /// A claim inside nested objects, outermost name first.
    ///
    /// See [`ClaimPath`] for an example.
    pub fn nested<I, S>(names: I) -> Result<Self, ProfileError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let names: Box<[Cow<'static, str>]> = names.into_iter().map(|n| Cow::Owned(n.into())).collect();
        if names.is_empty() || names.iter().any(|n| n.is_empty()) {
            return Err(ProfileError::EmptyClaimName);
        }
        Ok(ClaimPath(names))
    }

    /// A preset's top-level claim (never empty).
    fn known(name: &'static str) -> Self {
        ClaimPath(Box::new([Cow::Borrowed(name)]))
    }

    /// The top-level name, when the path has no nesting.
    fn top(&self) -> Option<&str> {
        match &*self.0 {
            [name] => Some(name),
            _ => None,
        }
    }
}

impl fmt::Display for ClaimPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, name) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            f.write_str(name)?;
        }
        Ok(())
    }
}

/// Which header `typ` values (RFC 7515 §4.1.9) an issuer's access tokens carry.
/// Values compare case-insensitively, with or without the `application/`
/// prefix.
///
/// ```
/// use tower_bearer::jwt::TypPolicy;
/// let okta = TypPolicy::one_of(["application/okta-internal-at+jwt"]).unwrap();
/// assert!(okta.accepts(Some("okta-internal-at+jwt")));
/// assert!(!okta.accepts(Some("JWT")));
/// assert!(!okta.accepts(None));
/// assert!(TypPolicy::at_jwt().accepts(Some("application/AT+JWT")));
/// assert!(TypPolicy::one_of(["JWT"]).unwrap().or_absent().accepts(None));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypPolicy {
    /// Lower case, without the `application/` prefix; empty with `any`.
    accepted: Vec<Box<str>>,
    absent: bool,
    any: bool,
}

const MEDIA_PREFIX: &str = "application/";

/// `typ` without an `application/` prefix (compared case-insensitively).
fn media_subtype(typ: &str) -> &str {
    match typ.get(..MEDIA_PREFIX.len()) {
        Some(prefix) if prefix.eq_ignore_ascii_case(MEDIA_PREFIX) => &typ[MEDIA_PREFIX.len()..],
        _ => typ,
    }
}

impl TypPolicy {
    /// `at+jwt` only (RFC 9068 §2.1).
    ///
    /// See [`TypPolicy`] for an example.
    pub fn at_jwt() -> Self {
        Profile::typ_known(&["at+jwt"])
    }

    /// Any `typ`, or none: for issuers whose tokens have no distinctive type;
    /// pair it with an access-token [`ClaimRule`].
    ///
    /// ```
    /// assert!(tower_bearer::jwt::TypPolicy::any().accepts(Some("whatever")));
    /// ```
    pub fn any() -> Self {
        TypPolicy {
            accepted: Vec::new(),
            absent: true,
            any: true,
        }
    }

    /// Exactly these values.
    ///
    /// See [`TypPolicy`] for an example.
    pub fn one_of<I, S>(values: I) -> Result<Self, ProfileError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut accepted = Vec::new();
        for value in values {
            let value = value.as_ref();
            let subtype = media_subtype(value);
            if subtype.is_empty() || !subtype.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(ProfileError::Typ(value.to_owned()));
            }
            accepted.push(subtype.to_ascii_lowercase().into_boxed_str());
        }
        Ok(TypPolicy {
            accepted,
            absent: false,
            any: false,
        })
    }

    /// Also tokens with no `typ` (Cognito).
    ///
    /// See [`TypPolicy`] for an example.
    #[must_use]
    pub fn or_absent(mut self) -> Self {
        self.absent = true;
        self
    }

    /// Whether a header's `typ` (`None`: no `typ`) is accepted.
    ///
    /// See [`TypPolicy`] for an example.
    pub fn accepts(&self, typ: Option<&str>) -> bool {
        match typ {
            _ if self.any => true,
            None => self.absent,
            Some(typ) => {
                let subtype = media_subtype(typ);
                self.accepted.iter().any(|a| a.eq_ignore_ascii_case(subtype))
            }
        }
    }
}

impl fmt::Display for TypPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.any {
            return f.write_str("any");
        }
        let mut names: Vec<&str> = self.accepted.iter().map(|a| &**a).collect();
        if self.absent {
            names.push("(none)");
        }
        f.write_str(&names.join(" | "))
    }
}

/// One condition of an issuer's access-token discriminator, on the verified
/// payload.
///
/// ```
/// use tower_bearer::jwt::{ClaimPath, ClaimRule};
/// let cognito = ClaimRule::Equals(ClaimPath::new("token_use").unwrap(), "access".into());
/// assert_eq!(cognito.to_string(), "token_use = \"access\"");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClaimRule {
    /// The claim is the string given.
    Equals(ClaimPath, String),
    /// The claim is present (and not `null`).
    Present(ClaimPath),
    /// At least one of the claims is present.
    AnyPresent(Vec<ClaimPath>),
    /// The claim is absent (or `null`).
    Absent(ClaimPath),
    /// The claim is a string equal to the first path segment of the
    /// configured issuer (Entra's `tid` in
    /// `https://login.microsoftonline.com/{tid}/v2.0` and
    /// `https://sts.windows.net/{tid}/`).
    IssuerSegment(ClaimPath),
}

impl fmt::Display for ClaimRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClaimRule::Equals(path, value) => write!(f, "{path} = {value:?}"),
            ClaimRule::Present(path) => write!(f, "{path} present"),
            ClaimRule::AnyPresent(paths) => {
                let names: Vec<String> = paths.iter().map(ToString::to_string).collect();
                write!(f, "{} present", names.join(" or "))
            }
            ClaimRule::Absent(path) => write!(f, "no {path}"),
            ClaimRule::IssuerSegment(path) => write!(f, "{path} = the issuer's first path segment"),
        }
    }
}

/// How one issuer's access tokens look: [`Profile::rfc9068`] (the default),
/// [`Profile::relaxed`], or a preset per identity provider, each a plain value
/// built from public pieces ([`TypPolicy`], [`ClaimPath`], [`ClaimRule`]) that
/// can be changed or rebuilt by hand.
///
/// A profile says, for the tokens of one issuer:
///
/// - which header `typ` values are accepted ([`TypPolicy`]);
/// - which claims must be present (RFC 9068: `sub`, `client_id`, `iat`, `jti`);
/// - where the client id comes from (`client_id`, `azp`, `appid`, `cid`: the
///   first present) and where the scopes come from (`scope`, `scp`,
///   `permissions`, `roles`, a nested path such as `realm_access.roles`: the
///   union of the sources, each a space-separated string or an array);
/// - the **access-token discriminator**: [`ClaimRule`]s that every access token
///   of the issuer meets and its ID tokens do not (Cognito `token_use`, Keycloak
///   `typ`, Entra `ver` with `scp` or `roles`, ...). A JWT of the issuer that
///   fails them is refused (`id_token_presented` when it carries an ID token's
///   marks, `not_an_access_token` otherwise), whatever its `aud`;
/// - for Entra, tokens minted for Microsoft's own APIs (a `nonce` header, a
///   first-party audience such as Microsoft Graph) are refused as
///   `first_party_token`: no third party can verify them.
///
/// The issuer string, its keys and the accepted audiences are set on the
/// [`Issuer`](super::Issuer); a preset never widens the audience check (see
/// [`Issuer::accept_audience`](super::Issuer::accept_audience) and
/// [`Issuer::allowed_client_ids`](super::Issuer::allowed_client_ids)).
///
/// ```
/// use tower_bearer::jwt::{ClaimPath, ClaimRule, Profile, Provider, TypPolicy};
///
/// // A preset, extended: Keycloak realm roles as scopes too.
/// let keycloak = Profile::keycloak().also_scopes_from(ClaimPath::nested(["realm_access", "roles"])?);
/// assert_eq!(keycloak.name(), "keycloak");
///
/// // The same kind of configuration, by hand.
/// let custom = Profile::rfc9068()
///     .typ(TypPolicy::one_of(["JWT"])?.or_absent())
///     .require_claims([ClaimPath::new("sub")?])
///     .client_id_from([ClaimPath::new("azp")?])
///     .scopes_from([ClaimPath::new("scp")?])
///     .access_token_rule(ClaimRule::Equals(ClaimPath::new("token_use")?, "access".into()));
/// assert_eq!(custom.name(), "custom");
/// assert_eq!("okta".parse::<Provider>()?.profile(), Profile::okta());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// A preset on an [`Issuer`](super::Issuer):
///
/// ```
/// use tower_bearer::jwt::{Issuer, JwtVerifier, Profile};
///
/// let verifier = JwtVerifier::builder()
///    .audience("https://api.example.com/mcp")
///    .add_issuer(
///        Issuer::new("https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0")
///            .discover()
///            .profile(Profile::entra())
///            .accept_audience("6e74172b-be56-4843-9ff4-e66a39bb12e3"),
///    )
///    .build()?;
/// # let _ = verifier;
/// # Ok::<(), tower_bearer::jwt::BuildError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    name: &'static str,
    typ: TypPolicy,
    required: Vec<ClaimPath>,
    client_id: Vec<ClaimPath>,
    scopes: Vec<ClaimPath>,
    access_token: Vec<ClaimRule>,
    first_party_audiences: Vec<String>,
    refuse_header_nonce: bool,
}

impl Default for Profile {
    fn default() -> Self {
        Profile::rfc9068()
    }
}

/// Microsoft Graph's audiences (its application ID and URL): an Entra token
/// for them was minted for Microsoft, not for this resource.
const MICROSOFT_FIRST_PARTY: [&str; 2] = [
    "00000003-0000-0000-c000-000000000000",
    "https://graph.microsoft.com",
];

fn paths(names: &[&'static str]) -> Vec<ClaimPath> {
    names.iter().map(|n| ClaimPath::known(n)).collect()
}

impl Profile {
    fn preset(
        name: &'static str,
        typ: TypPolicy,
        client_id: &[&'static str],
        scopes: &[&'static str],
    ) -> Self {
        Profile {
            name,
            typ,
            required: paths(&["sub"]),
            client_id: paths(client_id),
            scopes: paths(scopes),
            access_token: Vec::new(),
            first_party_audiences: Vec::new(),
            refuse_header_nonce: false,
        }
    }

    fn rule(mut self, rule: ClaimRule) -> Self {
        self.access_token.push(rule);
        self
    }

    /// `typ` among these media subtypes (the presets' own: valid, no
    /// `application/` prefix).
    fn typ_known(values: &[&str]) -> TypPolicy {
        TypPolicy {
            accepted: values
                .iter()
                .map(|v| v.to_ascii_lowercase().into_boxed_str())
                .collect(),
            absent: false,
            any: false,
        }
    }

    /// RFC 9068 JWT access tokens (the default): `typ` `at+jwt`; `sub`,
    /// `client_id`, `iat` and `jti` present; the client id from `client_id`,
    /// scopes from `scope`. The `typ` is the discriminator.
    ///
    /// ```
    /// assert_eq!(tower_bearer::jwt::Profile::default(), tower_bearer::jwt::Profile::rfc9068());
    /// ```
    pub fn rfc9068() -> Self {
        Profile {
            required: paths(&["sub", "client_id", "iat", "jti"]),
            ..Self::preset(
                Provider::Rfc9068.name(),
                TypPolicy::at_jwt(),
                &["client_id"],
                &["scope"],
            )
        }
    }

    /// For issuers that send `typ: JWT` or none, or omit some RFC 9068
    /// claims: any `typ`, no claim required beyond `exp`, `iss` and `aud`
    /// (always checked); the client id from `client_id` or `azp`, scopes from
    /// `scope` or `scp`. No discriminator: prefer a provider preset, which
    /// refuses the issuer's ID tokens.
    ///
    /// ```
    /// assert_eq!(tower_bearer::jwt::Profile::relaxed().name(), "relaxed");
    /// ```
    pub fn relaxed() -> Self {
        Profile {
            required: Vec::new(),
            ..Self::preset(
                "relaxed",
                TypPolicy::any(),
                &["client_id", "azp"],
                &["scope", "scp"],
            )
        }
    }

    /// Microsoft Entra ID v2.0 tokens (`accessTokenAcceptedVersion: 2`): `typ`
    /// `JWT`; `ver` `2.0`, `tid` a segment of the issuer, and `scp`
    /// (delegated) or `roles` (app-only) present; the client id from `azp`,
    /// scopes from `scp` and `roles`. Tokens for Microsoft APIs (a `nonce`
    /// header, a Graph audience) are refused as `first_party_token`. Their
    /// `aud` is the API's client ID or App ID URI: accept it with
    /// [`Issuer::accept_audience`](super::Issuer::accept_audience).
    ///
    /// ```
    /// assert_eq!(tower_bearer::jwt::Profile::entra().name(), "entra");
    /// ```
    pub fn entra() -> Self {
        Self::entra_version(Provider::Entra, "2.0", &["azp"])
    }

    /// Microsoft Entra ID v1.0 tokens (issuer `https://sts.windows.net/{tid}/`):
    /// as [`Profile::entra`] with `ver` `1.0` and the client id from `appid`.
    ///
    /// ```
    /// assert_eq!(tower_bearer::jwt::Profile::entra_v1().name(), "entra-v1");
    /// ```
    pub fn entra_v1() -> Self {
        Self::entra_version(Provider::EntraV1, "1.0", &["appid"])
    }

    fn entra_version(provider: Provider, version: &str, client_id: &[&'static str]) -> Self {
        let mut profile = Self::preset(
            provider.name(),
            Self::typ_known(&["JWT"]),
            client_id,
            &["scp", "roles"],
        )
        .rule(ClaimRule::Equals(ClaimPath::known("ver"), version.into()))
        .rule(ClaimRule::IssuerSegment(ClaimPath::known("tid")))
        .rule(ClaimRule::AnyPresent(paths(&["scp", "roles"])));
        profile.required.extend(paths(client_id));
        profile.first_party_audiences = MICROSOFT_FIRST_PARTY.map(String::from).to_vec();
        profile.refuse_header_nonce = true;
        profile
    }

    /// Auth0 (issuer `https://{tenant}/`, trailing slash): `typ` `JWT` or
    /// `at+jwt`; the client id from `client_id` (RFC 9068 profile) or `azp`;
    /// scopes from `scope` and `permissions` (RBAC). Its ID tokens have the
    /// client ID as `aud` and no `azp`/`client_id`: refused.
    ///
    /// ```
    /// assert_eq!(tower_bearer::jwt::Profile::auth0().name(), "auth0");
    /// ```
    pub fn auth0() -> Self {
        Self::preset(
            Provider::Auth0.name(),
            Self::typ_known(&["JWT", "at+jwt"]),
            &["client_id", "azp"],
            &["scope", "permissions"],
        )
        .rule(ClaimRule::AnyPresent(paths(&["client_id", "azp"])))
        .rule(ClaimRule::Absent(ClaimPath::known("nonce")))
        .rule(ClaimRule::Absent(ClaimPath::known("at_hash")))
    }

    /// Okta custom authorization servers (issuer
    /// `https://{org}/oauth2/{id}`): `typ`
    /// `application/okta-internal-at+jwt`; `cid` and `scp` (an array) present;
    /// the client id from `cid`, scopes from `scp`.
    ///
    /// ```
    /// assert_eq!(tower_bearer::jwt::Profile::okta().name(), "okta");
    /// ```
    pub fn okta() -> Self {
        Self::preset(
            Provider::Okta.name(),
            Self::typ_known(&["okta-internal-at+jwt"]),
            &["cid"],
            &["scp"],
        )
        .rule(ClaimRule::Present(ClaimPath::known("cid")))
        .rule(ClaimRule::Present(ClaimPath::known("scp")))
    }

    /// Amazon Cognito user pools: no `typ` (or `JWT`); `token_use` `access`;
    /// the client id from `client_id`, scopes from `scope`. Cognito access
    /// tokens have no `aud`: accept them only for the app clients listed with
    /// [`Issuer::allowed_client_ids`](super::Issuer::allowed_client_ids).
    /// `cognito:groups` can be added with [`Profile::also_scopes_from`].
    ///
    /// ```
    /// assert_eq!(tower_bearer::jwt::Profile::cognito().name(), "cognito");
    /// ```
    pub fn cognito() -> Self {
        Self::preset(
            Provider::Cognito.name(),
            Self::typ_known(&["JWT"]).or_absent(),
            &["client_id"],
            &["scope"],
        )
        .rule(ClaimRule::Equals(ClaimPath::known("token_use"), "access".into()))
    }

    /// Keycloak (issuer `https://{host}/realms/{realm}`): `typ` `JWT` or
    /// `at+jwt`; the payload's `typ` is `Bearer` (ID tokens say `ID`); the
    /// client id from `azp`, scopes from `scope`. Realm or client roles can be
    /// added with [`Profile::also_scopes_from`] (`realm_access.roles`,
    /// `resource_access.{client}.roles`).
    ///
    /// ```
    /// assert_eq!(tower_bearer::jwt::Profile::keycloak().name(), "keycloak");
    /// ```
    pub fn keycloak() -> Self {
        Self::preset(
            Provider::Keycloak.name(),
            Self::typ_known(&["JWT", "at+jwt"]),
            &["azp"],
            &["scope"],
        )
        .rule(ClaimRule::Equals(ClaimPath::known("typ"), "Bearer".into()))
    }

    /// WorkOS AuthKit: `typ` `JWT` or `at+jwt`; `client_id` present; the
    /// client id from `client_id`, scopes from `scope` and `permissions`; its
    /// `aud` is the resource (RFC 8707).
    ///
    /// ```
    /// assert_eq!(tower_bearer::jwt::Profile::workos().name(), "workos");
    /// ```
    pub fn workos() -> Self {
        Self::preset(
            Provider::Workos.name(),
            Self::typ_known(&["JWT", "at+jwt"]),
            &["client_id"],
            &["scope", "permissions"],
        )
        .rule(ClaimRule::Present(ClaimPath::known("client_id")))
        .rule(ClaimRule::Absent(ClaimPath::known("nonce")))
        .rule(ClaimRule::Absent(ClaimPath::known("at_hash")))
    }

    /// Ory Hydra with the JWT access-token strategy: `typ` `JWT` or `at+jwt`;
    /// `client_id` and `scp` (an array) present; scopes from `scp`.
    ///
    /// ```
    /// assert_eq!(tower_bearer::jwt::Profile::hydra().name(), "hydra");
    /// ```
    pub fn hydra() -> Self {
        Self::preset(
            Provider::Hydra.name(),
            Self::typ_known(&["JWT", "at+jwt"]),
            &["client_id"],
            &["scp", "scope"],
        )
        .rule(ClaimRule::Present(ClaimPath::known("client_id")))
        .rule(ClaimRule::Present(ClaimPath::known("scp")))
    }

    /// The preset's name (`rfc9068`, `entra`, ...), `custom` once a building
    /// block was changed by hand, or the preset's name after
    /// [`also_scopes_from`](Self::also_scopes_from) (which only adds scopes).
    ///
    /// See the [`Profile`] docs for an example.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The accepted header `typ` values.
    ///
    /// ```
    /// use tower_bearer::jwt::{Profile, TypPolicy};
    /// let p = Profile::rfc9068().typ(TypPolicy::any());
    /// assert!(p.typ_policy().accepts(None));
    /// ```
    #[must_use]
    pub fn typ(mut self, typ: TypPolicy) -> Self {
        self.typ = typ;
        self.name = "custom";
        self
    }

    /// The header `typ` values accepted.
    ///
    /// See [`Profile::typ`] for an example.
    pub fn typ_policy(&self) -> &TypPolicy {
        &self.typ
    }

    /// The claims that must be present (replacing the preset's list).
    ///
    /// See the [`Profile`] docs for an example.
    #[must_use]
    pub fn require_claims(mut self, claims: impl IntoIterator<Item = ClaimPath>) -> Self {
        self.required = claims.into_iter().collect();
        self.name = "custom";
        self
    }

    /// Where the client id comes from: the first of these present
    /// (replacing the preset's list).
    ///
    /// See the [`Profile`] docs for an example.
    #[must_use]
    pub fn client_id_from(mut self, claims: impl IntoIterator<Item = ClaimPath>) -> Self {
        self.client_id = claims.into_iter().collect();
        self.name = "custom";
        self
    }

    /// Where the scopes come from: the union of these (replacing the preset's
    /// list). Each is a space-separated string or an array of strings.
    ///
    /// See the [`Profile`] docs for an example.
    #[must_use]
    pub fn scopes_from(mut self, claims: impl IntoIterator<Item = ClaimPath>) -> Self {
        self.scopes = claims.into_iter().collect();
        self.name = "custom";
        self
    }

    /// One more source of scopes (roles or groups, e.g. `cognito:groups`,
    /// `realm_access.roles`): its values become scopes the layers check, so
    /// add only a claim the issuer controls for this API.
    ///
    /// See the [`Profile`] docs for an example.
    #[must_use]
    pub fn also_scopes_from(mut self, claim: ClaimPath) -> Self {
        self.scopes.push(claim);
        self
    }

    /// One more condition of the access-token discriminator.
    ///
    /// See the [`Profile`] docs for an example.
    #[must_use]
    pub fn access_token_rule(mut self, rule: ClaimRule) -> Self {
        self.access_token.push(rule);
        self.name = "custom";
        self
    }

    /// `aud` values of the issuer's own APIs (Microsoft Graph for the Entra
    /// presets): a token for one of them is refused as `first_party_token`
    /// before the audience check, so the operator learns the client asked for
    /// the wrong token. Adds to the list.
    ///
    /// ```
    /// use tower_bearer::jwt::Profile;
    /// let p = Profile::relaxed().first_party_audiences(["https://graph.microsoft.com"]).refuse_header_nonce(true);
    /// assert_eq!(p.name(), "custom");
    /// ```
    #[must_use]
    pub fn first_party_audiences<I, S>(mut self, audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.first_party_audiences
            .extend(audiences.into_iter().map(Into::into));
        self.name = "custom";
        self
    }

    /// Refuse tokens whose header has a `nonce` member, before the signature
    /// check (`first_party_token`): Entra's tokens for Microsoft APIs, whose
    /// signature no third party can verify. On for the Entra presets.
    ///
    /// See [`Profile::first_party_audiences`] for an example.
    #[must_use]
    pub fn refuse_header_nonce(mut self, refuse: bool) -> Self {
        self.refuse_header_nonce = refuse;
        self.name = "custom";
        self
    }

    /// Whether tokens with a header `nonce` are refused.
    pub(crate) fn refuses_header_nonce(&self) -> bool {
        self.refuse_header_nonce
    }

    /// Claim paths as a comma-separated list, `-` for none.
    fn list(paths: &[ClaimPath]) -> String {
        if paths.is_empty() {
            return "-".into();
        }
        paths
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A one-line account of the rules, for start-up logs.
///
/// ```
/// let rules = tower_bearer::jwt::Profile::cognito().to_string();
/// assert!(rules.contains("token_use = \"access\""), "{rules}");
/// ```
impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: typ {}; required {}; client id from {}; scopes from {}",
            self.name,
            self.typ,
            Profile::list(&self.required),
            Profile::list(&self.client_id),
            Profile::list(&self.scopes),
        )?;
        if !self.access_token.is_empty() {
            let rules: Vec<String> = self.access_token.iter().map(ToString::to_string).collect();
            write!(f, "; access tokens: {}", rules.join(", "))?;
        }
        Ok(())
    }
}

/// The identity providers with a preset: what the quickstart's `--provider`
/// names. [`Provider::profile`] is the preset.
///
/// ```
/// use tower_bearer::jwt::{Profile, Provider};
/// assert_eq!("entra-v1".parse::<Provider>().unwrap(), Provider::EntraV1);
/// assert_eq!(Provider::Cognito.profile(), Profile::cognito());
/// assert_eq!(Provider::Okta.to_string(), "okta");
/// assert!("google".parse::<Provider>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Provider {
    /// RFC 9068 ([`Profile::rfc9068`]).
    Rfc9068,
    /// Microsoft Entra ID v2.0 ([`Profile::entra`]).
    Entra,
    /// Microsoft Entra ID v1.0 ([`Profile::entra_v1`]).
    EntraV1,
    /// Auth0 ([`Profile::auth0`]).
    Auth0,
    /// Okta custom authorization server ([`Profile::okta`]).
    Okta,
    /// Amazon Cognito ([`Profile::cognito`]).
    Cognito,
    /// Keycloak ([`Profile::keycloak`]).
    Keycloak,
    /// WorkOS AuthKit ([`Profile::workos`]).
    Workos,
    /// Ory Hydra ([`Profile::hydra`]).
    Hydra,
}

impl Provider {
    /// Every provider, in the order of the docs.
    pub const ALL: [Provider; 9] = [
        Provider::Rfc9068,
        Provider::Entra,
        Provider::EntraV1,
        Provider::Auth0,
        Provider::Okta,
        Provider::Cognito,
        Provider::Keycloak,
        Provider::Workos,
        Provider::Hydra,
    ];

    /// Its preset.
    ///
    /// See [`Provider`] for an example.
    pub fn profile(self) -> Profile {
        match self {
            Provider::Rfc9068 => Profile::rfc9068(),
            Provider::Entra => Profile::entra(),
            Provider::EntraV1 => Profile::entra_v1(),
            Provider::Auth0 => Profile::auth0(),
            Provider::Okta => Profile::okta(),
            Provider::Cognito => Profile::cognito(),
            Provider::Keycloak => Profile::keycloak(),
            Provider::Workos => Profile::workos(),
            Provider::Hydra => Profile::hydra(),
        }
    }

    /// Its name (`entra-v1`, ...), as [`FromStr`] reads it.
    ///
    /// See [`Provider`] for an example.
    pub fn name(self) -> &'static str {
        match self {
            Provider::Rfc9068 => "rfc9068",
            Provider::Entra => "entra",
            Provider::EntraV1 => "entra-v1",
            Provider::Auth0 => "auth0",
            Provider::Okta => "okta",
            Provider::Cognito => "cognito",
            Provider::Keycloak => "keycloak",
            Provider::Workos => "workos",
            Provider::Hydra => "hydra",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Provider {
    type Err = ProfileError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Provider::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| ProfileError::UnknownProvider(s.to_owned()))
    }
}

/// A claim as the payload has it.
enum Claim<'a> {
    Absent,
    Text(&'a str),
    List(&'a [String]),
    Json(&'a Value),
    /// Present, of a type read elsewhere (`exp`, `cnf`, ...).
    Other,
}

/// The verified payload seen through a profile: the claims read in the
/// strict pass, and the whole payload as JSON when the profile reads claims
/// beyond those.
pub(crate) struct View<'a, 'p> {
    registered: &'a Registered<'p>,
    rest: Option<Value>,
}

fn is_registered(path: &ClaimPath) -> bool {
    path.top()
        .is_some_and(|name| ACCESS_TOKEN_MEMBERS.contains(&name))
}

/// The first path segment of an issuer URL (`scheme://host/{this}/…`).
fn first_path_segment(issuer: &str) -> Option<&str> {
    let (_, rest) = issuer.split_once("://")?;
    rest.split('/').nth(1)
}

/// What marks a JWT as an OpenID Connect ID token rather than an access
/// token (Core §2, §3.1.3.6; Cognito `token_use`; Keycloak `typ`).
fn looks_like_id_token(view: &View<'_, '_>) -> bool {
    let text = |name: &'static str| match view.get(&ClaimPath::known(name)) {
        Claim::Json(Value::String(s)) => Some(s.as_str()),
        _ => None,
    };
    ["nonce", "at_hash", "c_hash"]
        .into_iter()
        .any(|name| !matches!(view.get(&ClaimPath::known(name)), Claim::Absent))
        || text("token_use") == Some("id")
        || text("typ") == Some("ID")
}

impl<'a, 'p> View<'a, 'p> {
    /// Reads `payload` as JSON once more only when `profile` (or the ID-token
    /// marks, looked for on refusal) needs claims beyond [`Registered`]'s.
    /// The payload passed the strict reader already.
    pub(crate) fn new(
        registered: &'a Registered<'p>,
        payload: &[u8],
        profile: &Profile,
    ) -> Result<Self, InvalidToken> {
        let needs_rest = profile
            .required
            .iter()
            .chain(&profile.client_id)
            .chain(&profile.scopes)
            .any(|p| !is_registered(p))
            || !profile.access_token.is_empty();
        let rest = if needs_rest {
            Some(serde_json::from_slice(payload).map_err(|_| InvalidToken::Malformed)?)
        } else {
            None
        };
        Ok(View { registered, rest })
    }

    /// Reads the payload as JSON if not done yet (for the ID-token marks).
    fn with_rest(&mut self, payload: &[u8]) {
        if self.rest.is_none() {
            self.rest = serde_json::from_slice(payload).ok();
        }
    }

    fn get(&self, path: &ClaimPath) -> Claim<'_> {
        let r = self.registered;
        let text = |v: &'a Option<Cow<'p, str>>| v.as_deref().map_or(Claim::Absent, Claim::Text);
        match path.top() {
            Some("sub") => return text(&r.sub),
            Some("client_id") => return text(&r.client_id),
            Some("azp") => return text(&r.azp),
            Some("jti") => return text(&r.jti),
            Some("scope") => return text(&r.scope),
            Some("iss") => return text(&r.iss),
            Some("scp") => return r.scp.as_deref().map_or(Claim::Absent, Claim::List),
            Some("aud") => return r.aud.as_deref().map_or(Claim::Absent, Claim::List),
            Some("exp") => {
                return if r.exp.is_some() {
                    Claim::Other
                } else {
                    Claim::Absent
                };
            }
            Some("nbf") => {
                return if r.nbf.is_some() {
                    Claim::Other
                } else {
                    Claim::Absent
                };
            }
            Some("iat") => {
                return if r.iat.is_some() {
                    Claim::Other
                } else {
                    Claim::Absent
                };
            }
            Some("cnf") => {
                return if r.cnf.is_some() {
                    Claim::Other
                } else {
                    Claim::Absent
                };
            }
            _ => {}
        }
        let Some(mut value) = self.rest.as_ref() else {
            return Claim::Absent;
        };
        for name in &path.0 {
            match value.get(&**name) {
                Some(v) => value = v,
                None => return Claim::Absent,
            }
        }
        if value.is_null() {
            Claim::Absent
        } else {
            Claim::Json(value)
        }
    }

    fn holds(&self, rule: &ClaimRule, issuer: &str) -> bool {
        let present = |p: &ClaimPath| !matches!(self.get(p), Claim::Absent);
        let text = |p: &ClaimPath| match self.get(p) {
            Claim::Text(s) => Some(s),
            Claim::Json(Value::String(s)) => Some(s.as_str()),
            _ => None,
        };
        match rule {
            ClaimRule::Equals(path, value) => text(path) == Some(value.as_str()),
            ClaimRule::Present(path) => present(path),
            ClaimRule::AnyPresent(paths) => paths.iter().any(present),
            ClaimRule::Absent(path) => !present(path),
            ClaimRule::IssuerSegment(path) => {
                text(path).is_some_and(|v| !v.is_empty() && first_path_segment(issuer) == Some(v))
            }
        }
    }

    /// The profile's discriminator and required claims; the `typ` first.
    /// A refusal says `id_token_presented` when the payload has an ID
    /// token's marks.
    pub(crate) fn check_kind(
        &mut self,
        profile: &Profile,
        typ: Option<&str>,
        issuer: &str,
        payload: &[u8],
    ) -> Result<(), InvalidToken> {
        let kind = if !profile.typ.accepts(typ) {
            Some(InvalidToken::Type)
        } else if !profile.access_token.iter().all(|rule| self.holds(rule, issuer)) {
            Some(InvalidToken::NotAccessToken)
        } else {
            None
        };
        if let Some(refusal) = kind {
            self.with_rest(payload);
            return Err(if looks_like_id_token(self) {
                InvalidToken::IdToken
            } else {
                refusal
            });
        }
        if profile
            .required
            .iter()
            .any(|p| matches!(self.get(p), Claim::Absent))
        {
            return Err(InvalidToken::Claims);
        }
        Ok(())
    }

    /// Whether `aud` names one of Microsoft's own APIs under a profile that
    /// refuses them.
    pub(crate) fn first_party(&self, profile: &Profile) -> bool {
        !profile.first_party_audiences.is_empty()
            && self.registered.aud.iter().flatten().any(|a| {
                profile
                    .first_party_audiences
                    .iter()
                    .any(|f| crate::resource::audience_matches(f, a))
            })
    }

    /// The client id: the first source present, which must be a string.
    pub(crate) fn client_id(&self, profile: &Profile) -> Result<Option<&str>, InvalidToken> {
        for path in &profile.client_id {
            match self.get(path) {
                Claim::Absent => continue,
                Claim::Text(s) => return Ok(Some(s)),
                Claim::Json(Value::String(s)) => return Ok(Some(s)),
                _ => return Err(InvalidToken::Claims),
            }
        }
        Ok(None)
    }

    /// The union of the scope sources: each a space-separated string or an
    /// array of strings.
    pub(crate) fn scopes(&self, profile: &Profile) -> Result<Scopes, InvalidToken> {
        let mut scopes: Vec<&str> = Vec::new();
        for path in &profile.scopes {
            match self.get(path) {
                Claim::Absent => {}
                Claim::Text(s) => scopes.extend(s.split(' ')),
                Claim::List(list) => scopes.extend(list.iter().flat_map(|s| s.split(' '))),
                Claim::Json(Value::String(s)) => scopes.extend(s.split(' ')),
                Claim::Json(Value::Array(items)) => {
                    for item in items {
                        let Value::String(s) = item else {
                            return Err(InvalidToken::Claims);
                        };
                        scopes.extend(s.split(' '));
                    }
                }
                Claim::Json(_) | Claim::Other => return Err(InvalidToken::Claims),
            }
        }
        Ok(scopes.into_iter().filter(|s| !s.is_empty()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tenant_is_the_first_path_segment_of_the_issuer() {
        let tid = "9188040d-6c67-4c5b-b112-36a304b66dad";
        assert_eq!(
            first_path_segment(&format!("https://login.microsoftonline.com/{tid}/v2.0")),
            Some(tid)
        );
        assert_eq!(
            first_path_segment(&format!("https://sts.windows.net/{tid}/")),
            Some(tid)
        );
        assert_eq!(first_path_segment("https://sts.windows.net"), None);
        assert_eq!(first_path_segment("not a url"), None);
    }

    #[test]
    fn typ_policies_compare_media_types() {
        let jwt = TypPolicy::one_of(["JWT", "application/at+jwt"]).unwrap();
        for typ in ["JWT", "jwt", "application/JWT", "at+jwt", "APPLICATION/AT+JWT"] {
            assert!(jwt.accepts(Some(typ)), "{typ}");
        }
        for typ in ["", "application/", "JWT2", "dpop+jwt", "text/jwt"] {
            assert!(!jwt.accepts(Some(typ)), "{typ}");
        }
        assert!(!jwt.accepts(None));
        assert_eq!(
            TypPolicy::one_of([""]).unwrap_err(),
            ProfileError::Typ(String::new())
        );
        assert_eq!(
            TypPolicy::one_of(["application/"]).unwrap_err(),
            ProfileError::Typ("application/".into())
        );
        assert!(TypPolicy::one_of(["a b"]).is_err());
    }

    #[test]
    fn presets_name_their_provider_and_parse_back() {
        for provider in Provider::ALL {
            assert_eq!(provider.name().parse::<Provider>(), Ok(provider));
            assert_eq!(provider.profile().name(), provider.name());
            // Every preset refuses something by `typ` or by a claim rule.
            let profile = provider.profile();
            assert!(
                !profile.typ.any && (!profile.access_token.is_empty() || provider == Provider::Rfc9068),
                "{provider}"
            );
        }
        assert_eq!(
            "Okta".parse::<Provider>(),
            Err(ProfileError::UnknownProvider("Okta".into()))
        );
        assert_eq!(Profile::keycloak().typ(TypPolicy::any()).name(), "custom");
        let with_roles = Profile::keycloak().also_scopes_from(ClaimPath::new("roles").unwrap());
        assert_eq!(with_roles.name(), "keycloak");
        assert!(
            with_roles.to_string().contains("scopes from scope, roles"),
            "{with_roles}"
        );
        assert_eq!(
            ClaimPath::nested(["a", ""]).unwrap_err(),
            ProfileError::EmptyClaimName
        );
    }
}
