//! Fuzzes `StateSealer::open` (MCP sealed request state): arbitrary strings
//! must be refused with an error, never panic, and never open; a state sealed
//! for one principal opens only for that principal, with its payload intact.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tower_bearer::Principal;
use tower_bearer::mcp::{StateKey, StateSealer};

fn sealer() -> &'static StateSealer {
    static SEALER: OnceLock<StateSealer> = OnceLock::new();
    SEALER.get_or_init(|| StateSealer::new(StateKey::new("k1", [7; 32]).unwrap()))
}

fuzz_target!(|data: &[u8]| {
    let alice = Principal::new().with_issuer("https://as").with_subject("alice");
    let bob = Principal::new().with_issuer("https://as").with_subject("bob");
    if let Ok(text) = std::str::from_utf8(data) {
        assert!(sealer().open(&alice, text).is_err(), "forged state opened");
    }
    let sealed = sealer().seal(&alice, data).expect("seal");
    assert_eq!(sealer().open(&alice, &sealed).expect("own state"), data);
    assert!(
        sealer().open(&bob, &sealed).is_err(),
        "another principal opened it"
    );
});
