//! The protected resource: [`Resource`], the one value everything about "this
//! resource" derives from, and the RFC 8707 audience check.
//!
//! A resource server is one resource, identified by the public URL its clients
//! use. That URL appears in five places that must agree: the tokens' audience,
//! the RFC 9728 metadata document (and its URL in every challenge), the
//! `scopes_supported` a challenge may name, and the origin DPoP proofs name in
//! `htu`. Build a [`Resource`] once and derive them all from it:
//!
//! ```
//! use tower_bearer::{Resource, ResourceError};
//!
//! let resource = Resource::builder("https://api.example.com/mcp")
//!     .authorization_server("https://auth.example.com")
//!     .scopes_supported(["mcp:read", "mcp:write"])
//!     .build()?;
//! assert_eq!(resource.identifier(), "https://api.example.com/mcp");
//! assert_eq!(
//!     resource.metadata_url(),
//!     "https://api.example.com/.well-known/oauth-protected-resource/mcp"
//! );
//!
//! // A mistake is an error at start-up that names the field, never a panic.
//! let error = Resource::builder("https://api.example.com/mcp#tools").build().unwrap_err();
//! assert!(matches!(error, ResourceError::Identifier { .. }));
//! assert!(error.to_string().starts_with("resource identifier"));
//! # Ok::<(), ResourceError>(())
//! ```
//!
//! A token is accepted only when one of its audiences *is* this resource:
//! [`audience_matches`] compares canonical forms for equality. Scheme and host
//! are case-insensitive and a default port or a trailing slash changes nothing,
//! but a prefix, a sub-path, another port or another query is a different
//! resource.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

use crate::dpop::{Dpop, PublicUrl};
use crate::metadata::{MetadataService, ProtectedResourceMetadata};
use crate::{Challenge, Scopes, TokenVerifier, TokenVerifierLayer};

use url::Url;

/// This resource server: its identifier, RFC 9728 metadata, the scopes it
/// supports and its DPoP settings, validated once.
///
/// Everything that names the resource derives from this value, so it cannot
/// disagree with itself:
///
/// | derived | from |
/// |---|---|
/// | the metadata document and its service ([`metadata`](Self::metadata), [`metadata_service`](Self::metadata_service)) | identifier, authorization servers, scopes, DPoP |
/// | `resource_metadata` in every challenge ([`token_layer`](Self::token_layer)) | [`metadata_url`](Self::metadata_url) |
/// | the verifiers' audience (`JwtVerifierBuilder::resource`, `IntrospectionVerifierBuilder::resource`) | [`identifier`](Self::identifier) |
/// | the origin DPoP proofs must name in `htu`, scheme included | the identifier's origin (unless [`Dpop::public_url`] says otherwise) |
/// | the scopes an MCP scope policy may demand ([`McpAuthLayer`](crate::mcp::McpAuthLayer)) | [`scopes_supported`](Self::scopes_supported) |
///
/// Cheap to clone (shared).
///
/// ```
/// use axum::{Router, routing::get};
/// use tower_bearer::{Principal, Resource, jwt::JwtVerifier};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let resource = Resource::builder("https://api.example.com/mcp")
///     .authorization_server("https://auth.example.com")
///     .scopes_supported(["mcp:read", "mcp:write"])
///     .build()?;
/// let verifier = JwtVerifier::builder()
///     .issuer("https://auth.example.com")
///     .resource(&resource) // the audience
///     .discover()
///     .build()?;
/// let mut app = Router::new()
///     .route("/mcp", get(|who: Principal| async move { format!("{who:?}") }))
///     .layer(resource.token_layer(verifier));
/// for path in resource.well_known_paths() {
///     app = app.route_service(&path, resource.metadata_service());
/// }
/// # let _: Router = app;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Resource {
    inner: Arc<Inner>,
}

struct Inner {
    metadata: ProtectedResourceMetadata,
    metadata_url: String,
    body: Bytes,
    scopes: Scopes,
    challenge: Challenge,
    origin: PublicUrl,
    dpop: Arc<Dpop>,
}

impl fmt::Debug for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resource")
            .field("identifier", &self.identifier())
            .field("authorization_servers", &self.authorization_servers())
            .field("scopes_supported", &self.inner.scopes)
            .field("dpop", &self.inner.dpop)
            .finish()
    }
}

