//! A real MCP server (rmcp's streamable HTTP transport behind axum, on
//! 127.0.0.1:0) wrapped in this crate's layers, and a small HTTP client for it.
//! The token verifier maps fixed strings to principals: it is not under test.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{ServerCapabilities, ServerConfig};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use tower::ServiceBuilder;
use tower_bearer::mcp::{McpScopeLayer, McpScopePolicy, McpSessionLayer, SessionStore};
use tower_bearer::origin::OriginLayer;
use tower_bearer::scope::ScopeHierarchy;
use tower_bearer::{
    AccessToken, InvalidToken, Principal, Scopes, TokenVerifier, TokenVerifierLayer, VerifyError,
};

pub const METADATA: &str = "http://127.0.0.1/.well-known/oauth-protected-resource/mcp";
pub const ISSUER: &str = "https://as.example";

#[derive(Clone)]
pub struct Notes {
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl Notes {
    /// Takes the verified principal as a parameter (feature `rmcp`).
    #[tool(description = "Read a note; answers with the caller's subject")]
    fn read_note(&self, principal: Principal) -> String {
        format!("note for {}", principal.subject().unwrap_or_default())
    }

    #[tool(description = "Delete a note")]
    fn delete_note(&self) -> String {
        "deleted".into()
    }
}

#[tool_handler]
impl ServerHandler for Notes {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

/// "alice", "alice-read", "alice-admin", "alice-in-leeway" (expired 10 s ago,
/// accepted as a verifier with a clock leeway does), "bob", "app-only" (a client_id
/// alone), "service" (issuer + client_id, as a client-credentials token),
/// "alice-dpop-a" and "alice-dpop-b" (alice, DPoP-bound to [`dpop_key`] 0 and 1).
pub struct FixedTokens;

impl TokenVerifier for FixedTokens {
    async fn verify(&self, token: &str) -> Result<AccessToken, VerifyError> {
        let user = |sub: &str| {
            Principal::new()
                .with_issuer(ISSUER)
                .with_subject(sub)
                .with_client_id("app")
        };
        let (principal, scopes) = match token {
            "alice" | "alice-in-leeway" => (user("alice"), "mcp:read mcp:write"),
            "alice-read" => (user("alice"), "mcp:read"),
            "alice-admin" => (user("alice"), "mcp:admin"),
            "bob" => (user("bob"), "mcp:read mcp:write"),
            "app-only" => (Principal::new().with_client_id("app"), "mcp:read mcp:write"),
            "service" => (
                Principal::new().with_issuer(ISSUER).with_client_id("app"),
                "mcp:read mcp:write",
            ),
            "alice-dpop-a" | "alice-dpop-b" => (user("alice"), "mcp:read mcp:write"),
            _ => return Err(InvalidToken::Unknown.into()),
        };
        let bound_to = match token {
            "alice-dpop-a" => Some(dpop_key(0)),
            "alice-dpop-b" => Some(dpop_key(1)),
            _ => None,
        };
        let expires = if token == "alice-in-leeway" {
            SystemTime::now() - Duration::from_secs(10)
        } else {
            SystemTime::now() + Duration::from_secs(3600)
        };
        let token = AccessToken::new(principal)
            .with_scopes(Scopes::parse(scopes))
            .with_expires_at(expires);
        Ok(match bound_to {
            Some(key) => token.with_dpop_jkt(key.thumbprint()),
            None => token,
        })
    }
}

/// Two DPoP keys: "alice-dpop-a" is bound to key 0, "alice-dpop-b" to key 1.
pub fn dpop_key(n: usize) -> &'static tower_bearer_issuer::DpopKey {
    static KEYS: std::sync::OnceLock<[tower_bearer_issuer::DpopKey; 2]> = std::sync::OnceLock::new();
    &KEYS.get_or_init(|| {
        [
            tower_bearer_issuer::DpopKey::generate(),
            tower_bearer_issuer::DpopKey::generate(),
        ]
    })[n]
}

pub fn policy() -> McpScopePolicy {
    McpScopePolicy::new()
        .hierarchy(ScopeHierarchy::chain(["mcp:admin", "mcp:write", "mcp:read"]).unwrap())
        .base(["mcp:read"])
        .unwrap()
        .tool("read_note", ["mcp:read"])
        .unwrap()
        .tool("delete_note", ["mcp:write"])
        .unwrap()
        .unlisted_tools(["mcp:admin"])
        .unwrap()
}

/// The MCP service alone (rmcp's transport, in-memory sessions).
pub fn mcp_service() -> StreamableHttpService<Notes, LocalSessionManager> {
    mcp_service_with(Arc::new(LocalSessionManager::default()))
}

fn mcp_service_with(sessions: Arc<LocalSessionManager>) -> StreamableHttpService<Notes, LocalSessionManager> {
    StreamableHttpService::new(
        || {
            Ok(Notes {
                tool_router: Notes::tool_router(),
            })
        },
        sessions,
        StreamableHttpServerConfig::default().with_sse_keep_alive(None),
    )
}

/// Serves the full stack on 127.0.0.1:0 and returns the MCP endpoint URL.
pub async fn serve<St: SessionStore + 'static>(
    sessions: McpSessionLayer<St>,
    scopes: McpScopeLayer,
) -> String {
    serve_watched(sessions, scopes).await.0
}

