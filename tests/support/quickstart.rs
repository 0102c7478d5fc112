//! Runs `examples/mcp_server` as a black box.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

/// The running example; killed on drop.
pub struct Quickstart {
    child: Child,
    pub base: String,
    pub issuer: String,
    /// The development issuer's client, when no `--issuer` was given.
    pub client: Option<(String, String)>,
    /// The ready-made token it printed (subject `dev-user`), with the embedded issuer.
    pub printed_token: Option<String>,
    /// The ID-JAG of its demo identity provider it printed, with the embedded issuer.
    pub printed_id_jag: Option<String>,
    /// Everything it printed before `ready`.
    pub printed: Vec<String>,
}

impl Drop for Quickstart {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The quickstart's tools, as an SDK lists them (sorted).
pub const TOOLS: [&str; 7] = [
    "add_note",
    "clear_notes",
    "echo",
    "list_notes",
    "open_draft",
    "save_draft",
    "whoami",
];

/// Builds the quickstart and returns its path.
pub fn example_binary() -> PathBuf {
    example("mcp_server")
}

/// Builds the example `name` and returns its path. With the feature selection
/// of `scripts/test.sh` (`--workspace --all-features`), so that after its build
/// this finds the binary up to date instead of rebuilding the crate while
/// other tests are starting their servers.
pub fn example(name: &str) -> PathBuf {
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "--quiet",
            "--workspace",
            "--all-features",
            "--example",
            name,
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("run cargo build");
    assert!(status.success(), "building the example {name} failed");
    // target/debug/deps/quickstart-… → target/debug/examples/<name>
    let mut path = std::env::current_exe().unwrap();
    path.pop();
    path.pop();
    path.push("examples");
    path.push(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    path
}

/// Starts `binary` with `args` and waits (at most a minute) for it to print
/// `ready`; returns the child and the lines it printed before.
pub fn spawn_ready(binary: &std::path::Path, args: &[&str]) -> (Child, Vec<String>) {
    let mut child = Command::new(binary)
        .args(args)
        .env_remove("TB_ISSUER")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Read to the end: a closed pipe would make the server's log writes fail.
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("{} did not print `ready`; got {lines:#?}", binary.display()));
        if line == "ready" {
            break;
        }
        lines.push(line);
    }
    (child, lines)
}

/// Starts the quickstart with `args` (on a free loopback port unless they
/// name `--listen`), and waits for it to print `ready`.
pub fn start(args: &[&str]) -> Quickstart {
    let listen: &[&str] = if args.contains(&"--listen") {
        &[]
    } else {
        &["--listen", "127.0.0.1:0"]
    };
    let mut all = listen.to_vec();
    all.extend_from_slice(args);
    let (child, lines) = spawn_ready(&example_binary(), &all);
    let after = |prefix: &str| -> String {
        lines
            .iter()
            .find_map(|l| l.trim_start().strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no line starting with {prefix:?} in {lines:#?}"))
            .trim()
            .to_owned()
    };
    let base = after("tower-bearer quickstart: MCP server at ")
        .split_whitespace()
        .next()
        .unwrap()
        .trim_end_matches("/mcp")
        .to_owned();
    let issuer = after("authorization server:");
    let client = lines
        .iter()
        .find_map(|l| l.trim_start().strip_prefix("development issuer: client id "))
        .and_then(|l| l.split_once(" / secret "))
        .map(|(id, secret)| (id.to_owned(), secret.trim().to_owned()));
    let printed_token = lines
        .iter()
        .find_map(|l| l.strip_prefix("export TB_TOKEN="))
        .map(str::to_owned);
    let printed_id_jag = lines
        .iter()
        .find_map(|l| l.strip_prefix("export TB_ID_JAG="))
        .map(str::to_owned);
    Quickstart {
        child,
        printed_token,
        printed_id_jag,
        base,
        issuer,
        client,
        printed: lines,
    }
}

/// A loopback address that was free a moment ago, for servers that must know
/// their own URL before they start.
pub fn free_loopback_addr() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind loopback")
}

/// POSTs a JSON-RPC message to the quickstart's /mcp as an MCP client would.
pub async fn post_mcp(
    client: &reqwest::Client,
    qs: &Quickstart,
    token: Option<&str>,
    session: Option<&str>,
    body: serde_json::Value,
) -> reqwest::Response {
    let mut req = client
        .post(format!("{}/mcp", qs.base))
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .json(&body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(session) = session {
        req = req.header("mcp-session-id", session);
    }
    req.send().await.unwrap()
}

/// GETs the quickstart's protected `/whoami`, with `token` as the bearer if any.
pub async fn get_whoami(client: &reqwest::Client, qs: &Quickstart, token: Option<&str>) -> reqwest::Response {
    let mut req = client.get(format!("{}/whoami", qs.base));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.unwrap()
}

/// A client-credentials token request (RFC 8707 `resource`) to the
/// quickstart's development issuer, with a DPoP proof when given.
pub async fn request_token(
    client: &reqwest::Client,
    qs: &Quickstart,
    scope: &str,
    dpop_proof: Option<String>,
) -> reqwest::Response {
    let (id, secret) = qs.client.clone().expect("the embedded issuer prints its client");
    let resource = format!("{}/mcp", qs.base);
    let mut req = client
        .post(format!("{}/token", qs.issuer))
        .basic_auth(&id, Some(&secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("resource", resource.as_str()),
            ("scope", scope),
        ]);
    if let Some(proof) = dpop_proof {
        req = req.header("dpop", proof);
    }
    req.send().await.unwrap()
}

/// The access token of a successful [`request_token`] (bearer, subject = the
/// development issuer's client).
pub async fn client_token(client: &reqwest::Client, qs: &Quickstart, scope: &str) -> String {
    let answer: Value = request_token(client, qs, scope, None).await.json().await.unwrap();
    answer["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access token: {answer}"))
        .to_owned()
}

/// A `tools/call` of the 2026-07-28 revision, no session: `params` beyond the
/// tool name and the revision's `_meta` are `extra`'s members. Returns the
/// HTTP status and the first JSON-RPC message.
pub async fn stateless_call(
    client: &reqwest::Client,
    qs: &Quickstart,
    token: &str,
    tool: &str,
    extra: Value,
) -> (u16, Value) {
    let mut params = json!({"name": tool, "arguments": {}});
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        params[k] = v;
    }
    stateless_request(client, qs, token, "tools/call", Some(tool), params).await
}

