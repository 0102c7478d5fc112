//! Fuzzes RFC 7662 introspection answers: the strict reader, then the response
//! rules. Only `"active": true` is ever accepted, and an accepted token names
//! the configured issuer and audience.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_bearer::fuzzing::{AUDIENCE, ISSUER, introspection_answer};

fuzz_target!(|data: &[u8]| {
    if let Some(Ok(token)) = introspection_answer(data) {
        let answer: serde_json::Value = serde_json::from_slice(data).expect("accepted answers are JSON");
        assert_eq!(answer["active"], serde_json::Value::Bool(true));
        assert_eq!(token.principal().issuer(), Some(ISSUER));
        assert!(token.audience().iter().any(|a| a == AUDIENCE));
    }
});
