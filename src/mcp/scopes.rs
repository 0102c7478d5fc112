//! [`McpScopeLayer`]: per-operation scopes for MCP, read from the JSON-RPC body
//! (and, from MCP 2026-07-28, from the `Mcp-Method` / `Mcp-Name` headers).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::mem;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use http::header::CONTENT_TYPE;
use http::request::Parts;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::combinators::Collect;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use pin_project_lite::pin_project;
use serde::Deserialize;
use tower_layer::Layer;
use tower_service::Service;

use super::{ResponseBody, headers, revision};
use crate::Scopes;
use crate::scope::{ScopeError, ScopeHierarchy, check_scopes, requirable};

/// Default request body limit of [`McpScopeLayer`]: 4 MiB, rmcp's own limit.
pub(crate) const DEFAULT_BODY_LIMIT: usize = 4 * 1024 * 1024;

/// Which scopes each MCP operation needs.
///
/// A JSON-RPC message needs the [`base`](Self::base) scopes plus:
///
/// | message | extra scopes |
/// |---|---|
/// | `tools/call` with `params.name` = a listed tool | the [`tool`](Self::tool)'s scopes (+ those of the method `tools/call`, if listed) |
/// | `tools/call` of a tool not listed, or without a name | [`unlisted_tools`](Self::unlisted_tools) (+ `tools/call`'s) |
/// | any other listed [`method`](Self::method) | its scopes |
/// | any other method, notification or response | none |
/// | a batch (JSON array) | the union over its messages, in one challenge |
///
/// Unlisted methods need only the base scopes on purpose: a server that does
/// not implement a method answers "method not found", so no privilege is
/// reachable through one; every method you do implement can be listed. Tools
/// not listed get the policy's explicit default, [`unlisted_tools`](Self::unlisted_tools):
/// the base scopes alone unless you set it, so that a call to a tool that does
/// not exist gets the server's "tool not found". Setting it to your strongest
/// scope protects a tool added later without an entry, at the price of a
/// step-up for every unknown name; [`McpAuthLayer`](super::McpAuthLayer)
/// refuses a policy that could ask for a scope the resource does not list in
/// `scopes_supported`, so a challenge never names a scope clients cannot get.
/// Requests other than POST (GET for the SSE stream, DELETE) need the base scopes.
///
/// The methods of MCP 2026-07-28 take their place in the same table:
/// `server/discover` (what `initialize` was: the base scopes, so a client with
/// the least privilege can start), `tools/list`, `prompts/list`,
/// `resources/list`, `subscriptions/listen` (base, plus a [`method`](Self::method)
/// entry if you add one), `tools/call` (per tool), `prompts/get`,
/// `resources/read` and `tasks/*` (per method). Results that depend on the
/// token's scopes (a `tools/list` filtered by scope) differ by principal:
/// mark them private to it (the result's SEP-2549 `cacheScope: "private"`), as
/// the quickstart does for its `tower-bearer://whoami` resource.
///
/// ```
/// use tower_bearer::Scopes;
/// use tower_bearer::mcp::McpScopePolicy;
/// use tower_bearer::scope::ScopeHierarchy;
///
/// let policy = McpScopePolicy::new()
///     .hierarchy(ScopeHierarchy::chain(["mcp:admin", "mcp:write", "mcp:read"])?)
///     .base(["mcp:read"])?
///     .tool("search", ["mcp:read"])?
///     .tool("delete_note", ["mcp:write"])?
///     .unlisted_tools(["mcp:admin"])?;
/// assert_eq!(policy.required("tools/list", None), Scopes::parse("mcp:read"));
/// assert_eq!(policy.required("tools/call", Some("delete_note")), Scopes::parse("mcp:read mcp:write"));
/// assert_eq!(policy.required("tools/call", Some("new_tool")), Scopes::parse("mcp:admin mcp:read"));
/// # Ok::<(), tower_bearer::scope::ScopeError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct McpScopePolicy {
    hierarchy: ScopeHierarchy,
    base: Scopes,
    methods: BTreeMap<Box<str>, Scopes>,
    tools: BTreeMap<Box<str>, Scopes>,
    unlisted_tools: Scopes,
}

/// `a ∪ b`, sharing `a` or `b` when one already holds the other (the common
/// case on every request: no allocation).
fn union(a: &Scopes, b: &Scopes) -> Scopes {
    if a.contains_all(b) {
        a.clone()
    } else if b.contains_all(a) {
        b.clone()
    } else {
        a.iter().chain(b.iter()).collect()
    }
}

