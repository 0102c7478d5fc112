//! The development issuer's login flows over real HTTP on loopback, as an MCP
//! client meets them: RFC 8414 metadata, RFC 7591 registration, Client ID
//! Metadata Documents, the authorization code grant with PKCE (S256 only),
//! rotating refresh tokens with family revocation, the consent page, DPoP-bound
//! refresh tokens. Each refusal is checked with its error.

use std::collections::HashMap;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use base64::Engine as _;
use serde_json::{Value, json};
use tower_bearer::TokenVerifier;
use tower_bearer_issuer::{DevIssuer, DpopKey, RefreshPolicy};

const RESOURCE: &str = "http://127.0.0.1:7000/mcp";
const REDIRECT: &str = "http://127.0.0.1/callback";

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// GETs `url` and parses its JSON body (panics on any failure).
async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    let res = client
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    res.json()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: not JSON: {e}"))
}

/// A PKCE verifier and its S256 challenge, computed here with the `base64` crate
/// and aws-lc-rs's SHA-256.
fn pkce() -> (String, String) {
    let verifier = format!("verifier-{}", "x".repeat(40));
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
    (verifier, challenge)
}

async fn register(issuer: &DevIssuer, metadata: Value) -> (u16, Value) {
    let res = http()
        .post(issuer.registration_endpoint())
        .json(&metadata)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn public_client(issuer: &DevIssuer) -> String {
    let (status, answer) = register(
        issuer,
        json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none", "client_name": "test"}),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    answer["client_id"].as_str().unwrap().to_owned()
}

/// The standard authorization request parameters for `client_id`.
fn authorization(client_id: &str, challenge: &str) -> Vec<(&'static str, String)> {
    vec![
        ("response_type", "code".into()),
        ("client_id", client_id.into()),
        ("redirect_uri", REDIRECT.into()),
        ("state", "st&te=1".into()),
        ("code_challenge", challenge.into()),
        ("code_challenge_method", "S256".into()),
        ("scope", "mcp:read mcp:write".into()),
        ("resource", RESOURCE.into()),
    ]
}

fn with(
    mut params: Vec<(&'static str, String)>,
    name: &'static str,
    value: Option<&str>,
) -> Vec<(&'static str, String)> {
    params.retain(|(n, _)| *n != name);
    if let Some(value) = value {
        params.push((name, value.into()));
    }
    params
}

async fn authorize(issuer: &DevIssuer, params: &[(&str, String)]) -> reqwest::Response {
    let mut url = reqwest::Url::parse(&issuer.authorization_endpoint()).unwrap();
    url.query_pairs_mut().extend_pairs(params);
    http().get(url).send().await.unwrap()
}

/// The query of a 302's `Location`, which must go to the registered redirect URI.
fn redirected(res: &reqwest::Response) -> HashMap<String, String> {
    assert_eq!(res.status(), 302, "a redirect back to the client");
    let location = res.headers()["location"].to_str().unwrap();
    let url = reqwest::Url::parse(location).unwrap();
    assert!(location.starts_with("http://127.0.0.1"), "{location}");
    assert_eq!(url.path(), "/callback");
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Authorizes and returns the code, checking `state` and `iss` came back.
async fn code(issuer: &DevIssuer, params: &[(&str, String)]) -> String {
    let res = authorize(issuer, params).await;
    let got = redirected(&res);
    assert_eq!(
        got.get("state").map(String::as_str),
        Some("st&te=1"),
        "state as sent"
    );
    assert_eq!(
        got.get("iss").map(String::as_str),
        Some(issuer.issuer()),
        "RFC 9207"
    );
    got.get("code")
        .cloned()
        .unwrap_or_else(|| panic!("no code: {got:?}"))
}

async fn token_request(issuer: &DevIssuer, form: &[(&str, &str)]) -> (u16, Value) {
    let res = http()
        .post(issuer.token_endpoint())
        .form(form)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn exchange(issuer: &DevIssuer, client_id: &str, code: &str, verifier: &str) -> (u16, Value) {
    token_request(
        issuer,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("client_id", client_id),
            ("code_verifier", verifier),
            ("resource", RESOURCE),
        ],
    )
    .await
}

async fn refresh(issuer: &DevIssuer, client_id: &str, refresh_token: &str) -> (u16, Value) {
    token_request(
        issuer,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", client_id),
        ],
    )
    .await
}

fn error(answer: &(u16, Value)) -> (u16, &str) {
    (answer.0, answer.1["error"].as_str().unwrap_or("(none)"))
}

#[tokio::test]
async fn metadata_lists_exactly_what_is_supported() {
    let issuer = DevIssuer::start().await.unwrap();
    let m = get_json(&http(), &issuer.metadata_url()).await;
    assert_eq!(m["issuer"], issuer.issuer());
    assert_eq!(m["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(m["response_types_supported"], json!(["code"]));
    assert_eq!(
        m["grant_types_supported"],
        json!(["authorization_code", "refresh_token", "client_credentials"]),
        "no identity provider trusted: no jwt-bearer grant"
    );
    assert_eq!(m["registration_endpoint"], issuer.registration_endpoint());
    assert_eq!(m["authorization_endpoint"], issuer.authorization_endpoint());
    assert_eq!(m["client_id_metadata_document_supported"], true);
    assert_eq!(m["authorization_response_iss_parameter_supported"], true);
    assert_eq!(
        m["token_endpoint_auth_methods_supported"],
        json!(["none", "client_secret_basic", "client_secret_post"])
    );
}

#[tokio::test]
async fn authorization_code_with_pkce_then_rotating_refresh_tokens() {
    let issuer = DevIssuer::builder().user("alice").start().await.unwrap();
    let client_id = public_client(&issuer).await;
    let (verifier, challenge) = pkce();
    let code = code(&issuer, &authorization(&client_id, &challenge)).await;
    let first = exchange(&issuer, &client_id, &code, &verifier).await;
    assert_eq!(first.0, 200, "{}", first.1);
    assert_eq!(first.1["token_type"], "Bearer");
    assert_eq!(first.1["scope"], "mcp:read mcp:write");
    let verified = issuer
        .jwt_verifier(RESOURCE)
        .verify(first.1["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(verified.principal().subject(), Some("alice"));
    assert_eq!(verified.principal().client_id(), Some(client_id.as_str()));
    assert_eq!(verified.audience(), [RESOURCE]);

    // Each refresh token works once and hands over the next.
    let r1 = first.1["refresh_token"].as_str().unwrap().to_owned();
    let second = refresh(&issuer, &client_id, &r1).await;
    assert_eq!(second.0, 200, "{}", second.1);
    let r2 = second.1["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2);
    assert_eq!(second.1["scope"], "mcp:read mcp:write");
    issuer
        .jwt_verifier(RESOURCE)
        .verify(second.1["access_token"].as_str().unwrap())
        .await
        .unwrap();
    let third = refresh(&issuer, &client_id, &r2).await;
    assert_eq!(third.0, 200);
    let r3 = third.1["refresh_token"].as_str().unwrap().to_owned();

    // The spent r1 comes back: refused, and the whole family with it.
    let replay = refresh(&issuer, &client_id, &r1).await;
    assert_eq!(error(&replay), (400, "invalid_grant"));
    assert!(replay.1["error_description"].as_str().unwrap().contains("family"));
    assert_eq!(
        error(&refresh(&issuer, &client_id, &r3).await),
        (400, "invalid_grant")
    );

    // The code was single use: redeeming it again is refused.
    assert_eq!(
        error(&exchange(&issuer, &client_id, &code, &verifier).await),
        (400, "invalid_grant")
    );
}

#[tokio::test]
async fn a_reused_code_revokes_the_refresh_tokens_it_gave() {
    let issuer = DevIssuer::start().await.unwrap();
    let client_id = public_client(&issuer).await;
    let (verifier, challenge) = pkce();
    let code = code(&issuer, &authorization(&client_id, &challenge)).await;
    let first = exchange(&issuer, &client_id, &code, &verifier).await;
    let refresh_token = first.1["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(
        error(&exchange(&issuer, &client_id, &code, &verifier).await),
        (400, "invalid_grant")
    );
    assert_eq!(
        error(&refresh(&issuer, &client_id, &refresh_token).await),
        (400, "invalid_grant"),
        "RFC 6749 §4.1.2: what the code gave is revoked"
    );
}

#[tokio::test]
async fn pkce_is_s256_and_required() {
    let issuer = DevIssuer::start().await.unwrap();
    let client_id = public_client(&issuer).await;
    let (verifier, challenge) = pkce();
    let base = authorization(&client_id, &challenge);
    for (params, why) in [
        (with(base.clone(), "code_challenge", None), "no challenge"),
        (
            with(base.clone(), "code_challenge_method", None),
            "no method means plain",
        ),
        (
            with(base.clone(), "code_challenge_method", Some("plain")),
            "plain",
        ),
        (
            with(base.clone(), "code_challenge", Some("short")),
            "not a SHA-256",
        ),
    ] {
        let got = redirected(&authorize(&issuer, &params).await);
        assert_eq!(got["error"], "invalid_request", "{why}");
        assert_eq!(got["state"], "st&te=1", "{why}: errors carry the state");
        assert!(!got.contains_key("code"), "{why}");
    }
    // A wrong or missing verifier at the token endpoint.
    let code1 = code(&issuer, &base).await;
    assert_eq!(
        error(&exchange(&issuer, &client_id, &code1, &format!("{verifier}x")).await),
        (400, "invalid_grant")
    );
    let code2 = code(&issuer, &base).await;
    let no_verifier = token_request(
        &issuer,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code2),
            ("redirect_uri", REDIRECT),
            ("client_id", &client_id),
        ],
    )
    .await;
    assert_eq!(error(&no_verifier), (400, "invalid_grant"));
    // The challenge itself is not the verifier.
    let code3 = code(&issuer, &base).await;
    assert_eq!(
        error(&exchange(&issuer, &client_id, &code3, &challenge).await),
        (400, "invalid_grant")
    );
}

#[tokio::test]
async fn redirect_uris_and_clients_are_checked_before_anything_is_sent_back() {
    let issuer = DevIssuer::start().await.unwrap();
    let client_id = public_client(&issuer).await;
    let (verifier, challenge) = pkce();
    let base = authorization(&client_id, &challenge);
    for (params, why) in [
        (
            with(base.clone(), "redirect_uri", Some("http://127.0.0.1/other")),
            "another path",
        ),
        (
            with(
                base.clone(),
                "redirect_uri",
                Some("https://evil.example/callback"),
            ),
            "another host",
        ),
        (with(base.clone(), "redirect_uri", None), "none"),
        (with(base.clone(), "client_id", Some("nobody")), "unknown client"),
        (with(base.clone(), "client_id", None), "no client"),
    ] {
        let res = authorize(&issuer, &params).await;
        assert_eq!(res.status(), 400, "{why}: an error page, no redirect");
        assert!(res.headers().get("location").is_none(), "{why}");
    }
    // A loopback redirect URI may come back on any port (RFC 8252 §7.3) ...
    let on_port = with(
        base.clone(),
        "redirect_uri",
        Some("http://127.0.0.1:49152/callback"),
    );
    let res = authorize(&issuer, &on_port).await;
    assert_eq!(res.status(), 302);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("http://127.0.0.1:49152/callback?code="),
        "{location}"
    );
    // ... and the token request must then name that same URI exactly.
    let code = reqwest::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(
        error(&exchange(&issuer, &client_id, &code, &verifier).await),
        (400, "invalid_grant"),
        "redirect_uri differs from the authorization request's"
    );
    // Parameters given twice are refused (RFC 6749 §3.1).
    let mut twice = base.clone();
    twice.push(("state", "again".into()));
    assert_eq!(authorize(&issuer, &twice).await.status(), 400);
    // Only the code flow.
    let token_flow = with(base.clone(), "response_type", Some("token"));
    assert_eq!(
        redirected(&authorize(&issuer, &token_flow).await)["error"],
        "unsupported_response_type"
    );
}

#[tokio::test]
async fn a_code_is_redeemed_only_by_its_client() {
    let issuer = DevIssuer::start().await.unwrap();
    let alice_app = public_client(&issuer).await;
    let other_app = public_client(&issuer).await;
    let (verifier, challenge) = pkce();
    let code = code(&issuer, &authorization(&alice_app, &challenge)).await;
    assert_eq!(
        error(&exchange(&issuer, &other_app, &code, &verifier).await),
        (400, "invalid_grant")
    );
    // The attempt spent it (single use), so the right client cannot either.
    assert_eq!(
        error(&exchange(&issuer, &alice_app, &code, &verifier).await),
        (400, "invalid_grant")
    );
    // Refresh tokens too stay with their client.
    let code = self::code(&issuer, &authorization(&alice_app, &challenge)).await;
    let first = exchange(&issuer, &alice_app, &code, &verifier).await;
    let r1 = first.1["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(
        error(&refresh(&issuer, &other_app, &r1).await),
        (400, "invalid_grant")
    );
    assert_eq!(
        refresh(&issuer, &alice_app, &r1).await.0,
        200,
        "not spent by the other client"
    );
}

#[tokio::test]
async fn resources_become_the_audience() {
    let issuer = DevIssuer::start().await.unwrap();
    let client_id = public_client(&issuer).await;
    let (verifier, challenge) = pkce();
    let base = authorization(&client_id, &challenge);
    let got = redirected(&authorize(&issuer, &with(base.clone(), "resource", None)).await);
    assert_eq!(got["error"], "invalid_target", "a resource is required");
    let got = redirected(&authorize(&issuer, &with(base.clone(), "resource", Some("not a uri"))).await);
    assert_eq!(got["error"], "invalid_target");
    let got = redirected(
        &authorize(
            &issuer,
            &with(base.clone(), "resource", Some("https://a.example/#f")),
        )
        .await,
    );
    assert_eq!(got["error"], "invalid_target", "no fragment");

    // Two resources: the token request may narrow to one, never add another.
    let mut two = base.clone();
    two.push(("resource", "https://other.example/api".into()));
    let code = code(&issuer, &two).await;
    let both = token_request(
        &issuer,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", &client_id),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(both.0, 200, "{}", both.1);
    let verified = issuer
        .jwt_verifier(RESOURCE)
        .verify(both.1["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(verified.audience(), [RESOURCE, "https://other.example/api"]);
    let refresh_token = both.1["refresh_token"].as_str().unwrap();
    let narrowed = token_request(
        &issuer,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", &client_id),
            ("resource", "https://other.example/api"),
        ],
    )
    .await;
    assert_eq!(narrowed.0, 200, "{}", narrowed.1);
    let verified = issuer
        .jwt_verifier("https://other.example/api")
        .verify(narrowed.1["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(verified.audience(), ["https://other.example/api"]);
    let widened = token_request(
        &issuer,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", narrowed.1["refresh_token"].as_str().unwrap()),
            ("client_id", &client_id),
            ("resource", "https://third.example/"),
        ],
    )
    .await;
    assert_eq!(error(&widened), (400, "invalid_target"));
}

#[tokio::test]
async fn refresh_scope_narrows_never_widens_and_the_chain_has_an_end() {
    let issuer = DevIssuer::builder().start().await.unwrap();
    let client_id = public_client(&issuer).await;
    let (verifier, challenge) = pkce();
    let code = code(&issuer, &authorization(&client_id, &challenge)).await;
    let first = exchange(&issuer, &client_id, &code, &verifier).await;
    let r1 = first.1["refresh_token"].as_str().unwrap();
    let wider = token_request(
        &issuer,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", r1),
            ("client_id", &client_id),
            ("scope", "mcp:read mcp:admin"),
        ],
    )
    .await;
    assert_eq!(error(&wider), (400, "invalid_scope"));
    let narrower = token_request(
        &issuer,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", r1),
            ("client_id", &client_id),
            ("scope", "mcp:read"),
        ],
    )
    .await;
    assert_eq!(narrower.0, 200, "{}", narrower.1);
    assert_eq!(narrower.1["scope"], "mcp:read");

    // An absolute lifetime of zero: the first refresh is already too late.
    let ended = DevIssuer::builder()
        .refresh_token_lifetime(Duration::ZERO)
        .start()
        .await
        .unwrap();
    let client_id = public_client(&ended).await;
    let code = self::code(&ended, &authorization(&client_id, &challenge)).await;
    let first = exchange(&ended, &client_id, &code, &verifier).await;
    let late = refresh(&ended, &client_id, first.1["refresh_token"].as_str().unwrap()).await;
    assert_eq!(error(&late), (400, "invalid_grant"));
    assert!(late.1["error_description"].as_str().unwrap().contains("lifetime"));
}

#[tokio::test]
async fn refresh_tokens_only_with_offline_access_when_so_configured() {
    let issuer = DevIssuer::builder()
        .refresh_tokens(RefreshPolicy::OfflineAccess)
        .token_ttl(Duration::from_secs(5))
        .start()
        .await
        .unwrap();
    let client_id = public_client(&issuer).await;
    let (verifier, challenge) = pkce();
    let code = code(&issuer, &authorization(&client_id, &challenge)).await;
    let plain = exchange(&issuer, &client_id, &code, &verifier).await;
    assert_eq!(plain.0, 200);
    assert!(plain.1.get("refresh_token").is_none(), "{}", plain.1);
    assert_eq!(
        plain.1["expires_in"], 5,
        "the access token lifetime is configurable"
    );
    let offline = with(
        authorization(&client_id, &challenge),
        "scope",
        Some("mcp:read offline_access"),
    );
    let code = self::code(&issuer, &offline).await;
    let with_refresh = exchange(&issuer, &client_id, &code, &verifier).await;
    assert!(with_refresh.1["refresh_token"].is_string(), "{}", with_refresh.1);
}

#[tokio::test]
async fn confidential_clients_authenticate_with_their_secret() {
    let issuer = DevIssuer::start().await.unwrap();
    let (status, answer) = register(
        &issuer,
        json!({"redirect_uris": [REDIRECT], "client_name": "server app"}),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(
        answer["token_endpoint_auth_method"], "client_secret_basic",
        "RFC 7591 default"
    );
    assert_eq!(answer["client_name"], "server app");
    let id = answer["client_id"].as_str().unwrap().to_owned();
    let secret = answer["client_secret"].as_str().unwrap().to_owned();
    let (verifier, challenge) = pkce();
    // A code exchange by this client with a fresh code, authenticated with
    // `basic` (a secret for HTTP Basic) and the form's `extra` members.
    let send = |basic: Option<&'static str>, extra: Vec<(&'static str, String)>| {
        let (issuer, id, secret, verifier, challenge) = (&issuer, &id, &secret, &verifier, &challenge);
        async move {
            let code = code(issuer, &authorization(id, challenge)).await;
            let mut form = vec![
                ("grant_type", "authorization_code".to_owned()),
                ("code", code),
                ("redirect_uri", REDIRECT.into()),
                ("code_verifier", verifier.clone()),
            ];
            form.extend(extra);
            let mut req = http().post(issuer.token_endpoint()).form(&form);
            if let Some(basic) = basic {
                req = req.basic_auth(id, Some(if basic == "right" { secret.as_str() } else { basic }));
            }
            let res = req.send().await.unwrap();
            let challenge = res
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_owned());
            (res.status().as_u16(), challenge)
        }
    };
    let (status, challenge) = send(None, vec![("client_id", id.clone())]).await;
    assert_eq!(
        status, 401,
        "no secret: a confidential client cannot act as a public one"
    );
    assert!(challenge.unwrap().starts_with("Basic"));
    assert_eq!(send(Some("wrong"), vec![]).await.0, 401, "a wrong secret");
    assert_eq!(
        send(Some("right"), vec![("client_id", id.clone())]).await.0,
        200,
        "Basic with the form's client_id beside it (as SDKs send)"
    );
    assert_eq!(
        send(
            None,
            vec![("client_id", id.clone()), ("client_secret", secret.clone())]
        )
        .await
        .0,
        200,
        "client_secret_post"
    );
    assert_eq!(
        send(Some("right"), vec![("client_secret", secret.clone())])
            .await
            .0,
        401,
        "two methods at once"
    );
    assert_eq!(
        send(Some("right"), vec![("client_id", "someone-else".into())])
            .await
            .0,
        401,
        "a form client_id that is not Basic's"
    );
    // A public client cannot use client credentials.
    let public = public_client(&issuer).await;
    let cc = token_request(
        &issuer,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &public),
            ("resource", RESOURCE),
        ],
    )
    .await;
    assert_eq!(error(&cc), (400, "unauthorized_client"));
}

#[tokio::test]
async fn registration_refuses_what_it_cannot_honour() {
    let issuer = DevIssuer::start().await.unwrap();
    for (metadata, expected) in [
        (
            json!({"token_endpoint_auth_method": "none"}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["http://app.example/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["https://app.example/cb#frag"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "grant_types": ["implicit"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "response_types": ["token"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt"}),
            "invalid_client_metadata",
        ),
    ] {
        let (status, answer) = register(&issuer, metadata.clone()).await;
        assert_eq!(
            (status, answer["error"].as_str().unwrap()),
            (400, expected),
            "{metadata}"
        );
    }
    // The crate's strict JSON reader: duplicate members and non-objects refused.
    for body in [
        r#"{"redirect_uris": ["http://127.0.0.1/cb"], "redirect_uris": ["https://evil.example/cb"]}"#,
        "[]",
        "not json",
    ] {
        let res = http()
            .post(issuer.registration_endpoint())
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{body}");
        let answer: Value = res.json().await.unwrap();
        assert_eq!(answer["error"], "invalid_client_metadata", "{body}");
    }
    // Bodies are bounded.
    let huge = json!({"redirect_uris": [REDIRECT], "client_name": "x".repeat(100_000)});
    let res = http()
        .post(issuer.registration_endpoint())
        .json(&huge)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
}

/// Serves `document` at `/client.json` on loopback; returns its URL.
async fn serve_client_document(document: impl Fn(&str) -> Value) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/client.json", listener.local_addr().unwrap());
    let body = axum::Json(document(&url));
    let app = Router::new().route("/client.json", get(move || async move { body.clone() }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test]
async fn client_id_metadata_documents() {
    let issuer = DevIssuer::start().await.unwrap();
    let (verifier, challenge) = pkce();
    let client_id = serve_client_document(|id| {
        json!({"client_id": id, "client_name": "CIMD app", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"})
    })
    .await;
    let code = code(&issuer, &authorization(&client_id, &challenge)).await;
    let tokens = exchange(&issuer, &client_id, &code, &verifier).await;
    assert_eq!(tokens.0, 200, "{}", tokens.1);
    let verified = issuer
        .jwt_verifier(RESOURCE)
        .verify(tokens.1["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(verified.principal().client_id(), Some(client_id.as_str()));
    let r = refresh(&issuer, &client_id, tokens.1["refresh_token"].as_str().unwrap()).await;
    assert_eq!(r.0, 200, "{}", r.1);

    // Documents that are refused: an error page, nothing sent to the redirect URI.
    let wrong_id = serve_client_document(
        |_| json!({"client_id": "https://other.example/client.json", "redirect_uris": [REDIRECT]}),
    )
    .await;
    let with_secret = serve_client_document(|id| {
        json!({"client_id": id, "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_basic"})
    })
    .await;
    let other_redirect =
        serve_client_document(|id| json!({"client_id": id, "redirect_uris": ["http://127.0.0.1/elsewhere"]}))
            .await;
    let unreachable = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/client.json", listener.local_addr().unwrap());
        drop(listener);
        url
    };
    let root = client_id.replace("/client.json", "/");
    for (id, why) in [
        (wrong_id, "client_id is not its URL"),
        (with_secret, "a document cannot hold a secret"),
        (other_redirect, "redirect_uri not in the document"),
        (unreachable, "cannot be fetched"),
        (root, "no path"),
        (
            "http://app.example/client.json".to_owned(),
            "plain http to a non-loopback host",
        ),
    ] {
        let res = authorize(&issuer, &authorization(&id, &challenge)).await;
        assert_eq!(res.status(), 400, "{why}");
        assert!(res.headers().get("location").is_none(), "{why}");
    }
}

#[tokio::test]
async fn the_consent_page_approves_or_denies() {
    let issuer = DevIssuer::builder().consent_page(true).start().await.unwrap();
    let client_id = public_client(&issuer).await;
    let (verifier, challenge) = pkce();
    let params = authorization(&client_id, &challenge);
    let page = authorize(&issuer, &params).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("name=decision value=approve"), "{html}");
    assert!(html.contains("st&amp;te=1"), "values are escaped: {html}");
    let decide = |decision: &'static str| {
        let mut form = params.clone();
        form.push(("decision", decision.into()));
        let url = issuer.authorization_endpoint();
        async move { http().post(url).form(&form).send().await.unwrap() }
    };
    let denied = redirected(&decide("deny").await);
    assert_eq!(denied["error"], "access_denied");
    let approved = redirected(&decide("approve").await);
    let tokens = exchange(&issuer, &client_id, &approved["code"], &verifier).await;
    assert_eq!(tokens.0, 200, "{}", tokens.1);
}

#[tokio::test]
async fn dpop_bound_refresh_tokens_need_the_same_key() {
    let issuer = DevIssuer::start().await.unwrap();
    let client_id = public_client(&issuer).await;
    let (verifier, challenge) = pkce();
    let key = DpopKey::generate();
    let code = code(&issuer, &authorization(&client_id, &challenge)).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("client_id", client_id.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    let res = http()
        .post(issuer.token_endpoint())
        .header("DPoP", key.proof("POST", &issuer.token_endpoint(), None))
        .form(&form)
        .send()
        .await
        .unwrap();
    let tokens: Value = res.json().await.unwrap();
    assert_eq!(tokens["token_type"], "DPoP", "{tokens}");
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(
        error(&refresh(&issuer, &client_id, refresh_token).await),
        (400, "invalid_grant"),
        "no proof"
    );
    let send = |key: &DpopKey, token: &str| {
        http()
            .post(issuer.token_endpoint())
            .header("DPoP", key.proof("POST", &issuer.token_endpoint(), None))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", token),
                ("client_id", client_id.as_str()),
            ])
            .send()
    };
    // Neither attempt spent it: only a proof of the bound key refreshes.
    let other = send(&DpopKey::generate(), refresh_token).await.unwrap();
    assert_eq!(other.status(), 400, "another key");
    let same = send(&key, refresh_token).await.unwrap();
    assert_eq!(same.status(), 200);
    let same: Value = same.json().await.unwrap();
    assert_eq!(same["token_type"], "DPoP");
    // The next one is bound to the same key.
    let next = same["refresh_token"].as_str().unwrap();
    assert_eq!(
        error(&refresh(&issuer, &client_id, next).await),
        (400, "invalid_grant")
    );
    assert_eq!(send(&key, next).await.unwrap().status(), 200);
}

#[tokio::test]
async fn token_endpoint_refuses_malformed_requests() {
    let issuer = DevIssuer::start().await.unwrap();
    let id = issuer.client_id().to_owned();
    let secret = issuer.client_secret().to_owned();
    let send = |form: Vec<(&'static str, &'static str)>| {
        let req = http()
            .post(issuer.token_endpoint())
            .basic_auth(&id, Some(&secret))
            .form(&form);
        async move {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let body: Value = res.json().await.unwrap();
            (status, body["error"].as_str().unwrap_or("(none)").to_owned())
        }
    };
    assert_eq!(send(vec![]).await, (400, "invalid_request".into()));
    assert_eq!(
        send(vec![("grant_type", "password")]).await,
        (400, "unsupported_grant_type".into())
    );
    assert_eq!(
        send(vec![
            ("grant_type", "client_credentials"),
            ("grant_type", "client_credentials")
        ])
        .await,
        (400, "invalid_request".into())
    );
    assert_eq!(
        send(vec![("grant_type", "client_credentials")]).await,
        (400, "invalid_target".into())
    );
    assert_eq!(
        send(vec![("grant_type", "authorization_code"), ("code", "made-up")]).await,
        (400, "invalid_grant".into())
    );
    assert_eq!(
        send(vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", "made-up")
        ])
        .await,
        (400, "invalid_grant".into())
    );
    assert_eq!(
        send(vec![("grant_type", "client_credentials"), ("resource", RESOURCE)])
            .await
            .0,
        200
    );
}

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// A jwt-bearer token request from the issuer's own client.
async fn exchange_id_jag(issuer: &DevIssuer, assertion: &str, extra: &[(&str, &str)]) -> (u16, Value) {
    let mut form = vec![("grant_type", JWT_BEARER), ("assertion", assertion)];
    form.extend_from_slice(extra);
    let res = http()
        .post(issuer.token_endpoint())
        .basic_auth(issuer.client_id(), Some(issuer.client_secret()))
        .form(&form)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

#[tokio::test]
async fn jwt_bearer_exchanges_an_id_jag_from_a_trusted_identity_provider() {
    let idp = DevIssuer::start().await.unwrap();
    let untrusted = DevIssuer::start().await.unwrap();
    let issuer = DevIssuer::builder()
        .trust_id_jag_issuer(idp.issuer(), idp.jwks_uri())
        .start()
        .await
        .unwrap();
    let m = get_json(&http(), &issuer.metadata_url()).await;
    assert!(
        m["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!(JWT_BEARER))
    );
    let me = issuer.client_id();
    let jag = idp.id_jag("alice@corp", issuer.issuer(), me, RESOURCE, "mcp:read mcp:write");
    let ok = exchange_id_jag(&issuer, &jag, &[]).await;
    assert_eq!(ok.0, 200, "{}", ok.1);
    assert!(ok.1.get("refresh_token").is_none(), "{}", ok.1);
    let verified = issuer
        .jwt_verifier(RESOURCE)
        .verify(ok.1["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(verified.principal().subject(), Some("alice@corp"));
    assert_eq!(verified.principal().client_id(), Some(me));
    assert_eq!(verified.scopes().to_string(), "mcp:read mcp:write");
    assert_eq!(
        error(&exchange_id_jag(&issuer, &jag, &[]).await),
        (400, "invalid_grant"),
        "replayed"
    );

    // Scope and resource narrow the assertion's, never widen them.
    let jag = idp.id_jag("alice@corp", issuer.issuer(), me, RESOURCE, "mcp:read mcp:write");
    let narrow = exchange_id_jag(&issuer, &jag, &[("scope", "mcp:read")]).await;
    assert_eq!(narrow.1["scope"], "mcp:read", "{}", narrow.1);
    let jag = idp.id_jag("alice@corp", issuer.issuer(), me, RESOURCE, "mcp:read");
    assert_eq!(
        error(&exchange_id_jag(&issuer, &jag, &[("scope", "mcp:admin")]).await),
        (400, "invalid_scope")
    );
    let jag = idp.id_jag("alice@corp", issuer.issuer(), me, RESOURCE, "mcp:read");
    assert_eq!(
        error(&exchange_id_jag(&issuer, &jag, &[("resource", "https://other.example/")]).await),
        (400, "invalid_target")
    );

    // Refused assertions.
    for (jag, why) in [
        (
            idp.id_jag(
                "alice@corp",
                issuer.issuer(),
                "another-client",
                RESOURCE,
                "mcp:read",
            ),
            "for another client",
        ),
        (
            untrusted.id_jag("alice@corp", issuer.issuer(), me, RESOURCE, "mcp:read"),
            "untrusted issuer",
        ),
        (
            idp.id_jag("alice@corp", "https://other-as.example", me, RESOURCE, "mcp:read"),
            "for another AS",
        ),
        (
            issuer.token("alice", me, "mcp:read", RESOURCE),
            "an access token, not an ID-JAG",
        ),
        ("not-a-jwt".to_owned(), "malformed"),
    ] {
        assert_eq!(
            error(&exchange_id_jag(&issuer, &jag, &[]).await),
            (400, "invalid_grant"),
            "{why}"
        );
    }

    // Only confidential clients that registered the grant.
    let public = public_client(&issuer).await;
    let jag = idp.id_jag("alice@corp", issuer.issuer(), &public, RESOURCE, "mcp:read");
    let res = token_request(
        &issuer,
        &[
            ("grant_type", JWT_BEARER),
            ("assertion", &jag),
            ("client_id", &public),
        ],
    )
    .await;
    assert_eq!(error(&res), (400, "unauthorized_client"));
    let (status, registered) = register(
        &issuer,
        json!({"grant_types": [JWT_BEARER], "client_name": "agent"}),
    )
    .await;
    assert_eq!(status, 201, "{registered}");
    let (id, secret) = (
        registered["client_id"].as_str().unwrap(),
        registered["client_secret"].as_str().unwrap(),
    );
    let jag = idp.id_jag("bob@corp", issuer.issuer(), id, RESOURCE, "mcp:read");
    let res = http()
        .post(issuer.token_endpoint())
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", JWT_BEARER), ("assertion", &jag)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // An issuer that trusts no identity provider has no jwt-bearer grant.
    let plain = DevIssuer::start().await.unwrap();
    let jag = idp.id_jag(
        "alice@corp",
        plain.issuer(),
        plain.client_id(),
        RESOURCE,
        "mcp:read",
    );
    assert_eq!(
        error(&exchange_id_jag(&plain, &jag, &[]).await),
        (400, "unsupported_grant_type")
    );
}

#[tokio::test]
async fn a_dpop_bound_id_jag_needs_a_proof_of_its_key() {
    let idp = DevIssuer::start().await.unwrap();
    let issuer = DevIssuer::builder()
        .trust_id_jag_issuer(idp.issuer(), idp.jwks_uri())
        .start()
        .await
        .unwrap();
    let key = DpopKey::generate();
    let bound = || {
        let mut claims: Value = {
            let jag = idp.id_jag(
                "alice@corp",
                issuer.issuer(),
                issuer.client_id(),
                RESOURCE,
                "mcp:read",
            );
            let payload = jag.split('.').nth(1).unwrap().to_owned();
            serde_json::from_slice(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(payload)
                    .unwrap(),
            )
            .unwrap()
        };
        claims["cnf"] = json!({"jkt": key.thumbprint()});
        idp.sign(&idp.id_jag_header(), &claims)
    };
    let without = exchange_id_jag(&issuer, &bound(), &[]).await;
    assert_eq!(
        error(&without),
        (400, "invalid_grant"),
        "SEP-990 §8.6: a proof is required"
    );
    let send = |proof_key: &DpopKey, assertion: String| {
        http()
            .post(issuer.token_endpoint())
            .basic_auth(issuer.client_id(), Some(issuer.client_secret()))
            .header("DPoP", proof_key.proof("POST", &issuer.token_endpoint(), None))
            .form(&[("grant_type", JWT_BEARER), ("assertion", &assertion)])
            .send()
    };
    let other = send(&DpopKey::generate(), bound()).await.unwrap();
    assert_eq!(other.status(), 400, "another key");
    let same = send(&key, bound()).await.unwrap();
    assert_eq!(same.status(), 200);
    let same: Value = same.json().await.unwrap();
    assert_eq!(same["token_type"], "DPoP");
}

/// A public client signed in with the authorization code flow: its id and
/// first refresh token.
async fn signed_in(issuer: &DevIssuer) -> (String, String) {
    let client_id = public_client(issuer).await;
    let (verifier, challenge) = pkce();
    let code = code(issuer, &authorization(&client_id, &challenge)).await;
    let first = exchange(issuer, &client_id, &code, &verifier).await;
    assert_eq!(first.0, 200, "{}", first.1);
    let refresh_token = first.1["refresh_token"].as_str().unwrap().to_owned();
    (client_id, refresh_token)
}

/// Two requests meet the same expired access token and refresh at once with
/// the same refresh token: within the reuse grace both get the same answer (no
/// new branch, no revocation), and the client goes on with it. Presented again
/// once the successor was used, the spent token still revokes the family.
#[tokio::test]
async fn two_concurrent_refreshes_get_the_same_successor_pair() {
    let issuer = DevIssuer::start().await.unwrap();
    let (client_id, r1) = signed_in(&issuer).await;

    let (a, b) = tokio::join!(
        refresh(&issuer, &client_id, &r1),
        refresh(&issuer, &client_id, &r1)
    );
    assert_eq!((a.0, b.0), (200, 200), "{} {}", a.1, b.1);
    assert_eq!(a.1["access_token"], b.1["access_token"]);
    assert_eq!(a.1["refresh_token"], b.1["refresh_token"]);
    assert_ne!(a.1["refresh_token"].as_str(), Some(r1.as_str()));
    issuer
        .jwt_verifier(RESOURCE)
        .verify(a.1["access_token"].as_str().unwrap())
        .await
        .unwrap();

    // The client goes on with the successor; the spent r1 is a reuse now.
    let r2 = a.1["refresh_token"].as_str().unwrap();
    let third = refresh(&issuer, &client_id, r2).await;
    assert_eq!(third.0, 200, "{}", third.1);
    let replay = refresh(&issuer, &client_id, &r1).await;
    assert_eq!(error(&replay), (400, "invalid_grant"));
    assert!(replay.1["error_description"].as_str().unwrap().contains("family"));
    assert_eq!(
        error(&refresh(&issuer, &client_id, third.1["refresh_token"].as_str().unwrap()).await),
        (400, "invalid_grant"),
        "the family is revoked"
    );
}

/// After the reuse grace, the same refresh token again is a reuse: refused,
/// and the family with it. With no grace, even an immediate retry is.
#[tokio::test]
async fn after_the_reuse_grace_a_spent_refresh_token_revokes_the_family() {
    for (grace, wait) in [
        (Duration::from_millis(300), Duration::from_millis(600)),
        (Duration::ZERO, Duration::ZERO),
    ] {
        let issuer = DevIssuer::builder()
            .refresh_reuse_grace(grace)
            .unwrap()
            .start()
            .await
            .unwrap();
        let (client_id, r1) = signed_in(&issuer).await;
        let second = refresh(&issuer, &client_id, &r1).await;
        assert_eq!(second.0, 200, "{}", second.1);
        tokio::time::sleep(wait).await;
        assert_eq!(
            error(&refresh(&issuer, &client_id, &r1).await),
            (400, "invalid_grant"),
            "{grace:?}"
        );
        assert_eq!(
            error(&refresh(&issuer, &client_id, second.1["refresh_token"].as_str().unwrap()).await),
            (400, "invalid_grant"),
            "{grace:?}: the family is revoked"
        );
    }
    assert!(
        DevIssuer::builder()
            .refresh_reuse_grace(Duration::from_secs(11))
            .is_err()
    );
}
