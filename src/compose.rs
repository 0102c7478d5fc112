//! Verifier composition: [`ShapeRouter`] sends JWT-shaped tokens to one verifier
//! and opaque tokens to another, optionally checking JWTs for revocation too.

use crate::ready::NotReady;
use crate::{AccessToken, TokenSource, TokenVerifier, Unavailable, VerifyError};

/// Largest JWT header segment looked at, in base64url characters.
const MAX_HEADER_SEGMENT: usize = 4096;

/// Whether `token` has the shape of a JWS compact serialization: three
/// base64url segments whose header decodes to a JSON object with an `alg`.
pub(crate) fn looks_like_jwt(token: &str) -> bool {
    let mut segments = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (segments.next(), segments.next(), segments.next(), segments.next())
    else {
        return false;
    };
    if [header, payload, signature]
        .iter()
        .any(|s| s.is_empty() || !s.bytes().all(is_base64url))
        || header.len() > MAX_HEADER_SEGMENT
    {
        return false;
    }
    let Some(json) = crate::b64::decode(header.as_bytes()) else {
        return false;
    };
    #[derive(serde::Deserialize)]
    struct Header<'a> {
        #[serde(borrow)]
        alg: std::borrow::Cow<'a, str>,
    }
    serde_json::from_slice::<Header<'_>>(&json).is_ok_and(|h| !h.alg.is_empty())
}

fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// Routes each token by its shape: JWTs (three base64url segments whose header
/// is a JSON object with an `alg`) to `jwt` (e.g. a JWT verifier, which picks keys by issuer), all others to `opaque` (e.g. an
/// [`IntrospectionVerifier`](crate::introspection::IntrospectionVerifier)).
///
/// With [`check_revocation(true)`](Self::check_revocation), a JWT must pass
/// `jwt` *and then* `opaque`: for issuers whose JWTs can be revoked before they
/// expire. The JWT's own signature is checked first, so forged tokens never cost
/// an introspection call; the token returned is the one `jwt` verified.
///
/// Either side can be any [`TokenVerifier`], including your own (a database
/// lookup) or an `Arc<DynTokenVerifier<'static>>`.
///
/// ```
/// use tower_bearer::compose::ShapeRouter;
/// use tower_bearer::{AccessToken, InvalidToken, Principal, TokenVerifier, VerifyError};
///
/// struct Jwts;
/// impl TokenVerifier for Jwts {
///     async fn verify(&self, _: &str) -> Result<AccessToken, VerifyError> {
///         Ok(AccessToken::new(Principal::new().with_subject("from-jwt")))
///     }
/// }
/// struct Opaque;
/// impl TokenVerifier for Opaque {
///     async fn verify(&self, _: &str) -> Result<AccessToken, VerifyError> {
///         Err(InvalidToken::Inactive.into())
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let router = ShapeRouter::new(Jwts, Opaque);
/// let jwt = router.verify("eyJhbGciOiJSUzI1NiJ9.e30.c2ln").await.unwrap();
/// assert_eq!(jwt.principal().subject(), Some("from-jwt"));
/// assert!(router.verify("opaque-token").await.is_err());
///
/// // Revocable JWTs: the JWT passes, but introspection says inactive.
/// let strict = ShapeRouter::new(Jwts, Opaque).check_revocation(true);
/// assert!(strict.verify("eyJhbGciOiJSUzI1NiJ9.e30.c2ln").await.is_err());
/// # });
/// ```
#[derive(Clone, Debug)]
pub struct ShapeRouter<J, O> {
    jwt: J,
    opaque: O,
    check_revocation: bool,
}

impl<J: TokenVerifier, O: TokenVerifier> ShapeRouter<J, O> {
    /// JWT-shaped tokens to `jwt`, others to `opaque`.
    ///
    /// ```
    /// # use tower_bearer::{compose::ShapeRouter, *};
    /// # struct V; impl TokenVerifier for V { async fn verify(&self, _: &str) -> Result<AccessToken, VerifyError> { Err(InvalidToken::Unknown.into()) } }
    /// let router = ShapeRouter::new(V, V);
    /// ```
    pub fn new(jwt: J, opaque: O) -> Self {
        ShapeRouter {
            jwt,
            opaque,
            check_revocation: false,
        }
    }

