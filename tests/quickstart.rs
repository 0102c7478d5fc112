//! Black-box smoke test of the quickstart: start `examples/mcp_server` with its
//! embedded development issuer, obtain a token the way an OAuth client would
//! (client credentials + RFC 8707 resource), and speak MCP over streamable HTTP.

mod support;

use serde_json::{Value, json};
use support::quickstart::{
    assert_request_state_opens_once, client_token, get_whoami, post_mcp, request_token, start,
    stateless_call, stateless_request,
};
use support::{get_json, jsonrpc_messages, www_authenticate};

#[tokio::test]
async fn quickstart_speaks_mcp_behind_the_layer() {
    let qs = start(&[]);
    let client = reqwest::Client::new();

    // Discovery as an MCP client does it: the 401 names the metadata, the
    // metadata names the authorization server.
    let res = post_mcp(
        &client,
        &qs,
        None,
        None,
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    )
    .await;
    assert_eq!(res.status(), 401);
    let challenge = www_authenticate(&res);
    let metadata_url = format!("{}/.well-known/oauth-protected-resource/mcp", qs.base);
    assert!(
        challenge.contains(&format!(r#"resource_metadata="{metadata_url}""#)),
        "{challenge}"
    );
    assert!(
        !challenge.contains("error="),
        "no credentials: bare challenge, {challenge}"
    );
    let metadata: Value = get_json(&client, &metadata_url).await;
    let resource = metadata["resource"].as_str().unwrap().to_owned();
    assert_eq!(resource, format!("{}/mcp", qs.base));
    assert_eq!(metadata["authorization_servers"], json!([qs.issuer]));
    let root: Value = get_json(
        &client,
        &format!("{}/.well-known/oauth-protected-resource", qs.base),
    )
    .await;
    assert_eq!(root, metadata);

    // Client credentials at the development issuer's token endpoint.
    let as_metadata: Value = get_json(
        &client,
        &format!("{}/.well-known/oauth-authorization-server", qs.issuer),
    )
    .await;
    assert_eq!(
        as_metadata["token_endpoint"].as_str().unwrap(),
        format!("{}/token", qs.issuer)
    );
    let (client_id, _) = qs.client.clone().expect("the embedded issuer prints its client");
    let token: Value = request_token(&client, &qs, "mcp:read", None)
        .await
        .json()
        .await
        .unwrap();
    let token = token["access_token"]
        .as_str()
        .expect("an access token")
        .to_owned();

    // initialize → session, initialized, tools/list, tools/call.
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "smoke", "version": "1"}}});
    let res = post_mcp(&client, &qs, Some(&token), None, init).await;
    assert_eq!(res.status(), 200);
    let session = res.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    let messages = jsonrpc_messages(&res.text().await.unwrap());
    assert_eq!(messages.last().unwrap()["id"], 1);
    assert!(messages.last().unwrap()["result"]["capabilities"]["tools"].is_object());

    let notified = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(
        post_mcp(&client, &qs, Some(&token), Some(&session), notified)
            .await
            .status(),
        202
    );

    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let res = post_mcp(&client, &qs, Some(&token), Some(&session), list).await;
    assert_eq!(res.status(), 200);
    let messages = jsonrpc_messages(&res.text().await.unwrap());
    let names: Vec<&str> = messages.last().unwrap()["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for tool in ["whoami", "echo", "list_notes", "add_note"] {
        assert!(names.contains(&tool), "{tool} missing from {names:?}");
    }

    let call = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "whoami", "arguments": {}}});
    let res = post_mcp(&client, &qs, Some(&token), Some(&session), call).await;
    let messages = jsonrpc_messages(&res.text().await.unwrap());
    let text = messages.last().unwrap()["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    let who: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(who["client_id"], client_id.as_str());
    assert_eq!(who["issuer"], qs.issuer.as_str());
    assert_eq!(who["scopes"], json!(["mcp:read"]));

    // A tool that needs more than the token grants: 403 with a step-up challenge
    // naming every scope the call needs.
    let call = json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "add_note", "arguments": {"text": "hi"}}});
    let res = post_mcp(&client, &qs, Some(&token), Some(&session), call).await;
    assert_eq!(res.status(), 403);
    let challenge = www_authenticate(&res);
    assert!(
        challenge.starts_with(r#"Bearer error="insufficient_scope""#)
            && challenge.contains(r#"scope="mcp:read mcp:write""#)
            && challenge.contains(&format!(r#"resource_metadata="{metadata_url}""#)),
        "{challenge}"
    );

    // Another principal (the printed token: subject dev-user) cannot use this
    // session: 404 as for an unknown session. The owner carries on.
    let other = qs.printed_token.clone().expect("printed token");
    let list = json!({"jsonrpc": "2.0", "id": 5, "method": "tools/list"});
    let res = post_mcp(&client, &qs, Some(&other), Some(&session), list.clone()).await;
    assert_eq!(res.status(), 404);
    let res = post_mcp(&client, &qs, Some(&token), Some(&session), list).await;
    assert_eq!(res.status(), 200);

    // The same session without a token is refused by the layer.
    let list = json!({"jsonrpc": "2.0", "id": 6, "method": "tools/list"});
    let res = post_mcp(&client, &qs, None, Some(&session), list).await;
    assert_eq!(res.status(), 401);

    // /whoami is protected too.
    let res = get_whoami(&client, &qs, Some(&token)).await;
    assert_eq!(res.status(), 200);
    let res = get_whoami(&client, &qs, None).await;
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn quickstart_opaque_tokens_are_introspected() {
    let qs = start(&["--opaque-tokens"]);
    let client = reqwest::Client::new();
    let printed = qs.printed_token.clone().expect("printed token");
    assert!(!printed.contains('.'), "an opaque token is printed");
    let res = get_whoami(&client, &qs, Some(&printed)).await;
    assert_eq!(res.status(), 200);
    let who: Value = res.json().await.unwrap();
    assert_eq!(who["subject"], "dev-user");
    assert_eq!(who["issuer"], qs.issuer.as_str());
    // An unknown opaque token is inactive: 401, not 503.
    let res = get_whoami(&client, &qs, Some("opaque-but-unknown")).await;
    assert_eq!(res.status(), 401);
    assert!(www_authenticate(&res).contains(r#"error_description="token not active""#));
}

/// `--skip-layer` (for benchmarks) leaves out the layer it names and nothing
/// else: the token is still required.
#[tokio::test]
async fn quickstart_skips_only_the_layers_it_is_told_to() {
    let client = reqwest::Client::new();
    let from_elsewhere = |qs: &support::quickstart::Quickstart| {
        client
            .get(format!("{}/whoami", qs.base))
            .header("origin", "https://elsewhere.example")
            .bearer_auth(qs.printed_token.as_deref().unwrap())
            .send()
    };
    let all = start(&[]);
    assert_eq!(from_elsewhere(&all).await.unwrap().status(), 403);

    let skipped = start(&[
        "--skip-layer",
        "origin,session-binding",
        "--skip-layer",
        "tool-scopes",
    ]);
    assert_eq!(from_elsewhere(&skipped).await.unwrap().status(), 200);
    let res = get_whoami(&client, &skipped, None).await;
    assert_eq!(res.status(), 401);
    assert!(www_authenticate(&res).starts_with("Bearer "));
}

/// DPoP through the quickstart with no flags: a token from its development
/// issuer bound to the key of the token request's proof, then `/whoami` with a
/// proof per request; the metadata advertises DPoP; `--dpop required` refuses
/// bearer tokens and `--dpop off` bound ones.
#[tokio::test]
async fn quickstart_dpop_from_token_request_to_resource() {
    use tower_bearer_issuer::DpopKey;
    let qs = start(&[]);
    let client = reqwest::Client::new();
    let key = DpopKey::generate();
    let token_endpoint = format!("{}/token", qs.issuer);
    let res = request_token(
        &client,
        &qs,
        "mcp:read",
        Some(key.proof("POST", &token_endpoint, None)),
    )
    .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "DPoP");
    let token = body["access_token"].as_str().unwrap().to_owned();
    let whoami = format!("{}/whoami", qs.base);
    let with_proof = |proof: String| {
        client
            .get(&whoami)
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", proof)
            .send()
    };
    let res = with_proof(key.proof("GET", &whoami, Some(&token))).await.unwrap();
    assert_eq!(res.status(), 200);
    // The same token as a bearer token, or with the proof of another key: 401.
    let res = get_whoami(&client, &qs, Some(&token)).await;
    assert_eq!(res.status(), 401);
    assert!(www_authenticate(&res).contains("DPoP-bound token without the DPoP scheme"));
    let res = with_proof(DpopKey::generate().proof("GET", &whoami, Some(&token)))
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let metadata = get_json(
        &client,
        &format!("{}/.well-known/oauth-protected-resource/mcp", qs.base),
    )
    .await;
    assert_eq!(metadata["dpop_bound_access_tokens_required"], false);
    assert_eq!(
        metadata["dpop_signing_alg_values_supported"],
        json!(["RS256", "PS256", "ES256", "EdDSA"])
    );

    let required = start(&["--dpop", "required"]);
    let printed = required.printed_token.clone().expect("printed token");
    let res = get_whoami(&client, &required, Some(&printed)).await;
    assert_eq!(res.status(), 401);
    let challenges: Vec<_> = res.headers().get_all("www-authenticate").iter().collect();
    assert_eq!(challenges.len(), 1);
    assert!(
        challenges[0]
            .to_str()
            .unwrap()
            .starts_with("DPoP error=\"invalid_token\"")
    );
    let metadata = get_json(
        &client,
        &format!("{}/.well-known/oauth-protected-resource/mcp", required.base),
    )
    .await;
    assert_eq!(metadata["dpop_bound_access_tokens_required"], true);

    let off = start(&["--dpop", "off"]);
    let res = get_whoami(&client, &off, None).await;
    assert_eq!(
        res.headers().get_all("www-authenticate").iter().count(),
        1,
        "Bearer only"
    );
    let metadata = get_json(
        &client,
        &format!("{}/.well-known/oauth-protected-resource/mcp", off.base),
    )
    .await;
    assert!(metadata.get("dpop_signing_alg_values_supported").is_none());
}

/// MCP 2026-07-28 against the quickstart, no session: a draft saved by one
/// principal is stored under `HandleKey(principal, handle)`, so its handle
/// opens nothing for another principal; the headers-first scope check and the
/// session layer's pass-through serve the stateless revision.
#[tokio::test]
async fn quickstart_draft_handles_open_only_for_their_owner() {
    let qs = start(&[]);
    let client = reqwest::Client::new();
    let dev_user = qs.printed_token.clone().expect("printed token");
    let other = client_token(&client, &qs, "mcp:read mcp:write").await;
    let call = |token: &str, tool: &'static str, arguments: Value| {
        let token = token.to_owned();
        let (client, qs) = (&client, &qs);
        async move {
            let (status, message) =
                stateless_call(client, qs, &token, tool, json!({"arguments": arguments})).await;
            assert_eq!(status, 200, "{message}");
            message
        }
    };
    let saved = call(&dev_user, "save_draft", json!({"text": "secret plan"})).await;
    let handle = saved["result"]["content"][0]["text"]
        .as_str()
        .expect("a handle")
        .to_owned();
    assert!(handle.starts_with("draft-"), "{saved}");

    let mine = call(&dev_user, "open_draft", json!({"handle": handle})).await;
    assert_eq!(mine["result"]["content"][0]["text"], "secret plan", "{mine}");
    let theirs = call(&other, "open_draft", json!({"handle": handle})).await;
    assert!(
        theirs["result"]
            .get("content")
            .is_none_or(|c| !c.to_string().contains("secret plan")),
        "{theirs}"
    );
    assert!(theirs.to_string().contains("no such draft"), "{theirs}");
}

/// SEP-2549 through the quickstart: the resource list is the same for every
/// token (`cacheScope: public`), the `whoami` resource is the caller's own
/// (`cacheScope: private`), and two principals read two different answers.
#[tokio::test]
async fn quickstart_marks_token_dependent_results_private() {
    let qs = start(&[]);
    let client = reqwest::Client::new();
    let dev_user = qs.printed_token.clone().expect("printed token");
    let other = client_token(&client, &qs, "mcp:read").await;
    let (status, list) = stateless_request(&client, &qs, &dev_user, "resources/list", None, json!({})).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["result"]["cacheScope"], "public", "{list}");
    assert_eq!(list["result"]["resources"][0]["uri"], "tower-bearer://whoami");
    let read = |token: String| {
        let (client, qs) = (&client, &qs);
        async move {
            let uri = "tower-bearer://whoami";
            let params = json!({"uri": uri});
            let (status, message) =
                stateless_request(client, qs, &token, "resources/read", Some(uri), params).await;
            assert_eq!(status, 200, "{message}");
            assert_eq!(message["result"]["cacheScope"], "private", "{message}");
            assert_eq!(message["result"]["ttlMs"], 60_000);
            let text = message["result"]["contents"][0]["text"]
                .as_str()
                .expect("text contents");
            serde_json::from_str::<Value>(text).unwrap()
        }
    };
    let mine = read(dev_user).await;
    let theirs = read(other).await;
    assert_eq!(mine["subject"], "dev-user", "{mine}");
    assert_eq!(theirs["subject"], "dev-client", "{theirs}");
    assert_eq!(theirs["scopes"], json!(["mcp:read"]));
}

/// SEP-2322 through the quickstart: `clear_notes` answers `input_required`
/// with a sealed `requestState`; the retry with it clears, once; a replay by
/// the same principal and the state presented by another principal (or
/// tampered) are refused.
#[tokio::test]
async fn quickstart_request_state_opens_once_for_its_owner() {
    let qs = start(&[]);
    let client = reqwest::Client::new();
    let dev_user = qs.printed_token.clone().expect("printed token");
    let other = client_token(&client, &qs, "mcp:read mcp:write").await;
    assert_request_state_opens_once(&client, &qs, &dev_user, &other).await;
}

/// With no flags the quickstart's issuer exchanges ID-JAGs (SEP-990) from its
/// demo identity provider: the printed one gives a token for its subject,
/// once.
#[tokio::test]
async fn quickstart_exchanges_the_printed_id_jag_once() {
    let qs = start(&[]);
    let client = reqwest::Client::new();
    let id_jag = qs.printed_id_jag.clone().expect("a printed ID-JAG");
    let (id, secret) = qs.client.clone().unwrap();
    let exchange = || {
        client
            .post(format!("{}/token", qs.issuer))
            .basic_auth(&id, Some(&secret))
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", id_jag.as_str()),
            ])
            .send()
    };
    let res = exchange().await.unwrap();
    assert_eq!(res.status(), 200);
    let token: Value = res.json().await.unwrap();
    let res = get_whoami(&client, &qs, token["access_token"].as_str()).await;
    assert_eq!(res.status(), 200);
    let who: Value = res.json().await.unwrap();
    assert_eq!(who["subject"], "alice@example.com", "{who}");
    assert_eq!(who["client_id"], id.as_str());
    assert_eq!(who["scopes"], json!(["mcp:read"]));
    let again = exchange().await.unwrap();
    assert_eq!(again.status(), 400, "an ID-JAG is single use");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["error"], "invalid_grant");
}