impl Resource {
    /// Starts a resource identified by `identifier`: the public URL clients
    /// use, which they send as the RFC 8707 `resource` and tokens carry in `aud`
    /// (for an MCP server, the URL of its MCP endpoint).
    ///
    /// See [`Resource`] for an example.
    pub fn builder(identifier: impl Into<String>) -> ResourceBuilder {
        ResourceBuilder {
            identifier: identifier.into(),
            authorization_servers: Vec::new(),
            scopes_supported: Vec::new(),
            resource_name: None,
            resource_documentation: None,
            dpop: Dpop::default(),
        }
    }

    /// The canonical resource identifier (scheme and host lower-case, no
    /// default port, no trailing slash).
    ///
    /// ```
    /// let r = tower_bearer::Resource::builder("HTTPS://API.Example.com:443/mcp/").build().unwrap();
    /// assert_eq!(r.identifier(), "https://api.example.com/mcp");
    /// ```
    pub fn identifier(&self) -> &str {
        self.inner.metadata.resource()
    }

    /// The authorization servers (issuer identifiers) clients are sent to.
    ///
    /// ```
    /// let r = tower_bearer::Resource::builder("https://r.example/mcp")
    ///     .authorization_server("https://as.example")
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(r.authorization_servers(), ["https://as.example"]);
    /// ```
    pub fn authorization_servers(&self) -> &[String] {
        self.inner.metadata.authorization_servers()
    }

    /// The scopes clients may ask for (without `offline_access`, which is
    /// never advertised).
    ///
    /// ```
    /// let r = tower_bearer::Resource::builder("https://r.example/mcp")
    ///     .scopes_supported(["mcp:read", "offline_access"])
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(r.scopes_supported().to_string(), "mcp:read");
    /// ```
    pub fn scopes_supported(&self) -> &Scopes {
        &self.inner.scopes
    }

    /// The RFC 9728 metadata document.
    ///
    /// ```
    /// let r = tower_bearer::Resource::builder("https://r.example/mcp").build().unwrap();
    /// assert_eq!(r.metadata().resource(), "https://r.example/mcp");
    /// ```
    pub fn metadata(&self) -> &ProtectedResourceMetadata {
        &self.inner.metadata
    }

    /// The absolute URL of the metadata document (RFC 9728 §3.1), which every
    /// challenge names in `resource_metadata`.
    ///
    /// See the [module docs](self) for an example.
    pub fn metadata_url(&self) -> &str {
        &self.inner.metadata_url
    }

    /// The paths to serve the metadata document at: the path-suffixed
    /// well-known path and, when different, the root one.
    ///
    /// ```
    /// let r = tower_bearer::Resource::builder("https://r.example/mcp").build().unwrap();
    /// assert_eq!(
    ///     r.well_known_paths(),
    ///     ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"]
    /// );
    /// ```
    pub fn well_known_paths(&self) -> Vec<String> {
        self.inner.metadata.well_known_paths()
    }

    /// A tower service answering with the metadata document (GET/HEAD; CORS for
    /// browser clients; `Cache-Control: public, max-age=3600`).
    ///
    /// ```
    /// use tower::ServiceExt;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let r = tower_bearer::Resource::builder("https://r.example/mcp").build().unwrap();
    /// let res = r.metadata_service().oneshot(http::Request::new(())).await.unwrap();
    /// assert_eq!(res.status(), 200);
    /// assert_eq!(res.headers()["access-control-allow-origin"], "*");
    /// # });
    /// ```
    pub fn metadata_service(&self) -> MetadataService {
        MetadataService::new(self.inner.body.clone())
    }

    /// The DPoP settings, with the resource's origin as the origin proofs name
    /// in `htu` (unless [`Dpop::public_url`] set another).
    ///
    /// ```
    /// use tower_bearer::{Resource, dpop::{Dpop, DpopMode}};
    /// let r = Resource::builder("https://r.example/mcp").dpop(Dpop::required()).build().unwrap();
    /// assert_eq!(r.dpop().mode(), DpopMode::Required);
    /// ```
    pub fn dpop(&self) -> &Dpop {
        &self.inner.dpop
    }

