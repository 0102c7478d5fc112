//! Interop at MCP revision 2026-07-28 (stateless: no initialize, no session;
//! `server/discover`, `Mcp-Method` / `Mcp-Name` headers) with the official MCP
//! Python SDK client (installed by scripts/setup-python.sh), against the
//! quickstart trusting a real authorization server, Node `oidc-provider`
//! (installed by scripts/setup-node.sh; RFC 9068 JWTs with `aud` = the
//! quickstart's /mcp): OAuth discovery from our 401, a client-credentials
//! token from oidc-provider, step-up on 403, and the SDK driving
//! `clear_notes`' multi round trip (SEP-2322) by itself. Then, over raw HTTP
//! on the same server with oidc-provider tokens of two clients (two
//! principals): the sealed `requestState` opens once and only for its
//! principal, and a 2025-11-25 session still binds to its owner beside the
//! stateless revision.
//!
//! Named `interop_node_python_`: scripts/test.sh skips them loudly (outside CI
//! only) when either Node packages or the Python SDK cannot be installed.

mod support;

use serde_json::{Value, json};
use support::jsonrpc_messages;
use support::oidc::{MCP_CLIENT, OTHER_CLIENT, OidcProvider, TokenFormat};
use support::python::{assert_oauth_discovery, python, run_script};
use support::quickstart::{
    Quickstart, assert_request_state_opens_once, free_loopback_addr, get_whoami, start, stateless_call,
};

/// oidc-provider issuing JWTs for a quickstart that trusts it, on one port
/// chosen before either starts (the resource names it). The runtime keeps the
/// provider's stdout drained while the test runs the SDK synchronously.
struct Servers {
    qs: Quickstart,
    provider: OidcProvider,
    resource: String,
    rt: tokio::runtime::Runtime,
}

fn start_servers(test: &str) -> Servers {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let addr = free_loopback_addr();
    let resource = format!("http://{addr}/mcp");
    let provider = rt.block_on(OidcProvider::start(test, &resource, TokenFormat::Jwt));
    let listen = addr.to_string();
    let qs = start(&["--listen", &listen, "--issuer", &provider.endpoints.issuer]);
    Servers {
        qs,
        provider,
        resource,
        rt,
    }
}

/// Runs tests/interop/python/mcp_client_stateless.py against the quickstart's
/// /mcp as oidc-provider's `mcp-client`; returns its JSON report.
fn run_stateless_client(python: &str, servers: &Servers, extra: &[&str]) -> Value {
    let (id, secret) = MCP_CLIENT;
    let client = (id.to_owned(), secret.to_owned());
    let issuer = &servers.provider.endpoints.issuer;
    run_script(
        python,
        "mcp_client_stateless.py",
        &servers.qs,
        issuer,
        client,
        extra,
    )
}

