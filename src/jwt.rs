//! JWT access tokens verified locally against the issuer's JSON Web Key Set.
//!
//! The path a token takes, cheapest refusals first:
//!
//! 1. **Pre-checks, before any cryptography**: at most 16 KiB, exactly three
//!    segments, canonical unpadded base64url, a header that is a JSON object with
//!    no duplicate member, an `alg` on the allowlist ([`KeyPolicy`]; never
//!    `none` or HMAC), no `crit`.
//! 2. **Key**: chosen by `kid` from the issuer's key set (header `jwk`, `jku`,
//!    `x5u`, `x5c` are never used). Keys are parsed once when the set is loaded:
//!    only public asymmetric keys, `use` = `sig` if present, RSA ≥ 2048 bits,
//!    each algorithm bound to its key type and curve.
//! 3. **Signature** with aws-lc-rs.
//! 4. **Claims**: `exp` required (leeway 60 s), `nbf`/`iat` honoured, `iss`
//!    exactly the issuer, `aud` contains this resource, and by default the
//!    RFC 9068 profile ([`Profile`]). Claims must be JSON numbers/strings of the
//!    right type, with no duplicate member.
//!
//! Verified tokens are cached (keyed by SHA-256 of the token; on by default,
//! 4096 entries entries): a hit skips the signature, checks
//! the clock again and needs the issuer's current key set to still hold the
//! key that verified it.
//!
//! Key sets are cached per issuer (see [`JwtVerifierBuilder`] for the knobs):
//! fresh for the response's `max-age` clamped to [1 min, 24 h] (default 10 min),
//! refreshed in the background before expiry; an unknown `kid` causes one
//! single-flight refetch, then a 30 s cooldown; fetch failures keep the last good
//! set for an hour (`max_stale`), after which — or on a cold start — requests get
//! 503, never 401. Fetches time out after 5 s, follow no redirects, require
//! HTTPS (plain HTTP to loopback is allowed for development), and read at most
//! 256 KiB and 100 keys.
//!
//! ```
//! use tower_bearer::{TokenVerifierLayer, jwt::JwtVerifier};
//!
//! let verifier = JwtVerifier::builder()
//!     .issuer("https://auth.example.com")
//!     .audience("https://api.example.com/mcp")
//!     .discover()
//!     .build()
//!     .expect("valid configuration");
//! let layer = TokenVerifierLayer::new(verifier)
//!     .resource_metadata("https://api.example.com/.well-known/oauth-protected-resource/mcp")
//!     .expect("a quotable URL");
//! # let _ = layer;
//! ```

mod algorithm;
pub(crate) mod claims;
mod explain;
pub(crate) mod json;
pub(crate) mod jwks;
pub(crate) mod jws;
pub(crate) mod key;
mod profile;
mod verifier;

pub use algorithm::{Algorithm, UnknownAlgorithm};
pub use key::KeyPolicy;
pub(crate) use key::VerifyingKey;
pub use profile::{ClaimPath, ClaimRule, Profile, ProfileError, Provider, TypPolicy};
pub use verifier::{BuildError, Issuer, JwtVerifier, JwtVerifierBuilder};