impl McpScopePolicy {
    /// A policy requiring nothing beyond a verified token.
    ///
    /// ```
    /// assert!(tower_bearer::mcp::McpScopePolicy::new().required("ping", None).is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The implication relation honoured by every check.
    ///
    /// See [`McpScopePolicy`] for an example.
    #[must_use]
    pub fn hierarchy(mut self, hierarchy: ScopeHierarchy) -> Self {
        self.hierarchy = hierarchy;
        self
    }

    /// Scopes every request needs.
    ///
    /// # Errors
    /// [`ScopeError`] (field `McpScopePolicy::base`) if a scope is not an
    /// RFC 6749 `scope-token`, or is `offline_access`. The same holds for
    /// every method of this builder that takes scopes, each naming itself.
    ///
    /// See [`McpScopePolicy`] for an example.
    pub fn base<I, S>(mut self, scopes: I) -> Result<Self, ScopeError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.base = requirable("McpScopePolicy::base", scopes)?;
        Ok(self)
    }

    /// Scopes a JSON-RPC method needs (e.g. `resources/read`), on top of the base.
    ///
    /// # Errors
    /// As [`base`](Self::base) (field `McpScopePolicy::method`).
    ///
    /// ```
    /// use tower_bearer::{Scopes, mcp::McpScopePolicy};
    /// let p = McpScopePolicy::new().method("resources/read", ["files:read"])?;
    /// assert_eq!(p.required("resources/read", None), Scopes::parse("files:read"));
    /// # Ok::<(), tower_bearer::scope::ScopeError>(())
    /// ```
    pub fn method<I, S>(mut self, method: &str, scopes: I) -> Result<Self, ScopeError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let scopes = requirable("McpScopePolicy::method", scopes)?;
        self.methods.insert(method.into(), scopes);
        Ok(self)
    }

    /// Scopes a tool needs (a `tools/call` with this `params.name`), on top of the base.
    ///
    /// # Errors
    /// As [`base`](Self::base) (field `McpScopePolicy::tool`).
    ///
    /// See [`McpScopePolicy`] for an example.
    pub fn tool<I, S>(mut self, name: &str, scopes: I) -> Result<Self, ScopeError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let scopes = requirable("McpScopePolicy::tool", scopes)?;
        self.tools.insert(name.into(), scopes);
        Ok(self)
    }

    /// Scopes a call to a tool without a [`tool`](Self::tool) entry needs, on
    /// top of the base (default: none, so the base scopes alone).
    ///
    /// # Errors
    /// As [`base`](Self::base) (field `McpScopePolicy::unlisted_tools`).
    ///
    /// See [`McpScopePolicy`] for an example.
    pub fn unlisted_tools<I, S>(mut self, scopes: I) -> Result<Self, ScopeError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.unlisted_tools = requirable("McpScopePolicy::unlisted_tools", scopes)?;
        Ok(self)
    }

    /// Every scope a request can be asked for: base, methods, tools and
    /// unlisted tools (the hierarchy only widens what satisfies them). A
    /// resource that serves this policy must list them in `scopes_supported`
    /// ([`McpAuthLayer`](super::McpAuthLayer) checks it).
    ///
    /// ```
    /// use tower_bearer::mcp::McpScopePolicy;
    /// let policy = McpScopePolicy::new().base(["mcp:read"])?.tool("add_note", ["mcp:write"])?;
    /// assert_eq!(policy.demandable().to_string(), "mcp:read mcp:write");
    /// # Ok::<(), tower_bearer::scope::ScopeError>(())
    /// ```
    pub fn demandable(&self) -> Scopes {
        let all = [&self.base, &self.unlisted_tools]
            .into_iter()
            .chain(self.methods.values())
            .chain(self.tools.values());
        all.flat_map(Scopes::iter).collect()
    }

    /// All scopes a message with this `method` (and tool `name`, for
    /// `tools/call`) needs.
    ///
    /// See [`McpScopePolicy`] for an example.
    pub fn required(&self, method: &str, tool: Option<&str>) -> Scopes {
        let method_scopes = self.methods.get(method).cloned().unwrap_or_default();
        let extra = if method == "tools/call" {
            let tool_scopes = tool
                .and_then(|name| self.tools.get(name))
                .unwrap_or(&self.unlisted_tools);
            union(&method_scopes, tool_scopes)
        } else {
            method_scopes
        };
        union(&self.base, &extra)
    }

    /// The scopes a 2026-07-28 body needs, once it agrees with what its
    /// `Mcp-Method` / `Mcp-Name` headers named (`named`, or why they could not
    /// be read). A batch is judged as before the revision (its headers cannot
    /// name it).
    fn required_for_stateless_body(
        &self,
        body: &[u8],
        named: Result<Option<&headers::Named>, &'static str>,
    ) -> Result<Scopes, BodyError> {
        if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
            return self.required_for_body(body).map_err(BodyError::JsonRpc);
        }
        let message: Message<'_> =
            serde_json::from_slice(body).map_err(|_| BodyError::JsonRpc(JsonRpcError::Parse))?;
        named
            .and_then(|named| headers::matches(named, message.method.as_deref(), message.named()))
            .map_err(|reason| BodyError::Headers(reason, headers::echoable_id(message.id.as_ref())))?;
        Ok(self.required_for(&message))
    }

    /// The scopes a POST body needs, or the JSON-RPC error to answer with.
    pub(crate) fn required_for_body(&self, body: &[u8]) -> Result<Scopes, JsonRpcError> {
        let first = body.iter().find(|b| !b.is_ascii_whitespace());
        if first == Some(&b'[') {
            let batch: Vec<Message<'_>> = serde_json::from_slice(body).map_err(|_| JsonRpcError::Parse)?;
            if batch.is_empty() {
                return Err(JsonRpcError::InvalidRequest);
            }
            Ok(batch
                .iter()
                .fold(self.base.clone(), |acc, m| union(&acc, &self.required_for(m))))
        } else {
            let message: Message<'_> = serde_json::from_slice(body).map_err(|_| JsonRpcError::Parse)?;
            Ok(self.required_for(&message))
        }
    }

    fn required_for(&self, message: &Message<'_>) -> Scopes {
        match &message.method {
            Some(method) => {
                let tool = message.params.as_ref().and_then(|p| p.name.as_deref());
                self.required(method, tool)
            }
            // A response to a server request.
            None => self.base.clone(),
        }
    }
}

