//! axum extractors (feature `axum`): [`AccessToken`] and [`Principal`] read what
//! [`TokenVerifierLayer`](crate::TokenVerifierLayer) put in the extensions.
//!
//! Without a verified token the extractor rejects with 401 and the layer's
//! challenge (so a route that forgot the layer fails closed). `Option<Principal>`
//! and `Option<AccessToken>` never reject: use them behind a layer with
//! [`allow_anonymous`](crate::TokenVerifierLayer::allow_anonymous).
//!
//! ```
//! use axum::{Router, routing::get};
//! use tower_bearer::{AccessToken, Principal};
//!
//! async fn me(token: AccessToken) -> String {
//!     format!("{:?} with {}", token.principal().subject(), token.scopes())
//! }
//! async fn hello(who: Option<Principal>) -> String {
//!     match who {
//!         Some(p) => format!("hello {}", p.subject().unwrap_or("client")),
//!         None => "hello stranger".into(),
//!     }
//! }
//! let app: Router = Router::new().route("/me", get(me)).route("/hello", get(hello));
//! ```

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;

use crate::{AccessToken, AuthError, Challenge, Principal};

/// Rejection of the [`AccessToken`]/[`Principal`] extractors: 401 with the
/// layer's challenge (or a bare `Bearer` one when no layer ran). Like
/// axum-core's own rejections it has [`status`](Self::status),
/// [`body_text`](Self::body_text), `Display` and `Error`.
///
/// ```
/// use axum_core::response::IntoResponse;
/// let rejection = tower_bearer::axum::Unauthenticated::default();
/// assert_eq!(rejection.status(), 401);
/// assert_eq!(rejection.to_string(), "no verified access token");
/// let res = rejection.into_response();
/// assert_eq!(res.status(), 401);
/// assert_eq!(res.headers()["www-authenticate"], "Bearer");
/// ```
#[derive(Debug, Clone, Default, thiserror::Error)]
#[error("no verified access token")]
pub struct Unauthenticated {
    challenge: Challenge,
}

impl Unauthenticated {
    /// The status of the response: 401 Unauthorized.
    ///
    /// See [`Unauthenticated`] for an example.
    pub fn status(&self) -> http::StatusCode {
        http::StatusCode::UNAUTHORIZED
    }

    /// The text of the rejection (the response itself has an empty body and
    /// the challenge in `WWW-Authenticate`).
    ///
    /// ```
    /// assert_eq!(tower_bearer::axum::Unauthenticated::default().body_text(), "no verified access token");
    /// ```
    pub fn body_text(&self) -> String {
        self.to_string()
    }
}

impl IntoResponse for Unauthenticated {
    fn into_response(self) -> Response {
        AuthError::MissingToken.into_response(&self.challenge)
    }
}

fn rejection(parts: &Parts) -> Unauthenticated {
    Unauthenticated {
        challenge: parts.extensions.get::<Challenge>().cloned().unwrap_or_default(),
    }
}

macro_rules! extractor {
    ($ty:ty) => {
        impl<S: Send + Sync> FromRequestParts<S> for $ty {
            type Rejection = Unauthenticated;

            async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
                parts
                    .extensions
                    .get::<$ty>()
                    .cloned()
                    .ok_or_else(|| rejection(parts))
            }
        }

        impl<S: Send + Sync> OptionalFromRequestParts<S> for $ty {
            type Rejection = std::convert::Infallible;

            async fn from_request_parts(
                parts: &mut Parts,
                _state: &S,
            ) -> Result<Option<Self>, Self::Rejection> {
                Ok(parts.extensions.get::<$ty>().cloned())
            }
        }
    };
}

extractor!(AccessToken);
extractor!(Principal);
