//! Identity Assertion JWT Authorization Grants (ID-JAG), validated by an
//! **authorization server** before it issues an access token.
//!
//! An ID-JAG (draft-ietf-oauth-identity-assertion-authz-grant, the grant
//! behind MCP's Enterprise-Managed Authorization, SEP-990) is a short-lived
//! JWT signed by an enterprise identity provider. The client gets it from the
//! IdP with a Token Exchange (RFC 8693: its ID token or SAML assertion in,
//! `requested_token_type=urn:ietf:params:oauth:token-type:id-jag` and
//! `audience` = this authorization server), then presents it at this server's
//! token endpoint with the RFC 7523 JWT-bearer grant
//! (`grant_type=`[`JWT_BEARER_GRANT_TYPE`], `assertion=<ID-JAG>`) while
//! authenticating as itself. It says: *the IdP vouches that user `sub` may let
//! client `client_id` reach `resource` with `scope`*. This server decides,
//! under its own policy, what access token to issue for it.
//!
//! [`IdJagValidator::validate`] takes the assertion and the client id the
//! token endpoint **authenticated** (never one read from the request alone)
//! and checks, cheapest refusals first, so that no key set is fetched and no
//! signature computed for an assertion refused on its face:
//!
//! 1. **Size**: at most [`MAX_TOKEN_LEN`]
//!    (16 KiB), the crate's token limit ([`IdJagError::TooLong`]).
//! 2. **JWS pre-checks**, as for access tokens ([`tower_bearer::jwt`]): three
//!    segments of canonical base64url, a strict JSON header, `alg` on the
//!    [`KeyPolicy`] (never `none` or HMAC), no `crit`.
//! 3. **Type**: header `typ` is `oauth-id-jag+jwt` (RFC 8725 §3.11),
//!    compared case-insensitively, `application/` prefix allowed.
//! 4. **Issuer**: the (still unverified) `iss` is one of the trusted IdPs;
//!    it only chooses whose keys to try.
//! 5. **Signature** with that IdP's JWK Set, through the crate's key cache:
//!    keys parsed once, refreshed in the background, one single-flight
//!    refetch for an unknown `kid`, stale keys served for an hour when the IdP
//!    is down, then [`IdJagError::Unavailable`]. Header `jwk`/`jku`/`x5u`/`x5c`
//!    are never used.
//! 6. **Claims**, read by the crate's strict reader (no duplicate member at
//!    any depth, typed members): `iss` is the IdP; `aud` is this server's
//!    issuer identifier — a string, or an array of exactly that one value
//!    (draft §4.4.1), compared by the crate's one audience check
//!    ([`audience_matches`](tower_bearer::resource::audience_matches): case of scheme
//!    and host, default port and trailing slash aside, never a prefix);
//!    `sub`, `client_id` and `jti` are non-empty strings;
//!    `resource` values are absolute URIs without fragment (RFC 8707 §2).
//! 7. **Time**: `exp` and `iat` required, `exp` not passed, `iat` and `nbf`
//!    not in the future, each with the leeway (default 60 s); the lifetime
//!    `exp - iat` at most [`max_lifetime`](IdJagValidatorBuilder::max_lifetime)
//!    (default [`DEFAULT_MAX_LIFETIME`], 5 minutes).
//! 8. **Client**: `client_id` equals the authenticated client
//!    ([`IdJagError::ClientMismatch`], `invalid_grant` per draft §4.4.1).
//! 9. **Binding**: a `cnf` other than DPoP's `jkt` is refused; a `jkt` is
//!    returned ([`IdJag::dpop_jkt`]) for [`IdJag::check_dpop_proof`].
//! 10. **Once**: the `jti` is recorded in a [`ReplayCache`] keyed by issuer
//!     and `jti`, until `exp` + leeway; a second use is
//!     [`IdJagError::Replayed`]. A replay store that cannot answer gives
//!     [`IdJagError::Unavailable`], never an unchecked grant. Only
//!     assertions that passed every other check are recorded, so a stolen
//!     assertion presented by the wrong client does not burn it.
//!
//! Every refusal answers `invalid_grant` (RFC 7523 §3.1, RFC 6749 §5.2);
//! an outage answers `temporarily_unavailable` ([`IdJagError::oauth_error`]).
//! Nothing from the assertion is echoed in an error.
//!
//! What stays with the authorization server: authenticating the client,
//! resolving the account (`iss` + `sub`, or `tenant` / `aud_sub`), narrowing
//! the [scopes](IdJag::scopes) to the intersection with those requested (the
//! MCP profile's §7.2.1), restricting the issued token's audience to the
//! [resource](IdJag::resource), and checking a DPoP proof when the grant is
//! bound.
//!
//! Single use follows the MCP profile (replay detection is required there);
//! the draft's note that a client may re-submit an ID-JAG to get a new access
//! token does not apply to an assertion that lives 5 minutes.
//!
//! ```
//! use std::time::{SystemTime, UNIX_EPOCH};
//! use serde_json::json;
//! use tower_bearer_issuer::id_jag::{IdJagError, IdJagValidator};
//! use tower_bearer_issuer::DevIssuer;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! // The enterprise IdP: here a development issuer on loopback.
//! let idp = DevIssuer::start().await.unwrap();
//! let validator = IdJagValidator::builder()
//!     .audience("https://as.example.com")
//!     .trusted_issuer(idp.issuer(), idp.jwks_uri())
//!     .build()
//!     .unwrap();
//!
//! // What the IdP's token exchange would give the client.
//! let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
//! let assertion = idp.sign(
//!     &json!({"alg": "RS256", "typ": "oauth-id-jag+jwt", "kid": idp.jwks()["keys"][0]["kid"]}),
//!     &json!({
//!         "iss": idp.issuer(), "sub": "alice", "aud": "https://as.example.com",
//!         "client_id": "client-123", "jti": "b4b1d3", "iat": now, "exp": now + 300,
//!         "resource": "https://mcp.example.com/mcp", "scope": "notes:read notes:write",
//!     }),
//! );
//!
//! // At the token endpoint, once client-123 has authenticated:
//! let grant = validator.validate(&assertion, "client-123").await.unwrap();
//! assert_eq!(grant.subject(), "alice");
//! assert_eq!(grant.resource(), ["https://mcp.example.com/mcp"]);
//! assert!(grant.scopes().contains("notes:write"));
//!
//! // Once only.
//! let again = validator.validate(&assertion, "client-123").await.unwrap_err();
//! assert_eq!(again, IdJagError::Replayed);
//! assert_eq!(again.oauth_error(), "invalid_grant");
//! # });
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tower_bearer::__private::claims::{self, ClaimSet, JwtType, ReadError, Registered, confirmation};
use tower_bearer::__private::{CacheSettings, Claims, KeyCache, KeySource, Unverified, fetch, time};
use tower_bearer::extract::MAX_TOKEN_LEN;
use tower_bearer::jwt::KeyPolicy;
use tower_bearer::replay::{DynReplayCache, MemoryReplayCache, ReplayCache, ReplayKey};
use tower_bearer::{InvalidToken, Principal, Scopes, Unavailable, VerifyError};

