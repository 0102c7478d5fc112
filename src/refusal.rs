//! Refusals: the decision ([`AuthError`]) and its rendering into a response,
//! with the `WWW-Authenticate` challenges (RFC 6750 §3, RFC 9449 §7.1) built
//! from plain configuration data ([`Challenge`]).
//!
//! | outcome | status | challenge |
//! |---|---|---|
//! | no credentials | 401 | `resource_metadata`, `realm`, `scope` hint; no `error` |
//! | malformed request / two tokens | 400 | `error="invalid_request"` |
//! | bad, expired, wrong iss/aud | 401 | `error="invalid_token"` |
//! | valid but missing scope | 403 | `error="insufficient_scope"`, `scope="…"` |
//! | verifier unavailable | 503 | none; `Retry-After` |
//!
//! Parameter values come from configuration (checked when it is set) or from a
//! fixed list of descriptions; nothing the client sent is ever echoed.

mod challenge;
mod error;
mod future;
pub(crate) mod log;

pub use challenge::{Challenge, ChallengeError, DEFAULT_RETRY_AFTER};
pub use error::AuthError;
pub use future::RefusalFuture;