    /// The token layer for this resource: `resource_metadata` in every
    /// challenge, the resource's DPoP settings and origin. Shorthand for
    /// [`TokenVerifierLayer::new(verifier).resource(self)`](TokenVerifierLayer::resource).
    ///
    /// See [`Resource`] for an example.
    pub fn token_layer<V: TokenVerifier>(&self, verifier: V) -> TokenVerifierLayer<V> {
        TokenVerifierLayer::new(verifier).resource(self)
    }

    pub(crate) fn challenge(&self) -> &Challenge {
        &self.inner.challenge
    }

    pub(crate) fn origin(&self) -> &PublicUrl {
        &self.inner.origin
    }

    pub(crate) fn shared_dpop(&self) -> &Arc<Dpop> {
        &self.inner.dpop
    }
}

/// Builds a [`Resource`]; every value is checked by [`build`](Self::build).
///
/// See [`Resource`] for an example.
#[derive(Debug, Clone)]
#[must_use]
pub struct ResourceBuilder {
    identifier: String,
    authorization_servers: Vec<String>,
    scopes_supported: Vec<String>,
    resource_name: Option<String>,
    resource_documentation: Option<String>,
    dpop: Dpop,
}

impl ResourceBuilder {
    /// Adds an authorization server, by its issuer identifier exactly as it
    /// appears in its own metadata (MCP clients compare them literally): an
    /// `https` URL without query or fragment (`http` only on loopback, for
    /// development).
    ///
    /// See [`Resource`] for an example.
    pub fn authorization_server(mut self, issuer: impl Into<String>) -> Self {
        self.authorization_servers.push(issuer.into());
        self
    }

    /// The scopes clients may request (RFC 6749 scope-tokens; an item with
    /// spaces is split at them, as in a `scope` parameter; `offline_access` is
    /// accepted and left out of the document). Scope policies built on this
    /// resource may demand only these. May be called several times.
    ///
    /// ```
    /// use tower_bearer::{Resource, ResourceError};
    /// let r = Resource::builder("https://r.example/mcp").scopes_supported(["a", "b"]).build().unwrap();
    /// assert_eq!(r.metadata().scopes(), ["a", "b"]);
    /// let bad = Resource::builder("https://r.example/mcp").scopes_supported(["a\"b"]).build();
    /// assert!(matches!(bad, Err(ResourceError::Scope { .. })));
    /// ```
    pub fn scopes_supported<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.scopes_supported.extend(scopes.into_iter().flat_map(|s| {
            s.as_ref()
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        }));
        self
    }

    /// A human-readable name (`resource_name`).
    ///
    /// ```
    /// let r = tower_bearer::Resource::builder("https://r.example/mcp").resource_name("Notes").build().unwrap();
    /// # let _ = r;
    /// ```
    pub fn resource_name(mut self, name: impl Into<String>) -> Self {
        self.resource_name = Some(name.into());
        self
    }

    /// A URL of human-readable documentation (`resource_documentation`).
    ///
    /// ```
    /// let r = tower_bearer::Resource::builder("https://r.example/mcp")
    ///     .resource_documentation("https://r.example/docs")
    ///     .build()
    ///     .unwrap();
    /// # let _ = r;
    /// ```
    pub fn resource_documentation(mut self, url: impl Into<String>) -> Self {
        self.resource_documentation = Some(url.into());
        self
    }

    /// How DPoP (RFC 9449) is checked ([`Dpop::allowed`] by default). The
    /// metadata advertises it, and proofs must name the resource's origin in
    /// `htu` unless `dpop` has its own [`public_url`](Dpop::public_url).
    ///
    /// ```
    /// use tower_bearer::{Resource, dpop::Dpop};
    /// let r = Resource::builder("https://r.example/mcp").dpop(Dpop::required().server_nonces()?).build()?;
    /// assert_eq!(serde_json::to_value(r.metadata())?["dpop_bound_access_tokens_required"], true);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn dpop(mut self, dpop: Dpop) -> Self {
        self.dpop = dpop;
        self
    }

    /// Checks every value and builds the resource.
    ///
    /// # Errors
    /// A [`ResourceError`] naming the first bad field: the identifier is not an
    /// absolute `http`/`https` URL without query, fragment or user information;
    /// an authorization server is not an `https` issuer identifier (or `http`
    /// on loopback); a scope is not an RFC 6749 scope-token; the documentation
    /// URL is not an absolute `http`/`https` URL.
    pub fn build(self) -> Result<Resource, ResourceError> {
        let identifier = check_identifier(&self.identifier)?;
        for issuer in &self.authorization_servers {
            check_issuer(issuer)?;
        }
        if let Some(bad) = self.scopes_supported.iter().find(|s| !Scopes::is_scope_token(s)) {
            return Err(ResourceError::Scope { value: bad.clone() });
        }
        let scopes: Scopes = Scopes::from_iter(&self.scopes_supported)
            .challengeable()
            .collect();
        if let Some(docs) = &self.resource_documentation {
            match url::Url::parse(docs) {
                Ok(url) if matches!(url.scheme(), "http" | "https") => {}
                _ => {
                    return Err(ResourceError::Documentation { value: shown(docs) });
                }
            }
        }
        let path_len = crate::metadata::resource_path(&identifier).len();
        let origin = PublicUrl::parse(&identifier[..identifier.len() - path_len]).map_err(|_| {
            ResourceError::Identifier {
                value: shown(&self.identifier),
                reason: "no valid origin",
            }
        })?;
        let dpop = Arc::new(self.dpop.with_default_public_url(&origin));
        let metadata = ProtectedResourceMetadata::for_resource(
            identifier,
            self.authorization_servers,
            &scopes,
            self.resource_name,
            self.resource_documentation,
            &dpop,
        );
        let metadata_url = metadata.metadata_url();
        let body = Bytes::from(
            serde_json::to_vec(&metadata).map_err(|_| ResourceError::Identifier {
                value: shown(&self.identifier),
                reason: "the metadata document cannot be written",
            })?,
        );
        let challenge = Challenge::new()
            .resource_metadata(metadata_url.clone())
            .map_err(|_| ResourceError::Identifier {
                value: shown(&self.identifier),
                reason: "its metadata URL cannot be sent in a challenge",
            })?
            .with_dpop(&dpop);
        Ok(Resource {
            inner: Arc::new(Inner {
                metadata,
                metadata_url,
                body,
                scopes,
                challenge,
                origin,
                dpop,
            }),
        })
    }
}

