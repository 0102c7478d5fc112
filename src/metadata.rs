//! OAuth 2.0 Protected Resource Metadata (RFC 9728): the document that tells
//! clients (MCP clients first) which authorization servers issue tokens for this
//! resource, and the service that serves it.
//!
//! The document is derived from a [`Resource`](crate::Resource), like every
//! other thing that names the resource:
//!
//! ```
//! use tower_bearer::Resource;
//!
//! let resource = Resource::builder("https://api.example.com/mcp")
//!     .authorization_server("https://auth.example.com")
//!     .scopes_supported(["mcp:read", "mcp:write"])
//!     .build()
//!     .unwrap();
//! let metadata = resource.metadata();
//! assert_eq!(metadata.well_known_path(), "/.well-known/oauth-protected-resource/mcp");
//! assert_eq!(
//!     metadata.metadata_url(),
//!     "https://api.example.com/.well-known/oauth-protected-resource/mcp"
//! );
//!
//! // With axum: serve it at both well-known paths.
//! let mut app = axum::Router::new();
//! for path in resource.well_known_paths() {
//!     app = app.route_service(&path, resource.metadata_service());
//! }
//! # let _: axum::Router = app;
//! ```

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN, ALLOW,
    CACHE_CONTROL, CONTENT_TYPE,
};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use serde::{Deserialize, Serialize};
use tower_service::Service;

use crate::Scopes;

/// The RFC 9728 well-known URI suffix.
pub const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// An RFC 9728 protected resource metadata document.
///
/// The `resource` is canonicalised when set: scheme and host lower-cased, no
/// trailing slash, no query or fragment. `offline_access` is never advertised in
/// `scopes_supported`. `bearer_methods_supported` is `["header"]`.
///
/// See the [module docs](self) for an example.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtectedResourceMetadata {
    resource: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    authorization_servers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    scopes_supported: Vec<String>,
    bearer_methods_supported: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resource_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resource_documentation: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    dpop_signing_alg_values_supported: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dpop_bound_access_tokens_required: Option<bool>,
}

impl ProtectedResourceMetadata {
    /// The document of a resource whose values [`ResourceBuilder::build`](crate::ResourceBuilder::build) checked.
    pub(crate) fn for_resource(
        resource: String,
        authorization_servers: Vec<String>,
        scopes: &Scopes,
        resource_name: Option<String>,
        resource_documentation: Option<String>,
        dpop: &crate::dpop::Dpop,
    ) -> Self {
        use crate::dpop::DpopMode;
        let dpop_on = dpop.mode() != DpopMode::Off;
        ProtectedResourceMetadata {
            resource,
            authorization_servers,
            scopes_supported: scopes.iter().map(str::to_owned).collect(),
            bearer_methods_supported: vec!["header".into()],
            resource_name,
            resource_documentation,
            dpop_signing_alg_values_supported: if dpop_on {
                dpop.algorithm_list().map(str::to_owned).collect()
            } else {
                Vec::new()
            },
            dpop_bound_access_tokens_required: dpop_on.then_some(dpop.mode() == DpopMode::Required),
        }
    }

    /// The canonical resource identifier.
    ///
    /// See the [module docs](self) for an example.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The authorization servers.
    ///
    /// ```
    /// let r = tower_bearer::Resource::builder("https://r.example").authorization_server("https://as.example").build().unwrap();
    /// assert_eq!(r.metadata().authorization_servers(), ["https://as.example"]);
    /// ```
    pub fn authorization_servers(&self) -> &[String] {
        &self.authorization_servers
    }

    /// The advertised scopes.
    ///
    /// ```
    /// let r = tower_bearer::Resource::builder("https://r.example").scopes_supported(["a", "offline_access"]).build().unwrap();
    /// assert_eq!(r.metadata().scopes(), ["a"]);
    /// ```
    pub fn scopes(&self) -> &[String] {
        &self.scopes_supported
    }

    /// The path the document is served at (RFC 9728 §3.1): the well-known
    /// segment inserted before the resource's path.
    ///
    /// See the [module docs](self) for an example.
    pub fn well_known_path(&self) -> String {
        format!("{WELL_KNOWN}{}", resource_path(&self.resource))
    }

