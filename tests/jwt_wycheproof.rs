//! Wycheproof vectors (tests/vectors/wycheproof) run through the crate's own
//! verification path: `VerifyingKey::from_jwk` + `VerifyingKey::verify` for the raw
//! signature files, `KeySet::from_jwks` + `verify_jws` for the JOSE files.
//!
//! Every `invalid` vector must be rejected and every `valid` one accepted, except
//! the exceptions listed (with reasons and counts) in tests/vectors/README.md and
//! in [`EXCEPTIONS`] below: the test fails if an exception stops being one, so the
//! list cannot go stale.

use std::collections::BTreeMap;
use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use tower_bearer::__private::{KeySet, VerifyingKey, verify_jws};
use tower_bearer::jwt::{Algorithm, KeyPolicy};

fn load(file: &str) -> Value {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "vectors", "wycheproof", file]
        .iter()
        .collect();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// Every opt-in algorithm enabled, so that the vectors exercise all of them.
fn all_algorithms() -> KeyPolicy {
    [
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES384,
    ]
    .into_iter()
    .fold(KeyPolicy::default(), |policy, alg| policy.allow(alg))
}

/// Why a vector's outcome differs from its Wycheproof label. Keep in sync with
/// tests/vectors/README.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Exception {
    /// `valid` HMAC (`oct` key) vector: symmetric keys are refused by policy.
    Hmac,
    /// `valid` ES512 / P-521 vector: the curve is not supported.
    P521,
    /// `valid` JWE vector: this crate verifies JWS only.
    Jwe,
    /// `valid` vector whose token `alg` differs from its JWK's `alg` (RFC 7520
    /// figure 20: a PS384 signature by a key declared `"alg": "PS256"`): a key is
    /// used with exactly one algorithm (RFC 8725 §3.1).
    KeyAlgMismatch,
    /// `acceptable` vector: we reject (stricter choice), see the README.
    AcceptableRejected,
    /// `valid` vector whose key has a malformed `key_ops` (`["sign, verify"]`: one
    /// string, not two): a key must list `"verify"` to verify (RFC 7517 §4.3).
    MalformedKeyOps,
}

/// Outcomes of the vectors of one file, compared with their labels.
struct Tally {
    file: &'static str,
    ran: usize,
    mismatches: Vec<String>,
    exceptions: BTreeMap<Exception, usize>,
}

impl Tally {
    fn new(file: &'static str) -> Tally {
        Tally {
            file,
            ran: 0,
            mismatches: Vec::new(),
            exceptions: BTreeMap::new(),
        }
    }

    /// Records whether the crate accepted vector `tc_id`; `exception` says why a
    /// vector is expected to be rejected whatever its label.
    fn record(&mut self, tc_id: u64, label: &str, accepted: bool, exception: Option<Exception>) {
        let expected_accept = match (label, exception) {
            (_, Some(e)) => {
                *self.exceptions.entry(e).or_default() += 1;
                false
            }
            ("valid", None) => true,
            ("invalid", None) => false,
            (other, None) => panic!("{} tcId {tc_id}: unclassified `{other}` vector", self.file),
        };
        if accepted != expected_accept {
            self.mismatches.push(format!(
                "{} tcId {tc_id} ({label}{}): {}",
                self.file,
                exception
                    .map(|e| format!(", exception {e:?}"))
                    .unwrap_or_default(),
                if accepted { "accepted" } else { "rejected" }
            ));
        }
        self.ran += 1;
    }

    /// Asserts no disagreement and exactly the `expected` exceptions; returns
    /// the number of vectors run.
    fn finish(self, expected: &[(Exception, usize)]) -> usize {
        assert!(
            self.mismatches.is_empty(),
            "{} vector(s) disagree:\n{}",
            self.mismatches.len(),
            self.mismatches.join("\n")
        );
        let expected: BTreeMap<Exception, usize> = expected.iter().copied().collect();
        assert_eq!(
            self.exceptions, expected,
            "{}: exception counts differ from tests/vectors/README.md",
            self.file
        );
        self.ran
    }
}

