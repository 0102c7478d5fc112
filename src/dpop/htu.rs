//! The `htu` check: a proof names the URL it was made for (RFC 9449 §4.3 item
//! 9), compared after RFC 3986 §6.2.2 normalisation (scheme and host in lower
//! case, default ports dropped, dot segments and percent-encoding as the URL
//! standard writes them), ignoring query and fragment.

use std::fmt;

use http::header::HOST;
use http::{HeaderMap, Uri};
use url::Url;

/// The URL clients use to reach this server, set with
/// [`Dpop::public_url`](super::Dpop::public_url) (a
/// [`Resource`](crate::Resource) sets its origin).
///
/// ```
/// use tower_bearer::dpop::{PublicUrl, PublicUrlError};
/// assert_eq!(PublicUrl::parse("HTTPS://API.example.com:443/base/").unwrap().as_str(), "https://api.example.com/base");
/// assert_eq!(PublicUrl::parse("https://api.example.com/?q=1"), Err(PublicUrlError::QueryOrFragment));
/// assert_eq!(PublicUrl::parse("ftp://api.example.com"), Err(PublicUrlError::Scheme));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct PublicUrl(String);

impl fmt::Debug for PublicUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// Why a [`PublicUrl`] was refused.
///
/// ```
/// use tower_bearer::dpop::PublicUrl;
/// let e = PublicUrl::parse("api.example.com").unwrap_err();
/// assert_eq!(e.to_string(), "DPoP public URL: not an absolute URL");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PublicUrlError {
    /// Not an absolute URL.
    #[error("DPoP public URL: not an absolute URL")]
    NotAbsolute,
    /// Neither `http` nor `https`.
    #[error("DPoP public URL: scheme must be http or https")]
    Scheme,
    /// No host.
    #[error("DPoP public URL: no host")]
    NoHost,
    /// A query or a fragment.
    #[error("DPoP public URL: a query or fragment is not allowed")]
    QueryOrFragment,
    /// User information.
    #[error("DPoP public URL: user information is not allowed")]
    UserInfo,
}

impl PublicUrl {
    /// Parses and normalises a public base URL: `http` or `https`, a host, no
    /// user info, query or fragment; a trailing `/` is dropped.
    ///
    /// # Errors
    /// A [`PublicUrlError`] saying which rule the URL breaks.
    ///
    /// See [`PublicUrl`] for an example.
    pub fn parse(url: &str) -> Result<Self, PublicUrlError> {
        let parsed = Url::parse(url).map_err(|_| PublicUrlError::NotAbsolute)?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(PublicUrlError::Scheme);
        }
        if parsed.host_str().is_none() {
            return Err(PublicUrlError::NoHost);
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(PublicUrlError::QueryOrFragment);
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(PublicUrlError::UserInfo);
        }
        Ok(PublicUrl(parsed.as_str().trim_end_matches('/').to_owned()))
    }

    /// The normalised URL.
    ///
    /// See [`PublicUrl`] for an example.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The URL a request was sent to, as far as the server can tell.
pub(crate) enum Target<'a> {
    /// Behind a configured public URL: that prefix and the request path.
    Fixed(&'a PublicUrl, &'a str),
    /// From the request: its scheme if known (HTTP/2, absolute-form; else
    /// `http`), its authority (URI or `Host`) and path.
    Request {
        scheme: Option<&'a str>,
        authority: Option<&'a str>,
        path: &'a str,
    },
}

impl<'a> Target<'a> {
    pub(crate) fn of(public: Option<&'a PublicUrl>, uri: &'a Uri, headers: &'a HeaderMap) -> Self {
        let path = uri.path();
        match public {
            Some(public) => Target::Fixed(public, path),
            None => Target::Request {
                scheme: uri.scheme_str(),
                authority: uri
                    .authority()
                    .map(|a| a.as_str())
                    .or_else(|| headers.get(HOST).and_then(|h| h.to_str().ok())),
                path,
            },
        }
    }

    /// Whether the proof's `htu` names this target.
    pub(crate) fn matches(&self, htu: &str) -> bool {
        // Most clients write the URL as the server would: equal bytes need no
        // parsing (and equal inputs normalise alike).
        let bare = htu.split(['?', '#']).next().unwrap_or_default();
        if self.is_exactly(bare) {
            return true;
        }
        let Some(presented) = normalised(htu) else {
            return false;
        };
        match *self {
            Target::Fixed(public, path) => {
                normalised(&format!("{}{path}", public.0)).is_some_and(|e| e == presented)
            }
            Target::Request {
                scheme,
                authority: Some(authority),
                path,
            } => {
                // RFC 9110 §7.1: a request that does not name its scheme came
                // over plain HTTP as far as this server can tell.
                let scheme = scheme.unwrap_or("http");
                if !matches!(scheme, "http" | "https") || authority.contains(['/', '@', '?', '#']) {
                    return false;
                }
                normalised(&format!("{scheme}://{authority}{path}")).is_some_and(|e| e == presented)
            }
            // No authority at all (an HTTP/1.0 request without Host): nothing to compare.
            Target::Request { authority: None, .. } => false,
        }
    }
}

