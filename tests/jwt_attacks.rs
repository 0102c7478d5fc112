//! Attacks on the JWT path, each next to a control that the same key and
//! verifier accept: algorithm confusion, `alg: none`, bad signatures
//! (ECDSA r = s = 0, Ed25519 malleability), weak keys, tampered and duplicated
//! claims, `crit`, embedded keys and key URLs, segment counts, base64 tricks,
//! claim types and time checks; a handful also through the HTTP layer.

mod support_jwks;

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::signature::{self, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::{Request, StatusCode, header};
use serde_json::{Value, json};
use support_jwks::*;
use tower::{ServiceBuilder, ServiceExt};
use tower_bearer::jwt::{Algorithm, Issuer, JwtVerifier, Profile};
use tower_bearer::{AccessToken, InvalidToken, Principal, TokenVerifier, TokenVerifierLayer, VerifyError};

/// A JWKS server with one key and a verifier for it.
struct Env {
    server: JwksServer,
    key: TestKey,
    verifier: Arc<JwtVerifier>,
}

impl Env {
    async fn new(alg: Algorithm) -> Env {
        Self::with_keys(TestKey::generate(alg, "good"), &[]).await
    }

    /// A server publishing `key` and `extra` keys, and a default verifier.
    async fn with_keys(key: TestKey, extra: &[&TestKey]) -> Env {
        let mut keys = vec![&key];
        keys.extend_from_slice(extra);
        let server = JwksServer::start(&keys).await;
        let verifier = verifier_for(&server).build().expect("verifier builds");
        Env {
            server,
            key,
            verifier: Arc::new(verifier),
        }
    }

    fn claims(&self) -> Value {
        access_token_claims(&self.server.issuer())
    }

    async fn verify(&self, token: &str) -> Result<AccessToken, VerifyError> {
        self.verifier.verify(token).await
    }

    /// The control: a well-formed token of this env's key is accepted.
    async fn control(&self) {
        let token = self.key.token(&self.claims());
        let at = self.verify(&token).await.expect("control token must verify");
        assert_eq!(at.principal().subject(), Some("user-42"));
    }

    async fn rejects(&self, token: &str, what: &str) -> InvalidToken {
        expect_invalid(self.verify(token).await, what)
    }
}

fn segments(token: &str) -> Vec<&str> {
    token.split('.').collect()
}

/// `header.payload` segments taken verbatim (even when not canonical base64url)
/// and genuinely signed by `key`: only the encoding check can refuse the result.
fn resigned(key: &TestKey, header: &str, payload: &str) -> String {
    let input = format!("{header}.{payload}");
    format!("{input}.{}", b64u(key.sign(input.as_bytes())))
}

// ---- algorithm confusion ----------------------------------------------------

#[tokio::test]
async fn hs256_keyed_with_the_rsa_public_key_is_rejected() {
    let env = Env::new(Algorithm::RS256).await;
    env.control().await;
    let header = json!({ "alg": "HS256", "kid": "good", "typ": "at+jwt" });
    let jwk = env.key.jwk();
    let n = URL_SAFE_NO_PAD
        .decode(jwk["n"].as_str().expect("n"))
        .expect("n bytes");
    let pkcs1_der = env.key.public_key_bytes();
    let pem = format!(
        "-----BEGIN RSA PUBLIC KEY-----\n{}\n-----END RSA PUBLIC KEY-----\n",
        STANDARD.encode(&pkcs1_der)
    );
    let secrets: [(&str, Vec<u8>); 4] = [
        ("PKCS#1 DER", pkcs1_der.clone()),
        ("PEM", pem.into_bytes()),
        ("modulus", n),
        ("JWK JSON", jwk.to_string().into_bytes()),
    ];
    for (what, secret) in secrets {
        let token = hs256_token(&secret, &header, &env.claims());
        env.rejects(&token, &format!("HS256 keyed with the RSA public key as {what}"))
            .await;
    }
}

#[tokio::test]
async fn rs_ps_es_header_swaps_are_rejected() {
    let rsa = TestKey::generate(Algorithm::RS256, "good");
    let env = Env::with_keys(rsa.clone(), &[]).await;
    env.control().await;
    let claims = env.claims();
    // Signed RS256, header says PS256 (and the other way round, with a PS256 key).
    let input = format!(
        "{}.{}",
        b64u(json!({"alg": "PS256", "kid": "good", "typ": "at+jwt"}).to_string()),
        b64u(claims.to_string())
    );
    let token = format!(
        "{input}.{}",
        b64u(rsa.sign_as(Algorithm::RS256, input.as_bytes()))
    );
    // The JWK says RS256: refused as the wrong algorithm for the key …
    assert_eq!(
        env.rejects(&token, "PS256 header, JWK alg RS256").await,
        InvalidToken::Algorithm
    );
    // … and with a JWK without `alg` (RS256 and PS256 both allowed), by the signature.
    let mut bare = rsa.bare_jwk();
    bare["kid"] = json!("good");
    env.server.serve_json(&json!({ "keys": [bare] }));
    let loose = verifier_for(&env.server).build().expect("verifier");
    loose
        .verify(&rsa.token(&claims))
        .await
        .expect("control: RS256 with a JWK without alg");
    let ps = rsa.with(Algorithm::PS256, "good");
    loose
        .verify(&ps.token(&claims))
        .await
        .expect("control: PS256 with a JWK without alg");
    assert_eq!(
        expect_invalid(
            loose.verify(&token).await,
            "PKCS#1 v1.5 signature under a PS256 header"
        ),
        InvalidToken::Signature
    );
    let input = format!(
        "{}.{}",
        b64u(json!({"alg": "RS256", "kid": "good", "typ": "at+jwt"}).to_string()),
        b64u(claims.to_string())
    );
    let token = format!(
        "{input}.{}",
        b64u(rsa.sign_as(Algorithm::PS256, input.as_bytes()))
    );
    assert_eq!(
        expect_invalid(loose.verify(&token).await, "PSS signature under an RS256 header"),
        InvalidToken::Signature
    );
    // Header ES256 on an RSA key (whatever the signature).
    let es_header = json!({"alg": "ES256", "kid": "good", "typ": "at+jwt"});
    let input = format!("{}.{}", b64u(es_header.to_string()), b64u(claims.to_string()));
    let token = format!(
        "{input}.{}",
        b64u(rsa.sign_as(Algorithm::RS256, input.as_bytes()))
    );
    assert_eq!(
        env.rejects(&token, "ES256 header on an RSA key").await,
        InvalidToken::Algorithm
    );
    // Header EdDSA on an RSA key.
    let ed_header = json!({"alg": "EdDSA", "kid": "good", "typ": "at+jwt"});
    let token = rsa.token_with(&ed_header, &claims);
    assert_eq!(
        env.rejects(&token, "EdDSA header on an RSA key").await,
        InvalidToken::Algorithm
    );
    // Header RS256 on an EC key.
    let ec_env = Env::new(Algorithm::ES256).await;
    ec_env.control().await;
    let token = ec_env.key.token_with(
        &json!({"alg": "RS256", "kid": "good", "typ": "at+jwt"}),
        &ec_env.claims(),
    );
    assert_eq!(
        ec_env.rejects(&token, "RS256 header on an EC key").await,
        InvalidToken::Algorithm
    );
}

/// RFC 8725 §3.1: a key is used with exactly one algorithm. A JWK that says
/// `"alg": "RS256"` must not verify a (genuine) PS256 signature of the same key.
#[tokio::test]
async fn the_jwk_alg_binds_the_algorithm() {
    let env = Env::new(Algorithm::RS256).await;
    env.control().await;
    let ps = env.key.with(Algorithm::PS256, "good");
    let token = ps.token(&env.claims());
    env.rejects(&token, "PS256 token for a JWK with alg RS256").await;
}

#[tokio::test]
async fn alg_none_in_any_case_is_rejected() {
    let env = Env::new(Algorithm::ES256).await;
    env.control().await;
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = json!({ "alg": alg, "kid": "good", "typ": "at+jwt" });
        let unsigned = format!("{}.{}.", b64u(header.to_string()), b64u(env.claims().to_string()));
        env.rejects(&unsigned, &format!("alg {alg} without signature"))
            .await;
        let signed = env.key.token_with(&header, &env.claims());
        env.rejects(&signed, &format!("alg {alg} with a real signature"))
            .await;
    }
}

