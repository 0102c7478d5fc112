//! Interop with the official MCP Python SDK client (installed by
//! scripts/setup-python.sh): OAuth discovery from our 401, client credentials at
//! the quickstart's development issuer, then MCP over streamable HTTP.

mod support;

use serde_json::Value;
use support::python::{assert_oauth_discovery, python, run_client};
use support::quickstart::{Quickstart, start};

/// Starts the quickstart with its embedded issuer and runs the Python client
/// against it.
fn run_embedded(extra: &[&str]) -> (Quickstart, Value) {
    let python = python();
    let qs = start(&[]);
    let out = run_client(
        &python,
        &qs,
        &qs.issuer,
        qs.client.clone().expect("embedded issuer"),
        extra,
    );
    (qs, out)
}

#[test]
fn interop_python_sdk_discovers_authenticates_and_calls_tools() {
    let (qs, out) = run_embedded(&["--scope=mcp:read"]);
    assert_eq!(out["tools"], serde_json::json!(support::quickstart::TOOLS));
    // Least privilege first: the 401 hinted only what initialize needs.
    assert_eq!(out["whoami"]["scopes"], serde_json::json!(["mcp:read"]));
    assert_eq!(out["whoami"]["issuer"], qs.issuer.as_str());
    assert_eq!(
        out["whoami"]["audience"],
        serde_json::json!([format!("{}/mcp", qs.base)])
    );
    // The first request was refused with 401, then discovery ran: RFC 9728
    // metadata, RFC 8414 metadata, token.
    let http: Vec<(String, String, u64)> = serde_json::from_value(out["http"].clone()).unwrap();
    assert_oauth_discovery(&http);
    assert!(http[4..].iter().all(|(_, _, status)| *status < 400), "{http:?}");
}

#[test]
fn interop_python_sdk_steps_up_from_read_to_write() {
    let (_qs, out) = run_embedded(&["--write-tool=add_note", r#"--write-args={"text": "from python"}"#]);
    // The write call was refused with 403 insufficient_scope, the SDK asked for
    // the union of scopes and retried on the same session.
    assert_eq!(out["write"]["is_error"], false, "{out}");
    assert_eq!(out["write"]["text"], "1 notes");
    assert_eq!(out["whoami"]["scopes"], serde_json::json!(["mcp:read"]));
    assert_eq!(
        out["whoami_after"]["scopes"],
        serde_json::json!(["mcp:read", "mcp:write"])
    );
    assert_eq!(out["granted_scope"], "mcp:read mcp:write");
    let http: Vec<(String, String, u64)> = serde_json::from_value(out["http"].clone()).unwrap();
    let forbidden = http
        .iter()
        .position(|(m, p, s)| m == "POST" && p == "/mcp" && *s == 403)
        .expect("a 403 step-up");
    assert_eq!(
        http[forbidden + 1],
        ("POST".into(), "/token".into(), 200),
        "{http:?}"
    );
    assert_eq!(http[forbidden + 2].2, 200, "{http:?}");
}

#[test]
fn interop_python_sdk_calls_a_downstream_api_through_token_exchange() {
    // mcp_client.py's second call (`--write-tool`) is any tool: here one that
    // needs no more than mcp:read, so no step-up happens.
    let (qs, out) = run_embedded(&["--write-tool=call_downstream", "--write-args={}"]);
    assert_eq!(out["write"]["is_error"], false, "{out}");
    let seen: Value = serde_json::from_str(out["write"]["text"].as_str().unwrap()).unwrap();
    // The client-credentials caller is the development issuer's own client,
    // and so is the actor that exchanged its token.
    let (client_id, _) = qs.client.clone().unwrap();
    assert_eq!(seen["subject"], client_id.as_str());
    assert_eq!(seen["client_id"], client_id.as_str());
    assert_eq!(seen["act"], serde_json::json!({"sub": client_id}));
    assert_eq!(out["granted_scope"], "mcp:read", "no step-up for a read tool");
}
