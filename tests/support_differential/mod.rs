//! The differential oracle for the JWT path: `jsonwebtoken::decode` configured
//! like the crate's verifier (same keys, algorithm, issuer, audience, leeway),
//! and the list of places where the two deliberately differ.
//!
//! Shared by `tests/jwt_differential.rs` (proptest over generated tokens) and
//! `fuzz/fuzz_targets/jwt_differential.rs` (libFuzzer over arbitrary bytes).
//! Every disagreement must be explained by a [`Category`]; each category is a
//! property of the token alone that by itself justifies the crate's verdict.
//! The properties are found here with this file's own readers (lenient base64,
//! `serde_json::Value`, a duplicate-member scan of its own), never with the
//! crate's parsers.
#![allow(dead_code)] // the proptest and the fuzz target use different parts

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use base64::Engine as _;
use base64::alphabet::URL_SAFE;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{DecodingKey, Validation};
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// Largest NumericDate the crate accepts: 9999-12-31T23:59:59Z.
const MAX_NUMERIC_DATE: f64 = 253_402_300_799.0;
/// The crate's bound on kid-less tokens (`jwt::MAX_KIDLESS_KEYS`).
const MAX_KIDLESS_KEYS: usize = 2;
/// The crate's bound on a token's length (`extract::MAX_TOKEN_LEN`).
const MAX_TOKEN_LEN: usize = 16 * 1024;
/// The two verifiers read the clock at different instants, the crate with
/// sub-second precision and keeping fractions of NumericDates, `jsonwebtoken`
/// in whole seconds, rounding fractions: within this many seconds of a time
/// limit their verdicts may differ.
const CLOCK_MARGIN: f64 = 2.0;

/// Why the crate's verdict differs from `jsonwebtoken`'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    // ---- The crate refuses, jsonwebtoken accepts: deliberately stricter. ----
    /// Longer than the crate's 16 KiB bound (bounded work per request).
    TokenSize,
    /// A segment that is not canonical unpadded base64url (RFC 7515 §2).
    NonCanonicalBase64,
    /// Header or claims that are not a JSON object (jsonwebtoken reads a JSON
    /// array as a claims set, by position).
    NotAnObject,
    /// A `crit` header: no extension is understood, so any `crit` is refused
    /// (RFC 7515 §4.1.11).
    Crit,
    /// A member name repeated in the header or the claims, at any depth
    /// (RFC 7515 §4, RFC 7519 §4: refused rather than last-wins).
    DuplicateMembers,
    /// Key policy: a token without `kid` while the set has more than
    /// `MAX_KIDLESS_KEYS` keys of its algorithm (no unbounded signature work).
    KidlessKeyBound,
    /// The RFC 9068 profile: `typ` is not `at+jwt`, or `sub`, `client_id`,
    /// `jti` or `iat` is missing.
    Rfc9068Profile,
    /// A registered header member (`alg`, `kid`, `typ`) or claim (`iss`,
    /// `sub`, `client_id`, `azp`, `jti`, `scope`, `aud`, `scp`, `exp`, `nbf`,
    /// `iat`) of the wrong JSON type (an `iss` array, a numeric `sub`, a
    /// `kid: null`…), which jsonwebtoken ignores or reads leniently.
    MemberTypes,
    /// A NumericDate outside [0, 9999-12-31T23:59:59Z] (RFC 7519 §2).
    NumericDateRange,
    /// `iat` in the future beyond the leeway (jsonwebtoken does not read
    /// `iat`).
    IatInFuture,
    /// A `cnf` (RFC 7800) the crate cannot check: not an object, without a
    /// `jkt` that is a SHA-256 thumbprint, or naming another confirmation
    /// method (jsonwebtoken does not read `cnf`).
    Confirmation,
    // ---- The crate accepts, jsonwebtoken refuses: lenient by design. ----
    /// The audience matches this resource after RFC 3986 normalisation (case
    /// of scheme and host, default port, trailing slash), not byte for byte.
    CanonicalAudience,
    /// A header member the crate never reads (`jwk`, `x5c`, `zip`…) whose
    /// value jsonwebtoken's header model refuses.
    UnusedHeaderMember,
    // ---- Either way. ----
    /// A time claim within [`CLOCK_MARGIN`] seconds of its limit.
    ClockBoundary,
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// What the verifiers are configured with.
#[derive(Clone)]
pub struct Rules {
    pub issuer: String,
    pub audience: String,
    pub leeway: u64,
}

