//! Differential fuzzing of the JWT path: the crate's verifier
//! (`fuzzing::verify_jwt`, the code `JwtVerifier` runs with loaded keys) and
//! `jsonwebtoken::decode`, configured alike (see
//! `tests/support_differential`), must agree on every token except where a
//! documented category explains the difference; an unexplained disagreement
//! aborts. Each category is printed the first time it is seen.
//!
//! Input: one flags byte, then `H 0x00 P 0x00 M`:
//! - the header is `{"alg":…,"kid":…,"typ":"at+jwt"` + H + `}` (flags bit 0:
//!   H alone is the header), the claims a valid RFC 9068 set + P + `}` (bit 1:
//!   P alone is the claims); the fuzzer's text can add, repeat or retype
//!   members;
//! - bit 2 signs with the ES256 key instead of an EdDSA one, bit 3 drops `kid`
//!   from the header template, bit 4 signs with a key outside the set;
//! - M is pairs (position, byte) written over the signed token's text.
#![no_main]

#[path = "../../tests/support_differential/mod.rs"]
mod support_differential;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use support_differential::{Oracle, Rules, Tally};
use tower_bearer::__private::KeySet;
use tower_bearer::fuzzing::{AUDIENCE, ISSUER, verify_jwt};
use tower_bearer::jwt::KeyPolicy;

struct Signer {
    kid: &'static str,
    alg: Algorithm,
    key: EncodingKey,
}

struct Fixture {
    signers: Vec<Signer>,
    stranger: Signer,
    keys: KeySet,
    policy: KeyPolicy,
    oracle: Oracle,
}

fn ed25519(seed: u8, kid: &'static str) -> (Signer, Value) {
    let pair = Ed25519KeyPair::from_seed_unchecked(&[seed; 32]).expect("fixed Ed25519 seed");
    let jwk = json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "alg": "EdDSA", "use": "sig",
        "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref())});
    let key = EncodingKey::from_ed_der(pair.to_pkcs8v1().expect("pkcs8").as_ref());
    (
        Signer {
            kid,
            alg: Algorithm::EdDSA,
            key,
        },
        jwk,
    )
}

fn es256(kid: &'static str) -> (Signer, Value) {
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .expect("p256 keygen");
    let pair =
        EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).expect("p256");
    let point = pair.public_key().as_ref();
    let jwk = json!({"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..])});
    (
        Signer {
            kid,
            alg: Algorithm::ES256,
            key: EncodingKey::from_ec_der(pkcs8.as_ref()),
        },
        jwk,
    )
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        // Three EdDSA keys: a kid-less EdDSA token has more candidates than the
        // crate tries.
        let (signers, jwks): (Vec<Signer>, Vec<Value>) = [
            ed25519(1, "ed-1"),
            ed25519(2, "ed-2"),
            ed25519(3, "ed-3"),
            es256("es256"),
        ]
        .into_iter()
        .unzip();
        let jwks = json!({ "keys": jwks });
        let policy = KeyPolicy::default();
        let keys = KeySet::from_jwks(jwks.to_string().as_bytes(), &policy).expect("fixture key set loads");
        let rules = Rules {
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            leeway: 60,
        };
        Fixture {
            signers,
            stranger: ed25519(9, "ed-1").0,
            keys,
            policy,
            oracle: Oracle::new(&jwks, rules),
        }
    })
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn report_first(tally: &Tally) {
    static SEEN: AtomicU32 = AtomicU32::new(0);
    for category in tally.categories.keys() {
        let bit = 1 << (*category as u32);
        if SEEN.fetch_or(bit, Ordering::Relaxed) & bit == 0 {
            eprintln!("differential: first disagreement of category {category}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut pieces = rest.splitn(3, |&b| b == 0);
    let (h, p, m) = (
        pieces.next().unwrap_or_default(),
        pieces.next().unwrap_or_default(),
        pieces.next().unwrap_or_default(),
    );
    let f = fixture();
    let signer = match (flags & 0x10 != 0, flags & 0x04 != 0) {
        (true, _) => &f.stranger,
        (false, true) => &f.signers[3],
        (false, false) => &f.signers[usize::from(flags >> 5) % 3],
    };
    let header = if flags & 0x01 != 0 {
        h.to_vec()
    } else {
        let alg = serde_json::to_string(&signer.alg).expect("alg name");
        let kid = if flags & 0x08 != 0 {
            String::new()
        } else {
            format!(r#","kid":"{}""#, signer.kid)
        };
        [
            format!(r#"{{"alg":{alg}{kid},"typ":"at+jwt""#).as_bytes(),
            h,
            b"}",
        ]
        .concat()
    };
    let payload = if flags & 0x02 != 0 {
        p.to_vec()
    } else {
        let t = now().floor();
        let template = format!(
            r#"{{"iss":"{ISSUER}","aud":"{AUDIENCE}","sub":"alice","client_id":"app","jti":"j","iat":{},"exp":{}"#,
            t,
            t + 300.0
        );
        [template.as_bytes(), p, b"}"].concat()
    };
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(&header),
        URL_SAFE_NO_PAD.encode(&payload)
    );
    let signature = jsonwebtoken::crypto::sign(input.as_bytes(), &signer.key, signer.alg).expect("signing");
    let mut token = format!("{input}.{signature}").into_bytes();
    for pair in m.chunks_exact(2) {
        let at = usize::from(pair[0]) % token.len();
        token[at] = pair[1];
    }
    let Ok(token) = String::from_utf8(token) else {
        return;
    };
    let ours = verify_jwt(&token, &f.keys, &f.policy)
        .map(|_| ())
        .map_err(|e| format!("{e:?}"));
    let theirs = f.oracle.verify(&token);
    let mut tally = Tally::default();
    if let Err(unexplained) = tally.record(&f.oracle, &token, ours, &theirs, now()) {
        panic!("{unexplained}");
    }
    report_first(&tally);
});
