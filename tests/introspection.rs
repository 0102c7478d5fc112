//! RFC 7662 introspection against real servers on loopback: a Rust test server
//! for fault injection, and Node `oidc-provider` for interop.

mod support;
mod support_introspection;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response, StatusCode};
use serde_json::json;
use tokio::task::JoinSet;
use tower::{Layer, ServiceExt, service_fn};
use tower_bearer::compose::ShapeRouter;
use tower_bearer::introspection::{
    BuildError, ClientAuth, IntrospectionVerifier, IntrospectionVerifierBuilder,
};
use tower_bearer::{
    AccessToken, DynTokenVerifier, InvalidToken, Principal, TokenSource, TokenVerifier, TokenVerifierLayer,
    VerifyError,
};

use support::oidc::{OidcProvider, TokenFormat};
use support_introspection::server::{CLIENT_ID, CLIENT_SECRET, IntrospectionServer, Mode, RESOURCE, now};

const METADATA: &str = "http://127.0.0.1:7000/.well-known/oauth-protected-resource/mcp";

fn builder(server: &IntrospectionServer) -> IntrospectionVerifierBuilder {
    IntrospectionVerifier::builder()
        .endpoint(server.endpoint())
        .client_credentials(CLIENT_ID, CLIENT_SECRET)
        .issuer(server.issuer())
        .audience(RESOURCE)
}

fn invalid(result: Result<AccessToken, VerifyError>) -> InvalidToken {
    match result {
        Err(VerifyError::Invalid(reason)) => reason,
        other => panic!("expected an invalid token, got {other:?}"),
    }
}

fn unavailable(result: Result<AccessToken, VerifyError>) {
    assert!(
        matches!(result, Err(VerifyError::Unavailable(_))),
        "expected unavailable, got {result:?}"
    );
}

