//! Interop at MCP revision 2026-07-28 (stateless: no initialize, no session;
//! `server/discover`, `Mcp-Method` / `Mcp-Name` headers) with the official MCP
//! Python SDK client (installed by scripts/setup-python.sh), against the
//! quickstart with its embedded development issuer: OAuth discovery from our
//! 401, client credentials, step-up on 403, and the SDK driving `clear_notes`'
//! multi round trip (SEP-2322) by itself. Then, over raw HTTP on the same
//! server: the sealed `requestState` opens once and only for its principal,
//! and a 2025-11-25 session still binds to its owner beside the stateless
//! revision.

mod support;

use serde_json::{Value, json};
use support::jsonrpc_messages;
use support::python::{assert_oauth_discovery, python, run_script};
use support::quickstart::{Quickstart, request_token, start, stateless_call};

/// Runs tests/interop/python/mcp_client_stateless.py against the quickstart's
/// /mcp with its embedded issuer's client; returns its JSON report.
fn run_stateless_client(python: &str, qs: &Quickstart, extra: &[&str]) -> Value {
    let client = qs.client.clone().expect("embedded issuer");
    run_script(python, "mcp_client_stateless.py", qs, &qs.issuer, client, extra)
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

async fn client_credentials_token(client: &reqwest::Client, qs: &Quickstart, scope: &str) -> String {
    let token: Value = request_token(client, qs, scope, None).await.json().await.unwrap();
    token["access_token"]
        .as_str()
        .expect("an access token")
        .to_owned()
}

#[test]
fn interop_python_stateless_sdk_discovers_steps_up_and_clears() {
    let python = python();
    let qs = start(&[]);
    let out = run_stateless_client(
        &python,
        &qs,
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
    assert_eq!(
        out["tools"],
        json!([
            "add_note",
            "clear_notes",
            "echo",
            "list_notes",
            "open_draft",
            "save_draft",
            "whoami"
        ])
    );
    assert_eq!(out["echo"], json!({"is_error": false, "text": "hello stateless"}));
    assert_eq!(out["whoami"]["scopes"], json!(["mcp:read"]));
    assert_eq!(out["whoami"]["issuer"], qs.issuer.as_str());
    assert_eq!(out["whoami"]["audience"], json!([format!("{}/mcp", qs.base)]));
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

    // Raw HTTP on the same server, two principals: the embedded issuer's
    // client (client credentials) and the printed token (subject dev-user).
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(raw_request_state_and_session(&qs));
}

async fn raw_request_state_and_session(qs: &Quickstart) {
    let client = reqwest::Client::new();
    let writer = client_credentials_token(&client, qs, "mcp:read mcp:write").await;
    let dev_user = qs.printed_token.clone().expect("printed token");

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

    // First call: input_required with a sealed requestState.
    let (status, first) = stateless_call(&client, qs, &writer, "clear_notes", json!({})).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["result"]["resultType"], "input_required", "{first}");
    let state = first["result"]["requestState"]
        .as_str()
        .expect("a requestState")
        .to_owned();
    // Retry with it: cleared.
    let (_, retry) = stateless_call(
        &client,
        qs,
        &writer,
        "clear_notes",
        json!({"requestState": state}),
    )
    .await;
    assert_eq!(
        retry["result"]["content"][0]["text"], "cleared 1 notes",
        "{retry}"
    );
    // The same state again: refused, once means once.
    let (_, replay) = stateless_call(
        &client,
        qs,
        &writer,
        "clear_notes",
        json!({"requestState": state}),
    )
    .await;
    assert_eq!(replay["error"]["code"], -32602, "{replay}");
    assert!(replay.to_string().contains("state already used"), "{replay}");

    // A fresh state presented by another principal: refused, and not used up.
    let (_, fresh) = stateless_call(&client, qs, &writer, "clear_notes", json!({})).await;
    let state = fresh["result"]["requestState"]
        .as_str()
        .expect("a requestState")
        .to_owned();
    let (_, stolen) = stateless_call(
        &client,
        qs,
        &dev_user,
        "clear_notes",
        json!({"requestState": state}),
    )
    .await;
    assert_eq!(stolen["error"]["code"], -32602, "{stolen}");
    assert!(
        stolen.to_string().contains("state belongs to another principal"),
        "{stolen}"
    );
    let (_, mine) = stateless_call(
        &client,
        qs,
        &writer,
        "clear_notes",
        json!({"requestState": state}),
    )
    .await;
    assert_eq!(mine["result"]["content"][0]["text"], "cleared 0 notes", "{mine}");

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
    let res = session_post(&client, qs, &dev_user, Some(&session), list.clone()).await;
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
fn interop_python_stateless_sdk_pinned_revision_skips_the_probe() {
    let python = python();
    let qs = start(&[]);
    // `mode="2026-07-28"`: the SDK adopts the revision without server/discover.
    let out = run_stateless_client(&python, &qs, &["--mode=2026-07-28", "--scope=mcp:read"]);
    assert_eq!(out["protocol_version"], "2026-07-28", "{out}");
    assert_eq!(out["initialized"], false, "{out}");
    assert_eq!(out["echo"]["text"], "hello stateless", "{out}");
    assert_eq!(out["whoami"]["scopes"], json!(["mcp:read"]));
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
    assert_stateless_wire(&out);
}
