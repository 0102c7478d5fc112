//! The status and challenge for every kind of request, over real HTTP on
//! loopback, against tokens minted by the development issuer.

mod support;

use std::time::{SystemTime, UNIX_EPOCH};

use axum::{Json, Router, routing::get};
use serde_json::{Value, json};
use support::{serve, www_authenticate};
use tower_bearer::jwt::JwtVerifier;
use tower_bearer::{AccessToken, Principal, TokenVerifierLayer};
use tower_bearer_issuer::DevIssuer;

const METADATA: &str = "http://127.0.0.1/.well-known/oauth-protected-resource/mcp";
const AUDIENCE: &str = "http://127.0.0.1/mcp";

struct Fixture {
    issuer: DevIssuer,
    base: String,
    client: reqwest::Client,
}

async fn whoami(token: AccessToken, principal: Principal) -> Json<Value> {
    assert_eq!(
        token.principal(),
        &principal,
        "both extensions describe the same caller"
    );
    Json(json!({
        "subject": principal.subject(),
        "client_id": principal.client_id(),
        "issuer": principal.issuer(),
        "scopes": token.scopes(),
    }))
}

async fn fixture_with(verifier: JwtVerifier, issuer: DevIssuer) -> Fixture {
    let app = Router::new().route("/whoami", get(whoami)).layer(
        TokenVerifierLayer::new(verifier)
            .resource_metadata(METADATA)
            .unwrap(),
    );
    let addr = serve(app).await;
    Fixture {
        issuer,
        base: format!("http://{addr}"),
        client: reqwest::Client::new(),
    }
}

async fn fixture() -> Fixture {
    let issuer = DevIssuer::start().await.unwrap();
    let verifier = issuer.jwt_verifier(AUDIENCE);
    fixture_with(verifier, issuer).await
}

impl Fixture {
    fn token(&self) -> String {
        self.issuer.token("alice", "app", "mcp:read", AUDIENCE)
    }

    async fn get(&self, authorization: &[&str]) -> reqwest::Response {
        let mut req = self.client.get(format!("{}/whoami", self.base));
        for value in authorization {
            req = req.header("authorization", *value);
        }
        req.send().await.unwrap()
    }

    async fn with_token(&self, token: &str) -> reqwest::Response {
        self.get(&[&format!("Bearer {token}")]).await
    }