    /// Also ask `opaque` about JWTs that `jwt` accepted (default: false).
    ///
    /// ```
    /// # use tower_bearer::{compose::ShapeRouter, *};
    /// # struct V; impl TokenVerifier for V { async fn verify(&self, _: &str) -> Result<AccessToken, VerifyError> { Err(InvalidToken::Unknown.into()) } }
    /// let router = ShapeRouter::new(V, V).check_revocation(true);
    /// ```
    #[must_use]
    pub fn check_revocation(mut self, check: bool) -> Self {
        self.check_revocation = check;
        self
    }
}

impl<J: TokenVerifier, O: TokenVerifier> TokenVerifier for ShapeRouter<J, O> {
    async fn verify(&self, token: &str) -> Result<AccessToken, VerifyError> {
        if !looks_like_jwt(token) {
            return self.opaque.verify(token).await;
        }
        let verified = self.jwt.verify(token).await?;
        if self.check_revocation {
            self.opaque.verify(token).await?;
        }
        Ok(verified)
    }

    /// At hand when every verifier the token goes to has its verdict at hand.
    fn verify_now(&self, token: &str) -> Option<Result<AccessToken, VerifyError>> {
        if !looks_like_jwt(token) {
            return self.opaque.verify_now(token);
        }
        let verified = self.jwt.verify_now(token)?;
        if self.check_revocation
            && verified.is_ok()
            && let Err(revoked) = self.opaque.verify_now(token)?
        {
            return Some(Err(revoked));
        }
        Some(verified)
    }

    fn verifies_as(&self, token: &str) -> TokenSource {
        if looks_like_jwt(token) {
            self.jwt.verifies_as(token)
        } else {
            self.opaque.verifies_as(token)
        }
    }

    /// Ready when both verifiers are.
    fn readiness(&self) -> Result<(), NotReady> {
        self.jwt.readiness()?;
        self.opaque.readiness()
    }

