//! DPoP (RFC 9449) at the resource server over real HTTP on loopback: every
//! refusal with its status and challenge, the modes, server nonces, bound
//! opaque tokens by introspection and bound tokens from the dev issuer's token
//! endpoint.

mod support;

use std::time::{SystemTime, UNIX_EPOCH};

use axum::{Json, Router, routing::get};
use serde_json::{Value, json};
use support::serve;
use tower_bearer::dpop::{Dpop, MAX_PROOF_LEN, NonceKey};
use tower_bearer::jwt::Algorithm;
use tower_bearer::replay::MemoryReplayCache;
use tower_bearer::{AccessToken, IntrospectionVerifier, Principal, TokenVerifierLayer};
use tower_bearer_issuer::{DevIssuer, DpopKey};

const METADATA: &str = "http://127.0.0.1/.well-known/oauth-protected-resource/mcp";
const AUDIENCE: &str = "http://127.0.0.1/mcp";
const RM: &str = r#"resource_metadata="http://127.0.0.1/.well-known/oauth-protected-resource/mcp""#;
const ALGS: &str = r#"algs="RS256 PS256 ES256 EdDSA""#;

async fn whoami(token: AccessToken, principal: Principal) -> Json<Value> {
    Json(json!({ "subject": principal.subject(), "jkt": token.dpop_jkt() }))
}

struct Fixture {
    issuer: DevIssuer,
    url: String,
    client: reqwest::Client,
    key: DpopKey,
}

async fn fixture(dpop: Dpop) -> Fixture {
    let issuer = DevIssuer::start().await.unwrap();
    let verifier = issuer.jwt_verifier(AUDIENCE);
    let layer = TokenVerifierLayer::new(verifier)
        .resource_metadata(METADATA)
        .unwrap()
        .dpop(dpop);
    start(issuer, layer).await
}

async fn start<V: tower_bearer::TokenVerifier + 'static>(
    issuer: DevIssuer,
    layer: TokenVerifierLayer<V>,
) -> Fixture {
    let app = Router::new()
        .route("/whoami", get(whoami).post(whoami))
        .layer(layer);
    let addr = serve(app).await;
    Fixture {
        issuer,
        url: format!("http://{addr}/whoami"),
        client: reqwest::Client::new(),
        key: DpopKey::generate(),
    }
}

/// A response's status, its `WWW-Authenticate` values and its `DPoP-Nonce`.
struct Answer {
    status: u16,
    challenges: Vec<String>,
    nonce: Option<String>,
    body: String,
}

impl Fixture {
    fn bound_token(&self) -> String {
        self.issuer.dpop_token("alice", "app", "mcp", AUDIENCE, &self.key)
    }

    fn proof(&self, token: &str) -> String {
        self.key.proof("GET", &self.url, Some(token))
    }

    /// A proof by the fixture's key with claims changed by `edit`.
    fn proof_with(&self, token: &str, edit: impl FnOnce(&mut Value, &mut Value)) -> String {
        let mut header = self.key.proof_header();
        let mut claims = self.key.proof_claims("GET", &self.url, Some(token), None);
        edit(&mut header, &mut claims);
        self.key.sign_proof(&header, &claims)
    }

    async fn send(&self, authorization: Option<String>, proofs: &[&str]) -> Answer {
        let mut req = self.client.get(&self.url);
        if let Some(value) = authorization {
            req = req.header("authorization", value);
        }
        for proof in proofs {
            req = req.header("dpop", *proof);
        }
        let res = req.send().await.unwrap();
        Answer {
            status: res.status().as_u16(),
            challenges: res
                .headers()
                .get_all("www-authenticate")
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .collect(),
            nonce: res
                .headers()
                .get("dpop-nonce")
                .map(|v| v.to_str().unwrap().to_owned()),
            body: res.text().await.unwrap(),
        }
    }

    async fn dpop(&self, token: &str, proof: &str) -> Answer {
        self.send(Some(format!("DPoP {token}")), &[proof]).await
    }
}

