//! RFC 8693 token exchange end to end on loopback: a resource server (the
//! "upstream", an MCP server say) keeps the incoming token, exchanges it at
//! the development issuer and calls a second resource server (the
//! "downstream") with the exchanged token. Checked: what downstream sees
//! (principal, actor chain, never the incoming token), the cache (one exchange
//! per subject token and downstream under 100 concurrent calls), the issuer
//! down or slow (503), refusals (403), DPoP-bound exchanged tokens, and that
//! no raw token reaches any log line.

mod support;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tower_bearer::exchange::{
    ClientKey, Downstream, ExchangeError, ExchangeRefusal, ExchangedToken, SubjectToken, TokenExchange,
    TokenExchangeBuilder,
};
use tower_bearer::{AccessToken, Resource, Scopes, TokenVerifierLayer};
use tower_bearer_issuer::{DevIssuer, DpopKey};

const UPSTREAM: &str = "http://upstream.test/mcp";

/// Every log line of this test binary, at every level.
fn logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || Capture(sink.clone()))
            .init();
        buffer
    })
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The downstream API: a resource server of its own audience that answers
/// with what it saw, and records the credentials it was sent.
struct DownstreamApi {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

async fn whoami(
    token: AccessToken,
    headers: HeaderMap,
    State(seen): State<Arc<Mutex<Vec<String>>>>,
) -> Json<Value> {
    let credentials = headers["authorization"].to_str().unwrap().to_owned();
    seen.lock().unwrap().push(credentials);
    let actor = token.actor().unwrap();
    let chain: Vec<_> = actor
        .iter()
        .flat_map(|a| a.chain())
        .filter_map(|a| a.subject())
        .collect();
    Json(json!({
        "sub": token.principal().subject(),
        "client_id": token.principal().client_id(),
        "act": chain,
        "dpop_bound": token.dpop_jkt().is_some(),
    }))
}

/// Binds the downstream first (its URL goes into the issuer's policy), then
/// starts the issuer with `issuer`, then serves the downstream.
async fn start(
    issuer: impl FnOnce(&str) -> tower_bearer_issuer::DevIssuerBuilder,
) -> (DevIssuer, DownstreamApi) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api", listener.local_addr().unwrap());
    let dev = issuer(&url).start().await.unwrap();
    let resource = Resource::builder(&url)
        .authorization_server(dev.issuer())
        .build()
        .unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new()
        .route("/api", get(whoami))
        .with_state(seen.clone())
        .layer(resource.token_layer(dev.jwt_verifier(&url)));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (dev, DownstreamApi { url, seen })
}

fn allow(url: &str) -> tower_bearer_issuer::DevIssuerBuilder {
    DevIssuer::builder().allow_token_exchange("dev-client", url)
}

#[derive(Clone)]
struct Upstream {
    exchange: TokenExchange,
    downstream: Downstream,
    url: String,
    http: reqwest::Client,
}

/// The upstream's tool: exchange, call downstream, return what it answered.
async fn call_downstream(
    State(up): State<Upstream>,
    token: AccessToken,
    Extension(subject): Extension<SubjectToken>,
) -> Response {
    let mut request = up.http.get(&up.url).build().unwrap();
    if let Err(e) = up
        .exchange
        .attach(&mut request, &subject, &token, &up.downstream)
        .await
    {
        return e.into_response::<Body>();
    }
    let answer = up.http.execute(request).await.unwrap();
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
    (status, answer.bytes().await.unwrap()).into_response()
}

/// The upstream resource server: keeps the subject token, exchanges it.
async fn upstream(dev: &DevIssuer, exchange: TokenExchange, downstream: Downstream, url: &str) -> SocketAddr {
    let state = Upstream {
        exchange,
        downstream,
        url: url.to_owned(),
        http: reqwest::Client::new(),
    };
    let app = Router::new()
        .route("/call", get(call_downstream))
        .with_state(state)
        .layer(TokenVerifierLayer::new(dev.jwt_verifier(UPSTREAM)).keep_subject_token(true));
    support::serve(app).await
}

