//! Readiness and warm-up against real servers on loopback: a verifier built
//! while its authorization server is down is not ready (requests get 503, a
//! `/readyz` says why) and becomes ready by itself once the server is up; an
//! introspection verifier is ready once its endpoint has answered, never with
//! credentials it refuses. The quickstart's `/healthz`, `/readyz` and
//! `--metrics-listen` are in `quickstart_operations.rs`.

mod support;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use tower::{Layer as _, ServiceExt as _};
use tower_bearer::TokenVerifierLayer;
use tower_bearer::introspection::IntrospectionVerifier;
use tower_bearer::jwt::JwtVerifier;
use tower_bearer::ready::Readiness;
use tower_bearer_issuer::DevIssuer;

const RESOURCE: &str = "https://rs.example/mcp";

async fn readyz(readiness: &Readiness) -> (u16, String) {
    let res = readiness.clone().oneshot(Request::new(())).await.unwrap();
    (res.status().as_u16(), res.into_body())
}

#[tokio::test]
async fn readiness_waits_for_an_authorization_server_that_starts_later() {
    let addr = support::quickstart::free_loopback_addr();
    let issuer_url = format!("http://{addr}");
    // Built while nothing listens: a configuration, not a connection.
    let verifier = Arc::new(
        JwtVerifier::builder()
            .issuer(&issuer_url)
            .audience(RESOURCE)
            .discover()
            .build()
            .expect("a good configuration builds without the server"),
    );
    let readiness = Readiness::new(verifier.clone());
    let (status, body) = readyz(&readiness).await;
    assert_eq!(status, 503);
    assert_eq!(body, format!("not ready: no usable keys of {issuer_url}\n"));
    assert!(readiness.warm_up().await.is_err(), "nothing to fetch from yet");

    let protected =
        TokenVerifierLayer::from_arc(verifier.clone()).layer(tower::service_fn(|_: Request<String>| async {
            Ok::<_, Infallible>(Response::new(String::new()))
        }));
    let call = |token: String| {
        let protected = protected.clone();
        async move {
            let request = Request::builder()
                .header("authorization", format!("Bearer {token}"))
                .body(String::new())
                .unwrap();
            protected.oneshot(request).await.unwrap().status().as_u16()
        }
    };
    assert_eq!(
        call("eyJhbGciOiJSUzI1NiJ9.e30.c2ln".into()).await,
        503,
        "never 401 while unverifiable"
    );

    let warm_up = readiness.spawn_warm_up();
    let issuer = DevIssuer::builder().bind(addr).start().await.unwrap();
    assert_eq!(issuer.issuer(), issuer_url);
    tokio::time::timeout(Duration::from_secs(30), warm_up)
        .await
        .expect("ready within the warm-up's pauses")
        .unwrap();
    assert_eq!(readyz(&readiness).await, (200, "ready\n".to_owned()));
    let token = issuer.token("alice", "app", "mcp:read", RESOURCE);
    assert_eq!(call(token).await, 200);
}

#[tokio::test]
async fn readiness_of_introspection_is_an_answer_from_the_endpoint() {
    let issuer = DevIssuer::start().await.unwrap();
    let build = |secret: &str| {
        IntrospectionVerifier::builder()
            .endpoint(issuer.introspection_endpoint())
            .client_credentials(issuer.client_id(), secret)
            .audience(RESOURCE)
            .build()
            .unwrap()
    };
    let wrong = Readiness::new(Arc::new(build("not-the-secret")));
    assert!(wrong.warm_up().await.is_err(), "refused credentials");
    let (status, body) = readyz(&wrong).await;
    assert_eq!(
        (status, body.as_str()),
        (
            503,
            "not ready: the introspection endpoint has not answered yet\n"
        )
    );

    let right = Readiness::new(Arc::new(build(issuer.client_secret())));
    assert_eq!(readyz(&right).await.0, 503, "not asked yet");
    right.warm_up().await.unwrap();
    assert_eq!(readyz(&right).await, (200, "ready\n".to_owned()));
}
