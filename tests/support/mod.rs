//! Shared helpers for integration tests: real servers on loopback.
#![allow(dead_code)]

pub mod captured;
pub mod oidc;
pub mod python;
pub mod quickstart;
pub mod redis;

use std::net::SocketAddr;

use axum::Router;
use tokio::net::TcpListener;

/// Serves `app` on 127.0.0.1 (any free port) until the test's runtime ends.
pub async fn serve(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("test server");
    });
    addr
}

/// The `WWW-Authenticate` header of a response, or "" when absent.
pub fn www_authenticate(res: &reqwest::Response) -> String {
    res.headers()
        .get("www-authenticate")
        .map(|v| v.to_str().expect("ascii challenge").to_owned())
        .unwrap_or_default()
}

/// The JSON-RPC messages in a streamable-HTTP response body (SSE `data:` lines
/// or a plain JSON body).
pub fn jsonrpc_messages(body: &str) -> Vec<serde_json::Value> {
    let trimmed = body.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return vec![serde_json::from_str(trimmed).expect("JSON body")];
    }
    body.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| serde_json::from_str(d).expect("JSON in SSE data"))
        .collect()
}

/// GETs `url` and parses its JSON body (panics on any failure).
pub async fn get_json(client: &reqwest::Client, url: &str) -> serde_json::Value {
    let res = client
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    res.json()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: not JSON: {e}"))
}

/// The `http` log of a client's report (tests/interop/*/…): (method, path,
/// status, grant type of a token request) per exchange.
pub fn exchanges(out: &serde_json::Value) -> Vec<(String, String, u64, Option<String>)> {
    out["http"]
        .as_array()
        .expect("an http log")
        .iter()
        .map(|e| {
            (
                e[0].as_str().unwrap().to_owned(),
                e[1].as_str().unwrap().to_owned(),
                e[2].as_u64().unwrap(),
                e.get(3).and_then(serde_json::Value::as_str).map(str::to_owned),
            )
        })
        .collect()
}
