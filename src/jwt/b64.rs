//! Canonical base64url without padding (RFC 7515 §2): `=` and non-zero trailing
//! bits are refused, so each value has exactly one encoding.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub(crate) fn decode(input: &[u8]) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(input).ok()
}

/// Decodes into `buf`, without allocating; `None` when the input is not
/// canonical or does not fit.
pub(crate) fn decode_into<'b>(input: &[u8], buf: &'b mut [u8]) -> Option<&'b [u8]> {
    let n = URL_SAFE_NO_PAD.decode_slice(input, buf).ok()?;
    Some(&buf[..n])
}

#[cfg(any(test, feature = "testing"))]
pub(crate) fn encode(input: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_canonical_unpadded_input() {
        assert_eq!(decode(b"YWI").unwrap(), b"ab");
        assert!(decode(b"YWI=").is_none(), "padding");
        assert!(decode(b"YWJ").is_none(), "non-zero trailing bits");
        assert!(decode(b"YW+").is_none(), "standard alphabet");
        assert!(decode(b"Y").is_none(), "impossible length");
        assert_eq!(encode(b"ab"), "YWI");
        let mut buf = [0u8; 2];
        assert_eq!(decode_into(b"YWI", &mut buf), Some(&b"ab"[..]));
        assert_eq!(decode_into(b"YWI=", &mut buf), None, "padding");
        assert_eq!(decode_into(b"YWJj", &mut buf), None, "does not fit");
    }
}