/// The `grant_type` of a token request that presents an ID-JAG (RFC 7523 §2.1).
///
/// ```
/// assert_eq!(tower_bearer_issuer::id_jag::JWT_BEARER_GRANT_TYPE, "urn:ietf:params:oauth:grant-type:jwt-bearer");
/// ```
pub const JWT_BEARER_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The token type an IdP's token exchange issues an ID-JAG as
/// (`requested_token_type` / `issued_token_type`, draft §9.2).
///
/// ```
/// assert_eq!(tower_bearer_issuer::id_jag::ID_JAG_TOKEN_TYPE, "urn:ietf:params:oauth:token-type:id-jag");
/// ```
pub const ID_JAG_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id-jag";

/// The grant profile an authorization server that accepts ID-JAGs lists in
/// its metadata's `authorization_grant_profiles_supported` (draft §7).
///
/// ```
/// assert_eq!(tower_bearer_issuer::id_jag::ID_JAG_GRANT_PROFILE, "urn:ietf:params:oauth:grant-profile:id-jag");
/// ```
pub const ID_JAG_GRANT_PROFILE: &str = "urn:ietf:params:oauth:grant-profile:id-jag";

/// The header `typ` of an ID-JAG (draft §3.1, RFC 8725 §3.11).
///
/// ```
/// assert_eq!(tower_bearer_issuer::id_jag::ID_JAG_TYP, "oauth-id-jag+jwt");
/// ```
pub const ID_JAG_TYP: &str = "oauth-id-jag+jwt";

/// The longest accepted lifetime (`exp - iat`) of an ID-JAG unless
/// configured: 5 minutes.
///
/// The MCP profile requires ID-JAGs to be short-lived: the grant is a bearer
/// artifact until used, and it replaces the user's consent at this server.
/// IdPs issue them for minutes (the examples of the draft and of the MCP
/// profile answer `expires_in: 300`); one that lives longer is refused
/// rather than trusted for longer, and the replay cache never has to hold a
/// `jti` for more than this plus the leeway.
///
/// ```
/// assert_eq!(tower_bearer_issuer::id_jag::DEFAULT_MAX_LIFETIME.as_secs(), 300);
/// ```
pub const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(300);

/// Validates ID-JAGs for one authorization server, from a fixed set of
/// trusted IdPs; see the [module docs](self) for the checks and an example.
///
/// Cloning is cheap and shares the key caches and the replay cache. Keys are
/// fetched on first use (or with [`IdJagValidator::prefetch`]).
///
/// ```
/// use tower_bearer_issuer::id_jag::IdJagValidator;
///
/// let validator = IdJagValidator::builder()
///     .audience("https://as.example.com")
///     .trusted_issuer("https://idp.example.com", "https://idp.example.com/jwks")
///     .build()
///     .unwrap();
/// assert!(format!("{validator:?}").contains("https://idp.example.com"));
/// ```
#[derive(Clone)]
pub struct IdJagValidator {
    inner: Arc<Inner>,
}

struct Inner {
    audience: String,
    issuers: Vec<TrustedIssuer>,
    policy: KeyPolicy,
    leeway: Duration,
    max_lifetime: Duration,
    replay: Arc<DynReplayCache<'static>>,
}

struct TrustedIssuer {
    issuer: Arc<str>,
    keys: Arc<KeyCache>,
}

impl fmt::Debug for IdJagValidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        f.debug_struct("IdJagValidator")
            .field("audience", &inner.audience)
            .field(
                "trusted_issuers",
                &inner.issuers.iter().map(|i| &*i.issuer).collect::<Vec<_>>(),
            )
            .field("policy", &inner.policy)
            .field("leeway", &inner.leeway)
            .field("max_lifetime", &inner.max_lifetime)
            .finish_non_exhaustive()
    }
}

impl IdJagValidator {
    /// Starts a builder.
    ///
    /// See [`IdJagValidator`] for an example.
    pub fn builder() -> IdJagValidatorBuilder {
        IdJagValidatorBuilder::default()
    }

    /// Validates `assertion` (the token request's `assertion` parameter) for
    /// the client the token endpoint authenticated, and records its `jti`.
    ///
    /// See the [module docs](self) for the checks, in order, and an example.
    pub async fn validate(
        &self,
        assertion: &str,
        authenticated_client_id: &str,
    ) -> Result<IdJag, IdJagError> {
        let result = self
            .validate_at(assertion, authenticated_client_id, SystemTime::now())
            .await;
        if let Err(error) = &result {
            tracing::debug!(client_id = authenticated_client_id, reason = %error, "ID-JAG refused");
        }
        result
    }

