//! The authorization endpoint (RFC 6749 §4.1 as OAuth 2.1 profiles it): PKCE
//! with `S256` only (RFC 7636), the redirect URI the client registered, RFC
//! 8707 `resource`s, RFC 9207 `iss` in the response; the development user
//! approves at once, or on a minimal consent page. Codes are single use and
//! live a minute.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::Shared;
use super::clients::AUTHORIZATION_CODE;
use super::keys::random_string;
use super::params::Params;
use super::refresh::Grant;
use tower_bearer::__private::{b64, sha256};

/// How long an authorization code can be redeemed.
const CODE_TTL: Duration = Duration::from_secs(60);
/// How long a redeemed code is remembered, so that its reuse revokes what it gave.
const SPENT_CODE_MEMORY: Duration = Duration::from_secs(600);

/// An authorization the token endpoint can redeem once.
#[derive(Debug)]
pub(super) struct CodeGrant {
    pub(super) redirect_uri: String,
    challenge: String,
    pub(super) grant: Grant,
}

impl CodeGrant {
    /// RFC 7636 §4.6: `BASE64URL(SHA256(verifier)) == challenge`, for a
    /// verifier of 43 to 128 unreserved characters.
    pub(super) fn verifier_matches(&self, verifier: &str) -> bool {
        is_pkce_value(verifier, 43, 128) && b64::encode(sha256(verifier.as_bytes())) == self.challenge
    }
}

/// RFC 7636 §4.1: `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"`, `min..=max` long.
fn is_pkce_value(value: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// What redeeming a code found.
pub(super) enum Redeemed {
    Fresh(Arc<CodeGrant>),
    /// Redeemed before: the refresh family it started, if any, to revoke.
    Reused(Option<u64>),
    Unknown,
}

/// Live and recently spent authorization codes, by SHA-256 of the code.
pub(super) struct Codes {
    live: moka::sync::Cache<[u8; 32], Arc<CodeGrant>>,
    spent: moka::sync::Cache<[u8; 32], Option<u64>>,
}

impl Codes {
    pub(super) fn new() -> Self {
        Codes {
            live: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(CODE_TTL)
                .build(),
            spent: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(SPENT_CODE_MEMORY)
                .build(),
        }
    }

    fn issue(&self, grant: CodeGrant) -> std::io::Result<String> {
        let code = random_string(32)?;
        self.live.insert(sha256(code.as_bytes()), Arc::new(grant));
        Ok(code)
    }

    /// Takes the code out (one redemption wins); a second redemption finds it spent.
    pub(super) fn redeem(&self, code: &str) -> Redeemed {
        let key = sha256(code.as_bytes());
        match self.live.remove(&key) {
            Some(grant) => {
                self.spent.insert(key, None);
                Redeemed::Fresh(grant)
            }
            None => match self.spent.get(&key) {
                Some(family) => Redeemed::Reused(family),
                None => Redeemed::Unknown,
            },
        }
    }

    /// Records the refresh family a redeemed code started.
    pub(super) fn started(&self, code: &str, family: u64) {
        self.spent.insert(sha256(code.as_bytes()), Some(family));
    }
}

/// A refusal shown to the user: the client or its redirect URI could not be
/// trusted, so nothing is sent back to it (RFC 6749 §4.1.2.1).
fn error_page(description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [(header::CACHE_CONTROL, "no-store")],
        Html(format!(
            "<!doctype html><title>Authorization error</title><h1>Authorization error</h1><p>{}</p>",
            escape(description)
        )),
    )
        .into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A redirect back to the client with `pairs`, its `state` and our `iss`.
fn redirect(redirect_uri: &str, state: Option<&str>, issuer: &str, pairs: &[(&str, &str)]) -> Response {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        return error_page("invalid redirect_uri");
    };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in pairs {
            query.append_pair(name, value);
        }
        if let Some(state) = state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", issuer);
    }
    (
        StatusCode::FOUND,
        [
            (header::LOCATION, url.as_str()),
            (header::CACHE_CONTROL, "no-store"),
        ],
    )
        .into_response()
}

/// `GET /authorize`: the request in the query.
pub(super) async fn authorize_get(State(s): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    authorize(&s, query.unwrap_or_default().as_bytes(), false).await
}

/// `POST /authorize`: the request in the form (RFC 6749 §3.1), or the consent
/// page's answer with its `decision`.
pub(super) async fn authorize_post(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    authorize(&s, &body, true).await
}

