//! Differential test of the JWT path: generated tokens (random claims, headers,
//! algorithms and keys; mutations of bytes, segments and base64) are verified
//! by the crate's `JwtVerifier` (keys from a loopback JWKS server) and by
//! `jsonwebtoken::decode` configured with the same keys, algorithms, issuer,
//! audience and leeway. Every disagreement must fall in one of the documented
//! categories of `support_differential` (where the crate is deliberately
//! stricter, or lenient by design); any other fails the test.
//!
//! Cases: `PROPTEST_CASES` (default 2000, a few seconds). The run prints its tally.

mod support_differential;
mod support_jwks;

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value, json};
use support_differential::{Category, Oracle, Rules, Tally};
use support_jwks::*;
use tower_bearer::jwt::{Algorithm, JwtVerifier, KeyPolicy};
use tower_bearer::{TokenVerifier, VerifyError};

/// Keys in the served set, and keys of the same `kid` outside it.
struct Keys {
    served: Vec<TestKey>,
    strangers: Vec<TestKey>,
}

fn keys() -> Keys {
    let served = vec![
        TestKey::rsa_slot(Algorithm::RS256, "rs256", 0),
        TestKey::rsa_slot(Algorithm::PS256, "ps256", 1),
        TestKey::rsa_slot(Algorithm::RS512, "rs512", 2),
        TestKey::generate(Algorithm::ES256, "es256"),
        TestKey::generate(Algorithm::ES384, "es384"),
        // Three EdDSA keys: a token without `kid` has more candidates than
        // the crate tries.
        TestKey::generate(Algorithm::EdDSA, "ed-1"),
        TestKey::generate(Algorithm::EdDSA, "ed-2"),
        TestKey::generate(Algorithm::EdDSA, "ed-3"),
    ];
    let strangers = vec![
        TestKey::rsa_slot(Algorithm::RS256, "rs256", 1),
        TestKey::generate(Algorithm::ES256, "es256"),
        TestKey::generate(Algorithm::EdDSA, "ed-1"),
    ];
    Keys { served, strangers }
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

/// One generated token, before signing: JSON texts (so that duplicates and
/// non-objects can be expressed), the signing key and a mutation.
#[derive(Debug, Clone)]
struct Case {
    header: String,
    claims: String,
    key: usize,
    stranger: bool,
    mutation: Mutation,
}

#[derive(Debug, Clone)]
enum Mutation {
    None,
    /// Replace the character at `at` (modulo the segment's length) of segment
    /// `segment` with `with`.
    Char {
        segment: usize,
        at: usize,
        with: char,
    },
    /// Append `=` padding to a segment.
    Pad {
        segment: usize,
    },
    /// Drop the signature's last character.
    Truncate,
    /// Add a fourth segment.
    ExtraSegment,
    /// Swap header and payload.
    Swap,
}

fn one_of<T: Clone + std::fmt::Debug + 'static>(items: Vec<T>) -> impl Strategy<Value = T> {
    prop::sample::select(items)
}

/// A member's value: `good` 24 times in 25, else one of `bad` (`None`:
/// absent), so that most tokens are valid and the others differ in a few
/// members.
fn member(good: Value, bad: Vec<Option<Value>>) -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        24 => Just(Some(good)),
        1 => one_of(if bad.is_empty() { vec![None] } else { bad }),
    ]
}

fn date(offset: f64) -> Value {
    json!(now().floor() + offset)
}

fn extra_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => one_of(vec![
            json!("x"),
            json!(1.5),
            json!([1, "a", null]),
            json!({"a": {"b": [true]}}),
            json!("\u{e9}\u{1f600}"),
        ]),
        // Duplicates in a nested object, as text (see `render`).
        1 => Just(json!("__nested_duplicate__")),
    ]
}

fn header_strategy() -> impl Strategy<Value = (Map<String, Value>, Option<&'static str>)> {
    let alg = member(
        json!("__key_alg__"),
        [
            "RS256", "PS256", "RS384", "RS512", "ES256", "ES384", "EdDSA", "HS256", "none",
        ]
        .into_iter()
        .map(|a| Some(json!(a)))
        .chain([Some(json!(256)), None])
        .collect(),
    );
    let kid = prop_oneof![
        20 => Just(Some(json!("__key_kid__"))),
        3 => Just(None),
        1 => one_of(vec![Some(json!("unknown")), Some(json!(7)), Some(Value::Null)]),
    ];
    let typ = member(
        json!("at+jwt"),
        vec![
            Some(json!("application/at+jwt")),
            Some(json!("AT+JWT")),
            Some(json!("JWT")),
            None,
            Some(json!(5)),
        ],
    );
    let extra = one_of(vec![
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        Some(("crit", json!(["exp"]))),
        Some(("jwk", json!("not a key"))),
        Some(("x5c", json!(5))),
        Some(("b64", json!(false))),
        Some(("cty", json!("JWT"))),
        Some(("zip", json!("DEF"))),
        Some(("ext", json!({"k": [1, 2]}))),
    ]);
    let duplicate = prop_oneof![12 => Just(None), 1 => one_of(vec![Some("alg"), Some("typ")])];
    (alg, kid, typ, extra, duplicate).prop_map(|(alg, kid, typ, extra, duplicate)| {
        let mut h = Map::new();
        for (name, value) in [("alg", alg), ("kid", kid), ("typ", typ)] {
            if let Some(v) = value {
                h.insert(name.into(), v);
            }
        }
        if let Some((name, value)) = extra {
            h.insert(name.into(), value);
        }
        (h, duplicate)
    })
}