// ---- signatures -------------------------------------------------------------

#[tokio::test]
async fn ecdsa_zero_signature_is_rejected() {
    let env = Env::new(Algorithm::ES256).await;
    env.control().await;
    let token = env.key.token(&env.claims());
    let parts = segments(&token);
    let zero = format!("{}.{}.{}", parts[0], parts[1], b64u([0u8; 64]));
    assert_eq!(
        env.rejects(&zero, "ES256 r = s = 0").await,
        InvalidToken::Signature
    );
    // r = s = 0 in DER form, and an empty signature.
    let der = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        b64u([0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00])
    );
    env.rejects(&der, "ES256 DER r = s = 0").await;
    env.rejects(&format!("{}.{}.", parts[0], parts[1]), "ES256 empty signature")
        .await;
}

/// Adds the Ed25519 group order L to the little-endian scalar S.
fn add_l(s: &[u8]) -> Vec<u8> {
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut out = vec![0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let v = u16::from(s[i]) + u16::from(L[i]) + carry;
        out[i] = v as u8;
        carry = v >> 8;
    }
    assert_eq!(carry, 0, "S + L overflows 256 bits");
    out
}

#[tokio::test]
async fn ed25519_malleated_signature_is_rejected() {
    let env = Env::new(Algorithm::EdDSA).await;
    env.control().await;
    let token = env.key.token(&env.claims());
    let parts = segments(&token);
    let sig = URL_SAFE_NO_PAD.decode(parts[2]).expect("sig");
    let mut malleated = sig[..32].to_vec();
    malleated.extend(add_l(&sig[32..]));
    let forged = format!("{}.{}.{}", parts[0], parts[1], b64u(&malleated));
    assert_eq!(
        env.rejects(&forged, "Ed25519 S + L").await,
        InvalidToken::Signature
    );
}

