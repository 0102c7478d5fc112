//! Fuzzes `StateSealer::open` (MCP sealed request state): arbitrary strings
//! must be refused with an error, never panic, and never open; a state sealed
//! for one principal and request opens only for that principal and request,
//! once, with its payload intact.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tower_bearer::Principal;
use tower_bearer::mcp::{StateKey, StateRequest, StateSealer};

fn sealer() -> &'static StateSealer {
    static SEALER: OnceLock<StateSealer> = OnceLock::new();
    SEALER.get_or_init(|| StateSealer::new(StateKey::new("k1", [7; 32]).expect("a 2-byte key id")))
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime")
    })
}

fuzz_target!(|data: &[u8]| {
    let alice = Principal::new().with_issuer("https://as").with_subject("alice");
    let bob = Principal::new().with_issuer("https://as").with_subject("bob");
    let request = StateRequest::tool("clear_notes");
    let other = StateRequest::tool("add_note");
    runtime().block_on(async {
        if let Ok(text) = std::str::from_utf8(data) {
            assert!(
                sealer().open(&alice, &request, text).await.is_err(),
                "forged state opened"
            );
        }
        let sealed = sealer().seal(&alice, &request, data).expect("seal");
        assert!(
            sealer().open(&bob, &request, &sealed).await.is_err(),
            "another principal opened it"
        );
        assert!(
            sealer().open(&alice, &other, &sealed).await.is_err(),
            "another request opened it"
        );
        assert_eq!(
            sealer().open(&alice, &request, &sealed).await.expect("own state"),
            data
        );
        assert!(
            sealer().open(&alice, &request, &sealed).await.is_err(),
            "a replay opened it"
        );
    });
});
