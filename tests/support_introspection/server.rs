//! An RFC 7662 introspection test server on 127.0.0.1:0, for fault injection:
//! counts calls, checks client authentication, and misbehaves on demand.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde_json::{Value, json};

/// The resource the default tokens are issued for.
pub const RESOURCE: &str = "http://127.0.0.1:7000/mcp";
/// The resource server's credentials at this server.
pub const CLIENT_ID: &str = "rs-client";
/// The resource server's secret at this server.
pub const CLIENT_SECRET: &str = "rs-secret";

/// How the server answers introspection requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(dead_code)] // each test binary uses its own subset
pub enum Mode {
    /// Known tokens are active with their claims, others inactive.
    Normal,
    /// 500 Internal Server Error.
    Error500,
    /// Sleeps, then answers as `Normal`.
    Slow(Duration),
    /// `"active": "true"` (a string) with the token's claims.
    ActiveString,
    /// The token's claims without `active`.
    MissingActive,
    /// Active, without `exp`.
    MissingExp,
    /// Active, with another issuer.
    WrongIss,
    /// Active, padded past 64 KiB.
    HugeBody,
    /// 200 with an HTML body.
    NotJson,
    /// `{"active": false, …, "active": true}`: two `active` members.
    DuplicateActive,
}

struct Shared {
    issuer: String,
    calls: AtomicUsize,
    in_flight: AtomicUsize,
    peak_in_flight: AtomicUsize,
    mode: Mutex<Mode>,
    tokens: Mutex<HashMap<String, Value>>,
}

/// A running test server; stops when dropped.
pub struct IntrospectionServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for IntrospectionServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[allow(dead_code)] // each test binary uses its own subset
impl IntrospectionServer {
    /// Starts the server on 127.0.0.1:0.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            issuer: format!("http://{addr}"),
            calls: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            peak_in_flight: AtomicUsize::new(0),
            mode: Mutex::new(Mode::Normal),
            tokens: Mutex::new(HashMap::new()),
        });
        let app = Router::new()
            .route("/introspect", post(introspect))
            .route("/.well-known/oauth-authorization-server", get(metadata))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        IntrospectionServer { addr, shared, task }
    }

    /// The issuer identifier, `http://127.0.0.1:PORT`.
    pub fn issuer(&self) -> &str {
        &self.shared.issuer
    }

    /// The introspection endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://{}/introspect", self.addr)
    }

    /// Introspection requests received so far (authenticated or not).
    pub fn calls(&self) -> usize {
        self.shared.calls.load(Ordering::SeqCst)
    }

    /// The most requests that were being answered at the same time.
    pub fn peak_in_flight(&self) -> usize {
        self.shared.peak_in_flight.load(Ordering::SeqCst)
    }

    /// Changes how the server answers.
    pub fn set_mode(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
    }

    /// Registers an active token for `RESOURCE` with `scope`, expiring in an hour.
    pub fn add_token(&self, token: &str, scope: &str) {
        let exp = now() + 3600;
        self.add_token_with(
            token,
            json!({
                "client_id": "mcp-client", "sub": "alice", "iss": self.issuer(),
                "aud": RESOURCE, "scope": scope, "exp": exp, "token_type": "Bearer",
            }),
        );
    }

    /// Registers an active token with exactly these claims (`active` is added).
    pub fn add_token_with(&self, token: &str, claims: Value) {
        self.shared
            .tokens
            .lock()
            .unwrap()
            .insert(token.to_owned(), claims);
    }

    /// Forgets a token: it is inactive from now on.
    pub fn revoke(&self, token: &str) {
        self.shared.tokens.lock().unwrap().remove(token);
    }
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

async fn metadata(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    axum::Json(json!({
        "issuer": shared.issuer,
        "introspection_endpoint": format!("{}/introspect", shared.issuer),
    }))
}

fn authenticated(headers: &HeaderMap, form: &HashMap<String, String>) -> bool {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok());
    match basic {
        Some(decoded) => decoded == format!("{CLIENT_ID}:{CLIENT_SECRET}").as_bytes(),
        None => {
            form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
                && form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET)
        }
    }
}

async fn introspect(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    shared.calls.fetch_add(1, Ordering::SeqCst);
    let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    shared.peak_in_flight.fetch_max(now, Ordering::SeqCst);
    struct Leaving<'a>(&'a AtomicUsize);
    impl Drop for Leaving<'_> {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }
    let _leaving = Leaving(&shared.in_flight);
    if !authenticated(&headers, &form) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    if form.get("token_type_hint").map(String::as_str) != Some("access_token") {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_request"})),
        )
            .into_response();
    }
    let mode = *shared.mode.lock().unwrap();
    match mode {
        Mode::Slow(delay) => tokio::time::sleep(delay).await,
        Mode::Error500 => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        Mode::NotJson => {
            return ([(header::CONTENT_TYPE, "text/html")], "<html>login</html>").into_response();
        }
        Mode::DuplicateActive => {
            let body = format!(
                r#"{{"active":false,"iss":"{}","aud":"{RESOURCE}","scope":"mcp:read","active":true}}"#,
                shared.issuer
            );
            return ([(header::CONTENT_TYPE, "application/json")], body).into_response();
        }
        _ => {}
    }
    let claims = form
        .get("token")
        .and_then(|t| shared.tokens.lock().unwrap().get(t).cloned());
    let Some(Value::Object(mut body)) = claims else {
        return axum::Json(json!({"active": false})).into_response();
    };
    match mode {
        Mode::Normal | Mode::Slow(_) | Mode::Error500 | Mode::NotJson | Mode::DuplicateActive => {
            body.insert("active".into(), true.into());
        }
        Mode::ActiveString => {
            body.insert("active".into(), "true".into());
        }
        Mode::MissingActive => {}
        Mode::MissingExp => {
            body.insert("active".into(), true.into());
            body.remove("exp");
        }
        Mode::WrongIss => {
            body.insert("active".into(), true.into());
            body.insert("iss".into(), "https://evil.example".into());
        }
        Mode::HugeBody => {
            body.insert("active".into(), true.into());
            body.insert("padding".into(), "x".repeat(100 * 1024).into());
        }
    }
    axum::Json(Value::Object(body)).into_response()
}
