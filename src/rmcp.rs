//! rmcp integration (feature `rmcp`): [`Principal`] and [`AccessToken`] as
//! parameters of rmcp tool and prompt handlers.
//!
//! rmcp's streamable HTTP transport hands each handler the HTTP request's
//! parts; the token layer put the verified token and its principal there.
//! With this feature a handler names what it needs, with no lookup by hand:
//!
//! ```
//! use rmcp::{tool, tool_router, handler::server::router::tool::ToolRouter};
//! use tower_bearer::{AccessToken, Principal};
//!
//! #[derive(Clone)]
//! struct Notes {
//!     tool_router: ToolRouter<Self>,
//! }
//!
//! #[tool_router]
//! impl Notes {
//!     #[tool(description = "Who is calling")]
//!     async fn whoami(&self, principal: Principal) -> String {
//!         principal.subject().unwrap_or("a client").to_owned()
//!     }
//!
//!     #[tool(description = "The scopes of the caller's token")]
//!     async fn scopes(&self, token: AccessToken) -> String {
//!         token.scopes().to_string()
//!     }
//! }
//! # let _ = Notes { tool_router: Notes::tool_router() };
//! ```
//!
//! A handler that takes one of them refuses a request that reached it without
//! a verified token (a route outside the token layer, or one that lets
//! anonymous requests through) with JSON-RPC `-32600`; read
//! `Extension<http::request::Parts>` where a token is optional.

use rmcp::handler::server::common::{AsRequestContext, FromContextPart};

use crate::{AccessToken, Principal};

/// The `T` the token layer put into the request the handler serves.
fn verified<T, C>(context: &C) -> Result<T, rmcp::ErrorData>
where
    T: Clone + Send + Sync + 'static,
    C: AsRequestContext,
{
    context
        .as_request_context()
        .extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<T>())
        .cloned()
        .ok_or_else(|| {
            rmcp::ErrorData::invalid_request(
                "no verified access token: this handler is served without tower-bearer's token layer",
                None,
            )
        })
}

impl<C: AsRequestContext> FromContextPart<C> for Principal {
    fn from_context_part(context: &mut C) -> Result<Self, rmcp::ErrorData> {
        verified(context)
    }
}

impl<C: AsRequestContext> FromContextPart<C> for AccessToken {
    fn from_context_part(context: &mut C) -> Result<Self, rmcp::ErrorData> {
        verified(context)
    }
}
