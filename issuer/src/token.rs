//! The token endpoint (RFC 6749 §3.2) and its grants: authorization code with
//! PKCE, rotating refresh tokens, client credentials and the jwt-bearer grant
//! with an ID-JAG (RFC 7523, SEP-990); and RFC 7662 introspection of the
//! opaque tokens it issues. A token request with one valid `DPoP` proof gets
//! a token bound to the proof's key (RFC 9449 §5).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::authorize::Redeemed;
use super::clients::{
    AUTHORIZATION_CODE, CLIENT_CREDENTIALS, Client, GRANT_TYPES, JWT_BEARER, REFRESH_TOKEN,
};
use super::error::OAuthError;
use super::params::Params;
use super::refresh::Grant;
use super::{RefreshPolicy, Shared};
use tower_bearer::__private::{check_token_request, sha256};
use tower_bearer::Scopes;
use tower_bearer::dpop::DPOP;

/// RFC 8707 §2: each `resource` is an absolute URI without a fragment.
pub(super) fn check_resources(resources: &[String]) -> Result<Vec<String>, &'static str> {
    if !resources.iter().all(|r| crate::is_resource_identifier(r)) {
        return Err("resource must be an absolute URI without a fragment");
    }
    Ok(resources.to_vec())
}

/// The requested `resource`s, which must be among those `granted`; none
/// requested means all of them.
fn narrow_resources(params: &Params, granted: &[String]) -> Result<Vec<String>, OAuthError> {
    let requested = check_resources(params.resources()).map_err(|d| OAuthError::new("invalid_target", d))?;
    if requested.is_empty() {
        return Ok(granted.to_vec());
    }
    if let Some(other) = requested.iter().find(|r| !granted.contains(r)) {
        return Err(OAuthError::new(
            "invalid_target",
            format!("resource {other} was not authorized"),
        ));
    }
    Ok(requested)
}

/// The requested `scope`, which must be within `granted` (RFC 6749 §6); none
/// requested means all of it.
fn narrow_scope(params: &Params, granted: &str) -> Result<String, OAuthError> {
    let Some(requested) = params.get("scope") else {
        return Ok(granted.to_owned());
    };
    let granted = Scopes::parse(granted);
    if let Some(other) = Scopes::parse(requested).iter().find(|s| !granted.contains(s)) {
        return Err(OAuthError::new(
            "invalid_scope",
            format!("scope {other} was not granted"),
        ));
    }
    Ok(requested.to_owned())
}

/// What a grant yields: the access token's grant and, maybe, a refresh token
/// (and the access token, when the grant minted it: a refresh that may be
/// answered again).
struct Issued {
    grant: Grant,
    refresh_token: Option<String>,
    access_token: Option<String>,
}

