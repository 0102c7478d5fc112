//! Property tests for bearer extraction and token pre-parsing: no input panics,
//! bad input is never answered with a 5xx, and the verification path is
//! one-to-one (any change to a valid token's text makes it invalid).

mod support_jwks;

use std::sync::OnceLock;

use http::{HeaderValue, Request, StatusCode, header};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use support_jwks::*;
use tower::{ServiceBuilder, ServiceExt};
use tower_bearer::__private::{KeySet, verify_jws};
use tower_bearer::extract::{BearerExtractor, MAX_TOKEN_LEN};
use tower_bearer::jwt::{Algorithm, JwtVerifier, KeyPolicy};
use tower_bearer::{TokenVerifier, TokenVerifierLayer, VerifyError};

/// A JWKS server and a warm verifier on a runtime shared by every case.
struct World {
    rt: tokio::runtime::Runtime,
    _server: JwksServer,
    issuer: String,
    key: TestKey,
    keys: KeySet,
    verifier: JwtVerifier,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let key = TestKey::generate(Algorithm::EdDSA, "prop");
        let server = rt.block_on(JwksServer::start(&[&key]));
        let verifier = verifier_for(&server).build().expect("verifier");
        rt.block_on(verifier.prefetch()).expect("keys");
        let keys =
            KeySet::from_jwks(jwks(&[&key]).to_string().as_bytes(), &KeyPolicy::default()).expect("set");
        World {
            issuer: server.issuer(),
            rt,
            _server: server,
            key,
            keys,
            verifier,
        }
    })
}

fn b64token_char() -> impl Strategy<Value = char> {
    prop::sample::select(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/"
            .chars()
            .collect::<Vec<_>>(),
    )
}

/// RFC 6750 b64token: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn b64token() -> impl Strategy<Value = String> {
    (prop::collection::vec(b64token_char(), 1..300), 0..3usize)
        .prop_map(|(chars, pad)| chars.into_iter().chain(std::iter::repeat_n('=', pad)).collect())
}

