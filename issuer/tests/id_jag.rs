//! ID-JAG validation (draft-ietf-oauth-identity-assertion-authz-grant §4.4.1,
//! MCP SEP-990 §5.1, RFC 7523 §3) against development IdPs on loopback whose
//! keys sign with `jsonwebtoken`: one test per rule, each failing when the
//! rule is removed, plus outages that must be `Unavailable`, never a refusal.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tower_bearer::Unavailable;
use tower_bearer::extract::MAX_TOKEN_LEN;
use tower_bearer::replay::{ReplayCache, ReplayKey};
use tower_bearer_issuer::DevIssuer;
use tower_bearer_issuer::id_jag::{BuildError, IdJagError, IdJagValidator, IdJagValidatorBuilder};

/// This authorization server's issuer identifier.
const AS: &str = "https://as.example.com";
/// The client the token endpoint authenticated.
const CLIENT: &str = "client-123";

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn fresh_jti() -> String {
    format!("jti-{:x}", rand_u64())
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos());
    h.finish()
}

/// A development IdP and the `kid` of its key.
struct Idp {
    dev: DevIssuer,
    kid: String,
}

impl Idp {
    async fn start() -> Idp {
        let dev = DevIssuer::start().await.unwrap();
        let kid = dev.jwks()["keys"][0]["kid"].as_str().unwrap().to_owned();
        Idp { dev, kid }
    }

    fn issuer(&self) -> &str {
        self.dev.issuer()
    }

    fn header(&self) -> Value {
        json!({"alg": "RS256", "typ": "oauth-id-jag+jwt", "kid": self.kid})
    }

    /// A valid ID-JAG claims set for [`AS`] and [`CLIENT`], 5 minutes long.
    fn claims(&self) -> Value {
        let now = now();
        json!({
            "iss": self.issuer(),
            "sub": "U019488227",
            "aud": AS,
            "client_id": CLIENT,
            "jti": fresh_jti(),
            "iat": now,
            "exp": now + 300,
            "resource": "https://mcp.example.com/mcp",
            "scope": "chat.read chat.history",
        })
    }

    fn sign(&self, header: &Value, claims: &Value) -> String {
        self.dev.sign(header, claims)
    }

    fn assertion(&self) -> String {
        self.sign(&self.header(), &self.claims())
    }

    /// A valid assertion with `name` set to `value` (`Null`: removed).
    fn with(&self, name: &str, value: Value) -> String {
        self.sign(&self.header(), &with(self.claims(), name, value))
    }

    /// A valid assertion with header member `name` set to `value` (`Null`: removed).
    fn with_header(&self, name: &str, value: Value) -> String {
        self.sign(&with(self.header(), name, value), &self.claims())
    }
}

fn with(mut v: Value, name: &str, value: Value) -> Value {
    if value.is_null() {
        v.as_object_mut().unwrap().remove(name);
    } else {
        v[name] = value;
    }
    v
}

fn builder(idps: &[&Idp]) -> IdJagValidatorBuilder {
    idps.iter()
        .fold(IdJagValidator::builder().audience(AS), |b, idp| {
            b.trusted_issuer(idp.issuer(), idp.dev.jwks_uri())
        })
}

fn validator(idps: &[&Idp]) -> IdJagValidator {
    builder(idps).build().unwrap()
}

async fn refusal(validator: &IdJagValidator, assertion: &str) -> IdJagError {
    let error = validator.validate(assertion, CLIENT).await.unwrap_err();
    assert_eq!(error.oauth_error(), "invalid_grant", "{error:?}");
    assert!(!error.is_unavailable());
    error
}

#[tokio::test]
async fn a_valid_grant_is_returned_with_its_claims() {
    let idp = Idp::start().await;
    let v = validator(&[&idp]);
    let claims = idp.claims();
    let grant = v
        .validate(&idp.sign(&idp.header(), &claims), CLIENT)
        .await
        .unwrap();
    assert_eq!(grant.issuer(), idp.issuer());
    assert_eq!(grant.subject(), "U019488227");
    assert_eq!(grant.client_id(), CLIENT);
    assert_eq!(grant.jti(), claims["jti"].as_str().unwrap());
    assert_eq!(grant.expires_at(), at(claims["exp"].as_u64().unwrap()));
    assert_eq!(grant.issued_at(), at(claims["iat"].as_u64().unwrap()));
    assert_eq!(grant.principal().client_id(), Some(CLIENT));
}

