//! Outbound calls with an exchanged token: [`ExchangeLayer`] for tower HTTP
//! clients and [`TokenExchange::attach`] for `reqwest`. Both replace the
//! request's credentials with the exchanged token (and a DPoP proof by the
//! server's key when it is bound); neither sends a request without one.

use std::fmt;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue, Method, Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::{ClientKey, Downstream, ExchangeError, ExchangedToken, SubjectToken, TokenExchange, TokenType};
use crate::dpop::DPOP;
use crate::{AccessToken, Unavailable};

/// Copies what an outbound call needs of the incoming request — its
/// [`SubjectToken`] and verified [`AccessToken`] — from `from` (the incoming
/// request's extensions) to `to` (the outbound request's); false, and nothing
/// copied, when either is missing.
///
/// ```
/// use tower_bearer::exchange::{SubjectToken, carry_subject};
/// use tower_bearer::{AccessToken, Principal};
/// let mut incoming = http::Extensions::new();
/// incoming.insert(SubjectToken::new("t0ken"));
/// incoming.insert(AccessToken::new(Principal::new().with_subject("alice")));
/// let mut outbound = http::Request::get("https://api.example/v1").body(()).unwrap();
/// assert!(carry_subject(&incoming, outbound.extensions_mut()));
/// assert!(!carry_subject(&http::Extensions::new(), outbound.extensions_mut()));
/// ```
pub fn carry_subject(from: &http::Extensions, to: &mut http::Extensions) -> bool {
    match (from.get::<SubjectToken>(), from.get::<AccessToken>()) {
        (Some(subject), Some(verified)) => {
            to.insert(subject.clone());
            to.insert(verified.clone());
            true
        }
        _ => false,
    }
}

/// The `htu` of a DPoP proof (RFC 9449 §4.2): the URL without query and fragment.
pub(super) fn htu(url: &url::Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.into()
}

/// Removes any credentials (`Authorization`, `DPoP`) from outbound headers.
fn strip_credentials(headers: &mut HeaderMap) {
    headers.remove(AUTHORIZATION);
    headers.remove(DPOP);
}

/// Puts `token` into `headers` in place of any credentials: `Authorization`
/// with its scheme and, for a DPoP-bound token, a fresh proof by `key` for
/// `method` and `url`.
fn authorize(
    headers: &mut HeaderMap,
    method: &Method,
    url: &url::Url,
    token: &ExchangedToken,
    key: Option<&ClientKey>,
) -> Result<(), ExchangeError> {
    strip_credentials(headers);
    let value = HeaderValue::try_from(format!("{} {}", token.token_type().scheme(), token.secret()))
        .map_err(|_| Unavailable::new("exchanged token is not a header value"))?;
    if token.token_type() == TokenType::Dpop {
        let proof = key
            .and_then(|key| key.dpop_proof(method.as_str(), &htu(url), Some(token.secret()), None))
            .and_then(|proof| HeaderValue::try_from(proof).ok())
            .ok_or_else(|| Unavailable::new("could not sign the DPoP proof of a bound token"))?;
        headers.insert(DPOP, proof);
    }
    let mut value = value;
    value.set_sensitive(true);
    headers.insert(AUTHORIZATION, value);
    Ok(())
}

impl TokenExchange {
    /// Exchanges `subject` for a token for `downstream` and puts it into
    /// `request` in place of any credentials (with a DPoP proof when the token
    /// is bound). On error the request is left without credentials.
    ///
    /// # Errors
    /// As [`TokenExchange::exchange`].
    ///
    /// ```no_run
    /// # async fn f(exchange: tower_bearer::exchange::TokenExchange, subject: tower_bearer::exchange::SubjectToken,
    /// #            verified: tower_bearer::AccessToken) -> Result<(), Box<dyn std::error::Error>> {
    /// use tower_bearer::exchange::Downstream;
    /// let http = reqwest::Client::new();
    /// let downstream = Downstream::resource("https://api.example/v1")?;
    /// let mut request = http.get("https://api.example/v1/me").build()?;
    /// exchange.attach(&mut request, &subject, &verified, &downstream).await?;
    /// let answer = http.execute(request).await?;
    /// # let _ = answer; Ok(()) }
    /// ```
    pub async fn attach(
        &self,
        request: &mut reqwest::Request,
        subject: &SubjectToken,
        verified: &AccessToken,
        downstream: &Downstream,
    ) -> Result<ExchangedToken, ExchangeError> {
        strip_credentials(request.headers_mut());
        let token = self.exchange(subject, verified, downstream).await?;
        let (method, url) = (request.method().clone(), request.url().clone());
        authorize(request.headers_mut(), &method, &url, &token, self.dpop_key())?;
        Ok(token)
    }
}

