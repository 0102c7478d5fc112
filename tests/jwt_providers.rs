//! The identity-provider presets, offline: the development issuer mints each
//! provider's token shapes (`tower_bearer_issuer::dialect`) and a verifier
//! configured with the preset accepts its user and client-credentials access
//! tokens with the right principal and scopes, and refuses its ID token, a
//! token of another tenant or for another audience, a Graph token (Entra),
//! and every access token whose discriminator was removed. Refusals are
//! checked through the layer too (status and challenge), and the default
//! profile still refuses every dialect's tokens.

mod support;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode};
use serde_json::{Value, json};
use support::captured::Captured;
use tower::ServiceExt;
use tower_bearer::jwt::{ClaimPath, Issuer, JwtVerifier, Profile, Provider};
use tower_bearer::{AccessToken, InvalidToken, TokenVerifier, TokenVerifierLayer, VerifyError};
use tower_bearer_issuer::DevIssuer;
use tower_bearer_issuer::dialect::{Dialect, ENTRA_API_CLIENT_ID, ENTRA_TENANT};

/// The resource URL every verifier is configured with.
const RESOURCE: &str = "https://api.example.com/mcp";

/// The providers with a dialect of their own: all but RFC 9068.
fn providers() -> impl Iterator<Item = Provider> {
    Provider::ALL.into_iter().filter(|p| *p != Provider::Rfc9068)
}

/// A verifier for `dialect`'s tokens with its preset (Cognito: clients
/// `web` and `svc` allowed without `aud`).
fn verifier(dialect: &Dialect<'_>, provider: Provider) -> JwtVerifier {
    let mut issuer = dialect.verifier_issuer();
    if provider == Provider::Cognito {
        issuer = issuer.allowed_client_ids(["web", "svc"]);
    }
    JwtVerifier::builder()
        .audience(RESOURCE)
        .add_issuer(issuer)
        .no_verified_token_cache()
        .build()
        .unwrap()
}