#[tokio::test]
async fn resource_as_a_string_or_an_array_is_returned() {
    let idp = Idp::start().await;
    let v = validator(&[&idp]);
    let one = v
        .validate(
            &idp.with("resource", json!("https://mcp.example.com/mcp")),
            CLIENT,
        )
        .await
        .unwrap();
    assert_eq!(one.resource(), ["https://mcp.example.com/mcp"]);
    let two = json!(["https://api.example.com/files", "urn:example:chat"]);
    let many = v.validate(&idp.with("resource", two), CLIENT).await.unwrap();
    assert_eq!(
        many.resource(),
        ["https://api.example.com/files", "urn:example:chat"]
    );
    let none = v
        .validate(&idp.with("resource", Value::Null), CLIENT)
        .await
        .unwrap();
    assert!(none.resource().is_empty());
    // RFC 8707 §2: absolute URIs without fragment.
    for bad in [
        json!("/relative"),
        json!("https://mcp.example.com/mcp#frag"),
        json!(["https://ok.example", "nope"]),
        json!(7),
    ] {
        assert_eq!(
            refusal(&v, &idp.with("resource", bad.clone())).await,
            IdJagError::InvalidClaim,
            "{bad}"
        );
    }
}

#[tokio::test]
async fn scopes_are_returned() {
    let idp = Idp::start().await;
    let v = validator(&[&idp]);
    let grant = v.validate(&idp.assertion(), CLIENT).await.unwrap();
    assert_eq!(
        grant.scopes().iter().collect::<Vec<_>>(),
        ["chat.history", "chat.read"]
    );
    let none = v.validate(&idp.with("scope", Value::Null), CLIENT).await.unwrap();
    assert!(none.scopes().is_empty());
    assert_eq!(
        refusal(&v, &idp.with("scope", json!(["chat.read"]))).await,
        IdJagError::InvalidClaim
    );
}

#[tokio::test]
async fn typ_must_be_oauth_id_jag_jwt() {
    let idp = Idp::start().await;
    let v = validator(&[&idp]);
    for typ in [
        Value::Null,
        json!("JWT"),
        json!("at+jwt"),
        json!("id-jag+jwt"),
        json!("dpop+jwt"),
    ] {
        assert_eq!(
            refusal(&v, &idp.with_header("typ", typ.clone())).await,
            IdJagError::Type,
            "{typ}"
        );
    }
    assert_eq!(
        refusal(&v, &idp.with_header("typ", json!(5))).await,
        IdJagError::Malformed
    );
    for typ in [
        "OAuth-ID-JAG+JWT",
        "application/oauth-id-jag+jwt",
        "Application/oauth-id-jag+jwt",
    ] {
        assert!(
            v.validate(&idp.with_header("typ", json!(typ)), CLIENT)
                .await
                .is_ok(),
            "{typ}"
        );
    }
}

#[tokio::test]
async fn an_untrusted_issuer_is_refused() {
    let trusted = Idp::start().await;
    let stranger = Idp::start().await;
    let v = validator(&[&trusted]);
    // Correctly signed by its own key, but not on the allowlist.
    assert_eq!(
        refusal(&v, &stranger.assertion()).await,
        IdJagError::UntrustedIssuer
    );
    assert_eq!(
        refusal(&v, &trusted.with("iss", Value::Null)).await,
        IdJagError::UntrustedIssuer
    );
    assert_eq!(
        refusal(&v, &trusted.with("iss", json!(format!("{}/", trusted.issuer())))).await,
        IdJagError::UntrustedIssuer,
        "iss compared exactly"
    );
}

