//! What `benches/benches/jwt.rs` and `benches/benches/jwt_ratio.rs` share: a realistic RFC 9068
//! access token, the verifier that accepts it (keys fetched from a loopback JWKS
//! server), and the same key parsed once for the raw aws-lc-rs verification.
#![allow(dead_code)] // each bench uses a different part of this module

use aws_lc_rs::signature::{self, ParsedPublicKey, VerificationAlgorithm};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tower_bearer::TokenVerifier;
use tower_bearer::jwt::{Algorithm, JwtVerifier};

use crate::support_jwks::{JwksServer, TestKey, access_token_claims, verifier_for};

pub fn raw_algorithm(alg: Algorithm) -> &'static dyn VerificationAlgorithm {
    match alg {
        Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
        Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
        Algorithm::EdDSA => &signature::ED25519,
        other => panic!("not benchmarked: {other:?}"),
    }
}

pub struct Fixture {
    pub server: JwksServer,
    pub key: TestKey,
    pub token: String,
    pub verifier: JwtVerifier,
    /// The key, parsed once, for the raw verification.
    pub raw: ParsedPublicKey,
    /// The signature, decoded.
    pub signature: Vec<u8>,
    /// Length of the signing input, found once: the raw loop times only the check.
    signing_len: usize,
}

impl Fixture {
    /// The token's signing input (header.payload), what the signature covers.
    pub fn signing_input(&self) -> &[u8] {
        &self.token.as_bytes()[..self.signing_len]
    }
}

pub fn fixture(rt: &tokio::runtime::Runtime, alg: Algorithm, cache: bool) -> Fixture {
    let key = TestKey::generate(alg, "bench-key");
    let server = rt.block_on(JwksServer::start(&[&key]));
    let verifier = verifier_for(&server)
        .verified_token_cache(if cache { 10_000 } else { 0 })
        .build()
        .expect("bench verifier");
    rt.block_on(verifier.prefetch()).expect("keys load");
    let token = key.token(&access_token_claims(&server.issuer()));
    rt.block_on(verifier.verify(&token))
        .expect("bench token verifies");
    let (signing_input, signature) = token.rsplit_once('.').expect("three segments");
    let signing_len = signing_input.len();
    let signature = URL_SAFE_NO_PAD.decode(signature).expect("signature base64url");
    let raw = ParsedPublicKey::new(raw_algorithm(alg), key.public_key_bytes()).expect("raw key");
    let fixture = Fixture {
        server,
        key,
        token,
        verifier,
        raw,
        signature,
        signing_len,
    };
    fixture
        .raw
        .verify_sig(fixture.signing_input(), &fixture.signature)
        .expect("raw verify");
    fixture
}