/// `jsonwebtoken` as a verifier of the same tokens.
pub struct Oracle {
    jwks: JwkSet,
    rules: Rules,
}

impl Oracle {
    /// An oracle over the JWK Set document `jwks` (as served to the crate).
    pub fn new(jwks: &Value, rules: Rules) -> Oracle {
        let jwks = serde_json::from_value(jwks.clone()).expect("jsonwebtoken reads the key set");
        Oracle { jwks, rules }
    }

    /// `Ok` when `jsonwebtoken::decode` accepts `token`, with its claims.
    ///
    /// The key is chosen as the crate chooses it: by `kid`, or without a `kid`
    /// any key of the header's algorithm (the crate bounds how many it tries:
    /// [`Category::KidlessKeyBound`]). The algorithm is the key's `alg`.
    pub fn verify(&self, token: &str) -> Result<Value, String> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| format!("header: {e}"))?;
        let candidates: Vec<&Jwk> = match &header.kid {
            Some(kid) => self.jwks.find(kid).into_iter().collect(),
            None => self
                .jwks
                .keys
                .iter()
                .filter(|k| k.common.key_algorithm == Some(header.alg.into()))
                .collect(),
        };
        let mut last = Err("no key".to_owned());
        for jwk in candidates {
            last = self.verify_with(token, jwk);
            if last.is_ok() {
                break;
            }
        }
        last
    }

    fn verify_with(&self, token: &str, jwk: &Jwk) -> Result<Value, String> {
        let alg = jwk
            .common
            .key_algorithm
            .and_then(|a| a.to_string().parse().ok())
            .ok_or("key without a JWS alg")?;
        let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("key: {e}"))?;
        let mut validation = Validation::new(alg);
        validation.leeway = self.rules.leeway;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.rules.issuer]);
        validation.set_audience(&[&self.rules.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        jsonwebtoken::decode::<Value>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|e| e.to_string())
    }

    /// The categories that explain a disagreement: `crate_accepts` is the
    /// crate's verdict, the opposite of the oracle's. `now` is seconds since
    /// the Unix epoch. Empty: unexplained, a bug in one of the two.
    pub fn explain(&self, token: &str, crate_accepts: bool, now: f64) -> Vec<Category> {
        let parts = Parts::of(token);
        let mut found = Vec::new();
        let mut add = |c: Category, cond: bool| {
            if cond {
                found.push(c);
            }
        };
        let near = |t: Option<f64>, limit: f64| t.is_some_and(|t| (t - limit).abs() < CLOCK_MARGIN);
        let leeway = self.rules.leeway as f64;
        let claims = parts.claims.as_ref().and_then(Value::as_object);
        let date = |name: &str| claims.and_then(|c| c.get(name)).and_then(Value::as_f64);
        add(
            Category::ClockBoundary,
            near(date("exp"), now - leeway)
                || near(date("nbf"), now + leeway)
                || near(date("iat"), now + leeway),
        );
        if crate_accepts {
            add(Category::CanonicalAudience, self.canonical_audience_only(claims));
            add(
                Category::UnusedHeaderMember,
                unused_header_member_refused(parts.header.as_ref()),
            );
            return found;
        }
        add(Category::TokenSize, token.len() > MAX_TOKEN_LEN);
        add(Category::NonCanonicalBase64, !parts.canonical);
        add(
            Category::NotAnObject,
            parts.header.as_ref().is_some_and(|h| !h.is_object())
                || parts.claims.as_ref().is_some_and(|c| !c.is_object()),
        );
        let header = parts.header.as_ref().and_then(Value::as_object);
        add(Category::Crit, header.is_some_and(|h| h.contains_key("crit")));
        add(Category::DuplicateMembers, parts.duplicates);
        add(Category::KidlessKeyBound, self.kidless_over_bound(header));
        add(Category::Rfc9068Profile, violates_rfc9068(header, claims));
        add(Category::MemberTypes, wrong_member_types(header, claims));
        add(
            Category::NumericDateRange,
            ["exp", "nbf", "iat"]
                .into_iter()
                .filter_map(date)
                .any(|t| !(0.0..=MAX_NUMERIC_DATE).contains(&t)),
        );
        add(
            Category::IatInFuture,
            date("iat").is_some_and(|iat| iat > now + leeway),
        );
        add(
            Category::Confirmation,
            claims
                .and_then(|c| c.get("cnf"))
                .is_some_and(uncheckable_confirmation),
        );
        found
    }

    fn kidless_over_bound(&self, header: Option<&serde_json::Map<String, Value>>) -> bool {
        let Some(header) = header else { return false };
        if header.contains_key("kid") {
            return false;
        }
        let alg = header.get("alg").and_then(Value::as_str);
        let same_alg = self
            .jwks
            .keys
            .iter()
            .filter(|k| k.common.key_algorithm.map(|a| a.to_string()).as_deref() == alg)
            .count();
        same_alg > MAX_KIDLESS_KEYS
    }

    fn canonical_audience_only(&self, claims: Option<&serde_json::Map<String, Value>>) -> bool {
        let presented: Vec<&str> = match claims.and_then(|c| c.get("aud")) {
            Some(Value::String(a)) => vec![a],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => return false,
        };
        let configured = &self.rules.audience;
        !presented.iter().any(|a| a == configured)
            && presented
                .iter()
                .any(|a| tower_bearer::resource::audience_matches(configured, a))
    }
}

