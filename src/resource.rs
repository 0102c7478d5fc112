//! Resource identifiers (RFC 8707) and the audience check.
//!
//! A token is accepted only when one of its audiences *is* this resource:
//! [`audience_matches`] compares canonical forms for equality. Scheme and host
//! are case-insensitive and a default port or a trailing slash changes nothing,
//! but a prefix, a sub-path, another port or another query is a different
//! resource.

use url::Url;

/// The canonical form of an `http`/`https` resource identifier, or `None` when
/// `uri` is not one.
///
/// Canonical means: scheme and host lower-case, default port removed, dot
/// segments resolved, no trailing slash on the path (the root path is empty).
/// Identifiers with a fragment or user information are refused (RFC 8707 §2
/// forbids fragments; credentials have no place in an identifier).
///
/// ```
/// use tower_bearer::resource::canonical_resource;
/// assert_eq!(
///     canonical_resource("HTTPS://API.Example:443/mcp/").as_deref(),
///     Some("https://api.example/mcp")
/// );
/// assert_eq!(canonical_resource("https://api.example/").as_deref(), Some("https://api.example"));
/// assert_eq!(canonical_resource("https://api.example/mcp#frag"), None);
/// assert_eq!(canonical_resource("urn:example:api"), None);
/// ```
pub fn canonical_resource(uri: &str) -> Option<String> {
    let url = Url::parse(uri).ok()?;
    if !matches!(url.scheme(), "http" | "https")
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return None;
    }
    let host = url.host_str()?;
    let mut out = String::with_capacity(uri.len());
    out.push_str(url.scheme());
    out.push_str("://");
    out.push_str(host);
    if let Some(port) = url.port() {
        out.push(':');
        out.push_str(&port.to_string());
    }
    out.push_str(url.path().trim_end_matches('/'));
    if let Some(query) = url.query() {
        out.push('?');
        out.push_str(query);
    }
    Some(out)
}

/// Whether the audience `presented` in a token names the `configured` resource.
///
/// For an `http`/`https` resource the canonical forms (see
/// [`canonical_resource`]) must be equal; any other configured audience (a URN,
/// an opaque API name) must be equal byte for byte. Never a prefix match.
///
/// ```
/// use tower_bearer::resource::audience_matches;
/// let mcp = "https://api.example/mcp";
/// assert!(audience_matches(mcp, "HTTPS://API.EXAMPLE/mcp"));
/// assert!(audience_matches(mcp, "https://api.example:443/mcp/"));
/// assert!(!audience_matches(mcp, "https://api.example/mcp/tools")); // sub-path
/// assert!(!audience_matches(mcp, "https://api.example/mc"));        // prefix
/// assert!(!audience_matches(mcp, "https://api.example/MCP"));       // paths are case-sensitive
/// assert!(!audience_matches(mcp, "https://api.example:8443/mcp"));
/// assert!(audience_matches("urn:example:api", "urn:example:api"));
/// ```
pub fn audience_matches(configured: &str, presented: &str) -> bool {
    // Equal strings have equal canonical forms: skip the parsing (and its
    // allocations) on the common path.
    if configured == presented {
        return true;
    }
    match canonical_resource(configured) {
        Some(configured) => canonical_resource(presented).is_some_and(|p| p == configured),
        None => configured == presented,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn canonical_forms() {
        let cases = [
            ("https://api.example", Some("https://api.example")),
            ("https://api.example/", Some("https://api.example")),
            ("HTTPS://Api.EXAMPLE/Mcp", Some("https://api.example/Mcp")),
            ("http://127.0.0.1:80/mcp", Some("http://127.0.0.1/mcp")),
            (
                "https://api.example:8443/mcp",
                Some("https://api.example:8443/mcp"),
            ),
            ("https://api.example/a/../mcp", Some("https://api.example/mcp")),
            ("https://api.example/mcp?x=1", Some("https://api.example/mcp?x=1")),
            ("https://user@api.example/mcp", None),
            ("https://api.example/mcp#x", None),
            ("ftp://api.example/mcp", None),
            ("api.example/mcp", None),
            ("", None),
        ];
        for (input, expected) in cases {
            assert_eq!(canonical_resource(input).as_deref(), expected, "{input}");
        }
    }

    #[test]
    fn refuses_neighbours() {
        let configured = "https://api.example/mcp";
        for presented in [
            "https://api.example/mcp/x",
            "https://api.example/mcpx",
            "https://api.example",
            "https://api.example.evil/mcp",
            "http://api.example/mcp",
            "https://api.example/mcp?",
            "https://api.example/mcp#",
            "https://attacker@api.example/mcp",
            "not a url",
        ] {
            assert!(!audience_matches(configured, presented), "{presented}");
        }
        // A non-URL configured audience is never canonicalised.
        assert!(!audience_matches("my-api", "MY-API"));
    }

    fn host() -> impl Strategy<Value = String> {
        "[a-z][a-z0-9]{0,8}(\\.[a-z][a-z0-9]{0,8}){0,2}"
    }

    fn path() -> impl Strategy<Value = String> {
        prop::collection::vec("[A-Za-z0-9_~-]{1,6}", 0..4)
            .prop_map(|segs| segs.iter().map(|s| format!("/{s}")).collect::<String>())
    }

    proptest! {
        #[test]
        fn case_port_and_slash_variants_match(host in host(), path in path(), upper in any::<bool>(), port in any::<bool>(), slash in any::<bool>()) {
            let configured = format!("https://{host}{path}");
            let mut h = host.clone();
            let mut scheme = "https".to_owned();
            if upper { h = h.to_uppercase(); scheme = scheme.to_uppercase(); }
            let presented = format!("{scheme}://{h}{}{path}{}", if port { ":443" } else { "" }, if slash { "/" } else { "" });
            prop_assert!(audience_matches(&configured, &presented), "{} vs {}", configured, presented);
            prop_assert!(audience_matches(&presented, &configured));
        }

        #[test]
        fn extensions_never_match(host in host(), path in path(), extra in "[A-Za-z0-9_~-]{1,6}", sub in any::<bool>()) {
            let configured = format!("https://{host}{path}");
            let presented = if sub { format!("{configured}/{extra}") } else { format!("{configured}{extra}") };
            prop_assert!(!audience_matches(&configured, &presented));
            prop_assert!(!audience_matches(&presented, &configured));
        }

        #[test]
        fn canonical_is_idempotent(host in host(), path in path(), port in 1u16.., upper in any::<bool>()) {
            let raw = format!("https://{}:{port}{path}/", if upper { host.to_uppercase() } else { host.clone() });
            let once = canonical_resource(&raw).unwrap();
            prop_assert_eq!(canonical_resource(&once), Some(once.clone()));
        }

        #[test]
        fn any_identifier_matches_itself(id in ".{0,40}") {
            prop_assert!(audience_matches(&id, &id));
        }
    }
}