pub(super) async fn token_endpoint(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match token(&s, &headers, &body).await {
        Ok(answer) => ([(header::CACHE_CONTROL, "no-store")], Json(answer)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn token(s: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<Value, OAuthError> {
    let params = Params::parse(body).map_err(|e| OAuthError::new("invalid_request", e.to_string()))?;
    let client = s
        .clients
        .authenticate(headers, &params)
        .await
        .ok_or_else(|| OAuthError::new("invalid_client", "client authentication failed"))?;
    let grant_type = params
        .get("grant_type")
        .ok_or_else(|| OAuthError::new("invalid_request", "grant_type is required"))?;
    let unsupported = || {
        OAuthError::new(
            "unsupported_grant_type",
            format!("supported: {}", GRANT_TYPES.join(", ")),
        )
    };
    if !GRANT_TYPES.contains(&grant_type) {
        return Err(unsupported());
    }
    if !client.may_use(grant_type) {
        return Err(OAuthError::new(
            "unauthorized_client",
            format!("the client did not register the {grant_type} grant"),
        ));
    }
    // RFC 9449 §5: a token request with one valid proof gets a token bound to its key.
    let mut proofs = headers.get_all(DPOP).iter();
    let jkt = match (proofs.next(), proofs.next()) {
        (None, _) => None,
        (Some(proof), None) => match check_token_request(&s.dpop, proof.as_bytes(), &s.token_url).await {
            Ok(jkt) => Some(jkt),
            Err(e) => return Err(OAuthError::new("invalid_dpop_proof", e.to_string())),
        },
        (Some(_), Some(_)) => return Err(OAuthError::new("invalid_dpop_proof", "more than one DPoP proof")),
    };
    let issued = match grant_type {
        AUTHORIZATION_CODE => authorization_code(s, &client, &params, jkt)?,
        REFRESH_TOKEN => refresh(s, &client, &params, jkt)?,
        CLIENT_CREDENTIALS => client_credentials(&client, &params, jkt)?,
        JWT_BEARER => jwt_bearer(s, &client, &params, jkt).await?,
        _ => return Err(unsupported()),
    };
    let grant = &issued.grant;
    let mut answer = json!({
        "access_token": issued.access_token.clone().unwrap_or_else(|| s.access_token(grant)),
        "token_type": if grant.jkt.is_some() { "DPoP" } else { "Bearer" },
        "expires_in": s.token_ttl.as_secs(),
        "scope": grant.scope,
    });
    if let Some(refresh_token) = issued.refresh_token {
        answer["refresh_token"] = refresh_token.into();
    }
    Ok(answer)
}

fn client_credentials(client: &Client, params: &Params, jkt: Option<String>) -> Result<Issued, OAuthError> {
    if !client.is_confidential() {
        return Err(OAuthError::new(
            "unauthorized_client",
            "client credentials need a confidential client",
        ));
    }
    // RFC 8707: the audience is the requested resource; this issuer requires one.
    let resources = check_resources(params.resources()).map_err(|d| OAuthError::new("invalid_target", d))?;
    if resources.is_empty() {
        return Err(OAuthError::new(
            "invalid_target",
            "resource (RFC 8707) is required",
        ));
    }
    Ok(Issued {
        grant: Grant {
            subject: client.id.clone(),
            client_id: client.id.clone(),
            scope: params.get("scope").unwrap_or_default().to_owned(),
            resources,
            jkt,
        },
        refresh_token: None,
        access_token: None,
    })
}

fn authorization_code(
    s: &Shared,
    client: &Client,
    params: &Params,
    jkt: Option<String>,
) -> Result<Issued, OAuthError> {
    let code = params
        .get("code")
        .ok_or_else(|| OAuthError::new("invalid_request", "code is required"))?;
    let authorized = match s.codes.redeem(code) {
        Redeemed::Fresh(authorized) => authorized,
        Redeemed::Reused(family) => {
            // RFC 6749 §4.1.2: revoke what the code gave when it comes back.
            if let Some(family) = family {
                s.refresh.revoke(family);
            }
            return Err(OAuthError::new(
                "invalid_grant",
                "authorization code already used: the tokens it gave are revoked",
            ));
        }
        Redeemed::Unknown => {
            return Err(OAuthError::new(
                "invalid_grant",
                "unknown or expired authorization code",
            ));
        }
    };
    if authorized.grant.client_id != client.id {
        return Err(OAuthError::new(
            "invalid_grant",
            "the code was issued to another client",
        ));
    }
    if params.get("redirect_uri") != Some(authorized.redirect_uri.as_str()) {
        return Err(OAuthError::new(
            "invalid_grant",
            "redirect_uri differs from the authorization request's",
        ));
    }
    if !params
        .get("code_verifier")
        .is_some_and(|v| authorized.verifier_matches(v))
    {
        return Err(OAuthError::new(
            "invalid_grant",
            "code_verifier does not match the code_challenge",
        ));
    }
    let grant = Grant {
        resources: narrow_resources(params, &authorized.grant.resources)?,
        jkt,
        ..authorized.grant.clone()
    };
    let refresh_token = match s.refresh_policy {
        RefreshPolicy::Always => true,
        RefreshPolicy::OfflineAccess => Scopes::parse(&grant.scope).contains(Scopes::OFFLINE_ACCESS),
    }
    .then(|| s.refresh.start(grant.clone()))
    .transpose()
    .map_err(|e| OAuthError::new("server_error", e.to_string()))?
    .map(|(family, token)| {
        s.codes.started(code, family);
        token
    });
    Ok(Issued {
        grant,
        refresh_token,
        access_token: None,
    })
}

fn refresh(s: &Shared, client: &Client, params: &Params, jkt: Option<String>) -> Result<Issued, OAuthError> {
    let token = params
        .get("refresh_token")
        .ok_or_else(|| OAuthError::new("invalid_request", "refresh_token is required"))?;
    // RFC 9449 §5: a DPoP-bound refresh token needs a proof of the same key. A
    // scope or resource beyond the grant is refused before the token is spent.
    let narrow = |granted: &Grant| {
        Ok(Grant {
            scope: narrow_scope(params, &granted.scope)?,
            resources: narrow_resources(params, &granted.resources)?,
            jkt: jkt.clone().or_else(|| granted.jkt.clone()),
            ..granted.clone()
        })
    };
    let rotated = s
        .refresh
        .rotate(token, &client.id, jkt.as_deref(), narrow, |grant| {
            s.access_token(grant)
        })
        .map_err(|e| OAuthError::new("invalid_grant", e.description()))??;
    Ok(Issued {
        grant: rotated.grant.clone(),
        refresh_token: Some(rotated.refresh_token.clone()),
        access_token: Some(rotated.access_token.clone()),
    })
}

/// RFC 7523 §2.1 with an ID-JAG (SEP-990): validated by [`crate::id_jag`]
/// against the enterprise IdPs this issuer trusts, for the authenticated
/// (confidential) client.
async fn jwt_bearer(
    s: &Shared,
    client: &Client,
    params: &Params,
    jkt: Option<String>,
) -> Result<Issued, OAuthError> {
    let Some(validator) = &s.id_jag else {
        return Err(OAuthError::new(
            "unsupported_grant_type",
            "no identity provider is trusted for ID-JAGs (DevIssuerBuilder::trust_id_jag_issuer)",
        ));
    };
    if !client.is_confidential() {
        return Err(OAuthError::new(
            "unauthorized_client",
            "the jwt-bearer grant needs a confidential client",
        ));
    }
    let assertion = params
        .get("assertion")
        .ok_or_else(|| OAuthError::new("invalid_request", "assertion is required"))?;
    let id_jag = validator
        .validate(assertion, &client.id)
        .await
        .map_err(|e| OAuthError::new(e.oauth_error(), e.to_string()))?;
    let granted = id_jag.resource().to_vec();
    let resources = if granted.is_empty() {
        check_resources(params.resources()).map_err(|d| OAuthError::new("invalid_target", d))?
    } else {
        narrow_resources(params, &granted)?
    };
    if resources.is_empty() {
        return Err(OAuthError::new(
            "invalid_target",
            "resource (RFC 8707) is required",
        ));
    }
    // SEP-990 §8.6: a grant bound to a DPoP key needs a proof of that key here.
    id_jag
        .check_dpop_proof(jkt.as_deref())
        .map_err(|e| OAuthError::new(e.oauth_error(), e.to_string()))?;
    Ok(Issued {
        grant: Grant {
            subject: id_jag.subject().to_owned(),
            client_id: client.id.clone(),
            scope: narrow_scope(params, &id_jag.scopes().to_string())?,
            resources,
            jkt,
        },
        refresh_token: None,
        access_token: None,
    })
}

/// `POST /introspect` (RFC 7662), for confidential clients.
pub(super) async fn introspect(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let params = match Params::parse(&body) {
        Ok(params) => params,
        Err(e) => return OAuthError::new("invalid_request", e.to_string()).into_response(),
    };
    match s.clients.authenticate(&headers, &params).await {
        Some(client) if client.is_confidential() => {}
        _ => return OAuthError::new("invalid_client", "client authentication failed").into_response(),
    }
    let Some(token) = params.get("token") else {
        return OAuthError::new("invalid_request", "token is required").into_response();
    };
    let body = s
        .opaque
        .get(&sha256(token.as_bytes()))
        .unwrap_or_else(|| json!({"active": false}));
    ([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}
