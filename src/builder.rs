//! [`ServiceBuilderExt`]: this crate's layers as methods of tower's
//! [`ServiceBuilder`].

use tower::ServiceBuilder;
use tower_layer::Stack;

use crate::exchange::{Downstream, ExchangeLayer, TokenExchange};
use crate::mcp::{McpScopeLayer, McpScopePolicy, McpSessionLayer, SessionStore};
use crate::origin::{OriginError, OriginLayer};
use crate::scope::{RequireScopeLayer, ScopeError};
use crate::{TokenVerifier, TokenVerifierLayer};

mod sealed {
    pub trait Sealed<T> {}
    impl<T> Sealed<T> for tower::ServiceBuilder<T> {}
}

/// Adds this crate's layers to a [`ServiceBuilder`], one method per layer, in
/// the order requests meet them.
///
/// ```
/// use tower::ServiceBuilder;
/// use tower_bearer::{ServiceBuilderExt, TokenVerifierLayer, mcp::McpSessionLayer};
/// # use tower_bearer::*;
/// # struct V; impl TokenVerifier for V { async fn verify(&self, _: &str) -> Result<AccessToken, VerifyError> { Err(InvalidToken::Unknown.into()) } }
///
/// let svc = ServiceBuilder::new()
///     .allow_origins(["https://app.example.com"])?
///     .verify_bearer(TokenVerifierLayer::new(V).resource_metadata("https://api.example.com/.well-known/oauth-protected-resource")?)
///     .bind_mcp_sessions(McpSessionLayer::new())
///     .require_scope(["mcp:read"])?
///     .service_fn(|_req: http::Request<String>| async {
///         Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
///     });
/// # let _ = svc;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait ServiceBuilderExt<L>: sealed::Sealed<L> + Sized {
    /// Adds an [`OriginLayer`] allowing these browser origins.
    ///
    /// # Errors
    /// As [`OriginLayer::new`].
    ///
    /// See [`ServiceBuilderExt`] for an example.
    fn allow_origins<I, S>(self, origins: I) -> Result<ServiceBuilder<Stack<OriginLayer, L>>, OriginError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>;

    /// Adds a configured [`TokenVerifierLayer`].
    ///
    /// See [`ServiceBuilderExt`] for an example.
    fn verify_bearer<V: TokenVerifier + ?Sized>(
        self,
        layer: TokenVerifierLayer<V>,
    ) -> ServiceBuilder<Stack<TokenVerifierLayer<V>, L>>;

    /// Adds a configured [`McpSessionLayer`].
    ///
    /// See [`ServiceBuilderExt`] for an example.
    fn bind_mcp_sessions<St: SessionStore>(
        self,
        layer: McpSessionLayer<St>,
    ) -> ServiceBuilder<Stack<McpSessionLayer<St>, L>>;

    /// Adds a [`McpScopeLayer`] enforcing `policy`.
    ///
    /// ```
    /// use tower::ServiceBuilder;
    /// use tower_bearer::{ServiceBuilderExt, mcp::McpScopePolicy};
    /// let builder = ServiceBuilder::new().mcp_scopes(McpScopePolicy::new().base(["mcp:read"])?);
    /// # let _ = builder;
    /// # Ok::<(), tower_bearer::scope::ScopeError>(())
    /// ```
    fn mcp_scopes(self, policy: McpScopePolicy) -> ServiceBuilder<Stack<McpScopeLayer, L>>;

    /// Adds a [`RequireScopeLayer`] requiring all of `scopes`.
    ///
    /// # Errors
    /// As [`RequireScopeLayer::new`].
    ///
    /// See [`ServiceBuilderExt`] for an example.
    fn require_scope<I, S>(
        self,
        scopes: I,
    ) -> Result<ServiceBuilder<Stack<RequireScopeLayer, L>>, ScopeError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>;

    /// Adds an [`ExchangeLayer`] to an outbound HTTP client: its requests
    /// carry a token exchanged for `downstream` (RFC 8693) in place of any
    /// credentials.
    ///
    /// ```
    /// use tower::ServiceBuilder;
    /// use tower_bearer::ServiceBuilderExt;
    /// use tower_bearer::exchange::{Downstream, TokenExchange};
    /// let exchange = TokenExchange::builder()
    ///     .token_endpoint("https://as.example/token")
    ///     .client_secret_basic("rs", "s3cret")
    ///     .build()?;
    /// let client = ServiceBuilder::new()
    ///     .exchange_token(exchange, Downstream::resource("https://api.example/v1")?)
    ///     .service_fn(|_req: http::Request<String>| async {
    ///         Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
    ///     });
    /// # let _ = client;
    /// # Ok::<(), tower_bearer::exchange::ExchangeConfigError>(())
    /// ```
    fn exchange_token(
        self,
        exchange: TokenExchange,
        downstream: Downstream,
    ) -> ServiceBuilder<Stack<ExchangeLayer, L>>;
}

impl<L> ServiceBuilderExt<L> for ServiceBuilder<L> {
    fn exchange_token(
        self,
        exchange: TokenExchange,
        downstream: Downstream,
    ) -> ServiceBuilder<Stack<ExchangeLayer, L>> {
        self.layer(ExchangeLayer::new(exchange, downstream))
    }

    fn allow_origins<I, S>(self, origins: I) -> Result<ServiceBuilder<Stack<OriginLayer, L>>, OriginError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Ok(self.layer(OriginLayer::new(origins)?))
    }

    fn verify_bearer<V: TokenVerifier + ?Sized>(
        self,
        layer: TokenVerifierLayer<V>,
    ) -> ServiceBuilder<Stack<TokenVerifierLayer<V>, L>> {
        self.layer(layer)
    }

    fn bind_mcp_sessions<St: SessionStore>(
        self,
        layer: McpSessionLayer<St>,
    ) -> ServiceBuilder<Stack<McpSessionLayer<St>, L>> {
        self.layer(layer)
    }

    fn mcp_scopes(self, policy: McpScopePolicy) -> ServiceBuilder<Stack<McpScopeLayer, L>> {
        self.layer(McpScopeLayer::new(policy))
    }

    fn require_scope<I, S>(self, scopes: I) -> Result<ServiceBuilder<Stack<RequireScopeLayer, L>>, ScopeError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Ok(self.layer(RequireScopeLayer::new(scopes)?))
    }
}