#[tokio::test]
async fn rsa_1024_bit_key_is_refused() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/rsa1024_token.json");
    let fixture: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json");
    let token = fixture["token"].as_str().expect("token");
    let jwk = &fixture["jwk"];
    // The fixture is genuine: aws-lc-rs' legacy 1024-bit verification accepts it.
    let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().expect("n")).expect("n");
    let e = URL_SAFE_NO_PAD.decode(jwk["e"].as_str().expect("e")).expect("e");
    assert_eq!(n.len() * 8, 1024);
    let (input, sig) = token.rsplit_once('.').expect("token");
    signature::RsaPublicKeyComponents { n: &n, e: &e }
        .verify(
            &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
            input.as_bytes(),
            &URL_SAFE_NO_PAD.decode(sig).expect("sig"),
        )
        .expect("fixture signature is valid");

    // Published next to a good key, so that the set itself loads.
    let good = TestKey::generate(Algorithm::EdDSA, "good");
    let server = JwksServer::start(&[]).await;
    server.serve_json(&json!({ "keys": [jwk, good.jwk()] }));
    let issuer = fixture["issuer"].as_str().expect("issuer");
    let verifier = JwtVerifier::builder()
        .add_issuer(Issuer::new(issuer).audience(AUDIENCE).jwks_uri(server.jwks_uri()))
        .build()
        .expect("verifier");
    let mut claims = access_token_claims(issuer);
    claims["aud"] = json!(AUDIENCE);
    verifier
        .verify(&good.token(&claims))
        .await
        .expect("control: the good key of the same set");
    assert_eq!(
        expect_invalid(verifier.verify(token).await, "token of a 1024-bit RSA key"),
        InvalidToken::UnknownKey,
        "a 1024-bit RSA key is not in the loaded set"
    );
}

