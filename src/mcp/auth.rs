//! [`McpAuthLayer`]: the authorization of an MCP endpoint in one layer.

use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use super::scopes::{McpScope, McpScopeLayer, McpScopePolicy};
use super::session::{BindingPolicy, McpSession, McpSessionLayer};
use super::store::{MemorySessionStore, SessionStore};
use crate::origin::{Origin, OriginError, OriginLayer};
use crate::{ChallengeError, Resource, Scopes, TokenVerifier, TokenVerifierLayer, TokenVerifierService};

/// The whole authorization of an MCP endpoint (streamable HTTP), wired in the
/// order the MCP specification needs, from one [`Resource`]:
///
/// 1. `Origin` check against DNS rebinding ([`OriginLayer`]; by default only
///    the resource's own origin, requests without `Origin` pass);
/// 2. the token ([`TokenVerifierLayer`] configured by the resource: challenges
///    with its metadata URL, its DPoP settings and origin);
/// 3. MCP sessions bound to the principal that opened them
///    ([`McpSessionLayer`], in memory unless a [store](McpAuthBuilder::session_store)
///    is given; 2026-07-28 requests have no session and pass);
/// 4. per-operation scopes with 403 step-up challenges ([`McpScopeLayer`]),
///    whose every scope must be one the resource lists in `scopes_supported`
///    (a client that follows a challenge must be able to get the scope).
///
/// ```
/// use tower::ServiceExt;
/// use tower_bearer::mcp::{McpAuthLayer, McpScopePolicy};
/// use tower_bearer::Resource;
/// use tower_bearer_issuer::DevIssuer;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let issuer = DevIssuer::start().await.unwrap();
/// let resource = Resource::builder("http://127.0.0.1:7000/mcp")
///     .authorization_server(issuer.issuer())
///     .scopes_supported(["mcp:read", "mcp:write"])
///     .build()
///     .unwrap();
/// let policy = McpScopePolicy::new().base(["mcp:read"])?.tool("add_note", ["mcp:write"])?;
/// let auth = McpAuthLayer::builder(&resource, issuer.jwt_verifier(resource.identifier()))
///     .scope_policy(policy)
///     .build()
///     .unwrap();
///
/// # let rmcp_service = tower::service_fn(|_req: http::Request<http_body_util::Full<bytes::Bytes>>| async {
/// #     Ok::<_, std::convert::Infallible>(http::Response::new(String::from("{}")))
/// # });
/// let mcp = axum::Router::new().route_service("/mcp", tower::Layer::layer(&auth, rmcp_service));
/// let anonymous = http::Request::post("/mcp").body(axum::body::Body::empty()).unwrap();
/// let answer = mcp.oneshot(anonymous).await.unwrap();
/// assert_eq!(answer.status(), 401);
/// assert_eq!(
///     answer.headers()["www-authenticate"],
///     r#"Bearer scope="mcp:read", resource_metadata="http://127.0.0.1:7000/.well-known/oauth-protected-resource/mcp""#
/// );
///
/// // A policy that could demand a scope clients cannot get is refused.
/// let admin = McpScopePolicy::new().unlisted_tools(["mcp:admin"])?;
/// let refused = McpAuthLayer::builder(&resource, issuer.jwt_verifier(resource.identifier()))
///     .scope_policy(admin)
///     .build();
/// assert!(refused.is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct McpAuthLayer<V: ?Sized, St = MemorySessionStore> {
    origin: OriginLayer,
    token: TokenVerifierLayer<V>,
    sessions: McpSessionLayer<St>,
    scopes: McpScopeLayer,
}

impl<V: ?Sized, St> Clone for McpAuthLayer<V, St> {
    fn clone(&self) -> Self {
        McpAuthLayer {
            origin: self.origin.clone(),
            token: self.token.clone(),
            sessions: self.sessions.clone(),
            scopes: self.scopes.clone(),
        }
    }
}

impl<V: ?Sized, St> fmt::Debug for McpAuthLayer<V, St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("McpAuthLayer")
            .field("origin", &self.origin)
            .field("token", &self.token)
            .field("sessions", &self.sessions)
            .field("scopes", &self.scopes)
            .finish()
    }
}

impl<V: TokenVerifier> McpAuthLayer<V> {
    /// Starts the layer of `resource`, verifying tokens with `verifier`.
    ///
    /// See [`McpAuthLayer`] for an example.
    pub fn builder(resource: &Resource, verifier: V) -> McpAuthBuilder<V> {
        Self::builder_from_arc(resource, Arc::new(verifier))
    }
}