/// Some ECDSA groups (special `r`/`x` reductions) ship no JWK: build it from the
/// uncompressed point.
fn ec_jwk_from_point(public_key: &Value) -> Value {
    let crv = match public_key["curve"].as_str() {
        Some("secp256r1") => "P-256",
        Some("secp384r1") => "P-384",
        other => panic!("group without a JWK, curve {other:?}"),
    };
    let point = hex(public_key["uncompressed"].as_str().expect("uncompressed point"));
    assert_eq!(point[0], 4, "uncompressed point");
    let n = (point.len() - 1) / 2;
    serde_json::json!({
        "kty": "EC",
        "crv": crv,
        "x": URL_SAFE_NO_PAD.encode(&point[1..=n]),
        "y": URL_SAFE_NO_PAD.encode(&point[1 + n..]),
    })
}

/// Raw signature files: `{publicKeyJwk|keyJwk, tests: [{msg, sig, result}]}`.
fn run_signature_file(
    file: &'static str,
    alg: Algorithm,
    expected_exceptions: &[(Exception, usize)],
) -> usize {
    let doc = load(file);
    let policy = all_algorithms();
    let mut tally = Tally::new(file);
    for group in doc["testGroups"].as_array().expect("testGroups") {
        let jwk = group
            .get("publicKeyJwk")
            .or_else(|| group.get("keyJwk"))
            .cloned()
            .unwrap_or_else(|| ec_jwk_from_point(&group["publicKey"]));
        let key = VerifyingKey::from_jwk(&jwk, &policy);
        for test in group["tests"].as_array().expect("tests") {
            let tc_id = test["tcId"].as_u64().expect("tcId");
            let label = test["result"].as_str().expect("result");
            let accepted = match &key {
                Ok(key) => key
                    .verify(
                        alg,
                        &hex(test["msg"].as_str().expect("msg")),
                        &hex(test["sig"].as_str().expect("sig")),
                    )
                    .is_ok(),
                Err(_) => false,
            };
            let exception = (label == "acceptable").then_some(Exception::AcceptableRejected);
            tally.record(tc_id, label, accepted, exception);
        }
    }
    tally.finish(expected_exceptions)
}

#[test]
fn ecdsa_p256_sha256_p1363() {
    let ran = run_signature_file("ecdsa_secp256r1_sha256_p1363_test.json", Algorithm::ES256, &[]);
    assert_eq!(ran, 262);
}

#[test]
fn ecdsa_p384_sha384_p1363() {
    let ran = run_signature_file("ecdsa_secp384r1_sha384_p1363_test.json", Algorithm::ES384, &[]);
    assert_eq!(ran, 280);
}

#[test]
fn ed25519() {
    let ran = run_signature_file("ed25519_test.json", Algorithm::EdDSA, &[]);
    assert_eq!(ran, 151);
}

#[test]
fn rsa_pkcs1_2048_sha256() {
    let ran = run_signature_file(
        "rsa_signature_2048_sha256_test.json",
        Algorithm::RS256,
        &[(Exception::AcceptableRejected, 1)],
    );
    assert_eq!(ran, 259);
}

#[test]
fn rsa_pss_2048_sha256() {
    let ran = run_signature_file("rsa_pss_2048_sha256_mgf1_32_test.json", Algorithm::PS256, &[]);
    assert_eq!(ran, 108);
}

/// The public half of a test group's private JWK: Wycheproof gives signing keys;
/// a resource server only ever holds the public part (a key with private members
/// is refused by policy, see `jwt_attacks::key_with_private_members_is_ignored`).
/// `oct` keys are kept as they are: they are the point of those vectors.
fn public_jwk(key: &Value) -> Value {
    let mut key = key.clone();
    if key["kty"] != "oct"
        && let Some(map) = key.as_object_mut()
    {
        for member in ["d", "p", "q", "dp", "dq", "qi", "oth"] {
            map.remove(member);
        }
    }
    key
}

fn group_jwks(group: &Value) -> Vec<u8> {
    let private = &group["private"];
    let keys: Vec<Value> = match private.get("keys") {
        Some(keys) => keys.as_array().expect("keys").iter().map(public_jwk).collect(),
        None => vec![public_jwk(private)],
    };
    serde_json::json!({ "keys": keys }).to_string().into_bytes()
}

