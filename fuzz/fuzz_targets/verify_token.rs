//! Fuzzes the token path: bearer extraction, JWS pre-parsing and signature
//! verification (`verify_jws`), and — through fuzzer-chosen header and payload
//! bytes signed with a known key — the header checks that only run once a
//! signature is valid.
//!
//! Input: one mode byte, then
//! - mode 0: a token string given to `verify_jws`;
//! - mode 1: `header-bytes 0x00 payload-bytes`, signed with the fixture's Ed25519
//!   key; when verification succeeds the payload must be exactly the signed bytes;
//! - mode 2: an `Authorization` header value given to the RFC 6750 extractor.
#![no_main]

use std::sync::OnceLock;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue, Uri};
use libfuzzer_sys::fuzz_target;
use tower_bearer::__private::{KeySet, verify_jws};
use tower_bearer::extract::BearerExtractor;
use tower_bearer::jwt::KeyPolicy;

struct Fixture {
    keys: KeySet,
    policy: KeyPolicy,
    signer: Ed25519KeyPair,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let signer = Ed25519KeyPair::from_seed_unchecked(&[7; 32]).expect("fixed Ed25519 seed");
        let x = URL_SAFE_NO_PAD.encode(signer.public_key().as_ref());
        let jwks = format!(
            r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","kid":"fuzz-ed","alg":"EdDSA","use":"sig","x":"{x}"}}]}}"#
        );
        let policy = KeyPolicy::default();
        let keys = KeySet::from_jwks(jwks.as_bytes(), &policy).expect("fixture key set loads");
        Fixture { keys, policy, signer }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let f = fixture();
    match mode % 3 {
        0 => {
            if let Ok(token) = std::str::from_utf8(rest) {
                let _ = verify_jws(token, &f.keys, &f.policy);
            }
        }
        1 => {
            let split = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            let header = &rest[..split];
            let payload = rest.get(split + 1..).unwrap_or(&[]);
            let input = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header),
                URL_SAFE_NO_PAD.encode(payload)
            );
            let signature = f.signer.sign(input.as_bytes());
            let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()));
            if let Ok(verified) = verify_jws(&token, &f.keys, &f.policy) {
                assert_eq!(
                    verified.payload(),
                    payload,
                    "verified payload differs from the signed bytes"
                );
            }
        }
        _ => {
            if let Ok(value) = HeaderValue::from_bytes(rest) {
                let mut headers = HeaderMap::new();
                headers.insert(AUTHORIZATION, value);
                let _ = BearerExtractor::new().extract(&headers, &Uri::from_static("/"));
            }
        }
    }
});
