//! Fuzzes the JWT claims reader and checks (`ClaimRules::check`): the one-pass
//! strict reader, NumericDates, `aud`/`scp` shapes, every provider profile. A payload it
//! accepts names the configured issuer and audience and is not expired.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use tower_bearer::fuzzing::{AUDIENCE, ISSUER, NOW, jwt_claims};
use tower_bearer::jwt::{Profile, Provider};

fuzz_target!(|data: &[u8]| {
    let profiles = Provider::ALL
        .map(Provider::profile)
        .into_iter()
        .chain([Profile::relaxed()]);
    for profile in profiles {
        for typ in [Some("at+jwt"), Some("JWT"), None] {
            if let Ok(token) = jwt_claims(data, typ, profile.clone()) {
                assert_eq!(token.principal().issuer(), Some(ISSUER));
                assert!(token.audience().iter().any(|a| a == AUDIENCE));
                let exp = token.expires_at().expect("exp is required");
                assert!(exp + Duration::from_secs(60) > UNIX_EPOCH + Duration::from_secs(NOW));
                // The raw claims a handler reads are the same JSON object.
                assert!(!token.claims().is_empty());
            }
        }
    }
});
