//! DPoP (RFC 9449) end to end with software nobody here wrote, over real HTTP on
//! loopback: Node `oidc-provider` with DPoP on issues DPoP-bound tokens (RFC 9068
//! JWTs with `cnf.jkt`, and opaque tokens whose introspection answers `cnf.jkt`),
//! the npm package `oauth4webapi` is the DPoP client (tests/interop/dpop/client.mjs),
//! and the quickstart with `--dpop required` (and, in one test, `--dpop-nonce`) is
//! the resource server. Node and both packages are installed by
//! scripts/setup-node.sh; the tests are named `interop_node_` so that
//! scripts/test.sh skips them, loudly, outside CI when the npm registry cannot be
//! reached (under CI=true that is a failure, and so is it when running them
//! directly: they never pass without running).

mod support;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use support::oidc::{AsDpop, MCP_CLIENT, OidcProvider, TokenFormat};
use support::quickstart::{Quickstart, free_loopback_addr, start};
use tokio::process::Command;

/// How long the client may take, all requests included.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs tests/interop/dpop/client.mjs against `provider` and the quickstart's
/// /mcp; returns its one-line JSON report. Panics when it fails to report.
async fn run_client(provider: &OidcProvider, qs: &Quickstart, resource: &str) -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mcp_url = format!("{}/mcp", qs.base);
    let (client_id, client_secret) = MCP_CLIENT;
    let run = Command::new("node")
        .arg(root.join("tests/interop/dpop/client.mjs"))
        .env("TOKEN_ENDPOINT", &provider.endpoints.token_endpoint)
        .env("ISSUER", &provider.endpoints.issuer)
        .env("CLIENT_ID", client_id)
        .env("CLIENT_SECRET", client_secret)
        .env("RESOURCE", resource)
        .env("MCP_URL", &mcp_url)
        .env("SCOPE", "mcp:read")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(CLIENT_TIMEOUT, run)
        .await
        .expect("the DPoP client finishes in time")
        .expect("node runs the DPoP client");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the DPoP client failed ({}): {stdout}\n{stderr}",
        output.status
    );
    let line = stdout.lines().last().unwrap_or_default();
    let report: Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("one JSON line, not {stdout:?} ({e})\n{stderr}"));
    eprintln!("DPoP client report: {report}");
    report
}

/// Starts the quickstart as a DPoP-required resource server in front of
/// `provider`, for `format` tokens, with server nonces when `nonces`.
fn start_quickstart(
    provider: &OidcProvider,
    listen: &str,
    resource: &str,
    format: TokenFormat,
    nonces: bool,
) -> Quickstart {
    let e = &provider.endpoints;
    let mut args = vec!["--listen", listen, "--issuer", e.issuer.as_str()];
    match format {
        TokenFormat::Jwt => args.extend(["--audience", resource, "--jwks-uri", e.jwks_uri.as_str()]),
        TokenFormat::Opaque => args.extend([
            "--introspection-endpoint",
            e.introspection_endpoint.as_str(),
            "--client-id",
            "rs-client",
            "--client-secret",
            "rs-secret",
        ]),
    }
    args.extend(["--dpop", "required"]);
    if nonces {
        args.push("--dpop-nonce");
    }
    start(&args)
}