impl<V: TokenVerifier + ?Sized> McpAuthLayer<V> {
    /// As [`builder`](Self::builder), sharing an `Arc` of a verifier (a
    /// [`DynTokenVerifier`](crate::DynTokenVerifier) chosen at run time, or one shared with other routes).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tower_bearer::{DynTokenVerifier, Resource, mcp::McpAuthLayer, jwt::JwtVerifier};
    ///
    /// let resource = Resource::builder("https://api.example.com/mcp").build().unwrap();
    /// let verifier: Arc<DynTokenVerifier<'static>> = DynTokenVerifier::new_arc(
    ///     JwtVerifier::builder().issuer("https://as.example").resource(&resource).discover().build().unwrap(),
    /// );
    /// let auth = McpAuthLayer::builder_from_arc(&resource, verifier).build().unwrap();
    /// # let _ = auth;
    /// ```
    pub fn builder_from_arc(resource: &Resource, verifier: Arc<V>) -> McpAuthBuilder<V> {
        McpAuthBuilder {
            resource: resource.clone(),
            verifier,
            origins: None,
            sessions: McpSessionLayer::new(),
            binding: None,
            policy: McpScopePolicy::new(),
            keep_subject_token: false,
        }
    }
}

impl<V: ?Sized, St> McpAuthLayer<V, St> {
    /// The `Origin` check.
    ///
    /// See [`McpAuthLayer::token_layer`] for an example.
    pub fn origin_layer(&self) -> &OriginLayer {
        &self.origin
    }

    /// The token layer (use it for the server's other routes: it is the
    /// resource's, with the scope hint of `initialize`).
    ///
    /// ```
    /// # use tower_bearer::*;
    /// # struct V; impl TokenVerifier for V { async fn verify(&self, _: &str) -> Result<AccessToken, VerifyError> { Err(InvalidToken::Unknown.into()) } }
    /// let resource = Resource::builder("https://api.example.com/mcp").build().unwrap();
    /// let auth = mcp::McpAuthLayer::builder(&resource, V).build().unwrap();
    /// let (_origin, _token, _sessions, _scopes) =
    ///     (auth.origin_layer(), auth.token_layer(), auth.session_layer(), auth.scope_layer());
    /// ```
    pub fn token_layer(&self) -> &TokenVerifierLayer<V> {
        &self.token
    }

    /// The session binding.
    ///
    /// See [`McpAuthLayer::token_layer`] for an example.
    pub fn session_layer(&self) -> &McpSessionLayer<St> {
        &self.sessions
    }

    /// The per-operation scopes.
    ///
    /// See [`McpAuthLayer::token_layer`] for an example.
    pub fn scope_layer(&self) -> &McpScopeLayer {
        &self.scopes
    }
}

impl<S, V: ?Sized, St> Layer<S> for McpAuthLayer<V, St> {
    type Service = Origin<TokenVerifierService<McpSession<McpScope<S>, St>, V>>;

    fn layer(&self, inner: S) -> Self::Service {
        self.origin
            .layer(self.token.layer(self.sessions.layer(self.scopes.layer(inner))))
    }
}

/// Builds an [`McpAuthLayer`]; see there for an example.
#[must_use]
pub struct McpAuthBuilder<V: ?Sized, St = MemorySessionStore> {
    resource: Resource,
    verifier: Arc<V>,
    origins: Option<Vec<String>>,
    sessions: McpSessionLayer<St>,
    binding: Option<BindingPolicy>,
    policy: McpScopePolicy,
    keep_subject_token: bool,
}

