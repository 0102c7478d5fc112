//! [`TokenVerifierLayer`], its service [`TokenVerifierService`] and [`ResponseFuture`].

use std::fmt;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use http::{HeaderValue, Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;
use tracing::Instrument as _;

use crate::dpop::{Admission, CheckedProof, DPOP_NONCE, Dpop, DpopMode, PublicUrl};
use crate::exchange::SubjectToken;
use crate::extract::{BearerExtractor, ExtractError, Scheme};
use crate::observe::{self, Verification};
use crate::{AccessToken, AuthError, Challenge, ChallengeError, Resource, Scopes, TokenVerifier};

/// Requires a verified bearer token on every request of the wrapped service.
///
/// On success the request reaches the inner service with an [`AccessToken`], its
/// [`Principal`](crate::Principal) and the layer's [`Challenge`] in its extensions.
/// Otherwise the layer answers itself (see [`AuthError`]): the inner service never
/// sees the request.
///
/// ```
/// use tower::{ServiceBuilder, ServiceExt};
/// use tower_bearer::{AccessToken, Principal, TokenVerifier, TokenVerifierLayer, VerifyError, InvalidToken};
///
/// # #[derive(Clone)] struct Demo;
/// # impl TokenVerifier for Demo {
/// #     async fn verify(&self, token: &str) -> Result<AccessToken, VerifyError> {
/// #         if token == "good" { Ok(AccessToken::new(Principal::new().with_subject("alice"))) }
/// #         else { Err(InvalidToken::Unknown.into()) }
/// #     }
/// # }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let svc = ServiceBuilder::new()
///     .layer(TokenVerifierLayer::new(Demo).resource_metadata("https://api.example/.well-known/oauth-protected-resource")?)
///     .service_fn(|req: http::Request<String>| async move {
///         let who = req.extensions().get::<Principal>().unwrap().subject().unwrap().to_owned();
///         Ok::<_, std::convert::Infallible>(http::Response::new(who))
///     });
///
/// let ok = svc.clone().oneshot(http::Request::builder().header("authorization", "Bearer good").body(String::new()).unwrap()).await.unwrap();
/// assert_eq!(ok.into_body(), "alice");
///
/// let denied = svc.oneshot(http::Request::new(String::new())).await.unwrap();
/// assert_eq!(denied.status(), 401);
/// # Ok::<(), tower_bearer::ChallengeError>(())
/// # }).unwrap();
/// ```
pub struct TokenVerifierLayer<V: ?Sized> {
    verifier: Arc<V>,
    config: Arc<Config>,
}

#[derive(Clone, Debug)]
struct Config {
    challenge: Challenge,
    extractor: BearerExtractor,
    allow_anonymous: bool,
    /// Keep the raw token as a [`SubjectToken`] for token exchange.
    keep_subject_token: bool,
    dpop: Arc<Dpop>,
    /// The resource's origin, for a DPoP configuration set after it.
    origin: Option<PublicUrl>,
}

impl Default for Config {
    fn default() -> Self {
        let dpop = Arc::new(Dpop::default());
        Config {
            challenge: Challenge::default().with_dpop(&dpop),
            extractor: BearerExtractor::default(),
            allow_anonymous: false,
            keep_subject_token: false,
            dpop,
            origin: None,
        }
    }
}

impl<V: ?Sized> Clone for TokenVerifierLayer<V> {
    fn clone(&self) -> Self {
        Self {
            verifier: self.verifier.clone(),
            config: self.config.clone(),
        }
    }
}

impl<V: ?Sized> fmt::Debug for TokenVerifierLayer<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenVerifierLayer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<V: TokenVerifier> TokenVerifierLayer<V> {
    /// A layer that verifies tokens with `verifier`.
    ///
    /// ```
    /// # use tower_bearer::*;
    /// # struct V; impl TokenVerifier for V { async fn verify(&self, _: &str) -> Result<AccessToken, VerifyError> { Err(InvalidToken::Unknown.into()) } }
    /// let layer = TokenVerifierLayer::new(V);
    /// ```
    pub fn new(verifier: V) -> Self {
        Self::from_arc(Arc::new(verifier))
    }
}

impl<V: TokenVerifier + ?Sized> TokenVerifierLayer<V> {
    /// A layer sharing an existing `Arc` of a verifier (its caches included).
    ///
    /// ```
    /// # use tower_bearer::*;
    /// # struct V; impl TokenVerifier for V { async fn verify(&self, _: &str) -> Result<AccessToken, VerifyError> { Err(InvalidToken::Unknown.into()) } }
    /// let shared = std::sync::Arc::new(V);
    /// let a = TokenVerifierLayer::from_arc(shared.clone());
    /// let b = TokenVerifierLayer::from_arc(shared);
    /// ```
    pub fn from_arc(verifier: Arc<V>) -> Self {
        TokenVerifierLayer {
            verifier,
            config: Arc::new(Config::default()),
        }
    }

    /// Configures the layer for `resource`: its metadata URL in every
    /// challenge (`resource_metadata`), its DPoP settings, and its origin as
    /// the one DPoP proofs name in `htu` (also for a [`dpop`](Self::dpop)
    /// configuration set later). A realm, scope hint or `Retry-After` set
    /// before stays. [`Resource::token_layer`] is the shorthand.
    ///
    /// ```
    /// # use tower_bearer::*;
    /// # struct V; impl TokenVerifier for V { async fn verify(&self, _: &str) -> Result<AccessToken, VerifyError> { Err(InvalidToken::Unknown.into()) } }
    /// let resource = Resource::builder("https://api.example/mcp").build().unwrap();
    /// let layer = TokenVerifierLayer::new(V).resource(&resource);
    /// ```
    #[must_use]
    pub fn resource(mut self, resource: &Resource) -> Self {
        let config = Arc::make_mut(&mut self.config);
        config.challenge = config.challenge.clone().with_resource_of(resource.challenge());
        config.dpop = resource.shared_dpop().clone();
        config.origin = Some(resource.origin().clone());
        self
    }

    /// The RFC 9728 metadata URL put in every challenge (`resource_metadata`).
    /// MCP clients need it to discover the authorization server.
    ///
    /// # Errors
    /// As [`Challenge::resource_metadata`]: the URL cannot be a quoted-string.
    ///
    /// ```
    /// # use tower_bearer::*;
    /// # struct V; impl TokenVerifier for V { async fn verify(&self, _: &str) -> Result<AccessToken, VerifyError> { Err(InvalidToken::Unknown.into()) } }
    /// let layer = TokenVerifierLayer::new(V)
    ///     .resource_metadata("https://api.example/.well-known/oauth-protected-resource/mcp")?;
    /// # Ok::<(), ChallengeError>(())
    /// ```
    pub fn resource_metadata(mut self, url: impl Into<String>) -> Result<Self, ChallengeError> {
        let config = Arc::make_mut(&mut self.config);
        config.challenge = config.challenge.clone().resource_metadata(url)?;
        Ok(self)
    }

    /// The challenge's `realm`.
    ///
    /// # Errors
    /// As [`Challenge::realm`]: the realm cannot be a quoted-string.
    ///
    /// ```
    /// # use tower_bearer::*;
    /// # struct V; impl TokenVerifier for V { async fn verify(&self, _: &str) -> Result<AccessToken, VerifyError> { Err(InvalidToken::Unknown.into()) } }
    /// let layer = TokenVerifierLayer::new(V).realm("mcp")?;
    /// # Ok::<(), ChallengeError>(())
    /// ```
    pub fn realm(mut self, realm: impl Into<String>) -> Result<Self, ChallengeError> {
        let config = Arc::make_mut(&mut self.config);
        config.challenge = config.challenge.clone().realm(realm)?;
        Ok(self)
    }

    /// Scopes hinted in the challenge to requests without a token.
    ///
    /// # Errors
    /// As [`Challenge::scope_hint`]: a scope is not an RFC 6749 `scope-token`.
    ///
    /// ```
    /// # use tower_bearer::*;
    /// # struct V; impl TokenVerifier for V { async fn verify(&self, _: &str) -> Result<AccessToken, VerifyError> { Err(InvalidToken::Unknown.into()) } }
    /// let layer = TokenVerifierLayer::new(V).scope_hint(Scopes::parse("mcp:read"))?;
    /// # Ok::<(), ChallengeError>(())
    /// ```
    pub fn scope_hint(mut self, scopes: Scopes) -> Result<Self, ChallengeError> {
        let config = Arc::make_mut(&mut self.config);
        config.challenge = config.challenge.clone().scope_hint(scopes)?;
        Ok(self)
    }

    /// `Retry-After` for 503 answers when the verifier suggests none.
    ///
    /// ```
    /// # use tower_bearer::*;
    /// # struct V; impl TokenVerifier for V { async fn verify(&self, _: &str) -> Result<AccessToken, VerifyError> { Err(InvalidToken::Unknown.into()) } }
    /// let layer = TokenVerifierLayer::new(V).retry_after(std::time::Duration::from_secs(10));
    /// ```
    #[must_use]
    pub fn retry_after(mut self, after: Duration) -> Self {
        let config = Arc::make_mut(&mut self.config);
        config.challenge = config.challenge.clone().retry_after(after);
        self
    }

    /// Replaces the whole [`Challenge`] configuration.
    ///
    /// ```
    /// # use tower_bearer::*;
    /// # struct V; impl TokenVerifier for V { async fn verify(&self, _: &str) -> Result<AccessToken, VerifyError> { Err(InvalidToken::Unknown.into()) } }
    /// let layer = TokenVerifierLayer::new(V).challenge(Challenge::new().realm("api")?);
    /// # Ok::<(), ChallengeError>(())
    /// ```
    #[must_use]
    pub fn challenge(mut self, challenge: Challenge) -> Self {
        let config = Arc::make_mut(&mut self.config);
        config.challenge = challenge.with_dpop(&config.dpop);
        self
    }

    /// How DPoP (RFC 9449) is checked; [`Dpop::allowed`] by default: DPoP-bound
    /// tokens need `Authorization: DPoP` and a valid proof, bearer tokens still
    /// work, and 401s carry a `DPoP` challenge beside the `Bearer` one.
    ///
    /// ```
    /// # use tower_bearer::*;
    /// # struct V; impl TokenVerifier for V { async fn verify(&self, _: &str) -> Result<AccessToken, VerifyError> { Err(InvalidToken::Unknown.into()) } }
    /// use tower_bearer::dpop::Dpop;
    /// let layer = TokenVerifierLayer::new(V).dpop(Dpop::required().server_nonces()?);
    /// # Ok::<(), tower_bearer::dpop::NonceKeyError>(())
    /// ```
    #[must_use]
    pub fn dpop(mut self, dpop: Dpop) -> Self {
        let dpop = Arc::new(match &self.config.origin {
            Some(origin) => dpop.with_default_public_url(origin),
            None => dpop,
        });
        let config = Arc::make_mut(&mut self.config);
        config.challenge = config.challenge.clone().with_dpop(&dpop);
        config.dpop = dpop;
        self
    }

    /// Also accept `?access_token=` (RFC 6750 §2.3); off by default.
    ///
    /// ```
    /// # use tower_bearer::*;
    /// # struct V; impl TokenVerifier for V { async fn verify(&self, _: &str) -> Result<AccessToken, VerifyError> { Err(InvalidToken::Unknown.into()) } }
    /// let layer = TokenVerifierLayer::new(V).allow_query_token(true);
    /// ```
    #[must_use]
    pub fn allow_query_token(mut self, allow: bool) -> Self {
        let config = Arc::make_mut(&mut self.config);
        config.extractor = config.extractor.allow_query(allow);
        self
    }

    /// Let requests *without* credentials through, without an [`AccessToken`]
    /// (for routes that serve both; read `Option<Principal>` there). A presented
    /// token is still verified and refused when bad. Off by default.
    ///
    /// ```
    /// # use tower_bearer::*;
    /// # struct V; impl TokenVerifier for V { async fn verify(&self, _: &str) -> Result<AccessToken, VerifyError> { Err(InvalidToken::Unknown.into()) } }
    /// let layer = TokenVerifierLayer::new(V).allow_anonymous(true);
    /// ```
    #[must_use]
    pub fn allow_anonymous(mut self, allow: bool) -> Self {
        let config = Arc::make_mut(&mut self.config);
        config.allow_anonymous = allow;
        self
    }

    /// Keep the raw incoming token in the request extensions as a
    /// [`SubjectToken`] for [token exchange](crate::exchange) (RFC 8693). Off by
    /// default: the raw token is then dropped once verified. Its `Debug` is
    /// redacted and nothing logs it.
    ///
    /// ```
    /// # use tower_bearer::*;
    /// # struct V; impl TokenVerifier for V { async fn verify(&self, _: &str) -> Result<AccessToken, VerifyError> { Err(InvalidToken::Unknown.into()) } }
    /// let layer = TokenVerifierLayer::new(V).keep_subject_token(true);
    /// ```
    #[must_use]
    pub fn keep_subject_token(mut self, keep: bool) -> Self {
        let config = Arc::make_mut(&mut self.config);
        config.keep_subject_token = keep;
        self
    }
}

impl<S, V: ?Sized> Layer<S> for TokenVerifierLayer<V> {
    type Service = TokenVerifierService<S, V>;

    fn layer(&self, inner: S) -> Self::Service {
        TokenVerifierService {
            inner,
            verifier: self.verifier.clone(),
            config: self.config.clone(),
        }
    }
}

/// The service built by [`TokenVerifierLayer`].
///
/// ```
/// # use tower_bearer::*;
/// # struct V; impl TokenVerifier for V { async fn verify(&self, _: &str) -> Result<AccessToken, VerifyError> { Err(InvalidToken::Unknown.into()) } }
/// use tower::Layer;
/// let svc = TokenVerifierLayer::new(V).layer(tower::service_fn(|_req: http::Request<()>| async {
///     Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
/// }));
/// let _inner = svc.get_ref();
/// ```
pub struct TokenVerifierService<S, V: ?Sized> {
    inner: S,
    verifier: Arc<V>,
    config: Arc<Config>,
}

impl<S: Clone, V: ?Sized> Clone for TokenVerifierService<S, V> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            verifier: self.verifier.clone(),
            config: self.config.clone(),
        }
    }
}

