//! Quickstart: an MCP server (rmcp, streamable HTTP) protected by tower-bearer.
//!
//! ```text
//! cargo run --example mcp_server
//! ```
//!
//! The wiring is three values: a [`tower_bearer::Resource`] (this server's
//! identifier, metadata, scopes and DPoP settings), a verifier, and an
//! [`McpAuthLayer`] built from both with the per-tool scope policy; tools take
//! the verified `Principal` / `AccessToken` as parameters (feature `rmcp`).
//!
//! With no `--issuer` it starts an embedded development issuer and prints a token
//! and `curl` commands. With `--issuer` it trusts a real authorization server:
//! JWTs checked against its JWKS (`--jwks-uri`, or discovered from the issuer).
//!
//! The `call_downstream` tool calls a second API for its caller with a token
//! exchanged for the caller's (RFC 8693; never the caller's own token): an
//! embedded loopback "downstream API" trusting the development issuer, or,
//! with `--issuer`, `--downstream` (exchanged for `--downstream-audience` with
//! `--client-id`/`--client-secret`).
//! Every flag can also be set from the environment: `--issuer` is `TB_ISSUER`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::{Json, Router};
use bytes::Bytes;
use clap::Parser;
use http_body_util::combinators::BoxBody;
use rmcp::handler::server::common::Extension;
use rmcp::handler::server::tool::RequestState;
use rmcp::handler::server::{router::tool::ToolRouter, wrapper::Parameters};
use rmcp::model::{
    CacheScope, CallToolResponse, CallToolResult, ContentBlock, InputRequiredResult, ListResourcesResult,
    PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult,
    Resource as McpResource, ResourceContents, ServerCapabilities, ServerConfig,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use serde_json::json;
use tower::Layer;
use tower::ServiceBuilder;
use tower::util::option_layer;
use tower_bearer::compose::ShapeRouter;
use tower_bearer::dpop::Dpop;
use tower_bearer::exchange::{Downstream, ExchangeError, SubjectToken, TokenExchange};
use tower_bearer::introspection::IntrospectionVerifier;
use tower_bearer::jwt::{Algorithm, JwtVerifier, Provider};
use tower_bearer::mcp::{
    BindingPolicy, DEFAULT_SESSION_IDLE_TTL, DynSessionStore, HandleKey, McpAuthLayer, McpScopePolicy,
    MemorySessionStore, StateError, StateKey, StateRequest, StateSealer,
};
use tower_bearer::origin::OriginLayer;
use tower_bearer::ready::Readiness;
use tower_bearer::redis::RedisStore;
use tower_bearer::scope::{ScopeError, ScopeHierarchy};
use tower_bearer::{AccessToken, DynTokenVerifier, Principal, Resource, Scopes};
use tower_bearer_issuer::{DEFAULT_CLIENT_ID, DevIssuer};

/// An MCP server protected by tower-bearer.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "TB_LISTEN", default_value = "127.0.0.1:7000")]
    listen: SocketAddr,
    /// Trusted issuer. Without it, an embedded development issuer is started.
    #[arg(long, env = "TB_ISSUER")]
    issuer: Option<String>,
    /// This resource's identifier, required in the token's `aud`
    /// [default: http://{listen}/mcp].
    #[arg(long, env = "TB_AUDIENCE")]
    audience: Option<String>,
    /// The issuer's JWK Set URL (default: discovered from the issuer).
    #[arg(long, env = "TB_JWKS_URI")]
    jwks_uri: Option<String>,
    /// The `--issuer`'s token dialect: `rfc9068` (default), `entra`,
    /// `entra-v1`, `auth0`, `okta`, `cognito`, `keycloak`, `workos` or `hydra`
    /// (header `typ`, claim mapping, and what tells its access tokens from its
    /// ID tokens). The embedded development issuer speaks `rfc9068`.
    #[arg(long, env = "TB_PROVIDER", default_value = "rfc9068")]
    provider: Provider,
    /// An `aud` value that names this API when the issuer does not put the
    /// resource URL there (repeatable): Entra's client ID or App ID URI,
    /// Okta's `api://default`, a Keycloak client id, an Auth0 API identifier.
    /// `--audience` stays the resource URL of the metadata.
    #[arg(long = "accept-audience", env = "TB_ACCEPT_AUDIENCE", value_delimiter = ',')]
    accept_audiences: Vec<String>,
    /// For issuers whose access tokens carry no `aud` (Amazon Cognito): the
    /// client ids whose tokens are accepted without one (repeatable).
    #[arg(
        long = "allowed-client-id",
        env = "TB_ALLOWED_CLIENT_IDS",
        value_delimiter = ','
    )]
    allowed_client_ids: Vec<String>,
    /// RFC 7662 introspection endpoint, for opaque tokens.
    #[arg(long, env = "TB_INTROSPECTION_ENDPOINT")]
    introspection_endpoint: Option<String>,
    /// Client id for introspection.
    #[arg(long, env = "TB_CLIENT_ID")]
    client_id: Option<String>,
    /// Client secret for introspection.
    #[arg(long, env = "TB_CLIENT_SECRET", hide_env_values = true)]
    client_secret: Option<String>,
    /// Accept introspection answers without `aud` (by default they are refused:
    /// only tokens issued for this resource are accepted). For authorization
    /// servers that never return `aud`; an `aud` present must still match.
    #[arg(long, env = "TB_INTROSPECTION_ALLOW_MISSING_AUD")]
    introspection_allow_missing_aud: bool,
    /// Scopes advertised in the resource metadata, besides those the tools
    /// need (always advertised: `mcp:read`, and `mcp:write` for the tools that
    /// change something).
    #[arg(long, env = "TB_SCOPES", default_value = "mcp:read mcp:write")]
    scopes: String,
    /// Browser origins allowed to call /mcp (repeatable); requests without an
    /// `Origin` header are not affected [default: the server's own origin].
    #[arg(long = "allowed-origin", env = "TB_ALLOWED_ORIGINS", value_delimiter = ',')]
    allowed_origins: Vec<String>,
    /// With the embedded development issuer: issue opaque tokens, checked by
    /// RFC 7662 introspection (JWTs are still accepted).
    #[arg(long, env = "TB_OPAQUE_TOKENS")]
    opaque_tokens: bool,
    /// With the embedded development issuer: lifetime of the access tokens it
    /// mints, in seconds. Clients that refresh ahead of expiry (from
    /// `expires_in`) do so after it; the server accepts a token for 60 s of
    /// clock leeway past its `exp`, so clients that refresh only once refused
    /// (401) do so about TTL + 60 s after sign-in.
    #[arg(long, env = "TB_TOKEN_TTL", default_value_t = 3600)]
    token_ttl: u64,
    /// Cache verified JWTs (by SHA-256 of the token) so repeated tokens skip the
    /// signature check; 0 turns it off. A cached token is honoured only while the
    /// issuer's key set still holds the key that verified it.
    #[arg(long, env = "TB_VERIFIED_TOKEN_CACHE", default_value_t = 10_000)]
    verified_token_cache: u64,
    /// Who may use an MCP session: `issuer-subject-or-client` (default: the
    /// owner is issuer + subject, or issuer + client_id for a client-credentials
    /// token without `sub`), `issuer-subject` (tokens must carry `iss` and `sub`)
    /// or `same-owner` (every component both tokens carry must match).
    #[arg(long, env = "TB_SESSION_BINDING", value_enum, default_value_t = SessionBinding::IssuerSubjectOrClient)]
    session_binding: SessionBinding,
    /// Serve without authentication (a baseline for benchmarks; never in production).
    #[arg(long, env = "TB_NO_AUTH")]
    no_auth: bool,
    /// Leave out one of the layers around the routes (repeatable, or comma
    /// separated), so a benchmark can tell what each one costs; never in
    /// production. The token layer stays unless `--no-auth`.
    #[arg(
        long = "skip-layer",
        env = "TB_SKIP_LAYERS",
        value_enum,
        value_delimiter = ','
    )]
    skip_layers: Vec<SkippableLayer>,
    /// DPoP (RFC 9449): `allowed` (DPoP-bound tokens need a proof, bearer
    /// tokens still work), `required` (bearer tokens refused) or `off`.
    #[arg(long, env = "TB_DPOP", value_enum, default_value_t = DpopArg::Allowed)]
    dpop: DpopArg,
    /// DPoP server nonces (RFC 9449 §9): proofs must carry a recent `DPoP-Nonce`
    /// from this server; without one the answer is 401 `use_dpop_nonce`.
    #[arg(long, env = "TB_DPOP_NONCE")]
    dpop_nonce: bool,
    /// Share state with other replicas on Redis (`redis://[user:password@]host:port[/db]`,
    /// `rediss://` for TLS): DPoP proof identifiers, MCP session owners and
    /// introspection answers. DPoP and session requests get 503 while it is
    /// unreachable; introspection then asks the authorization server.
    #[arg(long, env = "TB_REDIS", hide_env_values = true)]
    redis: Option<String>,
    /// PEM file of the CA certificates to trust for a `rediss://` server with a
    /// private CA (default: the Mozilla roots).
    #[arg(long, env = "TB_REDIS_CA_FILE", requires = "redis")]
    redis_ca_file: Option<std::path::PathBuf>,
    /// With `--issuer`: the downstream API URL `call_downstream` calls with a
    /// token exchanged (RFC 8693) at the issuer, authenticated with
    /// `--client-id`/`--client-secret`. Without `--issuer` an embedded
    /// downstream API is started on loopback.
    #[arg(long, env = "TB_DOWNSTREAM", requires = "downstream_audience")]
    downstream: Option<String>,
    /// The downstream API's audience (resource identifier) to exchange for.
    #[arg(long, env = "TB_DOWNSTREAM_AUDIENCE", requires = "downstream")]
    downstream_audience: Option<String>,
    /// Serve the crate's metrics as Prometheus text at `http://ADDR/metrics`
    /// (a listener of its own, without authentication: keep it private).
    #[arg(long, env = "TB_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
}

