//! Runs the official MCP Python SDK clients (tests/interop/python/*.py).

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::quickstart::Quickstart;

/// Installs the SDK and returns the venv's interpreter. Panics when PyPI cannot
/// be reached (exit 3): the test fails, never passes without running.
/// `scripts/test.sh` runs the same script first and, outside CI only, skips the
/// Python tests with the reason.
pub fn python() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let status = Command::new(root.join("scripts/setup-python.sh"))
        .status()
        .expect("run setup-python.sh");
    assert!(
        status.code() != Some(3),
        "the MCP Python SDK is not installed: PyPI cannot be reached (scripts/setup-python.sh \
         exit 3); scripts/test.sh skips these tests outside CI"
    );
    assert!(status.success(), "scripts/setup-python.sh failed: {status}");
    root.join(".venv/bin/python").display().to_string()
}

/// Runs tests/interop/python/mcp_client.py against the quickstart's /mcp with
/// the given authorization server and client; returns its JSON report.
pub fn run_client(
    python: &str,
    qs: &Quickstart,
    issuer: &str,
    client: (String, String),
    extra: &[&str],
) -> Value {
    run_script(python, "mcp_client.py", qs, issuer, client, extra)
}

/// Runs `script` (in tests/interop/python) against the quickstart's /mcp with
/// the given authorization server and client; returns its JSON report.
pub fn run_script(
    python: &str,
    script: &str,
    qs: &Quickstart,
    issuer: &str,
    (client_id, client_secret): (String, String),
    extra: &[&str],
) -> Value {
    // `--flag=value`: a random secret may start with `-`.
    let mut args = vec![
        format!("--url={}/mcp", qs.base),
        format!("--issuer={issuer}"),
        format!("--client-id={client_id}"),
        format!("--client-secret={client_secret}"),
    ];
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    run_python(python, script, &args)
}

/// Runs `script` (in tests/interop/python) with `args`; returns the JSON
/// report it prints last, and fails the test if it fails.
pub fn run_python(python: &str, script: &str, args: &[String]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop/python")
        .join(script);
    let output = Command::new(python)
        .arg(script)
        .args(args)
        .output()
        .expect("run the Python client");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "client failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("one JSON line")
}

/// The start every OAuth client run shares: the first /mcp request refused
/// with 401, then discovery (RFC 9728 metadata, RFC 8414 metadata) and the
/// token request. `http` is the run's (method, path, status) log.
pub fn assert_oauth_discovery(http: &[(String, String, u64)]) {
    assert_eq!(http[0], ("POST".into(), "/mcp".into(), 401), "{http:?}");
    assert_eq!(
        http[1],
        (
            "GET".into(),
            "/.well-known/oauth-protected-resource/mcp".into(),
            200
        )
    );
    assert_eq!(
        http[2],
        (
            "GET".into(),
            "/.well-known/oauth-authorization-server".into(),
            200
        )
    );
    assert_eq!(http[3], ("POST".into(), "/token".into(), 200));
}
