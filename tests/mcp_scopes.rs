//! Per-operation scopes and step-up challenges against rmcp's real transport.

mod mcp_support;

use mcp_support::*;
use reqwest::Method;
use serde_json::json;
use tower_bearer::mcp::{McpScopeLayer, McpSessionLayer};

fn step_up(scope: &str) -> String {
    format!(
        r#"Bearer error="insufficient_scope", error_description="token lacks required scope", scope="{scope}", resource_metadata="{METADATA}""#
    )
}

#[tokio::test]
async fn read_tool_with_read_scope_write_tool_needs_step_up() {
    let client = Client::new(&serve_default().await);
    let session = client.open_session("alice-read").await;

    let read = client.call_tool("alice-read", Some(&session), "read_note").await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert!(read.body.contains("note for alice"));

    let write = client
        .call_tool("alice-read", Some(&session), "delete_note")
        .await;
    assert_eq!(write.status, 403);
    // Every scope the operation needs, in one challenge.
    assert_eq!(write.www(), step_up("mcp:read mcp:write"));

    // After step-up (same principal, new token) the same session goes on.
    let write = client.call_tool("alice", Some(&session), "delete_note").await;
    assert_eq!(write.status, 200, "{}", write.body);
    assert!(write.body.contains("deleted"));
}

#[tokio::test]
async fn hierarchy_admin_implies_write_and_read() {
    let client = Client::new(&serve_default().await);
    let session = client.open_session("alice-admin").await;
    for tool in ["read_note", "delete_note"] {
        let res = client.call_tool("alice-admin", Some(&session), tool).await;
        assert_eq!(res.status, 200, "{tool}: {}", res.body);
    }
}

#[tokio::test]
async fn unlisted_tools_need_the_unlisted_scope() {
    let client = Client::new(&serve_default().await);
    let session = client.open_session("alice").await;
    let res = client.call_tool("alice", Some(&session), "brand_new_tool").await;
    assert_eq!(res.status, 403);
    assert_eq!(res.www(), step_up("mcp:admin mcp:read"));
}

/// "alice-in-leeway" expired 10 s ago and the verifier accepted it (as one with
/// a clock leeway does): the scope layer does not refuse it on time grounds.
#[tokio::test]
async fn a_token_the_verifier_accepted_is_not_refused_on_time() {
    let client = Client::new(&serve_default().await);
    let session = client.open_session("alice-in-leeway").await;
    let res = client
        .call_tool("alice-in-leeway", Some(&session), "delete_note")
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
}

#[tokio::test]
async fn batch_cannot_smuggle_a_write() {
    let client = Client::new(&serve_default().await);
    let session = client.open_session("alice-read").await;
    let batch = json!([call("read_note"), call("delete_note")]);
    let res = client.post("alice-read", Some(&session), batch).await;
    assert_eq!(res.status, 403);
    assert_eq!(res.www(), step_up("mcp:read mcp:write"));
    let res = client.post("alice-read", Some(&session), json!([])).await;
    assert_eq!(res.status, 400);
    assert!(res.body.contains("-32600"), "{}", res.body);
}

