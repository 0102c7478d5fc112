//! [`McpSessionLayer`]: binds each MCP session to the [`Principal`] that created it.

use std::fmt;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::{MemorySessionStore, ResponseBody, SessionKey, SessionStore, SessionStoreError};
use crate::{AuthError, Challenge, Principal, Unavailable};

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
/// - A request without `Mcp-Session-Id` whose response carries one (the
///   `initialize` answer) records the request's [`Principal`] as the owner.
///   Under the [`BindingPolicy`] a principal that cannot own a session gets 403
///   Forbidden with no challenge (its token is valid: a 401 `invalid_token`
///   would send MCP clients into a re-authentication loop, and no scope would
///   help, so neither fits); no token at all gets the bare 401 challenge.
/// - Every request carrying `Mcp-Session-Id` (POST, GET/SSE with or without
///   `Last-Event-ID`, DELETE) must come from the owner. A different principal,
///   a session this layer never bound (or has forgotten), or a malformed header
///   gets the transport's own 404 ([`SessionNotFound`]); the inner service never
///   sees the request. Mismatches are logged with issuer, client_id and a hash
///   prefix of the session id.
/// - A successful DELETE by the owner ends the binding; bindings also expire
///   when idle (see [`MemorySessionStore`]).
/// - A store outage answers 503 with `Retry-After`.
/// - Stateless requests (no session id anywhere, MCP 2026-07-28) pass untouched.
///
/// Response bodies: `ResBody: `[`ResponseBody`] (axum's `Body`, rmcp's
/// `BoxBody<Bytes, Infallible>`, …); the request body is passed on unchanged.
///
/// ```
/// use tower::ServiceBuilder;
/// use tower_bearer::mcp::{BindingPolicy, McpSessionLayer, MemorySessionStore};
///
/// let layer = McpSessionLayer::with_store(MemorySessionStore::new().max_capacity(10_000))
///     .policy(BindingPolicy::RequireIssuerAndSubject);
/// let svc = ServiceBuilder::new().layer(layer).service_fn(|_req: http::Request<String>| async {
///     Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
/// });
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
    let mut values = headers.get_all(MCP_SESSION_ID).iter();
    match (values.next(), values.next()) {
        (None, _) => Named::None,
        (Some(v), None) => Named::Session(SessionKey::from_raw(v.as_bytes())),
        (Some(_), Some(_)) => Named::Ambiguous,
    }
}

type StoreFuture<T> = Pin<Box<dyn Future<Output = Result<T, SessionStoreError>> + Send>>;