impl<S: fmt::Debug, V: ?Sized> fmt::Debug for TokenVerifierService<S, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenVerifierService")
            .field("inner", &self.inner)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<S, V: ?Sized> TokenVerifierService<S, V> {
    crate::macros::inner_service_accessors!(
        r#"```
# use tower_bearer::*;
# struct V; impl TokenVerifier for V { async fn verify(&self, _: &str) -> Result<AccessToken, VerifyError> { Err(InvalidToken::Unknown.into()) } }
# use tower::Layer;
let mut svc = TokenVerifierLayer::new(V).layer(42_u32);
*svc.get_mut() += 1;
assert_eq!(svc.into_inner(), 43);
```
"#
    );
}

impl<S, V, ReqBody, ResBody> Service<Request<ReqBody>> for TokenVerifierService<S, V>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    V: TokenVerifier + ?Sized + 'static,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let config = &self.config;
        let dpop_on = config.dpop.mode() != DpopMode::Off;
        let (scheme, token) = match config.extractor.credential(req.headers(), req.uri(), dpop_on) {
            Ok(found) => found,
            Err(ExtractError::Missing) if config.allow_anonymous => {
                req.extensions_mut().insert(config.challenge.clone());
                return ResponseFuture::inner(self.inner.call(req), None);
            }
            Err(e) => {
                tracing::debug!(error = %e, "bearer credentials refused");
                let error = AuthError::from(e);
                observe::refused_unverified(&error);
                return ResponseFuture::refuse(error, &config.challenge);
            }
        };
        let verification = Verification::start(self.verifier.verifies_as(token));
        let entered = verification.span().clone().entered();
        let challenge = config.challenge.for_scheme(scheme);
        let subject = config.keep_subject_token.then(|| SubjectToken::new(token));
        // The proof on its own first: no token work for a request it refuses.
        let proof = match config.dpop.check_proof(
            req.method(),
            req.uri(),
            req.headers(),
            scheme == Scheme::Dpop,
            token,
        ) {
            Ok(proof) => proof,
            Err(error) => {
                verification.finish(false, Err(&error));
                return ResponseFuture::refuse(logged(error), &challenge);
            }
        };
        // A verdict at hand (a cache hit): no boxed future, no clone of the inner service.
        let mut verified = None;
        if let Some(result) = self.verifier.verify_now(token) {
            let token = match result {
                Ok(token) => token,
                Err(error) => {
                    let error = error.into();
                    verification.finish(true, Err(&error));
                    return ResponseFuture::refuse(logged(error), &challenge);
                }
            };
            match config.dpop.admit_now(&token, proof.as_ref()) {
                Admission::Done(Ok(())) => {
                    verification.finish(true, Ok(&token));
                    let nonce = proof.and_then(|p| p.next_nonce);
                    if let Some(subject) = subject {
                        req.extensions_mut().insert(subject);
                    }
                    insert_identity(&mut req, token, challenge);
                    drop(entered);
                    return ResponseFuture::inner(self.inner.call(req), nonce);
                }
                Admission::Done(Err(error)) => {
                    verification.finish(true, Err(&error));
                    return ResponseFuture::refuse(logged(error), &challenge);
                }
                // The replay cache answers later: go on asynchronously.
                Admission::Replay(_) => verified = Some(token),
            }
        }
        drop(entered);
        let raw = token.to_owned();
        // Reaches the inner service only with the verified identity.
        if let Some(subject) = subject {
            req.extensions_mut().insert(subject);
        }
        // Call the service that was driven to readiness; keep a fresh clone.
        let clone = self.inner.clone();
        let inner = mem::replace(&mut self.inner, clone);
        let verifier = self.verifier.clone();
        let dpop = config.dpop.clone();
        let nonce = proof.as_ref().and_then(|p| p.next_nonce.clone());
        let span = verification.span().clone();
        ResponseFuture {
            state: State::Verify {
                verify: Box::pin(
                    async move {
                        let cached = verified.is_some();
                        let result = verify_and_bind(&*verifier, &dpop, &raw, verified, proof).await;
                        verification.finish(cached, result.as_ref());
                        result
                    }
                    .instrument(span),
                ),
                pending: Some((inner, req)),
                challenge,
                nonce,
            },
        }
    }
}

/// The asynchronous path: the token (unless verified at hand), then
/// [`Dpop::admit`]. A token verified at hand comes here only when the replay
/// cache could not answer at once: admitting it again checks the (pure)
/// binding again and asks the cache, waiting this time.
async fn verify_and_bind<V: TokenVerifier + ?Sized>(
    verifier: &V,
    dpop: &Dpop,
    raw: &str,
    verified: Option<AccessToken>,
    proof: Option<CheckedProof>,
) -> Result<AccessToken, AuthError> {
    let token = match verified {
        Some(token) => token,
        None => verifier.verify(raw).await.map_err(AuthError::from)?,
    };
    dpop.admit(&token, proof.as_ref()).await?;
    Ok(token)
}

pin_project! {
    /// Response future of [`TokenVerifierService`]: verifies, then calls the inner
    /// service, or answers with a refusal.
    pub struct ResponseFuture<S, ReqBody>
    where
        S: Service<Request<ReqBody>>,
    {
        #[pin]
        state: State<S, ReqBody>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, ReqBody>
    where
        S: Service<Request<ReqBody>>,
    {
        Verify {
            verify: Pin<Box<dyn Future<Output = Result<AccessToken, AuthError>> + Send>>,
            pending: Option<(S, Request<ReqBody>)>,
            challenge: Challenge,
            nonce: Option<HeaderValue>,
        },
        Inner {
            #[pin]
            future: S::Future,
            nonce: Option<HeaderValue>,
        },
        Refused {
            response: Option<S::Response>,
        },
    }
}

impl<S, ReqBody> fmt::Debug for ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    fn inner(future: S::Future, nonce: Option<HeaderValue>) -> Self {
        ResponseFuture {
            state: State::Inner { future, nonce },
        }
    }

    fn refuse(error: AuthError, challenge: &Challenge) -> Self {
        ResponseFuture {
            state: State::Refused {
                response: Some(error.into_response(challenge)),
            },
        }
    }
}

impl<S, ReqBody, ResBody> Future for ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Output = Result<Response<ResBody>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Verify {
                    verify,
                    pending,
                    challenge,
                    nonce,
                } => {
                    let result = ready!(verify.as_mut().poll(cx));
                    match result {
                        Ok(token) => {
                            let (mut inner, mut req) =
                                pending.take().expect("ResponseFuture polled after completion");
                            insert_identity(&mut req, token, challenge.clone());
                            let future = inner.call(req);
                            let nonce = nonce.take();
                            this.state.set(State::Inner { future, nonce });
                        }
                        Err(error) => return Poll::Ready(Ok(logged(error).into_response(challenge))),
                    }
                }
                StateProj::Inner { future, nonce } => {
                    let mut response = ready!(future.poll(cx))?;
                    if let Some(nonce) = nonce.take() {
                        response.headers_mut().insert(DPOP_NONCE, nonce);
                    }
                    return Poll::Ready(Ok(response));
                }
                StateProj::Refused { response } => {
                    return Poll::Ready(Ok(response
                        .take()
                        .expect("ResponseFuture polled after completion")));
                }
            }
        }
    }
}

fn insert_identity<B>(req: &mut Request<B>, token: AccessToken, challenge: Challenge) {
    let extensions = req.extensions_mut();
    extensions.insert(token.principal().clone());
    extensions.insert(token);
    extensions.insert(challenge);
}

/// Logs why the verifier said no (never the token) and turns it into the answer.
fn logged(error: AuthError) -> AuthError {
    match &error {
        AuthError::Unavailable(u) => {
            tracing::warn!(reason = error.reason(), detail = %u, "token verifier unavailable")
        }
        other => tracing::debug!(reason = other.reason(), error = %other, "credentials refused"),
    }
    error
}

#[cfg(test)]
pub(crate) mod tests {
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tower::{Service, ServiceExt};

    use super::*;
    use crate::verifier::fixed::Fixed;
    use crate::{InvalidToken, Principal, Unavailable, VerifyError};

    /// Answers with the caller's subject; counts its clones and calls.
    #[derive(Default)]
    pub(crate) struct Echo {
        pub(crate) clones: Arc<AtomicUsize>,
        pub(crate) calls: Arc<AtomicUsize>,
    }

    impl Clone for Echo {
        fn clone(&self) -> Self {
            self.clones.fetch_add(1, Ordering::SeqCst);
            Echo {
                clones: self.clones.clone(),
                calls: self.calls.clone(),
            }
        }
    }

    impl Service<Request<String>> for Echo {
        type Response = Response<String>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Response<String>, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, req: Request<String>) -> Self::Future {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let who = req.extensions().get::<Principal>().and_then(Principal::subject);
            std::future::ready(Ok(Response::new(who.unwrap_or("-").to_owned())))
        }
    }

    /// One request through one service (no clone by the caller).
    async fn once(verifier: Arc<Fixed>) -> (Response<String>, usize, usize, usize) {
        let echo = Echo::default();
        let (clones, calls) = (echo.clones.clone(), echo.calls.clone());
        let mut svc = TokenVerifierLayer::from_arc(verifier.clone()).layer(echo);
        let req = Request::builder()
            .header("authorization", "Bearer t0ken")
            .body(String::new())
            .unwrap();
        let res = svc.ready().await.unwrap().call(req).await.unwrap();
        let awaited = verifier.awaited();
        (
            res,
            clones.load(Ordering::SeqCst),
            calls.load(Ordering::SeqCst),
            awaited,
        )
    }

    #[tokio::test]
    async fn a_verdict_at_hand_calls_the_inner_service_directly() {
        let (res, clones, calls, awaited) = once(Fixed::at_hand(Ok("alice"))).await;
        assert_eq!((res.status().as_u16(), res.body().as_str()), (200, "alice"));
        assert_eq!((clones, calls, awaited), (0, 1, 0), "no clone, no async verify");

        // Not at hand: the async path, which keeps a fresh clone of the inner service.
        let (res, clones, calls, awaited) = once(Fixed::new(Ok("bob"))).await;
        assert_eq!((res.status().as_u16(), res.body().as_str()), (200, "bob"));
        assert_eq!((clones, calls, awaited), (1, 1, 1));
    }

    #[tokio::test]
    async fn refusals_at_hand_are_answered_like_awaited_ones() {
        let expired = || Err(VerifyError::from(InvalidToken::Expired));
        let down = || Err(VerifyError::from(Unavailable::new("down")));
        for answer in [expired(), down()] {
            let (now, _, now_calls, _) = once(Fixed::at_hand(answer.clone())).await;
            let (later, _, later_calls, awaited) = once(Fixed::new(answer)).await;
            assert_eq!((now_calls, later_calls, awaited), (0, 0, 1), "inner never called");
            assert_eq!(now.status(), later.status());
            assert_eq!(
                now.headers().get("www-authenticate"),
                later.headers().get("www-authenticate")
            );
            assert_eq!(
                now.headers().get("retry-after"),
                later.headers().get("retry-after")
            );
        }
        let (res, ..) = once(Fixed::at_hand(expired())).await;
        assert_eq!(res.status(), 401);
        let www = res.headers()["www-authenticate"].to_str().unwrap();
        assert!(www.contains(r#"error="invalid_token""#), "{www}");
        let (res, ..) = once(Fixed::at_hand(down())).await;
        assert_eq!(res.status(), 503);
        assert!(res.headers().contains_key("retry-after"));
    }

    #[tokio::test]
    async fn a_resource_keeps_the_realm_and_hint_set_before_it() {
        let resource = Resource::builder("https://api.example/mcp").build().unwrap();
        let layer = TokenVerifierLayer::from_arc(Fixed::new(Ok("alice")))
            .realm("api")
            .unwrap()
            .scope_hint(Scopes::parse("mcp:read"))
            .unwrap()
            .resource(&resource);
        let res = layer
            .layer(Echo::default())
            .oneshot(Request::new(String::new()))
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
        assert_eq!(
            res.headers()["www-authenticate"],
            r#"Bearer realm="api", scope="mcp:read", resource_metadata="https://api.example/.well-known/oauth-protected-resource/mcp""#
        );
    }
}
