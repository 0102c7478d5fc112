//! [`HandleKey`]: where to store what a server-minted handle names, keyed by
//! the principal, so that holding a handle is not authentication.
//!
//! MCP 2026-07-28 has no sessions: a server that keeps state across requests
//! hands out handles (a draft id, a job id, a cursor). A handle that leaks — in
//! a log, a shared transcript, a compromised client — must open nothing for
//! anybody else (the revision's "state handle hijacking"). Store the state under
//! `HandleKey::new(principal, handle)`, never under the handle alone.

use std::fmt;

use crate::Principal;

/// The storage key of a handle for its owner: SHA-256 of the owner and the
/// handle. The owner is *(issuer, subject)*, or *(issuer, client_id)* for a
/// client-credentials token without `sub` — as MCP sessions are bound by
/// default ([`BindingPolicy`](super::BindingPolicy)).
///
/// ```
/// use tower_bearer::Principal;
/// use tower_bearer::mcp::HandleKey;
///
/// let alice = Principal::new().with_issuer("https://as").with_subject("alice").with_client_id("app");
/// let bob = Principal::new().with_issuer("https://as").with_subject("bob").with_client_id("app");
/// let key = HandleKey::new(&alice, "draft-17").unwrap();
/// // The same handle held by another principal is another key: it opens nothing.
/// assert_ne!(HandleKey::new(&bob, "draft-17").unwrap(), key);
/// // A new token of the same user (another client) still opens it.
/// assert_eq!(HandleKey::new(&alice.clone().with_client_id("cli"), "draft-17").unwrap(), key);
/// // Without an issuer there is no owner to key by.
/// assert!(HandleKey::new(&Principal::new().with_subject("alice"), "draft-17").is_none());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct HandleKey([u8; 32]);

impl HandleKey {
    /// The key of `handle` for `principal`; `None` when the principal names no
    /// owner (no issuer, or neither `sub` nor `client_id`): refuse to store then.
    ///
    /// See [`HandleKey`] for an example.
    pub fn new(principal: &Principal, handle: &str) -> Option<Self> {
        let issuer = principal.issuer()?;
        let (kind, owner) = match (principal.subject(), principal.client_id()) {
            (Some(subject), _) => ("subject", subject),
            (None, Some(client_id)) => ("client", client_id),
            (None, None) => return None,
        };
        Some(HandleKey(crate::digest::length_prefixed([
            Some(kind),
            Some(issuer),
            Some(owner),
            Some(handle),
        ])))
    }

    /// The digest in lower-case hex, e.g. as a Redis key suffix.
    ///
    /// ```
    /// use tower_bearer::{Principal, mcp::HandleKey};
    /// let p = Principal::new().with_issuer("https://as").with_client_id("svc");
    /// assert_eq!(HandleKey::new(&p, "job-1").unwrap().to_hex().len(), 64);
    /// ```
    pub fn to_hex(&self) -> String {
        crate::digest::hex(&self.0)
    }
}

impl fmt::Debug for HandleKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HandleKey({})", &self.to_hex()[..16])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_are_told_apart() {
        let user = Principal::new().with_issuer("https://as").with_subject("x");
        let client = Principal::new().with_issuer("https://as").with_client_id("x");
        let other_issuer = Principal::new().with_issuer("https://other").with_subject("x");
        let keys = [&user, &client, &other_issuer].map(|p| HandleKey::new(p, "h").unwrap());
        assert_ne!(keys[0], keys[1], "a user and a client of the same name");
        assert_ne!(keys[0], keys[2], "the same subject at another issuer");
        assert_ne!(HandleKey::new(&user, "h1"), HandleKey::new(&user, "h2"));
        assert!(HandleKey::new(&Principal::new().with_issuer("https://as"), "h").is_none());
    }
}
