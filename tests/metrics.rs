//! The crate's metrics (feature `metrics`) through a real Prometheus recorder,
//! and its verification span: a layer in front of the development issuer's
//! JWTs and, for opaque tokens, its introspection endpoint.
//!
//! Label cardinality is bounded: after a first round, 10,000 distinct garbage
//! tokens and 10,000 distinct valid tokens add no series; no token text ever
//! reaches a metric or the span.

mod support;

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::sync::OnceLock;

use http::{Request, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use support::captured::Captured;
use tower::{BoxError, ServiceExt as _};
use tower_bearer::compose::ShapeRouter;
use tower_bearer::introspection::IntrospectionVerifier;
use tower_bearer::jwt::Algorithm;
use tower_bearer::{DynTokenVerifier, TokenVerifierLayer};
use tower_bearer_issuer::DevIssuer;

const RESOURCE: &str = "https://rs.example/mcp";

/// The process's one recorder (each test binary is its own process).
fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| PrometheusBuilder::new().install_recorder().unwrap())
}

/// The tests of this file one at a time: the recorder is the process's, and
/// the series of one must not appear in the middle of the other's count.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The distinct series in a rendering: each sample line without its value.
fn series(rendered: &str) -> BTreeSet<String> {
    rendered
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            line.rsplit_once(' ')
                .map_or(line, |(series, _)| series)
                .to_owned()
        })
        .collect()
}

type Layered = tower::util::BoxCloneSyncService<Request<String>, Response<String>, BoxError>;

/// A development issuer (EdDSA: quick to sign 10,000 tokens) and a layer
/// over a no-op handler: JWT-shaped tokens verified with the issuer's keys,
/// the others introspected.
async fn protected() -> (DevIssuer, Layered) {
    let issuer = DevIssuer::builder()
        .algorithm(Algorithm::EdDSA)
        .start()
        .await
        .unwrap();
    let introspection = IntrospectionVerifier::builder()
        .endpoint(issuer.introspection_endpoint())
        .client_credentials(issuer.client_id(), issuer.client_secret())
        .audience(RESOURCE)
        .build()
        .unwrap();
    let verifier = ShapeRouter::new(issuer.jwt_verifier(RESOURCE), introspection);
    let layer = TokenVerifierLayer::new(DynTokenVerifier::new_arc(verifier));
    let handler =
        tower::service_fn(|_: Request<String>| async { Ok::<_, Infallible>(Response::new(String::new())) });
    let service = tower::util::BoxCloneSyncService::new(
        tower::ServiceBuilder::new()
            .layer(layer)
            .service(handler)
            .map_err(BoxError::from),
    );
    (issuer, service)
}

async fn status(service: &Layered, token: &str) -> u16 {
    let request = Request::builder()
        .header("authorization", format!("Bearer {token}"))
        .body(String::new())
        .unwrap();
    service.clone().oneshot(request).await.unwrap().status().as_u16()
}

/// `n` distinct garbage tokens (half JWT-shaped with no valid signature, half opaque) and `n`
/// distinct valid JWTs, each answered as expected; one valid token twice (a
/// cache hit).
async fn round(service: &Layered, issuer: &DevIssuer, tag: &str, n: usize) {
    for i in 0..n {
        let garbage = if i % 2 == 0 {
            format!("eyJhbGciOiJFZERTQSJ9.{tag}{i}.c2ln")
        } else {
            format!("opaque-garbage-{tag}-{i}")
        };
        assert_eq!(status(service, &garbage).await, 401, "{garbage}");
        let valid = issuer.token(&format!("user-{tag}-{i}"), "app", "mcp:read", RESOURCE);
        assert_eq!(status(service, &valid).await, 200);
    }
    let again = issuer.token(&format!("user-{tag}-again"), "app", "mcp:read", RESOURCE);
    assert_eq!(status(service, &again).await, 200);
    assert_eq!(status(service, &again).await, 200);
}