/// The parts of a JSON-RPC message the policy reads. Parsed strictly (duplicate
/// members are an error) so that no other parser sees a different method or tool.
#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow, default)]
    method: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    params: Option<Params<'a>>,
    // Last: serde also reads a struct from a JSON array, by position, and a
    // nested batch must not fit the first member.
    #[serde(default)]
    id: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Params<'a> {
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    uri: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "taskId")]
    task_id: Option<Cow<'a, str>>,
}

impl Message<'_> {
    /// The `params` member that names what the method acts on (SEP-2243).
    fn named(&self) -> Option<&str> {
        let params = self.params.as_ref()?;
        let member = match headers::name_member(self.method.as_deref()?)? {
            "name" => &params.name,
            "uri" => &params.uri,
            _ => &params.task_id,
        };
        member.as_deref()
    }
}

/// Why a body was refused before any scope decision.
enum BodyError {
    JsonRpc(JsonRpcError),
    /// The SEP-2243 headers are missing or say otherwise; the request's id.
    Headers(&'static str, Option<String>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JsonRpcError {
    Parse,
    InvalidRequest,
}

impl JsonRpcError {
    fn response<B: ResponseBody>(self) -> Response<B> {
        let body: &'static [u8] = match self {
            JsonRpcError::Parse => {
                br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}"#
            }
            JsonRpcError::InvalidRequest => {
                br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid Request"}}"#
            }
        };
        let mut res = Response::new(B::from_bytes(Bytes::from_static(body)));
        *res.status_mut() = StatusCode::BAD_REQUEST;
        res.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        res
    }
}