/// `--dpop` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum DpopArg {
    Allowed,
    Required,
    Off,
}

impl DpopArg {
    fn config(self, nonces: bool) -> Result<Dpop, tower_bearer::dpop::NonceKeyError> {
        let dpop = match self {
            DpopArg::Allowed => Dpop::allowed(),
            DpopArg::Required => Dpop::required(),
            DpopArg::Off => Dpop::off(),
        };
        if nonces { dpop.server_nonces() } else { Ok(dpop) }
    }
}

/// `--skip-layer` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum SkippableLayer {
    /// `OriginLayer` (DNS-rebinding protection).
    Origin,
    /// `McpSessionLayer` (sessions bound to their principal).
    SessionBinding,
    /// `McpScopeLayer` (per-tool scopes and step-up).
    ToolScopes,
}

/// `--session-binding` values.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum SessionBinding {
    IssuerSubjectOrClient,
    IssuerSubject,
    SameOwner,
}

impl From<SessionBinding> for BindingPolicy {
    fn from(binding: SessionBinding) -> Self {
        match binding {
            SessionBinding::IssuerSubjectOrClient => BindingPolicy::IssuerAndSubjectOrClient,
            SessionBinding::IssuerSubject => BindingPolicy::RequireIssuerAndSubject,
            SessionBinding::SameOwner => BindingPolicy::SameOwner,
        }
    }
}

