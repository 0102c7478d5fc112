//! # tower-bearer
//!
//! An OAuth 2.0 **resource server** for any tower, hyper or axum service: bearer
//! tokens (RFC 6750) verified locally against the issuer's JWK Set
//! ([`jwt::JwtVerifier`]) or by any [`TokenVerifier`] you plug in, with the
//! verified [`AccessToken`] and its [`Principal`] — the triple
//! *(client_id, issuer, subject)* — put into the request extensions.
//!
//! Built for MCP servers: RFC 9728 metadata ([`metadata`]), `WWW-Authenticate`
//! challenges that carry `resource_metadata` ([`Challenge`]), audience checks,
//! and 503 — never 401 — when the authorization server cannot be reached.
//! Sender-constrained tokens are checked too: a DPoP-bound token (RFC 9449)
//! needs a proof by its key ([`dpop`]; single-use identifiers in [`replay`]).
//! The authorization-server side lives in the companion crate
//! `tower-bearer-issuer`: a development issuer (`DevIssuer`, used below) and
//! the validator of Identity Assertion JWT Authorization Grants (MCP SEP-990).
//!
//! Describe the resource once with [`Resource`]: the layer's challenges, the
//! RFC 9728 document, the verifier's audience and the DPoP origin derive from it.
//!
//! ```
//! use axum::{Router, routing::get};
//! use tower::ServiceExt;
//! use tower_bearer::{Principal, Resource};
//! use tower_bearer_issuer::DevIssuer;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! // A development issuer on loopback; in production: JwtVerifier::builder()...
//! let issuer = DevIssuer::start().await.unwrap();
//! let resource = Resource::builder("https://api.example.com/mcp")
//!     .authorization_server(issuer.issuer())
//!     .scopes_supported(["mcp:read"])
//!     .build()
//!     .unwrap();
//!
//! let mut app = Router::new()
//!     .route("/whoami", get(|who: Principal| async move { who.subject().unwrap_or("?").to_owned() }))
//!     .layer(resource.token_layer(issuer.jwt_verifier(resource.identifier())));
//! for path in resource.well_known_paths() {
//!     app = app.route_service(&path, resource.metadata_service());
//! }
//!
//! let token = issuer.token("alice", "my-app", "mcp:read", resource.identifier());
//! let request = http::Request::get("/whoami")
//!     .header("authorization", format!("Bearer {token}"))
//!     .body(axum::body::Body::empty())
//!     .unwrap();
//! let response = app.clone().oneshot(request).await.unwrap();
//! assert_eq!(response.status(), 200);
//!
//! let anonymous = http::Request::get("/whoami").body(axum::body::Body::empty()).unwrap();
//! let response = app.oneshot(anonymous).await.unwrap();
//! assert_eq!(response.status(), 401);
//! assert_eq!(
//!     response.headers()["www-authenticate"],
//!     r#"Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp""#
//! );
//! # });
//! ```
//!
//! For an MCP server, [`mcp::McpAuthLayer`] wires Origin check → token →
//! session binding → per-tool scopes from the same `Resource`.
//!
//! ## Features
//!
//! - `axum` (default): [`AccessToken`] and [`Principal`] extractors.
//! - `redis`: [`redis::RedisStore`], replay cache and session store shared by replicas.
//! - `rmcp`: [`Principal`] and [`AccessToken`] as parameters of rmcp tool handlers ([`rmcp`](mod@rmcp)).
#![warn(missing_docs, rust_2018_idioms)]
#![deny(unreachable_pub, unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod actor;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
mod b64;
mod builder;
pub mod compose;
mod digest;
mod discovery;
pub mod dpop;
pub mod exchange;
pub mod extract;
mod fetch;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod introspection;
pub mod jwt;
mod layer;
mod macros;
pub mod mcp;
pub mod metadata;
mod metrics;
mod observe;
pub mod origin;
mod principal;
pub mod ready;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;
mod refusal;
pub mod replay;
pub mod resource;
#[cfg(feature = "rmcp")]
#[cfg_attr(docsrs, doc(cfg(feature = "rmcp")))]
pub mod rmcp;
pub mod scope;
mod time;
mod verifier;

#[doc(hidden)]
pub mod __private {
    //! Not an API: shared with tower-bearer-issuer and the fuzz/bench crates;
    //! no semver promise.

    /// Unpadded base64url (RFC 7515 §2), canonical encodings only.
    pub mod b64 {
        pub use crate::b64::{decode, encode};
    }

    /// Outbound HTTP rules: URL checks, the client, bounded strict bodies.
    pub mod fetch {
        pub use crate::fetch::{
            DEFAULT_TIMEOUT, FetchError, checked_url, client, is_loopback, is_loopback_ip, send_limited,
            strict_object,
        };
    }

    /// Clock helpers and the default leeway.
    pub mod time {
        pub use crate::time::{DEFAULT_LEEWAY, far_future, unix_seconds};
    }

    /// The strict JWT claims reader and its checks.
    pub mod claims {
        pub use crate::jwt::claims::{
            ClaimSet, Confirmation, JwtType, ReadError, Registered, check_times, confirmation,
        };
    }

    pub use crate::digest::sha256;
    pub use crate::dpop::proof::check_token_request;
    pub use crate::jwt::jwks::{CacheSettings, KeyCache, KeySource};
    pub use crate::jwt::jws::{MAX_KIDLESS_KEYS, Unverified, VerifiedJws, verify_jws};
    pub use crate::jwt::key::{KeyError, KeySet, MAX_KEYS, MIN_RSA_BITS, VerifyingKey};
    pub use crate::principal::Claims;
}

pub use builder::ServiceBuilderExt;
pub use introspection::IntrospectionVerifier;
pub use layer::{ResponseFuture, TokenVerifierLayer, TokenVerifierService};
pub use principal::{AccessToken, Principal, Scopes, TokenSource};
pub use refusal::{AuthError, Challenge, ChallengeError, DEFAULT_RETRY_AFTER, RefusalFuture};
pub use resource::{Resource, ResourceBuilder, ResourceError};
pub use verifier::{DynTokenVerifier, InvalidToken, TokenVerifier, Unavailable, VerifyError};

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