/// The recorded exchanges as (method, path, status).
fn exchanges(out: &Value) -> Vec<(String, String, u64)> {
    out["http"]
        .as_array()
        .expect("an http log")
        .iter()
        .map(|e| {
            (
                e["method"].as_str().unwrap().to_owned(),
                e["path"].as_str().unwrap().to_owned(),
                e["status"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Where each exchange went: OAuth discovery of the authorization server and
/// every token request (the step-up's too) to oidc-provider, never to the
/// quickstart; the resource metadata and MCP to the quickstart.
fn assert_tokens_from_provider(out: &Value, servers: &Servers) {
    let provider = servers.provider.endpoints.issuer.as_str();
    let log = out["http"].as_array().unwrap();
    let tokens = log.iter().filter(|e| e["path"] == "/token").count();
    assert!(tokens >= 1, "{out}");
    for e in log {
        let path = e["path"].as_str().unwrap();
        let at_provider = path == "/token" || path.starts_with("/.well-known/oauth-authorization-server");
        let want = if at_provider {
            provider
        } else {
            servers.qs.base.as_str()
        };
        assert_eq!(e["origin"], want, "{e}");
    }
}

/// The /mcp POSTs the SDK sent: every one at 2026-07-28 with its `Mcp-Method`
/// (and `Mcp-Name` for a tool call) matching the body, never an
/// `Mcp-Session-Id` either way, never `initialize`.
fn assert_stateless_wire(out: &Value) {
    let posts: Vec<&Value> = out["http"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["method"] == "POST" && e["path"] == "/mcp")
        .collect();
    assert!(!posts.is_empty(), "{out}");
    for post in posts {
        assert_eq!(post["protocol_version"], "2026-07-28", "{post}");
        assert_eq!(post["mcp_method"], post["rpc"], "{post}");
        assert_ne!(post["rpc"], "initialize", "{post}");
        assert_ne!(post["rpc"], "notifications/initialized", "{post}");
        assert_eq!(post["sent_session_id"], false, "{post}");
        assert_eq!(post["got_session_id"], false, "no session in 2026-07-28: {post}");
        if post["rpc"] == "tools/call" {
            assert!(post["mcp_name"].is_string(), "{post}");
        }
    }
    assert!(
        out["http"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["got_session_id"] == false),
        "{out}"
    );
}

/// A 2025-11-25 request (session era) with the method's SEP-2243 header.
async fn session_post(
    client: &reqwest::Client,
    qs: &Quickstart,
    token: &str,
    session: Option<&str>,
    body: Value,
) -> reqwest::Response {
    let method = body["method"].as_str().unwrap().to_owned();
    let mut req = client
        .post(format!("{}/mcp", qs.base))
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .header("mcp-method", method)
        .json(&body);
    if let Some(name) = body["params"]["name"].as_str() {
        req = req.header("mcp-name", name);
    }
    if let Some(session) = session {
        req = req.header("mcp-session-id", session);
    }
    req.send().await.unwrap()
}

#[test]
fn interop_node_python_stateless_sdk_discovers_steps_up_and_clears() {
    let python = python();
    let servers = start_servers("stateless sdk");
    let out = run_stateless_client(
        &python,
        &servers,
        &[
            "--scope=mcp:read",
            "--write-tool=add_note",
            r#"--write-args={"text": "from python"}"#,
            "--clear",
        ],
    );
    // The SDK's `mode="auto"` probed server/discover and adopted 2026-07-28:
    // no initialize handshake.
    assert_eq!(out["protocol_version"], "2026-07-28", "{out}");
    assert_eq!(out["discovered"], true, "{out}");
    assert_eq!(out["initialized"], false, "{out}");
    assert!(
        out["supported_versions"]
            .as_array()
            .unwrap()
            .contains(&json!("2026-07-28")),
        "{out}"
    );
    assert_eq!(out["tools"], serde_json::json!(support::quickstart::TOOLS));
    assert_eq!(out["echo"], json!({"is_error": false, "text": "hello stateless"}));
    assert_eq!(out["whoami"]["scopes"], json!(["mcp:read"]));
    // The token is oidc-provider's, for this resource, of the client the SDK ran as.
    let issuer = servers.provider.endpoints.issuer.as_str();
    assert_eq!(out["whoami"]["issuer"], issuer, "{out}");
    assert_eq!(out["whoami"]["client_id"], MCP_CLIENT.0, "{out}");
    assert_eq!(out["whoami"]["audience"], json!([servers.resource]));
    // Step-up: add_note refused with 403 insufficient_scope, the SDK asked for
    // the union of scopes and retried, with no session to carry over.
    assert_eq!(
        out["write"],
        json!({"is_error": false, "text": "1 notes"}),
        "{out}"
    );
    assert_eq!(out["whoami_after"]["scopes"], json!(["mcp:read", "mcp:write"]));
    assert_eq!(out["granted_scope"], "mcp:read mcp:write");
    // The multi round trip, driven by the SDK: input_required, then the retry
    // with the requestState cleared the note.
    assert_eq!(out["notes_before"], json!(["from python"]), "{out}");
    assert_eq!(
        out["clear"],
        json!({"is_error": false, "text": "cleared 1 notes"}),
        "{out}"
    );
    assert_eq!(out["notes_after"], json!([]), "{out}");

    let http = exchanges(&out);
    // The first request (the discover probe) was refused with 401, then OAuth
    // discovery ran: RFC 9728 metadata, RFC 8414 metadata, token; then the
    // probe again, now answered.
    assert_oauth_discovery(&http);
    assert_tokens_from_provider(&out, &servers);
    assert_eq!(out["http"][0]["rpc"], "server/discover");
    assert_eq!(http[4], ("POST".into(), "/mcp".into(), 200));
    assert_eq!(out["http"][4]["rpc"], "server/discover");
    let forbidden = http
        .iter()
        .position(|(m, p, s)| m == "POST" && p == "/mcp" && *s == 403)
        .expect("a 403 step-up");
    assert_eq!(out["http"][forbidden]["mcp_name"], "add_note");
    assert_eq!(
        http[forbidden + 1],
        ("POST".into(), "/token".into(), 200),
        "{http:?}"
    );
    assert_eq!(http[forbidden + 2].2, 200, "{http:?}");
    assert!(
        http.iter()
            .enumerate()
            .all(|(i, (_, _, s))| *s < 400 || i == 0 || i == forbidden),
        "{http:?}"
    );
    // clear_notes went out twice: without, then with the requestState.
    let clears: Vec<&Value> = out["http"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["mcp_name"] == "clear_notes")
        .collect();
    assert_eq!(clears.len(), 2, "{out}");
    assert_eq!(clears[0]["request_state"], false);
    assert_eq!(clears[1]["request_state"], true);
    assert_stateless_wire(&out);

    // Raw HTTP on the same server, two principals: oidc-provider's two
    // clients, each with a client-credentials token.
    servers.rt.block_on(raw_request_state_and_session(&servers));
}

async fn raw_request_state_and_session(servers: &Servers) {
    let qs = &servers.qs;
    let client = reqwest::Client::new();
    let both = "mcp:read mcp:write";
    // The SDK's client (its notes were cleared by the SDK run) and another.
    let writer = servers.provider.client_credentials_token(both).await;
    let other = servers
        .provider
        .client_credentials_token_of(OTHER_CLIENT, both)
        .await;
    for (token, client_id) in [(&writer, MCP_CLIENT.0), (&other, OTHER_CLIENT.0)] {
        let res = get_whoami(&client, qs, Some(token)).await;
        assert_eq!(res.status(), 200);
        let who: Value = res.json().await.unwrap();
        assert_eq!(who["client_id"], client_id, "{who}");
    }

    let (status, added) = stateless_call(
        &client,
        qs,
        &writer,
        "add_note",
        json!({"arguments": {"text": "raw"}}),
    )
    .await;
    assert_eq!(status, 200, "{added}");
    assert_eq!(added["result"]["content"][0]["text"], "1 notes", "{added}");

    // requestState opens once, for its principal only; the note is cleared
    // by the first retry, nothing is left for the owner's last one.
    let (first, last) = assert_request_state_opens_once(&client, qs, &writer, &other).await;
    assert_eq!(first, "cleared 1 notes");
    assert_eq!(last, "cleared 0 notes");

    // 2025-11-25 on the same server: initialize opens a session bound to its
    // principal; another principal presenting the session id gets 404.
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "interop-raw", "version": "0"}}});
    let res = session_post(&client, qs, &writer, None, init).await;
    assert_eq!(res.status(), 200);
    let session = res
        .headers()
        .get("mcp-session-id")
        .expect("a session at 2025-11-25")
        .to_str()
        .unwrap()
        .to_owned();
    let messages = jsonrpc_messages(&res.text().await.unwrap());
    assert_eq!(
        messages.last().unwrap()["result"]["protocolVersion"],
        "2025-11-25",
        "{messages:?}"
    );
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let res = session_post(&client, qs, &writer, Some(&session), initialized).await;
    assert_eq!(res.status(), 202);
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let res = session_post(&client, qs, &other, Some(&session), list.clone()).await;
    assert_eq!(res.status(), 404, "another principal, the owner's session");
    let res = session_post(&client, qs, &writer, Some(&session), list).await;
    assert_eq!(res.status(), 200);
    let messages = jsonrpc_messages(&res.text().await.unwrap());
    assert!(
        messages.last().unwrap()["result"]["tools"].is_array(),
        "{messages:?}"
    );
}

#[test]
fn interop_node_python_stateless_sdk_pinned_revision_skips_the_probe() {
    let python = python();
    let servers = start_servers("stateless pinned");
    // `mode="2026-07-28"`: the SDK adopts the revision without server/discover.
    let out = run_stateless_client(&python, &servers, &["--mode=2026-07-28", "--scope=mcp:read"]);
    assert_eq!(out["protocol_version"], "2026-07-28", "{out}");
    assert_eq!(out["initialized"], false, "{out}");
    assert_eq!(out["echo"]["text"], "hello stateless", "{out}");
    assert_eq!(out["whoami"]["scopes"], json!(["mcp:read"]));
    let issuer = servers.provider.endpoints.issuer.as_str();
    assert_eq!(out["whoami"]["issuer"], issuer, "{out}");
    let http = exchanges(&out);
    assert_eq!(http[0], ("POST".into(), "/mcp".into(), 401), "{http:?}");
    assert_eq!(out["http"][0]["rpc"], "tools/list", "{out}");
    assert!(
        out["http"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["rpc"] != "server/discover"),
        "{out}"
    );
    assert_tokens_from_provider(&out, &servers);
    assert_stateless_wire(&out);
}