/// Notes kept by the server, shared by all sessions (bounded).
const MAX_NOTES: usize = 100;

/// The MCP tools.
#[derive(Debug, Clone)]
struct Tools {
    #[expect(dead_code, reason = "read by the code #[tool_handler] generates")]
    tool_router: ToolRouter<Self>,
    notes: Arc<Mutex<Vec<String>>>,
    /// Private drafts, stored under `HandleKey(principal, handle)`: a handle
    /// given to one principal opens nothing for another.
    drafts: Arc<Mutex<HashMap<HandleKey, String>>>,
    /// Seals `clear_notes`' request state (MCP 2026-07-28 multi round trip).
    sealer: StateSealer,
    /// Where `call_downstream` goes, and how it gets a token for it.
    downstream: Option<DownstreamCall>,
}

/// The downstream API and the token exchange that authorizes calls to it.
#[derive(Debug, Clone)]
struct DownstreamCall {
    exchange: TokenExchange,
    target: Downstream,
    url: String,
    http: reqwest::Client,
}

#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
struct DraftRequest {
    /// The handle `save_draft` returned.
    handle: String,
}

#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
struct TextRequest {
    /// The text.
    text: String,
}

#[tool_router]
impl Tools {
    fn new(
        notes: Arc<Mutex<Vec<String>>>,
        drafts: Arc<Mutex<HashMap<HandleKey, String>>>,
        sealer: StateSealer,
        downstream: Option<DownstreamCall>,
    ) -> Self {
        Tools {
            tool_router: Self::tool_router(),
            notes,
            drafts,
            sealer,
            downstream,
        }
    }

