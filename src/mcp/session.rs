//! [`McpSessionLayer`]: binds each MCP session to the [`Principal`] that created it.

use std::fmt;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST, ORIGIN};
use http::{Extensions, HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, Uri};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::{MemorySessionStore, ResponseBody, SessionKey, SessionOwner, SessionStore, revision};
use crate::extract::{SingleHeader, single_header};
use crate::{AccessToken, AuthError, Challenge, Principal, Unavailable};

/// The MCP streamable HTTP session header.
pub const MCP_SESSION_ID: HeaderName = HeaderName::from_static("mcp-session-id");

/// Who may use a session, compared with the principal that created it.
///
/// ```
/// use tower_bearer::Principal;
/// use tower_bearer::mcp::BindingPolicy;
///
/// // A client-credentials token (no subject): the client is its own resource
/// // owner, so the default binds its session to issuer + client_id.
/// let service = Principal::new().with_issuer("https://as").with_client_id("backend");
/// assert!(BindingPolicy::default().can_bind(&service));
/// // A client_id alone (no issuer) names no owner under the default.
/// let app_only = Principal::new().with_client_id("public-app");
/// assert!(!BindingPolicy::default().can_bind(&app_only));
/// assert!(BindingPolicy::SameOwner.can_bind(&app_only));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum BindingPolicy {
    /// The default. The owner is *(issuer, subject)* when the token carries a
    /// subject, else *(issuer, client_id)*: a client-credentials token, whose
    /// client is its own resource owner. Owner and requester must have the same
    /// kind of owner (a token without a subject never uses a user's session, nor
    /// a user's token a client's) and be the same owner
    /// ([`Principal::same_owner`]: every component both carry must be equal,
    /// client_id included).
    ///
    /// A principal without an issuer, or with neither subject nor client_id,
    /// cannot own a session: its request to create one is refused with 403
    /// (see [`McpSessionLayer`]).
    #[default]
    IssuerAndSubjectOrClient,
    /// Owner and requester must both carry an issuer and a subject, and be the
    /// same owner. Stricter than the default: client-credentials tokens without
    /// a subject cannot open sessions.
    ///
    /// Why it exists: a client_id alone names an *application*; where one
    /// client_id is shared by many parties who each get subject-less tokens,
    /// binding to it would let them share sessions.
    RequireIssuerAndSubject,
    /// Only the principal triple rules: components missing on either side are
    /// skipped, and at least one must be shared. Use it when tokens carry no
    /// subject and each client is used by one party only (machine-to-machine).
    SameOwner,
}

impl BindingPolicy {
    /// Whether a session created by `owner` can be bound under this policy.
    ///
    /// See [`BindingPolicy`] for an example.
    pub fn can_bind(self, owner: &Principal) -> bool {
        match self {
            BindingPolicy::IssuerAndSubjectOrClient => {
                owner.issuer().is_some() && (owner.subject().is_some() || owner.client_id().is_some())
            }
            BindingPolicy::RequireIssuerAndSubject => owner.issuer().is_some() && owner.subject().is_some(),
            BindingPolicy::SameOwner => !owner.is_empty(),
        }
    }

    /// Whether `requester` may use a session owned by `owner`.
    ///
    /// ```
    /// use tower_bearer::Principal;
    /// use tower_bearer::mcp::BindingPolicy;
    /// let alice = Principal::new().with_issuer("https://as").with_subject("alice").with_client_id("app");
    /// let bob = Principal::new().with_issuer("https://as").with_subject("bob").with_client_id("app");
    /// assert!(BindingPolicy::default().permits(&alice, &alice));
    /// assert!(!BindingPolicy::default().permits(&alice, &bob));
    /// // The same client without a subject never uses a user's session.
    /// let app = Principal::new().with_issuer("https://as").with_client_id("app");
    /// assert!(!BindingPolicy::default().permits(&alice, &app));
    /// assert!(BindingPolicy::default().permits(&app, &app));
    /// assert!(BindingPolicy::SameOwner.permits(&alice, &app));
    /// ```
    pub fn permits(self, owner: &Principal, requester: &Principal) -> bool {
        let same_kind = match self {
            BindingPolicy::IssuerAndSubjectOrClient => {
                owner.subject().is_some() == requester.subject().is_some()
            }
            BindingPolicy::RequireIssuerAndSubject | BindingPolicy::SameOwner => true,
        };
        same_kind && self.can_bind(owner) && self.can_bind(requester) && owner.same_owner(requester)
    }
}

