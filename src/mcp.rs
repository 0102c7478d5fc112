//! The MCP resource-server duties beyond verifying tokens (MCP authorization
//! spec 2025-11-25, security best practices, streamable HTTP transport).
//!
//! - [`McpSessionLayer`]: binds each `Mcp-Session-Id` to the [`Principal`](crate::Principal)
//!   that created it; other principals get the transport's own 404. Owners live
//!   in a [`SessionStore`] ([`MemorySessionStore`] by default; a shared store
//!   such as Redis serves several replicas).
//! - [`McpScopeLayer`]: per-operation scopes from the JSON-RPC body
//!   (`tools/call` + `params.name`), with step-up challenges.
//! - [`StateSealer`]: request state (`requestState`, MCP 2026-07-28 multi
//!   round trips) sealed for one principal and one request, opened once.
//! - [`HandleKey`]: the storage key of a server-minted handle for its owner, so
//!   that a leaked handle opens nothing for another principal.
//!
//! Which check serves which revision (both on one endpoint; the revision is the
//! request's `MCP-Protocol-Version`):
//!
//! | check | 2025-11-25 (sessions) | 2026-07-28 (stateless) |
//! |---|---|---|
//! | token, audience, DPoP ([`TokenVerifierLayer`](crate::TokenVerifierLayer)) | yes | yes |
//! | session bound to its principal ([`McpSessionLayer`]) | yes | passes through: no session |
//! | per-operation scopes ([`McpScopeLayer`]) | from the body | `Mcp-Method` / `Mcp-Name` first, the body must agree (else 400 `-32020`) |
//! | state across requests | the session | [`StateSealer`] for `requestState`; [`HandleKey`] for stored state |
//!
//! A typical stack, outermost first:
//! [`OriginLayer`](crate::origin::OriginLayer) →
//! [`TokenVerifierLayer`](crate::TokenVerifierLayer) → [`McpSessionLayer`] →
//! [`McpScopeLayer`] → the MCP service (e.g. rmcp's `StreamableHttpService`).
//!
//! [`McpScopeLayer`] reads the body before the MCP service may see the request,
//! so its response future owns the inner service: it clones it once per request,
//! the usual tower pattern. rmcp's `StreamableHttpService` copies its whole
//! configuration on each clone; share it behind an `Arc` and call its `handle`
//! method, as the quickstart's `SharedMcp` does (`examples/mcp_server.rs`).
//!
//! ```
//! use tower::ServiceBuilder;
//! use tower_bearer::TokenVerifierLayer;
//! use tower_bearer::mcp::{McpScopeLayer, McpScopePolicy, McpSessionLayer};
//! use tower_bearer::origin::OriginLayer;
//! use tower_bearer::scope::ScopeHierarchy;
//! # use tower_bearer::{AccessToken, InvalidToken, TokenVerifier, VerifyError};
//! # struct MyVerifier;
//! # impl TokenVerifier for MyVerifier {
//! #     async fn verify(&self, _: &str) -> Result<AccessToken, VerifyError> { Err(InvalidToken::Unknown.into()) }
//! # }
//!
//! let policy = McpScopePolicy::new()
//!     .hierarchy(ScopeHierarchy::chain(["mcp:admin", "mcp:write", "mcp:read"])?)
//!     .base(["mcp:read"])?
//!     .tool("search", ["mcp:read"])?
//!     .tool("delete_note", ["mcp:write"])?
//!     .unlisted_tools(["mcp:admin"])?;
//! let svc = ServiceBuilder::new()
//!     .layer(OriginLayer::new(["https://app.example"])?)
//!     .layer(TokenVerifierLayer::new(MyVerifier)
//!         .resource_metadata("https://api.example/.well-known/oauth-protected-resource/mcp")?)
//!     .layer(McpSessionLayer::new())
//!     .layer(McpScopeLayer::new(policy))
//!     // rmcp's StreamableHttpService goes here; any service taking
//!     // `Request<Full<Bytes>>` does.
//!     .service_fn(|_req: http::Request<http_body_util::Full<bytes::Bytes>>| async {
//!         Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
//!     });
//! # let _ = svc;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod auth;
mod body;
mod handle;
mod headers;
mod revision;
pub(crate) mod scopes;
mod session;
mod state;
mod store;

pub use auth::{McpAuthBuilder, McpAuthError, McpAuthLayer};
pub use body::ResponseBody;
pub use handle::HandleKey;
pub use scopes::{McpScope, McpScopeFuture, McpScopeLayer, McpScopePolicy};
pub use session::{
    BindingPolicy, MCP_SESSION_ID, McpSession, McpSessionLayer, SessionFuture, SessionNotFound,
};
pub use state::{StateConfigError, StateError, StateKey, StateRequest, StateSealer};
pub use store::{
    DEFAULT_SESSION_IDLE_TTL, DynSessionStore, MemorySessionStore, MemorySessionStoreError, SessionKey,
    SessionOwner, SessionStore,
};