/// Requires per-operation scopes on an MCP endpoint ([`McpScopePolicy`]).
///
/// Place it inside the [`TokenVerifierLayer`](crate::TokenVerifierLayer) (and the
/// [`McpSessionLayer`](super::McpSessionLayer)). It buffers the request body
/// (at most 4 MiB, see [`body_limit`](Self::body_limit)), reads
/// the JSON-RPC method and tool name, checks the token, then hands the **same
/// bytes** on: the inner service receives `Request<Full<Bytes>>` (accepted by
/// axum routers and by rmcp's `StreamableHttpService`).
///
/// | request | answer |
/// |---|---|
/// | no verified token | 401, bare challenge |
/// | scopes do not cover the operation | 403 `insufficient_scope`, `scope="<all the operation needs>"` |
/// | body over the limit | 413 |
/// | body not JSON, duplicate members | 400, JSON-RPC parse error (-32700) |
/// | empty batch | 400, JSON-RPC invalid request (-32600) |
/// | 2026-07-28: `Mcp-Method` / `Mcp-Name` missing, repeated, or not what the body says | 400, JSON-RPC header mismatch (-32020), before any scope decision |
///
/// Requests declaring `MCP-Protocol-Version: 2026-07-28` or later name their
/// operation in the `Mcp-Method` and `Mcp-Name` headers (SEP-2243). The layer
/// compares them with the body first: a mismatch is 400 (-32020) whatever the
/// token may do, and only a body that agrees is judged on scopes (a header is
/// never trusted over the body, nor judged alone). `Mcp-Name` is required for
/// the methods of the revision that name something (`tools/call`,
/// `prompts/get`, `resources/read`, `tasks/*`); any other method, including
/// those the revision removed (`resources/subscribe`, `resources/unsubscribe`)
/// and those the layer does not know, needs only `Mcp-Method` and the base
/// scopes (plus a [`method`](McpScopePolicy::method) entry if the policy has
/// one), and reaches the server, which answers whether it implements it.
/// Earlier revisions do not have the headers: the body alone decides.
///
/// Response bodies: `ResBody: `[`ResponseBody`].
///
/// ```
/// use tower::{ServiceBuilder, ServiceExt};
/// use tower_bearer::{AccessToken, Principal, Scopes};
/// use tower_bearer::mcp::{McpScopeLayer, McpScopePolicy};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let policy = McpScopePolicy::new().base(["mcp:read"])?.tool("delete_note", ["mcp:write"])?;
/// let svc = ServiceBuilder::new()
///     .layer(McpScopeLayer::new(policy))
///     .service_fn(|_req: http::Request<http_body_util::Full<bytes::Bytes>>| async {
///         Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
///     });
///
/// let call = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_note","arguments":{}}}"#;
/// let mut req = http::Request::post("/mcp").body(call.to_owned()).unwrap();
/// req.extensions_mut().insert(AccessToken::new(Principal::new()).with_scopes(Scopes::parse("mcp:read")));
/// let res = svc.oneshot(req).await.unwrap();
/// assert_eq!(res.status(), 403);
/// assert!(res.headers()["www-authenticate"].to_str().unwrap().contains(r#"scope="mcp:read mcp:write""#));
/// # Ok::<(), tower_bearer::scope::ScopeError>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct McpScopeLayer {
    policy: std::sync::Arc<McpScopePolicy>,
    limit: usize,
}

impl McpScopeLayer {
    /// A layer enforcing `policy`.
    ///
    /// See [`McpScopeLayer`] for an example.
    pub fn new(policy: McpScopePolicy) -> Self {
        McpScopeLayer {
            policy: std::sync::Arc::new(policy),
            limit: DEFAULT_BODY_LIMIT,
        }
    }

    /// The largest request body buffered; larger ones get 413.
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use tower_bearer::mcp::{McpScopeLayer, McpScopePolicy};
    /// let layer = McpScopeLayer::new(McpScopePolicy::new()).body_limit(NonZeroUsize::new(1 << 20).unwrap());
    /// ```
    #[must_use]
    pub fn body_limit(mut self, limit: NonZeroUsize) -> Self {
        self.limit = limit.get();
        self
    }
}

impl<S> Layer<S> for McpScopeLayer {
    type Service = McpScope<S>;

