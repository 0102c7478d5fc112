//! Test support for the JWT path: a JWKS server with fault injection and
//! byte-level token minting with aws-lc-rs key pairs.
//!
//! The server listens on `127.0.0.1:0` and serves, under one origin:
//! `/jwks` (the key set, whatever [`Behaviour`] says), and
//! `/.well-known/oauth-authorization-server` / `/.well-known/openid-configuration`
//! (RFC 8414 / OIDC discovery documents pointing at `/jwks`). It counts key-set
//! fetches and every request it receives, so tests can assert that a URL was never
//! contacted.
#![allow(dead_code)] // each test binary uses a different part of this module

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaEncoding};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

/// base64url without padding, as JOSE wants it.
pub fn b64u(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A fresh random identifier (hex), for `jti` and random `kid`s.
pub fn random_id() -> String {
    let mut bytes = [0u8; 12];
    SystemRandom::new().fill(&mut bytes).expect("system rng");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The audience every test verifier is configured with.
pub const AUDIENCE: &str = "http://127.0.0.1:7000/mcp";

/// A realistic RFC 9068 claim set issued by `iss` for [`AUDIENCE`], valid for 5 min.
pub fn access_token_claims(iss: &str) -> Value {
    let now = now();
    json!({
        "iss": iss,
        "sub": "user-42",
        "aud": AUDIENCE,
        "exp": now + 300,
        "iat": now,
        "jti": random_id(),
        "client_id": "client-7",
        "scope": "mcp:read mcp:write",
    })
}

/// `header.payload.signature` from raw (already serialized) header and payload
/// bytes and a raw signature.
pub fn compact(header: &[u8], payload: &[u8], signature: &[u8]) -> String {
    format!("{}.{}.{}", b64u(header), b64u(payload), b64u(signature))
}

enum Signer {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A signing key with a `kid`, able to sign any bytes so attacks can be crafted
/// byte by byte.
pub struct TestKey {
    kid: String,
    alg: Algorithm,
    signer: Arc<Signer>,
}

impl Clone for TestKey {
    fn clone(&self) -> Self {
        TestKey {
            kid: self.kid.clone(),
            alg: self.alg,
            signer: self.signer.clone(),
        }
    }
}

fn rsa_pair(slot: usize) -> Arc<Signer> {
    // RSA key generation is slow in debug builds: a few shared key pairs.
    static RSA: [OnceLock<Arc<Signer>>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    RSA[slot % RSA.len()]
        .get_or_init(|| {
            Arc::new(Signer::Rsa(
                RsaKeyPair::generate(KeySize::Rsa2048).expect("rsa keygen"),
            ))
        })
        .clone()
}

impl TestKey {
    /// A fresh key pair for `alg` (RSA pairs come from a small shared pool:
    /// use [`TestKey::rsa_slot`] to get a different RSA key).
    pub fn generate(alg: Algorithm, kid: &str) -> TestKey {
        let signer = match alg {
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => rsa_pair(0),
            Algorithm::ES256 => Arc::new(Signer::Ec(
                EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).expect("p256 keygen"),
            )),
            Algorithm::ES384 => Arc::new(Signer::Ec(
                EcdsaKeyPair::generate(&signature::ECDSA_P384_SHA384_FIXED_SIGNING).expect("p384 keygen"),
            )),
            Algorithm::EdDSA => Arc::new(Signer::Ed(Ed25519KeyPair::generate().expect("ed25519 keygen"))),
            other => panic!("no asymmetric key for {other:?}"),
        };
        TestKey {
            kid: kid.to_owned(),
            alg,
            signer,
        }
    }

    /// An RSA key for `alg` taken from pool slot `slot` (0, 1 or 2): different slots
    /// are different key pairs.
    pub fn rsa_slot(alg: Algorithm, kid: &str, slot: usize) -> TestKey {
        TestKey {
            kid: kid.to_owned(),
            alg,
            signer: rsa_pair(slot),
        }
    }

    /// The same key pair under another `kid` and/or algorithm of the same family.
    pub fn with(&self, alg: Algorithm, kid: &str) -> TestKey {
        TestKey {
            kid: kid.to_owned(),
            alg,
            signer: self.signer.clone(),
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The public JWK: `kty`, key material, `kid`, `alg`, `use: sig`.
    pub fn jwk(&self) -> Value {
        let mut jwk = self.bare_jwk();
        jwk["kid"] = json!(self.kid);
        jwk["alg"] = json!(alg_name(self.alg));
        jwk["use"] = json!("sig");
        jwk
    }

    /// Only the key material (`kty`, `n`/`e`, `crv`/`x`/`y`).
    pub fn bare_jwk(&self) -> Value {
        match &*self.signer {
            Signer::Rsa(kp) => {
                let c = PublicKeyComponents::<Vec<u8>>::from(kp.public_key());
                json!({ "kty": "RSA", "n": b64u(&c.n), "e": b64u(&c.e) })
            }
            Signer::Ec(kp) => {
                let point = kp.public_key().as_ref();
                let n = (point.len() - 1) / 2;
                let crv = if n == 32 { "P-256" } else { "P-384" };
                json!({ "kty": "EC", "crv": crv, "x": b64u(&point[1..=n]), "y": b64u(&point[1 + n..]) })
            }
            Signer::Ed(kp) => json!({ "kty": "OKP", "crv": "Ed25519", "x": b64u(kp.public_key().as_ref()) }),
        }
    }

    /// The raw public RSA modulus (for the HS256-with-public-key confusion attack).
    pub fn public_key_bytes(&self) -> Vec<u8> {
        match &*self.signer {
            Signer::Rsa(kp) => kp.public_key().as_ref().to_vec(),
            Signer::Ec(kp) => kp.public_key().as_ref().to_vec(),
            Signer::Ed(kp) => kp.public_key().as_ref().to_vec(),
        }
    }

    /// Signs `message` with this key's algorithm.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.sign_as(self.alg, message)
    }

    /// Signs `message` as `alg` (RSA keys can sign RS* and PS*).
    pub fn sign_as(&self, alg: Algorithm, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &*self.signer {
            Signer::Rsa(kp) => {
                let padding: &'static dyn RsaEncoding = match alg {
                    Algorithm::RS256 => &signature::RSA_PKCS1_SHA256,
                    Algorithm::RS384 => &signature::RSA_PKCS1_SHA384,
                    Algorithm::RS512 => &signature::RSA_PKCS1_SHA512,
                    Algorithm::PS256 => &signature::RSA_PSS_SHA256,
                    Algorithm::PS384 => &signature::RSA_PSS_SHA384,
                    Algorithm::PS512 => &signature::RSA_PSS_SHA512,
                    other => panic!("an RSA key cannot sign {other:?}"),
                };
                let mut sig = vec![0; kp.public_modulus_len()];
                kp.sign(padding, &rng, message, &mut sig).expect("rsa sign");
                sig
            }
            Signer::Ec(kp) => kp.sign(&rng, message).expect("ecdsa sign").as_ref().to_vec(),
            Signer::Ed(kp) => kp.sign(message).as_ref().to_vec(),
        }
    }

    /// The RFC 9068 header: `{"alg", "kid", "typ": "at+jwt"}`.
    pub fn header(&self) -> Value {
        json!({ "alg": alg_name(self.alg), "kid": self.kid, "typ": "at+jwt" })
    }

    /// A token over the JSON serializations of `header` and `claims`.
    pub fn token_with(&self, header: &Value, claims: &Value) -> String {
        self.sign_raw(header.to_string().as_bytes(), claims.to_string().as_bytes())
    }

    /// A token with this key's RFC 9068 header and `claims`.
    pub fn token(&self, claims: &Value) -> String {
        self.token_with(&self.header(), claims)
    }

    /// Signs raw header and payload bytes (no JSON re-serialization).
    pub fn sign_raw(&self, header: &[u8], payload: &[u8]) -> String {
        let signing_input = format!("{}.{}", b64u(header), b64u(payload));
        let sig = self.sign(signing_input.as_bytes());
        format!("{signing_input}.{}", b64u(sig))
    }
}

/// The JOSE name of `alg` (`"RS256"`, `"EdDSA"`, …).
pub fn alg_name(alg: Algorithm) -> String {
    match serde_json::to_value(alg) {
        Ok(Value::String(name)) => name,
        other => panic!("algorithm name of {alg:?}: {other:?}"),
    }
}

/// A verifier builder for `server`'s issuer and key set, audience [`AUDIENCE`].
pub fn verifier_for(server: &JwksServer) -> tower_bearer::jwt::JwtVerifierBuilder {
    tower_bearer::jwt::JwtVerifier::builder()
        .issuer(server.issuer())
        .audience(AUDIENCE)
        .jwks_uri(server.jwks_uri())
}

/// An HS256 token over `header` and `claims` keyed with `secret` (for the
/// algorithm-confusion and `oct`-key tests).
pub fn hs256_token(secret: &[u8], header: &Value, claims: &Value) -> String {
    use aws_lc_rs::hmac;
    let input = format!("{}.{}", b64u(header.to_string()), b64u(claims.to_string()));
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), input.as_bytes());
    format!("{input}.{}", b64u(tag.as_ref()))
}

/// The refusal reason of a 401 outcome; panics (naming `what`) on acceptance or 503.
pub fn expect_invalid(
    result: Result<tower_bearer::AccessToken, tower_bearer::VerifyError>,
    what: &str,
) -> tower_bearer::InvalidToken {
    match result {
        Err(tower_bearer::VerifyError::Invalid(reason)) => reason,
        other => panic!("{what}: expected 401 invalid_token, got {other:?}"),
    }
}

/// `{"keys": [...]}` of the public JWKs of `keys`.
pub fn jwks(keys: &[&TestKey]) -> Value {
    json!({ "keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>() })
}

/// What the `/jwks` endpoint does on the next request.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// 200 with this body (`application/json`) and optional `Cache-Control`.
    Body {
        body: Vec<u8>,
        cache_control: Option<String>,
    },
    /// An error status with a short body.
    Status(u16),
    /// Accept the request and never answer.
    Hang,
}

struct Shared {
    behaviour: Mutex<Behaviour>,
    delay: Mutex<Duration>,
    fetches: AtomicUsize,
    requests: AtomicUsize,
    origin: String,
}

/// A loopback JWKS server with fault injection. Dropping it stops the server.
pub struct JwksServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl JwksServer {
    /// Starts serving `keys` on `127.0.0.1:0`.
    pub async fn start(keys: &[&TestKey]) -> JwksServer {
        Self::start_with(Behaviour::Body {
            body: jwks(keys).to_string().into_bytes(),
            cache_control: None,
        })
        .await
    }

    /// Starts with any behaviour (e.g. [`Behaviour::Status`] for a cold outage).
    pub async fn start_with(behaviour: Behaviour) -> JwksServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Shared {
            behaviour: Mutex::new(behaviour),
            delay: Mutex::new(Duration::ZERO),
            fetches: AtomicUsize::new(0),
            requests: AtomicUsize::new(0),
            origin: format!("http://{addr}"),
        });
        let app = axum::Router::new().fallback(handle).with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        JwksServer { shared, addr, task }
    }

    /// `http://127.0.0.1:PORT`: the issuer identifier of this server.
    pub fn issuer(&self) -> String {
        self.shared.origin.clone()
    }

    /// `http://127.0.0.1:PORT/jwks`.
    pub fn jwks_uri(&self) -> String {
        format!("{}/jwks", self.shared.origin)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Key-set requests served (or hung) so far.
    pub fn fetches(&self) -> usize {
        self.shared.fetches.load(Ordering::SeqCst)
    }

    /// Every request received, on any path.
    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }

    pub fn set(&self, behaviour: Behaviour) {
        *self.shared.behaviour.lock().expect("behaviour lock") = behaviour;
    }

    /// Serve these keys from now on (key rotation).
    pub fn rotate(&self, keys: &[&TestKey]) {
        self.serve_json(&jwks(keys));
    }

    /// Serve this JSON document as the key set (oct keys, private members, …).
    pub fn serve_json(&self, doc: &Value) {
        self.serve_bytes(doc.to_string().into_bytes());
    }

    /// Serve these bytes as the key set (garbage, oversized bodies).
    pub fn serve_bytes(&self, body: Vec<u8>) {
        self.set(Behaviour::Body {
            body,
            cache_control: None,
        });
    }

    /// Serve these keys with a `Cache-Control` header.
    pub fn serve_with_cache_control(&self, keys: &[&TestKey], cache_control: &str) {
        self.set(Behaviour::Body {
            body: jwks(keys).to_string().into_bytes(),
            cache_control: Some(cache_control.to_owned()),
        });
    }

    /// Answer key-set requests with this status.
    pub fn fail_with(&self, status: u16) {
        self.set(Behaviour::Status(status));
    }

    /// Never answer key-set requests.
    pub fn hang(&self) {
        self.set(Behaviour::Hang);
    }

    /// Wait this long before answering each key-set request (so that concurrent
    /// verifications overlap one fetch).
    pub fn delay(&self, delay: Duration) {
        *self.shared.delay.lock().expect("delay lock") = delay;
    }
}

async fn handle(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    match uri.path() {
        "/jwks" => {}
        "/.well-known/oauth-authorization-server" | "/.well-known/openid-configuration" => {
            let doc = json!({
                "issuer": shared.origin,
                "jwks_uri": format!("{}/jwks", shared.origin),
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
            });
            return ([(header::CONTENT_TYPE, "application/json")], doc.to_string()).into_response();
        }
        _ => return StatusCode::NOT_FOUND.into_response(),
    }
    shared.fetches.fetch_add(1, Ordering::SeqCst);
    let delay = *shared.delay.lock().expect("delay lock");
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let behaviour = shared.behaviour.lock().expect("behaviour lock").clone();
    match behaviour {
        Behaviour::Body { body, cache_control } => {
            let mut response = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
            if let Some(cc) = cache_control {
                response.headers_mut().insert(
                    header::CACHE_CONTROL,
                    HeaderValue::from_str(&cc).expect("cache-control value"),
                );
            }
            response
        }
        Behaviour::Status(code) => (
            StatusCode::from_u16(code).expect("status code"),
            "jwks test server: injected failure",
        )
            .into_response(),
        Behaviour::Hang => std::future::pending().await,
    }
}