#[tokio::test]
async fn active_token_is_verified_and_cached() {
    let server = IntrospectionServer::start().await;
    server.add_token("tok-1", "mcp:read mcp:write");
    let verifier = builder(&server).build().unwrap();

    assert!(verifier.verify_now("tok-1").is_none(), "nothing cached yet");
    let token = verifier.verify("tok-1").await.unwrap();
    let p = token.principal();
    assert_eq!(p.client_id(), Some("mcp-client"));
    assert_eq!(p.issuer(), Some(server.issuer()));
    assert_eq!(p.subject(), Some("alice"));
    assert!(token.scopes().contains("mcp:write"));
    assert_eq!(token.audience(), [RESOURCE]);
    assert_eq!(token.source(), TokenSource::Introspection);
    assert!(token.expires_at().is_some());

    for _ in 0..20 {
        verifier.verify("tok-1").await.unwrap();
    }
    // The cached answer is at hand for the layer, without a future.
    let at_hand = verifier.verify_now("tok-1").expect("cached").unwrap();
    assert_eq!(at_hand.principal(), p);
    assert!(verifier.verify_now("tok-2").is_none());
    assert_eq!(
        server.calls(),
        1,
        "repeats within the TTL must not call the endpoint"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_make_exactly_one_call() {
    let server = IntrospectionServer::start().await;
    server.add_token("cold", "mcp:read");
    // Slow answers keep the call in flight while all 200 requests arrive.
    server.set_mode(Mode::Slow(Duration::from_millis(300)));
    let verifier = builder(&server).build().unwrap();

    let mut tasks = JoinSet::new();
    for _ in 0..200 {
        let verifier = verifier.clone();
        tasks.spawn(async move { verifier.verify("cold").await });
    }
    let mut ok = 0;
    while let Some(result) = tasks.join_next().await {
        assert_eq!(result.unwrap().unwrap().principal().subject(), Some("alice"));
        ok += 1;
    }
    assert_eq!(ok, 200);
    assert_eq!(server.calls(), 1);
}

#[tokio::test]
async fn inactive_is_cached_then_rechecked_after_the_negative_ttl() {
    let server = IntrospectionServer::start().await;
    let verifier = builder(&server)
        .negative_ttl(Duration::from_millis(500))
        .build()
        .unwrap();

    assert_eq!(invalid(verifier.verify("later").await), InvalidToken::Inactive);
    server.add_token("later", "mcp:read");
    assert_eq!(invalid(verifier.verify("later").await), InvalidToken::Inactive);
    assert_eq!(
        invalid(verifier.verify_now("later").expect("cached")),
        InvalidToken::Inactive
    );
    assert_eq!(server.calls(), 1, "the negative answer is cached");

    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(verifier.verify("later").await.is_ok());
    assert_eq!(server.calls(), 2);
}

#[tokio::test]
async fn negative_ttl_zero_disables_negative_caching() {
    let server = IntrospectionServer::start().await;
    let verifier = builder(&server).negative_ttl(Duration::ZERO).build().unwrap();
    for _ in 0..3 {
        assert_eq!(invalid(verifier.verify("nope").await), InvalidToken::Inactive);
    }
    assert_eq!(server.calls(), 3);
}

#[tokio::test]
async fn token_whose_exp_passes_while_cached_is_rejected() {
    let server = IntrospectionServer::start().await;
    // The server keeps claiming "active" after exp: only our checks stop it.
    server.add_token_with(
        "short",
        json!({"client_id": "mcp-client", "iss": server.issuer(), "aud": RESOURCE, "exp": now() + 2}),
    );
    let verifier = builder(&server).leeway(Duration::ZERO).build().unwrap();
    assert!(verifier.verify("short").await.is_ok());
    tokio::time::sleep(Duration::from_millis(3100)).await;
    // Evicted at exp, or refused if the cache has not caught up: never valid.
    if let Some(at_hand) = verifier.verify_now("short") {
        assert_eq!(invalid(at_hand), InvalidToken::Expired);
    }
    assert_eq!(invalid(verifier.verify("short").await), InvalidToken::Expired);
    assert_eq!(server.calls(), 2, "the cached answer must not outlive exp");
}

/// Introspection answers read NumericDates by the same rule as JWT claims:
/// fractions kept, negative, non-numeric or past-year-9999 values refused.
#[tokio::test]
async fn numeric_dates_follow_the_jwt_rule() {
    let server = IntrospectionServer::start().await;
    let verifier = builder(&server).negative_ttl(Duration::ZERO).build().unwrap();
    let answer = |exp: serde_json::Value| json!({"client_id": "mcp-client", "sub": "alice", "iss": server.issuer(), "aud": RESOURCE, "exp": exp});

    let exp = now() as f64 + 600.5;
    server.add_token_with("fraction", answer(json!(exp)));
    let token = verifier.verify("fraction").await.unwrap();
    assert_eq!(
        token.expires_at(),
        Some(std::time::UNIX_EPOCH + Duration::from_secs_f64(exp)),
        "the fraction of a second is kept, as for a JWT"
    );

    for (name, exp) in [
        ("negative", json!(-1)),
        ("past-9999", json!(253_402_300_800_u64)),
        ("huge", json!(1e300)),
        ("string", json!(now().to_string())),
        ("bool", json!(true)),
    ] {
        server.add_token_with(name, answer(exp));
        assert_eq!(
            invalid(verifier.verify(name).await),
            InvalidToken::Claims,
            "{name}"
        );
    }
}

#[tokio::test]
async fn response_rules() {
    let server = IntrospectionServer::start().await;
    server.add_token("t", "mcp:read");
    let cases = [
        (Mode::ActiveString, Some(InvalidToken::Inactive)),
        (Mode::MissingActive, Some(InvalidToken::Inactive)),
        (Mode::WrongIss, Some(InvalidToken::Issuer)),
        (Mode::MissingExp, None),
    ];
    for (mode, expected) in cases {
        server.set_mode(mode);
        let verifier = builder(&server).build().unwrap();
        let result = verifier.verify("t").await;
        match expected {
            Some(reason) => assert_eq!(invalid(result), reason, "{mode:?}"),
            None => assert_eq!(result.unwrap().expires_at(), None, "{mode:?}"),
        }
    }

    server.set_mode(Mode::Normal);
    server.add_token_with(
        "other-aud",
        json!({"iss": server.issuer(), "aud": "https://elsewhere.example"}),
    );
    server.add_token_with("no-aud", json!({"iss": server.issuer(), "sub": "bob"}));
    // By default an answer without `aud` is refused: the token may be another resource's.
    let verifier = builder(&server).build().unwrap();
    assert_eq!(
        invalid(verifier.verify("other-aud").await),
        InvalidToken::Audience
    );
    assert_eq!(
        invalid(verifier.verify("no-aud").await),
        InvalidToken::AudienceMissing
    );
    // The explicit opt-out accepts a missing `aud`, never a wrong one.
    let lax = builder(&server).allow_missing_audience(true).build().unwrap();
    assert!(lax.verify("no-aud").await.is_ok());
    assert_eq!(invalid(lax.verify("other-aud").await), InvalidToken::Audience);
}

#[tokio::test]
async fn outages_are_unavailable_and_never_cached() {
    let server = IntrospectionServer::start().await;
    server.add_token("t", "mcp:read");
    let verifier = builder(&server)
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();

    for mode in [
        Mode::Error500,
        Mode::HugeBody,
        Mode::NotJson,
        Mode::DuplicateActive,
        Mode::Slow(Duration::from_secs(2)),
    ] {
        server.set_mode(mode);
        unavailable(verifier.verify("t").await);
        assert!(verifier.verify_now("t").is_none(), "{mode:?} left a verdict");
    }
    assert_eq!(server.calls(), 5);
    assert_eq!(verifier.cache_entry_count().await, 0);

    server.set_mode(Mode::Normal);
    assert!(verifier.verify("t").await.is_ok(), "errors must not be cached");
    assert_eq!(server.calls(), 6);
}

#[tokio::test]
async fn unreachable_endpoint_is_unavailable() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let verifier = IntrospectionVerifier::builder()
        .endpoint(format!("http://{addr}/introspect"))
        .client_credentials(CLIENT_ID, CLIENT_SECRET)
        .build()
        .unwrap();
    unavailable(verifier.verify("t").await);
}

#[tokio::test]
async fn client_authentication() {
    let server = IntrospectionServer::start().await;
    server.add_token("t", "mcp:read");
    let post = builder(&server).auth_method(ClientAuth::Post).build().unwrap();
    assert!(post.verify("t").await.is_ok());

    // Rejected credentials are the resource server's problem: 503, not 401.
    let wrong = builder(&server)
        .client_credentials(CLIENT_ID, "wrong")
        .build()
        .unwrap();
    let result = wrong.verify("t").await;
    let shown = format!("{result:?}");
    unavailable(result);
    assert!(
        !shown.contains("wrong") && !shown.contains("rs-secret"),
        "{shown}"
    );
}

#[tokio::test]
async fn discovery() {
    let server = IntrospectionServer::start().await;
    server.add_token("t", "mcp:read");
    let verifier = IntrospectionVerifier::builder()
        .client_credentials(CLIENT_ID, CLIENT_SECRET)
        .discover_from(server.issuer())
        .await
        .unwrap();
    assert_eq!(
        verifier.verify("t").await.unwrap().principal().issuer(),
        Some(server.issuer())
    );

    // The metadata names http://127.0.0.1:PORT, not localhost.
    let other = server.issuer().replace("127.0.0.1", "localhost");
    let mismatch = IntrospectionVerifier::builder()
        .client_credentials(CLIENT_ID, CLIENT_SECRET)
        .discover_from(other)
        .await;
    assert!(
        matches!(mismatch, Err(BuildError::IssuerMismatch { .. })),
        "{mismatch:?}"
    );

    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gone = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let down = IntrospectionVerifier::builder()
        .client_credentials(CLIENT_ID, CLIENT_SECRET)
        .discover_from(gone)
        .await;
    assert!(matches!(down, Err(BuildError::Discovery(_))), "{down:?}");

    let insecure = IntrospectionVerifier::builder()
        .client_credentials(CLIENT_ID, CLIENT_SECRET)
        .discover_from("http://as.example")
        .await;
    assert!(
        matches!(insecure, Err(BuildError::Url { what: "issuer", .. })),
        "{insecure:?}"
    );
}

/// The layer in front of a handler that echoes the principal's subject.
fn protected<V: TokenVerifier + 'static>(
    verifier: V,
) -> impl tower::Service<Request<String>, Response = Response<String>, Error = Infallible, Future: Send> + Clone
{
    TokenVerifierLayer::new(verifier)
        .resource_metadata(METADATA)
        .unwrap()
        .layer(service_fn(|req: Request<String>| async move {
            let who = req
                .extensions()
                .get::<Principal>()
                .and_then(|p| p.subject().map(str::to_owned));
            Ok::<_, Infallible>(Response::new(who.unwrap_or_default()))
        }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_flood_keeps_the_cache_bounded() {
    const CAPACITY: u64 = 500;
    const TOKENS: usize = 5000;
    let server = IntrospectionServer::start().await;
    let verifier = builder(&server).cache_capacity(CAPACITY).build().unwrap();
    let service = protected(verifier.clone());

    let mut statuses = std::collections::BTreeMap::new();
    for batch in 0..TOKENS / 100 {
        let mut tasks = JoinSet::new();
        for i in 0..100 {
            let request = Request::builder()
                .header("authorization", format!("Bearer garbage-{batch}-{i}"))
                .body(String::new())
                .unwrap();
            tasks.spawn(service.clone().oneshot(request));
        }
        while let Some(response) = tasks.join_next().await {
            *statuses.entry(response.unwrap().unwrap().status()).or_insert(0) += 1;
        }
    }
    assert_eq!(
        statuses.into_iter().collect::<Vec<_>>(),
        [(StatusCode::UNAUTHORIZED, TOKENS)]
    );
    assert_eq!(server.calls(), TOKENS);
    let entries = verifier.cache_entry_count().await;
    assert!(
        entries <= CAPACITY,
        "{entries} cached entries exceed the capacity {CAPACITY}"
    );
}

/// A user-supplied verifier (think: a database of API keys), plugged in next to
/// introspection through `Arc<DynTokenVerifier<'static>>`.
struct ApiKeys;

impl TokenVerifier for ApiKeys {
    async fn verify(&self, token: &str) -> Result<AccessToken, VerifyError> {
        // Stands in for a JWT verifier: accepts one well-formed JWS shape.
        match token {
            "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJqd3QifQ.c2ln" => {
                Ok(AccessToken::new(Principal::new().with_subject("jwt-user")))
            }
            _ => Err(InvalidToken::Signature.into()),
        }
    }
}

/// Serves `service` on 127.0.0.1:0 with axum; returns its base URL.
async fn serve_http(verifier: Arc<DynTokenVerifier<'static>>) -> String {
    let app = axum::Router::new()
        .route(
            "/mcp",
            axum::routing::post(|principal: axum::Extension<Principal>| async move {
                principal.subject().unwrap_or_default().to_owned()
            }),
        )
        .layer(
            TokenVerifierLayer::new(verifier)
                .resource_metadata(METADATA)
                .unwrap(),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test]
async fn statuses_and_challenges_over_http() {
    let server = IntrospectionServer::start().await;
    server.add_token("good", "mcp:read");
    server.add_token("good-too", "mcp:read");
    let introspection = builder(&server).negative_ttl(Duration::ZERO).build().unwrap();
    let verifier: Arc<DynTokenVerifier<'static>> =
        DynTokenVerifier::new_arc(ShapeRouter::new(ApiKeys, introspection));
    let url = serve_http(verifier).await;
    let client = reqwest::Client::new();
    let call = |token: Option<&str>| {
        let mut request = client.post(&url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move { request.send().await.unwrap() }
    };
    let www = |r: &reqwest::Response| {
        r.headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned())
    };

    let ok = call(Some("good")).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "alice");

    let jwt = call(Some("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJqd3QifQ.c2ln")).await;
    assert_eq!(jwt.text().await.unwrap(), "jwt-user");
    let calls = server.calls();
    let forged = call(Some("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJqd3QifQ.Zm9yZ2Vk")).await;
    assert_eq!(forged.status(), 401);
    assert_eq!(
        www(&forged).unwrap(),
        format!(
            r#"Bearer error="invalid_token", error_description="bad signature", resource_metadata="{METADATA}""#
        )
    );
    assert_eq!(
        server.calls(),
        calls,
        "JWT-shaped tokens never reach introspection"
    );

    let missing = call(None).await;
    assert_eq!(missing.status(), 401);
    assert_eq!(
        www(&missing).unwrap(),
        format!(r#"Bearer resource_metadata="{METADATA}""#)
    );

    let inactive = call(Some("unknown")).await;
    assert_eq!(inactive.status(), 401);
    assert_eq!(
        www(&inactive).unwrap(),
        format!(
            r#"Bearer error="invalid_token", error_description="token not active", resource_metadata="{METADATA}""#
        )
    );

    server.set_mode(Mode::ActiveString);
    let stringly = call(Some("good-too")).await;
    assert_eq!(stringly.status(), 401);

    server.set_mode(Mode::Error500);
    let outage = call(Some("fresh")).await;
    assert_eq!(outage.status(), 503);
    assert!(www(&outage).is_none(), "an outage is not a challenge");
    assert_eq!(outage.headers()["retry-after"], "5");

    server.set_mode(Mode::Normal);
    let recovered = call(Some("good")).await;
    assert_eq!(recovered.status(), 200, "cached before the outage");
}

// ---- interop with a real authorization server (Node oidc-provider) ----

#[tokio::test]
async fn interop_node_oidc_provider_opaque_tokens() {
    let provider = OidcProvider::start("oidc_provider_opaque_tokens", RESOURCE, TokenFormat::Opaque).await;
    let issuer = provider.endpoints.issuer.clone();
    let verifier = IntrospectionVerifier::builder()
        .client_credentials("rs-client", "rs-secret")
        .audience(RESOURCE)
        .positive_ttl(Duration::from_millis(500))
        .discover_from(&issuer)
        .await
        .unwrap();

    let token = provider.client_credentials_token("mcp:read").await;
    assert!(
        token.split('.').count() != 3,
        "opaque tokens are routed to introspection"
    );
    let verified = verifier.verify(&token).await.unwrap();
    assert_eq!(verified.principal().client_id(), Some("mcp-client"));
    assert_eq!(verified.principal().issuer(), Some(issuer.as_str()));
    assert_eq!(verified.scopes().to_string(), "mcp:read");
    assert_eq!(verified.audience(), [RESOURCE]);
    assert!(verified.expires_at().is_some());

    assert_eq!(
        invalid(verifier.verify("not-a-token-it-issued").await),
        InvalidToken::Inactive
    );

    let post = IntrospectionVerifier::builder()
        .endpoint(&provider.endpoints.introspection_endpoint)
        .client_credentials("rs-client", "rs-secret")
        .auth_method(ClientAuth::Post)
        .issuer(&issuer)
        .audience(RESOURCE)
        .build()
        .unwrap();
    assert!(post.verify(&token).await.is_ok());

    let wrong_resource = IntrospectionVerifier::builder()
        .endpoint(&provider.endpoints.introspection_endpoint)
        .client_credentials("rs-client", "rs-secret")
        .audience("http://127.0.0.1:7000/other")
        .build()
        .unwrap();
    assert_eq!(
        invalid(wrong_resource.verify(&token).await),
        InvalidToken::Audience
    );

    let bad_secret = IntrospectionVerifier::builder()
        .endpoint(&provider.endpoints.introspection_endpoint)
        .client_credentials("rs-client", "not-the-secret")
        .build()
        .unwrap();
    unavailable(bad_secret.verify(&token).await);

    // Revocation shows once the positive answer has aged out.
    provider.revoke(&token).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(invalid(verifier.verify(&token).await), InvalidToken::Inactive);
}

#[tokio::test]
async fn interop_node_oidc_provider_jwt_access_tokens_are_routed_by_shape() {
    let provider = OidcProvider::start("oidc_provider_jwt_access_tokens", RESOURCE, TokenFormat::Jwt).await;
    let token = provider.client_credentials_token("mcp:read mcp:write").await;
    assert!(
        token.split('.').count() == 3,
        "an RFC 9068 access token has the JWT shape"
    );

    // oidc-provider refuses to introspect JWTs: an error answer, hence 503, which
    // is why the ShapeRouter keeps JWTs away from introspection.
    let introspection = IntrospectionVerifier::builder()
        .client_credentials("rs-client", "rs-secret")
        .discover_from(&provider.endpoints.issuer)
        .await
        .unwrap();
    unavailable(introspection.verify(&token).await);
    let router = ShapeRouter::new(ApiKeys, introspection);
    assert_eq!(invalid(router.verify(&token).await), InvalidToken::Signature);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distinct_tokens_against_a_slow_server_never_exceed_the_in_flight_bound() {
    let server = IntrospectionServer::start().await;
    server.set_mode(Mode::Slow(Duration::from_millis(300)));
    let verifier = Arc::new(
        builder(&server)
            .max_in_flight(8)
            .in_flight_wait(Duration::from_millis(100))
            .build()
            .unwrap(),
    );
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..400 {
        let verifier = verifier.clone();
        tasks.spawn(async move { verifier.verify(&format!("forged-{i}")).await });
    }
    let (mut unavailable, mut inactive) = (0usize, 0usize);
    while let Some(joined) = tasks.join_next().await {
        match joined.unwrap() {
            Err(VerifyError::Unavailable(_)) => unavailable += 1,
            Err(VerifyError::Invalid(InvalidToken::Inactive)) => inactive += 1,
            other => panic!("unexpected verdict: {other:?}"),
        }
    }
    assert!(server.peak_in_flight() <= 8, "peak {}", server.peak_in_flight());
    assert!(inactive >= 8, "some calls went through: {inactive}");
    // Over the bound: 503, never a 401 for a token that was not checked.
    assert_eq!(inactive + unavailable, 400);
    assert!(unavailable > 0);
    assert_eq!(server.calls(), inactive, "only checked tokens reached the server");
}