/// Authorizes the outbound requests of a tower HTTP client with a token
/// exchanged for one [`Downstream`]. Each request must carry the incoming
/// request's [`SubjectToken`] and [`AccessToken`] in its extensions (see
/// [`carry_subject`]); without them it is not sent
/// ([`ExchangeError::NoSubjectToken`]). The response carries the
/// [`ExchangedToken`] used in its extensions.
///
/// ```
/// use tower::{ServiceBuilder, ServiceExt};
/// use tower_bearer::exchange::{Downstream, ExchangeLayer, OutboundError, TokenExchange};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let exchange = TokenExchange::builder()
///     .token_endpoint("https://as.example/token")
///     .client_secret_basic("rs", "s3cret")
///     .build()
///     .unwrap();
/// let client = ServiceBuilder::new()
///     .layer(ExchangeLayer::new(exchange, Downstream::resource("https://api.example/v1").unwrap()))
///     .service_fn(|_req: http::Request<()>| async { Ok::<_, std::convert::Infallible>(http::Response::new(())) });
/// // No subject token in the request: nothing is sent.
/// let err = client.oneshot(http::Request::get("https://api.example/v1/me").body(()).unwrap()).await.unwrap_err();
/// assert!(matches!(err, OutboundError::Exchange(_)));
/// # });
/// ```
#[derive(Clone, Debug)]
pub struct ExchangeLayer {
    exchange: TokenExchange,
    downstream: Arc<Downstream>,
}

impl ExchangeLayer {
    /// Exchanges with `exchange` for `downstream`.
    ///
    /// See [`ExchangeLayer`] for an example.
    pub fn new(exchange: TokenExchange, downstream: Downstream) -> Self {
        ExchangeLayer {
            exchange,
            downstream: Arc::new(downstream),
        }
    }
}

impl<S> Layer<S> for ExchangeLayer {
    type Service = ExchangeService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ExchangeService {
            inner,
            exchange: self.exchange.clone(),
            downstream: self.downstream.clone(),
        }
    }
}

/// The service built by [`ExchangeLayer`].
///
/// ```
/// # use tower_bearer::exchange::*;
/// use tower::Layer;
/// # let exchange = TokenExchange::builder().token_endpoint("https://as.example/token").client_secret_basic("rs", "s").build().unwrap();
/// let svc = ExchangeLayer::new(exchange, Downstream::audience("api").unwrap()).layer(42_u32);
/// assert_eq!(*svc.get_ref(), 42);
/// ```
#[derive(Clone, Debug)]
pub struct ExchangeService<S> {
    inner: S,
    exchange: TokenExchange,
    downstream: Arc<Downstream>,
}

