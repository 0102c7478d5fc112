//! The quickstart with no flags against MCP clients nobody here wrote, pinned
//! in tests/interop/mcp-clients/package.json and installed by
//! scripts/setup-node.sh:
//!
//! - the official TypeScript SDK (tests/interop/mcp-clients/ts_sdk_client.mjs,
//!   a headless OAuth provider): dynamic registration, the authorization code
//!   flow with PKCE, two requests refreshing at once with the same refresh token
//!   once the access token stops working (the development issuer's reuse grace
//!   gives both the same successor: no revocation, no new sign-in), and a
//!   step-up by re-authorization with the scopes of the 403 challenge;
//! - mcp-remote, the stdio bridge of desktop clients
//!   (tests/interop/mcp-clients/mcp_remote_client.mjs), whose browser step is a
//!   script named by `BROWSER` that follows the authorization redirect.
//!
//! The tests are named `interop_node_` so that scripts/test.sh skips them,
//! loudly, outside CI when the npm registry cannot be reached.

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use support::exchanges;
use support::quickstart::{free_loopback_addr, start};
use tokio::process::Command;

/// How long a client may take, all requests included.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(120);

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/mcp-clients")
}

/// Runs `node <script> <args>` in tests/interop/mcp-clients (with `envs`);
/// returns its last stdout line, parsed. Panics when it fails.
async fn run_client(script: &str, args: &[&str], envs: &[(&str, &Path)]) -> Value {
    let dir = clients_dir();
    assert!(
        dir.join("node_modules/mcp-remote").exists(),
        "run scripts/setup-node.sh first"
    );
    let run = Command::new("node")
        .arg(dir.join(script))
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(&dir)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(CLIENT_TIMEOUT, run)
        .await
        .unwrap_or_else(|_| panic!("{script} finishes in time"))
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{script} failed ({}): {stdout}\n{stderr}",
        output.status
    );
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("one JSON line, not {stdout:?} ({e})\n{stderr}"))
}

#[tokio::test]
async fn interop_node_ts_sdk_logs_in_refreshes_at_once_and_steps_up() {
    let qs = start(&[]);
    let url = format!("{}/mcp", qs.base);
    let report = run_client("ts_sdk_client.mjs", &[&url], &[]).await;
    let http = exchanges(&report);
    let count = |path: &str, status: u64| http.iter().filter(|e| e.1 == path && e.2 == status).count();

    // Login: 401, registration, one approved authorization, the code exchanged.
    assert_eq!((http[0].1.as_str(), http[0].2), ("/mcp", 401), "{http:?}");
    assert_eq!(count("/register", 201), 1, "{http:?}");
    let client_id = report["client_id"].as_str().unwrap();
    assert!(client_id.starts_with("dcr-"), "{client_id}");
    assert_eq!(
        report["granted"], "mcp:read",
        "least privilege from the challenge"
    );
    assert_eq!(report["whoami"]["subject"], "dev-user");
    assert_eq!(report["whoami"]["client_id"], client_id);
    assert_eq!(report["whoami"]["audience"], json!([url]));
    assert_eq!(
        report["tools"],
        json!(support::quickstart::TOOLS),
        "the SDK lists every tool"
    );

    // Two requests met the unusable token and refreshed at once with the same
    // refresh token: both answered, with one successor; no new sign-in.
    assert_eq!(report["refreshes"], 2, "{report}");
    assert_eq!(report["successors"], 1, "the same successor pair: {report}");
    let refreshes: Vec<u64> = http
        .iter()
        .filter(|e| e.3.as_deref() == Some("refresh_token"))
        .map(|e| e.2)
        .collect();
    assert!(
        refreshes.len() >= 2 && refreshes.iter().all(|s| *s == 200),
        "{http:?}"
    );
    assert_eq!(report["whoami_after_refresh"]["subject"], "dev-user");

    // Step-up: 403 with both scopes; re-authorization grants them; the same
    // session goes on for the same principal.
    assert_eq!(report["step_up_needed"], true, "{report}");
    assert_eq!(report["step_up_scope"], "mcp:read mcp:write");
    assert_eq!(report["granted_after_step_up"], "mcp:read mcp:write");
    assert!(report["add_note"].as_str().unwrap().contains("notes"), "{report}");
    assert_eq!(
        report["whoami_after_step_up"]["scopes"],
        json!(["mcp:read", "mcp:write"])
    );
    assert_eq!(report["whoami_after_step_up"]["client_id"], client_id);
    let codes = http
        .iter()
        .filter(|e| e.3.as_deref() == Some("authorization_code"))
        .count();
    assert_eq!(
        (count("/authorize", 302), codes),
        (2, 2),
        "login and step-up: {http:?}"
    );
    assert!(
        http.iter().filter(|e| e.1 == "/token").all(|e| e.2 == 200),
        "no token request refused: {http:?}"
    );
    assert!(
        http.iter()
            .filter(|e| e.1 == "/mcp")
            .all(|e| [200, 202, 401, 403].contains(&e.2)),
        "{http:?}"
    );
}

#[tokio::test]
async fn interop_node_mcp_remote_logs_in_through_its_browser_step_and_calls_tools() {
    let qs = start(&[]);
    let url = format!("{}/mcp", qs.base);
    let config = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("mcp-remote-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&config);
    std::fs::create_dir_all(&config).unwrap();
    let port = free_loopback_addr().port().to_string();
    let report = run_client(
        "mcp_remote_client.mjs",
        &[&url, &port],
        &[("MCP_REMOTE_CONFIG_DIR", &config)],
    )
    .await;
    assert_eq!(report["tools"], json!(support::quickstart::TOOLS), "{report}");
    let whoami = &report["whoami"];
    assert_eq!(whoami["subject"], "dev-user", "{report}");
    assert!(
        whoami["client_id"].as_str().unwrap().starts_with("dcr-"),
        "{report}"
    );
    assert_eq!(whoami["scopes"], json!(["mcp:read"]));
    assert_eq!(whoami["audience"], json!([url]));
}
