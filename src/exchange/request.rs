//! One token-exchange request (RFC 8693 §2.1) and the reading of its answer
//! (§2.2): the form, the client's authentication, the DPoP proof, and the
//! mapping of every outcome to a token, a refusal or an outage.

use std::fmt;
use std::time::{Duration, SystemTime};

use reqwest::header::{ACCEPT, HeaderValue};
use serde_json::{Map, Value};

use super::{ClientKey, Downstream, ExchangeError, ExchangeRefusal, ExchangedToken, TokenType};
use crate::fetch::{self, FetchError};
use crate::{Scopes, Unavailable};

/// RFC 8693 §2.1 `grant_type`.
pub const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// RFC 8693 §3: the type of an OAuth 2.0 access token.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// RFC 7523 §2.2 `client_assertion_type`.
const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The largest token-endpoint answer read.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// How the resource server authenticates to the token endpoint (RFC 6749
/// §2.3, RFC 7523 §2.2). `Debug` never shows a secret.
pub(crate) enum ClientAuth {
    SecretBasic {
        id: String,
        secret: String,
    },
    SecretPost {
        id: String,
        secret: String,
    },
    PrivateKeyJwt {
        id: String,
        key: std::sync::Arc<ClientKey>,
    },
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (method, id) = match self {
            ClientAuth::SecretBasic { id, .. } => ("client_secret_basic", id),
            ClientAuth::SecretPost { id, .. } => ("client_secret_post", id),
            ClientAuth::PrivateKeyJwt { id, .. } => ("private_key_jwt", id),
        };
        f.debug_struct("ClientAuth")
            .field("method", &method)
            .field("client_id", id)
            .finish_non_exhaustive()
    }
}

/// An optional `actor_token` (RFC 8693 §2.1) sent with every exchange: the
/// server's own credential. `Debug` never shows it.
#[derive(Clone)]
pub(crate) struct ActorToken {
    pub(crate) token: String,
    pub(crate) token_type: String,
}

/// What one request needs, borrowed from the exchange's configuration.
pub(crate) struct Call<'a> {
    pub(crate) http: &'a reqwest::Client,
    pub(crate) endpoint: &'a reqwest::Url,
    pub(crate) auth: &'a ClientAuth,
    pub(crate) dpop_key: Option<&'a ClientKey>,
    pub(crate) actor: Option<&'a ActorToken>,
}

fn unavailable(reason: impl Into<String>) -> ExchangeError {
    ExchangeError::Unavailable(Unavailable::new(reason.into()))
}

impl Call<'_> {
    /// Exchanges `subject` for a token for `downstream`.
    pub(crate) async fn exchange(
        &self,
        subject: &str,
        downstream: &Downstream,
    ) -> Result<ExchangedToken, ExchangeError> {
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", TOKEN_EXCHANGE_GRANT),
            ("subject_token", subject),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
            ("requested_token_type", &downstream.requested_token_type),
        ];
        for audience in &downstream.audiences {
            form.push(("audience", audience));
        }
        for resource in &downstream.resources {
            form.push(("resource", resource));
        }
        let scope = downstream.scopes.to_string();
        if !scope.is_empty() {
            form.push(("scope", &scope));
        }
        if let Some(actor) = self.actor {
            form.push(("actor_token", &actor.token));
            form.push(("actor_token_type", &actor.token_type));
        }
        // RFC 9449 §8: an authorization server that wants a nonce in the
        // proof answers `use_dpop_nonce` with one; asked again once with it.
        let mut nonce: Option<String> = None;
        let (status, body) = loop {
            let (status, headers, body) = self.send(form.clone(), nonce.as_deref()).await?;
            let asks_nonce = status.as_u16() == 400
                && self.dpop_key.is_some()
                && nonce.is_none()
                && error_code(&body).as_deref() == Some("use_dpop_nonce");
            match headers.get(crate::dpop::DPOP_NONCE).and_then(|v| v.to_str().ok()) {
                Some(fresh) if asks_nonce => nonce = Some(fresh.to_owned()),
                _ => break (status, body),
            }
        };
        if status.is_success() {
            return read_token(&body, subject, self.dpop_key.is_some());
        }
        // RFC 6749 §5.2: 400 (401 for invalid_client) with a JSON error code.
        let code = error_code(&body);
        match code.as_deref().and_then(ExchangeRefusal::from_code) {
            Some(refusal) if status.as_u16() == 400 => Err(ExchangeError::Refused(refusal)),
            _ => Err(unavailable(format!(
                "token endpoint answered {status} {}",
                code.as_deref().unwrap_or("without an error code")
            ))),
        }
    }
}

