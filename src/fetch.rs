//! Outbound HTTP for key sets, discovery and introspection: one place that
//! enforces the transport rules (HTTPS except loopback, no redirects, timeouts,
//! bounded bodies).

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::Url;

/// Default timeout for connecting and for the whole exchange.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why an outbound call failed. Reasons name the endpoint's job, never a token
/// or a secret.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Neither https nor http to loopback.
    #[error("url must be https (plain http is allowed for loopback only): {0}")]
    Insecure(String),
    /// Not a URL.
    #[error("invalid url: {0}")]
    BadUrl(String),
    /// No answer in time.
    #[error("timed out")]
    Timeout,
    /// Connection or protocol failure.
    #[error("request failed: {0}")]
    Transport(String),
    /// A status other than 2xx.
    #[error("unexpected status {0}")]
    Status(u16),
    /// A body over the limit.
    #[error("response larger than {0} bytes")]
    TooLarge(usize),
    /// A body that is not (strict) JSON of the expected shape.
    #[error("response is not valid JSON: {0}")]
    Json(String),
    /// The HTTP client could not be built (its TLS backend did not initialise).
    #[error("HTTP client could not be built: {0}")]
    Client(String),
}

/// Parses `url` and checks it is `https`, or `http` to a loopback host.
pub fn checked_url(url: &str) -> Result<Url, FetchError> {
    let parsed = Url::parse(url).map_err(|e| FetchError::BadUrl(format!("{url}: {e}")))?;
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if is_loopback(&parsed) => Ok(parsed),
        _ => Err(FetchError::Insecure(url.to_owned())),
    }
}

/// A loopback host: `localhost` or a loopback IP literal.
pub fn is_loopback(url: &Url) -> bool {
    matches!(url.host(), Some(url::Host::Domain(d)) if d.eq_ignore_ascii_case("localhost"))
        || is_loopback_ip(url)
}

/// A loopback IP literal (`127.0.0.0/8`, `::1`).
pub fn is_loopback_ip(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    }
}

/// A `reqwest` client with no redirects and the given timeout for connecting and
/// for the whole exchange; [`FetchError::Client`] when it cannot be built
/// (the TLS backend does not initialise).
pub fn client(timeout: Duration) -> Result<reqwest::Client, FetchError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(timeout)
        .timeout(timeout)
        .build()
        .map_err(|e| FetchError::Client(e.without_url().to_string()))
}

fn transport_error(e: reqwest::Error) -> FetchError {
    if e.is_timeout() {
        FetchError::Timeout
    } else {
        // Without the URL: it may carry a query chosen by configuration only, but
        // keep reasons short and predictable.
        FetchError::Transport(e.without_url().to_string())
    }
}

/// Sends `request`, requires a 2xx status, and reads at most `limit` bytes of body.
pub async fn send_limited(
    request: reqwest::RequestBuilder,
    limit: usize,
) -> Result<(reqwest::header::HeaderMap, Bytes), FetchError> {
    let response = request.send().await.map_err(transport_error)?;
    let status = response.status();
    if !status.is_success() {
        return Err(FetchError::Status(status.as_u16()));
    }
    read_limited(response, limit).await
}

/// Sends `request` and reads at most `limit` bytes of body, whatever the
/// status (for endpoints whose error answers carry a body to read).
pub(crate) async fn send_any_status(
    request: reqwest::RequestBuilder,
    limit: usize,
) -> Result<(reqwest::StatusCode, reqwest::header::HeaderMap, Bytes), FetchError> {
    let response = request.send().await.map_err(transport_error)?;
    let status = response.status();
    let (headers, body) = read_limited(response, limit).await?;
    Ok((status, headers, body))
}

/// Reads the headers and at most `limit` bytes of body of `response`.
async fn read_limited(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<(reqwest::header::HeaderMap, Bytes), FetchError> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(FetchError::TooLarge(limit));
    }
    let headers = std::mem::take(response.headers_mut());
    let mut body = BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
        if body.len() + chunk.len() > limit {
            return Err(FetchError::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((headers, body.freeze()))
}

/// GETs `url` as JSON with a body limit; returns the headers and the value.
pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(
    client: &reqwest::Client,
    url: &Url,
    limit: usize,
) -> Result<(reqwest::header::HeaderMap, T), FetchError> {
    let request = client
        .get(url.clone())
        .header(reqwest::header::ACCEPT, "application/json");
    let (headers, body) = send_limited(request, limit).await?;
    Ok((headers, strict_document(&body)?))
}

/// An outside document of type `T`, read by [`strict_object`].
pub(crate) fn strict_document<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, FetchError> {
    serde_json::from_value(serde_json::Value::Object(strict_object(body)?))
        .map_err(|e| FetchError::Json(e.to_string()))
}

/// An outside document read by the crate's one strict JSON reader: a JSON object
/// without duplicate member names at any depth, else [`FetchError::Json`].
pub fn strict_object(body: &[u8]) -> Result<serde_json::Map<String, serde_json::Value>, FetchError> {
    crate::jwt::json::object(body)
        .ok_or_else(|| FetchError::Json("not a JSON object, or duplicate member names".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_or_loopback_http_only() {
        assert!(checked_url("https://as.example/jwks").is_ok());
        assert!(checked_url("http://127.0.0.1:8080/jwks").is_ok());
        assert!(checked_url("http://127.5.0.1/jwks").is_ok());
        assert!(checked_url("http://[::1]:9/jwks").is_ok());
        assert!(checked_url("http://localhost/jwks").is_ok());
        assert!(matches!(
            checked_url("http://as.example/jwks"),
            Err(FetchError::Insecure(_))
        ));
        assert!(matches!(
            checked_url("http://10.0.0.1/jwks"),
            Err(FetchError::Insecure(_))
        ));
        assert!(matches!(
            checked_url("ftp://127.0.0.1/jwks"),
            Err(FetchError::Insecure(_))
        ));
        assert!(matches!(checked_url("not a url"), Err(FetchError::BadUrl(_))));
    }
}
