//! The quickstart as an operator runs it: `GET /healthz` and `GET /readyz`
//! outside the token layer, `--metrics-listen` serving Prometheus text, and a
//! start while the authorization server is down (it serves, answers 503, and
//! `/readyz` says why).

mod support;

use std::time::Duration;

use support::quickstart::{free_loopback_addr, get_whoami, start};

async fn get(client: &reqwest::Client, url: &str) -> (u16, String) {
    let res = client.get(url).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test]
async fn quickstart_health_readiness_and_prometheus_metrics() {
    let metrics_addr = free_loopback_addr().to_string();
    let qs = start(&["--metrics-listen", &metrics_addr]);
    let client = reqwest::Client::new();
    assert_eq!(
        get(&client, &format!("{}/healthz", qs.base)).await,
        (200, "ok\n".to_owned())
    );
    let mut readyz = (0, String::new());
    for _ in 0..50 {
        readyz = get(&client, &format!("{}/readyz", qs.base)).await;
        if readyz.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(readyz, (200, "ready\n".to_owned()), "no token needed either");

    let token = qs.printed_token.clone().expect("a printed token");
    assert_eq!(get_whoami(&client, &qs, Some(&token)).await.status(), 200);
    assert_eq!(get_whoami(&client, &qs, Some(&token)).await.status(), 200);
    assert_eq!(get_whoami(&client, &qs, Some("not-a-token")).await.status(), 401);
    assert_eq!(get_whoami(&client, &qs, None).await.status(), 401);

    let (status, text) = get(&client, &format!("http://{metrics_addr}/metrics")).await;
    assert_eq!(status, 200);
    for expected in [
        r#"tower_bearer_decisions_total{outcome="accepted",reason="none",verifier="jwt",cached="false"} 1"#,
        r#"tower_bearer_decisions_total{outcome="accepted",reason="none",verifier="jwt",cached="true"} 1"#,
        r#"tower_bearer_decisions_total{outcome="refused",reason="malformed",verifier="jwt",cached="false"} 1"#,
        r#"tower_bearer_decisions_total{outcome="refused",reason="missing_token",verifier="none",cached="false"} 1"#,
        &format!(
            r#"tower_bearer_jwks_fetches_total{{issuer="{}",outcome="ok"}} 1"#,
            qs.issuer
        ),
    ] {
        assert!(text.contains(expected), "{expected} in\n{text}");
    }
    assert!(!text.contains(&token[..20]), "no token in the metrics");
}

#[tokio::test]
async fn quickstart_starts_while_the_authorization_server_is_down() {
    let down = format!("http://{}", free_loopback_addr());
    let qs = start(&["--issuer", &down, "--audience", "https://rs.example/mcp"]);
    let client = reqwest::Client::new();
    assert_eq!(get(&client, &format!("{}/healthz", qs.base)).await.0, 200);
    let (status, body) = get(&client, &format!("{}/readyz", qs.base)).await;
    assert_eq!(status, 503);
    assert_eq!(body, format!("not ready: no usable keys of {down}\n"));
    let res = get_whoami(&client, &qs, Some("eyJhbGciOiJSUzI1NiJ9.e30.c2ln")).await;
    assert_eq!(res.status(), 503, "unverifiable, never 401");
    assert!(res.headers().contains_key("retry-after"));
}