fn claims_strategy(rules: &Rules) -> impl Strategy<Value = (Map<String, Value>, Option<&'static str>, bool)> {
    let iss = member(
        json!(rules.issuer),
        vec![
            Some(json!("https://other.example")),
            Some(json!([rules.issuer])),
            Some(json!(1)),
            None,
        ],
    );
    let canonical = vec![
        Some(json!(rules.audience.replace("http://", "HTTP://"))),
        Some(json!(format!("{}/", rules.audience))),
    ];
    let aud = prop_oneof![
        20 => Just(Some(json!(rules.audience))),
        2 => one_of(canonical),
        1 => one_of(vec![
            Some(json!(["https://other.example", rules.audience])),
            Some(json!(["https://other.example"])),
            Some(json!([])),
            Some(json!([rules.audience, 5])),
            Some(json!(5)),
            None,
        ]),
    ];
    let text = |good: &str| member(json!(good), vec![None, Some(json!(42)), Some(json!(["a"]))]);
    // Time offsets stay far from the limits (now - leeway for `exp`, now +
    // leeway for `nbf`/`iat`): near them the two clocks may disagree
    // (Category::ClockBoundary).
    let exp = member(
        date(300.0),
        vec![
            Some(date(-7200.0)),
            Some(date(-100.0)),
            Some(date(-30.0)),
            Some(date(0.25)),
            Some(date(86_400.5)),
            Some(json!(1e13)),
            Some(json!(-5)),
            Some(json!("300")),
            Some(Value::Null),
            None,
        ],
    );
    let nbf = member(
        date(-30.0),
        vec![
            None,
            None,
            None,
            Some(date(30.0)),
            Some(date(300.0)),
            Some(json!(-1)),
            Some(json!(1e13)),
        ],
    );
    let iat = member(
        date(0.0),
        vec![
            None,
            Some(date(300.0)),
            Some(json!(-1)),
            Some(json!(1e13)),
            Some(json!("now")),
        ],
    );
    let extras = prop::collection::vec((one_of(vec!["ext", "x", "nested", "cnf"]), extra_value()), 0..2);
    let duplicate = prop_oneof![12 => Just(None), 1 => one_of(vec![Some("exp"), Some("sub")])];
    let array = prop::bool::weighted(0.03);
    let huge = prop::bool::weighted(0.02);
    (
        (
            iss,
            aud,
            text("user-1"),
            text("client-1"),
            text("jti-1"),
            text("mcp:read"),
        ),
        (exp, nbf, iat, extras, duplicate, array, huge),
    )
        .prop_map(
            |((iss, aud, sub, client_id, jti, scope), (exp, nbf, iat, extras, duplicate, array, huge))| {
                let mut c = Map::new();
                for (name, value) in [
                    ("iss", iss),
                    ("aud", aud),
                    ("sub", sub),
                    ("client_id", client_id),
                    ("jti", jti),
                    ("scope", scope),
                    ("exp", exp),
                    ("nbf", nbf),
                    ("iat", iat),
                ] {
                    if let Some(v) = value {
                        c.insert(name.into(), v);
                    }
                }
                for (name, value) in extras {
                    c.insert(name.into(), value);
                }
                if huge {
                    c.insert("pad".into(), json!("p".repeat(17 * 1024)));
                }
                (c, duplicate, array)
            },
        )
}

fn mutation_strategy() -> impl Strategy<Value = Mutation> {
    let b64url: Vec<char> = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=."
        .chars()
        .collect();
    prop_oneof![
        14 => Just(Mutation::None),
        3 => (0..3usize, any::<usize>(), prop::sample::select(b64url))
            .prop_map(|(segment, at, with)| Mutation::Char { segment, at, with }),
        1 => (0..3usize).prop_map(|segment| Mutation::Pad { segment }),
        1 => Just(Mutation::Truncate),
        1 => Just(Mutation::ExtraSegment),
        1 => Just(Mutation::Swap),
    ]
}