#[tokio::test]
async fn a_trusted_issuer_signed_by_another_issuers_key_is_refused() {
    let a = Idp::start().await;
    let b = Idp::start().await;
    let v = validator(&[&a, &b]);
    // B's key, claiming to be A: A's key set has no such kid (even after a refetch).
    let forged = b.sign(&b.header(), &with(b.claims(), "iss", json!(a.issuer())));
    assert_eq!(refusal(&v, &forged).await, IdJagError::UnknownKey);
    // Without kid, A's own key is tried, and fails.
    let kidless = b.sign(
        &with(b.header(), "kid", Value::Null),
        &with(b.claims(), "iss", json!(a.issuer())),
    );
    assert_eq!(refusal(&v, &kidless).await, IdJagError::Signature);
    // A's kid, B's signature.
    let borrowed_kid = b.sign(&a.header(), &with(b.claims(), "iss", json!(a.issuer())));
    assert_eq!(refusal(&v, &borrowed_kid).await, IdJagError::Signature);
    // Both issuers' own grants pass.
    assert!(v.validate(&a.assertion(), CLIENT).await.is_ok());
    assert!(v.validate(&b.assertion(), CLIENT).await.is_ok());
}

#[tokio::test]
async fn aud_must_be_this_authorization_server() {
    let idp = Idp::start().await;
    let v = validator(&[&idp]);
    for aud in [
        Value::Null,
        json!("https://other-as.example.com"),
        json!("https://as.example.com/token"),
        json!("https://as.example.com.evil"),
        json!([]),
        // Draft §4.4.1: an array holds exactly one element.
        json!([AS, "https://other-as.example.com"]),
        json!(["https://other-as.example.com", AS]),
    ] {
        assert_eq!(
            refusal(&v, &idp.with("aud", aud.clone())).await,
            IdJagError::Audience,
            "{aud}"
        );
    }
    for aud in [json!(AS), json!([AS]), json!("https://AS.example.com/")] {
        assert!(
            v.validate(&idp.with("aud", aud.clone()), CLIENT).await.is_ok(),
            "{aud}"
        );
    }
}

#[tokio::test]
async fn sub_is_required() {
    let idp = Idp::start().await;
    let v = validator(&[&idp]);
    assert_eq!(
        refusal(&v, &idp.with("sub", Value::Null)).await,
        IdJagError::MissingClaim("sub")
    );
    assert_eq!(
        refusal(&v, &idp.with("sub", json!(""))).await,
        IdJagError::MissingClaim("sub")
    );
    assert_eq!(
        refusal(&v, &idp.with("sub", json!(42))).await,
        IdJagError::InvalidClaim
    );
}

#[tokio::test]
async fn an_expired_grant_is_refused_beyond_the_leeway() {
    let idp = Idp::start().await;
    let v = validator(&[&idp]);
    let now = now();
    let window = |iat: u64, exp: u64| with(with(idp.claims(), "iat", json!(iat)), "exp", json!(exp));
    let expired = idp.sign(&idp.header(), &window(now - 200, now - 61));
    assert_eq!(refusal(&v, &expired).await, IdJagError::Expired);
    let within_leeway = idp.sign(&idp.header(), &window(now - 200, now - 30));
    assert!(v.validate(&within_leeway, CLIENT).await.is_ok());
    let strict = builder(&[&idp]).leeway(Duration::ZERO).build().unwrap();
    let just_expired = idp.sign(&idp.header(), &window(now - 200, now - 30));
    assert_eq!(refusal(&strict, &just_expired).await, IdJagError::Expired);
    assert_eq!(
        refusal(&v, &idp.with("exp", Value::Null)).await,
        IdJagError::MissingClaim("exp")
    );
}

#[tokio::test]
async fn iat_and_nbf_in_the_future_are_refused_beyond_the_leeway() {
    let idp = Idp::start().await;
    let v = validator(&[&idp]);
    let now = now();
    let future = idp.sign(
        &idp.header(),
        &with(
            with(idp.claims(), "iat", json!(now + 120)),
            "exp",
            json!(now + 300),
        ),
    );
    assert_eq!(refusal(&v, &future).await, IdJagError::NotYetValid);
    let skewed = idp.sign(
        &idp.header(),
        &with(
            with(idp.claims(), "iat", json!(now + 30)),
            "exp",
            json!(now + 300),
        ),
    );
    assert!(v.validate(&skewed, CLIENT).await.is_ok(), "within the leeway");
    assert_eq!(
        refusal(&v, &idp.with("nbf", json!(now + 120))).await,
        IdJagError::NotYetValid
    );
    assert!(v.validate(&idp.with("nbf", json!(now)), CLIENT).await.is_ok());
    assert_eq!(
        refusal(&v, &idp.with("iat", Value::Null)).await,
        IdJagError::MissingClaim("iat")
    );
}