    /// Fetches every trusted IdP's keys now (discovery included), so the
    /// first token request does not wait for them. Validation works without it.
    ///
    /// ```no_run
    /// # async fn f(validator: tower_bearer_issuer::id_jag::IdJagValidator) {
    /// if let Err(e) = validator.prefetch().await {
    ///     eprintln!("IdP keys not reachable yet: {e}");
    /// }
    /// # }
    /// ```
    pub async fn prefetch(&self) -> Result<(), Unavailable> {
        for issuer in &self.inner.issuers {
            issuer.keys.keys().await?;
        }
        Ok(())
    }

    async fn validate_at(
        &self,
        assertion: &str,
        authenticated_client_id: &str,
        now: SystemTime,
    ) -> Result<IdJag, IdJagError> {
        if assertion.len() > MAX_TOKEN_LEN {
            return Err(IdJagError::TooLong);
        }
        let inner = &self.inner;
        let unverified = Unverified::parse(assertion, &inner.policy).map_err(refusal)?;
        if unverified.typ() != JwtType::IdJag {
            return Err(IdJagError::Type);
        }
        let index = unverified
            .select_issuer(|iss| inner.issuers.iter().position(|i| *i.issuer == *iss))
            .map_err(refusal)?;
        let issuer = &inner.issuers[index];
        issuer.keys.verify(&unverified).await.map_err(|e| match e {
            VerifyError::Invalid(invalid) => refusal(invalid),
            VerifyError::Unavailable(unavailable) => IdJagError::Unavailable(unavailable),
            // `VerifyError` is non-exhaustive: a refusal it may gain is a refusal here.
            _ => IdJagError::Malformed,
        })?;
        let payload = unverified.decode_payload().map_err(refusal)?;
        let grant = self.check_claims(&issuer.issuer, payload, authenticated_client_id, now)?;
        self.first_use(&grant).await?;
        Ok(grant)
    }

    /// Checks 6 to 9 of the module docs, on a payload whose signature verified.
    fn check_claims(
        &self,
        issuer: &Arc<str>,
        payload: Vec<u8>,
        authenticated_client_id: &str,
        now: SystemTime,
    ) -> Result<IdJag, IdJagError> {
        let inner = &self.inner;
        let claims = Registered::read(&payload, ClaimSet::IdJag).map_err(|e| match e {
            ReadError::Malformed => IdJagError::Malformed,
            ReadError::Claims => IdJagError::InvalidClaim,
        })?;
        if claims.iss.as_deref() != Some(&**issuer) {
            return Err(IdJagError::UntrustedIssuer);
        }
        // Draft §4.4.1: one audience, this server's issuer identifier; an
        // array with more is refused (audience injection).
        match claims.aud.as_deref() {
            Some([aud]) if tower_bearer::resource::audience_matches(&inner.audience, aud) => {}
            _ => return Err(IdJagError::Audience),
        }
        let subject = required(claims.sub, "sub")?;
        let client_id = required(claims.client_id, "client_id")?;
        let jti = required(claims.jti, "jti")?;
        let resource = claims.resource.unwrap_or_default();
        if !resource.iter().all(|r| crate::is_resource_identifier(r)) {
            return Err(IdJagError::InvalidClaim);
        }
        let expires_at = claims.exp.ok_or(IdJagError::MissingClaim("exp"))?;
        let issued_at = claims.iat.ok_or(IdJagError::MissingClaim("iat"))?;
        claims::check_times(expires_at, claims.nbf, Some(issued_at), inner.leeway, now).map_err(refusal)?;
        match expires_at.duration_since(issued_at) {
            Ok(lifetime) if lifetime > inner.max_lifetime => return Err(IdJagError::LifetimeTooLong),
            Ok(_) => {}
            // Expires before it was issued.
            Err(_) => return Err(IdJagError::InvalidClaim),
        }
        if client_id != authenticated_client_id {
            return Err(IdJagError::ClientMismatch);
        }
        let dpop_jkt = match &claims.cnf {
            Some(cnf) => confirmation(cnf.jkt.as_deref(), cnf.others).map_err(refusal)?,
            None => None,
        };
        let owned = |s: Option<std::borrow::Cow<'_, str>>| s.map(|s| s.into_owned());
        Ok(IdJag {
            issuer: issuer.clone(),
            subject,
            client_id,
            jti,
            resource,
            scopes: claims.scope.as_deref().map(Scopes::parse).unwrap_or_default(),
            expires_at,
            issued_at,
            auth_time: claims.auth_time,
            tenant: owned(claims.tenant),
            aud_tenant: owned(claims.aud_tenant),
            aud_sub: owned(claims.aud_sub),
            acr: owned(claims.acr),
            amr: claims.amr.unwrap_or_default(),
            email: owned(claims.email),
            dpop_jkt,
            claims: Claims::from_json(payload),
        })
    }

    /// Records the grant's `jti` until it expires (plus the leeway), without
    /// waiting when the cache can answer at once.
    async fn first_use(&self, grant: &IdJag) -> Result<(), IdJagError> {
        let replay = &self.inner.replay;
        let key = ReplayKey::new("id-jag", &grant.issuer, &grant.jti);
        let until = grant
            .expires_at
            .checked_add(self.inner.leeway)
            .unwrap_or_else(time::far_future);
        let answer = match replay.first_use_now(&key, grant.issued_at, until) {
            Some(answer) => answer,
            None => replay.first_use(&key, grant.issued_at, until).await,
        };
        match answer {
            Ok(true) => Ok(()),
            Ok(false) => Err(IdJagError::Replayed),
            Err(unavailable) => {
                tracing::warn!(issuer = %grant.issuer, reason = %unavailable, "ID-JAG replay cache unavailable");
                Err(IdJagError::Unavailable(unavailable))
            }
        }
    }
}

