//! Bearer token extraction (RFC 6750 §2).
//!
//! Only the `Authorization` request header is read by default (§2.1). The URI
//! query parameter (§2.3) is opt-in; the form-encoded body parameter (§2.2) is not
//! supported, because it would force the layer to buffer every body.

use http::header::{AUTHORIZATION, AsHeaderName};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Uri};

/// Longest token accepted, in bytes (16 KiB). Longer credentials are refused
/// before any verification work.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Why no usable bearer token could be read from a request.
///
/// ```
/// use tower_bearer::extract::{BearerExtractor, ExtractError};
/// let req = http::Request::builder().body(()).unwrap();
/// assert_eq!(BearerExtractor::new().extract(req.headers(), req.uri()), Err(ExtractError::Missing));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExtractError {
    /// No bearer credentials at all (also: another scheme such as `Basic`):
    /// answered with 401 and a challenge without an error code (RFC 6750 §3.1).
    #[error("no bearer token")]
    Missing,
    /// More than one `Authorization` header, or a token in more than one place.
    #[error("more than one credential")]
    Multiple,
    /// `Bearer` with no token, or a token outside the b64token grammar.
    #[error("malformed bearer credential")]
    Malformed,
    /// The token is longer than [`MAX_TOKEN_LEN`].
    #[error("bearer token too long")]
    TooLong,
}

/// The authorization scheme a credential came with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Scheme {
    #[default]
    Bearer,
    Dpop,
}

/// The values of a header that may appear at most once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SingleHeader<'a> {
    /// Not sent.
    Absent,
    /// Sent exactly once.
    One(&'a HeaderValue),
    /// Sent more than once (whatever the values).
    Repeated,
}

/// The crate's one reading of "exactly one header value": every header the
/// crate reads (`Authorization`, `DPoP`, `Origin`, the MCP headers) goes
/// through it.
pub(crate) fn single_header<K: AsHeaderName>(headers: &HeaderMap, name: K) -> SingleHeader<'_> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (None, _) => SingleHeader::Absent,
        (Some(value), None) => SingleHeader::One(value),
        (Some(_), Some(_)) => SingleHeader::Repeated,
    }
}

/// Reads the bearer token from a request, per RFC 6750 §2.
///
/// ```
/// use tower_bearer::extract::BearerExtractor;
/// let req = http::Request::builder()
///     .header("authorization", "bearer abc.def-ghi_~+/==")
///     .body(())
///     .unwrap();
/// let token = BearerExtractor::new().extract(req.headers(), req.uri()).unwrap();
/// assert_eq!(token, "abc.def-ghi_~+/==");
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct BearerExtractor {
    allow_query: bool,
}

impl BearerExtractor {
    /// Header-only extraction (the secure default).
    ///
    /// ```
    /// let _ = tower_bearer::extract::BearerExtractor::new();
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Also accept `?access_token=…` (RFC 6750 §2.3). Off by default: URLs end up
    /// in logs and browser history. A token in both places is refused (400).
    ///
    /// ```
    /// use tower_bearer::extract::BearerExtractor;
    /// let req = http::Request::builder().uri("/x?access_token=abc").body(()).unwrap();
    /// let ex = BearerExtractor::new().allow_query(true);
    /// assert_eq!(ex.extract(req.headers(), req.uri()).unwrap(), "abc");
    /// ```
    #[must_use]
    pub fn allow_query(mut self, allow: bool) -> Self {
        self.allow_query = allow;
        self
    }

