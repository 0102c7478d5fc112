//! Which MCP revision a request speaks, as far as the transport headers say.

use http::{HeaderMap, HeaderName};

use crate::extract::{SingleHeader, single_header};

/// The `MCP-Protocol-Version` request header (streamable HTTP, since 2025-06-18).
pub(crate) const MCP_PROTOCOL_VERSION: HeaderName = HeaderName::from_static("mcp-protocol-version");

/// The first revision without sessions or the `initialize` handshake.
const STATELESS_REVISION: &[u8; 10] = b"2026-07-28";

/// Whether the request declares, in exactly one well-formed
/// `MCP-Protocol-Version` header, the revision 2026-07-28 or a later one.
/// Revisions are dates (`YYYY-MM-DD`), so they order as strings.
pub(crate) fn declares_stateless(headers: &HeaderMap) -> bool {
    let SingleHeader::One(version) = single_header(headers, MCP_PROTOCOL_VERSION) else {
        return false;
    };
    let version = version.as_bytes();
    let is_date = version.len() == STATELESS_REVISION.len()
        && version.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        });
    is_date && version >= STATELESS_REVISION.as_slice()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn with(versions: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in versions {
            headers.append(MCP_PROTOCOL_VERSION, HeaderValue::from_static(v));
        }
        headers
    }

    #[test]
    fn only_one_well_formed_recent_revision_is_stateless() {
        assert!(declares_stateless(&with(&["2026-07-28"])));
        assert!(declares_stateless(&with(&["2027-01-01"])));
        for legacy in [
            &[][..],
            &["2025-11-25"],
            &["2025-06-18"],
            &["2026-07-27"],
            &["2026-7-28"],
            &["2026-07-28 "],
            &["9999-99-9x"],
            &["draft"],
            &["2026-07-28", "2026-07-28"],
        ] {
            assert!(!declares_stateless(&with(legacy)), "{legacy:?}");
        }
    }
}
