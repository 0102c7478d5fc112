//! DNS-rebinding protection for the MCP streamable HTTP transport: [`OriginLayer`]
//! refuses requests whose `Origin` is not on an allowlist.
//!
//! The transport spec says servers MUST validate `Origin` and answer 403 when it
//! is present and not acceptable. Requests without `Origin` (non-browser MCP
//! clients) pass. The layer is transport-neutral: it works in front of any
//! service, rmcp's or not.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::ORIGIN;
use http::{HeaderMap, Request, Response, StatusCode};
use tower_layer::Layer;
use tower_service::Service;
use url::Url;

use crate::RefusalFuture;
use crate::extract::{SingleHeader, single_header};

/// Refuses (403, empty body) requests whose `Origin` header is not allowed.
///
/// Origins compare as RFC 6454 tuples: scheme and host case-insensitively, the
/// default port equal to no port. More than one `Origin` header, or one that is
/// not an origin, is refused. `Origin: null` (sandboxed frames, `file:`) is
/// refused unless [`allow_null`](OriginLayer::allow_null) is set.
///
/// ```
/// use tower::{ServiceBuilder, ServiceExt};
/// use tower_bearer::origin::OriginLayer;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let svc = ServiceBuilder::new()
///     .layer(OriginLayer::new(["https://app.example"])?)
///     .service_fn(|_req: http::Request<()>| async { Ok::<_, std::convert::Infallible>(http::Response::new(String::new())) });
///
/// let req = |origin: &str| http::Request::builder().header("origin", origin).body(()).unwrap();
/// assert_eq!(svc.clone().oneshot(req("https://APP.example:443")).await.unwrap().status(), 200);
/// assert_eq!(svc.clone().oneshot(req("http://evil.example")).await.unwrap().status(), 403);
/// // Non-browser clients send no Origin.
/// assert_eq!(svc.oneshot(http::Request::new(())).await.unwrap().status(), 200);
/// # Ok::<(), tower_bearer::origin::OriginError>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct OriginLayer {
    allowed: Arc<BTreeSet<String>>,
    allow_null: bool,
}

impl fmt::Debug for OriginLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OriginLayer")
            .field("allowed", &self.allowed)
            .field("allow_null", &self.allow_null)
            .finish()
    }
}

/// Why an [`OriginLayer`] allowlist was refused; the message names the entry.
///
/// ```
/// use tower_bearer::origin::{OriginError, OriginLayer};
/// let error = OriginLayer::new(["https://app.example", "https://app.example/mcp"]).unwrap_err();
/// assert!(matches!(&error, OriginError::NotAnOrigin { index: 1, .. }));
/// assert!(error.to_string().starts_with("origins[1] "));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OriginError {
    /// An entry is not an `http`/`https` origin (`scheme://host[:port]`, no
    /// path, query, fragment or user information).
    #[error("origins[{index}] {origin:?} is not an origin: expected scheme://host[:port] with http or https")]
    NotAnOrigin {
        /// The entry's position in the allowlist.
        index: usize,
        /// The entry refused (an allowlist holds no secrets).
        origin: String,
    },
}

