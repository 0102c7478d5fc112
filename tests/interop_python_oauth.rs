//! The quickstart with no flags works with an interactive MCP client: the
//! official Python MCP SDK's `OAuthClientProvider` (installed by
//! scripts/setup-python.sh) discovers the embedded development issuer from the
//! 401, registers itself (RFC 7591), logs in with the authorization code grant
//! and PKCE through a headless redirect handler, calls tools, and refreshes
//! when its short-lived access token expires. Replaying the refresh token it
//! spent then revokes the whole family.

mod support;

use serde_json::{Value, json};
use support::exchanges;
use support::python::{python, run_python};
use support::quickstart::start;

#[tokio::test]
async fn interop_python_sdk_logs_in_with_the_authorization_code_flow_and_refreshes() {
    let python = python();
    // Access tokens live 2 s: the SDK must refresh before its second call.
    let qs = start(&["--token-ttl", "2"]);
    let url = format!("--url={}/mcp", qs.base);
    let out = tokio::task::spawn_blocking(move || {
        run_python(&python, "mcp_client_oauth.py", &[url, "--wait=3".into()])
    })
    .await
    .unwrap();

    let http = exchanges(&out);
    let step = |method: &str, path: &str| http.iter().position(|e| e.0 == method && e.1 == path);
    assert_eq!(
        (http[0].0.as_str(), http[0].1.as_str(), http[0].2),
        ("POST", "/mcp", 401),
        "{http:?}"
    );
    let register = step("POST", "/register").expect("dynamic registration");
    let authorize = step("GET", "/authorize").expect("the authorization request");
    assert_eq!(http[register].2, 201);
    assert_eq!(
        http[authorize].2, 302,
        "approved at once for the development user"
    );
    assert!(register < authorize, "{http:?}");
    let grants: Vec<(u64, Option<&str>)> = http
        .iter()
        .filter(|e| e.1 == "/token")
        .map(|e| (e.2, e.3.as_deref()))
        .collect();
    assert_eq!(
        grants,
        [(200, Some("authorization_code")), (200, Some("refresh_token"))],
        "one login, then one refresh: {http:?}"
    );
    assert!(
        http.iter()
            .filter(|e| e.1 == "/mcp")
            .skip(1)
            .all(|e| e.2 == 200 || e.2 == 202),
        "after the login every MCP request is accepted: {http:?}"
    );

    let client_id = out["client_id"].as_str().expect("a registered client");
    assert!(client_id.starts_with("dcr-"), "{client_id}");
    for whoami in [&out["whoami"], &out["whoami_after_refresh"]] {
        assert_eq!(whoami["subject"], "dev-user", "{out}");
        assert_eq!(whoami["client_id"], client_id);
        assert_eq!(whoami["issuer"], qs.issuer.as_str());
        assert_eq!(whoami["audience"], json!([format!("{}/mcp", qs.base)]));
        assert_eq!(
            whoami["scopes"],
            json!(["mcp:read"]),
            "least privilege from the challenge"
        );
    }
    assert!(out["tools"].as_array().unwrap().contains(&json!("whoami")));

    // The refresh token spent by the SDK's refresh, presented again once its
    // successor was used (so it is no retry within the reuse grace): refused,
    // and the family with it — the newest refresh token too.
    let refresh_tokens = out["refresh_tokens"].as_array().unwrap();
    assert_eq!(refresh_tokens.len(), 2, "rotated: {}", refresh_tokens.len());
    let token_endpoint = format!("{}/token", qs.issuer);
    let refresh = |token: &Value| {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", token.as_str().unwrap()),
            ("client_id", client_id),
        ];
        let request = reqwest::Client::new().post(&token_endpoint).form(&form);
        async move {
            let res = request.send().await.unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        }
    };
    let (status, next) = refresh(&refresh_tokens[1]).await;
    assert_eq!(status, 200, "{next}");
    let (status, replay) = refresh(&refresh_tokens[0]).await;
    assert_eq!(
        (status, replay["error"].as_str()),
        (400, Some("invalid_grant")),
        "{replay}"
    );
    let (status, current) = refresh(&next["refresh_token"]).await;
    assert_eq!(
        (status, current["error"].as_str()),
        (400, Some("invalid_grant")),
        "the family is revoked: {current}"
    );
}