async fn refusal(verifier: &JwtVerifier, token: &str) -> InvalidToken {
    match verifier.verify(token).await {
        Err(VerifyError::Invalid(reason)) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn scopes(token: &AccessToken) -> Vec<String> {
    let mut scopes: Vec<String> = token.scopes().iter().map(str::to_owned).collect();
    scopes.sort();
    scopes
}

#[tokio::test]
async fn every_preset_accepts_its_providers_user_and_client_tokens_with_principal_and_scopes() {
    let dev = DevIssuer::start().await.unwrap();
    for provider in providers() {
        let dialect = dev.dialect(provider);
        let verifier = verifier(&dialect, provider);

        let user = verifier
            .verify(&dialect.access_token("alice", "web", "notes:read notes:write"))
            .await
            .unwrap_or_else(|e| panic!("{provider}: user token refused: {e}"));
        let principal = user.principal();
        assert_eq!(principal.subject(), Some("alice"), "{provider}");
        assert_eq!(principal.client_id(), Some("web"), "{provider}");
        assert_eq!(principal.issuer(), Some(dialect.issuer()), "{provider}");
        assert_eq!(scopes(&user), ["notes:read", "notes:write"], "{provider}");

        let app = verifier
            .verify(&dialect.app_token("svc", "notes:read"))
            .await
            .unwrap_or_else(|e| panic!("{provider}: client-credentials token refused: {e}"));
        assert_eq!(app.principal().client_id(), Some("svc"), "{provider}");
        let subject = match provider {
            Provider::Auth0 => "svc@clients",
            Provider::Keycloak => "service-account-svc",
            _ => "svc",
        };
        assert_eq!(app.principal().subject(), Some(subject), "{provider}");
        assert_eq!(scopes(&app), ["notes:read"], "{provider}");
    }
}

#[tokio::test]
async fn every_preset_refuses_its_providers_id_token_even_with_an_accepted_audience() {
    let dev = DevIssuer::start().await.unwrap();
    for provider in providers() {
        let dialect = dev.dialect(provider);
        let verifier = verifier(&dialect, provider);
        assert_eq!(
            refusal(&verifier, &dialect.id_token("alice", "web")).await,
            InvalidToken::IdToken,
            "{provider}"
        );
        // The ID token's `aud` set to a value the verifier accepts: still refused.
        let (header, mut claims) = dialect.id_claims("alice", "web");
        claims["aud"] = json!(RESOURCE);
        assert_eq!(
            refusal(&verifier, &dialect.sign(&header, &claims)).await,
            InvalidToken::IdToken,
            "{provider} with an accepted aud"
        );
        // Without the ID token's own marks, the discriminator still refuses it.
        for mark in ["nonce", "at_hash"] {
            claims.as_object_mut().unwrap().remove(mark);
        }
        let reason = refusal(&verifier, &dialect.sign(&header, &claims)).await;
        assert!(
            matches!(
                reason,
                InvalidToken::IdToken
                    | InvalidToken::NotAccessToken
                    | InvalidToken::Type
                    | InvalidToken::Claims
            ),
            "{provider}: {reason:?}"
        );
    }
}

/// The claims that tell each provider's access tokens from its other JWTs.
fn discriminators(provider: Provider) -> &'static [&'static str] {
    match provider {
        Provider::Entra | Provider::EntraV1 => &["ver", "tid", "scp"],
        Provider::Auth0 => &["azp"],
        Provider::Okta => &["cid", "scp"],
        Provider::Cognito => &["token_use"],
        Provider::Keycloak => &["typ"],
        Provider::Workos | Provider::Hydra => &["client_id"],
        _ => &[],
    }
}

#[tokio::test]
async fn removing_any_discriminator_or_changing_the_typ_refuses_the_token() {
    let dev = DevIssuer::start().await.unwrap();
    for provider in providers() {
        let dialect = dev.dialect(provider);
        let verifier = verifier(&dialect, provider);
        for claim in discriminators(provider) {
            let (header, mut claims) = dialect.access_claims("alice", "web", "notes:read");
            assert!(claims.get(*claim).is_some(), "{provider} {claim}");
            claims.as_object_mut().unwrap().remove(*claim);
            let reason = refusal(&verifier, &dialect.sign(&header, &claims)).await;
            assert!(
                matches!(reason, InvalidToken::NotAccessToken | InvalidToken::Claims),
                "{provider} without {claim}: {reason:?}"
            );
        }
        // A typ the provider does not use for access tokens.
        let (mut header, claims) = dialect.access_claims("alice", "web", "notes:read");
        header["typ"] = json!("dpop+jwt");
        assert_eq!(
            refusal(&verifier, &dialect.sign(&header, &claims)).await,
            InvalidToken::Type,
            "{provider}"
        );
    }
    // Values, not just presence: Cognito's `token_use`, Keycloak's `typ`, Entra's `ver` and `tid`.
    for (provider, claim, value) in [
        (Provider::Cognito, "token_use", json!("id")),
        (Provider::Keycloak, "typ", json!("Refresh")),
        (Provider::Entra, "ver", json!("1.0")),
        (
            Provider::Entra,
            "tid",
            json!("72f988bf-86f1-41af-91ab-2d7cd011db47"),
        ),
        (Provider::EntraV1, "tid", json!("v1.0")),
    ] {
        let dialect = dev.dialect(provider);
        let (header, mut claims) = dialect.access_claims("alice", "web", "notes:read");
        claims[claim] = value;
        let reason = refusal(&verifier(&dialect, provider), &dialect.sign(&header, &claims)).await;
        assert!(
            matches!(reason, InvalidToken::NotAccessToken | InvalidToken::IdToken),
            "{provider} {claim}: {reason:?}"
        );
    }
}

#[tokio::test]
async fn another_tenant_or_audience_is_refused() {
    let dev = DevIssuer::start().await.unwrap();
    for provider in providers() {
        let dialect = dev.dialect(provider);
        let verifier = verifier(&dialect, provider);
        // Same keys, another issuer (another tenant, realm or pool).
        let other = dev
            .dialect(provider)
            .with_issuer(format!("{}x", dialect.issuer()));
        assert_eq!(
            refusal(&verifier, &other.access_token("alice", "web", "notes:read")).await,
            InvalidToken::Issuer,
            "{provider}"
        );
        // Another API's audience (Cognito: its tokens have none; see below).
        let elsewhere = dev
            .dialect(provider)
            .with_audience(Some(json!("https://other.example.com/api")));
        assert_eq!(
            refusal(&verifier, &elsewhere.access_token("alice", "web", "notes:read")).await,
            InvalidToken::Audience,
            "{provider}"
        );
    }
}

#[tokio::test]
async fn tokens_without_an_audience_need_an_allowed_client() {
    let dev = DevIssuer::start().await.unwrap();
    let cognito = dev.dialect(Provider::Cognito);
    assert!(cognito.audience().is_none());
    let token = cognito.access_token("alice", "web", "notes:read");
    let stranger = cognito.access_token("alice", "stranger", "notes:read");

    let allowing = verifier(&cognito, Provider::Cognito);
    assert!(allowing.verify(&token).await.is_ok());
    assert_eq!(
        refusal(&allowing, &stranger).await,
        InvalidToken::ClientNotAllowed
    );

    // No allowlist: no token without `aud` passes, whatever its client.
    let strict = JwtVerifier::builder()
        .audience(RESOURCE)
        .add_issuer(cognito.verifier_issuer())
        .build()
        .unwrap();
    assert_eq!(refusal(&strict, &token).await, InvalidToken::AudienceMissing);

    // A token that has an `aud` must name this resource, even from an allowed client.
    let with_aud = dev
        .dialect(Provider::Cognito)
        .with_audience(Some(json!("https://other.example.com")));
    assert_eq!(
        refusal(&allowing, &with_aud.access_token("alice", "web", "notes:read")).await,
        InvalidToken::Audience
    );

    // The allowlist alone is enough configuration; nothing at all is not.
    assert!(
        JwtVerifier::builder()
            .add_issuer(cognito.verifier_issuer().allowed_client_ids(["web"]))
            .build()
            .is_ok()
    );
    assert!(
        JwtVerifier::builder()
            .add_issuer(cognito.verifier_issuer())
            .build()
            .is_err()
    );
}

#[tokio::test]
async fn entra_tokens_for_microsoft_apis_are_refused_with_their_reason() {
    let dev = DevIssuer::start().await.unwrap();
    for provider in [Provider::Entra, Provider::EntraV1] {
        let entra = dev.dialect(provider);
        let verifier = verifier(&entra, provider);
        assert_eq!(
            refusal(&verifier, &entra.graph_token("alice", "web")).await,
            InvalidToken::FirstParty,
            "{provider}: a nonce header"
        );
        // A Graph audience without the header: refused as well, before the audience check.
        let (header, mut claims) = entra.access_claims("alice", "web", "User.Read");
        claims["aud"] = json!("https://graph.microsoft.com");
        assert_eq!(
            refusal(&verifier, &entra.sign(&header, &claims)).await,
            InvalidToken::FirstParty,
            "{provider}: a Graph audience"
        );
        // Compared as every audience is: canonically.
        claims["aud"] = json!(["HTTPS://graph.microsoft.com/"]);
        assert_eq!(
            refusal(&verifier, &entra.sign(&header, &claims)).await,
            InvalidToken::FirstParty,
            "{provider}: a Graph audience, another spelling"
        );
    }
}

#[tokio::test]
async fn entra_v2_and_v1_tokens_of_one_tenant_through_one_verifier() {
    let dev = DevIssuer::start().await.unwrap();
    let (v2, v1) = (dev.dialect(Provider::Entra), dev.dialect(Provider::EntraV1));
    let verifier = JwtVerifier::builder()
        .audience(RESOURCE)
        .add_issuer(v2.verifier_issuer())
        .add_issuer(v1.verifier_issuer())
        .build()
        .unwrap();
    for (dialect, issuer) in [
        (
            &v2,
            format!("https://login.microsoftonline.com/{ENTRA_TENANT}/v2.0"),
        ),
        (&v1, format!("https://sts.windows.net/{ENTRA_TENANT}/")),
    ] {
        let token = verifier
            .verify(&dialect.access_token("alice", "web", "Notes.Read"))
            .await
            .unwrap();
        assert_eq!(token.principal().issuer(), Some(issuer.as_str()));
    }
    // A v1 token's shape under the v2 issuer: `ver` says otherwise.
    let (header, mut claims) = v1.access_claims("alice", "web", "Notes.Read");
    claims["iss"] = json!(v2.issuer());
    assert_eq!(
        refusal(&verifier, &v1.sign(&header, &claims)).await,
        InvalidToken::NotAccessToken
    );
    // The preset constructors name the same issuers.
    let preset = Issuer::entra(ENTRA_TENANT).accept_audience(ENTRA_API_CLIENT_ID);
    assert!(format!("{preset:?}").contains(v2.issuer()));
    assert!(format!("{:?}", Issuer::entra_v1(ENTRA_TENANT)).contains(v1.issuer()));
}

#[tokio::test]
async fn roles_and_groups_become_scopes_only_when_added() {
    let dev = DevIssuer::start().await.unwrap();
    let keycloak = dev.dialect(Provider::Keycloak);
    let token = keycloak.access_token("alice", "web", "openid notes:read");
    let plain = verifier(&keycloak, Provider::Keycloak);
    assert_eq!(
        scopes(&plain.verify(&token).await.unwrap()),
        ["notes:read", "openid"]
    );

    let with_roles = JwtVerifier::builder()
        .audience(RESOURCE)
        .add_issuer(
            keycloak.verifier_issuer().profile(
                Profile::keycloak()
                    .also_scopes_from(ClaimPath::nested(["realm_access", "roles"]).unwrap())
                    .also_scopes_from(ClaimPath::nested(["resource_access", "mcp-server", "roles"]).unwrap()),
            ),
        )
        .build()
        .unwrap();
    assert_eq!(
        scopes(&with_roles.verify(&token).await.unwrap()),
        [
            "notes-admin",
            "notes-editor",
            "notes:read",
            "offline_access",
            "openid"
        ]
    );

    let cognito = dev.dialect(Provider::Cognito);
    let groups = JwtVerifier::builder()
        .add_issuer(
            cognito
                .verifier_issuer()
                .allowed_client_ids(["web"])
                .profile(Profile::cognito().also_scopes_from(ClaimPath::new("cognito:groups").unwrap())),
        )
        .build()
        .unwrap();
    let token = cognito.access_token("alice", "web", "notes/read");
    assert_eq!(
        scopes(&groups.verify(&token).await.unwrap()),
        ["editors", "notes/read"]
    );

    // A scope source of the wrong type is a bad claim, not an empty grant.
    let (header, mut claims) = keycloak.access_claims("alice", "web", "notes:read");
    claims["realm_access"]["roles"] = json!("notes-admin");
    assert!(
        with_roles.verify(&keycloak.sign(&header, &claims)).await.is_ok(),
        "a string is a list"
    );
    claims["realm_access"]["roles"] = json!([1]);
    assert_eq!(
        refusal(&with_roles, &keycloak.sign(&header, &claims)).await,
        InvalidToken::Claims
    );
}

#[tokio::test]
async fn the_default_profile_refuses_every_dialect() {
    let dev = DevIssuer::start().await.unwrap();
    for provider in providers() {
        let dialect = dev.dialect(provider);
        let default = JwtVerifier::builder()
            .audience(RESOURCE)
            .add_issuer(dialect.verifier_issuer().profile(Profile::default()))
            .build()
            .unwrap();
        for token in [
            dialect.access_token("alice", "web", "notes:read"),
            dialect.id_token("alice", "web"),
        ] {
            assert!(default.verify(&token).await.is_err(), "{provider}");
        }
    }
}

async fn through_layer(verifier: JwtVerifier, token: &str) -> (StatusCode, String) {
    let app = Router::new()
        .route("/mcp", get(|| async { "ok" }))
        .layer(TokenVerifierLayer::new(verifier));
    let res = app
        .oneshot(
            Request::get("/mcp")
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let challenge = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (res.status(), challenge)
}

#[tokio::test]
async fn refusals_through_the_layer_are_401_with_fixed_descriptions() {
    let dev = DevIssuer::start().await.unwrap();
    let entra = dev.dialect(Provider::Entra);
    let cognito = dev.dialect(Provider::Cognito);
    let (header, mut no_ver) = entra.access_claims("alice", "web", "Notes.Read");
    no_ver.as_object_mut().unwrap().remove("ver");
    let cases: [(&Dialect<'_>, Provider, String, &str); 6] = [
        (
            &entra,
            Provider::Entra,
            entra.access_token("alice", "web", "Notes.Read"),
            "",
        ),
        (
            &entra,
            Provider::Entra,
            entra.id_token("alice", "web"),
            "an ID token is not an access token",
        ),
        (
            &entra,
            Provider::Entra,
            entra.graph_token("alice", "web"),
            "token issued for another API",
        ),
        (
            &entra,
            Provider::Entra,
            entra.sign(&header, &no_ver),
            "not an access token of this issuer",
        ),
        (
            &cognito,
            Provider::Cognito,
            cognito.access_token("alice", "stranger", "x"),
            "token audience not accepted",
        ),
        (
            &entra,
            Provider::Entra,
            dev.dialect(Provider::Entra)
                .with_audience(Some(Value::from("api://someone-else")))
                .access_token("alice", "web", "Notes.Read"),
            "token audience not accepted",
        ),
    ];
    for (dialect, provider, token, description) in cases {
        let (status, challenge) = through_layer(verifier(dialect, provider), &token).await;
        if description.is_empty() {
            assert_eq!(status, StatusCode::OK);
            continue;
        }
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{description}");
        assert_eq!(
            challenge,
            format!(r#"Bearer error="invalid_token", error_description="{description}""#)
        );
    }
}

#[tokio::test]
async fn refusals_are_logged_with_reason_expectation_and_hint_never_the_token_or_its_claims() {
    // The process-wide subscriber (a thread's own misses events of callsites
    // other tests registered first); lines are told apart by the issuer.
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let dev = DevIssuer::start().await.unwrap();
    let issuer = "https://logs.okta.example/oauth2/default";
    let okta = dev.dialect(Provider::Okta).with_issuer(issuer);
    let rfc9068 = JwtVerifier::builder()
        .audience(RESOURCE)
        .add_issuer(okta.verifier_issuer().profile(Profile::rfc9068()))
        .build()
        .unwrap();
    let subject = "secret-subject-4711";
    let access = okta.access_token(subject, "client-0815", "notes:read");
    let id = okta.id_token(subject, "client-0815");
    let okta_verifier = verifier(&okta, Provider::Okta);
    for _ in 0..3 {
        assert_eq!(refusal(&rfc9068, &access).await, InvalidToken::Type);
    }
    assert_eq!(refusal(&okta_verifier, &id).await, InvalidToken::IdToken);
    let elsewhere = okta
        .clone()
        .with_audience(Some(json!("api://elsewhere")))
        .access_token(subject, "client-0815", "notes:read");
    assert_eq!(refusal(&okta_verifier, &elsewhere).await, InvalidToken::Audience);

    let logs = captured.text();
    let refused: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("JWT refused") && l.contains(issuer))
        .collect();
    assert_eq!(refused.len(), 5, "one event per refusal:\n{logs}");
    let typ = refused
        .iter()
        .filter(|l| l.contains("reason=\"typ_not_accepted\""))
        .count();
    assert_eq!(typ, 3);
    // The first of a reason at warn, the next ones at debug (within the minute).
    let typ_warns = refused
        .iter()
        .filter(|l| l.contains("reason=\"typ_not_accepted\"") && l.contains("WARN"))
        .count();
    assert!(typ_warns <= 1, "{logs}");
    let first = refused[0];
    assert!(
        first.contains("typ=\"application/okta-internal-at+jwt\""),
        "{first}"
    );
    assert!(first.contains("expected=\"typ at+jwt\""), "{first}");
    assert!(first.contains("okta preset"), "{first}");
    assert!(
        refused
            .iter()
            .any(|l| l.contains("reason=\"id_token_presented\""))
    );
    let audience = refused
        .iter()
        .find(|l| l.contains("reason=\"audience_mismatch\""))
        .unwrap();
    assert!(
        audience.contains("api://default") && audience.contains("accept_audience"),
        "{audience}"
    );
    assert!(
        !audience.contains("api://elsewhere"),
        "the token's aud is not logged: {audience}"
    );
    for secret in [
        subject,
        "client-0815",
        &access[access.len() - 40..],
        &id[id.len() - 40..],
    ] {
        assert!(!logs.contains(secret), "{secret} logged:\n{logs}");
    }
}