    #[tool(
        description = "Call the downstream API with a token exchanged for yours (RFC 8693); returns what it saw: subject, client id and act chain (needs mcp:read)"
    )]
    async fn call_downstream(
        &self,
        Extension(parts): Extension<http::request::Parts>,
    ) -> Result<String, rmcp::ErrorData> {
        let Some(call) = &self.downstream else {
            return Err(rmcp::ErrorData::invalid_request(
                "no downstream API: start with --downstream and --downstream-audience",
                None,
            ));
        };
        let (Some(subject), Some(token)) = (
            parts.extensions.get::<SubjectToken>(),
            parts.extensions.get::<AccessToken>(),
        ) else {
            return Err(rmcp::ErrorData::internal_error("no subject token kept", None));
        };
        let internal = |e: &dyn std::fmt::Display| rmcp::ErrorData::internal_error(e.to_string(), None);
        let mut request = call.http.get(&call.url).build().map_err(|e| internal(&e))?;
        // The caller's token goes to the token endpoint only; downstream gets
        // the exchanged one.
        if let Err(e) = call
            .exchange
            .attach(&mut request, subject, token, &call.target)
            .await
        {
            return Err(match e {
                ExchangeError::Refused(_) => rmcp::ErrorData::invalid_request(e.description(), None),
                _ => rmcp::ErrorData::internal_error(e.description(), None),
            });
        }
        let answer = call.http.execute(request).await.map_err(|e| internal(&e))?;
        if !answer.status().is_success() {
            return Err(internal(&format!("downstream answered {}", answer.status())));
        }
        answer.text().await.map_err(|e| internal(&e))
    }

    #[tool(
        description = "Clear all notes, in two round trips (MCP 2026-07-28): the first call answers input_required with a requestState, the retry with it clears (needs mcp:write)"
    )]
    async fn clear_notes(
        &self,
        principal: Principal,
        RequestState(state): RequestState,
    ) -> Result<CallToolResponse, rmcp::ErrorData> {
        let request = StateRequest::tool("clear_notes");
        let Some(state) = state else {
            let count = self
                .notes
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .len();
            let sealed = self
                .sealer
                .seal(&principal, &request, count.to_string().as_bytes())
                .map_err(|e| rmcp::ErrorData::invalid_request(e.to_string(), None))?;
            return Ok(InputRequiredResult::from_request_state(sealed).into());
        };
        // Sealed for this principal and this tool, within its TTL, and only once.
        match self.sealer.open(&principal, &request, &state).await {
            Ok(_) => {
                let mut notes = self
                    .notes
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let cleared = notes.len();
                notes.clear();
                Ok(
                    CallToolResult::success(vec![ContentBlock::text(format!("cleared {cleared} notes"))])
                        .into(),
                )
            }
            Err(StateError::Unavailable) => {
                Err(rmcp::ErrorData::internal_error("request state unavailable", None))
            }
            Err(refused) => Err(rmcp::ErrorData::invalid_params(
                format!("request state refused: {refused}"),
                None,
            )),
        }
    }

    #[tool(description = "Save a private draft; returns its handle (needs mcp:write)")]
    async fn save_draft(
        &self,
        principal: Principal,
        Parameters(TextRequest { text }): Parameters<TextRequest>,
    ) -> Result<String, rmcp::ErrorData> {
        let handle = format!("draft-{}", random_hex());
        let key = draft_key(&principal, &handle)?;
        let mut drafts = self
            .drafts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if drafts.len() >= MAX_NOTES {
            drafts.clear();
        }
        drafts.insert(key, text.chars().take(1000).collect());
        Ok(handle)
    }

    #[tool(description = "Open one of your drafts by its handle (needs mcp:read)")]
    async fn open_draft(
        &self,
        principal: Principal,
        Parameters(DraftRequest { handle }): Parameters<DraftRequest>,
    ) -> Result<String, rmcp::ErrorData> {
        let key = draft_key(&principal, &handle)?;
        let drafts = self
            .drafts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Another principal's handle is as unknown as a made-up one.
        drafts
            .get(&key)
            .cloned()
            .ok_or_else(|| rmcp::ErrorData::invalid_params("no such draft", None))
    }

    #[tool(description = "Who is calling: the verified principal and scopes of the access token")]
    async fn whoami(&self, Extension(parts): Extension<http::request::Parts>) -> String {
        match parts.extensions.get::<AccessToken>() {
            Some(token) => serde_json::to_string(&Identity::of(token)).unwrap_or_default(),
            None => json!({"anonymous": true}).to_string(),
        }
    }

    #[tool(description = "Echo the given text (needs mcp:read)")]
    async fn echo(&self, Parameters(TextRequest { text }): Parameters<TextRequest>) -> String {
        text
    }

    #[tool(description = "List the notes (needs mcp:read)")]
    async fn list_notes(&self) -> String {
        let notes = self
            .notes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        json!(*notes).to_string()
    }

    #[tool(description = "Add a note (needs mcp:write)")]
    async fn add_note(&self, Parameters(TextRequest { text }): Parameters<TextRequest>) -> String {
        let mut notes = self
            .notes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if notes.len() >= MAX_NOTES {
            notes.remove(0);
        }
        notes.push(text.chars().take(1000).collect());
        format!("{} notes", notes.len())
    }
}

/// A resource whose content is the caller: the principal and scopes of the
/// access token.
const WHOAMI_RESOURCE: &str = "tower-bearer://whoami";
/// How long clients may reuse a `resources/list` or `resources/read` result.
const RESOURCE_TTL_MS: u64 = 60_000;

#[tool_handler]
impl ServerHandler for Tools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
    }

    /// The same list for every token: `cacheScope: public` (SEP-2549).
    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, rmcp::ErrorData> {
        let whoami = McpResource::new(WHOAMI_RESOURCE, "whoami")
            .with_description("The verified principal and scopes of your access token")
            .with_mime_type("application/json");
        Ok(ListResourcesResult::with_all_items(vec![whoami])
            .with_cache_scope(CacheScope::Public)
            .with_ttl_ms(RESOURCE_TTL_MS))
    }

    /// The caller's identity depends on the token: `cacheScope: private`, so
    /// that no shared cache serves one principal's answer to another (SEP-2549).
    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, rmcp::ErrorData> {
        if request.uri != WHOAMI_RESOURCE {
            return Err(rmcp::ErrorData::resource_not_found("no such resource", None));
        }
        let token = context
            .extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<AccessToken>());
        let identity = match token {
            Some(token) => serde_json::to_string(&Identity::of(token)).unwrap_or_default(),
            None => json!({"anonymous": true}).to_string(),
        };
        let contents = ResourceContents::text(identity, WHOAMI_RESOURCE).with_mime_type("application/json");
        Ok(ReadResourceResult::new(vec![contents])
            .with_cache_scope(CacheScope::Private)
            .with_ttl_ms(RESOURCE_TTL_MS)
            .into())
    }
}