/// The answer to a request naming a session it may not use: by default exactly
/// what rmcp 3.11's `StreamableHttpService` answers for an unknown session, so
/// a foreign session cannot be told from a missing one.
///
/// ```
/// use tower_bearer::mcp::SessionNotFound;
/// let rmcp = SessionNotFound::default();
/// assert_eq!(rmcp.body(), "Not Found: Session not found");
/// assert!(rmcp.content_type().is_none());
/// let json = SessionNotFound::json_rpc();
/// assert_eq!(json.content_type().unwrap(), "application/json");
/// ```
#[derive(Clone, Debug)]
pub struct SessionNotFound {
    content_type: Option<HeaderValue>,
    body: Bytes,
}

impl Default for SessionNotFound {
    fn default() -> Self {
        Self::rmcp()
    }
}

impl SessionNotFound {
    /// rmcp 3.11: status 404, body `Not Found: Session not found`, no `Content-Type`.
    ///
    /// See [`SessionNotFound`] for an example.
    pub fn rmcp() -> Self {
        SessionNotFound {
            content_type: None,
            body: Bytes::from_static(b"Not Found: Session not found"),
        }
    }

    /// A JSON-RPC error body, as the Python SDK answers: 404,
    /// `{"jsonrpc":"2.0","id":"server-error","error":{"code":-32600,"message":"Session not found"}}`.
    ///
    /// See [`SessionNotFound`] for an example.
    pub fn json_rpc() -> Self {
        SessionNotFound {
            content_type: Some(HeaderValue::from_static("application/json")),
            body: Bytes::from_static(
                br#"{"jsonrpc":"2.0","id":"server-error","error":{"code":-32600,"message":"Session not found"}}"#,
            ),
        }
    }

    /// Any other transport's answer: its `Content-Type` (if any) and body.
    ///
    /// ```
    /// use tower_bearer::mcp::SessionNotFound;
    /// let custom = SessionNotFound::new(Some(http::HeaderValue::from_static("text/plain")), "gone");
    /// assert_eq!(custom.body(), "gone");
    /// ```
    pub fn new(content_type: Option<HeaderValue>, body: impl Into<Bytes>) -> Self {
        SessionNotFound {
            content_type,
            body: body.into(),
        }
    }

    /// The `Content-Type` sent, if any.
    ///
    /// See [`SessionNotFound`] for an example.
    pub fn content_type(&self) -> Option<&HeaderValue> {
        self.content_type.as_ref()
    }

    /// The body sent.
    ///
    /// See [`SessionNotFound`] for an example.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    fn response<B: ResponseBody>(&self) -> Response<B> {
        let mut res = Response::new(B::from_bytes(self.body.clone()));
        *res.status_mut() = StatusCode::NOT_FOUND;
        if let Some(ct) = &self.content_type {
            res.headers_mut().insert(CONTENT_TYPE, ct.clone());
        }
        res
    }
}