/// JSON text of `map`, with `duplicate` repeated (its first value again) and
/// nested duplicates where a value asks for them.
fn render(map: &Map<String, Value>, duplicate: Option<&str>) -> String {
    let mut text = Value::Object(map.clone()).to_string();
    text = text.replace(r#""__nested_duplicate__""#, r#"{"d":1,"d":2}"#);
    if let Some(name) = duplicate
        && let Some(value) = map.get(name)
    {
        text.insert_str(1, &format!("{}:{},", json!(name), value));
    }
    text
}

fn case_strategy(rules: &Rules, key_count: usize, stranger_count: usize) -> impl Strategy<Value = Case> {
    (
        header_strategy(),
        claims_strategy(rules),
        0..key_count,
        prop::bool::weighted(0.08),
        mutation_strategy(),
    )
        .prop_map(
            move |((header, hdup), (claims, cdup, array), key, stranger, mutation)| {
                let claims = if array {
                    // jsonwebtoken reads a JSON array as a claims set, by position.
                    json!([
                        claims.get("exp"),
                        null,
                        claims.get("sub"),
                        claims.get("iss"),
                        claims.get("aud")
                    ])
                    .to_string()
                } else {
                    render(&claims, cdup)
                };
                Case {
                    header: render(&header, hdup),
                    claims,
                    key,
                    stranger: stranger && key < stranger_count,
                    mutation,
                }
            },
        )
}

fn mutate(token: String, mutation: &Mutation) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    match mutation {
        Mutation::None => {}
        Mutation::Char { segment, at, with } => {
            let part = &mut parts[*segment];
            if !part.is_empty() {
                let at = at % part.len();
                part.replace_range(at..=at, &with.to_string());
            }
        }
        Mutation::Pad { segment } => parts[*segment].push('='),
        Mutation::Truncate => {
            parts[2].pop();
        }
        Mutation::ExtraSegment => parts.push("e30".into()),
        Mutation::Swap => parts.swap(0, 1),
    }
    parts.join(".")
}

#[test]
fn jwt_verifier_agrees_with_jsonwebtoken_outside_documented_categories() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let keys = keys();
    let served: Vec<&TestKey> = keys.served.iter().collect();
    let server = rt.block_on(JwksServer::start(&served));
    let policy = Algorithm::ALL
        .into_iter()
        .fold(KeyPolicy::default(), KeyPolicy::allow);
    let verifier: JwtVerifier = verifier_for(&server)
        .key_policy(policy)
        .build()
        .expect("verifier");
    rt.block_on(verifier.prefetch()).expect("keys load");
    let rules = Rules {
        issuer: server.issuer(),
        audience: AUDIENCE.to_owned(),
        leeway: 60,
    };
    let oracle = Oracle::new(&jwks(&served), rules.clone());

    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let tally = Mutex::new(Tally::default());
    let strategy = case_strategy(&rules, keys.served.len(), keys.strangers.len());
    let result = runner.run(&strategy, |case| {
        let key = if case.stranger {
            &keys.strangers[case.key]
        } else {
            &keys.served[case.key]
        };
        let header = case
            .header
            .replace("__key_alg__", key.alg().name())
            .replace("__key_kid__", key.kid());
        let token = mutate(
            key.sign_raw(header.as_bytes(), case.claims.as_bytes()),
            &case.mutation,
        );
        let ours = match rt.block_on(verifier.verify(&token)) {
            Ok(at) => Ok(at),
            Err(VerifyError::Invalid(reason)) => Err(format!("{reason:?}")),
            Err(other) => {
                return Err(TestCaseError::fail(format!(
                    "not a verdict on the token: {other:?}"
                )));
            }
        };
        let theirs = oracle.verify(&token);
        if let (Ok(at), Ok(claims)) = (&ours, &theirs) {
            prop_assert_eq!(at.principal().subject(), claims["sub"].as_str());
            prop_assert_eq!(at.principal().client_id(), claims["client_id"].as_str());
        }
        let ours = ours.map(|_| ());
        tally
            .lock()
            .expect("tally")
            .record(&oracle, &token, ours, &theirs, now())
            .map_err(TestCaseError::fail)
    });
    let tally = tally.into_inner().expect("tally");
    eprintln!("differential tally over {cases} cases: {tally:?}");
    if let Err(failure) = result {
        panic!("{failure}");
    }
    // The generator must keep exercising both verdicts and the main categories,
    // or this test would pass without comparing anything.
    let share = |n: u64| n * 10 >= u64::from(cases);
    assert!(
        share(tally.both_accept),
        "too few tokens accepted by both: {tally:?}"
    );
    assert!(
        share(tally.both_refuse),
        "too few tokens refused by both: {tally:?}"
    );
    if cases >= 512 {
        for expected in [
            Category::Crit,
            Category::DuplicateMembers,
            Category::Rfc9068Profile,
            Category::MemberTypes,
            Category::KidlessKeyBound,
            Category::CanonicalAudience,
            Category::UnusedHeaderMember,
        ] {
            assert!(
                tally.categories.contains_key(&expected),
                "{expected} never seen: {tally:?}"
            );
        }
    }
}