#[tokio::test]
async fn metrics_series_do_not_grow_with_distinct_tokens() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let handle = recorder();
    let (issuer, service) = protected().await;

    round(&service, &issuer, "warm", 50).await;
    let first = series(&handle.render());
    round(&service, &issuer, "flood", 10_000).await;
    let rendered = handle.render();
    let after = series(&rendered);
    assert_eq!(
        after.difference(&first).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "no new series after 20,000 distinct tokens"
    );
    assert_eq!(after.len(), first.len());

    // What the round recorded, by fixed labels only.
    let issuer_label = format!("issuer=\"{}\"", issuer.issuer());
    for expected in [
        r#"tower_bearer_decisions_total{outcome="accepted",reason="none",verifier="jwt",cached="false"}"#,
        r#"tower_bearer_decisions_total{outcome="accepted",reason="none",verifier="jwt",cached="true"}"#,
        r#"tower_bearer_decisions_total{outcome="refused",reason="bad_signature",verifier="jwt",cached="false"}"#,
        r#"tower_bearer_decisions_total{outcome="refused",reason="inactive",verifier="introspection",cached="false"}"#,
        r#"tower_bearer_introspection_requests_total{answer="inactive"}"#,
        r#"tower_bearer_cache_requests_total{cache="jwt_tokens",result="hit"}"#,
        r#"tower_bearer_cache_requests_total{cache="introspection",result="miss"}"#,
        "tower_bearer_introspection_in_flight",
    ] {
        assert!(after.contains(expected), "{expected} in\n{rendered}");
    }
    assert!(
        after
            .iter()
            .any(|s| s.starts_with("tower_bearer_jwks_fetches_total") && s.contains(&issuer_label)),
        "{rendered}"
    );
    assert!(
        after
            .iter()
            .any(|s| s.starts_with("tower_bearer_verification_duration_seconds")),
        "{rendered}"
    );
    assert!(
        !rendered.contains("garbage") && !rendered.contains("eyJ"),
        "{rendered}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn metrics_one_span_per_verification_without_the_token() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let (issuer, service) = protected().await;
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("tower_bearer=debug")
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer(captured.clone())
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);

    let valid = issuer.token("alice", "app", "mcp:read", RESOURCE);
    // One signature character changed: well-formed, but not the issuer's signature.
    let mut forged = valid.clone().into_bytes();
    let i = forged.len() - 10;
    forged[i] = if forged[i] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    assert_eq!(status(&service, &valid).await, 200);
    assert_eq!(status(&service, &valid).await, 200);
    assert_eq!(status(&service, &forged).await, 401);
    assert_eq!(status(&service, "no-such-opaque-token").await, 401);

    let output = captured.text();
    let closed: Vec<&str> = output
        .lines()
        .filter(|l| l.contains("verify_token") && l.contains("close"))
        .collect();
    assert_eq!(closed.len(), 4, "one span per verification:\n{output}");
    let issuer_field = format!("issuer=\"{}\"", issuer.issuer());
    let fields = |span: &str, expected: &[&str]| {
        assert!(
            expected.iter().all(|field| span.contains(field)),
            "{expected:?} in {span}"
        );
    };
    let accepted = r#"outcome="accepted""#;
    fields(
        closed[0],
        &[r#"verifier="jwt""#, "cached=false", accepted, &issuer_field],
    );
    fields(closed[1], &["cached=true", accepted]);
    fields(closed[2], &[r#"outcome="refused""#, r#"reason="bad_signature""#]);
    fields(
        closed[3],
        &[r#"verifier="introspection""#, r#"reason="inactive""#],
    );
    let signature = valid.rsplit('.').next().unwrap();
    assert!(!output.contains(signature), "no token in the logs:\n{output}");
    assert!(!output.contains("no-such-opaque-token"), "{output}");
    assert!(!output.contains("mcp:read"), "no claim beyond iss:\n{output}");
}