// ---- claims and header tampering ---------------------------------------------

#[tokio::test]
async fn tampered_claims_are_rejected() {
    let env = Env::new(Algorithm::PS256).await;
    env.control().await;
    let token = env.key.token(&env.claims());
    let parts = segments(&token);
    let mut claims = env.claims();
    claims["sub"] = json!("admin");
    let tampered = format!("{}.{}.{}", parts[0], b64u(claims.to_string()), parts[2]);
    assert_eq!(
        env.rejects(&tampered, "payload changed").await,
        InvalidToken::Signature
    );
    let header = json!({"alg": "PS256", "kid": "good", "typ": "JWT"});
    let tampered = format!("{}.{}.{}", b64u(header.to_string()), parts[1], parts[2]);
    assert_eq!(
        env.rejects(&tampered, "header changed").await,
        InvalidToken::Signature
    );
}

#[tokio::test]
async fn duplicate_members_are_rejected() {
    let env = Env::new(Algorithm::EdDSA).await;
    env.control().await;
    let claims = env.claims().to_string();
    // Duplicate claim: a second `sub` after a valid claim set.
    let dup_claims = format!("{},\"sub\":\"admin\"}}", &claims[..claims.len() - 1]);
    let header = env.key.header().to_string();
    let token = env.key.sign_raw(header.as_bytes(), dup_claims.as_bytes());
    env.rejects(&token, "duplicate sub").await;
    // Duplicate header member.
    let dup_header = r#"{"alg":"EdDSA","kid":"good","typ":"at+jwt","kid":"other"}"#;
    let token = env.key.sign_raw(dup_header.as_bytes(), claims.as_bytes());
    env.rejects(&token, "duplicate kid").await;
    let dup_alg = r#"{"alg":"EdDSA","kid":"good","typ":"at+jwt","alg":"none"}"#;
    let token = env.key.sign_raw(dup_alg.as_bytes(), claims.as_bytes());
    env.rejects(&token, "duplicate alg").await;
}

#[tokio::test]
async fn crit_is_rejected() {
    let env = Env::new(Algorithm::ES256).await;
    env.control().await;
    for crit in [json!(["exp"]), json!(["b64"]), json!([]), json!("x")] {
        let header = json!({"alg": "ES256", "kid": "good", "typ": "at+jwt", "crit": crit, "b64": true});
        let token = env.key.token_with(&header, &env.claims());
        env.rejects(&token, &format!("crit {crit}")).await;
    }
}

#[tokio::test]
async fn embedded_jwk_is_never_used() {
    let env = Env::new(Algorithm::ES256).await;
    env.control().await;
    let attacker = TestKey::generate(Algorithm::ES256, "attacker");
    // Attacker's own kid, key embedded in the header.
    let mut header = attacker.header();
    header["jwk"] = attacker.jwk();
    let token = attacker.token_with(&header, &env.claims());
    env.rejects(&token, "embedded jwk, attacker kid").await;
    // The legitimate kid, attacker's key embedded and used to sign.
    let mut header = env.key.header();
    header["jwk"] = attacker.jwk();
    let token = attacker.token_with(&header, &env.claims());
    assert_eq!(
        env.rejects(&token, "embedded jwk, good kid").await,
        InvalidToken::Signature
    );
    // x5c with garbage certificate.
    let mut header = attacker.header();
    header["x5c"] = json!([STANDARD.encode(attacker.public_key_bytes())]);
    let token = attacker.token_with(&header, &env.claims());
    env.rejects(&token, "x5c").await;
}