/// A required string claim: present and not empty.
fn required(value: Option<std::borrow::Cow<'_, str>>, name: &'static str) -> Result<String, IdJagError> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| v.into_owned())
        .ok_or(IdJagError::MissingClaim(name))
}

/// The ID-JAG refusal for a refusal of the shared JWT path.
fn refusal(invalid: InvalidToken) -> IdJagError {
    match invalid {
        InvalidToken::Algorithm => IdJagError::Algorithm,
        InvalidToken::Issuer => IdJagError::UntrustedIssuer,
        InvalidToken::UnknownKey => IdJagError::UnknownKey,
        InvalidToken::Signature => IdJagError::Signature,
        InvalidToken::Expired => IdJagError::Expired,
        InvalidToken::NotYetValid => IdJagError::NotYetValid,
        InvalidToken::Claims => IdJagError::InvalidClaim,
        InvalidToken::Audience => IdJagError::Audience,
        InvalidToken::Type => IdJagError::Type,
        InvalidToken::Binding => IdJagError::UnsupportedBinding,
        _ => IdJagError::Malformed,
    }
}

/// A validated ID-JAG: who the IdP vouches for, for which client, resources
/// and scopes, until when. What to issue for it is the authorization
/// server's decision.
///
/// ```
/// use std::time::{SystemTime, UNIX_EPOCH};
/// use serde_json::json;
/// use tower_bearer_issuer::id_jag::IdJagValidator;
/// use tower_bearer_issuer::DevIssuer;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let idp = DevIssuer::start().await.unwrap();
/// let validator = IdJagValidator::builder()
///     .audience("https://as.example.com")
///     .trusted_issuer(idp.issuer(), idp.jwks_uri())
///     .build()
///     .unwrap();
/// let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
/// let assertion = idp.sign(
///     &json!({"alg": "RS256", "typ": "oauth-id-jag+jwt", "kid": idp.jwks()["keys"][0]["kid"]}),
///     &json!({
///         "iss": idp.issuer(), "sub": "U019488227", "aud": "https://as.example.com",
///         "client_id": "f53f191f9311af35", "jti": "9e43f81b64a33f20116179",
///         "iat": now, "exp": now + 300, "auth_time": now - 60, "amr": ["mfa", "hwk"],
///         "resource": ["https://api.example.com/files", "https://api.example.com/chat"],
///         "scope": "chat.read chat.history", "tenant": "acme", "aud_tenant": "acme-chat",
///         "aud_sub": "alice@acme", "acr": "phr", "email": "alice@acme.example",
///         "authorization_details": [{"type": "chat_read", "actions": ["read"]}],
///     }),
/// );
/// let grant = validator.validate(&assertion, "f53f191f9311af35").await.unwrap();
///
/// assert_eq!(grant.issuer(), idp.issuer());
/// assert_eq!(grant.subject(), "U019488227");
/// assert_eq!(grant.client_id(), "f53f191f9311af35");
/// assert_eq!(grant.jti(), "9e43f81b64a33f20116179");
/// assert_eq!(grant.resource().len(), 2);
/// assert_eq!(grant.scopes().iter().collect::<Vec<_>>(), ["chat.history", "chat.read"]);
/// let at = |secs| UNIX_EPOCH + std::time::Duration::from_secs(secs);
/// assert_eq!(grant.expires_at(), at(now + 300));
/// assert_eq!(grant.issued_at(), at(now));
/// assert_eq!(grant.auth_time(), Some(at(now - 60)));
/// assert_eq!(grant.amr(), ["mfa", "hwk"]);
/// assert_eq!(grant.acr(), Some("phr"));
/// assert_eq!((grant.tenant(), grant.aud_tenant(), grant.aud_sub()), (Some("acme"), Some("acme-chat"), Some("alice@acme")));
/// assert_eq!(grant.email(), Some("alice@acme.example"));
/// assert_eq!(grant.dpop_jkt(), None);
/// assert_eq!(grant.claims()["authorization_details"][0]["type"], "chat_read");
/// assert_eq!(grant.principal().subject(), Some("U019488227"));
/// # });
/// ```
#[derive(Clone)]
pub struct IdJag {
    issuer: Arc<str>,
    subject: String,
    client_id: String,
    jti: String,
    resource: Vec<String>,
    scopes: Scopes,
    expires_at: SystemTime,
    issued_at: SystemTime,
    auth_time: Option<SystemTime>,
    tenant: Option<String>,
    aud_tenant: Option<String>,
    aud_sub: Option<String>,
    acr: Option<String>,
    amr: Vec<String>,
    email: Option<String>,
    dpop_jkt: Option<Arc<str>>,
    claims: Claims,
}

impl fmt::Debug for IdJag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // No personal data beyond the identifiers (no email, no raw claims).
        f.debug_struct("IdJag")
            .field("issuer", &self.issuer)
            .field("subject", &self.subject)
            .field("client_id", &self.client_id)
            .field("resource", &self.resource)
            .field("scopes", &self.scopes)
            .field("expires_at", &self.expires_at)
            .field("dpop_bound", &self.dpop_jkt.is_some())
            .finish_non_exhaustive()
    }
}

impl IdJag {
    /// `iss`: the IdP that issued the grant (one of the trusted issuers).
    ///
    /// See [`IdJag`] for an example.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// `sub`: the user at the IdP, unique with the issuer (and with
    /// [`tenant`](Self::tenant) for a multi-tenant IdP, draft §3.1).
    ///
    /// See [`IdJag`] for an example.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// `client_id`: the client at this server the grant was issued to; equal
    /// to the authenticated client passed to [`IdJagValidator::validate`].
    ///
    /// See [`IdJag`] for an example.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// `jti`: the grant's identifier (already recorded as used).
    ///
    /// See [`IdJag`] for an example.
    pub fn jti(&self) -> &str {
        &self.jti
    }