/// Why a `valid` JOSE vector is rejected by design, from its key and token.
fn jose_exception(group: &Value, test: &Value) -> Option<Exception> {
    if test.get("jwe").is_some() {
        return (test["result"] == "valid").then_some(Exception::Jwe);
    }
    if test["result"] != "valid" {
        return None;
    }
    let private = &group["private"];
    let keys: Vec<&Value> = match private.get("keys") {
        Some(keys) => keys.as_array().expect("keys").iter().collect(),
        None => vec![private],
    };
    let header_alg = test["jws"]
        .as_str()
        .and_then(|jws| jws.split('.').next())
        .and_then(|h| URL_SAFE_NO_PAD.decode(h).ok())
        .and_then(|h| serde_json::from_slice::<Value>(&h).ok())
        .map(|h| h["alg"].clone());
    if keys.iter().all(|k| k["kty"] == "oct") {
        Some(Exception::Hmac)
    } else if keys.iter().all(|k| k["crv"] == "P-521") {
        Some(Exception::P521)
    } else if keys.len() == 1 && keys[0].get("alg").is_some() && header_alg.as_ref() != keys[0].get("alg") {
        Some(Exception::KeyAlgMismatch)
    } else if keys.iter().all(|k| {
        k.get("key_ops").is_some_and(|ops| {
            !ops.as_array()
                .is_some_and(|ops| ops.iter().any(|op| op == "verify"))
        })
    }) {
        Some(Exception::MalformedKeyOps)
    } else {
        None
    }
}

/// JOSE files: `{private: JWK | JWKS, tests: [{jws | jwe, result}]}`.
fn run_jose_file(file: &'static str, expected_exceptions: &[(Exception, usize)]) -> usize {
    jose_outcomes(file).finish(expected_exceptions)
}

/// Runs every vector of a JOSE file.
fn jose_outcomes(file: &'static str) -> Tally {
    let doc = load(file);
    let policy = all_algorithms();
    let mut tally = Tally::new(file);
    for group in doc["testGroups"].as_array().expect("testGroups") {
        let keys = KeySet::from_jwks(&group_jwks(group), &policy);
        for test in group["tests"].as_array().expect("tests") {
            let tc_id = test["tcId"].as_u64().expect("tcId");
            let label = test["result"].as_str().expect("result");
            // JSON-serialization vectors (objects) and JWE vectors are offered as
            // their text: a compact-JWS-only verifier must refuse them.
            let token = match test.get("jws").or_else(|| test.get("jwe")).expect("jws or jwe") {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let accepted = match &keys {
                Ok(keys) => verify_jws(&token, keys, &policy).is_ok(),
                Err(_) => false,
            };
            let exception = jose_exception(group, test);
            tally.record(tc_id, label, accepted, exception);
        }
    }
    tally
}

#[test]
fn json_web_signature() {
    let ran = run_jose_file(
        "json_web_signature_test.json",
        &[
            (Exception::Hmac, 10),
            (Exception::P521, 2),
            (Exception::KeyAlgMismatch, 2),
            (Exception::MalformedKeyOps, 1),
        ],
    );
    assert_eq!(ran, 401);
}

#[test]
fn json_web_key() {
    let ran = run_jose_file("json_web_key_test.json", &[(Exception::Hmac, 4)]);
    assert_eq!(ran, 26);
}

#[test]
fn json_web_crypto() {
    let ran = run_jose_file(
        "json_web_crypto_test.json",
        &[(Exception::Hmac, 2), (Exception::Jwe, 2)],
    );
    assert_eq!(ran, 83);
}

/// The verified payload is exactly the signed bytes (RFC 7520 figure 13).
#[test]
fn rfc7520_payload_round_trips() {
    let doc = load("json_web_signature_test.json");
    let group = doc["testGroups"]
        .as_array()
        .expect("testGroups")
        .iter()
        .find(|g| g["tests"][0]["comment"] == "Figure13")
        .expect("Figure13 group");
    let policy = KeyPolicy::default();
    let keys = KeySet::from_jwks(&group_jwks(group), &policy).expect("RFC 7520 RSA key loads");
    let token = group["tests"][0]["jws"].as_str().expect("jws");
    let verified = verify_jws(token, &keys, &policy).expect("RFC 7520 figure 13 verifies");
    assert!(
        String::from_utf8_lossy(verified.payload()).starts_with("It\u{2019}s a dangerous business, Frodo"),
        "payload of figure 13"
    );
    assert_eq!(verified.header()["kid"], "bilbo.baggins@hobbiton.example");
}