#[tokio::test]
async fn jku_and_x5u_are_never_fetched() {
    let env = Env::new(Algorithm::RS256).await;
    env.control().await;
    let attacker = TestKey::rsa_slot(Algorithm::RS256, "attacker", 1);
    let attacker_server = JwksServer::start(&[&attacker]).await;
    for member in ["jku", "x5u"] {
        for kid in ["attacker", "good"] {
            let mut header = attacker.with(Algorithm::RS256, kid).header();
            header[member] = json!(attacker_server.jwks_uri());
            let token = attacker
                .with(Algorithm::RS256, kid)
                .token_with(&header, &env.claims());
            env.rejects(&token, &format!("{member} with kid {kid}")).await;
        }
    }
    // Even after the unknown-kid path had its chance to run.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        attacker_server.requests(),
        0,
        "the jku/x5u target must never be contacted"
    );
}

// ---- compact serialization ----------------------------------------------------

#[tokio::test]
async fn wrong_segment_counts_are_rejected() {
    let env = Env::new(Algorithm::EdDSA).await;
    env.control().await;
    let token = env.key.token(&env.claims());
    let parts = segments(&token);
    let cases = [
        ("2 segments", format!("{}.{}", parts[0], parts[1])),
        ("4 segments", format!("{token}.{}", parts[2])),
        ("4 segments, empty last", format!("{token}.")),
        (
            "5 segments (JWE shape)",
            format!("{}.{}.{}.{}.{}", parts[0], "", parts[1], "AAAA", parts[2]),
        ),
        ("1 segment", parts[1].to_owned()),
        ("empty", String::new()),
        ("dots only", "..".to_owned()),
    ];
    for (what, token) in cases {
        assert_eq!(env.rejects(&token, what).await, InvalidToken::Malformed, "{what}");
    }
}