/// Binds MCP sessions to principals (MCP security best practices, "Session
/// Hijacking"). Place it inside the [`TokenVerifierLayer`](crate::TokenVerifierLayer)
/// and around the MCP streamable HTTP service.
///
/// - A request without `Mcp-Session-Id` may open a session (`initialize`), so
///   the layer decides before the inner service sees it: under the
///   [`BindingPolicy`] a principal that cannot own a session gets 403 Forbidden
///   with no challenge (its token is valid: a 401 `invalid_token` would send MCP
///   clients into a re-authentication loop, and no scope would help, so neither
///   fits); no token at all gets the bare 401 challenge. Otherwise the response's
///   `Mcp-Session-Id` records the request's [`Principal`] as the owner.
/// - No session outlives a refusal: when a created session cannot be bound (the
///   store fails: 503 with `Retry-After`), the layer ends it with a DELETE to the
///   inner service, sent with the creating request's URI, `Host`, `Origin` and
///   extensions, before answering. That DELETE's body is `ReqBody::default()`,
///   hence the `ReqBody: Default` bound (axum's `Body`, `Full`, `String`, …; map
///   hyper's `Incoming` into one of them with tower-http's `MapRequestBody`).
/// - Requests declaring `MCP-Protocol-Version: 2026-07-28` or later carry no
///   session and pass untouched, whoever sends them; should the inner service
///   still create a session for one, it is bound as above, or ended.
/// - A 2025-11-25 server that does not use sessions (stateless rmcp) needs no
///   session layer: with one, principals that cannot own a session are refused.
/// - Every request carrying `Mcp-Session-Id` (POST, GET/SSE with or without
///   `Last-Event-ID`, DELETE) must come from the owner. A different principal,
///   a session this layer never bound (or has forgotten), or a malformed header
///   gets the transport's own 404 ([`SessionNotFound`]); the inner service never
///   sees the request. Mismatches are logged with issuer, client_id and a hash
///   prefix of the session id.
/// - A successful DELETE by the owner ends the binding; bindings also expire
///   when idle (see [`MemorySessionStore`]).
/// - A store outage answers 503 with `Retry-After`.
///
/// Response bodies: `ResBody: `[`ResponseBody`] (axum's `Body`, rmcp's
/// `BoxBody<Bytes, Infallible>`, …); the request body is passed on unchanged.
///
/// ```
/// use tower::ServiceBuilder;
/// use tower_bearer::mcp::{BindingPolicy, McpSessionLayer, MemorySessionStore};
///
/// let layer = McpSessionLayer::with_store(MemorySessionStore::new().max_capacity(10_000)?)
///     .policy(BindingPolicy::RequireIssuerAndSubject);
/// let svc = ServiceBuilder::new().layer(layer).service_fn(|_req: http::Request<String>| async {
///     Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
/// });
/// # Ok::<(), tower_bearer::mcp::MemorySessionStoreError>(())
/// ```
pub struct McpSessionLayer<St = MemorySessionStore> {
    shared: Arc<Shared<St>>,
}

struct Shared<St> {
    store: Arc<St>,
    policy: BindingPolicy,
    not_found: SessionNotFound,
}

impl<St> Clone for McpSessionLayer<St> {
    fn clone(&self) -> Self {
        McpSessionLayer {
            shared: self.shared.clone(),
        }
    }
}

impl<St> fmt::Debug for McpSessionLayer<St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("McpSessionLayer")
            .field("policy", &self.shared.policy)
            .field("not_found", &self.shared.not_found)
            .finish_non_exhaustive()
    }
}

impl McpSessionLayer<MemorySessionStore> {
    /// A layer with an in-memory store and the default policy.
    ///
    /// ```
    /// let layer = tower_bearer::mcp::McpSessionLayer::new();
    /// ```
    pub fn new() -> Self {
        Self::with_store(MemorySessionStore::new())
    }
}

impl Default for McpSessionLayer<MemorySessionStore> {
    fn default() -> Self {
        Self::new()
    }
}

impl<St: SessionStore> McpSessionLayer<St> {
    /// A layer keeping owners in `store`.
    ///
    /// See [`SessionStore`] for an example.
    pub fn with_store(store: St) -> Self {
        Self::with_shared_store(Arc::new(store))
    }

    /// A layer keeping owners in a store shared with other layers or code.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tower_bearer::mcp::{McpSessionLayer, MemorySessionStore};
    /// let store = Arc::new(MemorySessionStore::new());
    /// let layer = McpSessionLayer::with_shared_store(store.clone());
    /// ```
    pub fn with_shared_store(store: Arc<St>) -> Self {
        McpSessionLayer {
            shared: Arc::new(Shared {
                store,
                policy: BindingPolicy::default(),
                not_found: SessionNotFound::default(),
            }),
        }
    }

