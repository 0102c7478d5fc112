//! Fuzzes authorization server metadata documents (RFC 8414 / OIDC Discovery):
//! the strict reader and the metadata members. An accepted document is a JSON
//! object naming the configured issuer exactly once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_bearer::fuzzing::{ISSUER, discovery_document};

fuzz_target!(|data: &[u8]| {
    if discovery_document(data).is_some() {
        let doc: serde_json::Value = serde_json::from_slice(data).expect("accepted documents are JSON");
        assert_eq!(doc["issuer"], ISSUER);
    }
});