impl<V: ?Sized, St> fmt::Debug for McpAuthBuilder<V, St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("McpAuthBuilder")
            .field("resource", &self.resource)
            .field("origins", &self.origins)
            .field("binding", &self.binding)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<V: TokenVerifier + ?Sized, St: SessionStore> McpAuthBuilder<V, St> {
    /// The browser origins allowed to call the endpoint (`scheme://host[:port]`),
    /// instead of the resource's own origin. Requests without `Origin`
    /// (non-browser clients) are not affected.
    ///
    /// ```
    /// # use tower_bearer::*;
    /// # struct V; impl TokenVerifier for V { async fn verify(&self, _: &str) -> Result<AccessToken, VerifyError> { Err(InvalidToken::Unknown.into()) } }
    /// let resource = Resource::builder("https://api.example.com/mcp").build().unwrap();
    /// let auth = mcp::McpAuthLayer::builder(&resource, V)
    ///     .allowed_origins(["https://app.example.com", "http://localhost:6274"])
    ///     .build();
    /// assert!(auth.is_ok());
    /// ```
    pub fn allowed_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.origins = Some(origins.into_iter().map(Into::into).collect());
        self
    }

    /// Who may continue a session ([`BindingPolicy`]; default
    /// [`BindingPolicy::IssuerAndSubjectOrClient`]).
    ///
    /// ```
    /// # use tower_bearer::*;
    /// # struct V; impl TokenVerifier for V { async fn verify(&self, _: &str) -> Result<AccessToken, VerifyError> { Err(InvalidToken::Unknown.into()) } }
    /// use tower_bearer::mcp::{BindingPolicy, McpAuthLayer};
    /// let resource = Resource::builder("https://api.example.com/mcp").build().unwrap();
    /// let auth = McpAuthLayer::builder(&resource, V).binding_policy(BindingPolicy::RequireIssuerAndSubject).build();
    /// # let _ = auth;
    /// ```
    pub fn binding_policy(mut self, policy: BindingPolicy) -> Self {
        self.binding = Some(policy);
        self
    }

    /// Where session owners are kept (default: in memory), e.g. Redis so that
    /// several replicas serve one session.
    ///
    /// ```
    /// # use tower_bearer::*;
    /// # struct V; impl TokenVerifier for V { async fn verify(&self, _: &str) -> Result<AccessToken, VerifyError> { Err(InvalidToken::Unknown.into()) } }
    /// use tower_bearer::mcp::{McpAuthLayer, MemorySessionStore};
    /// let resource = Resource::builder("https://api.example.com/mcp").build().unwrap();
    /// let auth = McpAuthLayer::builder(&resource, V)
    ///     .session_store(MemorySessionStore::new().max_capacity(1_000)?)
    ///     .build();
    /// # let _ = auth;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn session_store<St2: SessionStore>(self, store: St2) -> McpAuthBuilder<V, St2> {
        McpAuthBuilder {
            resource: self.resource,
            verifier: self.verifier,
            origins: self.origins,
            sessions: McpSessionLayer::with_store(store),
            binding: self.binding,
            policy: self.policy,
            keep_subject_token: self.keep_subject_token,
        }
    }

    /// The scopes each MCP operation needs (default: none beyond a verified
    /// token). Its `initialize` scopes are hinted in the challenge to requests
    /// without a token, so that clients start with least privilege.
    ///
    /// See [`McpAuthLayer`] for an example.
    pub fn scope_policy(mut self, policy: McpScopePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Keep the raw incoming token for [token exchange](crate::exchange), as
    /// [`TokenVerifierLayer::keep_subject_token`] (off by default).
    ///
    /// ```
    /// # use tower_bearer::*;
    /// # struct V; impl TokenVerifier for V { async fn verify(&self, _: &str) -> Result<AccessToken, VerifyError> { Err(InvalidToken::Unknown.into()) } }
    /// let resource = Resource::builder("https://api.example.com/mcp").build().unwrap();
    /// let auth = mcp::McpAuthLayer::builder(&resource, V).keep_subject_token(true).build();
    /// # let _ = auth;
    /// ```
    pub fn keep_subject_token(mut self, keep: bool) -> Self {
        self.keep_subject_token = keep;
        self
    }

    /// Checks the configuration and builds the layer.
    ///
    /// # Errors
    /// [`McpAuthError::Origin`] for an allowed origin that is not
    /// `scheme://host[:port]`; [`McpAuthError::ScopeNotSupported`] when the
    /// resource lists `scopes_supported` and the policy can demand a scope
    /// outside them.
    pub fn build(self) -> Result<McpAuthLayer<V, St>, McpAuthError> {
        let supported = self.resource.scopes_supported();
        if !supported.is_empty()
            && let Some(scope) = self.policy.demandable().iter().find(|s| !supported.contains(s))
        {
            return Err(McpAuthError::ScopeNotSupported {
                scope: scope.to_owned(),
                supported: supported.clone(),
            });
        }
        let origins = match self.origins {
            Some(origins) => origins,
            None => vec![self.resource.origin().as_str().to_owned()],
        };
        let origin = OriginLayer::new(origins)
            .map_err(|OriginError::NotAnOrigin { origin, .. }| McpAuthError::Origin { value: origin })?;
        let token = TokenVerifierLayer::from_arc(self.verifier)
            .resource(&self.resource)
            .scope_hint(self.policy.required("initialize", None))?
            .keep_subject_token(self.keep_subject_token);
        let sessions = match self.binding {
            Some(policy) => self.sessions.policy(policy),
            None => self.sessions,
        };
        Ok(McpAuthLayer {
            origin,
            token,
            sessions,
            scopes: McpScopeLayer::new(self.policy),
        })
    }
}

/// Why an [`McpAuthBuilder`] refused its configuration.
///
/// ```
/// # use tower_bearer::*;
/// # struct V; impl TokenVerifier for V { async fn verify(&self, _: &str) -> Result<AccessToken, VerifyError> { Err(InvalidToken::Unknown.into()) } }
/// use tower_bearer::mcp::{McpAuthError, McpAuthLayer, McpScopePolicy};
/// let resource = Resource::builder("https://api.example.com/mcp").scopes_supported(["mcp:read"]).build().unwrap();
/// let e = McpAuthLayer::builder(&resource, V)
///     .scope_policy(McpScopePolicy::new().tool("add_note", ["mcp:write"]).unwrap())
///     .build()
///     .unwrap_err();
/// assert_eq!(
///     e.to_string(),
///     r#"scope policy: "mcp:write" is not in the resource's scopes_supported ("mcp:read"): clients could never get it"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum McpAuthError {
    /// An allowed origin that is not `scheme://host[:port]` (http or https).
    #[error("allowed origin {value:?}: expected scheme://host[:port] with http or https")]
    Origin {
        /// The value given.
        value: String,
    },
    /// The scopes `initialize` needs cannot be hinted in a challenge.
    #[error(transparent)]
    Challenge(#[from] ChallengeError),
    /// The scope policy can demand a scope the resource does not advertise.
    #[error(
        "scope policy: {scope:?} is not in the resource's scopes_supported ({:?}): clients could never get it",
        supported.to_string()
    )]
    ScopeNotSupported {
        /// The scope.
        scope: String,
        /// The resource's `scopes_supported`.
        supported: Scopes,
    },
}