    /// `resource`: the resource identifiers (RFC 8707) the grant is for,
    /// empty when the claim is absent. The access token issued for the grant
    /// is to be audience-restricted to (a subset of) these.
    ///
    /// See [`IdJag`] for an example.
    pub fn resource(&self) -> &[String] {
        &self.resource
    }

    /// `scope`: the scopes the IdP allowed, empty when the claim is absent.
    /// Issue at most their intersection with the scopes the client requested.
    ///
    /// See [`IdJag`] for an example.
    pub fn scopes(&self) -> &Scopes {
        &self.scopes
    }

    /// `exp`: when the grant expires.
    ///
    /// See [`IdJag`] for an example.
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }

    /// `iat`: when the IdP issued the grant.
    ///
    /// See [`IdJag`] for an example.
    pub fn issued_at(&self) -> SystemTime {
        self.issued_at
    }

    /// `auth_time`: when the user authenticated at the IdP, if said.
    ///
    /// See [`IdJag`] for an example.
    pub fn auth_time(&self) -> Option<SystemTime> {
        self.auth_time
    }

    /// `tenant`: the IdP tenant of a multi-tenant issuer, if said.
    ///
    /// See [`IdJag`] for an example.
    pub fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    /// `aud_tenant`: this server's tenant the grant is for, if said.
    ///
    /// See [`IdJag`] for an example.
    pub fn aud_tenant(&self) -> Option<&str> {
        self.aud_tenant.as_deref()
    }

    /// `aud_sub`: this server's own identifier for the user, if the IdP knows it.
    ///
    /// See [`IdJag`] for an example.
    pub fn aud_sub(&self) -> Option<&str> {
        self.aud_sub.as_deref()
    }

    /// `acr`: the authentication context class the user's login satisfied, if said.
    ///
    /// See [`IdJag`] for an example.
    pub fn acr(&self) -> Option<&str> {
        self.acr.as_deref()
    }

    /// `amr`: the authentication methods used, empty when the claim is absent.
    ///
    /// See [`IdJag`] for an example.
    pub fn amr(&self) -> &[String] {
        &self.amr
    }

    /// `email`: the user's e-mail address, for account resolution, if said.
    ///
    /// See [`IdJag`] for an example.
    pub fn email(&self) -> Option<&str> {
        self.email.as_deref()
    }

    /// `cnf.jkt`: the thumbprint of the DPoP key the grant is bound to
    /// (draft §8.6). A bound grant may be used only with a DPoP proof by that
    /// key: see [`check_dpop_proof`](Self::check_dpop_proof).
    ///
    /// See [`IdJag`] for an example.
    pub fn dpop_jkt(&self) -> Option<&str> {
        self.dpop_jkt.as_deref()
    }

    /// The binding rule of draft §8.6.1.2, given the RFC 7638 thumbprint of
    /// the key of the token request's DPoP proof (already validated by the
    /// caller), or `None` when the request has no proof: a bound grant needs
    /// a proof by its key; an unbound one accepts either.
    ///
    /// ```
    /// # fn f(grant: tower_bearer_issuer::id_jag::IdJag, proof_jkt: Option<&str>) -> Result<(), tower_bearer_issuer::id_jag::IdJagError> {
    /// grant.check_dpop_proof(proof_jkt)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn check_dpop_proof(&self, proof_jkt: Option<&str>) -> Result<(), IdJagError> {
        match (self.dpop_jkt.as_deref(), proof_jkt) {
            (None, _) => Ok(()),
            (Some(_), None) => Err(IdJagError::DpopProofRequired),
            (Some(bound), Some(proof)) if bound == proof => Ok(()),
            (Some(_), Some(_)) => Err(IdJagError::DpopKeyMismatch),
        }
    }

    /// Every claim of the grant as JSON (parsed on first call), for those
    /// without an accessor: `authorization_details` (RFC 9396), `act`
    /// (RFC 8693 §4.1), or the IdP's own.
    ///
    /// See [`IdJag`] for an example.
    pub fn claims(&self) -> &serde_json::Map<String, serde_json::Value> {
        self.claims.map()
    }

    /// The grant's user and client as a [`Principal`] (issuer, subject,
    /// client id).
    ///
    /// See [`IdJag`] for an example.
    pub fn principal(&self) -> Principal {
        Principal::new()
            .with_issuer(self.issuer.clone())
            .with_subject(self.subject.as_str())
            .with_client_id(self.client_id.as_str())
    }
}