/// A request of the 2026-07-28 revision, no session: `method` with `params`
/// and the revision's `_meta`, the SEP-2243 `Mcp-Method` (and `Mcp-Name` when
/// given) headers. Returns the HTTP status and the first JSON-RPC message.
pub async fn stateless_request(
    client: &reqwest::Client,
    qs: &Quickstart,
    token: &str,
    method: &str,
    name: Option<&str>,
    mut params: Value,
) -> (u16, Value) {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "raw-http", "version": "0"}
    });
    let mut req = client
        .post(format!("{}/mcp", qs.base))
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", method);
    if let Some(name) = name {
        req = req.header("mcp-name", name);
    }
    let res = req
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
        .send()
        .await
        .unwrap();
    assert!(
        res.headers().get("mcp-session-id").is_none(),
        "no session in 2026-07-28"
    );
    let status = res.status().as_u16();
    let message = super::jsonrpc_messages(&res.text().await.unwrap())
        .into_iter()
        .next()
        .unwrap_or_default();
    (status, message)
}

/// SEP-2322 through the quickstart's `clear_notes` at 2026-07-28: the first
/// call answers `input_required` with a sealed `requestState`; the retry with
/// it clears; the same state again is refused (`-32602`, "state already
/// used"); a fresh state presented by `other` is refused ("belongs to another
/// principal"), so is a tampered one, and neither uses it up: the owner's retry
/// still clears. Returns the text of the two clearing results.
pub async fn assert_request_state_opens_once(
    client: &reqwest::Client,
    qs: &Quickstart,
    owner: &str,
    other: &str,
) -> (String, String) {
    let clear = |token: &str, extra: Value| {
        let token = token.to_owned();
        async move {
            let (status, message) = stateless_call(client, qs, &token, "clear_notes", extra).await;
            assert_eq!(status, 200, "{message}");
            message
        }
    };
    let state_of = |message: &Value| -> String {
        assert_eq!(message["result"]["resultType"], "input_required", "{message}");
        message["result"]["requestState"]
            .as_str()
            .unwrap_or_else(|| panic!("a requestState: {message}"))
            .to_owned()
    };
    let cleared = |message: &Value| -> String {
        message["result"]["content"][0]["text"]
            .as_str()
            .filter(|text| text.starts_with("cleared"))
            .unwrap_or_else(|| panic!("cleared: {message}"))
            .to_owned()
    };
    let refused = |message: &Value, why: &str| {
        assert_eq!(message["error"]["code"], -32602, "{message}");
        assert!(message.to_string().contains(why), "{why}: {message}");
    };
    let state = state_of(&clear(owner, json!({})).await);
    let first = cleared(&clear(owner, json!({"requestState": state})).await);
    refused(
        &clear(owner, json!({"requestState": state})).await,
        "state already used",
    );

    let state = state_of(&clear(owner, json!({})).await);
    refused(
        &clear(other, json!({"requestState": state})).await,
        "state belongs to another principal",
    );
    let last = if state.ends_with('A') { "B" } else { "A" };
    let tampered = format!("{}{last}", &state[..state.len() - 1]);
    refused(
        &clear(owner, json!({"requestState": tampered})).await,
        "request state refused",
    );
    let second = cleared(&clear(owner, json!({"requestState": state})).await);
    (first, second)
}