/// Which scopes each MCP operation needs: every request `mcp:read`, the tools
/// that change something `mcp:write`. A tool not listed needs the base scope
/// only, so that a call to a tool that does not exist gets the server's own
/// "tool not found", not a step-up to a scope nobody can get.
fn scope_policy() -> Result<McpScopePolicy, ScopeError> {
    McpScopePolicy::new()
        .hierarchy(ScopeHierarchy::chain(["mcp:admin", "mcp:write", "mcp:read"])?)
        .base(["mcp:read"])?
        .tool("whoami", ["mcp:read"])?
        .tool("echo", ["mcp:read"])?
        .tool("list_notes", ["mcp:read"])?
        .tool("add_note", ["mcp:write"])?
        .tool("save_draft", ["mcp:write"])?
        .tool("open_draft", ["mcp:read"])?
        .tool("clear_notes", ["mcp:write"])?
        .tool("call_downstream", ["mcp:read"])
}

/// The storage key of a draft handle for the caller (`HandleKey`): refused for
/// a principal that names no owner.
fn draft_key(principal: &Principal, handle: &str) -> Result<HandleKey, rmcp::ErrorData> {
    HandleKey::new(principal, handle)
        .ok_or_else(|| rmcp::ErrorData::invalid_request("drafts need an identified principal", None))
}

/// 128 random bits in hex: unguessable handles.
fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system random number generator works");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Who the token is: the principal triple, its scopes and audience.
#[derive(serde::Serialize)]
struct Identity<'a> {
    client_id: Option<&'a str>,
    issuer: Option<&'a str>,
    subject: Option<&'a str>,
    scopes: &'a Scopes,
    audience: &'a [String],
}

impl<'a> Identity<'a> {
    fn of(token: &'a AccessToken) -> Self {
        let p: &Principal = token.principal();
        Identity {
            client_id: p.client_id(),
            issuer: p.issuer(),
            subject: p.subject(),
            scopes: token.scopes(),
            audience: token.audience(),
        }
    }
}