fn exchange_of(dev: &DevIssuer) -> TokenExchangeBuilder {
    TokenExchange::builder()
        .issuer(dev.issuer())
        .client_secret_basic(dev.client_id(), dev.client_secret())
}

async fn call(addr: SocketAddr, token: &str) -> (u16, HeaderMap, String) {
    let res = reqwest::Client::new()
        .get(format!("http://{addr}/call"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.text().await.unwrap())
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

#[tokio::test]
async fn downstream_sees_the_subject_and_this_server_as_actor_never_the_incoming_token() {
    let logs = logs();
    let (dev, api) = start(allow).await;
    let downstream = Downstream::resource(&api.url)
        .unwrap()
        .scopes(Scopes::parse("mcp:read"));
    let addr = upstream(&dev, exchange_of(&dev).build().unwrap(), downstream, &api.url).await;
    let incoming = dev.token("alice", "mcp-client", "mcp:read mcp:write", UPSTREAM);

    let (status, _, body) = call(addr, &incoming).await;
    assert_eq!(status, 200, "{body}");
    let seen: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        seen,
        json!({"sub": "alice", "client_id": "dev-client", "act": ["dev-client"], "dpop_bound": false})
    );
    let credentials = api.seen.lock().unwrap().clone();
    assert_eq!(credentials.len(), 1);
    assert!(credentials[0].starts_with("Bearer "));
    assert!(
        !credentials[0].contains(&incoming),
        "the incoming token never goes downstream"
    );
    let exchanged = credentials[0].trim_start_matches("Bearer ").to_owned();

    // The incoming token cannot be replayed downstream: its audience is upstream.
    let direct = reqwest::Client::new()
        .get(&api.url)
        .bearer_auth(&incoming)
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status(), 401);

    // A refusal and an outage go through the logs too.
    let (dev2, api2) = start(|_| DevIssuer::builder()).await;
    let refused = upstream(
        &dev2,
        exchange_of(&dev2).build().unwrap(),
        Downstream::resource(&api2.url).unwrap(),
        &api2.url,
    )
    .await;
    let incoming2 = dev2.token("bob", "mcp-client", "mcp:read", UPSTREAM);
    assert_eq!(
        call(refused, &incoming2).await.0,
        503,
        "no token-exchange grant in the metadata"
    );

    // No raw token in any log line of the whole run.
    let captured = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert!(captured.contains("token exchanged"), "the capture works");
    for secret in [&incoming, &exchanged, &incoming2, &dev.client_secret().to_owned()] {
        assert!(!captured.contains(secret.as_str()), "a raw credential was logged");
    }
}

/// A loopback proxy in front of the issuer's token endpoint that counts the
/// exchanges and delays them by `delay`.
async fn counting_proxy(dev: &DevIssuer, delay: Duration) -> (String, Arc<AtomicUsize>) {
    #[derive(Clone)]
    struct Proxy {
        target: String,
        count: Arc<AtomicUsize>,
        delay: Duration,
    }
    async fn forward(State(p): State<Proxy>, headers: HeaderMap, body: Bytes) -> Response {
        p.count.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(p.delay).await;
        let mut request = reqwest::Client::new().post(&p.target).body(body);
        for name in ["authorization", "content-type"] {
            if let Some(value) = headers.get(name) {
                request = request.header(name, value.clone());
            }
        }
        let res = request.send().await.unwrap();
        let status = StatusCode::from_u16(res.status().as_u16()).unwrap();
        (
            status,
            [("content-type", "application/json")],
            res.bytes().await.unwrap(),
        )
            .into_response()
    }
    let count = Arc::new(AtomicUsize::new(0));
    let proxy = Proxy {
        target: dev.token_endpoint(),
        count: count.clone(),
        delay,
    };
    let addr = support::serve(Router::new().route("/token", post(forward)).with_state(proxy)).await;
    (format!("http://{addr}/token"), count)
}