/// Why an ID-JAG was refused, or could not be checked.
///
/// The messages are fixed: nothing from the assertion is echoed. Every
/// refusal is an `invalid_grant` token error (400); [`IdJagError::Unavailable`]
/// is an outage to answer with 503 (`temporarily_unavailable`, and
/// `Retry-After` from [`Unavailable::retry_after`]).
///
/// ```
/// use tower_bearer_issuer::id_jag::IdJagError;
/// assert_eq!(IdJagError::ClientMismatch.oauth_error(), "invalid_grant");
/// assert_eq!(IdJagError::MissingClaim("jti").to_string(), "required claim jti missing or empty");
/// let outage = IdJagError::Unavailable(tower_bearer::Unavailable::new("IdP keys unreachable"));
/// assert_eq!(outage.oauth_error(), "temporarily_unavailable");
/// assert!(outage.is_unavailable());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdJagError {
    /// Longer than [`MAX_TOKEN_LEN`].
    #[error("assertion too long")]
    TooLong,
    /// Not a compact JWS with a JSON header and claims set, or a member name
    /// repeated.
    #[error("malformed assertion")]
    Malformed,
    /// Header `typ` is not `oauth-id-jag+jwt`.
    #[error("not an ID-JAG (typ)")]
    Type,
    /// `alg` not allowed by the key policy, or not fitting the key.
    #[error("assertion algorithm not allowed")]
    Algorithm,
    /// `iss` missing or not a trusted IdP.
    #[error("assertion issuer not trusted")]
    UntrustedIssuer,
    /// No key of the IdP's key set could verify it (after one refetch).
    #[error("assertion signed by an unknown key")]
    UnknownKey,
    /// The signature does not verify.
    #[error("assertion signature invalid")]
    Signature,
    /// `aud` missing, not this server's issuer identifier, or more than one.
    #[error("assertion not issued for this authorization server")]
    Audience,
    /// `exp` has passed (beyond the leeway).
    #[error("assertion expired")]
    Expired,
    /// `iat` or `nbf` lies in the future (beyond the leeway).
    #[error("assertion not yet valid")]
    NotYetValid,
    /// `exp - iat` exceeds the configured maximum lifetime.
    #[error("assertion lifetime too long")]
    LifetimeTooLong,
    /// A required claim (`sub`, `client_id`, `jti`, `exp`, `iat`) is absent,
    /// or an empty string.
    #[error("required claim {0} missing or empty")]
    MissingClaim(&'static str),
    /// A claim has the wrong type or value (e.g. a numeric `sub`, a
    /// `resource` that is not an absolute URI, `exp` before `iat`).
    #[error("assertion claim invalid")]
    InvalidClaim,
    /// `client_id` is not the authenticated client.
    #[error("assertion issued to another client")]
    ClientMismatch,
    /// `cnf` names a confirmation method other than DPoP's `jkt`.
    #[error("assertion bound by an unsupported method")]
    UnsupportedBinding,
    /// The `jti` was used before.
    #[error("assertion already used")]
    Replayed,
    /// The grant is DPoP-bound and the request has no DPoP proof
    /// ([`IdJag::check_dpop_proof`]).
    #[error("DPoP proof required for this grant")]
    DpopProofRequired,
    /// The request's DPoP proof is by another key than the grant's `cnf.jkt`.
    #[error("DPoP proof key does not match the grant")]
    DpopKeyMismatch,
    /// The IdP's keys or the replay cache could not be reached: nothing was
    /// decided.
    #[error("ID-JAG validation unavailable: {0}")]
    Unavailable(Unavailable),
}

impl IdJagError {
    /// The OAuth error code for the token response: `invalid_grant` for every
    /// refusal (RFC 7523 §3.1; draft §4.4.1 for the audience and the client),
    /// `temporarily_unavailable` for an outage.
    ///
    /// See [`IdJagError`] for an example.
    pub fn oauth_error(&self) -> &'static str {
        match self {
            IdJagError::Unavailable(_) => "temporarily_unavailable",
            _ => "invalid_grant",
        }
    }

    /// True for [`IdJagError::Unavailable`] (answer 503, not 400).
    ///
    /// See [`IdJagError`] for an example.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, IdJagError::Unavailable(_))
    }
}

/// Why an [`IdJagValidatorBuilder`] could not build.
///
/// ```
/// use tower_bearer_issuer::id_jag::{BuildError, IdJagValidator};
/// let err = IdJagValidator::builder().audience("https://as.example.com").build().unwrap_err();
/// assert_eq!(err, BuildError::NoTrustedIssuer);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// No audience: set this authorization server's issuer identifier.
    #[error("no audience: set this authorization server's issuer identifier")]
    NoAudience,
    /// No trusted issuer, or one with an empty identifier.
    #[error("no trusted issuer configured")]
    NoTrustedIssuer,
    /// The same issuer was configured twice.
    #[error("issuer {0} configured twice")]
    DuplicateIssuer(String),
    /// A URL is not https (or http to loopback), or does not parse.
    #[error("issuer {issuer}: {reason}")]
    Url {
        /// The issuer concerned.
        issuer: String,
        /// What is wrong with its URL.
        reason: String,
    },
    /// The maximum lifetime is zero: every grant would be refused.
    #[error("max_lifetime must be longer than zero")]
    ZeroMaxLifetime,
    /// The HTTP client for key sets could not be built (its TLS backend did
    /// not initialise).
    #[error("http_client: {0}")]
    HttpClient(String),
}

/// Builds an [`IdJagValidator`]; see [`IdJagValidator::builder`].
#[must_use]
pub struct IdJagValidatorBuilder {
    audience: Option<String>,
    issuers: Vec<(String, Option<String>)>,
    policy: KeyPolicy,
    leeway: Duration,
    max_lifetime: Duration,
    fetch_timeout: Duration,
    replay: Arc<DynReplayCache<'static>>,
}

impl Default for IdJagValidatorBuilder {
    fn default() -> Self {
        IdJagValidatorBuilder {
            audience: None,
            issuers: Vec::new(),
            policy: KeyPolicy::default(),
            leeway: time::DEFAULT_LEEWAY,
            max_lifetime: DEFAULT_MAX_LIFETIME,
            fetch_timeout: fetch::DEFAULT_TIMEOUT,
            replay: DynReplayCache::new_arc(MemoryReplayCache::new()),
        }
    }
}

impl fmt::Debug for IdJagValidatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdJagValidatorBuilder")
            .field("audience", &self.audience)
            .field("issuers", &self.issuers)
            .field("policy", &self.policy)
            .field("leeway", &self.leeway)
            .field("max_lifetime", &self.max_lifetime)
            .field("fetch_timeout", &self.fetch_timeout)
            .finish_non_exhaustive()
    }
}

impl IdJagValidatorBuilder {
    /// This authorization server's issuer identifier (RFC 8414): the `aud`
    /// every grant must carry. Required.
    ///
    /// See [`IdJagValidator`] for an example.
    pub fn audience(mut self, issuer: impl Into<String>) -> Self {
        self.audience = Some(issuer.into());
        self
    }

    /// Trusts grants from the IdP `issuer` (its exact `iss`), verified with
    /// the keys at `jwks_uri` (https, or http to loopback). At least one
    /// trusted issuer is required; call again for more.
    ///
    /// See [`IdJagValidator`] for an example.
    pub fn trusted_issuer(mut self, issuer: impl Into<String>, jwks_uri: impl Into<String>) -> Self {
        self.issuers.push((issuer.into(), Some(jwks_uri.into())));
        self
    }