/// Why a [`ResourceBuilder`] refused its configuration. Each message names the
/// field and shows the value with any user information removed.
///
/// ```
/// use tower_bearer::{Resource, ResourceError};
/// let e = Resource::builder("https://r.example/mcp")
///     .authorization_server("http://auth.example.com")
///     .build()
///     .unwrap_err();
/// assert_eq!(
///     e.to_string(),
///     r#"authorization server "http://auth.example.com": must be https (http only on loopback)"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResourceError {
    /// The resource identifier.
    #[error("resource identifier {value:?}: {reason}")]
    Identifier {
        /// The value given (user information removed).
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An authorization server's issuer identifier.
    #[error("authorization server {value:?}: {reason}")]
    AuthorizationServer {
        /// The value given (user information removed).
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A scope that is not an RFC 6749 scope-token.
    #[error("scopes_supported: {value:?} is not an RFC 6749 scope-token")]
    Scope {
        /// The value given.
        value: String,
    },
    /// The documentation URL.
    #[error("resource_documentation {value:?}: not an absolute http(s) URL")]
    Documentation {
        /// The value given (user information removed).
        value: String,
    },
}

/// The canonical identifier, or why `raw` cannot be one.
fn check_identifier(raw: &str) -> Result<String, ResourceError> {
    let refuse = |reason| ResourceError::Identifier {
        value: shown(raw),
        reason,
    };
    let url = Url::parse(raw).map_err(|_| refuse("not an absolute URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(refuse("scheme must be http or https"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("user information is not allowed"));
    }
    if url.fragment().is_some() {
        return Err(refuse("a fragment is not allowed (RFC 8707)"));
    }
    if url.query().is_some() {
        return Err(refuse("a query is not allowed (RFC 9728 §3.1)"));
    }
    canonical_resource(raw).ok_or_else(|| refuse("no host"))
}

/// An issuer identifier (RFC 8414 §2): https, no query or fragment; http only
/// on loopback.
fn check_issuer(raw: &str) -> Result<(), ResourceError> {
    let refuse = |reason| ResourceError::AuthorizationServer {
        value: shown(raw),
        reason,
    };
    let url = Url::parse(raw).map_err(|_| refuse("not an absolute URL"))?;
    match url.scheme() {
        "https" => {}
        "http" if crate::fetch::is_loopback(&url) => {}
        "http" => return Err(refuse("must be https (http only on loopback)")),
        _ => return Err(refuse("scheme must be https")),
    }
    if url.host_str().is_none() {
        return Err(refuse("no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("user information is not allowed"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(refuse("a query or fragment is not allowed (RFC 8414 §2)"));
    }
    Ok(())
}

/// `value` for an error message: user information (which may hold a password)
/// replaced by `***`.
fn shown(value: &str) -> String {
    match Url::parse(value) {
        Ok(mut url) if !url.username().is_empty() || url.password().is_some() => {
            let _ = url.set_username("***");
            let _ = url.set_password(None);
            url.to_string()
        }
        _ => value.to_owned(),
    }
}

/// The canonical form of an `http`/`https` resource identifier, or `None` when
/// `uri` is not one.
///
/// Canonical means: scheme and host lower-case, default port removed, dot
/// segments resolved, no trailing slash on the path (the root path is empty).
/// Identifiers with a fragment or user information are refused (RFC 8707 §2
/// forbids fragments; credentials have no place in an identifier).
pub(crate) fn canonical_resource(uri: &str) -> Option<String> {
    let url = Url::parse(uri).ok()?;
    if !matches!(url.scheme(), "http" | "https")
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return None;
    }
    let host = url.host_str()?;
    let mut out = String::with_capacity(uri.len());
    out.push_str(url.scheme());
    out.push_str("://");
    out.push_str(host);
    if let Some(port) = url.port() {
        out.push(':');
        out.push_str(&port.to_string());
    }
    out.push_str(url.path().trim_end_matches('/'));
    if let Some(query) = url.query() {
        out.push('?');
        out.push_str(query);
    }
    Some(out)
}

/// Whether the audience `presented` in a token names the `configured` resource.
///
/// For an `http`/`https` resource the canonical forms (scheme and host
/// lower-case, default port removed, no trailing slash) must be equal; any other configured audience (a URN,
/// an opaque API name) must be equal byte for byte. Never a prefix match.
///
/// ```
/// use tower_bearer::resource::audience_matches;
/// let mcp = "https://api.example/mcp";
/// assert!(audience_matches(mcp, "HTTPS://API.EXAMPLE/mcp"));
/// assert!(audience_matches(mcp, "https://api.example:443/mcp/"));
/// assert!(!audience_matches(mcp, "https://api.example/mcp/tools")); // sub-path
/// assert!(!audience_matches(mcp, "https://api.example/mc"));        // prefix
/// assert!(!audience_matches(mcp, "https://api.example/MCP"));       // paths are case-sensitive
/// assert!(!audience_matches(mcp, "https://api.example:8443/mcp"));
/// assert!(audience_matches("urn:example:api", "urn:example:api"));
/// ```
pub fn audience_matches(configured: &str, presented: &str) -> bool {
    // Equal strings have equal canonical forms: skip the parsing (and its
    // allocations) on the common path.
    if configured == presented {
        return true;
    }
    match canonical_resource(configured) {
        Some(configured) => canonical_resource(presented).is_some_and(|p| p == configured),
        None => configured == presented,
    }
}

/// The one audience check of every verifier: whether any presented `aud`
/// value names one of the `accepted` ones (the resource identifier, and the
/// values configured with `accept_audience`), by [`audience_matches`].
pub(crate) fn names_accepted_audience(accepted: &[String], presented: &[String]) -> bool {
    presented
        .iter()
        .any(|p| accepted.iter().any(|a| audience_matches(a, p)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpop::DpopMode;
    use proptest::prelude::*;

    #[test]
    fn everything_derives_from_the_identifier() {
        let r = Resource::builder("HTTPS://API.Example.com:443/mcp/")
            .authorization_server("https://auth.example.com")
            .scopes_supported(["mcp:write mcp:read", "offline_access"])
            .dpop(Dpop::required())
            .build()
            .unwrap();
        assert_eq!(r.identifier(), "https://api.example.com/mcp");
        assert_eq!(r.metadata().resource(), r.identifier());
        assert_eq!(
            r.metadata_url(),
            "https://api.example.com/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(r.challenge().resource_metadata_url(), Some(r.metadata_url()));
        assert_eq!(r.origin().as_str(), "https://api.example.com");
        assert_eq!(r.scopes_supported().to_string(), "mcp:read mcp:write");
        assert_eq!(r.dpop().mode(), DpopMode::Required);
        let doc: serde_json::Value = serde_json::from_slice(&r.inner.body).unwrap();
        assert_eq!(doc, serde_json::to_value(r.metadata()).unwrap());
        assert_eq!(
            doc["scopes_supported"],
            serde_json::json!(["mcp:read", "mcp:write"])
        );
        assert_eq!(doc["dpop_bound_access_tokens_required"], true);
        // A root resource: the origin is the identifier.
        let root = Resource::builder("http://127.0.0.1:7000/").build().unwrap();
        assert_eq!(root.identifier(), "http://127.0.0.1:7000");
        assert_eq!(root.origin().as_str(), "http://127.0.0.1:7000");
    }

    #[test]
    fn bad_identifiers_are_errors_that_name_the_field() {
        for (raw, reason) in [
            ("api.example.com/mcp", "not an absolute URL"),
            ("", "not an absolute URL"),
            ("ftp://api.example.com/mcp", "scheme must be http or https"),
            ("urn:example:api", "scheme must be http or https"),
            (
                "https://api.example.com/mcp#x",
                "a fragment is not allowed (RFC 8707)",
            ),
            (
                "https://api.example.com/mcp?x=1",
                "a query is not allowed (RFC 9728 §3.1)",
            ),
            (
                "https://user@api.example.com/mcp",
                "user information is not allowed",
            ),
        ] {
            let error = Resource::builder(raw).build().unwrap_err();
            assert!(
                matches!(&error, ResourceError::Identifier { reason: r, .. } if *r == reason),
                "{raw}: {error:?}"
            );
            assert!(error.to_string().starts_with("resource identifier"), "{error}");
        }
    }

    #[test]
    fn a_password_never_reaches_an_error() {
        for builder in [
            Resource::builder("https://user:s3cret@api.example.com/mcp"),
            Resource::builder("https://api.example.com/mcp")
                .authorization_server("https://u:s3cret@as.example"),
            Resource::builder("https://api.example.com/mcp")
                .resource_documentation("ftp://u:s3cret@docs.example"),
        ] {
            let error = builder.build().unwrap_err();
            let shown = format!("{error} {error:?}");
            assert!(!shown.contains("s3cret"), "{shown}");
            assert!(shown.contains("***"), "{shown}");
        }
    }

    #[test]
    fn bad_authorization_servers_scopes_and_documentation() {
        let base = || Resource::builder("https://api.example.com/mcp");
        for (issuer, reason) in [
            ("auth.example.com", "not an absolute URL"),
            ("http://auth.example.com", "must be https (http only on loopback)"),
            ("ftp://auth.example.com", "scheme must be https"),
            (
                "https://auth.example.com/?tenant=1",
                "a query or fragment is not allowed (RFC 8414 §2)",
            ),
            (
                "https://auth.example.com/#x",
                "a query or fragment is not allowed (RFC 8414 §2)",
            ),
        ] {
            let error = base().authorization_server(issuer).build().unwrap_err();
            assert_eq!(
                error,
                ResourceError::AuthorizationServer {
                    value: issuer.to_owned(),
                    reason
                }
            );
            assert!(error.to_string().starts_with("authorization server"), "{error}");
        }
        for loopback in [
            "http://127.0.0.1:9000",
            "http://localhost:9000/realms/x",
            "http://[::1]:1",
        ] {
            assert!(
                base().authorization_server(loopback).build().is_ok(),
                "{loopback}"
            );
        }
        for scope in ["a\"b", "a\\b", "caf\u{e9}"] {
            let error = base().scopes_supported([scope]).build().unwrap_err();
            assert_eq!(
                error,
                ResourceError::Scope {
                    value: scope.to_owned()
                }
            );
            assert!(error.to_string().starts_with("scopes_supported"), "{error}");
        }
        let error = base().resource_documentation("docs").build().unwrap_err();
        assert!(matches!(error, ResourceError::Documentation { .. }));
        assert!(error.to_string().starts_with("resource_documentation"), "{error}");
    }

    #[test]
    fn the_resource_origin_is_the_dpop_origin_unless_set() {
        let r = Resource::builder("http://127.0.0.1:7000/mcp").build().unwrap();
        assert_eq!(r.dpop().public_url_str(), Some("http://127.0.0.1:7000"));
        let own = PublicUrl::parse("https://edge.example/base").unwrap();
        let r = Resource::builder("https://api.example.com/mcp")
            .dpop(Dpop::allowed().public_url(own))
            .build()
            .unwrap();
        assert_eq!(r.dpop().public_url_str(), Some("https://edge.example/base"));
    }

    #[test]
    fn canonical_forms() {
        let cases = [
            ("https://api.example", Some("https://api.example")),
            ("https://api.example/", Some("https://api.example")),
            ("HTTPS://Api.EXAMPLE/Mcp", Some("https://api.example/Mcp")),
            ("http://127.0.0.1:80/mcp", Some("http://127.0.0.1/mcp")),
            (
                "https://api.example:8443/mcp",
                Some("https://api.example:8443/mcp"),
            ),
            ("https://api.example/a/../mcp", Some("https://api.example/mcp")),
            ("https://api.example/mcp?x=1", Some("https://api.example/mcp?x=1")),
            ("https://user@api.example/mcp", None),
            ("https://api.example/mcp#x", None),
            ("ftp://api.example/mcp", None),
            ("api.example/mcp", None),
            ("", None),
        ];
        for (input, expected) in cases {
            assert_eq!(canonical_resource(input).as_deref(), expected, "{input}");
        }
    }

    #[test]
    fn refuses_neighbours() {
        let configured = "https://api.example/mcp";
        for presented in [
            "https://api.example/mcp/x",
            "https://api.example/mcpx",
            "https://api.example",
            "https://api.example.evil/mcp",
            "http://api.example/mcp",
            "https://api.example/mcp?",
            "https://api.example/mcp#",
            "https://attacker@api.example/mcp",
            "not a url",
        ] {
            assert!(!audience_matches(configured, presented), "{presented}");
        }
        // A non-URL configured audience is never canonicalised.
        assert!(!audience_matches("my-api", "MY-API"));
    }

    fn host() -> impl Strategy<Value = String> {
        "[a-z][a-z0-9]{0,8}(\\.[a-z][a-z0-9]{0,8}){0,2}"
    }

    fn path() -> impl Strategy<Value = String> {
        prop::collection::vec("[A-Za-z0-9_~-]{1,6}", 0..4)
            .prop_map(|segs| segs.iter().map(|s| format!("/{s}")).collect::<String>())
    }

    proptest! {
        #[test]
        fn case_port_and_slash_variants_match(host in host(), path in path(), upper in any::<bool>(), port in any::<bool>(), slash in any::<bool>()) {
            let configured = format!("https://{host}{path}");
            let mut h = host.clone();
            let mut scheme = "https".to_owned();
            if upper { h = h.to_uppercase(); scheme = scheme.to_uppercase(); }
            let presented = format!("{scheme}://{h}{}{path}{}", if port { ":443" } else { "" }, if slash { "/" } else { "" });
            prop_assert!(audience_matches(&configured, &presented), "{} vs {}", configured, presented);
            prop_assert!(audience_matches(&presented, &configured));
        }

        #[test]
        fn extensions_never_match(host in host(), path in path(), extra in "[A-Za-z0-9_~-]{1,6}", sub in any::<bool>()) {
            let configured = format!("https://{host}{path}");
            let presented = if sub { format!("{configured}/{extra}") } else { format!("{configured}{extra}") };
            prop_assert!(!audience_matches(&configured, &presented));
            prop_assert!(!audience_matches(&presented, &configured));
        }

        #[test]
        fn canonical_is_idempotent(host in host(), path in path(), port in 1u16.., upper in any::<bool>()) {
            let raw = format!("https://{}:{port}{path}/", if upper { host.to_uppercase() } else { host.clone() });
            let once = canonical_resource(&raw).unwrap();
            prop_assert_eq!(canonical_resource(&once), Some(once.clone()));
        }

        #[test]
        fn any_identifier_matches_itself(id in ".{0,40}") {
            prop_assert!(audience_matches(&id, &id));
        }
    }
}