impl<S> ExchangeService<S> {
    crate::macros::inner_service_accessors!(
        r#"```
# use tower_bearer::exchange::*;
use tower::Layer;
# let exchange = TokenExchange::builder().token_endpoint("https://as.example/token").client_secret_basic("rs", "s").build().unwrap();
let mut svc = ExchangeLayer::new(exchange, Downstream::audience("api").unwrap()).layer(42_u32);
*svc.get_mut() += 1;
assert_eq!(svc.into_inner(), 43);
```
"#
    );
}

/// Why an [`ExchangeService`] call failed: no token for the downstream (the
/// request was not sent), or the inner client's own error.
///
/// ```
/// use tower_bearer::exchange::{ExchangeError, OutboundError};
/// let e: OutboundError<std::io::Error> = OutboundError::Exchange(ExchangeError::NoSubjectToken);
/// assert_eq!(e.to_string(), "no token for the downstream call: no subject token in the request (keep_subject_token is off)");
/// ```
#[derive(Debug, thiserror::Error)]
pub enum OutboundError<E> {
    /// No token could be had; the request was not sent.
    #[error("no token for the downstream call: {0}")]
    Exchange(ExchangeError),
    /// The inner client failed.
    #[error("downstream call failed: {0}")]
    Inner(E),
}

/// Response future of [`ExchangeService`]: the exchange, then the call.
pub struct ExchangeFuture<R, E>(Pin<Box<dyn Future<Output = Result<R, OutboundError<E>>> + Send>>);

impl<R, E> fmt::Debug for ExchangeFuture<R, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExchangeFuture").finish_non_exhaustive()
    }
}

impl<R, E> Future for ExchangeFuture<R, E> {
    type Output = Result<R, OutboundError<E>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.as_mut().poll(cx)
    }
}

impl<S, B, RB> Service<Request<B>> for ExchangeService<S>
where
    S: Service<Request<B>, Response = Response<RB>> + Clone + Send + 'static,
    S::Future: Send,
    B: Send + 'static,
{
    type Response = Response<RB>;
    type Error = OutboundError<S::Error>;
    type Future = ExchangeFuture<Response<RB>, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(OutboundError::Inner)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        // Call the service that was driven to readiness; keep a fresh clone.
        let clone = self.inner.clone();
        let mut inner = mem::replace(&mut self.inner, clone);
        let exchange = self.exchange.clone();
        let downstream = self.downstream.clone();
        ExchangeFuture(Box::pin(async move {
            strip_credentials(req.headers_mut());
            let subject = req.extensions_mut().remove::<SubjectToken>();
            let verified = req.extensions_mut().remove::<AccessToken>();
            let (Some(subject), Some(verified)) = (subject, verified) else {
                return Err(OutboundError::Exchange(ExchangeError::NoSubjectToken));
            };
            let token = exchange
                .exchange(&subject, &verified, &downstream)
                .await
                .map_err(OutboundError::Exchange)?;
            let url = url::Url::parse(&req.uri().to_string()).map_err(|_| {
                OutboundError::Exchange(Unavailable::new("outbound request URI is not absolute").into())
            })?;
            let method = req.method().clone();
            authorize(req.headers_mut(), &method, &url, &token, exchange.dpop_key())
                .map_err(OutboundError::Exchange)?;
            let mut response = inner.call(req).await.map_err(OutboundError::Inner)?;
            // For the tool that made the call: which token, for whom.
            response.extensions_mut().insert(token);
            Ok(response)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_replaced_and_bound_tokens_get_a_proof() {
        let key = ClientKey::generate().unwrap();
        let url = url::Url::parse("https://api.example/v1/me?x=1#f").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer incoming"));
        headers.insert(DPOP, HeaderValue::from_static("incoming-proof"));
        let bearer = ExchangedToken::new("exchanged", TokenType::Bearer, None, None, "x");
        authorize(&mut headers, &Method::GET, &url, &bearer, Some(&key)).unwrap();
        assert_eq!(headers[AUTHORIZATION], "Bearer exchanged");
        assert!(headers.get(DPOP).is_none(), "no proof for a bearer token");
        let bound = ExchangedToken::new("bound", TokenType::Dpop, None, None, "x");
        authorize(&mut headers, &Method::POST, &url, &bound, Some(&key)).unwrap();
        assert_eq!(headers[AUTHORIZATION], "DPoP bound");
        let proof = headers[DPOP].to_str().unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&crate::b64::decode(proof.split('.').nth(1).unwrap().as_bytes()).unwrap())
                .unwrap();
        assert_eq!(claims["htu"], "https://api.example/v1/me");
        assert_eq!(claims["htm"], "POST");
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer incoming"));
        assert!(authorize(&mut headers, &Method::GET, &url, &bound, None).is_err());
        assert!(
            headers.get(AUTHORIZATION).is_none(),
            "a failed attempt leaves no credentials"
        );
    }
}