#[tokio::test]
async fn one_exchange_per_subject_token_and_downstream_under_100_concurrent_calls() {
    let (dev, api) = start(allow).await;
    let (endpoint, exchanges) = counting_proxy(&dev, Duration::from_millis(200)).await;
    let exchange = TokenExchange::builder()
        .token_endpoint(endpoint)
        .client_secret_post(dev.client_id(), dev.client_secret())
        .build()
        .unwrap();
    let downstream = Downstream::resource(&api.url).unwrap();
    let addr = upstream(&dev, exchange.clone(), downstream.clone(), &api.url).await;
    let alice = dev.token("alice", "mcp-client", "mcp:read", UPSTREAM);

    let calls: Vec<_> = (0..100)
        .map(|_| {
            tokio::spawn({
                let alice = alice.clone();
                async move { call(addr, &alice).await.0 }
            })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap(), 200);
    }
    assert_eq!(exchanges.load(Ordering::SeqCst), 1, "one exchange for 100 calls");
    assert_eq!(api.seen.lock().unwrap().len(), 100);
    let distinct: std::collections::HashSet<_> = api.seen.lock().unwrap().iter().cloned().collect();
    assert_eq!(distinct.len(), 1, "every call used the cached token");

    // Another subject token, or another downstream scope: another exchange each.
    let bob = dev.token("bob", "mcp-client", "mcp:read", UPSTREAM);
    assert_eq!(call(addr, &bob).await.0, 200);
    assert_eq!(exchanges.load(Ordering::SeqCst), 2);
    let verified = dev.jwt_verifier(UPSTREAM);
    let alice_token = tower_bearer::TokenVerifier::verify(&verified, &alice)
        .await
        .unwrap();
    let narrower = downstream.scopes(Scopes::parse("mcp:read"));
    let narrowed = exchange
        .exchange(&SubjectToken::new(alice.as_str()), &alice_token, &narrower)
        .await
        .unwrap();
    assert_eq!(narrowed.subject().subject(), Some("alice"));
    assert_eq!(
        narrowed.scopes().map(ToString::to_string).as_deref(),
        Some("mcp:read")
    );
    assert_eq!(exchanges.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn issuer_down_or_slow_is_503_with_retry_after_and_no_downstream_call() {
    let (dev, api) = start(allow).await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let down = TokenExchange::builder()
        .token_endpoint(format!("http://{closed}/token"))
        .client_secret_basic(dev.client_id(), dev.client_secret())
        .build()
        .unwrap();
    let (slow_endpoint, _) = counting_proxy(&dev, Duration::from_secs(3)).await;
    let slow = TokenExchange::builder()
        .token_endpoint(slow_endpoint)
        .client_secret_basic(dev.client_id(), dev.client_secret())
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let wrong_secret = exchange_of(&dev)
        .client_secret_basic(dev.client_id(), "wrong")
        .build()
        .unwrap();
    let token = dev.token("alice", "mcp-client", "mcp:read", UPSTREAM);
    for exchange in [down, slow, wrong_secret] {
        let addr = upstream(&dev, exchange, Downstream::resource(&api.url).unwrap(), &api.url).await;
        let (status, headers, body) = call(addr, &token).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(headers["retry-after"], "5");
        assert_eq!(body, "token exchange temporarily unavailable");
    }
    assert!(
        api.seen.lock().unwrap().is_empty(),
        "never a downstream call without a token"
    );
}

#[tokio::test]
async fn refusals_are_403_with_fixed_descriptions() {
    let (dev, api) = start(allow).await;
    let token = dev.token("alice", "mcp-client", "mcp:read", UPSTREAM);
    let cases = [
        (
            Downstream::resource("http://127.0.0.1:9/elsewhere").unwrap(),
            "downstream audience not allowed",
        ),
        (
            Downstream::resource(&api.url)
                .unwrap()
                .scopes(Scopes::parse("mcp:read mcp:admin")),
            "downstream scope not allowed",
        ),
    ];
    for (downstream, description) in cases {
        let addr = upstream(&dev, exchange_of(&dev).build().unwrap(), downstream, &api.url).await;
        let (status, headers, body) = call(addr, &token).await;
        assert_eq!((status, body.as_str()), (403, description));
        assert_eq!(headers["cache-control"], "no-store");
    }

    // Expired, but within the upstream verifier's leeway: refused before any call.
    let mut claims = dev.claims("alice", "mcp-client", "mcp:read", UPSTREAM);
    claims["exp"] = (unix_now() - 10).into();
    let expired = dev.sign_claims(&claims);
    let addr = upstream(
        &dev,
        exchange_of(&dev).build().unwrap(),
        Downstream::resource(&api.url).unwrap(),
        &api.url,
    )
    .await;
    let (status, _, body) = call(addr, &expired).await;
    assert_eq!((status, body.as_str()), (403, "subject token expired"));

    // The issuer refuses an expired subject token itself (invalid_grant).
    let exchange = exchange_of(&dev).build().unwrap();
    let no_expiry = AccessToken::new(tower_bearer::Principal::new().with_subject("alice"));
    let refused = exchange
        .exchange(
            &SubjectToken::new(expired.as_str()),
            &no_expiry,
            &Downstream::resource(&api.url).unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(refused, ExchangeError::Refused(ExchangeRefusal::Grant));
    assert!(api.seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_dpop_bound_exchanged_token_works_downstream_only_with_the_servers_proof() {
    let (dev, api) = start(allow).await;
    let key = ClientKey::generate().unwrap();
    let thumbprint = key.thumbprint().to_owned();
    let exchange = exchange_of(&dev).dpop_key(key).build().unwrap();
    let addr = upstream(&dev, exchange, Downstream::resource(&api.url).unwrap(), &api.url).await;
    let token = dev.token("alice", "mcp-client", "mcp:read", UPSTREAM);

    let (status, _, body) = call(addr, &token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["dpop_bound"], true);
    let credentials = api.seen.lock().unwrap()[0].clone();
    let exchanged = credentials
        .strip_prefix("DPoP ")
        .expect("a DPoP token")
        .to_owned();
    let verified = tower_bearer::TokenVerifier::verify(&dev.jwt_verifier(&api.url), &exchanged)
        .await
        .unwrap();
    assert_eq!(verified.dpop_jkt(), Some(thumbprint.as_str()));

    let http = reqwest::Client::new();
    let as_bearer = http.get(&api.url).bearer_auth(&exchanged).send().await.unwrap();
    assert_eq!(as_bearer.status(), 401, "a bound token sent as bearer");
    let no_proof = http
        .get(&api.url)
        .header("authorization", &credentials)
        .send()
        .await
        .unwrap();
    assert_eq!(no_proof.status(), 401, "no proof");
    let other_key = DpopKey::generate();
    let wrong_key = http
        .get(&api.url)
        .header("authorization", &credentials)
        .header("dpop", other_key.proof("GET", &api.url, Some(&exchanged)))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_key.status(), 401, "a proof by another key");
    assert_eq!(
        api.seen.lock().unwrap().len(),
        1,
        "only the server's call got through"
    );
}

#[tokio::test]
async fn the_outbound_layer_attaches_the_exchanged_token_to_a_tower_client() {
    use tower::{Service, ServiceExt};
    use tower_bearer::ServiceBuilderExt;
    use tower_bearer::exchange::{OutboundError, carry_subject};

    let (dev, api) = start(allow).await;
    let http = reqwest::Client::new();
    let mut client = tower::ServiceBuilder::new()
        .exchange_token(
            exchange_of(&dev).build().unwrap(),
            Downstream::resource(&api.url).unwrap(),
        )
        .service_fn(move |req: http::Request<String>| {
            let http = http.clone();
            async move {
                let answer = http.execute(reqwest::Request::try_from(req)?).await?;
                Ok::<_, reqwest::Error>(http::Response::from(answer))
            }
        });
    let incoming = dev.token("alice", "mcp-client", "mcp:read", UPSTREAM);
    let verified = tower_bearer::TokenVerifier::verify(&dev.jwt_verifier(UPSTREAM), &incoming)
        .await
        .unwrap();
    let mut extensions = http::Extensions::new();
    extensions.insert(SubjectToken::new(incoming.as_str()));
    extensions.insert(verified);

    // The incoming credentials the tool might have copied are replaced.
    let mut request = http::Request::get(&api.url)
        .header("authorization", format!("Bearer {incoming}"))
        .body(String::new())
        .unwrap();
    assert!(carry_subject(&extensions, request.extensions_mut()));
    let answer = client.ready().await.unwrap().call(request).await.unwrap();
    assert_eq!(answer.status(), 200);
    let used = answer
        .extensions()
        .get::<ExchangedToken>()
        .expect("the token used")
        .clone();
    assert_eq!(used.subject().subject(), Some("alice"));
    assert_eq!(api.seen.lock().unwrap()[0], format!("Bearer {}", used.secret()));
    let body = http_body_util::BodyExt::collect(answer.into_body())
        .await
        .unwrap()
        .to_bytes();
    let seen: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (seen["sub"].as_str(), seen["act"][0].as_str()),
        (Some("alice"), Some("dev-client"))
    );
    assert!(!api.seen.lock().unwrap()[0].contains(&incoming));

    // Without the subject token nothing is sent.
    let bare = http::Request::get(&api.url).body(String::new()).unwrap();
    let error = client.ready().await.unwrap().call(bare).await.unwrap_err();
    assert!(matches!(
        error,
        OutboundError::Exchange(ExchangeError::NoSubjectToken)
    ));
    assert_eq!(api.seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn private_key_jwt_authenticates_the_exchange() {
    let key = ClientKey::generate().unwrap().with_kid("rs-1");
    let jwk = key.public_jwk();
    let (dev, api) = start(|url| {
        DevIssuer::builder()
            .private_key_jwt_client("rs", jwk.clone())
            .allow_token_exchange("rs", url)
    })
    .await;
    let exchange = TokenExchange::builder()
        .issuer(dev.issuer())
        .private_key_jwt("rs", key)
        .build()
        .unwrap();
    let addr = upstream(&dev, exchange, Downstream::resource(&api.url).unwrap(), &api.url).await;
    let token = dev.token("alice", "mcp-client", "mcp:read", UPSTREAM);
    for _ in 0..2 {
        let (status, _, body) = call(addr, &token).await;
        assert_eq!(status, 200, "{body}");
        let seen: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (seen["client_id"].as_str(), seen["act"][0].as_str()),
            (Some("rs"), Some("rs"))
        );
    }
    let bob = dev.token("bob", "mcp-client", "mcp:read", UPSTREAM);
    assert_eq!(
        call(addr, &bob).await.0,
        200,
        "a fresh assertion for each exchange"
    );

    // Another key than the registered one: the issuer refuses this server (503).
    let wrong = TokenExchange::builder()
        .issuer(dev.issuer())
        .private_key_jwt("rs", ClientKey::generate().unwrap())
        .build()
        .unwrap();
    let addr = upstream(&dev, wrong, Downstream::resource(&api.url).unwrap(), &api.url).await;
    assert_eq!(call(addr, &token).await.0, 503);
}

#[tokio::test]
async fn a_configured_actor_token_names_the_actor_downstream() {
    let (dev, api) = start(allow).await;
    let workload = dev.token("svc-workload", "dev-client", "", "https://workloads.example");
    let exchange = exchange_of(&dev)
        .actor_token(workload.as_str(), tower_bearer::exchange::ACCESS_TOKEN_TYPE)
        .build()
        .unwrap();
    let addr = upstream(&dev, exchange, Downstream::resource(&api.url).unwrap(), &api.url).await;
    let (status, _, body) = call(addr, &dev.token("alice", "mcp-client", "mcp:read", UPSTREAM)).await;
    assert_eq!(status, 200, "{body}");
    let seen: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (seen["sub"].as_str(), seen["act"][0].as_str()),
        (Some("alice"), Some("svc-workload"))
    );
}

/// The payload of a compact JWS, as JSON.
fn jws_payload(jws: &str) -> Value {
    use base64::Engine as _;
    let payload = jws.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

/// An authorization server that wants DPoP nonces (RFC 9449 §8) answers a
/// proof without one `use_dpop_nonce` with a `DPoP-Nonce`: the exchange asks
/// again once, with a fresh proof carrying it and the client's credentials,
/// and gets its DPoP-bound token. A server that keeps asking is an outage
/// (503), never a loop.
#[tokio::test]
async fn a_dpop_nonce_asked_by_the_token_endpoint_is_answered_once() {
    #[derive(Clone, Default)]
    struct NonceServer {
        proofs: Arc<Mutex<Vec<Value>>>,
        authorizations: Arc<Mutex<Vec<String>>>,
        always_ask: bool,
    }
    async fn token(State(s): State<NonceServer>, headers: HeaderMap) -> Response {
        let proof = jws_payload(headers["dpop"].to_str().unwrap());
        let authorization = headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        s.authorizations.lock().unwrap().push(authorization);
        s.proofs.lock().unwrap().push(proof.clone());
        if s.always_ask || proof["nonce"] != "n-1" {
            return (
                StatusCode::BAD_REQUEST,
                [("dpop-nonce", "n-1"), ("content-type", "application/json")],
                json!({"error": "use_dpop_nonce", "error_description": "nonce required"}).to_string(),
            )
                .into_response();
        }
        Json(json!({
            "access_token": "exchanged-token",
            "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "token_type": "DPoP",
            "expires_in": 300,
        }))
        .into_response()
    }
    for always_ask in [false, true] {
        let server = NonceServer {
            always_ask,
            ..NonceServer::default()
        };
        let app = Router::new()
            .route("/token", post(token))
            .with_state(server.clone());
        let addr = support::serve(app).await;
        let exchange = TokenExchange::builder()
            .token_endpoint(format!("http://{addr}/token"))
            .client_secret_basic("rs", "rs-secret")
            .dpop_key(ClientKey::generate().unwrap())
            .build()
            .unwrap();
        let subject = SubjectToken::new("incoming-token");
        let verified = AccessToken::new(tower_bearer::Principal::new())
            .with_expires_at(SystemTime::now() + Duration::from_secs(600));
        let result = exchange
            .exchange(
                &subject,
                &verified,
                &Downstream::audience("downstream-api").unwrap(),
            )
            .await;
        let proofs = server.proofs.lock().unwrap().clone();
        assert_eq!(proofs.len(), 2, "one request, one retry");
        assert!(proofs[0].get("nonce").is_none());
        assert_eq!(proofs[1]["nonce"], "n-1");
        assert_ne!(proofs[0]["jti"], proofs[1]["jti"], "a fresh proof");
        let authorizations = server.authorizations.lock().unwrap().clone();
        assert!(
            authorizations.iter().all(|a| a.starts_with("Basic ")),
            "{authorizations:?}"
        );
        if always_ask {
            assert!(matches!(result, Err(ExchangeError::Unavailable(_))), "{result:?}");
        } else {
            let token = result.unwrap();
            assert_eq!(token.secret(), "exchanged-token");
        }
    }
}
