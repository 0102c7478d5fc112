//! Fuzzes JWK Set parsing and the key policy (`KeySet::from_jwks`): the strict
//! per-entry reader, every key type's member checks and the aws-lc-rs key
//! parse, under the default policy and under one that allows every algorithm.
//! Any input must give a key set or an error, never a panic; a set never holds
//! more than `MAX_KEYS` keys.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_bearer::__private::{KeySet, MAX_KEYS};
use tower_bearer::jwt::{Algorithm, KeyPolicy};

fuzz_target!(|data: &[u8]| {
    let all = KeyPolicy::default()
        .allow(Algorithm::RS384)
        .allow(Algorithm::RS512)
        .allow(Algorithm::PS384)
        .allow(Algorithm::PS512)
        .allow(Algorithm::ES384);
    for policy in [KeyPolicy::default(), all] {
        if let Ok(set) = KeySet::from_jwks(data, &policy) {
            assert!(!set.is_empty() && set.len() <= MAX_KEYS);
            for key in set.iter() {
                assert!(key.algorithms().all(|alg| policy.allows(alg)));
            }
        }
    }
});