    /// The path-suffixed well-known path and, when different, the root one
    /// (`/.well-known/oauth-protected-resource`), which some clients try first.
    ///
    /// ```
    /// let r = tower_bearer::Resource::builder("https://r.example/mcp").build().unwrap();
    /// assert_eq!(r.metadata().well_known_paths(), ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"]);
    /// ```
    pub fn well_known_paths(&self) -> Vec<String> {
        let suffixed = self.well_known_path();
        if suffixed == WELL_KNOWN {
            vec![suffixed]
        } else {
            vec![suffixed, WELL_KNOWN.to_owned()]
        }
    }

    /// The absolute URL of the document, which challenges name in
    /// `resource_metadata` ([`Resource::metadata_url`](crate::Resource::metadata_url)).
    ///
    /// See the [module docs](self) for an example.
    pub fn metadata_url(&self) -> String {
        let path = resource_path(&self.resource);
        let origin = &self.resource[..self.resource.len() - path.len()];
        format!("{origin}{}", self.well_known_path())
    }
}

/// The path of an absolute canonical URL (`""` when it has none).
pub(crate) fn resource_path(resource: &str) -> &str {
    let after_scheme = resource.find("://").map_or(0, |i| i + 3);
    resource[after_scheme..]
        .find('/')
        .map_or("", |i| &resource[after_scheme + i..])
}

/// Serves a [`ProtectedResourceMetadata`] document; see
/// [`Resource::metadata_service`](crate::Resource::metadata_service).
///
/// ```
/// use tower::ServiceExt;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let svc = tower_bearer::Resource::builder("https://r.example").build().unwrap().metadata_service();
/// let res = svc.oneshot(http::Request::new(())).await.unwrap();
/// assert_eq!(res.status(), 200);
/// assert_eq!(res.headers()["access-control-allow-origin"], "*");
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct MetadataService {
    body: Bytes,
}

impl MetadataService {
    /// Serves `body`, the document already written as JSON.
    pub(crate) fn new(body: Bytes) -> Self {
        MetadataService { body }
    }
}

impl<B> Service<Request<B>> for MetadataService {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let (status, body) = match *req.method() {
            Method::GET => (StatusCode::OK, self.body.clone()),
            Method::HEAD => (StatusCode::OK, Bytes::new()),
            Method::OPTIONS => (StatusCode::NO_CONTENT, Bytes::new()),
            _ => (StatusCode::METHOD_NOT_ALLOWED, Bytes::new()),
        };
        let mut res = Response::new(Full::new(body));
        *res.status_mut() = status;
        let headers = res.headers_mut();
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        match status {
            StatusCode::OK => {
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                headers.insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
            }
            StatusCode::NO_CONTENT => {
                headers.insert(
                    ACCESS_CONTROL_ALLOW_METHODS,
                    HeaderValue::from_static("GET, HEAD, OPTIONS"),
                );
                headers.insert(
                    ACCESS_CONTROL_ALLOW_HEADERS,
                    HeaderValue::from_static("mcp-protocol-version, content-type"),
                );
            }
            _ => {
                headers.insert(ALLOW, HeaderValue::from_static("GET, HEAD, OPTIONS"));
            }
        }
        ready(Ok(res))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Resource;

    fn metadata(resource: &str) -> ProtectedResourceMetadata {
        Resource::builder(resource).build().unwrap().metadata().clone()
    }

    #[test]
    fn canonical_resource_and_paths() {
        let m = metadata("HTTPS://Api.Example.COM:443/mcp/");
        assert_eq!(m.resource(), "https://api.example.com/mcp");
        assert_eq!(
            m.metadata_url(),
            "https://api.example.com/.well-known/oauth-protected-resource/mcp"
        );
        let root = metadata("http://127.0.0.1:7000");
        assert_eq!(root.resource(), "http://127.0.0.1:7000");
        assert_eq!(root.well_known_paths(), [WELL_KNOWN]);
        assert_eq!(
            root.metadata_url(),
            "http://127.0.0.1:7000/.well-known/oauth-protected-resource"
        );
    }

    #[test]
    fn document_shape() {
        let r = Resource::builder("https://r.example/mcp")
            .authorization_server("https://as.example")
            .scopes_supported(["mcp:read offline_access"])
            .dpop(crate::dpop::Dpop::off())
            .build()
            .unwrap();
        let v = serde_json::to_value(r.metadata()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "resource": "https://r.example/mcp",
                "authorization_servers": ["https://as.example"],
                "scopes_supported": ["mcp:read"],
                "bearer_methods_supported": ["header"],
            })
        );
    }
}