#[tokio::test]
async fn a_lifetime_longer_than_the_maximum_is_refused() {
    let idp = Idp::start().await;
    let v = validator(&[&idp]);
    let now = now();
    let lasting = |secs: u64| {
        idp.sign(
            &idp.header(),
            &with(with(idp.claims(), "iat", json!(now)), "exp", json!(now + secs)),
        )
    };
    assert!(
        v.validate(&lasting(300), CLIENT).await.is_ok(),
        "5 minutes is the default"
    );
    assert_eq!(refusal(&v, &lasting(301)).await, IdJagError::LifetimeTooLong);
    assert_eq!(refusal(&v, &lasting(3600)).await, IdJagError::LifetimeTooLong);
    // An old iat with a far exp is as long-lived.
    let old = idp.sign(
        &idp.header(),
        &with(
            with(idp.claims(), "iat", json!(now - 3000)),
            "exp",
            json!(now + 60),
        ),
    );
    assert_eq!(refusal(&v, &old).await, IdJagError::LifetimeTooLong);
    let relaxed = builder(&[&idp])
        .max_lifetime(Duration::from_secs(3600))
        .build()
        .unwrap();
    assert!(relaxed.validate(&lasting(3600), CLIENT).await.is_ok());
    let backwards = idp.sign(
        &idp.header(),
        &with(with(idp.claims(), "iat", json!(now + 10)), "exp", json!(now + 5)),
    );
    assert_eq!(
        refusal(&v, &backwards).await,
        IdJagError::InvalidClaim,
        "exp before iat"
    );
}

#[tokio::test]
async fn jti_is_required() {
    let idp = Idp::start().await;
    let v = validator(&[&idp]);
    assert_eq!(
        refusal(&v, &idp.with("jti", Value::Null)).await,
        IdJagError::MissingClaim("jti")
    );
    assert_eq!(
        refusal(&v, &idp.with("jti", json!(""))).await,
        IdJagError::MissingClaim("jti")
    );
}

#[tokio::test]
async fn a_replayed_jti_is_refused() {
    let idp = Idp::start().await;
    let v = validator(&[&idp]);
    let assertion = idp.assertion();
    assert!(v.validate(&assertion, CLIENT).await.is_ok());
    assert_eq!(refusal(&v, &assertion).await, IdJagError::Replayed);
    // A clone shares the replay cache.
    assert_eq!(refusal(&v.clone(), &assertion).await, IdJagError::Replayed);
    // Another assertion with the same jti from the same IdP is a replay too.
    let claims = idp.claims();
    let first = idp.sign(&idp.header(), &claims);
    let second = idp.sign(&idp.header(), &with(claims, "scope", json!("other")));
    assert!(v.validate(&first, CLIENT).await.is_ok());
    assert_eq!(refusal(&v, &second).await, IdJagError::Replayed);
}

#[tokio::test]
async fn a_refused_grant_does_not_use_up_its_jti() {
    let idp = Idp::start().await;
    let v = validator(&[&idp]);
    let assertion = idp.assertion();
    // A thief presenting it as another client is refused, and the owner can still use it.
    assert_eq!(
        v.validate(&assertion, "thief").await.unwrap_err(),
        IdJagError::ClientMismatch
    );
    assert!(v.validate(&assertion, CLIENT).await.is_ok());
}

#[tokio::test]
async fn the_same_jti_from_another_issuer_is_another_grant() {
    let a = Idp::start().await;
    let b = Idp::start().await;
    let v = validator(&[&a, &b]);
    let jti = json!("shared-jti");
    assert!(v.validate(&a.with("jti", jti.clone()), CLIENT).await.is_ok());
    assert!(v.validate(&b.with("jti", jti.clone()), CLIENT).await.is_ok());
    assert_eq!(refusal(&v, &a.with("jti", jti)).await, IdJagError::Replayed);
}