    /// Who may use a session (default [`BindingPolicy::IssuerAndSubjectOrClient`]).
    ///
    /// ```
    /// use tower_bearer::mcp::{BindingPolicy, McpSessionLayer};
    /// let layer = McpSessionLayer::new().policy(BindingPolicy::SameOwner);
    /// ```
    #[must_use]
    pub fn policy(self, policy: BindingPolicy) -> Self {
        self.map(|s| s.policy = policy)
    }

    /// The 404 sent for sessions the request may not use (default: rmcp's).
    ///
    /// ```
    /// use tower_bearer::mcp::{McpSessionLayer, SessionNotFound};
    /// let layer = McpSessionLayer::new().not_found(SessionNotFound::json_rpc());
    /// ```
    #[must_use]
    pub fn not_found(self, not_found: SessionNotFound) -> Self {
        self.map(|s| s.not_found = not_found)
    }

    fn map(self, f: impl FnOnce(&mut Shared<St>)) -> Self {
        let shared = &*self.shared;
        let mut next = Shared {
            store: shared.store.clone(),
            policy: shared.policy,
            not_found: shared.not_found.clone(),
        };
        f(&mut next);
        McpSessionLayer {
            shared: Arc::new(next),
        }
    }
}

impl<S, St> Layer<S> for McpSessionLayer<St> {
    type Service = McpSession<S, St>;