/// A token taken apart by this file's own readers.
struct Parts {
    header: Option<Value>,
    claims: Option<Value>,
    canonical: bool,
    duplicates: bool,
}

impl Parts {
    fn of(token: &str) -> Parts {
        let lenient = GeneralPurpose::new(
            &URL_SAFE,
            GeneralPurposeConfig::new()
                .with_decode_allow_trailing_bits(true)
                .with_decode_padding_mode(DecodePaddingMode::Indifferent),
        );
        let segments: Vec<&str> = token.split('.').collect();
        let decoded: Vec<Option<Vec<u8>>> = segments.iter().map(|s| lenient.decode(s).ok()).collect();
        let canonical = segments
            .iter()
            .zip(&decoded)
            .all(|(s, d)| d.as_ref().is_none_or(|d| URL_SAFE_NO_PAD.encode(d) == *s));
        let json = |i: usize| decoded.get(i).cloned().flatten();
        let (header, claims) = (json(0), json(1));
        let duplicates = [&header, &claims]
            .into_iter()
            .flatten()
            .any(|bytes| has_duplicate_members(bytes));
        let value = |b: Option<Vec<u8>>| b.and_then(|b| serde_json::from_slice(&b).ok());
        Parts {
            header: value(header),
            claims: value(claims),
            canonical,
            duplicates,
        }
    }
}

fn violates_rfc9068(
    header: Option<&serde_json::Map<String, Value>>,
    claims: Option<&serde_json::Map<String, Value>>,
) -> bool {
    let at_jwt = header
        .and_then(|h| h.get("typ"))
        .and_then(Value::as_str)
        .map(|t| t.strip_prefix("application/").unwrap_or(t))
        .is_some_and(|t| t.eq_ignore_ascii_case("at+jwt"));
    let missing = |name: &str| claims.is_none_or(|c| c.get(name).is_none_or(Value::is_null));
    !at_jwt || ["sub", "client_id", "jti", "iat"].into_iter().any(missing)
}

