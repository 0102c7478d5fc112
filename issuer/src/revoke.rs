//! Token revocation (RFC 7009) at `POST /revoke`, with client authentication.
//!
//! Revoking a refresh token revokes its whole family and the access tokens
//! issued with it; revoking an access token revokes the refresh family it came
//! from. Opaque access tokens are then inactive at once (introspection answers
//! `active: false`). A JWT access token cannot be recalled: resource servers
//! check it offline until its `exp`, so its lifetime
//! ([`DevIssuerBuilder::token_ttl`](crate::DevIssuerBuilder::token_ttl)) is
//! the bound on how long a revoked grant goes on working; only the
//! introspection path sees a revocation at once. Unknown and already revoked
//! tokens answer 200, as RFC 7009 §2.2 says.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::Shared;
use super::clients::authenticated_form;
use super::error::OAuthError;
use tower_bearer::__private::sha256;

/// The refresh family each access token was issued with, by SHA-256 of the
/// access token (never the token itself).
pub(super) struct Families(moka::sync::Cache<[u8; 32], u64>);

impl Families {
    pub(super) fn new(ttl: std::time::Duration) -> Self {
        Families(
            moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ttl)
                .build(),
        )
    }

    /// Records that `access_token` was issued with the family of `refresh_token`.
    pub(super) fn link(&self, s: &Shared, access_token: &str, refresh_token: &str) {
        if let Some((family, _)) = s.refresh.family_of(refresh_token) {
            self.0.insert(sha256(access_token.as_bytes()), family);
        }
    }
}

/// The introspection answer of an opaque token: its claims while active and
/// its family (if any) is not revoked; `None` otherwise.
pub(super) fn active(s: &Shared, token: &str) -> Option<Value> {
    let digest = sha256(token.as_bytes());
    let claims = s.opaque.get(&digest)?;
    let family_revoked = s
        .families
        .0
        .get(&digest)
        .and_then(|family| s.refresh.family_state(family))
        .is_some_and(|(_, revoked)| revoked);
    if family_revoked {
        s.opaque.invalidate(&digest);
        return None;
    }
    Some(claims)
}

/// `POST /revoke` (RFC 7009 §2.1): any authenticated client, for its own tokens.
pub(super) async fn revoke(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    match revoke_token(&s, &headers, &body).await {
        Ok(()) => (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")]).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn revoke_token(s: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<(), OAuthError> {
    let (params, client) = authenticated_form(&s.clients, headers, body).await?;
    let token = params
        .get("token")
        .ok_or_else(|| OAuthError::new("invalid_request", "token is required"))?;
    // `token_type_hint` only speeds up a search: both kinds are looked up.
    let digest = sha256(token.as_bytes());
    let family = s
        .refresh
        .family_of(token)
        .map(|(family, _)| family)
        .or_else(|| s.families.0.get(&digest));
    let owner = match family.and_then(|f| s.refresh.family_state(f)) {
        Some((owner, _)) => Some(owner),
        None => s
            .opaque
            .get(&digest)
            .and_then(|claims| claims["client_id"].as_str().map(str::to_owned)),
    };
    match owner {
        // RFC 7009 §2.1: a client revokes only its own tokens.
        Some(owner) if owner != client.id => Err(OAuthError::new(
            "invalid_request",
            "the token was issued to another client",
        )),
        Some(_) => {
            if let Some(family) = family {
                s.refresh.revoke(family);
            }
            s.opaque.invalidate(&digest);
            tracing::debug!(client_id = %client.id, "token revoked");
            Ok(())
        }
        // Unknown, expired or already gone: nothing to do, and 200 (§2.2).
        None => Ok(()),
    }
}