#[tokio::test]
async fn bad_bodies() {
    let client = Client::new(&serve_default().await);
    let session = client.open_session("alice").await;
    let send = |body: String| client.send(Method::POST, Some("alice-read"), Some(&session), &[], Some(body));

    let garbage = send("{not json".into()).await;
    assert_eq!(garbage.status, 400);
    assert!(garbage.body.contains("-32700"), "{}", garbage.body);

    // Two `name` members: no parser gets to pick a different one than ours.
    let dup = send(
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"read_note","name":"delete_note"}}"#
            .into(),
    )
    .await;
    assert_eq!(dup.status, 400);

    let small = serve(
        McpSessionLayer::new(),
        McpScopeLayer::new(policy()).body_limit(std::num::NonZeroUsize::new(256).unwrap()),
    )
    .await;
    let client = Client::new(&small);
    let big = json!({"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"x".repeat(300)}});
    assert_eq!(client.post("alice", None, big).await.status, 413);
}

#[tokio::test]
async fn get_and_delete_need_the_base_scope_only() {
    let client = Client::new(&serve_default().await);
    let session = client.open_session("alice-read").await;
    let delete = client
        .send(Method::DELETE, Some("alice-read"), Some(&session), &[], None)
        .await;
    assert_eq!(delete.status, 202, "{}", delete.body);
}

/// MCP 2026-07-28 (SEP-2243): `Mcp-Method` / `Mcp-Name` name the operation,
/// and the body must say the same, else 400 with JSON-RPC -32020 before any
/// scope decision (a header is never judged alone); only then are the scopes
/// checked. Older revisions ignore the headers.
#[tokio::test]
async fn stateless_headers_must_agree_with_the_body_before_any_scope_decision() {
    let url = serve_default().await;
    let client = Client::new(&url).speaking("2026-07-28");
    let call = |tool: &str| {
        json!({
            "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": tool, "arguments": {}, "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "0"}
            }}
        })
        .to_string()
    };
    let send = |token: &'static str, headers: Vec<(&'static str, &'static str)>, body: String| {
        let client = &client;
        async move {
            client
                .send(Method::POST, Some(token), None, &headers, Some(body))
                .await
        }
    };
    let is_mismatch = |reply: &Reply| reply.status == 400 && reply.body.contains(r#""code":-32020"#);

    // Header says a read tool, body calls a write tool: refused as a mismatch, not judged.
    let lie = send(
        "alice-read",
        vec![("mcp-method", "tools/call"), ("mcp-name", "read_note")],
        call("delete_note"),
    )
    .await;
    assert!(is_mismatch(&lie), "{} {}", lie.status, lie.body);
    assert!(
        lie.body.contains(r#""id":1"#),
        "answered for the request's id: {}",
        lie.body
    );
    // Body and headers agree on a tool the token may not use: 403 with the step-up challenge.
    let honest = send(
        "alice-read",
        vec![("mcp-method", "tools/call"), ("mcp-name", "delete_note")],
        call("delete_note"),
    )
    .await;
    assert_eq!(honest.status, 403);
    assert_eq!(honest.www(), step_up("mcp:read mcp:write"));
    // Headers are never judged alone: a header naming a tool the token may not
    // use, over a body calling another, is a mismatch (400), not a step-up (403);
    // so is a header naming a tool nobody listed (the policy's unlisted scope).
    for header in ["delete_note", "wrong_tool_name"] {
        let reply = send(
            "alice-read",
            vec![("mcp-method", "tools/call"), ("mcp-name", header)],
            call("read_note"),
        )
        .await;
        assert!(is_mismatch(&reply), "{header}: {} {}", reply.status, reply.body);
        assert_eq!(reply.www(), "", "{header}: no challenge for a mismatch");
    }
    // A body over the limit is refused without being read to its end (the
    // default limit is 4 MiB, documented on `McpScopeLayer`), whatever the headers say.
    let huge = " ".repeat(4 * 1024 * 1024 + 1);
    let unread = send(
        "alice-read",
        vec![("mcp-method", "tools/call"), ("mcp-name", "delete_note")],
        huge,
    )
    .await;
    assert_eq!(unread.status, 413);
    // Missing, repeated or undecodable headers.
    for headers in [
        vec![],
        vec![("mcp-method", "tools/call")],
        vec![("mcp-method", "tools/list"), ("mcp-name", "x"), ("mcp-name", "y")],
        vec![("mcp-method", "tools/call"), ("mcp-name", "=?base64?%%%?=")],
    ] {
        let reply = send("alice", headers.clone(), call("read_note")).await;
        assert!(
            is_mismatch(&reply),
            "{headers:?}: {} {}",
            reply.status,
            reply.body
        );
    }
    // Base64-wrapped names decode before they are compared ("read_note").
    let wrapped = send(
        "alice-read",
        vec![
            ("mcp-method", "tools/call"),
            ("mcp-name", "=?base64?cmVhZF9ub3Rl?="),
        ],
        call("delete_note"),
    )
    .await;
    assert!(is_mismatch(&wrapped), "{} {}", wrapped.status, wrapped.body);
    // Headers and body agree, scopes suffice: the request reaches the MCP service.
    let ok = send(
        "alice-read",
        vec![("mcp-method", "tools/call"), ("mcp-name", "read_note")],
        call("read_note"),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(ok.body.contains("note for alice"), "{}", ok.body);

    // 2025-11-25: the headers are not part of the revision and are not read.
    let legacy = Client::new(&url);
    let session = legacy.open_session("alice-read").await;
    let reply = legacy
        .send(
            Method::POST,
            Some("alice-read"),
            Some(&session),
            &[("mcp-method", "tools/list")],
            Some(mcp_support::call("read_note").to_string()),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

/// MCP 2026-07-28 removed `resources/subscribe` and `resources/unsubscribe`
/// (SEP-2575): they name nothing in `Mcp-Name`, so the layer asks only for
/// `Mcp-Method` and the base scopes and lets the server answer "method not
/// found"; so does any method the layer does not know. A policy entry for such
/// a method still applies.
#[tokio::test]
async fn stateless_methods_the_layer_does_not_know_reach_the_server() {
    let url = serve_default().await;
    let client = Client::new(&url).speaking("2026-07-28");
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "0"}
    });
    for method in ["resources/subscribe", "resources/unsubscribe", "vendor/unknown"] {
        let body = json!({"jsonrpc": "2.0", "id": 5, "method": method, "params": {"_meta": meta}});
        let reply = client
            .send(
                Method::POST,
                Some("alice-read"),
                None,
                &[("mcp-method", method)],
                Some(body.to_string()),
            )
            .await;
        assert!(
            !reply.body.contains("-32020") && reply.www().is_empty(),
            "{method}: refused by the layer: {} {}",
            reply.status,
            reply.body
        );
        assert!(
            reply.body.contains("-32601"),
            "{method}: {} {}",
            reply.status,
            reply.body
        );
        // Without a token it is still refused with the bare challenge.
        let anonymous = client
            .send(
                Method::POST,
                None,
                None,
                &[("mcp-method", method)],
                Some(body.to_string()),
            )
            .await;
        assert_eq!(anonymous.status, 401, "{method}");
    }
    // A policy entry for such a method is honoured.
    let guarded = serve(
        McpSessionLayer::new(),
        McpScopeLayer::new(policy().method("resources/subscribe", ["mcp:write"]).unwrap()),
    )
    .await;
    let body = json!({"jsonrpc": "2.0", "id": 5, "method": "resources/subscribe", "params": {"_meta": meta}});
    let reply = Client::new(&guarded)
        .speaking("2026-07-28")
        .send(
            Method::POST,
            Some("alice-read"),
            None,
            &[("mcp-method", "resources/subscribe")],
            Some(body.to_string()),
        )
        .await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert_eq!(reply.www(), step_up("mcp:read mcp:write"));
}