    /// Mints a token whose claims were changed by `edit`.
    fn token_with(&self, edit: impl FnOnce(&mut Value)) -> String {
        let mut claims = self.issuer.claims("alice", "app", "mcp:read", AUDIENCE);
        edit(&mut claims);
        self.issuer.sign_claims(&claims)
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn invalid_token(description: &str) -> String {
    format!(
        r#"Bearer error="invalid_token", error_description="{description}", resource_metadata="{METADATA}""#
    )
}

fn invalid_request(description: &str) -> String {
    format!(
        r#"Bearer error="invalid_request", error_description="{description}", resource_metadata="{METADATA}""#
    )
}

async fn assert_refused(res: reqwest::Response, status: u16, challenge: &str, token: Option<&str>) {
    assert_eq!(res.status(), status);
    assert_eq!(www_authenticate(&res), challenge);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let headers = format!("{:?}", res.headers());
    let body = res.text().await.unwrap();
    if let Some(token) = token {
        assert!(
            !headers.contains(token) && !body.contains(token),
            "the token is never echoed"
        );
    }
}

#[tokio::test]
async fn valid_token_reaches_the_handler_with_its_principal() {
    let f = fixture().await;
    let res = f.with_token(&f.token()).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body,
        json!({"subject": "alice", "client_id": "app", "issuer": f.issuer.issuer(), "scopes": ["mcp:read"]})
    );
    // The scheme is case-insensitive.
    assert_eq!(f.get(&[&format!("bEaReR {}", f.token())]).await.status(), 200);
}

#[tokio::test]
async fn no_credentials_get_a_bare_challenge() {
    let f = fixture().await;
    let bare = format!(r#"Bearer resource_metadata="{METADATA}""#);
    assert_refused(f.get(&[]).await, 401, &bare, None).await;
    // Another scheme is "no bearer credentials" too (RFC 6750 §3.1).
    assert_refused(f.get(&["Basic YWxpY2U6c2VjcmV0"]).await, 401, &bare, None).await;
}

#[tokio::test]
async fn malformed_requests_are_400_invalid_request() {
    let f = fixture().await;
    let t = f.token();
    let two = f
        .client
        .get(format!("{}/whoami", f.base))
        .header("authorization", format!("Bearer {t}"))
        .header("authorization", format!("Bearer {t}"))
        .send()
        .await
        .unwrap();
    assert_refused(two, 400, &invalid_request("more than one credential"), Some(&t)).await;
    let long = "a".repeat(16 * 1024 + 1);
    assert_refused(
        f.with_token(&long).await,
        400,
        &invalid_request("bearer token too long"),
        None,
    )
    .await;
    // Padding inside the token breaks the b64token grammar (`=` only at the end).
    let padded_header = format!("Bearer {}", pad_header(&t));
    for bad in ["Bearer", "Bearer a b", "Bearer a,b", "Bearer =a", &padded_header] {
        assert_refused(
            f.get(&[bad]).await,
            400,
            &invalid_request("malformed bearer credential"),
            None,
        )
        .await;
    }
}

#[tokio::test]
async fn bad_tokens_are_401_invalid_token() {
    let f = fixture().await;
    let n = now();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "expired",
            f.token_with(|c| c["exp"] = (n - 120).into()),
            "token expired",
        ),
        (
            "not yet valid",
            f.token_with(|c| c["nbf"] = (n + 600).into()),
            "token not yet valid",
        ),
        (
            "wrong iss",
            f.token_with(|c| c["iss"] = "https://evil.example".into()),
            "token issuer not accepted",
        ),
        (
            "wrong aud",
            f.token_with(|c| c["aud"] = "http://127.0.0.1/other".into()),
            "token audience not accepted",
        ),
        (
            "aud prefix",
            f.token_with(|c| c["aud"] = "http://127.0.0.1/mc".into()),
            "token audience not accepted",
        ),
        (
            "missing exp",
            f.token_with(|c| {
                c.as_object_mut().unwrap().remove("exp");
            }),
            "required claim missing or invalid",
        ),
        (
            "exp as string",
            f.token_with(|c| c["exp"] = (n + 600).to_string().into()),
            "required claim missing or invalid",
        ),
        (
            "typ JWT",
            f.issuer.sign(
                &json!({"alg": "RS256", "typ": "JWT", "kid": kid(&f)}),
                &f.issuer.claims("a", "b", "", AUDIENCE),
            ),
            "not an access token",
        ),
        (
            "unknown kid",
            f.issuer.sign(
                &json!({"alg": "RS256", "typ": "at+jwt", "kid": "nope"}),
                &f.issuer.claims("a", "b", "", AUDIENCE),
            ),
            "unknown signing key",
        ),
        ("alg none", alg_none(&f), "algorithm not allowed"),
        (
            "HS256 keyed with the public key",
            hs256_with_public_key(&f),
            "algorithm not allowed",
        ),
        (
            "tampered signature",
            tamper_signature(&f.token()),
            "bad signature",
        ),
        ("tampered claims", tamper_claims(&f), "bad signature"),
        ("two segments", "abc.def".to_owned(), "malformed token"),
        ("four segments", format!("{}.x", f.token()), "malformed token"),
        (
            "padded base64 signature",
            format!("{}=", f.token()),
            "malformed token",
        ),
    ];
    for (name, token, description) in cases {
        let res = f.with_token(&token).await;
        assert_eq!(res.status(), 401, "{name}");
        assert_eq!(www_authenticate(&res), invalid_token(description), "{name}");
        let body = res.text().await.unwrap();
        assert!(!body.contains(&token), "{name}: token echoed");
    }
}