/// [`serve`], also returning rmcp's session manager, to count the sessions the
/// transport holds.
pub async fn serve_watched<St: SessionStore + 'static>(
    sessions: McpSessionLayer<St>,
    scopes: McpScopeLayer,
) -> (String, Arc<LocalSessionManager>) {
    let manager = Arc::new(LocalSessionManager::default());
    let mcp = mcp_service_with(manager.clone());
    let svc = ServiceBuilder::new()
        .layer(OriginLayer::new(["https://app.example"]).unwrap())
        .layer(
            TokenVerifierLayer::new(FixedTokens)
                .resource_metadata(METADATA)
                .unwrap(),
        )
        .layer(sessions)
        .layer(scopes)
        .service(mcp);
    // `route_service` keeps the path the client used (DPoP proofs name it);
    // `nest_service` would strip it.
    let app = axum::Router::new().route_service("/mcp", svc);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/mcp"), manager)
}

/// Sessions rmcp holds (live or not yet reaped).
pub async fn sessions_held(manager: &LocalSessionManager) -> usize {
    manager.sessions.read().await.len()
}

pub async fn serve_default() -> String {
    serve(McpSessionLayer::new(), McpScopeLayer::new(policy())).await
}

pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn session(&self) -> &str {
        self.headers["mcp-session-id"].to_str().unwrap()
    }

    pub fn www(&self) -> &str {
        self.headers
            .get("www-authenticate")
            .map_or("", |v| v.to_str().unwrap())
    }
}

pub struct Client {
    pub url: String,
    http: reqwest::Client,
    version: &'static str,
}

impl Client {
    /// A client sending `MCP-Protocol-Version: 2025-11-25`.
    pub fn new(url: &str) -> Self {
        Client {
            url: url.to_owned(),
            http: reqwest::Client::new(),
            version: "2025-11-25",
        }
    }

    /// The same client, declaring `version` instead.
    pub fn speaking(self, version: &'static str) -> Self {
        Client { version, ..self }
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        token: Option<&str>,
        session: Option<&str>,
        extra: &[(&str, &str)],
        body: Option<String>,
    ) -> Reply {
        let mut req = self
            .http
            .request(method, &self.url)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", self.version);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(session) = session {
            req = req.header("mcp-session-id", session);
        }
        for (name, value) in extra {
            req = req.header(*name, *value);
        }
        if let Some(body) = body {
            req = req.header("content-type", "application/json").body(body);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = res.text().await.unwrap();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn post(&self, token: &str, session: Option<&str>, body: serde_json::Value) -> Reply {
        self.send(
            reqwest::Method::POST,
            Some(token),
            session,
            &[],
            Some(body.to_string()),
        )
        .await
    }

    /// initialize + notifications/initialized; returns the session id.
    pub async fn open_session(&self, token: &str) -> String {
        let init = self.post(token, None, initialize()).await;
        assert_eq!(init.status, 200, "{}", init.body);
        assert!(init.body.contains("\"result\""), "{}", init.body);
        let session = init.session().to_owned();
        let ack = self
            .post(
                token,
                Some(&session),
                serde_json::json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
            )
            .await;
        assert_eq!(ack.status, 202, "{}", ack.body);
        session
    }

    pub async fn call_tool(&self, token: &str, session: Option<&str>, tool: &str) -> Reply {
        self.post(token, session, call(tool)).await
    }
}

pub fn initialize() -> serde_json::Value {
    serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}
    })
}

pub fn call(tool: &str) -> serde_json::Value {
    serde_json::json!({
        "jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": tool, "arguments": {}}
    })
}