    fn layer(&self, inner: S) -> Self::Service {
        McpSession {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// The service built by [`McpSessionLayer`].
///
/// ```
/// use tower::Layer;
/// let svc = tower_bearer::mcp::McpSessionLayer::new().layer(5_u8);
/// assert_eq!(*svc.get_ref(), 5);
/// ```
pub struct McpSession<S, St = MemorySessionStore> {
    inner: S,
    shared: Arc<Shared<St>>,
}

impl<S: Clone, St> Clone for McpSession<S, St> {
    fn clone(&self) -> Self {
        McpSession {
            inner: self.inner.clone(),
            shared: self.shared.clone(),
        }
    }
}

impl<S: fmt::Debug, St> fmt::Debug for McpSession<S, St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("McpSession")
            .field("inner", &self.inner)
            .field("policy", &self.shared.policy)
            .finish_non_exhaustive()
    }
}

impl<S, St> McpSession<S, St> {
    crate::macros::inner_service_accessors!(
        r#"```
use tower::Layer;
let mut svc = tower_bearer::mcp::McpSessionLayer::new().layer(1_u8);
*svc.get_mut() += 1;
assert_eq!(svc.into_inner(), 2);
```
"#
    );
}

/// The session named by a request.
enum Named {
    None,
    Session(SessionKey),
    /// Several headers: never forwarded.
    Ambiguous,
}

fn named_session(headers: &HeaderMap) -> Named {
    match single_header(headers, MCP_SESSION_ID) {
        SingleHeader::Absent => Named::None,
        SingleHeader::One(v) => Named::Session(SessionKey::from_raw(v.as_bytes())),
        SingleHeader::Repeated => Named::Ambiguous,
    }
}

type StoreFuture<T> = Pin<Box<dyn Future<Output = Result<T, Unavailable>> + Send>>;

impl<S, St, ReqBody, ResBody> Service<Request<ReqBody>> for McpSession<S, St>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    St: SessionStore + 'static,
    ReqBody: Default,
    ResBody: ResponseBody,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = SessionFuture<S, St, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let shared = self.shared.clone();
        let state = match named_session(req.headers()) {
            Named::None => match shared.may_open(&req) {
                Ok(()) => {
                    let after = After::Bind(Box::new(Reap::of(&req, self.inner.clone())));
                    State::Inner {
                        future: self.inner.call(req),
                        after,
                    }
                }
                Err(refused) => State::Done {
                    response: Some(refused),
                },
            },
            Named::Ambiguous => State::Done {
                response: Some(shared.not_found.response()),
            },
            // An in-process store answers at once: no boxed lookup, no clone.
            Named::Session(key) => match shared.store.owner_now(&key) {
                Some(owner) => match shared.admit(key, owner, &req) {
                    Ok(after) => State::Inner {
                        future: self.inner.call(req),
                        after,
                    },
                    Err(refused) => State::Done {
                        response: Some(refused),
                    },
                },
                None => {
                    // Call the service that was driven to readiness; keep a fresh clone.
                    let clone = self.inner.clone();
                    let inner = mem::replace(&mut self.inner, clone);
                    let store = shared.store.clone();
                    State::Lookup {
                        lookup: Box::pin(async move { store.owner(&key).await }),
                        key,
                        pending: Some((inner, req)),
                    }
                }
            },
        };
        SessionFuture { shared, state }
    }
}

impl<St> Shared<St> {
    /// Whether a request naming no session may reach the inner service. Before
    /// MCP 2026-07-28 such a request is `initialize` (or an error), so a
    /// principal that cannot own a session is refused before a session exists.
    /// A request declaring 2026-07-28 or later has no session to open and passes.
    fn may_open<B, ResBody: ResponseBody>(&self, req: &Request<B>) -> Result<(), Response<ResBody>> {
        if revision::declares_stateless(req.headers()) {
            return Ok(());
        }
        match req.extensions().get::<Principal>() {
            Some(principal) if self.policy.can_bind(principal) => Ok(()),
            principal => Err(cannot_own_session(principal, &challenge_of(req))),
        }
    }

    /// Whether the request may use session `key`, owned by `owner` (the store's
    /// answer): what to do after the inner service answers, or the refusal.
    fn admit<S, B, ResBody: ResponseBody>(
        &self,
        key: SessionKey,
        owner: Result<Option<SessionOwner>, Unavailable>,
        req: &Request<B>,
    ) -> Result<After<S>, Response<ResBody>> {
        let requester = req.extensions().get::<Principal>();
        // A session opened with a DPoP-bound token needs a token bound to the same key.
        let same_key = |owner: &SessionOwner| {
            owner.dpop_jkt().is_none_or(|jkt| {
                req.extensions()
                    .get::<AccessToken>()
                    .and_then(AccessToken::dpop_jkt)
                    == Some(jkt)
            })
        };
        match owner {
            Err(error) => Err(unavailable(error, &challenge_of(req))),
            Ok(Some(owner))
                if requester.is_some_and(|r| self.policy.permits(owner.principal(), r))
                    && same_key(&owner) =>
            {
                Ok(if req.method() == Method::DELETE {
                    After::Unbind(key)
                } else {
                    After::Nothing
                })
            }
            Ok(Some(_)) => {
                tracing::warn!(
                    session = %key,
                    issuer = requester.and_then(Principal::issuer),
                    client_id = requester.and_then(Principal::client_id),
                    "MCP session used by a principal other than its owner"
                );
                Err(self.not_found.response())
            }
            Ok(None) => {
                tracing::debug!(session = %key, "MCP session not bound");
                Err(self.not_found.response())
            }
        }
    }
}

/// The refusal of a principal that cannot own a session: 403 for a valid token
/// the policy cannot bind, the bare 401 challenge when there is no token.
fn cannot_own_session<B: ResponseBody>(principal: Option<&Principal>, challenge: &Challenge) -> Response<B> {
    let Some(principal) = principal else {
        return AuthError::MissingToken.into_response(challenge);
    };
    tracing::warn!(
        issuer = principal.issuer(),
        client_id = principal.client_id(),
        "MCP session refused: the principal cannot own a session under the binding policy"
    );
    let mut res = Response::new(B::from_bytes(Bytes::from_static(
        b"Forbidden: this token's principal cannot own an MCP session",
    )));
    *res.status_mut() = StatusCode::FORBIDDEN;
    res
}

fn challenge_of<B>(req: &Request<B>) -> Challenge {
    challenge_in(req.extensions())
}

fn challenge_in(extensions: &Extensions) -> Challenge {
    extensions.get::<Challenge>().cloned().unwrap_or_default()
}

enum After<S> {
    Nothing,
    /// A request that may open a session: who sent it, and how to end the
    /// session should it not be bound.
    Bind(Box<Reap<S>>),
    Unbind(SessionKey),
}

/// What ending a session the inner service created, but this layer could not
/// bind, takes: a DELETE to the same service, sent as its creator would.
struct Reap<S> {
    service: S,
    uri: Uri,
    headers: HeaderMap,
    extensions: Extensions,
}

impl<S> Reap<S> {
    fn of<B>(req: &Request<B>, service: S) -> Self {
        // What a transport checks on every request (DNS-rebinding protection);
        // no `MCP-Protocol-Version`, so the DELETE speaks the session revisions.
        let mut headers = HeaderMap::new();
        for name in [HOST, ORIGIN] {
            for value in req.headers().get_all(&name) {
                headers.append(name.clone(), value.clone());
            }
        }
        Reap {
            service,
            uri: req.uri().clone(),
            headers,
            extensions: req.extensions().clone(),
        }
    }

    /// The service and the DELETE that ends session `created`.
    fn delete<B: Default>(self, created: HeaderValue) -> (S, Request<B>) {
        let mut req = Request::new(B::default());
        *req.method_mut() = Method::DELETE;
        *req.uri_mut() = self.uri;
        *req.headers_mut() = self.headers;
        req.headers_mut().insert(MCP_SESSION_ID, created);
        *req.extensions_mut() = self.extensions;
        (self.service, req)
    }
}

/// A session that must not outlive its refusal.
struct Unbound<S> {
    key: SessionKey,
    created: HeaderValue,
    reap: Reap<S>,
}

pin_project! {
    /// Response future of [`McpSession`].
    pub struct SessionFuture<S, St, ReqBody>
    where
        S: Service<Request<ReqBody>>,
    {
        shared: Arc<Shared<St>>,
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
        Lookup {
            lookup: StoreFuture<Option<SessionOwner>>,
            key: SessionKey,
            pending: Option<(S, Request<ReqBody>)>,
        },
        Inner {
            #[pin]
            future: S::Future,
            after: After<S>,
        },
        Store {
            op: StoreFuture<()>,
            response: Option<S::Response>,
            // Some: a bind whose failure is answered 503 (with the creating
            // request's challenge) once the session is ended; None: an unbind,
            // whose failure is logged.
            on_failure: Option<Box<Unbound<S>>>,
        },
        // Ending a session before answering `answer`: waiting for the service.
        Reap {
            delete: Option<(S, Request<ReqBody>)>,
            key: SessionKey,
            answer: Option<S::Response>,
        },
        Reaping {
            #[pin]
            future: S::Future,
            key: SessionKey,
            answer: Option<S::Response>,
        },
        Done {
            response: Option<S::Response>,
        },
    }
}

impl<S, ReqBody> State<S, ReqBody>
where
    S: Service<Request<ReqBody>>,
    ReqBody: Default,
{
    fn reap(unbound: Unbound<S>, answer: S::Response) -> Self {
        State::Reap {
            delete: Some(unbound.reap.delete(unbound.created)),
            key: unbound.key,
            answer: Some(answer),
        }
    }
}

impl<S, St, ReqBody> fmt::Debug for SessionFuture<S, St, ReqBody>
where
    S: Service<Request<ReqBody>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionFuture").finish_non_exhaustive()
    }
}

fn unavailable<B: Default>(error: Unavailable, challenge: &Challenge) -> Response<B> {
    tracing::warn!(%error, "MCP session store unavailable");
    AuthError::Unavailable(error).into_response(challenge)
}

impl<S, St, ReqBody, ResBody> Future for SessionFuture<S, St, ReqBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    St: SessionStore + 'static,
    ReqBody: Default,
    ResBody: ResponseBody,
{
    type Output = Result<Response<ResBody>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        const DONE: &str = "SessionFuture polled after completion";
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Lookup { lookup, key, pending } => {
                    let owner = ready!(lookup.as_mut().poll(cx));
                    let (mut inner, req) = pending.take().expect(DONE);
                    match this.shared.admit(*key, owner, &req) {
                        Ok(after) => {
                            let future = inner.call(req);
                            this.state.set(State::Inner { future, after });
                        }
                        Err(refused) => return Poll::Ready(Ok(refused)),
                    }
                }
                StateProj::Inner { future, after } => {
                    let response = ready!(future.poll(cx))?;
                    let store = this.shared.store.clone();
                    match mem::replace(after, After::Nothing) {
                        After::Nothing => return Poll::Ready(Ok(response)),
                        After::Bind(reap) => {
                            let Some(created) = response.headers().get(MCP_SESSION_ID).cloned() else {
                                return Poll::Ready(Ok(response));
                            };
                            let key = SessionKey::from_raw(created.as_bytes());
                            let principal = reap.extensions.get::<Principal>().cloned();
                            let jkt = reap
                                .extensions
                                .get::<AccessToken>()
                                .and_then(|t| t.dpop_jkt().map(Arc::<str>::from));
                            let unbound = Box::new(Unbound {
                                key,
                                created,
                                reap: *reap,
                            });
                            match principal {
                                Some(owner) if this.shared.policy.can_bind(&owner) => {
                                    tracing::debug!(session = %key, issuer = owner.issuer(), client_id = owner.client_id(), "MCP session bound");
                                    let owner = match jkt {
                                        Some(jkt) => SessionOwner::new(owner).with_dpop_jkt(jkt),
                                        None => SessionOwner::new(owner),
                                    };
                                    this.state.set(State::Store {
                                        op: Box::pin(async move { store.bind(&key, &owner).await }),
                                        response: Some(response),
                                        on_failure: Some(unbound),
                                    });
                                }
                                // Only a request declaring a stateless revision
                                // gets here: the others were refused before the call.
                                principal => {
                                    let challenge = challenge_in(&unbound.reap.extensions);
                                    let refused = cannot_own_session(principal.as_ref(), &challenge);
                                    this.state.set(State::reap(*unbound, refused));
                                }
                            }
                        }
                        After::Unbind(key) if response.status().is_success() => {
                            tracing::debug!(session = %key, "MCP session deleted by its owner");
                            this.state.set(State::Store {
                                op: Box::pin(async move { store.unbind(&key).await }),
                                response: Some(response),
                                on_failure: None,
                            });
                        }
                        After::Unbind(_) => return Poll::Ready(Ok(response)),
                    }
                }
                StateProj::Store {
                    op,
                    response,
                    on_failure,
                } => {
                    let result = ready!(op.as_mut().poll(cx));
                    let response = response.take().expect(DONE);
                    match (result, on_failure.take()) {
                        (Ok(()), _) => return Poll::Ready(Ok(response)),
                        (Err(error), None) => {
                            tracing::warn!(%error, "MCP session binding not removed; it will expire");
                            return Poll::Ready(Ok(response));
                        }
                        (Err(error), Some(unbound)) => {
                            let refused = unavailable(error, &challenge_in(&unbound.reap.extensions));
                            this.state.set(State::reap(*unbound, refused));
                        }
                    }
                }
                StateProj::Reap { delete, key, answer } => {
                    let (service, _) = delete.as_mut().expect(DONE);
                    if ready!(service.poll_ready(cx)).is_err() {
                        tracing::warn!(session = %*key, "MCP session left to expire: the service failed before it could be ended");
                        return Poll::Ready(Ok(answer.take().expect(DONE)));
                    }
                    let (mut service, req) = delete.take().expect(DONE);
                    let (key, answer) = (*key, answer.take());
                    this.state.set(State::Reaping {
                        future: service.call(req),
                        key,
                        answer,
                    });
                }
                StateProj::Reaping { future, key, answer } => {
                    match ready!(future.poll(cx)) {
                        Ok(ended) if ended.status().is_success() => {
                            tracing::debug!(session = %*key, "MCP session ended: it could not be bound");
                        }
                        Ok(ended) => {
                            tracing::warn!(session = %*key, status = %ended.status(), "MCP session left to expire: the service refused to end it");
                        }
                        Err(_) => {
                            tracing::warn!(session = %*key, "MCP session left to expire: the service failed to end it")
                        }
                    }
                    return Poll::Ready(Ok(answer.take().expect(DONE)));
                }
                StateProj::Done { response } => return Poll::Ready(Ok(response.take().expect(DONE))),
            }
        }
    }
}