fn random_case(word: &str, mask: u64) -> String {
    word.chars()
        .enumerate()
        .map(|(i, c)| {
            if mask >> i & 1 == 1 {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// Status of a request through the layer with this `Authorization` value.
fn layer_status(value: HeaderValue) -> StatusCode {
    let w = world();
    let svc = ServiceBuilder::new()
        .layer(TokenVerifierLayer::new(w.verifier.clone()))
        .service_fn(|_req: Request<String>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
        });
    let req = Request::builder()
        .header(header::AUTHORIZATION, value)
        .body(String::new())
        .expect("request");
    w.rt.block_on(svc.oneshot(req)).expect("infallible").status()
}

/// Arbitrary JSON, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[ -~]{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A claim set near the valid one: each claim kept (mostly), dropped, or
/// replaced by arbitrary JSON, plus arbitrary extra members; a few percent of
/// the sets stay valid, so acceptance is exercised too.
fn claims_near_valid() -> impl Strategy<Value = Value> {
    let names = [
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "nbf",
        "jti",
        "client_id",
        "scope",
    ];
    (
        prop::collection::vec((0..8u8, json_value()), names.len()),
        prop::collection::btree_map("[a-z]{1,6}", json_value(), 0..3),
    )
        .prop_map(move |(choices, extra)| {
            let w = world();
            let mut claims = access_token_claims(&w.issuer);
            let map = claims.as_object_mut().expect("object");
            for (name, (choice, value)) in names.iter().zip(choices) {
                match choice {
                    0..=5 => {}
                    6 => {
                        map.remove(*name);
                    }
                    _ => {
                        map.insert((*name).to_owned(), value);
                    }
                }
            }
            for (k, v) in extra {
                map.entry(k).or_insert(v);
            }
            claims
        })
}

/// A header near the valid one: `alg`, `kid`, `typ` kept, dropped or replaced,
/// plus arbitrary extra members (which may include `crit`, `jku`, …).
fn header_near_valid() -> impl Strategy<Value = Value> {
    let names = ["alg", "kid", "typ"];
    (
        prop::collection::vec((0..4u8, json_value()), names.len()),
        prop::collection::btree_map(
            prop_oneof![
                "[a-z]{1,6}",
                Just("crit".to_owned()),
                Just("jku".to_owned()),
                Just("b64".to_owned())
            ],
            json_value(),
            0..3,
        ),
    )
        .prop_map(move |(choices, extra)| {
            let mut header = world().key.header();
            let map = header.as_object_mut().expect("object");
            for (name, (choice, value)) in names.iter().zip(choices) {
                match choice {
                    0 | 1 => {}
                    2 => {
                        map.remove(*name);
                    }
                    _ => {
                        map.insert((*name).to_owned(), value);
                    }
                }
            }
            for (k, v) in extra {
                map.entry(k).or_insert(v);
            }
            header
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn well_formed_bearer_credentials_are_extracted(token in b64token(), mask in any::<u64>(), spaces in 1..4usize) {
        let value = format!("{}{}{token}", random_case("bearer", mask), " ".repeat(spaces));
        let mut headers = http::HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(&value).expect("visible ASCII"));
        let uri = http::Uri::from_static("/");
        let got = BearerExtractor::new().extract(&headers, &uri);
        prop_assert_eq!(got, Ok(token.as_str()));
    }

    #[test]
    fn arbitrary_authorization_values_never_panic_or_5xx(bytes in prop::collection::vec(any::<u8>(), 0..200), prefix in any::<bool>()) {
        let mut raw = if prefix { b"Bearer ".to_vec() } else { Vec::new() };
        raw.extend(bytes);
        let Ok(value) = HeaderValue::from_bytes(&raw) else { return Ok(()); };
        let status = layer_status(value);
        prop_assert!(
            [StatusCode::BAD_REQUEST, StatusCode::UNAUTHORIZED].contains(&status),
            "status {} for {:?}", status, String::from_utf8_lossy(&raw)
        );
    }

    #[test]
    fn arbitrary_tokens_are_refused_without_panic(token in prop_oneof![
        "[ -~]{0,300}",
        "[A-Za-z0-9_-]{0,80}\\.[A-Za-z0-9_-]{0,80}\\.[A-Za-z0-9_-]{0,120}",
        "eyJ[A-Za-z0-9_-]{0,60}\\.[A-Za-z0-9_=.+/-]{0,60}\\.[A-Za-z0-9_=-]{0,90}",
    ]) {
        let w = world();
        prop_assert!(verify_jws(&token, &w.keys, &KeyPolicy::default()).is_err());
        let result = w.rt.block_on(w.verifier.verify(&token));
        prop_assert!(matches!(result, Err(VerifyError::Invalid(_))), "{:?}", result);
    }

    #[test]
    fn any_edit_of_a_valid_token_is_refused(pos in any::<prop::sample::Index>(), c in any::<char>(), op in 0..3u8) {
        let w = world();
        let token = w.key.token(&access_token_claims(&w.issuer));
        let mut chars: Vec<char> = token.chars().collect();
        let i = pos.index(chars.len());
        match op {
            0 => chars[i] = c,
            1 => chars.insert(i, c),
            _ => { chars.remove(i); }
        }
        let edited: String = chars.into_iter().collect();
        prop_assume!(edited != token);
        prop_assert!(verify_jws(&edited, &w.keys, &KeyPolicy::default()).is_err(), "edit accepted: {}", edited);
        let result = w.rt.block_on(w.verifier.verify(&edited));
        prop_assert!(matches!(result, Err(VerifyError::Invalid(_))), "{:?}", result);
    }

    #[test]
    fn signed_arbitrary_headers_and_claims_are_never_5xx(header in header_near_valid(), claims in claims_near_valid()) {
        let w = world();
        let token = w.key.token_with(&header, &claims);
        if let Ok(verified) = verify_jws(&token, &w.keys, &KeyPolicy::default()) {
            let signed = claims.to_string();
            prop_assert_eq!(verified.payload(), signed.as_bytes());
        }
        let result = w.rt.block_on(w.verifier.verify(&token));
        prop_assert!(!matches!(result, Err(VerifyError::Unavailable(_))), "{:?}", result);
        if result.is_ok() {
            // Whatever was accepted met the profile.
            prop_assert_eq!(&header["typ"], &json!("at+jwt"));
            prop_assert_eq!(&claims["iss"], &json!(w.issuer));
            prop_assert!(header.get("crit").is_none());
        }
    }

    #[test]
    fn overlong_tokens_are_refused(extra in 1..2048usize) {
        let w = world();
        let token = format!("{}.{}.{}", "e".repeat(MAX_TOKEN_LEN / 2), "a".repeat(MAX_TOKEN_LEN / 2), "s".repeat(extra));
        let result = w.rt.block_on(w.verifier.verify(&token));
        prop_assert!(matches!(result, Err(VerifyError::Invalid(_))), "{:?}", result);
    }
}
