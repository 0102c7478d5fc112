//! Entry points for the fuzz targets in `fuzz/`: the crate's parsers of
//! outside input, reached without a network or a signature. Not an API (feature
//! `fuzzing`, hidden, no semver promise); each runs the code a request runs,
//! with fixed rules: issuer [`ISSUER`], audience [`AUDIENCE`], leeway 60 s, at
//! [`NOW`] seconds since the Unix epoch.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::jwt::claims::ClaimRules;
use crate::jwt::jws::Unverified;
use crate::jwt::key::KeySet;
use crate::jwt::{KeyPolicy, Profile};
use crate::mcp::McpScopePolicy;
use crate::{AccessToken, InvalidToken, Scopes, discovery, fetch, introspection, time};

/// The issuer every entry point checks against.
pub const ISSUER: &str = "https://as.example";
/// The audience every entry point checks against.
pub const AUDIENCE: &str = "https://rs.example/mcp";
/// The fixed clock, in seconds since the Unix epoch.
pub const NOW: u64 = 1_800_000_000;

fn claim_rules(profile: Profile) -> ClaimRules {
    ClaimRules {
        issuer: Arc::from(ISSUER),
        audiences: vec![AUDIENCE.to_owned()],
        allowed_clients: Vec::new(),
        profile,
        leeway: time::DEFAULT_LEEWAY,
    }
}

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW)
}

/// A JWT claims set, as the verifier reads a payload whose signature checked
/// out, under `profile`; `typ` is the header's.
///
/// ```
/// use tower_bearer::fuzzing::jwt_claims;
/// assert!(jwt_claims(b"{}", Some("at+jwt"), Default::default()).is_err());
/// ```
pub fn jwt_claims(payload: &[u8], typ: Option<&str>, profile: Profile) -> Result<AccessToken, InvalidToken> {
    claim_rules(profile)
        .check(typ, payload.to_vec(), now())
        .map(|checked| checked.token)
}

/// A compact JWT verified as [`JwtVerifier`](crate::jwt::JwtVerifier) verifies
/// it once its issuer's keys are loaded: pre-checks, the key by `kid`, the
/// signature, the claims (RFC 9068 profile, [`ISSUER`], [`AUDIENCE`], leeway
/// 60 s) at the real clock, so that another JWT library can be asked about the
/// same token at the same time.
///
/// ```
/// use tower_bearer::fuzzing::verify_jwt;
/// use tower_bearer::{InvalidToken, __private::KeySet, jwt::KeyPolicy};
/// assert_eq!(verify_jwt("a.b.c", &KeySet::default(), &KeyPolicy::default()).unwrap_err(), InvalidToken::Malformed);
/// ```
pub fn verify_jwt(token: &str, keys: &KeySet, policy: &KeyPolicy) -> Result<AccessToken, InvalidToken> {
    let unverified = Unverified::parse(token, policy)?;
    unverified.verify_signature(keys)?;
    claim_rules(Profile::rfc9068())
        .check(
            unverified.typ_name(),
            unverified.decode_payload()?,
            SystemTime::now(),
        )
        .map(|checked| checked.token)
}

/// An RFC 7662 introspection answer's body, read by the strict reader and
/// checked as the introspection verifier does (`None`: not a JSON object, or
/// duplicate members, which a request answers with 503).
///
/// ```
/// use tower_bearer::fuzzing::introspection_answer;
/// assert!(introspection_answer(br#"{"active":false}"#).unwrap().is_err());
/// assert!(introspection_answer(br#"{"active":true,"active":true}"#).is_none());
/// ```
pub fn introspection_answer(body: &[u8]) -> Option<Result<AccessToken, InvalidToken>> {
    let rules = introspection::client::Rules {
        issuer: Some(Arc::from(ISSUER)),
        audiences: vec![AUDIENCE.to_owned()],
        require_audience: true,
        leeway: time::DEFAULT_LEEWAY,
    };
    let answer = fetch::strict_object(body).ok()?;
    Some(introspection::client::check(answer, &rules, now()))
}

/// An authorization server metadata document (RFC 8414 / OIDC Discovery):
/// `Some((jwks_uri, introspection_endpoint))` when it is read and names
/// [`ISSUER`].
///
/// ```
/// use tower_bearer::fuzzing::discovery_document;
/// let doc = br#"{"issuer":"https://as.example","jwks_uri":"https://as.example/jwks"}"#;
/// assert_eq!(discovery_document(doc).unwrap().0.as_deref(), Some("https://as.example/jwks"));
/// assert!(discovery_document(br#"{"issuer":"https://as.example","issuer":"x"}"#).is_none());
/// ```
pub fn discovery_document(body: &[u8]) -> Option<(Option<String>, Option<String>)> {
    let metadata = fetch::strict_document::<discovery::ServerMetadata>(body).ok()?;
    (metadata.issuer == ISSUER).then_some((metadata.jwks_uri, metadata.introspection_endpoint))
}

/// The scopes an MCP JSON-RPC POST body needs under `policy` (`None`: the
/// body is answered with a JSON-RPC error).
///
/// ```
/// use tower_bearer::fuzzing::mcp_body_scopes;
/// use tower_bearer::mcp::McpScopePolicy;
/// let policy = McpScopePolicy::new().base(["mcp:read"])?.tool("rm", ["mcp:write"])?;
/// let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"rm"}}"#;
/// assert!(mcp_body_scopes(&policy, body).unwrap().contains("mcp:write"));
/// assert!(mcp_body_scopes(&policy, b"[]").is_none());
/// # Ok::<(), tower_bearer::scope::ScopeError>(())
/// ```
pub fn mcp_body_scopes(policy: &McpScopePolicy, body: &[u8]) -> Option<Scopes> {
    policy.required_for_body(body).ok()
}
