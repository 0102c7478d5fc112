//! The token-exchange grant (RFC 8693) with a policy: which clients may
//! exchange tokens for which audiences. The subject token must be one of this
//! issuer's access tokens, unexpired and not revoked; the scope asked for is
//! never wider than the subject token's; the issued token has `aud` = the
//! target and `act.sub` = the exchanging client (earlier actors nested), and
//! is DPoP-bound when the request carries a proof.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::Shared;
use super::clients::Client;
use super::error::OAuthError;
use super::params::Params;
use super::token::{check_resources, narrow_scope};
use tower_bearer::exchange::ACCESS_TOKEN_TYPE;

/// RFC 8693 §3: a JWT (the issued access tokens are JWTs unless opaque).
const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";

/// Which clients may exchange tokens for which targets (audiences or resources).
#[derive(Debug, Clone, Default)]
pub(super) struct Policy {
    allowed: HashMap<String, Vec<String>>,
}

impl Policy {
    pub(super) fn allow(&mut self, client_id: String, target: String) {
        self.allowed.entry(client_id).or_default().push(target);
    }

    pub(super) fn is_empty(&self) -> bool {
        self.allowed.is_empty()
    }

    fn allows(&self, client_id: &str, target: &str) -> bool {
        self.allowed
            .get(client_id)
            .is_some_and(|targets| targets.iter().any(|t| t == target))
    }
}

/// The claims of `token` if it is one of this issuer's access tokens, still
/// valid (expiry, revocation) at `now`.
fn own_token(s: &Shared, token: &str) -> Option<Value> {
    let claims = if token.contains('.') {
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(s.jwks()["keys"][0].clone()).ok()?;
        let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).ok()?;
        let algorithm: jsonwebtoken::Algorithm = s.key.alg.name().parse().ok()?;
        let mut validation = jsonwebtoken::Validation::new(algorithm);
        validation.leeway = 0;
        validation.validate_aud = false;
        validation.set_issuer(&[&s.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        jsonwebtoken::decode::<Value>(token, &key, &validation)
            .ok()?
            .claims
    } else {
        super::revoke::active(s, token)?
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    claims["exp"].as_u64().filter(|exp| *exp > now)?;
    Some(claims)
}

fn text<'a>(claims: &'a Value, name: &str) -> &'a str {
    claims[name].as_str().unwrap_or_default()
}

/// RFC 8693 §2.1 for the authenticated `client`; the token response (§2.2.1).
pub(super) fn token_exchange(
    s: &Shared,
    client: &Client,
    params: &Params,
    jkt: Option<String>,
) -> Result<Value, OAuthError> {
    if !client.is_confidential() {
        return Err(OAuthError::new(
            "unauthorized_client",
            "token exchange needs a confidential client",
        ));
    }
    let subject_token = params
        .get("subject_token")
        .ok_or_else(|| OAuthError::new("invalid_request", "subject_token is required"))?;
    if params.get("subject_token_type") != Some(ACCESS_TOKEN_TYPE) {
        return Err(OAuthError::new(
            "invalid_request",
            format!("subject_token_type must be {ACCESS_TOKEN_TYPE}"),
        ));
    }
    let issued_token_type = match params.get("requested_token_type") {
        None | Some(ACCESS_TOKEN_TYPE) => ACCESS_TOKEN_TYPE,
        Some(JWT_TOKEN_TYPE) if !s.issue_opaque => JWT_TOKEN_TYPE,
        Some(_) => {
            return Err(OAuthError::new(
                "invalid_request",
                "requested_token_type: only access tokens are issued",
            ));
        }
    };
    // RFC 8693 §2.1: `resource` (RFC 8707) and `audience` both name targets.
    let mut targets =
        check_resources(params.resources()).map_err(|d| OAuthError::new("invalid_target", d))?;
    targets.extend(params.get("audience").map(str::to_owned));
    if targets.is_empty() {
        return Err(OAuthError::new(
            "invalid_target",
            "audience or resource is required",
        ));
    }
    if let Some(other) = targets.iter().find(|t| !s.exchange.allows(&client.id, t)) {
        return Err(OAuthError::new(
            "invalid_target",
            format!("client {} may not exchange tokens for {other}", client.id),
        ));
    }
    let subject = own_token(s, subject_token).ok_or_else(|| {
        OAuthError::new(
            "invalid_grant",
            "subject_token is not an active access token of this issuer",
        )
    })?;
    // RFC 8693 §4.4: a subject token that names who may act allows only them.
    if let Some(may_act) = subject.get("may_act")
        && may_act["sub"].as_str() != Some(client.id.as_str())
    {
        return Err(OAuthError::new(
            "invalid_grant",
            "the subject token's may_act does not name this client",
        ));
    }
    let actor = match params.get("actor_token") {
        None => client.id.clone(),
        Some(actor_token) => {
            if params.get("actor_token_type").is_none() {
                return Err(OAuthError::new("invalid_request", "actor_token_type is required"));
            }
            let actor = own_token(s, actor_token).ok_or_else(|| {
                OAuthError::new(
                    "invalid_grant",
                    "actor_token is not an active access token of this issuer",
                )
            })?;
            text(&actor, "sub").to_owned()
        }
    };
    let scope = narrow_scope(params, text(&subject, "scope"))?;
    let audience = match targets.as_slice() {
        [one] => Value::from(one.as_str()),
        many => json!(many),
    };
    let mut claims = s.claims(text(&subject, "sub"), &client.id, &scope, audience);
    let mut act = json!({ "sub": actor });
    if let Some(prior) = subject.get("act") {
        act["act"] = prior.clone();
    }
    claims["act"] = act;
    let access_token = if s.issue_opaque {
        s.opaque_bound_token(claims, jkt.as_deref())
    } else {
        if let Some(jkt) = &jkt {
            claims["cnf"] = json!({ "jkt": jkt });
        }
        s.sign_claims(&claims)
    };
    tracing::debug!(client_id = %client.id, "token exchanged");
    Ok(json!({
        "access_token": access_token,
        "issued_token_type": issued_token_type,
        "token_type": if jkt.is_some() { "DPoP" } else { "Bearer" },
        "expires_in": s.token_ttl.as_secs(),
        "scope": scope,
    }))
}
