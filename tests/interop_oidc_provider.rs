//! The quickstart against a real authorization server, Node `oidc-provider`
//! (installed by scripts/setup-node.sh), with the official MCP Python SDK as the
//! client: RFC 9068 JWTs with `aud` = the resource, and opaque tokens checked by
//! introspection.

mod support;

use serde_json::json;
use support::oidc::{OTHER_CLIENT, OidcProvider, TokenFormat};
use support::python::{python, run_client};
use support::quickstart::{free_loopback_addr, get_whoami, post_mcp, start};

#[tokio::test]
async fn interop_node_python_sdk_with_oidc_provider_jwts_and_step_up() {
    let python = python();
    let addr = free_loopback_addr();
    let resource = format!("http://{addr}/mcp");
    let provider = OidcProvider::start("oidc jwt", &resource, TokenFormat::Jwt).await;
    let issuer = provider.endpoints.issuer.clone();
    let listen = addr.to_string();
    let qs = start(&["--listen", &listen, "--issuer", &issuer]);
    let out = tokio::task::spawn_blocking(move || {
        let credentials = ("mcp-client".to_owned(), "mcp-secret".to_owned());
        run_client(
            &python,
            &qs,
            &issuer,
            credentials,
            &[
                "--write-tool=add_note",
                r#"--write-args={"text": "via oidc-provider"}"#,
            ],
        )
    })
    .await
    .unwrap();
    let issuer = provider.endpoints.issuer.as_str();
    assert_eq!(out["whoami"]["issuer"], issuer, "{out}");
    assert_eq!(out["whoami"]["client_id"], "mcp-client");
    assert_eq!(out["whoami"]["audience"], json!([resource]));
    assert_eq!(out["whoami"]["scopes"], json!(["mcp:read"]));
    assert_eq!(out["write"]["is_error"], false, "{out}");
    assert_eq!(out["whoami_after"]["scopes"], json!(["mcp:read", "mcp:write"]));
}

#[tokio::test]
async fn interop_node_quickstart_introspects_oidc_provider_opaque_tokens() {
    let addr = free_loopback_addr();
    let resource = format!("http://{addr}/mcp");
    let provider = OidcProvider::start("oidc opaque", &resource, TokenFormat::Opaque).await;
    let e = &provider.endpoints;
    let listen = addr.to_string();
    let qs = start(&[
        "--listen",
        &listen,
        "--issuer",
        &e.issuer,
        "--introspection-endpoint",
        &e.introspection_endpoint,
        "--client-id",
        "rs-client",
        "--client-secret",
        "rs-secret",
    ]);
    let token = provider.client_credentials_token("mcp:read").await;
    assert!(!token.contains('.'), "an opaque token");
    let client = reqwest::Client::new();
    let res = get_whoami(&client, &qs, Some(&token)).await;
    assert_eq!(res.status(), 200);
    let who: serde_json::Value = res.json().await.unwrap();
    assert_eq!(who["issuer"], e.issuer.as_str());
    assert_eq!(who["client_id"], "mcp-client");
    assert_eq!(who["scopes"], json!(["mcp:read"]));

    provider.revoke(&token).await;
    let fresh = provider.client_credentials_token("mcp:read").await;
    let res = get_whoami(&client, &qs, Some(&fresh)).await;
    assert_eq!(res.status(), 200);
    let res = get_whoami(&client, &qs, Some("not-a-real-token")).await;
    assert_eq!(res.status(), 401);
    assert!(support::www_authenticate(&res).contains(r#"error="invalid_token""#));
}

#[tokio::test]
async fn interop_node_introspected_client_tokens_without_sub_own_their_sessions_by_default() {
    let addr = free_loopback_addr();
    let resource = format!("http://{addr}/mcp");
    let provider = OidcProvider::start("oidc sessions", &resource, TokenFormat::Opaque).await;
    let e = &provider.endpoints;
    let listen = addr.to_string();
    let args = |binding: Option<&'static str>| {
        [
            "--listen".to_owned(),
            listen.clone(),
            "--issuer".to_owned(),
            e.issuer.clone(),
            "--introspection-endpoint".to_owned(),
            e.introspection_endpoint.clone(),
            "--client-id=rs-client".to_owned(),
            "--client-secret=rs-secret".to_owned(),
        ]
        .into_iter()
        .chain(binding.map(|b| format!("--session-binding={b}")))
        .collect::<Vec<_>>()
    };
    let token = provider.client_credentials_token("mcp:read").await;
    let other = provider
        .client_credentials_token_of(OTHER_CLIENT, "mcp:read")
        .await;
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    // Default flags: the client is its own resource owner (issuer + client_id).
    // Requiring a subject refuses it with 403: its token is valid, so never 401.
    for (binding, status) in [
        (None, 200),
        (Some("issuer-subject"), 403),
        (Some("same-owner"), 200),
    ] {
        let owned = args(binding);
        let argv: Vec<&str> = owned.iter().map(String::as_str).collect();
        let qs = start(&argv);
        // A fresh client: both servers use the same port.
        let client = reqwest::Client::new();
        let res = post_mcp(&client, &qs, Some(&token), None, init.clone()).await;
        assert_eq!(res.status(), status, "{binding:?}");
        if status == 403 {
            assert!(
                res.headers().get("www-authenticate").is_none(),
                "not a token problem"
            );
            assert!(res.headers().get("mcp-session-id").is_none());
        }
        if status == 200 {
            let session = res.headers()["mcp-session-id"].to_str().unwrap().to_owned();
            let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
            let res = post_mcp(&client, &qs, Some(&token), Some(&session), list.clone()).await;
            assert_eq!(res.status(), 200);
            // Another client of the same issuer holding the session id is a
            // different owner (its client_id differs): the transport's 404.
            let res = post_mcp(&client, &qs, Some(&other), Some(&session), list).await;
            assert_eq!(res.status(), 404, "{binding:?}");
        }
        drop(qs);
    }
}