    /// Trusts grants from the IdP `issuer`, with the `jwks_uri` of its
    /// metadata (RFC 8414, then OpenID Connect discovery; the document's
    /// `issuer` must be `issuer` exactly), fetched on first use.
    ///
    /// ```
    /// let validator = tower_bearer_issuer::id_jag::IdJagValidator::builder()
    ///     .audience("https://as.example.com")
    ///     .trusted_issuer_discovery("https://acme.idp.example")
    ///     .build();
    /// assert!(validator.is_ok());
    /// ```
    pub fn trusted_issuer_discovery(mut self, issuer: impl Into<String>) -> Self {
        self.issuers.push((issuer.into(), None));
        self
    }

    /// Which signature algorithms IdP keys may verify (default
    /// {RS256, PS256, ES256, EdDSA}; never `none` or HMAC).
    ///
    /// ```
    /// use tower_bearer::jwt::{Algorithm, KeyPolicy};
    /// let _ = tower_bearer_issuer::id_jag::IdJagValidator::builder().key_policy(KeyPolicy::default().allow(Algorithm::ES384));
    /// ```
    pub fn key_policy(mut self, policy: KeyPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Clock leeway for `exp`, `nbf` and `iat` (default 60 s, as for access
    /// tokens); replayed `jti`s are refused until `exp` plus this.
    ///
    /// ```
    /// let _ = tower_bearer_issuer::id_jag::IdJagValidator::builder().leeway(std::time::Duration::from_secs(30));
    /// ```
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The longest accepted lifetime `exp - iat` (default
    /// [`DEFAULT_MAX_LIFETIME`], 5 minutes: see there why); longer-lived
    /// grants are refused with [`IdJagError::LifetimeTooLong`].
    ///
    /// ```
    /// let _ = tower_bearer_issuer::id_jag::IdJagValidator::builder().max_lifetime(std::time::Duration::from_secs(600));
    /// ```
    pub fn max_lifetime(mut self, max_lifetime: Duration) -> Self {
        self.max_lifetime = max_lifetime;
        self
    }

    /// Where used `jti`s are remembered (default: a [`MemoryReplayCache`];
    /// several replicas share one store, e.g. `redis::RedisStore`).
    ///
    /// ```
    /// use tower_bearer::replay::MemoryReplayCache;
    /// let _ = tower_bearer_issuer::id_jag::IdJagValidator::builder().replay_cache(MemoryReplayCache::new().max_capacity(1 << 16));
    /// ```
    pub fn replay_cache(mut self, cache: impl ReplayCache + 'static) -> Self {
        self.replay = DynReplayCache::new_arc(cache);
        self
    }

    /// Timeout for connecting and for a whole key-set or discovery fetch
    /// (default 5 s).
    ///
    /// ```
    /// let _ = tower_bearer_issuer::id_jag::IdJagValidator::builder().fetch_timeout(std::time::Duration::from_secs(2));
    /// ```
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// Checks the configuration and builds the validator. No I/O happens here.
    ///
    /// See [`IdJagValidator`] for an example, [`BuildError`] for the refusals.
    pub fn build(self) -> Result<IdJagValidator, BuildError> {
        let audience = self
            .audience
            .filter(|a| !a.is_empty())
            .ok_or(BuildError::NoAudience)?;
        if self.issuers.is_empty() {
            return Err(BuildError::NoTrustedIssuer);
        }
        if self.max_lifetime.is_zero() {
            return Err(BuildError::ZeroMaxLifetime);
        }
        let client = fetch::client(self.fetch_timeout).map_err(|e| BuildError::HttpClient(e.to_string()))?;
        let mut issuers: Vec<TrustedIssuer> = Vec::with_capacity(self.issuers.len());
        for (name, jwks_uri) in self.issuers {
            if name.is_empty() {
                return Err(BuildError::NoTrustedIssuer);
            }
            if issuers.iter().any(|i| *i.issuer == *name) {
                return Err(BuildError::DuplicateIssuer(name));
            }
            let url_error = |e: fetch::FetchError| BuildError::Url {
                issuer: name.clone(),
                reason: e.to_string(),
            };
            let source = KeySource::new(&name, jwks_uri.as_deref()).map_err(url_error)?;
            let keys = KeyCache::new(
                source,
                client.clone(),
                self.policy.clone(),
                CacheSettings::default(),
            );
            issuers.push(TrustedIssuer {
                issuer: name.into(),
                keys: Arc::new(keys),
            });
        }
        Ok(IdJagValidator {
            inner: Arc::new(Inner {
                audience,
                issuers,
                policy: self.policy,
                leeway: self.leeway,
                max_lifetime: self.max_lifetime,
                replay: self.replay,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use std::time::UNIX_EPOCH;

    const NOW: u64 = 1_700_000_000;
    const IDP: &str = "https://idp.example";

    fn validator() -> IdJagValidator {
        IdJagValidator::builder()
            .audience("https://as.example")
            .trusted_issuer(IDP, "https://idp.example/jwks")
            .build()
            .unwrap()
    }

    fn good() -> Value {
        json!({
            "iss": IDP, "sub": "alice", "aud": "https://as.example", "client_id": "app",
            "jti": "j1", "iat": NOW, "exp": NOW + 300,
        })
    }

    /// The claims checks on a payload, at a fixed clock (no signature, no I/O).
    fn check(payload: &[u8]) -> Result<IdJag, IdJagError> {
        let now = UNIX_EPOCH + Duration::from_secs(NOW);
        validator().check_claims(&Arc::from(IDP), payload.to_vec(), "app", now)
    }

    fn with(name: &str, value: Value) -> Vec<u8> {
        let mut claims = good();
        claims[name] = value;
        serde_json::to_vec(&claims).unwrap()
    }

    #[test]
    fn the_strict_reader_refuses_repeated_members() {
        let good = good().to_string();
        let body = &good[1..good.len() - 1];
        assert!(check(good.as_bytes()).is_ok());
        for repeated in [
            format!(r#"{{{body},"sub":"mallory"}}"#),
            format!(r#"{{{body},"client_id":"app"}}"#),
            format!(r#"{{{body},"\u0061ud":"https://as.example"}}"#),
            format!(r#"{{{body},"resource":"https://a","resource":"https://b"}}"#),
            format!(r#"{{{body},"authorization_details":[{{"type":"a","type":"b"}}]}}"#),
        ] {
            assert_eq!(
                check(repeated.as_bytes()).unwrap_err(),
                IdJagError::Malformed,
                "{repeated}"
            );
        }
        for bad in [&b"[]"[..], b"", b"{", b"{} {}", b"{\"sub\":\"\xff\"}"] {
            assert_eq!(check(bad).unwrap_err(), IdJagError::Malformed);
        }
    }

    #[test]
    fn iss_is_checked_again_after_the_signature() {
        // The unverified iss chose the keys; the strict reader must agree.
        for iss in [
            json!("https://other.example"),
            json!(IDP.to_uppercase()),
            Value::Null,
        ] {
            let mut claims = good();
            claims["iss"] = iss;
            assert_eq!(
                check(&serde_json::to_vec(&claims).unwrap()).unwrap_err(),
                IdJagError::UntrustedIssuer
            );
        }
    }

    #[test]
    fn time_rules_at_their_edges() {
        let leeway = 60;
        let at = |iat: u64, exp: u64| {
            let mut claims = good();
            claims["iat"] = iat.into();
            claims["exp"] = exp.into();
            check(&serde_json::to_vec(&claims).unwrap()).map(|_| ())
        };
        assert_eq!(at(NOW - 200, NOW - leeway), Err(IdJagError::Expired));
        assert_eq!(at(NOW - 200, NOW - leeway + 1), Ok(()));
        assert_eq!(at(NOW + leeway, NOW + 300), Ok(()));
        assert_eq!(at(NOW + leeway + 1, NOW + 300), Err(IdJagError::NotYetValid));
        assert_eq!(at(NOW, NOW + 300), Ok(()));
        assert_eq!(at(NOW, NOW + 301), Err(IdJagError::LifetimeTooLong));
        assert_eq!(
            check(&with("exp", json!(1e300))).unwrap_err(),
            IdJagError::InvalidClaim
        );
        assert_eq!(
            check(&with("nbf", json!(NOW + 61))).unwrap_err(),
            IdJagError::NotYetValid
        );
        assert_eq!(
            check(&with("nbf", json!("soon"))).unwrap_err(),
            IdJagError::InvalidClaim
        );
    }

    #[test]
    fn the_jti_is_recorded_per_issuer() {
        let now = time::unix_seconds(SystemTime::now());
        let mut claims = good();
        claims["iat"] = now.into();
        claims["exp"] = (now + 300).into();
        let v = validator();
        let at = UNIX_EPOCH + Duration::from_secs(now);
        let payload = serde_json::to_vec(&claims).unwrap();
        let grant = v.check_claims(&Arc::from(IDP), payload, "app", at).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        assert_eq!(rt.block_on(v.first_use(&grant)), Ok(()));
        assert_eq!(rt.block_on(v.first_use(&grant)), Err(IdJagError::Replayed));
        // Keyed by the issuer and the jti.
        let replay = &v.inner.replay;
        let later = at + Duration::from_secs(3600);
        assert_eq!(
            replay.first_use_now(&ReplayKey::new("id-jag", IDP, "j1"), at, later),
            Some(Ok(false))
        );
        assert_eq!(
            replay.first_use_now(
                &ReplayKey::new("id-jag", "https://other.example", "j1"),
                at,
                later
            ),
            Some(Ok(true))
        );
    }

    #[test]
    fn every_shared_refusal_maps_to_its_own() {
        use InvalidToken as T;
        for (shared, own) in [
            (T::Malformed, IdJagError::Malformed),
            (T::Algorithm, IdJagError::Algorithm),
            (T::Issuer, IdJagError::UntrustedIssuer),
            (T::UnknownKey, IdJagError::UnknownKey),
            (T::Signature, IdJagError::Signature),
            (T::Expired, IdJagError::Expired),
            (T::NotYetValid, IdJagError::NotYetValid),
            (T::Claims, IdJagError::InvalidClaim),
            (T::Audience, IdJagError::Audience),
            (T::Type, IdJagError::Type),
            (T::Binding, IdJagError::UnsupportedBinding),
        ] {
            assert_eq!(refusal(shared), own);
        }
    }

    #[test]
    fn only_outages_are_unavailable() {
        let refusals = [
            IdJagError::TooLong,
            IdJagError::Malformed,
            IdJagError::Type,
            IdJagError::Algorithm,
            IdJagError::UntrustedIssuer,
            IdJagError::UnknownKey,
            IdJagError::Signature,
            IdJagError::Audience,
            IdJagError::Expired,
            IdJagError::NotYetValid,
            IdJagError::LifetimeTooLong,
            IdJagError::MissingClaim("sub"),
            IdJagError::InvalidClaim,
            IdJagError::ClientMismatch,
            IdJagError::UnsupportedBinding,
            IdJagError::Replayed,
            IdJagError::DpopProofRequired,
            IdJagError::DpopKeyMismatch,
        ];
        for error in refusals {
            assert_eq!(error.oauth_error(), "invalid_grant", "{error:?}");
            assert!(!error.is_unavailable());
        }
        let outage = IdJagError::Unavailable(Unavailable::new("down"));
        assert_eq!(outage.oauth_error(), "temporarily_unavailable");
        assert!(outage.is_unavailable());
    }
}