#[tokio::test]
async fn client_id_must_be_the_authenticated_client() {
    let idp = Idp::start().await;
    let v = validator(&[&idp]);
    assert_eq!(
        refusal(&v, &idp.with("client_id", json!("other-client"))).await,
        IdJagError::ClientMismatch
    );
    assert_eq!(
        v.validate(&idp.assertion(), "client-1234").await.unwrap_err(),
        IdJagError::ClientMismatch
    );
    assert_eq!(
        v.validate(&idp.assertion(), "").await.unwrap_err(),
        IdJagError::ClientMismatch
    );
    assert_eq!(
        refusal(&v, &idp.with("client_id", Value::Null)).await,
        IdJagError::MissingClaim("client_id")
    );
    assert_eq!(
        refusal(&v, &idp.with("client_id", json!(""))).await,
        IdJagError::MissingClaim("client_id")
    );
}

#[tokio::test]
async fn a_tampered_signature_or_payload_is_refused() {
    let idp = Idp::start().await;
    let v = validator(&[&idp]);
    let assertion = idp.assertion();
    let parts: Vec<&str> = assertion.split('.').collect();
    // Another payload under the original signature.
    let mut claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["sub"] = json!("admin");
    let swapped = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    assert_eq!(refusal(&v, &swapped).await, IdJagError::Signature);
    // One bit of the signature flipped.
    let mut signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    signature[10] ^= 1;
    let flipped = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(signature));
    assert_eq!(refusal(&v, &flipped).await, IdJagError::Signature);
    // Not a JWS at all.
    let unsigned = format!("{}.{}", parts[0], parts[1]);
    for junk in ["", "a.b", "a.b.c.d", "!!.!!.!!", unsigned.as_str()] {
        assert_eq!(refusal(&v, junk).await, IdJagError::Malformed, "{junk}");
    }
    assert!(
        v.validate(&assertion, CLIENT).await.is_ok(),
        "the original still passes"
    );
}

#[tokio::test]
async fn alg_none_and_hmac_are_refused() {
    let idp = Idp::start().await;
    let v = validator(&[&idp]);
    let encode = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let claims = encode(&idp.claims());
    let none = format!(
        "{}.{claims}.",
        encode(&json!({"alg": "none", "typ": "oauth-id-jag+jwt"}))
    );
    assert_eq!(refusal(&v, &none).await, IdJagError::Algorithm);
    // HS256 with the IdP's public key as the secret (the classic confusion).
    let header = json!({"alg": "HS256", "typ": "oauth-id-jag+jwt", "kid": idp.kid});
    let hs256 = jsonwebtoken::encode(
        &serde_json::from_value::<jsonwebtoken::Header>(header).unwrap(),
        &idp.claims(),
        &jsonwebtoken::EncodingKey::from_secret(idp.dev.jwks().to_string().as_bytes()),
    )
    .unwrap();
    assert_eq!(refusal(&v, &hs256).await, IdJagError::Algorithm);
    // RS256 signature, header claiming another allowed algorithm.
    assert_eq!(
        refusal(&v, &idp.with_header("alg", json!("ES256"))).await,
        IdJagError::Algorithm
    );
}

#[tokio::test]
async fn an_unreachable_jwks_is_unavailable_not_invalid() {
    let idp = Idp::start().await;
    // A loopback port nobody listens on any more.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let v = IdJagValidator::builder()
        .audience(AS)
        .trusted_issuer(idp.issuer(), format!("http://127.0.0.1:{port}/jwks"))
        .fetch_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let error = v.validate(&idp.assertion(), CLIENT).await.unwrap_err();
    assert!(error.is_unavailable(), "{error:?}");
    assert_eq!(error.oauth_error(), "temporarily_unavailable");
    assert!(matches!(&error, IdJagError::Unavailable(u) if u.retry_after().is_some()));
    assert!(v.prefetch().await.is_err());
    // Refusals that need no key still come first.
    assert_eq!(
        refusal(&v, &idp.with_header("typ", json!("JWT"))).await,
        IdJagError::Type
    );
}

/// A shared replay store that is down.
struct DownStore;

impl ReplayCache for DownStore {
    async fn first_use(&self, _: &ReplayKey, _: SystemTime, _: SystemTime) -> Result<bool, Unavailable> {
        Err(Unavailable::new("replay store down"))
    }
}

