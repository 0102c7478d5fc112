//! [`ResponseBody`]: response bodies the MCP layers can fill with a short message.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::combinators::{BoxBody, UnsyncBoxBody};
use http_body_util::{BodyExt, Full};

/// A response body type the MCP layers can answer with: the session layer's 404
/// ("Session not found", as the transport says it) and the scope layer's
/// JSON-RPC parse errors carry a body, so `Default` alone is not enough.
///
/// Implemented for axum's `Body` (feature `axum`), rmcp's response body
/// (`BoxBody<Bytes, Infallible>`, so `StreamableHttpService` can be wrapped
/// directly), `UnsyncBoxBody`, `Full<Bytes>`, `String`, `Vec<u8>` and `Bytes`.
/// Implement it for your own body type if needed.
///
/// ```
/// use tower_bearer::mcp::ResponseBody;
/// let body = <String as ResponseBody>::from_bytes("Session not found".into());
/// assert_eq!(body, "Session not found");
/// ```
pub trait ResponseBody: Default {
    /// A body holding exactly `bytes`.
    fn from_bytes(bytes: Bytes) -> Self;
}

impl<E: 'static> ResponseBody for BoxBody<Bytes, E> {
    fn from_bytes(bytes: Bytes) -> Self {
        Full::new(bytes)
            .map_err(|never: Infallible| match never {})
            .boxed()
    }
}

impl<E: 'static> ResponseBody for UnsyncBoxBody<Bytes, E> {
    fn from_bytes(bytes: Bytes) -> Self {
        Full::new(bytes)
            .map_err(|never: Infallible| match never {})
            .boxed_unsync()
    }
}

impl ResponseBody for Full<Bytes> {
    fn from_bytes(bytes: Bytes) -> Self {
        Full::new(bytes)
    }
}

impl ResponseBody for Bytes {
    fn from_bytes(bytes: Bytes) -> Self {
        bytes
    }
}

impl ResponseBody for Vec<u8> {
    fn from_bytes(bytes: Bytes) -> Self {
        bytes.into()
    }
}

impl ResponseBody for String {
    fn from_bytes(bytes: Bytes) -> Self {
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
impl ResponseBody for axum_core::body::Body {
    fn from_bytes(bytes: Bytes) -> Self {
        bytes.into()
    }
}