    /// Extracts the token from request parts.
    ///
    /// ```
    /// use tower_bearer::extract::BearerExtractor;
    /// let (parts, ()) = http::Request::builder()
    ///     .header("authorization", "Bearer t0k3n")
    ///     .body(())
    ///     .unwrap()
    ///     .into_parts();
    /// assert_eq!(BearerExtractor::new().extract_parts(&parts).unwrap(), "t0k3n");
    /// ```
    pub fn extract_parts<'a>(&self, parts: &'a Parts) -> Result<&'a str, ExtractError> {
        self.extract(&parts.headers, &parts.uri)
    }

    /// Extracts the token from headers (and the URI query when allowed).
    ///
    /// ```
    /// use tower_bearer::extract::{BearerExtractor, ExtractError};
    /// let req = http::Request::builder()
    ///     .header("authorization", "Basic dXNlcjpwYXNz")
    ///     .body(())
    ///     .unwrap();
    /// // Another scheme counts as "no bearer credentials".
    /// assert_eq!(BearerExtractor::new().extract(req.headers(), req.uri()), Err(ExtractError::Missing));
    /// ```
    pub fn extract<'a>(&self, headers: &'a HeaderMap, uri: &'a Uri) -> Result<&'a str, ExtractError> {
        self.credential(headers, uri, false).map(|(_, token)| token)
    }

    /// The credential and its scheme: `Bearer`, or also `DPoP` (RFC 9449 §7.1,
    /// the same token syntax) when `dpop` is on. A query token is a bearer token.
    pub(crate) fn credential<'a>(
        &self,
        headers: &'a HeaderMap,
        uri: &'a Uri,
        dpop: bool,
    ) -> Result<(Scheme, &'a str), ExtractError> {
        let from_header = from_authorization(headers, dpop)?;
        let from_query = if self.allow_query { from_query(uri)? } else { None };
        match (from_header, from_query) {
            (Some(_), Some(_)) => Err(ExtractError::Multiple),
            (Some(found), None) => Ok(found),
            (None, Some(t)) => Ok((Scheme::Bearer, t)),
            (None, None) => Err(ExtractError::Missing),
        }
    }
}

fn from_authorization(headers: &HeaderMap, dpop: bool) -> Result<Option<(Scheme, &str)>, ExtractError> {
    let value = match single_header(headers, AUTHORIZATION) {
        SingleHeader::Absent => return Ok(None),
        SingleHeader::One(value) => value,
        SingleHeader::Repeated => return Err(ExtractError::Multiple),
    };
    let bytes = value.as_bytes();
    // The scheme is a token; it ends at the first space.
    let (scheme, rest) = match bytes.iter().position(|&b| b == b' ') {
        Some(i) => (&bytes[..i], &bytes[i..]),
        None => (bytes, &b""[..]),
    };
    let scheme = if scheme.eq_ignore_ascii_case(b"bearer") {
        Scheme::Bearer
    } else if dpop && scheme.eq_ignore_ascii_case(b"dpop") {
        Scheme::Dpop
    } else {
        return Ok(None);
    };
    // RFC 6750: `Bearer 1*SP b64token`; tolerate several spaces, nothing else.
    let token = trim_leading_spaces(rest);
    if rest.len() == token.len() {
        return Err(ExtractError::Malformed);
    }
    check_b64token(token).map(|t| Some((scheme, t)))
}

fn trim_leading_spaces(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|&&c| c == b' ').count();
    &b[n..]
}

fn from_query(uri: &Uri) -> Result<Option<&str>, ExtractError> {
    let Some(query) = uri.query() else {
        return Ok(None);
    };
    let mut found = None;
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name == "access_token" {
            if found.is_some() {
                return Err(ExtractError::Multiple);
            }
            // Percent-encoded tokens are not b64token; `+`, `/` and `=` must be sent
            // raw or the check below refuses them.
            found = Some(check_b64token(value.as_bytes())?);
        }
    }
    Ok(found)
}

/// Whether `b` may be in the body of a b64token (before any `=` padding):
/// `ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/"`. Compares only, no
/// table, so that whole chunks are checked with vector instructions.
#[inline(always)]
fn b64token_body_byte(b: u8) -> bool {
    // `-` `.` `/` and the digits are one range, 0x2D..=0x39.
    let letter = (b | 0x20).wrapping_sub(b'a') < 26;
    let range = b.wrapping_sub(b'-') < 13;
    letter | range | (b == b'+') | (b == b'_') | (b == b'~')
}