impl Call<'_> {
    /// One token request: `form` with the client's authentication (a fresh
    /// assertion each time: its `jti` is single-use) and, with a DPoP key, a
    /// fresh proof carrying `nonce` when the server gave one.
    async fn send(
        &self,
        mut form: Vec<(&str, &str)>,
        nonce: Option<&str>,
    ) -> Result<(reqwest::StatusCode, reqwest::header::HeaderMap, bytes::Bytes), ExchangeError> {
        let assertion;
        let mut request = self
            .http
            .post(self.endpoint.clone())
            .header(ACCEPT, "application/json");
        match self.auth {
            ClientAuth::SecretBasic { id, secret } => {
                // RFC 6749 §2.3.1: each form-urlencoded before Basic.
                request = request.basic_auth(form_encode(id), Some(form_encode(secret)));
            }
            ClientAuth::SecretPost { id, secret } => {
                form.push(("client_id", id));
                form.push(("client_secret", secret));
            }
            ClientAuth::PrivateKeyJwt { id, key } => {
                assertion = key
                    .client_assertion(id, self.endpoint.as_str())
                    .ok_or_else(|| unavailable("could not sign the client assertion"))?;
                form.push(("client_id", id));
                form.push(("client_assertion_type", JWT_BEARER_ASSERTION));
                form.push(("client_assertion", &assertion));
            }
        }
        if let Some(key) = self.dpop_key {
            let htu = super::outbound::htu(self.endpoint);
            let proof = key
                .dpop_proof("POST", &htu, None, nonce)
                .ok_or_else(|| unavailable("could not sign the DPoP proof"))?;
            let proof =
                HeaderValue::try_from(proof).map_err(|_| unavailable("DPoP proof is not a header value"))?;
            request = request.header(crate::dpop::DPOP, proof);
        }
        fetch::send_any_status(request.form(&form), MAX_ANSWER_BYTES)
            .await
            .map_err(|e| outage("token endpoint", &e))
    }
}

/// The `error` code of an OAuth error answer (RFC 6749 §5.2), if any.
fn error_code(body: &[u8]) -> Option<String> {
    fetch::strict_object(body)
        .ok()
        .and_then(|answer| answer.get("error").and_then(Value::as_str).map(str::to_owned))
}

fn outage(endpoint: &str, e: &FetchError) -> ExchangeError {
    unavailable(format!("{endpoint}: {e}"))
}

fn form_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// RFC 8693 §2.2.1: `access_token`, `issued_token_type`, `token_type`
/// required; `expires_in`, `scope` optional. A token that is the subject
/// token itself, or a `DPoP` token without a key to prove it, is unusable.
fn read_token(body: &[u8], subject: &str, have_key: bool) -> Result<ExchangedToken, ExchangeError> {
    let answer = fetch::strict_object(body).map_err(|e| outage("token endpoint", &e))?;
    let text = |name: &str| -> Result<&str, ExchangeError> {
        answer
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| unavailable(format!("token endpoint answer lacks {name}")))
    };
    let token = text("access_token")?;
    let issued_token_type = text("issued_token_type")?;
    let token_type = match text("token_type")? {
        t if t.eq_ignore_ascii_case("bearer") => TokenType::Bearer,
        t if t.eq_ignore_ascii_case("dpop") && have_key => TokenType::Dpop,
        other => {
            return Err(unavailable(format!(
                "token endpoint issued an unusable token_type {other:?}"
            )));
        }
    };
    if token == subject {
        return Err(unavailable("token endpoint gave back the subject token"));
    }
    if HeaderValue::from_str(token).is_err() {
        return Err(unavailable(
            "token endpoint issued a token that is not a header value",
        ));
    }
    Ok(ExchangedToken::new(
        token,
        token_type,
        expires_at(&answer)?,
        answer.get("scope").and_then(Value::as_str).map(Scopes::parse),
        issued_token_type,
    ))
}

fn expires_at(answer: &Map<String, Value>) -> Result<Option<SystemTime>, ExchangeError> {
    match answer.get("expires_in") {
        None => Ok(None),
        Some(value) => value
            .as_u64()
            .map(|secs| SystemTime::now().checked_add(Duration::from_secs(secs)))
            .ok_or_else(|| unavailable("token endpoint answer has a bad expires_in")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_strictly() {
        let ok = br#"{"access_token":"new","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"Bearer","expires_in":60,"scope":"b a"}"#;
        let token = read_token(ok, "old", false).unwrap();
        assert_eq!(token.token_type(), TokenType::Bearer);
        assert_eq!(token.scopes().map(ToString::to_string).as_deref(), Some("a b"));
        assert!(token.expires_at().is_some());
        for (bad, why) in [
            (&br#"{"access_token":"old","issued_token_type":"x","token_type":"Bearer"}"#[..], "the subject back"),
            (br#"{"access_token":"new","token_type":"Bearer"}"#, "no issued_token_type"),
            (br#"{"access_token":"new","issued_token_type":"x","token_type":"N_A"}"#, "not an access token"),
            (br#"{"access_token":"new","issued_token_type":"x","token_type":"DPoP"}"#, "DPoP without a key"),
            (br#"{"access_token":"new","issued_token_type":"x","token_type":"Bearer","expires_in":"60"}"#, "string expires_in"),
            (br#"{"access_token":"a\nb","issued_token_type":"x","token_type":"Bearer"}"#, "not a header value"),
            (br#"{"access_token":"new","access_token":"new2","issued_token_type":"x","token_type":"Bearer"}"#, "duplicate member"),
            (b"not json", "not JSON"),
        ] {
            let e = read_token(bad, "old", false).unwrap_err();
            assert!(matches!(e, ExchangeError::Unavailable(_)), "{why}: {e:?}");
        }
        let dpop = br#"{"access_token":"new","issued_token_type":"x","token_type":"DPoP"}"#;
        assert_eq!(
            read_token(dpop, "old", true).unwrap().token_type(),
            TokenType::Dpop
        );
    }
}