impl<S, St, ReqBody, ResBody> Service<Request<ReqBody>> for McpSession<S, St>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    St: SessionStore,
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
            Named::None => {
                let after = After::Bind {
                    principal: req.extensions().get::<Principal>().cloned(),
                    challenge: challenge_of(&req),
                };
                State::Inner {
                    future: self.inner.call(req),
                    after,
                }
            }
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
    /// Whether the request may use session `key`, owned by `owner` (the store's
    /// answer): what to do after the inner service answers, or the refusal.
    fn admit<B, ResBody: ResponseBody>(
        &self,
        key: SessionKey,
        owner: Result<Option<Principal>, SessionStoreError>,
        req: &Request<B>,
    ) -> Result<After, Response<ResBody>> {
        let requester = req.extensions().get::<Principal>();
        match owner {
            Err(error) => Err(unavailable(&error, &challenge_of(req))),
            Ok(Some(owner)) if requester.is_some_and(|r| self.policy.permits(&owner, r)) => {
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

/// 403 for a valid token whose principal cannot own a session under the policy.
fn cannot_own_session<B: ResponseBody>() -> Response<B> {
    let mut res = Response::new(B::from_bytes(Bytes::from_static(
        b"Forbidden: this token's principal cannot own an MCP session",
    )));
    *res.status_mut() = http::StatusCode::FORBIDDEN;
    res
}

fn challenge_of<B>(req: &Request<B>) -> Challenge {
    req.extensions().get::<Challenge>().cloned().unwrap_or_default()
}

enum After {
    Nothing,
    Bind {
        principal: Option<Principal>,
        challenge: Challenge,
    },
    Unbind(SessionKey),
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
            lookup: StoreFuture<Option<Principal>>,
            key: SessionKey,
            pending: Option<(S, Request<ReqBody>)>,
        },
        Inner {
            #[pin]
            future: S::Future,
            after: After,
        },
        Store {
            op: StoreFuture<()>,
            response: Option<S::Response>,
            // Some: a failure is answered 503 with this challenge; None: logged only.
            fail_with: Option<Challenge>,
        },
        Done {
            response: Option<S::Response>,
        },
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

fn unavailable<B: Default>(error: &SessionStoreError, challenge: &Challenge) -> Response<B> {
    tracing::warn!(%error, "MCP session store unavailable");
    AuthError::Unavailable(Unavailable::new(error.to_string())).into_response(challenge)
}

impl<S, St, ReqBody, ResBody> Future for SessionFuture<S, St, ReqBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    St: SessionStore,
    ResBody: ResponseBody,
{
    type Output = Result<Response<ResBody>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Lookup { lookup, key, pending } => {
                    let owner = ready!(lookup.as_mut().poll(cx));
                    let (mut inner, req) = pending.take().expect("SessionFuture polled after completion");
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
                    let next = match mem::replace(after, After::Nothing) {
                        After::Nothing => None,
                        After::Bind { principal, challenge } => {
                            let Some(created) = response.headers().get(MCP_SESSION_ID) else {
                                return Poll::Ready(Ok(response));
                            };
                            let key = SessionKey::from_raw(created.as_bytes());
                            let policy = this.shared.policy;
                            match principal {
                                Some(owner) if policy.can_bind(&owner) => {
                                    tracing::debug!(session = %key, issuer = owner.issuer(), client_id = owner.client_id(), "MCP session bound");
                                    let op: StoreFuture<()> =
                                        Box::pin(async move { store.bind(&key, &owner).await });
                                    Some((op, Some(challenge)))
                                }
                                principal => {
                                    tracing::warn!(
                                        session = %key,
                                        issuer = principal.as_ref().and_then(Principal::issuer),
                                        client_id = principal.as_ref().and_then(Principal::client_id),
                                        "MCP session not created: the principal cannot own a session under the binding policy"
                                    );
                                    return Poll::Ready(Ok(match principal {
                                        Some(_) => cannot_own_session(),
                                        None => AuthError::MissingToken.into_response(&challenge),
                                    }));
                                }
                            }
                        }
                        After::Unbind(key) if response.status().is_success() => {
                            tracing::debug!(session = %key, "MCP session deleted by its owner");
                            let op: StoreFuture<()> = Box::pin(async move { store.unbind(&key).await });
                            Some((op, None))
                        }
                        After::Unbind(_) => None,
                    };
                    match next {
                        Some((op, fail_with)) => this.state.set(State::Store {
                            op,
                            response: Some(response),
                            fail_with,
                        }),
                        None => return Poll::Ready(Ok(response)),
                    }
                }
                StateProj::Store {
                    op,
                    response,
                    fail_with,
                } => {
                    let result = ready!(op.as_mut().poll(cx));
                    let response = response.take().expect("SessionFuture polled after completion");
                    return Poll::Ready(Ok(match (result, fail_with.as_ref()) {
                        (Err(error), Some(challenge)) => unavailable(&error, challenge),
                        (Err(error), None) => {
                            tracing::warn!(%error, "MCP session binding not removed; it will expire");
                            response
                        }
                        (Ok(()), _) => response,
                    }));
                }
                StateProj::Done { response } => {
                    return Poll::Ready(Ok(response
                        .take()
                        .expect("SessionFuture polled after completion")));
                }
            }
        }
    }
}