impl Target<'_> {
    /// Whether `bare` (an `htu` without query and fragment) is byte for byte
    /// the target's URL.
    fn is_exactly(&self, bare: &str) -> bool {
        let (rest, expected) = match *self {
            Target::Fixed(public, path) => (bare.strip_prefix(public.as_str()), path),
            Target::Request {
                scheme,
                authority: Some(authority),
                path,
            } => {
                if authority.contains(['/', '@', '?', '#']) {
                    return false;
                }
                let after_scheme = match scheme {
                    Some(scheme @ ("http" | "https")) => bare.strip_prefix(scheme),
                    Some(_) => None,
                    None => bare.strip_prefix("http"),
                };
                let rest = after_scheme
                    .and_then(|r| r.strip_prefix("://"))
                    .and_then(|r| r.strip_prefix(authority));
                (rest, path)
            }
            Target::Request { authority: None, .. } => (None, ""),
        };
        rest.is_some_and(|rest| rest == expected)
    }
}

/// `url` parsed and normalised, without query and fragment.
fn normalised(url: &str) -> Option<Url> {
    let mut url = Url::parse(url).ok()?;
    if !matches!(url.scheme(), "http" | "https") || !url.username().is_empty() || url.password().is_some() {
        return None;
    }
    url.set_query(None);
    url.set_fragment(None);
    Some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str, host: Option<&str>) -> (Uri, HeaderMap) {
        let mut headers = HeaderMap::new();
        if let Some(host) = host {
            headers.insert(HOST, host.parse().unwrap());
        }
        (uri.parse().unwrap(), headers)
    }

    #[test]
    fn normalised_comparison_from_the_request() {
        let (uri, headers) = request("/mcp?x=1", Some("Example.COM:80"));
        let target = Target::of(None, &uri, &headers);
        for ok in [
            "http://example.com/mcp",
            "HTTP://EXAMPLE.com:80/mcp",
            "http://example.com/mcp?other=2#frag",
            "http://example.com/a/../mcp",
        ] {
            assert!(target.matches(ok), "{ok}");
        }
        for bad in [
            "http://example.com/mcp/",
            "http://example.com/MCP",
            "http://example.com:8080/mcp",
            "http://other.example/mcp",
            "https://example.com/mcp", // :80 is not https's default port
            "http://user@example.com/mcp",
            "ftp://example.com/mcp",
            "/mcp",
            "",
        ] {
            assert!(!target.matches(bad), "{bad}");
        }
        // No scheme in the request: it is `http` (RFC 9110 §7.1), so a proof
        // made for `https` names another URL.
        let (uri, headers) = request("/mcp", Some("example.com"));
        let target = Target::of(None, &uri, &headers);
        assert!(target.matches("http://example.com/mcp"));
        assert!(target.matches("http://example.com:80/mcp"));
        assert!(!target.matches("https://example.com/mcp"));
        assert!(!target.matches("https://example.com:443/mcp"));
        assert!(!target.matches("https://example.com:80/mcp"));
    }

    #[test]
    fn the_uri_scheme_and_authority_win_when_known() {
        let (uri, headers) = request("https://api.example.com/mcp", Some("evil.example"));
        let target = Target::of(None, &uri, &headers);
        assert!(target.matches("https://api.example.com/mcp"));
        assert!(!target.matches("http://api.example.com/mcp"));
        assert!(!target.matches("https://evil.example/mcp"));
    }

    #[test]
    fn a_public_url_replaces_the_request_origin() {
        let public = PublicUrl::parse("https://API.example.com/base/").unwrap();
        let (uri, headers) = request("/mcp", Some("127.0.0.1:8080"));
        let target = Target::of(Some(&public), &uri, &headers);
        assert!(target.matches("https://api.example.com/base/mcp"));
        assert!(!target.matches("http://127.0.0.1:8080/mcp"));
        assert!(!target.matches("https://api.example.com/mcp"));
    }

    #[test]
    fn the_byte_equal_shortcut_accepts_only_what_normalisation_accepts() {
        let public = PublicUrl::parse("https://api.example.com/base").unwrap();
        let hosts = [
            "api.example.com",
            "API.example.com:443",
            "a.example/x",
            "[::1]:8080",
            "u@h",
        ];
        let htus = [
            "https://api.example.com/mcp",
            "http://api.example.com/mcp",
            "https://API.example.com:443/mcp",
            "https://api.example.com/base/mcp",
            "http://[::1]:8080/mcp",
            "https://a.example/x/mcp",
            "http://u@h/mcp",
            "https://api.example.com/mcp?q#f",
        ];
        for host in hosts {
            for uri in ["/mcp", "https://api.example.com/mcp"] {
                let (uri, headers) = request(uri, Some(host));
                for target in [
                    Target::of(None, &uri, &headers),
                    Target::of(Some(&public), &uri, &headers),
                ] {
                    for htu in htus {
                        let bare = htu.split(['?', '#']).next().unwrap();
                        if target.is_exactly(bare) {
                            let slow = normalised(htu).is_some_and(|p| match target {
                                Target::Fixed(public, path) => {
                                    normalised(&format!("{}{path}", public.0)).is_some_and(|e| e == p)
                                }
                                Target::Request {
                                    scheme,
                                    authority: Some(a),
                                    path,
                                } => normalised(&format!("{}://{a}{path}", scheme.unwrap_or("http")))
                                    .is_some_and(|e| e == p),
                                _ => false,
                            });
                            assert!(slow, "{host} {htu}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn hostile_host_headers_match_nothing() {
        for host in ["a.example/x", "u@a.example", "a.example?q", "a.example#f"] {
            let (uri, headers) = request("/mcp", Some(host));
            let target = Target::of(None, &uri, &headers);
            assert!(!target.matches("http://a.example/mcp"), "{host}");
            assert!(!target.matches(&format!("http://{host}/mcp")), "{host}");
        }
        let (uri, headers) = request("/mcp", None);
        assert!(!Target::of(None, &uri, &headers).matches("http://a.example/mcp"));
    }
}