async fn authorize(s: &Shared, encoded: &[u8], posted: bool) -> Response {
    let params = match Params::parse(encoded) {
        Ok(params) => params,
        Err(e) => return error_page(&e.to_string()),
    };
    let Some(client_id) = params.get("client_id") else {
        return error_page("client_id is required");
    };
    let client = match s.clients.lookup(client_id).await {
        Ok(client) => client,
        Err(e) => return error_page(&e.to_string()),
    };
    let Some(redirect_uri) = params.get("redirect_uri") else {
        return error_page("redirect_uri is required");
    };
    if !client.allows_redirect(redirect_uri) {
        return error_page("redirect_uri is not one the client registered");
    }
    // From here on the client and its redirect URI are trusted with the answer.
    let state = params.get("state");
    let refuse = |error: &str, description: &str| {
        redirect(
            redirect_uri,
            state,
            &s.issuer,
            &[("error", error), ("error_description", description)],
        )
    };
    if params.get("response_type") != Some("code") {
        return refuse(
            "unsupported_response_type",
            "only response_type=code is supported",
        );
    }
    if !client.may_use(AUTHORIZATION_CODE) {
        return refuse(
            "unauthorized_client",
            "the client did not register the authorization code grant",
        );
    }
    let Some(challenge) = params.get("code_challenge") else {
        return refuse(
            "invalid_request",
            "PKCE is required: code_challenge with code_challenge_method=S256",
        );
    };
    // RFC 7636 §4.3: no method means `plain`, which is refused like any other.
    if params.get("code_challenge_method") != Some("S256") {
        return refuse("invalid_request", "code_challenge_method must be S256");
    }
    if !is_pkce_value(challenge, 43, 43) {
        return refuse(
            "invalid_request",
            "code_challenge must be a base64url SHA-256 (43 characters)",
        );
    }
    let resources = match super::token::check_resources(params.resources()) {
        Ok(resources) if !resources.is_empty() => resources,
        Ok(_) => {
            return refuse(
                "invalid_target",
                "resource (RFC 8707) is required: the MCP server's URL",
            );
        }
        Err(description) => return refuse("invalid_target", description),
    };
    if s.consent && posted {
        if params.get("decision") != Some("approve") {
            return refuse("access_denied", "the user denied the request");
        }
    } else if s.consent {
        return consent_page(s, &params, &client.id);
    }
    let grant = CodeGrant {
        redirect_uri: redirect_uri.to_owned(),
        challenge: challenge.to_owned(),
        grant: Grant {
            subject: s.user.clone(),
            client_id: client.id.clone(),
            scope: params.get("scope").unwrap_or_default().to_owned(),
            resources,
            jkt: None,
        },
    };
    match s.codes.issue(grant) {
        Ok(code) => redirect(redirect_uri, state, &s.issuer, &[("code", &code)]),
        Err(_) => refuse("server_error", "no system randomness"),
    }
}

/// A page that posts the request back with the user's decision.
fn consent_page(s: &Shared, params: &Params, client_id: &str) -> Response {
    let hidden: String = params
        .pairs()
        .filter(|(name, _)| *name != "decision")
        .map(|(name, value)| {
            format!(
                "<input type=hidden name=\"{}\" value=\"{}\">",
                escape(name),
                escape(value)
            )
        })
        .collect();
    let scope = params.get("scope").unwrap_or("(none)");
    Html(format!(
        "<!doctype html><title>Authorize {client}</title>\
         <h1>Authorize {client}?</h1>\
         <p>As <b>{user}</b>, for scopes <code>{scope}</code> at <code>{resources}</code>.</p>\
         <form method=post action=\"{issuer}/authorize\">{hidden}\
         <button name=decision value=approve>Approve</button> \
         <button name=decision value=deny>Deny</button></form>",
        client = escape(client_id),
        user = escape(&s.user),
        scope = escape(scope),
        resources = escape(&params.resources().join(" ")),
        issuer = escape(&s.issuer),
    ))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256() {
        // RFC 7636 Appendix B.
        let grant = CodeGrant {
            redirect_uri: String::new(),
            challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
            grant: Grant::default(),
        };
        assert!(grant.verifier_matches("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
        assert!(!grant.verifier_matches("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj"));
        assert!(
            !grant.verifier_matches("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
            "plain"
        );
        assert!(!grant.verifier_matches("short"));
    }

    #[test]
    fn codes_are_single_use_and_remember_what_they_started() {
        let codes = Codes::new();
        let grant = |uri: &str| CodeGrant {
            redirect_uri: uri.into(),
            challenge: String::new(),
            grant: Grant::default(),
        };
        let code = codes.issue(grant("a")).unwrap();
        assert!(matches!(codes.redeem(&code), Redeemed::Fresh(g) if g.redirect_uri == "a"));
        assert!(matches!(codes.redeem(&code), Redeemed::Reused(None)));
        codes.started(&code, 7);
        assert!(matches!(codes.redeem(&code), Redeemed::Reused(Some(7))));
        assert!(matches!(codes.redeem("other"), Redeemed::Unknown));
    }

    #[test]
    fn pages_escape() {
        assert_eq!(
            escape("<a href=\"x\">'&"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;"
        );
    }
}