fn kid(f: &Fixture) -> String {
    f.issuer.jwks()["keys"][0]["kid"].as_str().unwrap().to_owned()
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn alg_none(f: &Fixture) -> String {
    let claims = f.issuer.claims("alice", "app", "mcp:read", AUDIENCE);
    let header = json!({"alg": "none", "typ": "at+jwt"});
    format!(
        "{}.{}.",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    )
}

/// The classic key confusion: HMAC keyed with the issuer's public key material.
fn hs256_with_public_key(f: &Fixture) -> String {
    let claims = f.issuer.claims("alice", "app", "mcp:read", AUDIENCE);
    let header = json!({"alg": "HS256", "typ": "at+jwt", "kid": kid(f)});
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let secret = f.issuer.jwks()["keys"][0].to_string();
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", b64(tag.as_ref()))
}

fn tamper_signature(token: &str) -> String {
    let (input, sig) = token.rsplit_once('.').unwrap();
    let mut bytes = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig).unwrap();
    bytes[10] ^= 0x01;
    format!("{input}.{}", b64(&bytes))
}

fn tamper_claims(f: &Fixture) -> String {
    let token = f.token();
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims = f.issuer.claims("alice", "app", "mcp:read", AUDIENCE);
    claims["scope"] = "mcp:read mcp:admin".into();
    format!("{}.{}.{}", parts[0], b64(claims.to_string().as_bytes()), parts[2])
}

fn pad_header(token: &str) -> String {
    let (header, rest) = token.split_once('.').unwrap();
    format!("{header}=.{rest}")
}

#[tokio::test]
async fn unreachable_keys_are_503_not_invalid_token() {
    let issuer = DevIssuer::start().await.unwrap();
    // A port nobody listens on: bind one, then drop it.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let verifier = JwtVerifier::builder()
        .issuer(issuer.issuer())
        .audience(AUDIENCE)
        .jwks_uri(format!("http://{closed}/jwks"))
        .build()
        .unwrap();
    let f = fixture_with(verifier, issuer).await;
    let res = f.with_token(&f.token()).await;
    assert_eq!(res.status(), 503);
    assert!(res.headers().get("www-authenticate").is_none());
    assert_eq!(res.headers()["retry-after"], "1");
}

#[tokio::test]
async fn works_as_a_bare_hyper_service() {
    use http_body_util::Full;
    use hyper_util::rt::TokioIo;
    use hyper_util::service::TowerToHyperService;
    use tower::ServiceBuilder;

    let issuer = DevIssuer::start().await.unwrap();
    let service = ServiceBuilder::new()
        .layer(
            TokenVerifierLayer::new(issuer.jwt_verifier(AUDIENCE))
                .resource_metadata(METADATA)
                .unwrap(),
        )
        .service_fn(|req: http::Request<hyper::body::Incoming>| async move {
            let who = req
                .extensions()
                .get::<Principal>()
                .and_then(|p| p.subject())
                .unwrap_or("?")
                .to_owned();
            Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(bytes::Bytes::from(who))))
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        for _ in 0..2 {
            let (stream, _) = listener.accept().await.unwrap();
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(
                hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    let client = reqwest::Client::new();
    let token = issuer.token("bob", "app", "", AUDIENCE);
    let res = client
        .get(format!("http://{addr}/"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap(), "bob");
    let res = client.get(format!("http://{addr}/")).send().await.unwrap();
    assert_eq!(res.status(), 401);
}

/// The verifier's verdict on time is the only one: a token inside the clock
/// leeway that the verifier accepted is not refused by a scope layer after it.
#[tokio::test]
async fn scope_layers_never_contradict_the_verifiers_time_verdict() {
    use tower_bearer::scope::RequireScopeLayer;
    let issuer = DevIssuer::start().await.unwrap();
    let app = Router::new()
        .route("/whoami", get(whoami))
        .layer(RequireScopeLayer::new(["mcp:read"]).unwrap())
        .layer(
            TokenVerifierLayer::new(issuer.jwt_verifier(AUDIENCE))
                .resource_metadata(METADATA)
                .unwrap(),
        );
    let f = Fixture {
        base: format!("http://{}", serve(app).await),
        issuer,
        client: reqwest::Client::new(),
    };
    let in_leeway = f.token_with(|c| c["exp"] = json!(now() - 30));
    let res = f.with_token(&in_leeway).await;
    assert_eq!(res.status(), 200, "{}", www_authenticate(&res));
    let past_leeway = f.token_with(|c| c["exp"] = json!(now() - 120));
    assert_refused(
        f.with_token(&past_leeway).await,
        401,
        &invalid_token("token expired"),
        Some(&past_leeway),
    )
    .await;
}