impl OriginLayer {
    /// Allows exactly these origins (`scheme://host[:port]`).
    ///
    /// # Errors
    /// [`OriginError::NotAnOrigin`] if an entry is not an `http`/`https` origin
    /// (no path, query, fragment or user information), e.g.
    /// `"https://app.example/"` or `"app.example"`.
    ///
    /// ```
    /// let layer = tower_bearer::origin::OriginLayer::new(["https://app.example", "http://localhost:6274"])?;
    /// # Ok::<(), tower_bearer::origin::OriginError>(())
    /// ```
    pub fn new<I, S>(origins: I) -> Result<Self, OriginError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let allowed = origins
            .into_iter()
            .enumerate()
            .map(|(index, o)| {
                let o = o.as_ref();
                parse_origin(o).ok_or_else(|| OriginError::NotAnOrigin {
                    index,
                    origin: o.to_owned(),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(OriginLayer {
            allowed: Arc::new(allowed),
            allow_null: false,
        })
    }

    /// Also accept `Origin: null`. Off by default: any page can produce it.
    ///
    /// ```
    /// let layer = tower_bearer::origin::OriginLayer::new(["https://app.example"])?.allow_null(true);
    /// # Ok::<(), tower_bearer::origin::OriginError>(())
    /// ```
    #[must_use]
    pub fn allow_null(mut self, allow: bool) -> Self {
        self.allow_null = allow;
        self
    }

    /// Whether a request with these headers passes.
    ///
    /// ```
    /// use tower_bearer::origin::OriginLayer;
    /// let layer = OriginLayer::new(["https://app.example"])?;
    /// let mut headers = http::HeaderMap::new();
    /// assert!(layer.allows(&headers));
    /// headers.insert("origin", "https://app.example".parse().unwrap());
    /// assert!(layer.allows(&headers));
    /// headers.insert("origin", "https://app.example.evil".parse().unwrap());
    /// assert!(!layer.allows(&headers));
    /// # Ok::<(), tower_bearer::origin::OriginError>(())
    /// ```
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        let value = match single_header(headers, ORIGIN) {
            SingleHeader::One(value) => value,
            // No Origin passes; two are refused.
            SingleHeader::Absent => return true,
            SingleHeader::Repeated => return false,
        };
        let Ok(value) = value.to_str() else {
            return false;
        };
        if value == "null" {
            return self.allow_null;
        }
        parse_origin(value).is_some_and(|o| self.allowed.contains(&o))
    }
}

/// The serialized origin, or `None` when `s` is not exactly an http(s) origin.
fn parse_origin(s: &str) -> Option<String> {
    let url = Url::parse(s).ok()?;
    let bare = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some()
        && url.username().is_empty()
        && url.password().is_none()
        && url.query().is_none()
        && url.fragment().is_none()
        && url.path() == "/"
        && !s.ends_with('/');
    bare.then(|| url.origin().ascii_serialization())
}

impl<S> Layer<S> for OriginLayer {
    type Service = Origin<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Origin {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service built by [`OriginLayer`].
///
/// ```
/// use tower::Layer;
/// let svc = tower_bearer::origin::OriginLayer::new(["https://app.example"])?.layer(7_u8);
/// assert_eq!(*svc.get_ref(), 7);
/// # Ok::<(), tower_bearer::origin::OriginError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Origin<S> {
    inner: S,
    layer: OriginLayer,
}

impl<S> Origin<S> {
    crate::macros::inner_service_accessors!(
        r#"```
use tower::Layer;
let mut svc = tower_bearer::origin::OriginLayer::new(["https://a.example"]).unwrap().layer(1_u8);
*svc.get_mut() += 1;
assert_eq!(svc.into_inner(), 2);
```
"#
    );
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Origin<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = RefusalFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let decision = if self.layer.allows(req.headers()) {
            Ok(())
        } else {
            tracing::debug!("request refused: Origin not allowed");
            let mut res = Response::new(ResBody::default());
            *res.status_mut() = StatusCode::FORBIDDEN;
            Err(res)
        };
        RefusalFuture::call_or_refuse(&mut self.inner, req, decision)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_origin_accepts_only_bare_origins() {
        assert_eq!(
            parse_origin("HTTPS://App.Example:443").as_deref(),
            Some("https://app.example")
        );
        assert_eq!(
            parse_origin("http://localhost:6274").as_deref(),
            Some("http://localhost:6274")
        );
        assert_eq!(parse_origin("http://[::1]:80").as_deref(), Some("http://[::1]"));
        for bad in [
            "https://app.example/",
            "https://app.example/x",
            "https://app.example?x",
            "https://app.example#x",
            "https://u@app.example",
            "app.example",
            "file:///etc",
            "null",
            "",
        ] {
            assert_eq!(parse_origin(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_bad_allowlist_entry_is_refused_naming_it() {
        let error = OriginLayer::new(["https://app.example", "https://app.example/mcp"]).unwrap_err();
        assert_eq!(
            error,
            OriginError::NotAnOrigin {
                index: 1,
                origin: "https://app.example/mcp".into()
            }
        );
        assert!(
            error
                .to_string()
                .starts_with("origins[1] \"https://app.example/mcp\""),
            "{error}"
        );
    }

    #[tokio::test]
    async fn an_allowed_request_calls_the_ready_service_without_a_clone() {
        use std::sync::atomic::Ordering;
        use tower::ServiceExt;

        let echo = crate::layer::tests::Echo::default();
        let (clones, calls) = (echo.clones.clone(), echo.calls.clone());
        let mut svc = OriginLayer::new(["https://app.example"]).unwrap().layer(echo);
        let request = |origin: &'static str| {
            Request::builder()
                .header(ORIGIN, origin)
                .body(String::new())
                .unwrap()
        };
        for _ in 0..3 {
            let res = svc
                .ready()
                .await
                .unwrap()
                .call(request("https://app.example"))
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
        }
        let refused = svc
            .ready()
            .await
            .unwrap()
            .call(request("https://evil.example"))
            .await
            .unwrap();
        assert_eq!(refused.status(), 403);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(clones.load(Ordering::SeqCst), 0);
    }
}
