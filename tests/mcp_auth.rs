//! `McpAuthLayer`: the whole MCP authorization stack from one `Resource`,
//! against rmcp's real streamable HTTP transport on loopback.

mod mcp_support;

use mcp_support::*;
use tower_bearer::Resource;
use tower_bearer::mcp::{McpAuthError, McpAuthLayer, McpScopePolicy};
use tower_bearer::scope::ScopeHierarchy;

const RESOURCE: &str = "http://127.0.0.1/mcp";

fn resource() -> Resource {
    Resource::builder(RESOURCE)
        .authorization_server(ISSUER)
        .scopes_supported(["mcp:read", "mcp:write"])
        .build()
        .unwrap()
}

fn read_write_policy() -> McpScopePolicy {
    McpScopePolicy::new()
        .hierarchy(ScopeHierarchy::chain(["mcp:admin", "mcp:write", "mcp:read"]).unwrap())
        .base(["mcp:read"])
        .and_then(|p| p.tool("read_note", ["mcp:read"]))
        .and_then(|p| p.tool("delete_note", ["mcp:write"]))
        .unwrap()
}

async fn serve_auth(auth: McpAuthLayer<FixedTokens>) -> String {
    let app = axum::Router::new().route_service("/mcp", tower::Layer::layer(&auth, mcp_service()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/mcp")
}

async fn served() -> Client {
    let auth = McpAuthLayer::builder(&resource(), FixedTokens)
        .scope_policy(read_write_policy())
        .build()
        .unwrap();
    Client::new(&serve_auth(auth).await)
}

#[tokio::test]
async fn the_layers_answer_in_order_from_one_resource() {
    let client = served().await;
    let metadata = r#"resource_metadata="http://127.0.0.1/.well-known/oauth-protected-resource/mcp""#;

    // Origin first: a foreign page is refused before any token work.
    let foreign = client
        .send(
            reqwest::Method::POST,
            Some("alice"),
            None,
            &[("origin", "https://evil.example")],
            Some(initialize().to_string()),
        )
        .await;
    assert_eq!((foreign.status, foreign.www()), (403, ""));
    // The resource's own origin passes.
    let own = client
        .send(
            reqwest::Method::POST,
            Some("alice"),
            None,
            &[("origin", "http://127.0.0.1")],
            Some(initialize().to_string()),
        )
        .await;
    assert_eq!(own.status, 200, "{}", own.body);

    // Then the token: the challenge names the resource's metadata and what
    // `initialize` needs.
    let anonymous = client
        .send(
            reqwest::Method::POST,
            None,
            None,
            &[],
            Some(initialize().to_string()),
        )
        .await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.www(), format!(r#"Bearer scope="mcp:read", {metadata}"#));
    let forged = client.post("forged", None, initialize()).await;
    assert_eq!(forged.status, 401);
    assert!(
        forged.www().contains(r#"error="invalid_token""#),
        "{}",
        forged.www()
    );

    // Then the session: another principal gets the unknown-session 404.
    let session = client.open_session("alice").await;
    let hijack = client.call_tool("bob", Some(&session), "read_note").await;
    assert_eq!(hijack.status, 404);

    // Then the scopes: a write tool with a read token is a 403 step-up.
    let session = client.open_session("alice-read").await;
    let step_up = client
        .call_tool("alice-read", Some(&session), "delete_note")
        .await;
    assert_eq!(step_up.status, 403);
    assert_eq!(
        step_up.www(),
        format!(
            r#"Bearer error="insufficient_scope", error_description="token lacks required scope", scope="mcp:read mcp:write", {metadata}"#
        )
    );

    // And the tool gets the principal as a parameter.
    let read = client.call_tool("alice-read", Some(&session), "read_note").await;
    assert_eq!(read.status, 200);
    assert!(read.body.contains("note for alice"), "{}", read.body);
}

#[tokio::test]
async fn allowed_origins_replace_the_resource_origin() {
    let auth = McpAuthLayer::builder(&resource(), FixedTokens)
        .allowed_origins(["https://app.example"])
        .build()
        .unwrap();
    let client = Client::new(&serve_auth(auth).await);
    for (origin, status) in [("https://app.example", 200), ("http://127.0.0.1", 403)] {
        let reply = client
            .send(
                reqwest::Method::POST,
                Some("alice"),
                None,
                &[("origin", origin)],
                Some(initialize().to_string()),
            )
            .await;
        assert_eq!(reply.status, status, "{origin}");
    }
}

#[test]
fn configuration_errors_name_their_value() {
    let resource = resource();
    // A policy that could demand a scope clients can never get.
    for policy in [
        McpScopePolicy::new().unlisted_tools(["mcp:admin"]),
        McpScopePolicy::new().base(["mcp:admin"]),
        McpScopePolicy::new().method("resources/read", ["files:read"]),
        McpScopePolicy::new().tool("x", ["mcp:read", "mcp:admin"]),
    ] {
        let policy = policy.unwrap();
        let error = McpAuthLayer::builder(&resource, FixedTokens)
            .scope_policy(policy)
            .build()
            .unwrap_err();
        assert!(
            matches!(&error, McpAuthError::ScopeNotSupported { scope, .. } if scope == "mcp:admin" || scope == "files:read"),
            "{error:?}"
        );
        assert!(error.to_string().contains("scopes_supported"), "{error}");
    }
    // A resource without scopes_supported constrains nothing.
    let open = Resource::builder(RESOURCE).build().unwrap();
    assert!(
        McpAuthLayer::builder(&open, FixedTokens)
            .scope_policy(McpScopePolicy::new().unlisted_tools(["mcp:admin"]).unwrap())
            .build()
            .is_ok()
    );
    for origin in [
        "app.example",
        "https://app.example/",
        "https://app.example/path",
        "ftp://x",
    ] {
        let error = McpAuthLayer::builder(&resource, FixedTokens)
            .allowed_origins([origin])
            .build()
            .unwrap_err();
        assert_eq!(
            error,
            McpAuthError::Origin {
                value: origin.to_owned()
            }
        );
        assert!(error.to_string().starts_with("allowed origin"), "{error}");
    }
}
