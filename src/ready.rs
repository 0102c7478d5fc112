//! Readiness and warm-up: whether the verifier can decide now, and fetching
//! what it needs before the first request does.
//!
//! A verifier is ready when every configured issuer's key set is loaded and
//! usable (fresh, or stale by less than its `max_stale`) and, for
//! introspection, when the endpoint has answered once
//! ([`TokenVerifier::readiness`]). Start-up never waits for the authorization
//! server: build the verifier (a bad configuration still fails there), start
//! serving, and [`Readiness::spawn_warm_up`] fetches in the background,
//! retrying until ready; requests meanwhile get 503 with `Retry-After`, and a
//! `/readyz` route ([`Readiness`] is a tower service) answers 503 with the
//! reason.
//!
//! ```no_run
//! use std::sync::Arc;
//! use axum::{Router, routing::get};
//! use tower_bearer::{TokenVerifierLayer, jwt::JwtVerifier, ready::Readiness};
//!
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = Arc::new(
//!     JwtVerifier::builder()
//!         .issuer("https://auth.example.com")
//!         .audience("https://api.example.com/mcp")
//!         .discover()
//!         .build()?,
//! );
//! let readiness = Readiness::new(verifier.clone());
//! readiness.spawn_warm_up();
//! let app: Router = Router::new()
//!     .route("/data", get(|| async { "data" }).layer(TokenVerifierLayer::from_arc(verifier)))
//!     .route("/healthz", get(|| async { "ok" }))
//!     .route_service("/readyz", readiness);
//! # let _ = app; Ok(()) }
//! ```

use std::borrow::Cow;
use std::convert::Infallible;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, Request, Response, StatusCode};
use tower_service::Service;

use crate::{DynTokenVerifier, TokenVerifier, Unavailable};

/// The first pause between warm-up attempts; doubled after each failure up
/// to [`WARM_UP_MAX_PAUSE`].
const WARM_UP_FIRST_PAUSE: Duration = Duration::from_millis(250);
/// The longest pause between warm-up attempts.
const WARM_UP_MAX_PAUSE: Duration = Duration::from_secs(30);

/// Why a verifier cannot decide yet (a `/readyz` answers 503 with it).
///
/// ```
/// let why = tower_bearer::ready::NotReady::new("no usable keys of https://as.example");
/// assert_eq!(why.reason(), "no usable keys of https://as.example");
/// assert_eq!(why.to_string(), "not ready: no usable keys of https://as.example");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not ready: {reason}")]
pub struct NotReady {
    reason: Cow<'static, str>,
}

impl NotReady {
    /// Not ready, for `reason` (configuration values only, never a token).
    ///
    /// See [`NotReady`] for an example.
    pub fn new(reason: impl Into<Cow<'static, str>>) -> Self {
        NotReady {
            reason: reason.into(),
        }
    }

    /// Why.
    ///
    /// See [`NotReady`] for an example.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// A handle on a verifier's readiness: cheap to clone, and a tower service
/// answering `200 ready` or `503 not ready: …` (for a `/readyz` route).
///
/// ```
/// use std::sync::Arc;
/// use tower::ServiceExt;
/// use tower_bearer::{AccessToken, InvalidToken, TokenVerifier, VerifyError, ready::{NotReady, Readiness}};
///
/// struct Cold;
/// impl TokenVerifier for Cold {
///     async fn verify(&self, _: &str) -> Result<AccessToken, VerifyError> { Err(InvalidToken::Unknown.into()) }
///     fn readiness(&self) -> Result<(), NotReady> { Err(NotReady::new("keys not loaded")) }
/// }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let readiness = Readiness::new(Arc::new(Cold));
/// assert_eq!(readiness.check().unwrap_err().reason(), "keys not loaded");
/// let res = readiness.oneshot(http::Request::new(())).await.unwrap();
/// assert_eq!(res.status(), 503);
/// assert_eq!(res.body(), "not ready: keys not loaded\n");
/// # });
/// ```
#[derive(Clone)]
pub struct Readiness {
    verifier: Arc<DynTokenVerifier<'static>>,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readiness")
            .field("ready", &self.check().is_ok())
            .finish()
    }
}

impl Readiness {
    /// The readiness of `verifier` (the one the token layer uses).
    ///
    /// See the [module docs](self) for an example.
    pub fn new<V: TokenVerifier + ?Sized + 'static>(verifier: Arc<V>) -> Self {
        Readiness {
            verifier: DynTokenVerifier::new_arc(verifier),
        }
    }

    /// Ready now, or why not ([`TokenVerifier::readiness`]).
    ///
    /// See [`Readiness`] for an example.
    pub fn check(&self) -> Result<(), NotReady> {
        self.verifier.readiness()
    }

    /// One warm-up attempt ([`TokenVerifier::warm_up`]).
    ///
    /// ```no_run
    /// # async fn f(readiness: tower_bearer::ready::Readiness) {
    /// if let Err(e) = readiness.warm_up().await {
    ///     eprintln!("authorization server not reachable yet: {e}");
    /// }
    /// # }
    /// ```
    pub async fn warm_up(&self) -> Result<(), Unavailable> {
        self.verifier.warm_up().await
    }

    /// Warms up in a background task (on the current tokio runtime), again
    /// and again with growing pauses (250 ms to 30 s) until the verifier is
    /// ready; one warning for the first failure, one line when ready.
    ///
    /// See the [module docs](self) for an example.
    pub fn spawn_warm_up(&self) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut pause = WARM_UP_FIRST_PAUSE;
            let mut warned = false;
            loop {
                let attempt = this.warm_up().await;
                let outcome = attempt
                    .map_err(|e| e.to_string())
                    .and_then(|()| this.check().map_err(|e| e.to_string()));
                match outcome {
                    Ok(()) => {
                        tracing::info!("verifier ready");
                        return;
                    }
                    Err(reason) if !warned => {
                        warned = true;
                        tracing::warn!(%reason, "verifier not ready: retrying in the background (requests get 503)");
                    }
                    Err(_) => {}
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(WARM_UP_MAX_PAUSE);
            }
        })
    }
}

impl<B> Service<Request<B>> for Readiness {
    type Response = Response<String>;
    type Error = Infallible;
    type Future = Ready<Result<Response<String>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<B>) -> Self::Future {
        let (status, body) = match self.check() {
            Ok(()) => (StatusCode::OK, "ready\n".to_owned()),
            Err(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")),
        };
        let mut res = Response::new(body);
        *res.status_mut() = status;
        let headers = res.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if status != StatusCode::OK {
            headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
        }
        ready(Ok(res))
    }
}