#[tokio::test]
async fn non_canonical_base64url_is_rejected() {
    let env = Env::new(Algorithm::RS256).await;
    env.control().await;
    // A payload whose length makes padding appear in standard base64.
    let mut claims = env.claims();
    claims["pad"] = json!("x");
    let token = env.key.token(&claims);
    let [h, p, s] = segments(&token)[..] else {
        panic!("3 segments")
    };
    let padded = |seg: &str| {
        let rem = seg.len() % 4;
        if rem == 0 {
            format!("{seg}=")
        } else {
            format!("{seg}{}", "=".repeat(4 - rem))
        }
    };
    let std_alphabet = |seg: &str| seg.replace('-', "+").replace('_', "/");
    assert!(
        p.len() % 4 != 0,
        "the payload segment needs padding in standard base64"
    );
    let key = &env.key;
    let cases = [
        ("padded header", resigned(key, &padded(h), p)),
        ("padded payload", resigned(key, h, &padded(p))),
        ("padded signature", format!("{h}.{p}.{}", padded(s))),
        (
            "space in payload",
            resigned(key, h, &format!("{} {}", &p[..4], &p[4..])),
        ),
        (
            "newline in header",
            resigned(key, &format!("{}\n{}", &h[..4], &h[4..]), p),
        ),
        ("invalid character in payload", resigned(key, h, &format!("{p}?"))),
        (
            "invalid character in header",
            resigned(key, &format!("{}?{}", &h[..4], &h[4..]), p),
        ),
    ];
    for (what, token) in cases {
        assert_eq!(env.rejects(&token, what).await, InvalidToken::Malformed, "{what}");
    }
    // The standard alphabet, when the segments use `-`/`_` at all.
    let mut claims = env.claims();
    claims["x"] = json!("\u{fbff}\u{fbff}~~~???>>>"); // encodes to `-` and `_`
    let token = env.key.token(&claims);
    let [h, p, _] = segments(&token)[..] else {
        panic!("3 segments")
    };
    assert!(
        p.contains(['-', '_']),
        "payload segment {p} should use the URL-safe alphabet"
    );
    let token = resigned(key, &std_alphabet(h), &std_alphabet(p));
    assert_eq!(
        env.rejects(&token, "standard base64 alphabet").await,
        InvalidToken::Malformed
    );
    // Non-zero unused trailing bits in a payload segment (Wycheproof's
    // ModifiedUnusedBitsInPayload, here with an asymmetric key).
    let mut claims = env.claims();
    claims["pad"] = json!("");
    let payload = claims.to_string();
    let p = (0..3)
        .map(|extra| b64u(format!("{payload}{}", " ".repeat(extra))))
        .find(|seg| seg.len() % 4 == 2)
        .expect("a payload length with 4 unused bits");
    let token = env.key.sign_raw(
        env.key.header().to_string().as_bytes(),
        URL_SAFE_NO_PAD.decode(&p).expect("p").as_slice(),
    );
    env.verify(&token)
        .await
        .expect("control: payload with trailing whitespace");
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let last = *p.as_bytes().last().expect("last");
    let idx = alphabet.iter().position(|&c| c == last).expect("b64url char");
    let h = b64u(env.key.header().to_string());
    let tweaked = format!("{}{}", &p[..p.len() - 1], alphabet[idx | 1] as char);
    assert_eq!(
        env.rejects(
            &resigned(key, &h, &tweaked),
            "non-zero unused bits in the payload"
        )
        .await,
        InvalidToken::Malformed
    );
    // Non-zero unused trailing bits: same bytes, different text.
    let sig_bytes = URL_SAFE_NO_PAD.decode(s).expect("sig");
    assert_eq!(
        sig_bytes.len() % 3,
        1,
        "a 256-byte signature leaves 4 unused bits"
    );
    let last = s.chars().last().expect("last char");
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let idx = alphabet
        .iter()
        .position(|&c| c == last as u8)
        .expect("b64url char");
    let tweaked = alphabet[idx | 1] as char; // sets an unused bit
    assert_ne!(tweaked, last, "2 significant bits leave the low bits zero");
    let token = format!("{h}.{p}.{}{tweaked}", &s[..s.len() - 1]);
    env.rejects(&token, "non-zero unused bits in the signature").await;
}

#[tokio::test]
async fn oversized_token_is_rejected() {
    let env = Env::new(Algorithm::EdDSA).await;
    env.control().await;
    let mut claims = env.claims();
    claims["pad"] = json!("a".repeat(11 * 1024));
    let token = env.key.token(&claims);
    assert!(token.len() < 16 * 1024);
    env.verify(&token).await.expect("a 15 KiB token is accepted");
    claims["pad"] = json!("a".repeat(13 * 1024));
    let token = env.key.token(&claims);
    assert!(token.len() > 16 * 1024);
    assert_eq!(
        env.rejects(&token, "token over 16 KiB").await,
        InvalidToken::Malformed
    );
}

// ---- claim types and values ----------------------------------------------------

#[tokio::test]
async fn numeric_claims_must_be_numbers_in_range() {
    let env = Env::new(Algorithm::ES256).await;
    env.control().await;
    let header = env.key.header().to_string();
    let claims = env.claims();
    let replace = |claim: &str, raw: &str| {
        let mut c = claims.clone();
        c[claim] = json!("@@");
        c.to_string().replace("\"@@\"", raw)
    };
    let cases = [
        ("exp", "\"9999999999\""),
        ("exp", "1e400"),
        ("exp", "99999999999999999999999999999999"),
        ("exp", "-1"),
        ("exp", "null"),
        ("exp", "true"),
        ("exp", "[9999999999]"),
        ("iat", "\"0\""),
        ("iat", "1e400"),
        ("nbf", "\"0\""),
        ("nbf", "99999999999999999999999999999999"),
    ];
    for (claim, raw) in cases {
        let token = env
            .key
            .sign_raw(header.as_bytes(), replace(claim, raw).as_bytes());
        env.rejects(&token, &format!("{claim} = {raw}")).await;
    }
}

