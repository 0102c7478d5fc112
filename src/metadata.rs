//! OAuth 2.0 Protected Resource Metadata (RFC 9728): the document that tells
//! clients (MCP clients first) which authorization servers issue tokens for this
//! resource, and the service that serves it.
//!
//! ```
//! use tower_bearer::{Scopes, metadata::ProtectedResourceMetadata};
//!
//! let metadata = ProtectedResourceMetadata::new("https://api.example.com/mcp")
//!     .authorization_server("https://auth.example.com")
//!     .scopes_supported(Scopes::parse("mcp:read mcp:write"));
//! assert_eq!(metadata.well_known_path(), "/.well-known/oauth-protected-resource/mcp");
//! assert_eq!(
//!     metadata.metadata_url(),
//!     "https://api.example.com/.well-known/oauth-protected-resource/mcp"
//! );
//!
//! // With axum: serve it at both well-known paths.
//! let mut app = axum::Router::new();
//! for path in metadata.well_known_paths() {
//!     app = app.route_service(&path, metadata.service());
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
    /// A document for `resource`, the URL clients use as the RFC 8707 resource
    /// indicator and that tokens carry in `aud`.
    ///
    /// # Panics
    /// If `resource` is not an absolute `http`/`https` URL, or has a query or a
    /// fragment.
    ///
    /// ```
    /// use tower_bearer::metadata::ProtectedResourceMetadata;
    /// let m = ProtectedResourceMetadata::new("HTTPS://API.Example.com/mcp/");
    /// assert_eq!(m.resource(), "https://api.example.com/mcp");
    /// ```
    pub fn new(resource: &str) -> Self {
        ProtectedResourceMetadata {
            resource: canonical(resource),
            authorization_servers: Vec::new(),
            scopes_supported: Vec::new(),
            bearer_methods_supported: vec!["header".into()],
            resource_name: None,
            resource_documentation: None,
            dpop_signing_alg_values_supported: Vec::new(),
            dpop_bound_access_tokens_required: None,
        }
    }

    /// Advertises the layer's DPoP configuration (RFC 9728 §2):
    /// `dpop_signing_alg_values_supported` and
    /// `dpop_bound_access_tokens_required`; nothing when DPoP is off.
    ///
    /// ```
    /// use tower_bearer::{dpop::Dpop, metadata::ProtectedResourceMetadata};
    /// let m = ProtectedResourceMetadata::new("https://r.example/mcp").dpop(&Dpop::required());
    /// let doc = serde_json::to_value(&m).unwrap();
    /// assert_eq!(doc["dpop_bound_access_tokens_required"], true);
    /// assert_eq!(doc["dpop_signing_alg_values_supported"][0], "RS256");
    /// ```
    #[must_use]
    pub fn dpop(mut self, dpop: &crate::dpop::Dpop) -> Self {
        use crate::dpop::DpopMode;
        let on = dpop.mode() != DpopMode::Off;
        self.dpop_signing_alg_values_supported = if on {
            dpop.algorithm_list().map(str::to_owned).collect()
        } else {
            Vec::new()
        };
        self.dpop_bound_access_tokens_required = on.then_some(dpop.mode() == DpopMode::Required);
        self
    }

    /// Adds an authorization server (its issuer identifier, exactly as it
    /// appears in its own metadata: MCP clients compare them literally).
    ///
    /// See the [module docs](self) for an example.
    #[must_use]
    pub fn authorization_server(mut self, issuer: impl Into<String>) -> Self {
        self.authorization_servers.push(issuer.into());
        self
    }

    /// The scopes clients may request for this resource (`offline_access` is left out).
    ///
    /// See the [module docs](self) for an example.
    #[must_use]
    pub fn scopes_supported(mut self, scopes: Scopes) -> Self {
        crate::scope::scope_tokens("scopes_supported", &scopes).unwrap_or_else(|e| panic!("{e}"));
        self.scopes_supported = scopes.challengeable().map(str::to_owned).collect();
        self
    }

    /// A human-readable name.
    ///
    /// ```
    /// let _ = tower_bearer::metadata::ProtectedResourceMetadata::new("https://r.example").resource_name("Demo MCP");
    /// ```
    #[must_use]
    pub fn resource_name(mut self, name: impl Into<String>) -> Self {
        self.resource_name = Some(name.into());
        self
    }

    /// A URL of human-readable documentation.
    ///
    /// ```
    /// let _ = tower_bearer::metadata::ProtectedResourceMetadata::new("https://r.example")
    ///     .resource_documentation("https://r.example/docs");
    /// ```
    #[must_use]
    pub fn resource_documentation(mut self, url: impl Into<String>) -> Self {
        self.resource_documentation = Some(url.into());
        self
    }

    /// The canonical resource identifier.
    ///
    /// See [`ProtectedResourceMetadata::new`] for an example.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The authorization servers.
    ///
    /// ```
    /// let m = tower_bearer::metadata::ProtectedResourceMetadata::new("https://r.example").authorization_server("https://as");
    /// assert_eq!(m.authorization_servers(), ["https://as"]);
    /// ```
    pub fn authorization_servers(&self) -> &[String] {
        &self.authorization_servers
    }

    /// The advertised scopes.
    ///
    /// ```
    /// use tower_bearer::{Scopes, metadata::ProtectedResourceMetadata};
    /// let m = ProtectedResourceMetadata::new("https://r.example").scopes_supported(Scopes::parse("a offline_access"));
    /// assert_eq!(m.scopes(), ["a"]);
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
    /// let m = tower_bearer::metadata::ProtectedResourceMetadata::new("https://r.example/mcp");
    /// assert_eq!(m.well_known_paths(), ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"]);
    /// ```
    pub fn well_known_paths(&self) -> Vec<String> {
        let suffixed = self.well_known_path();
        if suffixed == WELL_KNOWN {
            vec![suffixed]
        } else {
            vec![suffixed, WELL_KNOWN.to_owned()]
        }
    }

    /// The absolute URL of the document: put it in challenges with
    /// [`TokenVerifierLayer::resource_metadata`](crate::TokenVerifierLayer::resource_metadata).
    ///
    /// See the [module docs](self) for an example.
    pub fn metadata_url(&self) -> String {
        let path = resource_path(&self.resource);
        let origin = &self.resource[..self.resource.len() - path.len()];
        format!("{origin}{}", self.well_known_path())
    }

    /// A tower service answering with this document (GET/HEAD; CORS for
    /// browser clients; `Cache-Control: public, max-age=3600`).
    ///
    /// See the [module docs](self) for an example.
    pub fn service(&self) -> MetadataService {
        MetadataService {
            body: Bytes::from(serde_json::to_vec(self).expect("metadata serialises")),
        }
    }
}