fn proof_error(description: &str) -> Vec<String> {
    vec![
        format!("Bearer {RM}"),
        format!(r#"DPoP error="invalid_dpop_proof", error_description="{description}", {RM}, {ALGS}"#),
    ]
}

fn token_error_in_dpop(description: &str) -> Vec<String> {
    vec![
        format!("Bearer {RM}"),
        format!(r#"DPoP error="invalid_token", error_description="{description}", {RM}, {ALGS}"#),
    ]
}

#[tokio::test]
async fn a_bound_token_with_its_proof_is_accepted_once() {
    let f = fixture(Dpop::allowed()).await;
    let token = f.bound_token();
    let proof = f.proof(&token);
    let ok = f.dpop(&token, &proof).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let body: Value = serde_json::from_str(&ok.body).unwrap();
    assert_eq!(body["subject"], "alice");
    assert_eq!(body["jkt"], f.key.thumbprint().as_str());
    // A second request needs a second proof.
    let again = f.dpop(&token, &proof).await;
    assert_eq!(
        (again.status, again.challenges),
        (401, proof_error("DPoP proof already used"))
    );
    assert_eq!(f.dpop(&token, &f.proof(&token)).await.status, 200);
    // The scheme is case-insensitive; every algorithm of the default list works.
    let ok = f.send(Some(format!("dpop {token}")), &[&f.proof(&token)]).await;
    assert_eq!(ok.status, 200);
    for alg in [Algorithm::RS256, Algorithm::PS256, Algorithm::EdDSA] {
        let key = DpopKey::generate_with(alg);
        let token = f.issuer.dpop_token("bob", "app", "mcp", AUDIENCE, &key);
        let ok = f.dpop(&token, &key.proof("GET", &f.url, Some(&token))).await;
        assert_eq!(ok.status, 200, "{alg}: {}", ok.body);
    }
}

#[tokio::test]
async fn challenges_offer_both_schemes() {
    let f = fixture(Dpop::allowed()).await;
    let anonymous = f.send(None, &[]).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        anonymous.challenges,
        [format!("Bearer {RM}"), format!("DPoP {RM}, {ALGS}")]
    );
    // A bearer token's error goes in the Bearer challenge.
    let expired = f.issuer.sign_claims(&{
        let mut claims = f.issuer.claims("alice", "app", "mcp", AUDIENCE);
        claims["exp"] = 1.into();
        claims
    });
    let res = f.send(Some(format!("Bearer {expired}")), &[]).await;
    assert_eq!(
        res.challenges,
        [
            format!(r#"Bearer error="invalid_token", error_description="token expired", {RM}"#),
            format!("DPoP {RM}, {ALGS}")
        ]
    );
    // Unbound bearer tokens still work in the default mode.
    let bearer = f.issuer.token("alice", "app", "mcp", AUDIENCE);
    let res = f.send(Some(format!("Bearer {bearer}")), &[]).await;
    assert_eq!(res.status, 200);
}

#[tokio::test]
async fn token_binding_refusals() {
    let f = fixture(Dpop::allowed()).await;
    let bound = f.bound_token();
    // A bound token as a bearer token, with or without a proof.
    let as_bearer = f.send(Some(format!("Bearer {bound}")), &[]).await;
    assert_eq!(as_bearer.status, 401);
    assert_eq!(
        as_bearer.challenges,
        [
            format!(
                r#"Bearer error="invalid_token", error_description="DPoP-bound token without the DPoP scheme", {RM}"#
            ),
            format!("DPoP {RM}, {ALGS}")
        ]
    );
    let with_proof = f.send(Some(format!("Bearer {bound}")), &[&f.proof(&bound)]).await;
    assert_eq!(with_proof.status, 401);
    // An unbound token with the DPoP scheme and a valid proof.
    let unbound = f.issuer.token("alice", "app", "mcp", AUDIENCE);
    let res = f.dpop(&unbound, &f.proof(&unbound)).await;
    assert_eq!(
        (res.status, res.challenges),
        (401, token_error_in_dpop("token is not DPoP-bound"))
    );
    // A proof by another key (a stolen token used with the thief's key).
    let thief = DpopKey::generate();
    let res = f.dpop(&bound, &thief.proof("GET", &f.url, Some(&bound))).await;
    assert_eq!(
        (res.status, res.challenges),
        (
            401,
            proof_error("DPoP proof key does not match the token binding")
        )
    );
    // An invalid token with a valid proof stays a token error.
    let mut claims = f.issuer.claims("alice", "app", "mcp", "http://other.example");
    claims["cnf"] = json!({ "jkt": f.key.thumbprint() });
    let wrong_audience = f.issuer.sign_claims(&claims);
    let res = f.dpop(&wrong_audience, &f.proof(&wrong_audience)).await;
    assert_eq!(
        (res.status, res.challenges),
        (401, token_error_in_dpop("token audience not accepted"))
    );
    // cnf with another confirmation method, or a malformed jkt.
    for cnf in [json!({"x5t#S256": "abc"}), json!({"jkt": "short"}), json!("jkt")] {
        let mut claims = f.issuer.claims("alice", "app", "mcp", AUDIENCE);
        claims["cnf"] = cnf.clone();
        let token = f.issuer.sign_claims(&claims);
        let res = f.dpop(&token, &f.proof(&token)).await;
        assert_eq!(res.status, 401, "{cnf}");
        assert!(
            res.challenges[1].contains(r#"error="invalid_token""#),
            "{cnf}: {:?}",
            res.challenges
        );
    }
}

#[tokio::test]
async fn every_proof_refusal_has_its_status_and_challenge() {
    let f = fixture(Dpop::allowed()).await;
    let token = f.bound_token();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let other_token = f.bound_token();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "wrong htm",
            f.key.proof("POST", &f.url, Some(&token)),
            "DPoP proof htm does not match the request",
        ),
        (
            "wrong htu path",
            f.key
                .proof("GET", &f.url.replace("/whoami", "/other"), Some(&token)),
            "DPoP proof htu does not match the request",
        ),
        (
            "wrong htu host",
            f.key
                .proof("GET", &f.url.replace("127.0.0.1", "localhost"), Some(&token)),
            "DPoP proof htu does not match the request",
        ),
        (
            "ath of another token",
            f.key.proof("GET", &f.url, Some(&other_token)),
            "DPoP proof ath does not match the token",
        ),
        (
            "no ath",
            f.proof_with(&token, |_, c| {
                c.as_object_mut().unwrap().remove("ath");
            }),
            "DPoP proof ath does not match the token",
        ),
        (
            "old iat",
            f.proof_with(&token, |_, c| c["iat"] = (now - 120).into()),
            "DPoP proof too old",
        ),
        (
            "future iat",
            f.proof_with(&token, |_, c| c["iat"] = (now + 60).into()),
            "DPoP proof issued in the future",
        ),
        (
            "iat not a number",
            f.proof_with(&token, |_, c| c["iat"] = "now".into()),
            "malformed DPoP proof",
        ),
        (
            "no jti",
            f.proof_with(&token, |_, c| {
                c.as_object_mut().unwrap().remove("jti");
            }),
            "malformed DPoP proof",
        ),
        (
            "typ JWT",
            f.proof_with(&token, |h, _| h["typ"] = "JWT".into()),
            "not a DPoP proof (typ)",
        ),
        (
            "no typ",
            f.proof_with(&token, |h, _| {
                h.as_object_mut().unwrap().remove("typ");
            }),
            "not a DPoP proof (typ)",
        ),
        (
            "alg none",
            {
                let signed = f.proof_with(&token, |h, _| h["alg"] = "none".into());
                let (unsigned, _) = signed.rsplit_once('.').unwrap();
                format!("{unsigned}.")
            },
            "DPoP proof algorithm not allowed",
        ),
        (
            "alg HS256",
            f.proof_with(&token, |h, _| h["alg"] = "HS256".into()),
            "DPoP proof algorithm not allowed",
        ),
        (
            "alg of another key type",
            f.proof_with(&token, |h, _| h["alg"] = "RS256".into()),
            "DPoP proof algorithm not allowed",
        ),
        (
            "private jwk",
            f.proof_with(&token, |h, _| h["jwk"]["d"] = "AAAA".into()),
            "DPoP proof key not accepted",
        ),
        (
            "symmetric jwk",
            f.proof_with(&token, |h, _| h["jwk"] = json!({"kty": "oct", "k": "AAAA"})),
            "DPoP proof key not accepted",
        ),
        (
            "no jwk",
            f.proof_with(&token, |h, _| {
                h.as_object_mut().unwrap().remove("jwk");
            }),
            "DPoP proof key not accepted",
        ),
        (
            "crit",
            f.proof_with(&token, |h, _| h["crit"] = json!(["exp"])),
            "malformed DPoP proof",
        ),
        (
            "bad signature",
            {
                let proof = f.proof(&token);
                let (input, signature) = proof.rsplit_once('.').unwrap();
                let flipped = if signature.starts_with('A') { "B" } else { "A" };
                format!("{input}.{flipped}{}", &signature[1..])
            },
            "DPoP proof signature invalid",
        ),
        (
            "signed by another key than its jwk",
            {
                let other = DpopKey::generate();
                other.sign_proof(
                    &f.key.proof_header(),
                    &f.key.proof_claims("GET", &f.url, Some(&token), None),
                )
            },
            "DPoP proof signature invalid",
        ),
        ("not a JWS", "not-a-jws".into(), "malformed DPoP proof"),
        (
            "oversized",
            f.proof_with(&token, |_, c| c["pad"] = "x".repeat(MAX_PROOF_LEN).into()),
            "DPoP proof too long",
        ),
    ];
    for (name, proof, description) in cases {
        let res = f.dpop(&token, &proof).await;
        assert_eq!(
            (res.status, res.challenges),
            (401, proof_error(description)),
            "{name}"
        );
    }
    // No proof, or two.
    let res = f.send(Some(format!("DPoP {token}")), &[]).await;
    assert_eq!(
        (res.status, res.challenges),
        (401, proof_error("DPoP proof missing"))
    );
    let res = f
        .send(
            Some(format!("DPoP {token}")),
            &[&f.proof(&token), &f.proof(&token)],
        )
        .await;
    assert_eq!(
        (res.status, res.challenges),
        (401, proof_error("more than one DPoP proof"))
    );
    // A malformed DPoP credential is a bad request, like a malformed bearer one.
    let res = f.send(Some("DPoP a b".into()), &[&f.proof(&token)]).await;
    assert_eq!(res.status, 400);
}

#[tokio::test]
async fn required_mode_refuses_bearer_tokens() {
    let f = fixture(Dpop::required()).await;
    let dpop_only = |error: &str, description: &str| {
        vec![format!(
            r#"DPoP error="{error}", error_description="{description}", {RM}, {ALGS}"#
        )]
    };
    let anonymous = f.send(None, &[]).await;
    assert_eq!(
        (anonymous.status, anonymous.challenges),
        (401, vec![format!("DPoP {RM}, {ALGS}")])
    );
    let bearer = f.issuer.token("alice", "app", "mcp", AUDIENCE);
    let res = f.send(Some(format!("Bearer {bearer}")), &[]).await;
    assert_eq!(
        (res.status, res.challenges),
        (401, dpop_only("invalid_token", "DPoP-bound token required"))
    );
    let res = f.dpop(&bearer, &f.proof(&bearer)).await;
    assert_eq!(
        (res.status, res.challenges),
        (401, dpop_only("invalid_token", "token is not DPoP-bound"))
    );
    let bound = f.bound_token();
    assert_eq!(f.dpop(&bound, &f.proof(&bound)).await.status, 200);
}

#[tokio::test]
async fn off_mode_reads_no_dpop_and_refuses_bound_tokens() {
    let f = fixture(Dpop::off()).await;
    let bound = f.bound_token();
    let res = f.dpop(&bound, &f.proof(&bound)).await;
    assert_eq!((res.status, res.challenges), (401, vec![format!("Bearer {RM}")]));
    let res = f.send(Some(format!("Bearer {bound}")), &[]).await;
    assert_eq!(
        (res.status, res.challenges),
        (
            401,
            vec![format!(
                r#"Bearer error="invalid_token", error_description="DPoP-bound token without the DPoP scheme", {RM}"#
            )]
        )
    );
}

#[tokio::test]
async fn server_nonces_round_trip() {
    let f = fixture(Dpop::allowed().server_nonces().unwrap()).await;
    let token = f.bound_token();
    let first = f.dpop(&token, &f.proof(&token)).await;
    assert_eq!(first.status, 401);
    assert_eq!(
        first.challenges[1],
        format!(r#"DPoP error="use_dpop_nonce", error_description="DPoP nonce required", {RM}, {ALGS}"#)
    );
    let nonce = first.nonce.expect("a DPoP-Nonce with use_dpop_nonce");
    let proof = f.key.proof_with_nonce("GET", &f.url, Some(&token), &nonce);
    let ok = f.dpop(&token, &proof).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    // A nonce from elsewhere, or tampered, is refused with a fresh one.
    for bad in ["bm9uY2U", &nonce[..nonce.len() - 1]] {
        let proof = f.key.proof_with_nonce("GET", &f.url, Some(&token), bad);
        let res = f.dpop(&token, &proof).await;
        assert_eq!(res.status, 401);
        assert!(
            res.challenges[1].contains(r#"error="use_dpop_nonce""#),
            "{:?}",
            res.challenges
        );
        assert!(res.nonce.is_some());
    }
    // Every 401 hands out a nonce, so a client's first request learns one.
    assert!(f.send(None, &[]).await.nonce.is_some());
}

#[tokio::test]
async fn a_nonce_from_another_replica_with_the_same_key_works() {
    let key = NonceKey::new([9; 32]).unwrap();
    let a = fixture(Dpop::allowed().server_nonce_key(key.clone())).await;
    let b_layer = TokenVerifierLayer::new(a.issuer.jwt_verifier(AUDIENCE))
        .resource_metadata(METADATA)
        .unwrap()
        .dpop(Dpop::allowed().server_nonce_key(key));
    let b = start(DevIssuer::start().await.unwrap(), b_layer).await;
    let nonce = a.send(None, &[]).await.nonce.unwrap();
    let token = a.bound_token();
    let proof = a.key.proof_with_nonce("GET", &b.url, Some(&token), &nonce);
    let ok = b.dpop(&token, &proof).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
}

#[tokio::test]
async fn a_full_replay_cache_answers_503_and_never_forgets() {
    let dpop = Dpop::allowed().replay_cache(MemoryReplayCache::new().max_capacity(16));
    let f = fixture(dpop).await;
    let token = f.bound_token();
    let mut accepted = Vec::new();
    let mut unavailable = 0;
    for _ in 0..64 {
        let proof = f.proof(&token);
        let res = f.dpop(&token, &proof).await;
        match res.status {
            200 => accepted.push(proof),
            503 => {
                unavailable += 1;
                assert!(res.challenges.is_empty());
            }
            other => panic!("unexpected {other}: {}", res.body),
        }
    }
    assert!(unavailable > 0, "a cache of 16 cannot take 64 proofs");
    assert!(accepted.len() <= 16);
    for proof in &accepted {
        assert_eq!(f.dpop(&token, proof).await.status, 401, "still remembered");
    }
}

#[tokio::test]
async fn bound_opaque_tokens_by_introspection() {
    let issuer = DevIssuer::builder().opaque_tokens(true).start().await.unwrap();
    let verifier = IntrospectionVerifier::builder()
        .endpoint(issuer.introspection_endpoint())
        .client_credentials(issuer.client_id(), issuer.client_secret())
        .issuer(issuer.issuer())
        .audience(AUDIENCE)
        .build()
        .unwrap();
    let f = start(
        issuer,
        TokenVerifierLayer::new(verifier)
            .resource_metadata(METADATA)
            .unwrap(),
    )
    .await;
    let token = f
        .issuer
        .opaque_dpop_token("alice", "app", "mcp", AUDIENCE, &f.key);
    let ok = f.dpop(&token, &f.proof(&token)).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let as_bearer = f.send(Some(format!("Bearer {token}")), &[]).await;
    assert_eq!(as_bearer.status, 401);
    let thief = DpopKey::generate();
    let res = f.dpop(&token, &thief.proof("GET", &f.url, Some(&token))).await;
    assert_eq!(
        (res.status, res.challenges),
        (
            401,
            proof_error("DPoP proof key does not match the token binding")
        )
    );
}

#[tokio::test]
async fn the_dev_issuer_binds_tokens_to_the_proof_key() {
    let f = fixture(Dpop::allowed()).await;
    let token_url = f.issuer.token_endpoint();
    let request = |proofs: Vec<String>| {
        let mut req = f
            .client
            .post(&token_url)
            .basic_auth(f.issuer.client_id(), Some(f.issuer.client_secret()))
            .form(&[
                ("grant_type", "client_credentials"),
                ("resource", AUDIENCE),
                ("scope", "mcp"),
            ]);
        for proof in proofs {
            req = req.header("dpop", proof);
        }
        req.send()
    };
    let res = request(vec![f.key.proof("POST", &token_url, None)])
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "DPoP");
    let token = body["access_token"].as_str().unwrap();
    let ok = f.dpop(token, &f.proof(token)).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    // Without a proof: a bearer token; with a bad one: invalid_dpop_proof.
    let res = request(vec![]).await.unwrap();
    assert_eq!(res.json::<Value>().await.unwrap()["token_type"], "Bearer");
    for proofs in [
        vec![f.key.proof("POST", &format!("{token_url}x"), None)],
        vec![f.key.proof("GET", &token_url, None)],
        vec![
            f.key.proof("POST", &token_url, None),
            f.key.proof("POST", &token_url, None),
        ],
    ] {
        let res = request(proofs).await.unwrap();
        assert_eq!(res.status(), 400);
        assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_dpop_proof");
    }
}

/// RFC 9449 §4.3 step 9 with RFC 9110 §7.1: a plain-HTTP request that does
/// not name its scheme targets `http://…`, so a proof made for `https://…`
/// is refused when nothing says the server is reached over TLS.
#[tokio::test]
async fn an_https_htu_on_a_plain_http_request_is_refused() {
    let f = fixture(Dpop::allowed()).await;
    let token = f.bound_token();
    let https = f.url.replace("http://", "https://");
    let answer = f.dpop(&token, &f.key.proof("GET", &https, Some(&token))).await;
    assert_eq!(answer.status, 401);
    assert_eq!(
        answer.challenges,
        proof_error("DPoP proof htu does not match the request")
    );
    // The proof for the URL as requested passes.
    assert_eq!(f.dpop(&token, &f.proof(&token)).await.status, 200);
}

/// A layer built from a `Resource` knows its public origin, scheme included:
/// behind a TLS terminator the `https` proof passes and an `http` one (what
/// the request line alone would suggest) is refused.
#[tokio::test]
async fn a_resource_gives_the_layer_its_public_origin() {
    use tower_bearer::Resource;
    let issuer = DevIssuer::start().await.unwrap();
    let resource = Resource::builder("https://api.example.com/whoami")
        .authorization_server(issuer.issuer())
        .build()
        .unwrap();
    let layer = resource.token_layer(issuer.jwt_verifier(resource.identifier()));
    let f = start(issuer, layer).await;
    let token = f
        .issuer
        .dpop_token("alice", "app", "mcp", resource.identifier(), &f.key);
    let public = f.key.proof("GET", resource.identifier(), Some(&token));
    let answer = f.dpop(&token, &public).await;
    assert_eq!((answer.status, answer.body.contains("alice")), (200, true));
    let rm = format!(r#"resource_metadata="{}""#, resource.metadata_url());
    for wrong in [
        "http://api.example.com/whoami".to_owned(),
        f.url.clone(), // the loopback URL the request was sent to
    ] {
        let answer = f.dpop(&token, &f.key.proof("GET", &wrong, Some(&token))).await;
        assert_eq!(answer.status, 401, "{wrong}");
        assert_eq!(
            answer.challenges,
            [
                format!("Bearer {rm}"),
                format!(
                    r#"DPoP error="invalid_dpop_proof", error_description="DPoP proof htu does not match the request", {rm}, {ALGS}"#
                ),
            ],
            "{wrong}"
        );
    }
    // A DPoP configuration set on the layer afterwards keeps the resource's origin.
    let issuer = DevIssuer::start().await.unwrap();
    let layer = resource
        .token_layer(issuer.jwt_verifier(resource.identifier()))
        .dpop(Dpop::required());
    let f = start(issuer, layer).await;
    let token = f
        .issuer
        .dpop_token("alice", "app", "mcp", resource.identifier(), &f.key);
    let public = f.key.proof("GET", resource.identifier(), Some(&token));
    assert_eq!(f.dpop(&token, &public).await.status, 200);
    let local = f.key.proof("GET", &f.url, Some(&token));
    assert_eq!(f.dpop(&token, &local).await.status, 401);
}