async fn whoami(token: Option<AccessToken>) -> Response {
    match &token {
        Some(token) => Json(Identity::of(token)).into_response(),
        None => Json(json!({"anonymous": true})).into_response(),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_bearer=info".into()),
        )
        .init();
    let args = Args::parse();
    if let Some(addr) = args.metrics_listen {
        serve_metrics(addr).await?;
    }
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let base = format!("http://{}", listener.local_addr()?);
    let audience = args.audience.clone().unwrap_or_else(|| format!("{base}/mcp"));
    let redis = match &args.redis {
        Some(url) => {
            let mut redis = RedisStore::builder(url);
            if let Some(path) = &args.redis_ca_file {
                let pem =
                    std::fs::read(path).map_err(|e| format!("--redis-ca-file {}: {e}", path.display()))?;
                redis = redis.tls_root_certificates(pem);
            }
            Some(redis.connect().await?)
        }
        None => None,
    };
    let mut dpop = args.dpop.config(args.dpop_nonce)?;
    if let Some(redis) = &redis {
        dpop = dpop.replay_cache(redis.replay_cache());
    }

    // The verifier: a real issuer, or the embedded development issuer.
    let mut dev_issuer = None;
    let downstream;
    let (issuer, verifier): (String, Arc<DynTokenVerifier<'static>>) = match &args.issuer {
        Some(issuer) => {
            downstream = external_downstream(&args, issuer)?;
            (
                issuer.clone(),
                verifier_for(&args, issuer, &audience, redis.as_ref()).await?,
            )
        }
        None if args.provider != Provider::Rfc9068 => {
            return Err(format!(
                "--provider {} needs --issuer (and --jwks-uri unless the issuer's metadata can be discovered): \
                 the embedded development issuer mints RFC 9068 tokens",
                args.provider
            )
            .into());
        }
        None => {
            // The embedded downstream API's address goes into the issuer's
            // token-exchange policy: bound first.
            let downstream_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let downstream_url = format!("http://{}/api", downstream_listener.local_addr()?);
            // A demo enterprise identity provider whose ID-JAGs the
            // development issuer exchanges (SEP-990); an EdDSA key, generated
            // at once (an RSA key would add to every start).
            let idp = DevIssuer::builder().algorithm(Algorithm::EdDSA).start().await?;
            let dev = DevIssuer::builder()
                .trust_id_jag_issuer(idp.issuer(), idp.jwks_uri())
                .allow_token_exchange(DEFAULT_CLIENT_ID, &downstream_url)
                .opaque_tokens(args.opaque_tokens)
                .token_ttl(Duration::from_secs(args.token_ttl))
                .start()
                .await?;
            let verifier = dev_verifier(&dev, &audience, &args, redis.as_ref())?;
            downstream = Some(embedded_downstream(
                &dev,
                downstream_listener,
                downstream_url,
                &args,
            )?);
            let issuer = dev.issuer().to_owned();
            dev_issuer = Some((dev, idp));
            (issuer, verifier)
        }
    };
    // This resource, once: the metadata document, every challenge's
    // resource_metadata, the DPoP origin and the scopes a policy may demand
    // all derive from it.
    // `--scopes` are advertised, and so is every scope a tool can ask for:
    // a step-up challenge never names a scope clients cannot get.
    let policy = scope_policy()?;
    let resource = Resource::builder(&audience)
        .authorization_server(&issuer)
        .scopes_supported(args.scopes.split(' '))
        .scopes_supported(policy.demandable().iter())
        .dpop(dpop)
        .build()?;

    let notes = Arc::new(Mutex::new(Vec::new()));
    let drafts = Arc::new(Mutex::new(HashMap::new()));
    let mut sealer = StateSealer::new(StateKey::generate("quickstart")?).ttl(Duration::from_secs(300))?;
    if let Some(redis) = &redis {
        sealer = sealer.replay_cache(redis.replay_cache());
    }
    let mcp = SharedMcp(Arc::new(StreamableHttpService::new(
        {
            let downstream = downstream.clone();
            move || {
                Ok(Tools::new(
                    notes.clone(),
                    drafts.clone(),
                    sealer.clone(),
                    downstream.clone(),
                ))
            }
        },
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    )));
    // Origin check -> token -> session bound to its principal -> per-tool
    // scopes (403 step-up challenges) -> the MCP transport, in one layer.
    // Session owners in memory, or on Redis for several replicas: one type
    // either way (the dyn-compatible form of the store trait).
    let sessions: Arc<DynSessionStore<'static>> = match &redis {
        Some(redis) => DynSessionStore::new_arc(redis.session_store(DEFAULT_SESSION_IDLE_TTL)),
        None => DynSessionStore::new_arc(MemorySessionStore::new()),
    };
    // Keys and discovery fetched in the background: the server starts even while
    // the authorization server is down (503 until ready, /readyz says why).
    let readiness = Readiness::new(verifier.clone());
    readiness.spawn_warm_up();
    let auth = McpAuthLayer::builder_from_arc(&resource, verifier)
        .allowed_origins(if args.allowed_origins.is_empty() {
            vec![base.clone()]
        } else {
            args.allowed_origins.clone()
        })
        .session_store(sessions)
        .binding_policy(args.session_binding.into())
        .scope_policy(policy)
        .keep_subject_token(downstream.is_some())
        .build()?;
    // /whoami: the same Origin check and token layer as /mcp.
    let whoami_layers = |origin: Option<OriginLayer>| {
        ServiceBuilder::new()
            .layer(option_layer(origin))
            .layer(auth.token_layer().clone())
    };
    let mut app = if args.no_auth {
        tracing::warn!("--no-auth: serving WITHOUT authentication");
        let origin = auth.origin_layer().clone();
        Router::new()
            .route_service("/mcp", origin.layer(mcp))
            .route("/whoami", get(whoami).layer(origin))
    } else if args.skip_layers.is_empty() {
        Router::new().route_service("/mcp", auth.layer(mcp)).route(
            "/whoami",
            get(whoami).layer(whoami_layers(Some(auth.origin_layer().clone()))),
        )
    } else {
        // Benchmarks only: the same layers, some left out.
        let keep = |layer: SkippableLayer| {
            let keep = !args.skip_layers.contains(&layer);
            if !keep {
                tracing::warn!("--skip-layer {layer:?}: serving WITHOUT it");
            }
            keep
        };
        let origin = keep(SkippableLayer::Origin).then(|| auth.origin_layer().clone());
        let sessions = keep(SkippableLayer::SessionBinding).then(|| auth.session_layer().clone());
        let scopes = keep(SkippableLayer::ToolScopes).then(|| auth.scope_layer().clone());
        let mcp = ServiceBuilder::new()
            .layer(option_layer(origin.clone()))
            .layer(auth.token_layer().clone())
            .layer(option_layer(sessions))
            .layer(option_layer(scopes))
            .service(mcp);
        Router::new()
            .route_service("/mcp", mcp)
            .route("/whoami", get(whoami).layer(whoami_layers(origin)))
    };
    for path in resource.well_known_paths() {
        app = app.route_service(&path, resource.metadata_service());
    }
    // Probes, outside the token layer: alive while serving; ready once the verifier is.
    app = app
        .route("/healthz", get(|| async { "ok\n" }))
        .route_service("/readyz", readiness);

    println!(
        "tower-bearer quickstart: MCP server at {base}/mcp (resource {})",
        resource.identifier()
    );
    println!("  resource metadata:  {}", resource.metadata_url());
    println!("  authorization server: {issuer}");
    println!("  token rules: {}", args.provider.profile());
    let mut audiences = vec![resource.identifier().to_owned()];
    audiences.extend(args.accept_audiences.iter().cloned());
    println!("  accepted aud: {}", audiences.join(", "));
    if !args.allowed_client_ids.is_empty() {
        println!(
            "  tokens without aud: only from clients {}",
            args.allowed_client_ids.join(", ")
        );
    }
    if let Some(call) = &downstream {
        println!(
            "  downstream API: {} (call_downstream exchanges the caller's token for it)",
            call.url
        );
    }
    if redis.is_some() {
        println!("  shared state: DPoP proof ids, MCP session owners and introspection answers on Redis");
    }
    if let Some((dev, idp)) = &dev_issuer {
        print_dev_instructions(dev, &base, &audience, &args);
        print_id_jag_instructions(dev, idp, &audience);
        if args.dpop != DpopArg::Off {
            print_dpop_instructions(dev, &base, &audience, args.dpop == DpopArg::Required);
        }
    }
    println!("ready");
    // rmcp writes an SSE response in several small pieces: without TCP_NODELAY,
    // Nagle's algorithm and the client's delayed ACK add ~40 ms to each one.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