fn wrong_member_types(
    header: Option<&serde_json::Map<String, Value>>,
    claims: Option<&serde_json::Map<String, Value>>,
) -> bool {
    let not = |map: Option<&serde_json::Map<String, Value>>, name: &str, ok: fn(&Value) -> bool| {
        map.and_then(|m| m.get(name)).is_some_and(|v| !ok(v))
    };
    let string_or_null = |v: &Value| v.is_string() || v.is_null();
    let strings = |v: &Value| match v {
        Value::String(_) | Value::Null => true,
        Value::Array(items) => items.iter().all(Value::is_string),
        _ => false,
    };
    let number_or_null = |v: &Value| v.is_number() || v.is_null();
    ["alg", "kid", "typ"]
        .into_iter()
        .any(|n| not(header, n, Value::is_string))
        || ["iss", "sub", "client_id", "azp", "jti", "scope"]
            .into_iter()
            .any(|n| not(claims, n, string_or_null))
        || ["aud", "scp"].into_iter().any(|n| not(claims, n, strings))
        || ["exp", "nbf", "iat"]
            .into_iter()
            .any(|n| not(claims, n, number_or_null))
}

/// Members of jsonwebtoken's `Header` that the crate never reads.
const UNUSED_HEADER_MEMBERS: [&str; 11] = [
    "cty", "jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256", "enc", "zip", "url", "nonce",
];

fn unused_header_member_refused(header: Option<&Value>) -> bool {
    let Some(header) = header.and_then(Value::as_object) else {
        return false;
    };
    let present = UNUSED_HEADER_MEMBERS.iter().any(|m| header.contains_key(*m));
    let mut without = header.clone();
    UNUSED_HEADER_MEMBERS.iter().for_each(|m| {
        without.remove(*m);
    });
    present
        && serde_json::from_value::<jsonwebtoken::Header>(Value::Object(header.clone())).is_err()
        && serde_json::from_value::<jsonwebtoken::Header>(Value::Object(without)).is_ok()
}

/// Whether JSON text repeats a member name in some object (at any depth).
/// Not JSON: false (that is another category's business).
pub fn has_duplicate_members(json: &[u8]) -> bool {
    struct Scan<'a>(&'a mut bool);
    impl<'de> DeserializeSeed<'de> for Scan<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> Visitor<'de> for Scan<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("JSON")
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while seq.next_element_seed(Scan(&mut *self.0))?.is_some() {}
            Ok(())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut names = HashSet::new();
            while let Some(name) = map.next_key::<String>()? {
                if !names.insert(name) {
                    *self.0 = true;
                }
                map.next_value_seed(Scan(&mut *self.0))?;
            }
            Ok(())
        }
    }
    let mut found = false;
    let mut de = serde_json::Deserializer::from_slice(json);
    let _ = Scan(&mut found).deserialize(&mut de);
    found
}

/// Counts of verdicts and of the categories seen.
#[derive(Default, Debug)]
pub struct Tally {
    pub both_accept: u64,
    pub both_refuse: u64,
    pub categories: BTreeMap<Category, u64>,
}

impl Tally {
    /// Records one comparison, or returns the description of an unexplained
    /// disagreement.
    pub fn record(
        &mut self,
        oracle: &Oracle,
        token: &str,
        crate_verdict: Result<(), String>,
        oracle_verdict: &Result<Value, String>,
        now: f64,
    ) -> Result<(), String> {
        match (&crate_verdict, oracle_verdict) {
            (Ok(()), Ok(_)) => self.both_accept += 1,
            (Err(_), Err(_)) => self.both_refuse += 1,
            _ => {
                let categories = oracle.explain(token, crate_verdict.is_ok(), now);
                let Some(first) = categories.first() else {
                    return Err(format!(
                        "unexplained disagreement: crate {crate_verdict:?}, jsonwebtoken {:?}, token {token}",
                        oracle_verdict.as_ref().map(|_| "accepts")
                    ));
                };
                *self.categories.entry(*first).or_default() += 1;
            }
        }
        Ok(())
    }
}

/// Whether a `cnf` claim is one the crate refuses (see [`Category::Confirmation`]).
fn uncheckable_confirmation(cnf: &Value) -> bool {
    use base64::Engine as _;
    let Some(cnf) = cnf.as_object() else { return true };
    let thumbprint = cnf.get("jkt").and_then(Value::as_str).is_some_and(|jkt| {
        jkt.len() == 43
            && base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(jkt)
                .is_ok_and(|b| b.len() == 32)
    });
    !thumbprint || cnf.len() != 1
}