    fn layer(&self, inner: S) -> Self::Service {
        McpScope {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service built by [`McpScopeLayer`].
///
/// ```
/// use tower::Layer;
/// use tower_bearer::mcp::{McpScopeLayer, McpScopePolicy};
/// let svc = McpScopeLayer::new(McpScopePolicy::new()).layer(3_u8);
/// assert_eq!(*svc.get_ref(), 3);
/// ```
#[derive(Clone, Debug)]
pub struct McpScope<S> {
    inner: S,
    layer: McpScopeLayer,
}

impl<S> McpScope<S> {
    crate::macros::inner_service_accessors!(
        r#"```
use tower::Layer;
use tower_bearer::mcp::{McpScopeLayer, McpScopePolicy};
let mut svc = McpScopeLayer::new(McpScopePolicy::new()).layer(1_u8);
*svc.get_mut() += 1;
assert_eq!(svc.into_inner(), 2);
```
"#
    );
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for McpScope<S>
where
    S: Service<Request<Full<Bytes>>, Response = Response<ResBody>> + Clone,
    ReqBody: Body,
    ReqBody::Error: Into<BoxError>,
    ResBody: ResponseBody,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = McpScopeFuture<S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        // MCP 2026-07-28: the headers name the operation, and the body must
        // agree (else 400, JSON-RPC -32020) before any scope decision: a
        // header is never judged alone, so a mismatch is always reported as
        // one. Unreadable headers are answered once the body gives the
        // request's id.
        let stateless = req.method() == Method::POST && revision::declares_stateless(req.headers());
        let named = if stateless {
            headers::read(req.headers())
        } else {
            Ok(None)
        };
        let clone = self.inner.clone();
        let inner = mem::replace(&mut self.inner, clone);
        let (parts, body) = req.into_parts();
        McpScopeFuture {
            policy: self.layer.policy.clone(),
            state: ScopeState::Collect {
                collect: Limited::new(body, self.layer.limit).collect(),
                pending: Some((inner, parts)),
                stateless,
                named,
            },
        }
    }
}

pin_project! {
    /// Response future of [`McpScope`]: buffers the body, checks, calls the inner service.
    pub struct McpScopeFuture<S, ReqBody>
    where
        S: Service<Request<Full<Bytes>>>,
        ReqBody: Body,
        ReqBody::Error: Into<BoxError>,
    {
        policy: std::sync::Arc<McpScopePolicy>,
        #[pin]
        state: ScopeState<S, ReqBody>,
    }
}

pin_project! {
    #[project = ScopeStateProj]
    enum ScopeState<S, ReqBody>
    where
        S: Service<Request<Full<Bytes>>>,
        ReqBody: Body,
        ReqBody::Error: Into<BoxError>,
    {
        Collect {
            #[pin]
            collect: Collect<Limited<ReqBody>>,
            pending: Option<(S, Parts)>,
            stateless: bool,
            named: Result<Option<headers::Named>, &'static str>,
        },
        Inner {
            #[pin]
            future: S::Future,
        },
    }
}

impl<S, ReqBody> fmt::Debug for McpScopeFuture<S, ReqBody>
where
    S: Service<Request<Full<Bytes>>>,
    ReqBody: Body,
    ReqBody::Error: Into<BoxError>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("McpScopeFuture").finish_non_exhaustive()
    }
}

fn status<B: Default>(status: StatusCode) -> Response<B> {
    let mut res = Response::new(B::default());
    *res.status_mut() = status;
    res
}

impl<S, ReqBody, ResBody> Future for McpScopeFuture<S, ReqBody>
where
    S: Service<Request<Full<Bytes>>, Response = Response<ResBody>>,
    ReqBody: Body,
    ReqBody::Error: Into<BoxError>,
    ResBody: ResponseBody,
{
    type Output = Result<Response<ResBody>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                ScopeStateProj::Collect {
                    collect,
                    pending,
                    stateless,
                    named,
                } => {
                    let collected = ready!(collect.poll(cx));
                    let (mut inner, parts) = pending.take().expect("McpScopeFuture polled after completion");
                    let bytes = match collected {
                        Ok(collected) => {
                            let mut buf = collected.aggregate();
                            buf.copy_to_bytes(buf.remaining())
                        }
                        Err(error) if error.is::<LengthLimitError>() => {
                            return Poll::Ready(Ok(status(StatusCode::PAYLOAD_TOO_LARGE)));
                        }
                        Err(error) => {
                            tracing::debug!(%error, "MCP request body could not be read");
                            return Poll::Ready(Ok(status(StatusCode::BAD_REQUEST)));
                        }
                    };
                    let required = if *stateless {
                        let named = named.as_ref().map(Option::as_ref).map_err(|reason| *reason);
                        match this.policy.required_for_stateless_body(&bytes, named) {
                            Ok(required) => required,
                            Err(BodyError::JsonRpc(error)) => return Poll::Ready(Ok(error.response())),
                            Err(BodyError::Headers(message, id)) => {
                                return Poll::Ready(Ok(headers::mismatch(message, id.as_deref())));
                            }
                        }
                    } else if parts.method == Method::POST {
                        match this.policy.required_for_body(&bytes) {
                            Ok(required) => required,
                            Err(error) => return Poll::Ready(Ok(error.response())),
                        }
                    } else {
                        this.policy.base.clone()
                    };
                    if let Err(refusal) = check_scopes(&parts.extensions, &required, &this.policy.hierarchy) {
                        return Poll::Ready(Ok(refusal));
                    }
                    let future = inner.call(Request::from_parts(parts, Full::new(bytes)));
                    this.state.set(ScopeState::Inner { future });
                }
                ScopeStateProj::Inner { future } => return future.poll(cx),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> McpScopePolicy {
        McpScopePolicy::new()
            .base(["mcp:read"])
            .and_then(|p| p.method("resources/read", ["files:read"]))
            .and_then(|p| p.tool("delete_note", ["mcp:write"]))
            .and_then(|p| p.unlisted_tools(["mcp:admin"]))
            .unwrap()
    }

    #[test]
    fn every_setter_refuses_scopes_that_cannot_be_required_naming_itself() {
        let p = McpScopePolicy::new;
        let cases = [
            (p().base(["a", "offline_access"]), "McpScopePolicy::base"),
            (p().method("m", ["offline_access"]), "McpScopePolicy::method"),
            (p().tool("t", ["offline_access"]), "McpScopePolicy::tool"),
            (
                p().unlisted_tools(["offline_access"]),
                "McpScopePolicy::unlisted_tools",
            ),
        ];
        for (result, field) in cases {
            let error = result.unwrap_err();
            assert_eq!(error, ScopeError::OfflineAccess { field });
            assert!(error.to_string().starts_with(&format!("{field}: ")), "{error}");
        }
        let error = p().tool("t", ["a\"b"]).unwrap_err();
        assert_eq!(
            error,
            ScopeError::NotScopeToken {
                field: "McpScopePolicy::tool",
                scope: "a\"b".into()
            }
        );
        assert!(error.to_string().starts_with("McpScopePolicy::tool: "), "{error}");
    }

    fn req(body: &str) -> Result<String, JsonRpcError> {
        policy().required_for_body(body.as_bytes()).map(|s| s.to_string())
    }

    #[test]
    fn union_is_the_set_union_and_shares_what_it_can() {
        let sets = ["", "a", "b", "a b", "b c", "a b c"].map(Scopes::parse);
        for a in &sets {
            for b in &sets {
                let naive: Scopes = a.iter().chain(b.iter()).collect();
                let u = union(a, b);
                assert_eq!(u, naive, "{a} ∪ {b}");
                // Shared, not copied: the scope strings are the very same allocations.
                let first = |s: &Scopes| s.iter().next().map(str::as_ptr);
                if a.contains_all(b) {
                    assert_eq!(first(&u), first(a), "{a} ∪ {b} shares {a}");
                } else if b.contains_all(a) {
                    assert_eq!(first(&u), first(b), "{a} ∪ {b} shares {b}");
                }
            }
        }
    }

    #[test]
    fn scopes_per_operation() {
        assert_eq!(
            req(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#).unwrap(),
            "mcp:read"
        );
        assert_eq!(
            req(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).unwrap(),
            "mcp:read"
        );
        assert_eq!(
            req(r#"{"jsonrpc":"2.0","id":1,"result":{}}"#).unwrap(),
            "mcp:read"
        );
        assert_eq!(
            req(r#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"x"}}"#).unwrap(),
            "files:read mcp:read"
        );
        assert_eq!(
            req(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_note"}}"#).unwrap(),
            "mcp:read mcp:write"
        );
        // Escapes are decoded as any JSON parser would.
        assert_eq!(
            req(r#"{"jsonrpc":"2.0","id":1,"method":"tools\/call","params":{"name":"delete\u005fnote"}}"#)
                .unwrap(),
            "mcp:read mcp:write"
        );
        // Unlisted or missing tool names fall to the unlisted scopes.
        assert_eq!(
            req(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"other"}}"#).unwrap(),
            "mcp:admin mcp:read"
        );
        assert_eq!(
            req(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#).unwrap(),
            "mcp:admin mcp:read"
        );
    }

    #[test]
    fn batches_need_the_union() {
        let batch = r#"[{"jsonrpc":"2.0","id":1,"method":"tools/list"},
                        {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"delete_note"}}]"#;
        assert_eq!(req(batch).unwrap(), "mcp:read mcp:write");
        assert_eq!(req(" [] "), Err(JsonRpcError::InvalidRequest));
    }

    #[test]
    fn ambiguous_or_malformed_bodies_are_refused() {
        for bad in [
            "",
            "not json",
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call","params":{"name":"delete_note"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","name":"delete_note"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":7}"#,
            r#"[[{"jsonrpc":"2.0","id":1,"method":"tools/list"}]]"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"} trailing"#,
            "42",
        ] {
            assert_eq!(req(bad), Err(JsonRpcError::Parse), "{bad}");
        }
    }
}