/// `--scopes` adds to what the tools ask for: a narrower list starts the
/// server all the same, and the metadata still lists every scope a step-up
/// challenge can name.
#[tokio::test]
async fn quickstart_scopes_add_to_what_the_tools_need() {
    let qs = start(&["--scopes", "openid mcp:read"]);
    let client = reqwest::Client::new();
    let metadata: Value = get_json(
        &client,
        &format!("{}/.well-known/oauth-protected-resource/mcp", qs.base),
    )
    .await;
    assert_eq!(
        metadata["scopes_supported"],
        json!(["mcp:read", "mcp:write", "openid"])
    );
}

/// A tool that does not exist gets the server's own "tool not found", not a
/// step-up to a scope the metadata does not advertise; at 2026-07-28 a header
/// that disagrees with the body is 400 -32020 whatever it names, and the
/// methods the revision removed reach the server: with a token, the answers are
/// those of the same server without authentication.
#[tokio::test]
async fn quickstart_unknown_tools_and_removed_methods_are_the_servers_to_answer() {
    let qs = start(&[]);
    let open = start(&["--no-auth"]);
    let client = reqwest::Client::new();
    let token = client_token(&client, &qs, "mcp:read").await;
    let (status, message) = stateless_call(&client, &qs, &token, "no_such_tool", json!({})).await;
    assert_eq!(status, 200, "{message}");
    assert_eq!(
        (status, message),
        stateless_call(&client, &open, &token, "no_such_tool", json!({})).await
    );
    for method in ["resources/subscribe", "resources/unsubscribe", "unknown/method"] {
        let params = json!({"uri": "tower-bearer://whoami"});
        let answer = stateless_request(&client, &qs, &token, method, None, params.clone()).await;
        assert_ne!(answer.0, 403, "{method}: {}", answer.1);
        let unauthenticated = stateless_request(&client, &open, &token, method, None, params).await;
        assert_eq!(answer, unauthenticated, "{method}");
    }
    // The conformance suite's check: Mcp-Name names another tool than the body.
    let res = client
        .post(format!("{}/mcp", qs.base))
        .bearer_auth(&token)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "wrong_tool_name")
        .json(&json!({"jsonrpc": "2.0", "id": 0, "method": "tools/call",
            "params": {"name": "add_note", "arguments": {}, "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": {"name": "raw-http", "version": "0"}}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32020, "{body}");
}

/// The DPoP section of the start-up text is a command that runs: the
/// dpop_client example gets a DPoP-bound token and reaches /whoami with it,
/// server nonces included.
#[tokio::test]
async fn quickstart_prints_a_runnable_dpop_command() {
    let qs = start(&["--dpop-nonce"]);
    let command = qs
        .printed
        .iter()
        .find_map(|l| l.trim().strip_prefix("cargo run --example dpop_client -- "))
        .unwrap_or_else(|| panic!("no DPoP command in {:#?}", qs.printed));
    let output = std::process::Command::new(support::quickstart::example("dpop_client"))
        .args(command.split_whitespace())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("token_type: \"DPoP\""), "{stdout}");
    assert!(stdout.contains("/whoami: 200 OK"), "{stdout}");
    assert!(stdout.contains(r#""subject":"dev-client""#), "{stdout}");
}