/// Length of the leading run of b64token body bytes. Whole 32-byte chunks are
/// checked without a branch per byte (vectorised: 3× faster than a lookup
/// table on an 800-byte JWT), the rest bytewise.
fn b64token_body_len(token: &[u8]) -> usize {
    const CHUNK: usize = 32;
    let whole = token
        .chunks_exact(CHUNK)
        .take_while(|chunk| {
            chunk
                .iter()
                .fold(0u8, |bad, &b| bad | u8::from(!b64token_body_byte(b)))
                == 0
        })
        .count()
        * CHUNK;
    whole
        + token[whole..]
            .iter()
            .take_while(|&&b| b64token_body_byte(b))
            .count()
}

/// `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`,
/// checked in one pass.
fn check_b64token(token: &[u8]) -> Result<&str, ExtractError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(ExtractError::TooLong);
    }
    let body = b64token_body_len(token);
    if body == 0 || token[body..].iter().any(|&b| b != b'=') {
        return Err(ExtractError::Malformed);
    }
    // Only ASCII was accepted above.
    std::str::from_utf8(token).map_err(|_| ExtractError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderValue, Request};

    fn extract_with(values: &[&[u8]], uri: &str, query: bool) -> Result<String, ExtractError> {
        let mut req = Request::builder().uri(uri).body(()).unwrap();
        for v in values {
            req.headers_mut()
                .append(AUTHORIZATION, HeaderValue::from_bytes(v).unwrap());
        }
        BearerExtractor::new()
            .allow_query(query)
            .extract(req.headers(), req.uri())
            .map(str::to_owned)
    }

    fn extract(values: &[&[u8]]) -> Result<String, ExtractError> {
        extract_with(values, "/", false)
    }

    #[test]
    fn scheme_is_case_insensitive() {
        for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
            let v = format!("{scheme} abc");
            assert_eq!(extract(&[v.as_bytes()]).unwrap(), "abc");
        }
    }

    #[test]
    fn other_schemes_and_absence_are_missing() {
        assert_eq!(extract(&[]), Err(ExtractError::Missing));
        assert_eq!(extract(&[b"Basic dXNlcjpwYXNz"]), Err(ExtractError::Missing));
        assert_eq!(extract(&[b"Bearerabc"]), Err(ExtractError::Missing));
        assert_eq!(extract(&[b"DPoP abc"]), Err(ExtractError::Missing));
    }

    #[test]
    fn dpop_scheme_when_asked_for() {
        let mut req = Request::builder().uri("/?access_token=q").body(()).unwrap();
        let credential = |req: &Request<()>, query: bool| {
            BearerExtractor::new()
                .allow_query(query)
                .credential(req.headers(), req.uri(), true)
                .map(|(s, t)| (s, t.to_owned()))
        };
        req.headers_mut()
            .insert(AUTHORIZATION, HeaderValue::from_static("dpop  abc"));
        assert_eq!(credential(&req, false), Ok((Scheme::Dpop, "abc".into())));
        assert_eq!(credential(&req, true), Err(ExtractError::Multiple));
        req.headers_mut()
            .insert(AUTHORIZATION, HeaderValue::from_static("DPoP a b"));
        assert_eq!(credential(&req, false), Err(ExtractError::Malformed));
        req.headers_mut().remove(AUTHORIZATION);
        assert_eq!(credential(&req, true), Ok((Scheme::Bearer, "q".into())));
    }

    #[test]
    fn malformed_credentials() {
        for bad in [
            &b"Bearer"[..],
            b"Bearer ",
            b"Bearer    ",
            b"Bearer a b",
            b"Bearer a\tb",
            b"Bearer =abc",
            b"Bearer ab=c",
            b"Bearer a,b",
            b"Bearer \"abc\"",
            b"Bearer abc ",
            b"Bearer a\xffb",
        ] {
            assert_eq!(extract(&[bad]), Err(ExtractError::Malformed), "{bad:?}");
        }
    }

    #[test]
    fn every_byte_at_every_position_is_checked() {
        // Chunked and bytewise parts of the check, and their boundaries.
        let naive = |t: &[u8]| {
            let body = t
                .iter()
                .take_while(|&&b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
                .count();
            body > 0 && t[body..].iter().all(|&b| b == b'=')
        };
        for len in [1, 2, 15, 16, 17, 31, 32, 33, 48, 50] {
            for pos in 0..len {
                for bad in 0..=255u8 {
                    let mut t = vec![b'a'; len];
                    t[pos] = bad;
                    assert_eq!(
                        check_b64token(&t).is_ok(),
                        naive(&t),
                        "len {len}, byte {bad} at {pos}"
                    );
                }
            }
        }
    }

    #[test]
    fn grammar_accepts_all_b64token_characters() {
        let t = "AZaz09-._~+/==";
        assert_eq!(extract(&[format!("Bearer {t}").as_bytes()]).unwrap(), t);
        assert_eq!(extract(&[b"Bearer   spaced"]).unwrap(), "spaced");
    }

    #[test]
    fn two_headers_are_refused_even_if_both_valid() {
        assert_eq!(extract(&[b"Bearer a", b"Bearer a"]), Err(ExtractError::Multiple));
        assert_eq!(extract(&[b"Basic x", b"Bearer a"]), Err(ExtractError::Multiple));
    }

    #[test]
    fn single_header_counts_values() {
        let mut headers = HeaderMap::new();
        assert_eq!(single_header(&headers, "x-one"), SingleHeader::Absent);
        headers.append("x-one", HeaderValue::from_static("a"));
        assert_eq!(
            single_header(&headers, "x-one"),
            SingleHeader::One(&HeaderValue::from_static("a"))
        );
        headers.append("x-one", HeaderValue::from_static("a"));
        assert_eq!(single_header(&headers, "x-one"), SingleHeader::Repeated);
        headers.append("x-one", HeaderValue::from_static("b"));
        assert_eq!(single_header(&headers, "x-one"), SingleHeader::Repeated);
    }

    #[test]
    fn body_bytes_match_the_grammar_for_every_byte() {
        for b in 0..=255u8 {
            let expected = b.is_ascii_alphanumeric() || b"-._~+/".contains(&b);
            assert_eq!(b64token_body_byte(b), expected, "byte {b}");
        }
    }

    #[test]
    fn length_limit() {
        let ok = format!("Bearer {}", "a".repeat(MAX_TOKEN_LEN));
        assert_eq!(extract(&[ok.as_bytes()]).unwrap().len(), MAX_TOKEN_LEN);
        let long = format!("Bearer {}", "a".repeat(MAX_TOKEN_LEN + 1));
        assert_eq!(extract(&[long.as_bytes()]), Err(ExtractError::TooLong));
    }

    #[test]
    fn query_token_is_opt_in() {
        assert_eq!(
            extract_with(&[], "/?access_token=abc", false),
            Err(ExtractError::Missing)
        );
        assert_eq!(extract_with(&[], "/?x=1&access_token=abc", true).unwrap(), "abc");
        assert_eq!(
            extract_with(&[b"Bearer abc"], "/?access_token=abc", true),
            Err(ExtractError::Multiple)
        );
        assert_eq!(
            extract_with(&[], "/?access_token=a&access_token=b", true),
            Err(ExtractError::Multiple)
        );
        assert_eq!(
            extract_with(&[], "/?access_token=", true),
            Err(ExtractError::Malformed)
        );
        assert_eq!(
            extract_with(&[], "/?access_token=a%20b", true),
            Err(ExtractError::Malformed)
        );
    }
}