#[tokio::test]
async fn a_failing_replay_store_is_unavailable_never_acceptance() {
    let idp = Idp::start().await;
    let v = builder(&[&idp]).replay_cache(DownStore).build().unwrap();
    let assertion = idp.assertion();
    for _ in 0..2 {
        let error = v.validate(&assertion, CLIENT).await.unwrap_err();
        assert_eq!(
            error,
            IdJagError::Unavailable(Unavailable::new("replay store down"))
        );
        assert_eq!(error.oauth_error(), "temporarily_unavailable");
    }
}

/// A replay store that answers only asynchronously (no `first_use_now`).
#[derive(Default)]
struct SlowStore(std::sync::Mutex<std::collections::HashSet<ReplayKey>>);

impl ReplayCache for SlowStore {
    async fn first_use(
        &self,
        key: &ReplayKey,
        issued_at: SystemTime,
        until: SystemTime,
    ) -> Result<bool, Unavailable> {
        assert!(
            until > SystemTime::now() + Duration::from_secs(300),
            "kept past exp + leeway"
        );
        assert!(issued_at <= SystemTime::now(), "the grant's iat");
        tokio::task::yield_now().await;
        Ok(self.0.lock().unwrap().insert(*key))
    }
}

#[tokio::test]
async fn a_replay_store_without_a_fast_path_is_awaited() {
    let idp = Idp::start().await;
    let v = builder(&[&idp])
        .replay_cache(SlowStore::default())
        .build()
        .unwrap();
    let assertion = idp.assertion();
    assert!(v.validate(&assertion, CLIENT).await.is_ok());
    assert_eq!(refusal(&v, &assertion).await, IdJagError::Replayed);
}

#[tokio::test]
async fn an_oversized_assertion_is_refused_before_parsing() {
    let idp = Idp::start().await;
    let v = validator(&[&idp]);
    let padded = |len: usize| idp.with("pad", json!("x".repeat(len)));
    let base = padded(0).len();
    // The largest assertion within the crate's token limit is accepted...
    let mut pad = (MAX_TOKEN_LEN - base) * 3 / 4;
    while padded(pad + 1).len() <= MAX_TOKEN_LEN {
        pad += 1;
    }
    while padded(pad).len() > MAX_TOKEN_LEN {
        pad -= 1;
    }
    let largest = padded(pad);
    assert!(largest.len() > MAX_TOKEN_LEN - 4);
    assert!(v.validate(&largest, CLIENT).await.is_ok());
    // ...and one byte more is not.
    assert_eq!(refusal(&v, &padded(pad + 3)).await, IdJagError::TooLong);
    assert_eq!(
        refusal(&v, &"a".repeat(10 * MAX_TOKEN_LEN)).await,
        IdJagError::TooLong
    );
}

#[tokio::test]
async fn a_dpop_binding_is_returned_and_other_bindings_refused() {
    let idp = Idp::start().await;
    let v = validator(&[&idp]);
    let jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
    let grant = v
        .validate(&idp.with("cnf", json!({ "jkt": jkt })), CLIENT)
        .await
        .unwrap();
    assert_eq!(grant.dpop_jkt(), Some(jkt));
    assert_eq!(grant.check_dpop_proof(None), Err(IdJagError::DpopProofRequired));
    assert_eq!(
        grant.check_dpop_proof(Some("another-key-thumbprint")),
        Err(IdJagError::DpopKeyMismatch)
    );
    assert_eq!(grant.check_dpop_proof(Some(jkt)), Ok(()));
    assert_eq!(
        refusal(&v, &idp.with("cnf", json!({ "x5t#S256": jkt }))).await,
        IdJagError::UnsupportedBinding
    );
    assert_eq!(
        refusal(&v, &idp.with("cnf", json!({ "jkt": "short" }))).await,
        IdJagError::InvalidClaim
    );
}