#[tokio::test]
async fn time_claims_honour_the_leeway() {
    let env = Env::new(Algorithm::EdDSA).await;
    env.control().await;
    let now = now();
    let with = |claim: &str, value: Value| {
        let mut c = env.claims();
        c[claim] = value;
        env.key.token(&c)
    };
    env.verify(&with("exp", json!(now - 30)))
        .await
        .expect("expired 30 s ago, within the 60 s leeway");
    assert_eq!(
        env.rejects(&with("exp", json!(now - 120)), "expired").await,
        InvalidToken::Expired
    );
    env.verify(&with("nbf", json!(now + 30)))
        .await
        .expect("nbf 30 s ahead, within the leeway");
    assert_eq!(
        env.rejects(&with("nbf", json!(now + 600)), "nbf ahead").await,
        InvalidToken::NotYetValid
    );
    let mut no_exp = env.claims();
    no_exp.as_object_mut().expect("object").remove("exp");
    env.rejects(&env.key.token(&no_exp), "no exp").await;
}

#[tokio::test]
async fn issuer_audience_and_profile_are_enforced() {
    let env = Env::new(Algorithm::ES256).await;
    env.control().await;
    let with = |claim: &str, value: Value| {
        let mut c = env.claims();
        c[claim] = value;
        env.key.token(&c)
    };
    assert_eq!(
        env.rejects(&with("iss", json!("https://evil.example")), "iss")
            .await,
        InvalidToken::Issuer
    );
    assert_eq!(
        env.rejects(
            &with("iss", json!(format!("{}/", env.server.issuer()))),
            "iss with trailing slash"
        )
        .await,
        InvalidToken::Issuer
    );
    assert_eq!(
        env.rejects(&with("aud", json!("https://other.example")), "aud")
            .await,
        InvalidToken::Audience
    );
    env.verify(&with("aud", json!(["https://other.example", AUDIENCE])))
        .await
        .expect("aud array containing us");
    assert_eq!(
        env.rejects(&with("aud", json!([])), "empty aud").await,
        InvalidToken::Audience
    );
    for claim in ["sub", "client_id", "iat", "jti"] {
        let mut c = env.claims();
        c.as_object_mut().expect("object").remove(claim);
        env.rejects(&env.key.token(&c), &format!("RFC 9068 token without {claim}"))
            .await;
    }
    for typ in [json!("JWT"), json!("jwt"), Value::Null] {
        let mut header = env.key.header();
        match typ {
            Value::Null => {
                header.as_object_mut().expect("object").remove("typ");
            }
            t => header["typ"] = t,
        }
        let token = env.key.token_with(&header, &env.claims());
        assert_eq!(
            env.rejects(&token, &format!("typ {}", header["typ"])).await,
            InvalidToken::Type
        );
    }
    let mut header = env.key.header();
    header["typ"] = json!("application/at+jwt");
    env.verify(&env.key.token_with(&header, &env.claims()))
        .await
        .expect("typ application/at+jwt");
}

#[tokio::test]
async fn relaxed_profile_accepts_plain_jwt() {
    let key = TestKey::generate(Algorithm::ES256, "good");
    let server = JwksServer::start(&[&key]).await;
    let verifier = verifier_for(&server)
        .profile(Profile::relaxed())
        .build()
        .expect("verifier");
    let mut header = key.header();
    header["typ"] = json!("JWT");
    let mut claims = access_token_claims(&server.issuer());
    claims.as_object_mut().expect("object").remove("jti");
    verifier
        .verify(&key.token_with(&header, &claims))
        .await
        .expect("relaxed: typ JWT, no jti");
    // Signatures and claims are still checked.
    claims["aud"] = json!("https://other.example");
    assert!(verifier.verify(&key.token_with(&header, &claims)).await.is_err());
}

// ---- through the HTTP layer ----------------------------------------------------