    async fn warm_up(&self) -> Result<(), Unavailable> {
        // Both, even when the first fails.
        let jwt = self.jwt.warm_up().await;
        let opaque = self.opaque.warm_up().await;
        jwt.and(opaque)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use crate::verifier::fixed::Fixed;
    use crate::{DynTokenVerifier, InvalidToken, Unavailable};

    const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln";

    #[test]
    fn jwt_shape() {
        assert!(looks_like_jwt(JWT));
        for not in [
            "",
            "opaque",
            "a.b",
            "a.b.c.d",
            "eyJhbGciOiJSUzI1NiJ9..c2ln",        // empty payload
            "eyJhbGciOiJSUzI1NiJ9.e30.",         // empty signature (alg none)
            "eyJ0eXAiOiJKV1QifQ.e30.c2ln",       // {"typ":"JWT"}: no alg
            "W10.e30.c2ln",                      // []: not an object
            "eyJhbGciOjF9.e30.c2ln",             // {"alg":1}
            "eyJhbGciOiJSUzI1NiJ9=.e30.c2ln",    // padding
            "eyJhbGciOiJSUzI1NiJ9.e30.c2ln+/",   // standard alphabet
            "eyJhbGciOiJSUzI1NiJ9.e30.c2ln.abc", // JWE has five segments
        ] {
            assert!(!looks_like_jwt(not), "{not:?}");
        }
    }

    fn subject(r: Result<AccessToken, VerifyError>) -> String {
        r.unwrap().principal().subject().unwrap().to_owned()
    }

    #[tokio::test]
    async fn routes_by_shape() {
        let (jwt, opaque) = (Fixed::new(Ok("jwt")), Fixed::new(Ok("opaque")));
        let router = ShapeRouter::new(jwt.clone(), opaque.clone());
        assert_eq!(subject(router.verify(JWT).await), "jwt");
        assert_eq!(subject(router.verify("2YotnFZFEjr1zCsicMWpAA").await), "opaque");
        assert_eq!((jwt.calls(), opaque.calls()), (1, 1));
    }

    #[tokio::test]
    async fn a_refused_jwt_is_not_introspected() {
        let jwt = Fixed::new(Err(InvalidToken::Signature.into()));
        let opaque = Fixed::new(Ok("opaque"));
        let router = ShapeRouter::new(jwt.clone(), opaque.clone()).check_revocation(true);
        assert_eq!(
            router.verify(JWT).await.unwrap_err(),
            VerifyError::from(InvalidToken::Signature)
        );
        assert_eq!(opaque.calls(), 0);
    }

    #[tokio::test]
    async fn revocation_check_consults_both() {
        let jwt = Fixed::new(Ok("jwt"));
        let revoked = Fixed::new(Err(InvalidToken::Inactive.into()));
        let router = ShapeRouter::new(jwt.clone(), revoked.clone()).check_revocation(true);
        assert_eq!(
            router.verify(JWT).await.unwrap_err(),
            VerifyError::from(InvalidToken::Inactive)
        );

        let down = Fixed::new(Err(Unavailable::new("down").into()));
        let router = ShapeRouter::new(jwt.clone(), down).check_revocation(true);
        assert!(matches!(
            router.verify(JWT).await,
            Err(VerifyError::Unavailable(_))
        ));

        let active = Fixed::new(Ok("introspected"));
        let router = ShapeRouter::new(jwt.clone(), active.clone()).check_revocation(true);
        assert_eq!(subject(router.verify(JWT).await), "jwt");
        assert_eq!(active.calls(), 1);
    }

    #[test]
    fn verdicts_at_hand_follow_the_shape() {
        let (jwt, opaque) = (Fixed::at_hand(Ok("jwt")), Fixed::at_hand(Ok("opaque")));
        let router = ShapeRouter::new(jwt.clone(), opaque.clone());
        assert_eq!(subject(router.verify_now(JWT).unwrap()), "jwt");
        assert_eq!(
            subject(router.verify_now("2YotnFZFEjr1zCsicMWpAA").unwrap()),
            "opaque"
        );

        // With revocation checks both verdicts are needed: one not at hand means "ask".
        let router = ShapeRouter::new(jwt.clone(), Fixed::new(Ok("opaque"))).check_revocation(true);
        assert!(router.verify_now(JWT).is_none());
        let revoked = Fixed::at_hand(Err(InvalidToken::Inactive.into()));
        let router = ShapeRouter::new(jwt.clone(), revoked).check_revocation(true);
        assert_eq!(
            router.verify_now(JWT).unwrap().unwrap_err(),
            VerifyError::from(InvalidToken::Inactive)
        );
        let active = Fixed::at_hand(Ok("introspected"));
        let router = ShapeRouter::new(jwt.clone(), active).check_revocation(true);
        assert_eq!(subject(router.verify_now(JWT).unwrap()), "jwt");

        // A JWT refused at hand is not introspected.
        let unasked = Fixed::at_hand(Ok("opaque"));
        let router = ShapeRouter::new(
            Fixed::at_hand(Err(InvalidToken::Signature.into())),
            unasked.clone(),
        )
        .check_revocation(true);
        assert!(router.verify_now(JWT).unwrap().is_err());
        assert_eq!(unasked.calls(), 0);

        // Through `dyn` too.
        let router: Arc<DynTokenVerifier<'static>> =
            DynTokenVerifier::new_arc(ShapeRouter::new(jwt, Fixed::new(Ok("opaque"))));
        assert_eq!(subject(router.verify_now(JWT).unwrap()), "jwt");
        assert!(router.verify_now("opaque").is_none());
    }

    #[tokio::test]
    async fn dyn_verifiers_plug_in() {
        let jwt: Arc<DynTokenVerifier<'static>> = DynTokenVerifier::new_arc(Fixed::new(Ok("dyn-jwt")));
        let opaque: Arc<DynTokenVerifier<'static>> = DynTokenVerifier::new_arc(Fixed::new(Ok("dyn-opaque")));
        let router: Arc<DynTokenVerifier<'static>> = DynTokenVerifier::new_arc(ShapeRouter::new(jwt, opaque));
        assert_eq!(subject(router.verify(JWT).await), "dyn-jwt");
        assert_eq!(subject(router.verify("opaque").await), "dyn-opaque");
    }
}