/// rmcp's transport behind an `Arc`. Tower services are cloned per request (by
/// axum's router, and by layers whose response future owns the inner service,
/// such as the scope layer), and `StreamableHttpService` copies its whole
/// configuration on every clone; shared, a clone is a reference count.
#[derive(Clone)]
struct SharedMcp(Arc<StreamableHttpService<Tools, LocalSessionManager>>);

impl<B> tower::Service<http::Request<B>> for SharedMcp
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: std::fmt::Display,
{
    type Response = http::Response<BoxBody<Bytes, Infallible>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let mcp = self.0.clone();
        Box::pin(async move { Ok(mcp.handle(req).await) })
    }
}

/// The development issuer's JWTs for `audience`, and with `--opaque-tokens`
/// its opaque tokens by introspection.
fn dev_verifier(
    dev: &DevIssuer,
    audience: &str,
    args: &Args,
    redis: Option<&RedisStore>,
) -> Result<Arc<DynTokenVerifier<'static>>, Box<dyn std::error::Error>> {
    let jwt = dev
        .jwt_verifier_builder(audience)
        .verified_token_cache(args.verified_token_cache)
        .build()?;
    if !args.opaque_tokens {
        return Ok(DynTokenVerifier::new_arc(jwt));
    }
    let mut introspection = IntrospectionVerifier::builder()
        .endpoint(dev.introspection_endpoint())
        .client_credentials(dev.client_id(), dev.client_secret())
        .issuer(dev.issuer())
        .audience(audience);
    if let Some(redis) = redis {
        introspection = introspection.shared_cache(redis.introspection_cache());
    }
    let introspection = introspection.build()?;
    Ok(DynTokenVerifier::new_arc(ShapeRouter::new(jwt, introspection)))
}

/// What the downstream API saw of the token it was called with.
async fn downstream_seen(token: AccessToken) -> Response {
    match token.actor() {
        Ok(act) => Json(json!({
            "subject": token.principal().subject(),
            "client_id": token.principal().client_id(),
            "act": act,
        }))
        .into_response(),
        Err(e) => (http::StatusCode::FORBIDDEN, e.to_string()).into_response(),
    }
}

/// Starts the embedded downstream API on `listener` (its own audience
/// `url`, protected by tower-bearer, trusting the development issuer) and the
/// exchange that authorizes calls to it.
fn embedded_downstream(
    dev: &DevIssuer,
    listener: tokio::net::TcpListener,
    url: String,
    args: &Args,
) -> Result<DownstreamCall, Box<dyn std::error::Error>> {
    let resource = Resource::builder(&url)
        .authorization_server(dev.issuer())
        .build()?;
    let app = Router::new()
        .route("/api", get(downstream_seen))
        .layer(resource.token_layer(dev_verifier(dev, &url, args, None)?));
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "downstream API stopped");
        }
    });
    Ok(DownstreamCall {
        exchange: TokenExchange::builder()
            .issuer(dev.issuer())
            .client_secret_basic(dev.client_id(), dev.client_secret())
            .build()?,
        target: Downstream::resource(&url)?,
        url,
        http: reqwest::Client::new(),
    })
}

/// `--downstream` with an external issuer: exchanged there with
/// `--client-id`/`--client-secret` for `--downstream-audience`.
fn external_downstream(
    args: &Args,
    issuer: &str,
) -> Result<Option<DownstreamCall>, Box<dyn std::error::Error>> {
    let (Some(url), Some(audience)) = (&args.downstream, &args.downstream_audience) else {
        return Ok(None);
    };
    let (Some(client_id), Some(secret)) = (&args.client_id, &args.client_secret) else {
        return Err("--downstream needs --client-id and --client-secret (for the token exchange)".into());
    };
    // An audience that is a URI goes as RFC 8707 `resource`, else as `audience`.
    let target = match url::Url::parse(audience) {
        Ok(_) => Downstream::resource(audience)?,
        Err(_) => Downstream::audience(audience)?,
    };
    Ok(Some(DownstreamCall {
        exchange: TokenExchange::builder()
            .issuer(issuer)
            .client_secret_basic(client_id, secret)
            .build()?,
        target,
        url: url.clone(),
        http: reqwest::Client::new(),
    }))
}

/// `--metrics-listen`: the Prometheus recorder, and `/metrics` on `addr`.
async fn serve_metrics(addr: SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
    let handle = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("  metrics: http://{}/metrics", listener.local_addr()?);
    let upkeep = handle.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            upkeep.run_upkeep();
        }
    });
    let app = Router::new().route("/metrics", get(move || std::future::ready(handle.render())));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(())
}

