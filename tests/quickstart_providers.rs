//! The quickstart with `--provider NAME`: pointed at an issuer that speaks
//! each provider's dialect (the development issuer's keys, the provider's
//! token shapes under that issuer's URL), it accepts the provider's access
//! tokens with the principal the preset maps, and refuses its ID tokens.
//! `--accept-audience` and `--allowed-client-id` carry the audience rules.

mod support;

use serde_json::Value;
use support::quickstart::{get_whoami, start};
use support::www_authenticate;
use tower_bearer::jwt::Provider;
use tower_bearer_issuer::DevIssuer;
use tower_bearer_issuer::dialect::ENTRA_TENANT;

#[tokio::test(flavor = "multi_thread")]
async fn every_provider_flag_accepts_its_access_tokens_and_refuses_its_id_tokens() {
    let dev = DevIssuer::start().await.unwrap();
    let client = reqwest::Client::new();
    let jwks = dev.jwks_uri();
    for provider in Provider::ALL.into_iter().filter(|p| *p != Provider::Rfc9068) {
        // Entra's `tid` must be a segment of its issuer, as in Entra's own.
        let issuer = match provider {
            Provider::Entra | Provider::EntraV1 => format!("{}/{ENTRA_TENANT}/", dev.issuer()),
            _ => dev.issuer().to_owned(),
        };
        let dialect = dev.dialect(provider).with_issuer(&issuer);
        let name = provider.to_string();
        let mut args = vec!["--issuer", &issuer, "--jwks-uri", &jwks, "--provider", &name];
        // The dialect's own `aud` values, as an operator would pass them.
        let accepted = dialect.accepted_audiences();
        for aud in &accepted {
            args.extend(["--accept-audience", aud]);
        }
        if provider == Provider::Cognito {
            args.extend(["--allowed-client-id", "web"]);
        }
        let qs = start(&args);

        let access = dialect.access_token("alice", "web", "mcp:read");
        let res = get_whoami(&client, &qs, Some(&access)).await;
        assert_eq!(res.status(), 200, "{provider}: {}", www_authenticate(&res));
        let who: Value = res.json().await.unwrap();
        assert_eq!(who["client_id"], "web", "{provider}");
        assert_eq!(who["subject"], "alice", "{provider}");
        assert_eq!(who["issuer"], issuer, "{provider}");
        assert_eq!(who["scopes"], serde_json::json!(["mcp:read"]), "{provider}");

        let app = dialect.app_token("web", "mcp:read");
        let res = get_whoami(&client, &qs, Some(&app)).await;
        assert_eq!(res.status(), 200, "{provider} client credentials");

        for refused in [
            dialect.id_token("alice", "web"),
            dev.dialect(provider)
                .with_issuer(&issuer)
                .with_audience(Some("https://elsewhere.example/api".into()))
                .access_token("alice", "web", "mcp:read"),
        ] {
            let res = get_whoami(&client, &qs, Some(&refused)).await;
            assert_eq!(res.status(), 401, "{provider}");
            let challenge = www_authenticate(&res);
            assert!(
                challenge.contains(r#"error="invalid_token""#),
                "{provider}: {challenge}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_default_provider_refuses_other_dialects_and_a_provider_needs_an_issuer() {
    let dev = DevIssuer::start().await.unwrap();
    let client = reqwest::Client::new();
    let jwks = dev.jwks_uri();
    let qs = start(&["--issuer", dev.issuer(), "--jwks-uri", &jwks]);
    let keycloak = dev.dialect(Provider::Keycloak).with_issuer(dev.issuer());
    let res = get_whoami(
        &client,
        &qs,
        Some(&keycloak.access_token("alice", "web", "mcp:read")),
    )
    .await;
    assert_eq!(res.status(), 401);
    // An RFC 9068 token of the same issuer passes.
    let audience = format!("{}/mcp", qs.base);
    let res = get_whoami(
        &client,
        &qs,
        Some(&dev.token("alice", "web", "mcp:read", &audience)),
    )
    .await;
    assert_eq!(res.status(), 200);

    // `--provider` with the embedded issuer is a configuration error, said at start.
    let out = std::process::Command::new(support::quickstart::example_binary())
        .args(["--listen", "127.0.0.1:0", "--provider", "okta"])
        .env_remove("TB_ISSUER")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--provider okta needs --issuer"), "{stderr}");
    // An unknown provider name is refused by the flag parser, naming the choices.
    let out = std::process::Command::new(support::quickstart::example_binary())
        .args(["--provider", "google"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("keycloak"));
}
