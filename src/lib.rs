//! # tower-bearer
//!
//! An OAuth 2.0 **resource server** for any [tower] / hyper / axum service:
//! bearer tokens (RFC 6750) verified locally against the issuer's JWKS or remotely
//! by introspection, with the verified [`AccessToken`] and its [`Principal`]
//! — the triple *(client_id, issuer, subject)* — put into the request extensions.
//! Built for MCP servers (RFC 9728 metadata, `WWW-Authenticate` challenges,
//! audience checks, scope step-up) and any HTTP API.
//!
//! See the crate README for an end-to-end example.
#![warn(missing_docs, rust_2018_idioms)]
#![deny(unreachable_pub, unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
mod challenge;
mod discovery;
pub mod extract;
mod fetch;
pub mod jwt;
mod layer;
pub mod metadata;
mod principal;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
mod verifier;

pub use challenge::{AuthError, Challenge, DEFAULT_RETRY_AFTER};
pub use layer::{ResponseFuture, TokenVerifierLayer, TokenVerifierService};
pub use principal::{AccessToken, Principal, Scopes, TokenSource};
pub use verifier::{
    BoxVerifyFuture, DynTokenVerifier, InvalidToken, TokenVerifier, Unavailable, VerifyError,
};