/// JWTs checked against the issuer's keys; with `--introspection-endpoint`,
/// opaque tokens checked by introspection (and JWTs too when `--jwks-uri` is set).
async fn verifier_for(
    args: &Args,
    issuer: &str,
    audience: &str,
    redis: Option<&RedisStore>,
) -> Result<Arc<DynTokenVerifier<'static>>, Box<dyn std::error::Error>> {
    let jwt = || {
        let mut builder = JwtVerifier::builder()
            .issuer(issuer)
            .audience(audience)
            .profile(args.provider.profile())
            .allowed_client_ids(&args.allowed_client_ids);
        for accepted in &args.accept_audiences {
            builder = builder.accept_audience(accepted);
        }
        let builder = match &args.jwks_uri {
            Some(uri) => builder.jwks_uri(uri),
            None => builder.discover(),
        };
        builder.verified_token_cache(args.verified_token_cache).build()
    };
    let Some(endpoint) = &args.introspection_endpoint else {
        return Ok(DynTokenVerifier::new_arc(jwt()?));
    };
    let (Some(client_id), Some(secret)) = (&args.client_id, &args.client_secret) else {
        return Err("--introspection-endpoint needs --client-id and --client-secret".into());
    };
    let mut introspection = IntrospectionVerifier::builder()
        .endpoint(endpoint)
        .client_credentials(client_id, secret)
        .issuer(issuer)
        .audience(audience)
        .allow_missing_audience(args.introspection_allow_missing_aud);
    for accepted in &args.accept_audiences {
        introspection = introspection.accept_audience(accepted);
    }
    if let Some(redis) = redis {
        introspection = introspection.shared_cache(redis.introspection_cache());
    }
    let introspection = introspection.build()?;
    Ok(match args.jwks_uri {
        Some(_) => DynTokenVerifier::new_arc(ShapeRouter::new(jwt()?, introspection)),
        None => DynTokenVerifier::new_arc(introspection),
    })
}

fn print_id_jag_instructions(dev: &DevIssuer, idp: &DevIssuer, audience: &str) {
    let id_jag = idp.id_jag(
        "alice@example.com",
        dev.issuer(),
        dev.client_id(),
        audience,
        "mcp:read",
    );
    println!();
    println!("Enterprise-managed authorization (ID-JAG, SEP-990): the development issuer trusts the demo");
    println!(
        "identity provider {} and exchanges its ID-JAGs in the RFC 7523 jwt-bearer grant.",
        idp.issuer()
    );
    println!(
        "An ID-JAG for alice@example.com and {} (valid 5 min, once):",
        dev.client_id()
    );
    println!("export TB_ID_JAG={id_jag}");
    println!(
        "  curl -s -u {}:{} -d grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer -d assertion=$TB_ID_JAG {}",
        dev.client_id(),
        dev.client_secret(),
        dev.token_endpoint()
    );
}

fn print_dpop_instructions(dev: &DevIssuer, base: &str, audience: &str, required: bool) {
    println!();
    if required {
        println!("DPoP is required (RFC 9449): bearer tokens are refused.");
    } else {
        println!("DPoP (RFC 9449) is accepted beside bearer tokens.");
    }
    println!("A DPoP client: a fresh key, a token bound to it (client credentials with a proof of the key,");
    println!("token_type DPoP), then GET /whoami with `Authorization: DPoP <token>` and a fresh proof:");
    println!(
        "  cargo run --example dpop_client -- --token-endpoint {} --client-id {} --client-secret {} --resource {audience} --url {base}/whoami",
        dev.token_endpoint(),
        dev.client_id(),
        dev.client_secret()
    );
    println!(
        "  (in Rust tests, tower_bearer_issuer::DpopKey::proof(method, url, Some(token)) builds the proofs)"
    );
}

fn print_dev_instructions(dev: &DevIssuer, base: &str, audience: &str, args: &Args) {
    let scopes = args.scopes.as_str();
    let token = if args.opaque_tokens {
        dev.opaque_token("dev-user", dev.client_id(), scopes, audience)
    } else {
        dev.token("dev-user", dev.client_id(), scopes, audience)
    };
    println!(
        "  development issuer: client id {} / secret {}",
        dev.client_id(),
        dev.client_secret()
    );
    println!("  authorization server metadata: {}", dev.metadata_url());
    println!();
    println!("Any OAuth-capable MCP client can log in: point it at {base}/mcp. It discovers the");
    println!("authorization server from the 401, registers itself (RFC 7591 dynamic registration, or a");
    println!("Client ID Metadata Document) and signs in with the authorization code flow and PKCE; the");
    println!("development user \"dev-user\" approves at once, and refresh tokens keep the client signed in.");
    println!("Scripts can use client credentials with the development issuer's client instead.");
    println!();
    println!(
        "A token ({scopes}, valid {} s; accepted for 60 s of clock leeway past that):",
        args.token_ttl
    );
    println!("export TB_TOKEN={token}");
    println!();
    println!("Try:");
    println!("  curl -s -H \"Authorization: Bearer $TB_TOKEN\" {base}/whoami");
    println!("  curl -si {base}/whoami   # 401 and the WWW-Authenticate challenge");
}
