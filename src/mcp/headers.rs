//! The `Mcp-Method` / `Mcp-Name` request headers of MCP 2026-07-28 (SEP-2243):
//! what they name, and whether the body says the same.

use std::borrow::Cow;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};

use super::ResponseBody;
use crate::extract::{SingleHeader, single_header};

pub(crate) const MCP_METHOD: HeaderName = HeaderName::from_static("mcp-method");
pub(crate) const MCP_NAME: HeaderName = HeaderName::from_static("mcp-name");

/// The JSON-RPC error code of a header that is missing or contradicts the body.
pub(crate) const HEADER_MISMATCH: i32 = -32020;

/// The methods of MCP 2026-07-28 whose `Mcp-Name` is a `params` member, and
/// which one. Others (those the revision removed, such as
/// `resources/subscribe`, and those it does not define) name nothing: the
/// server answers them, "method not found" if it does not implement them.
pub(crate) fn name_member(method: &str) -> Option<&'static str> {
    match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" => Some("uri"),
        "tasks/get" | "tasks/update" | "tasks/cancel" => Some("taskId"),
        _ => None,
    }
}

/// What the headers of a request name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Named {
    pub(crate) method: String,
    pub(crate) name: Option<String>,
}

/// Reads the headers: `None` when there is no `Mcp-Method` (a response to the
/// server, which names nothing); an error when a header is repeated or is not
/// text, or a named method lacks its `Mcp-Name`.
pub(crate) fn read(headers: &HeaderMap) -> Result<Option<Named>, &'static str> {
    let Some(method) = one(headers, &MCP_METHOD)? else {
        return Ok(None);
    };
    let name = match one(headers, &MCP_NAME)? {
        Some(raw) => Some(decode(raw).ok_or("Mcp-Name is not valid Base64")?),
        None => None,
    };
    if name_member(method).is_some() && name.is_none() {
        return Err("missing required Mcp-Name header");
    }
    Ok(Some(Named {
        method: method.to_owned(),
        name: name.map(Cow::into_owned),
    }))
}

fn one<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Result<Option<&'a str>, &'static str> {
    match single_header(headers, name) {
        SingleHeader::Absent => Ok(None),
        SingleHeader::One(value) => value.to_str().map(Some).map_err(|_| "MCP header is not text"),
        SingleHeader::Repeated => Err("repeated MCP header"),
    }
}

/// `=?base64?…?=` (standard alphabet) or the value itself.
fn decode(raw: &str) -> Option<Cow<'_, str>> {
    match raw.strip_prefix("=?base64?").and_then(|r| r.strip_suffix("?=")) {
        Some(inner) => {
            let bytes = base64_simd::STANDARD.decode_to_vec(inner).ok()?;
            String::from_utf8(bytes).ok().map(Cow::Owned)
        }
        None => Some(Cow::Borrowed(raw)),
    }
}

/// Whether the body's method and name are what the headers said; `body_name`
/// is the body's `params` member [`name_member`] names, if any.
pub(crate) fn matches(
    named: Option<&Named>,
    body_method: Option<&str>,
    body_name: Option<&str>,
) -> Result<(), &'static str> {
    match (named, body_method) {
        (_, None) => Ok(()),
        (None, Some(_)) => Err("missing required Mcp-Method header"),
        (Some(named), Some(method)) if named.method != method => Err("Mcp-Method does not match the body"),
        (Some(named), Some(method)) => match name_member(method) {
            Some(_) if named.name.as_deref() != body_name => Err("Mcp-Name does not match the body"),
            _ => Ok(()),
        },
    }
}

/// The request's id as JSON text, to answer with: a number, or a string of at
/// most 256 characters, re-encoded (anything else is answered with `null`).
pub(crate) fn echoable_id(id: Option<&serde_json::Value>) -> Option<String> {
    match id? {
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::String(s) if s.len() <= 256 => serde_json::to_string(s).ok(),
        _ => None,
    }
}

/// The 400 answer with JSON-RPC error `-32020` for the request `id` (JSON
/// text from [`echoable_id`]); the message is one of this module's fixed texts.
pub(crate) fn mismatch<B: ResponseBody>(message: &'static str, id: Option<&str>) -> Response<B> {
    let id = id.unwrap_or("null");
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":{HEADER_MISMATCH},"message":"{message}"}}}}"#
    );
    let mut res = Response::new(B::from_bytes(Bytes::from(body)));
    *res.status_mut() = StatusCode::BAD_REQUEST;
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn reading_the_headers() {
        let named = |method: &str, name: Option<&str>| Named {
            method: method.into(),
            name: name.map(Into::into),
        };
        assert_eq!(read(&headers(&[])), Ok(None));
        assert_eq!(
            read(&headers(&[
                ("mcp-method", "tools/call"),
                ("mcp-name", "read_note")
            ])),
            Ok(Some(named("tools/call", Some("read_note"))))
        );
        // "notes ü" in standard Base64.
        assert_eq!(
            read(&headers(&[
                ("mcp-method", "tools/call"),
                ("mcp-name", "=?base64?bm90ZXMgw7w=?=")
            ])),
            Ok(Some(named("tools/call", Some("notes ü"))))
        );
        assert_eq!(
            read(&headers(&[("mcp-method", "tools/list")])),
            Ok(Some(named("tools/list", None)))
        );
        // Methods the revision removed or does not define name nothing: no
        // `Mcp-Name` is required of them, the server answers them.
        for method in ["resources/subscribe", "resources/unsubscribe", "vendor/extension"] {
            assert_eq!(
                read(&headers(&[("mcp-method", method)])),
                Ok(Some(named(method, None))),
                "{method}"
            );
        }
        for bad in [
            &[("mcp-method", "tools/call")][..],
            &[("mcp-method", "tools/call"), ("mcp-name", "=?base64?***?=")],
            &[("mcp-method", "tools/list"), ("mcp-method", "tools/list")],
            &[("mcp-method", "tools/call"), ("mcp-name", "a"), ("mcp-name", "a")],
        ] {
            assert!(read(&headers(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_body_must_agree() {
        let call = Named {
            method: "tools/call".into(),
            name: Some("read_note".into()),
        };
        assert_eq!(
            matches(Some(&call), Some("tools/call"), Some("read_note")),
            Ok(())
        );
        assert!(matches(Some(&call), Some("tools/call"), Some("delete_note")).is_err());
        assert!(matches(Some(&call), Some("tools/list"), None).is_err());
        assert!(matches(None, Some("tools/list"), None).is_err());
        assert_eq!(matches(None, None, None), Ok(()), "a response names nothing");
        let list = Named {
            method: "tools/list".into(),
            name: None,
        };
        assert_eq!(matches(Some(&list), Some("tools/list"), None), Ok(()));
        let subscribe = Named {
            method: "resources/subscribe".into(),
            name: None,
        };
        assert_eq!(
            matches(Some(&subscribe), Some("resources/subscribe"), None),
            Ok(())
        );
        assert!(matches(Some(&subscribe), Some("resources/read"), None).is_err());
    }

    #[test]
    fn only_plain_ids_are_echoed() {
        use serde_json::json;
        assert_eq!(echoable_id(Some(&json!(7))).as_deref(), Some("7"));
        assert_eq!(echoable_id(Some(&json!("a\"b"))).as_deref(), Some(r#""a\"b""#));
        for other in [json!(null), json!({"x": 1}), json!([1]), json!("x".repeat(257))] {
            assert_eq!(echoable_id(Some(&other)), None, "{other}");
        }
        assert_eq!(echoable_id(None), None);
    }
}