async fn http_status(
    verifier: Arc<JwtVerifier>,
    token: &str,
) -> (StatusCode, Option<String>, Option<String>) {
    let svc = ServiceBuilder::new()
        .layer(
            TokenVerifierLayer::new(verifier)
                .resource_metadata("http://127.0.0.1:7000/.well-known/oauth-protected-resource")
                .unwrap(),
        )
        .service_fn(|req: Request<String>| async move {
            let who = req
                .extensions()
                .get::<Principal>()
                .and_then(|p| p.subject().map(str::to_owned));
            Ok::<_, std::convert::Infallible>(http::Response::new(who.unwrap_or_default()))
        });
    let req = Request::builder()
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(String::new())
        .expect("request");
    let res = svc.oneshot(req).await.expect("infallible");
    let get = |name| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let challenge = get(header::WWW_AUTHENTICATE);
    let retry_after = get(header::RETRY_AFTER);
    (res.status(), challenge, retry_after)
}

#[tokio::test]
async fn attacks_through_the_http_layer_get_401_invalid_token() {
    let env = Env::new(Algorithm::RS256).await;
    let good = env.key.token(&env.claims());
    let (status, _, _) = http_status(env.verifier.clone(), &good).await;
    assert_eq!(status, StatusCode::OK, "control");

    let parts = segments(&good);
    let none = format!(
        "{}.{}.",
        b64u(json!({"alg": "none", "typ": "at+jwt"}).to_string()),
        parts[1]
    );
    let mut expired = env.claims();
    expired["exp"] = json!(now() - 3600);
    let mut tampered = env.claims();
    tampered["sub"] = json!("admin");
    let attacker = TestKey::rsa_slot(Algorithm::RS256, "good", 2);
    let mut jku_header = attacker.header();
    jku_header["jku"] = json!("http://127.0.0.1:9/jwks");
    let hs = hs256_token(
        &env.key.public_key_bytes(),
        &json!({"alg": "HS256", "kid": "good"}),
        &env.claims(),
    );
    let cases = [
        ("alg none", none),
        ("expired", env.key.token(&expired)),
        (
            "tampered",
            format!("{}.{}.{}", parts[0], b64u(tampered.to_string()), parts[2]),
        ),
        (
            "jku + foreign key",
            attacker.token_with(&jku_header, &env.claims()),
        ),
        ("HS256 confusion", hs),
        ("4 segments", format!("{good}.x")),
    ];
    for (what, token) in cases {
        let (status, challenge, _) = http_status(env.verifier.clone(), &token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
        let challenge = challenge.unwrap_or_else(|| panic!("{what}: no WWW-Authenticate"));
        assert!(challenge.starts_with("Bearer "), "{what}: {challenge}");
        assert!(
            challenge.contains(r#"error="invalid_token""#),
            "{what}: {challenge}"
        );
        assert!(!challenge.contains(&token), "{what}: challenge echoes the token");
    }
}

#[tokio::test]
async fn unreachable_jwks_through_the_http_layer_is_503() {
    let key = TestKey::generate(Algorithm::EdDSA, "good");
    let server = JwksServer::start_with(Behaviour::Status(500)).await;
    let verifier = verifier_for(&server).build().expect("verifier");
    let token = key.token(&access_token_claims(&server.issuer()));
    let (status, challenge, retry_after) = http_status(Arc::new(verifier), &token).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        challenge.as_deref().is_none_or(|c| !c.contains("invalid_token")),
        "an outage is not invalid_token: {challenge:?}"
    );
    assert!(retry_after.is_some(), "503 carries Retry-After");
}

/// Sanity check of the raw-key helper used by the confusion tests.
#[test]
fn public_key_bytes_are_the_verification_key() {
    let key = TestKey::generate(Algorithm::RS256, "k");
    let sig = key.sign(b"m");
    UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, key.public_key_bytes())
        .verify(b"m", &sig)
        .expect("PKCS#1 DER public key verifies");
}