/// The assertions every variant shares; `nonces` = the quickstart runs with
/// `--dpop-nonce`.
fn assert_report(report: &Value, format: TokenFormat, resource: &str, nonces: bool) {
    let jkt = report["jkt"].as_str().expect("the client's key thumbprint");

    // The authorization server bound the token to the client's key.
    let token = &report["token"];
    assert_eq!(token["status"], 200, "{report}");
    assert_eq!(token["token_type"], "DPoP", "{report}");
    match format {
        TokenFormat::Jwt => {
            assert_eq!(token["is_jwt"], true, "{report}");
            assert_eq!(token["cnf"]["jkt"], jkt, "{report}");
            assert_eq!(token["aud"], resource, "{report}");
        }
        TokenFormat::Opaque => assert_eq!(token["is_jwt"], false, "an opaque token: {report}"),
    }

    // initialize: 200 with a session, after exactly one use_dpop_nonce 401 when
    // the quickstart demands nonces, and none otherwise.
    let init = &report["initialize"];
    assert_eq!(init["status"], 200, "{report}");
    let session = init["session_id"].as_str().unwrap_or_default();
    assert!(!session.is_empty(), "a session id: {report}");
    assert!(
        init["messages"][0]["result"]["serverInfo"].is_object(),
        "an initialize result: {report}"
    );
    assert_eq!(init["nonce_retry"], nonces, "{report}");
    let attempts = init["attempts"].as_array().expect("attempts");
    if nonces {
        assert_eq!(attempts.len(), 2, "{report}");
        let first = &attempts[0];
        assert_eq!(first["status"], 401, "{report}");
        let challenge = first["www_authenticate"].as_str().unwrap_or_default();
        assert!(challenge.starts_with("DPoP "), "{report}");
        assert!(challenge.contains(r#"error="use_dpop_nonce""#), "{report}");
        assert!(first["dpop_nonce"].is_string(), "a DPoP-Nonce header: {report}");
    } else {
        assert_eq!(attempts.len(), 1, "{report}");
        assert!(
            attempts[0]["dpop_nonce"].is_null(),
            "no nonces without --dpop-nonce: {report}"
        );
    }

    // The session goes on with fresh proofs (and the cached nonce, if any).
    assert_eq!(report["initialized"]["status"], 202, "{report}");
    let list = &report["tools_list"];
    assert_eq!(list["status"], 200, "{report}");
    assert!(list["messages"][0]["result"]["tools"].is_array(), "{report}");
    if !nonces {
        assert_eq!(list["nonce_retry"], false, "{report}");
        assert_eq!(report["initialized"]["nonce_retry"], false, "{report}");
    }

    // The DPoP-bound token without its proof is refused, whatever the scheme.
    let misuse = &report["bearer_misuse"];
    assert_eq!(misuse["status"], 401, "Bearer with a DPoP-bound token: {report}");
    assert!(misuse["www_authenticate"].is_string(), "a challenge: {report}");
    assert_eq!(
        report["dpop_without_proof"]["status"], 401,
        "DPoP without a proof: {report}"
    );
}

#[tokio::test]
async fn interop_node_oauth4webapi_dpop_jwt_from_oidc_provider() {
    let addr = free_loopback_addr();
    let resource = format!("http://{addr}/mcp");
    let provider = OidcProvider::start_dpop("dpop jwt", &resource, TokenFormat::Jwt, AsDpop::On).await;
    let qs = start_quickstart(&provider, &addr.to_string(), &resource, TokenFormat::Jwt, false);
    let report = run_client(&provider, &qs, &resource).await;
    assert_report(&report, TokenFormat::Jwt, &resource, false);
    assert_eq!(report["token"]["nonce_retry"], false, "{report}");
}

#[tokio::test]
async fn interop_node_oauth4webapi_dpop_opaque_introspected_cnf_jkt() {
    let addr = free_loopback_addr();
    let resource = format!("http://{addr}/mcp");
    let provider = OidcProvider::start_dpop("dpop opaque", &resource, TokenFormat::Opaque, AsDpop::On).await;
    let qs = start_quickstart(
        &provider,
        &addr.to_string(),
        &resource,
        TokenFormat::Opaque,
        false,
    );
    let report = run_client(&provider, &qs, &resource).await;
    assert_report(&report, TokenFormat::Opaque, &resource, false);
}

#[tokio::test]
async fn interop_node_oauth4webapi_dpop_nonces_at_both_servers() {
    let addr = free_loopback_addr();
    let resource = format!("http://{addr}/mcp");
    // oidc-provider demands its own nonces too: oauth4webapi meets two.
    let provider = OidcProvider::start_dpop("dpop nonces", &resource, TokenFormat::Jwt, AsDpop::Nonces).await;
    let qs = start_quickstart(&provider, &addr.to_string(), &resource, TokenFormat::Jwt, true);
    let report = run_client(&provider, &qs, &resource).await;
    assert_eq!(
        report["token"]["nonce_retry"], true,
        "the token endpoint's nonce: {report}"
    );
    assert_report(&report, TokenFormat::Jwt, &resource, true);
}