#[tokio::test]
async fn optional_identity_claims_are_returned_typed() {
    let idp = Idp::start().await;
    let v = validator(&[&idp]);
    let now = now();
    let claims = idp.claims();
    let claims = [
        ("tenant", json!("acme")),
        ("aud_tenant", json!("acme-chat")),
        ("aud_sub", json!("alice")),
        ("auth_time", json!(now - 30)),
        ("acr", json!("phr")),
        ("amr", json!(["mfa", "hwk"])),
        ("email", json!("alice@acme.example")),
        ("act", json!({"sub": "agent-7"})),
    ]
    .into_iter()
    .fold(claims, |c, (name, value)| with(c, name, value));
    let grant = v
        .validate(&idp.sign(&idp.header(), &claims), CLIENT)
        .await
        .unwrap();
    assert_eq!(grant.tenant(), Some("acme"));
    assert_eq!(grant.aud_tenant(), Some("acme-chat"));
    assert_eq!(grant.aud_sub(), Some("alice"));
    assert_eq!(grant.auth_time(), Some(at(now - 30)));
    assert_eq!(grant.acr(), Some("phr"));
    assert_eq!(grant.amr(), ["mfa", "hwk"]);
    assert_eq!(grant.email(), Some("alice@acme.example"));
    assert_eq!(grant.claims()["act"]["sub"], "agent-7");
    // Debug shows who, not the e-mail or the raw claims.
    let debug = format!("{grant:?}");
    assert!(debug.contains("U019488227") && !debug.contains("alice@acme.example"));
    assert_eq!(
        refusal(&v, &idp.with("amr", json!("mfa"))).await,
        IdJagError::InvalidClaim
    );
    assert_eq!(
        refusal(&v, &idp.with("auth_time", json!("yesterday"))).await,
        IdJagError::InvalidClaim
    );
}

#[tokio::test]
async fn errors_never_echo_the_assertion() {
    let idp = Idp::start().await;
    let v = validator(&[&idp]);
    let marker = "Zmarker-7c1e";
    for assertion in [
        idp.with("client_id", json!(marker)),
        idp.with("aud", json!(marker)),
        idp.with_header("typ", json!(marker)),
        idp.with("iss", json!(marker)),
        idp.with("resource", json!(marker)),
    ] {
        let error = v.validate(&assertion, CLIENT).await.unwrap_err();
        let shown = format!("{error} {error:?}");
        assert!(
            !shown.contains(marker) && !shown.contains(&assertion[..20]),
            "{shown}"
        );
    }
}

#[tokio::test]
async fn keys_can_come_from_discovery() {
    let idp = Idp::start().await;
    let v = IdJagValidator::builder()
        .audience(AS)
        .trusted_issuer_discovery(idp.issuer())
        .build()
        .unwrap();
    v.prefetch().await.unwrap();
    assert!(v.validate(&idp.assertion(), CLIENT).await.is_ok());
}

#[test]
fn configuration_errors_are_reported_at_build_time() {
    let b = || IdJagValidator::builder().audience(AS);
    assert_eq!(b().build().unwrap_err(), BuildError::NoTrustedIssuer);
    assert_eq!(
        IdJagValidator::builder()
            .trusted_issuer("https://idp.example", "https://idp.example/jwks")
            .build()
            .unwrap_err(),
        BuildError::NoAudience
    );
    assert_eq!(
        b().trusted_issuer("", "https://idp.example/jwks")
            .build()
            .unwrap_err(),
        BuildError::NoTrustedIssuer
    );
    assert_eq!(
        b().trusted_issuer("https://idp.example", "https://idp.example/jwks")
            .trusted_issuer_discovery("https://idp.example")
            .build()
            .unwrap_err(),
        BuildError::DuplicateIssuer("https://idp.example".into())
    );
    // Plain http only to loopback, as for every fetch of the crate.
    for bad in [
        b().trusted_issuer("https://idp.example", "http://idp.example/jwks"),
        b().trusted_issuer("https://idp.example", "not a url"),
        b().trusted_issuer_discovery("http://idp.example"),
    ] {
        assert!(matches!(bad.build(), Err(BuildError::Url { .. })));
    }
    assert!(
        b().trusted_issuer("https://idp.example", "http://127.0.0.1:9/jwks")
            .build()
            .is_ok()
    );
    assert_eq!(
        b().trusted_issuer("https://idp.example", "https://idp.example/jwks")
            .max_lifetime(Duration::ZERO)
            .build()
            .unwrap_err(),
        BuildError::ZeroMaxLifetime
    );
    let v = b()
        .trusted_issuer("https://idp.example", "https://idp.example/jwks")
        .build()
        .unwrap();
    let debug = format!("{v:?}");
    assert!(debug.contains("https://idp.example") && debug.contains(AS));
}
