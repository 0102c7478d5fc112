//! Origin validation (DNS rebinding) in front of a real MCP server.

mod mcp_support;

use mcp_support::*;
use reqwest::Method;

async fn init_with(client: &Client, headers: &[(&str, &str)]) -> u16 {
    client
        .send(
            Method::POST,
            Some("alice"),
            None,
            headers,
            Some(initialize().to_string()),
        )
        .await
        .status
}

#[tokio::test]
async fn origin_allowlist() {
    let client = Client::new(&serve_default().await);
    // Non-browser clients send no Origin.
    assert_eq!(init_with(&client, &[]).await, 200);
    assert_eq!(
        init_with(&client, &[("origin", "https://app.example")]).await,
        200
    );
    assert_eq!(
        init_with(&client, &[("origin", "HTTPS://APP.EXAMPLE:443")]).await,
        200
    );
    for bad in [
        "https://evil.example",
        "http://app.example",
        "https://app.example:8443",
        "https://app.example.evil.example",
        "null",
        "https://app.example/",
        "garbage",
    ] {
        assert_eq!(init_with(&client, &[("origin", bad)]).await, 403, "{bad}");
    }
    // Two Origin headers.
    assert_eq!(
        init_with(
            &client,
            &[
                ("origin", "https://app.example"),
                ("origin", "https://evil.example")
            ]
        )
        .await,
        403
    );
}

#[tokio::test]
async fn origin_is_checked_before_credentials() {
    let client = Client::new(&serve_default().await);
    let res = client
        .send(
            Method::POST,
            None,
            None,
            &[("origin", "https://evil.example")],
            Some(initialize().to_string()),
        )
        .await;
    assert_eq!(res.status, 403);
    assert!(res.www().is_empty());
}
