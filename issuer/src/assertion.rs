//! `private_key_jwt` client authentication (RFC 7523 §2.2 and §3): a JWT
//! signed by the client's registered key, `iss` = `sub` = the client,
//! `aud` = this issuer or its token endpoint, unexpired, short-lived, and each
//! `jti` once.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use tower_bearer::__private::fetch::strict_object;
use tower_bearer::__private::{VerifyingKey, b64};
use tower_bearer::jwt::Algorithm;

/// RFC 7523 §2.2 `client_assertion_type`.
pub(super) const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The longest lifetime (`exp` − now) accepted.
const MAX_LIFETIME: Duration = Duration::from_secs(300);
/// The largest assertion read.
const MAX_ASSERTION: usize = 8 * 1024;

/// Checks client assertions; remembers the `jti`s seen until they expire.
pub(super) struct Assertions {
    audiences: [String; 2],
    seen: moka::sync::Cache<String, ()>,
}

impl Assertions {
    /// Assertions for the issuer `issuer` whose token endpoint is `token_endpoint`.
    pub(super) fn new(issuer: &str, token_endpoint: &str) -> Self {
        Assertions {
            audiences: [issuer.to_owned(), token_endpoint.to_owned()],
            seen: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(MAX_LIFETIME)
                .build(),
        }
    }

    /// Whether `assertion` authenticates `client_id`, whose key is `key`.
    pub(super) fn check(&self, key: &VerifyingKey, assertion: &str, client_id: &str) -> bool {
        let Some(claims) = verified_claims(key, assertion) else {
            return false;
        };
        let text = |name: &str| claims.get(name).and_then(Value::as_str);
        let audience_ok = match claims.get("aud") {
            Some(Value::String(aud)) => self.audiences.contains(aud),
            Some(Value::Array(auds)) => auds.iter().any(|a| {
                a.as_str()
                    .is_some_and(|a| self.audiences.iter().any(|ours| ours == a))
            }),
            _ => false,
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let fresh = claims
            .get("exp")
            .and_then(Value::as_u64)
            .is_some_and(|exp| exp > now && exp - now <= MAX_LIFETIME.as_secs());
        let Some(jti) = text("jti") else {
            return false;
        };
        if text("iss") != Some(client_id) || text("sub") != Some(client_id) || !audience_ok || !fresh {
            return false;
        }
        // Each assertion once (RFC 7523 §3 item 7).
        let key = format!("{client_id}\u{0}{jti}");
        let entry = self.seen.entry(key).or_insert(());
        entry.is_fresh()
    }
}

/// The claims of `assertion` if its signature verifies with `key` under the
/// algorithm its header names.
fn verified_claims(key: &VerifyingKey, assertion: &str) -> Option<Map<String, Value>> {
    if assertion.len() > MAX_ASSERTION {
        return None;
    }
    let mut parts = assertion.split('.');
    let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header = strict_object(&b64::decode(header.as_bytes())?).ok()?;
    let algorithm: Algorithm = header.get("alg")?.as_str()?.parse().ok()?;
    let signing_input = &assertion[..assertion.len() - signature.len() - 1];
    key.verify(
        algorithm,
        signing_input.as_bytes(),
        &b64::decode(signature.as_bytes())?,
    )
    .ok()?;
    strict_object(&b64::decode(payload.as_bytes())?).ok()
}