/// The path of an absolute canonical URL (`""` when it has none).
fn resource_path(resource: &str) -> &str {
    let after_scheme = resource.find("://").map_or(0, |i| i + 3);
    resource[after_scheme..]
        .find('/')
        .map_or("", |i| &resource[after_scheme + i..])
}

fn canonical(resource: &str) -> String {
    let canonical = crate::resource::canonical_resource(resource).unwrap_or_else(|| {
        panic!("resource {resource:?} must be an absolute http(s) URL without a fragment")
    });
    assert!(
        !canonical.contains('?'),
        "resource {resource:?} must not have a query"
    );
    canonical
}

/// Serves a [`ProtectedResourceMetadata`] document; see
/// [`ProtectedResourceMetadata::service`].
///
/// ```
/// use tower::ServiceExt;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let svc = tower_bearer::metadata::ProtectedResourceMetadata::new("https://r.example").service();
/// let res = svc.oneshot(http::Request::new(())).await.unwrap();
/// assert_eq!(res.status(), 200);
/// assert_eq!(res.headers()["access-control-allow-origin"], "*");
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct MetadataService {
    body: Bytes,
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

    #[test]
    fn canonical_resource_and_paths() {
        let m = ProtectedResourceMetadata::new("HTTPS://Api.Example.COM:443/mcp/");
        assert_eq!(m.resource(), "https://api.example.com/mcp");
        assert_eq!(
            m.metadata_url(),
            "https://api.example.com/.well-known/oauth-protected-resource/mcp"
        );
        let root = ProtectedResourceMetadata::new("http://127.0.0.1:7000");
        assert_eq!(root.resource(), "http://127.0.0.1:7000");
        assert_eq!(root.well_known_paths(), [WELL_KNOWN]);
        assert_eq!(
            root.metadata_url(),
            "http://127.0.0.1:7000/.well-known/oauth-protected-resource"
        );
    }

    #[test]
    fn document_shape() {
        let m = ProtectedResourceMetadata::new("https://r.example/mcp")
            .authorization_server("https://as.example")
            .scopes_supported(Scopes::parse("mcp:read offline_access"));
        let v = serde_json::to_value(&m).unwrap();
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

    #[test]
    #[should_panic(expected = "fragment")]
    fn resource_with_fragment_is_refused() {
        let _ = ProtectedResourceMetadata::new("https://r.example/mcp#x");
    }
}
