//! Canonical base64url without padding (RFC 7515 §2) for JWS segments, JWK
//! members and sealed MCP state: `=` and non-zero trailing bits are refused, so
//! each value has exactly one encoding. SIMD where the CPU has it (base64-simd
//! detects AVX2, SSE4.1 or NEON at run time).

use std::mem::MaybeUninit;

use base64_simd::{Out, URL_SAFE_NO_PAD};

/// Decodes canonical unpadded base64url; `None` otherwise.
pub fn decode(input: &[u8]) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode_to_vec(input).ok()
}

/// Decodes into `buf`, without allocating; `None` when the input is not
/// canonical or does not fit.
pub(crate) fn decode_into<'b>(input: &[u8], buf: &'b mut [MaybeUninit<u8>]) -> Option<&'b [u8]> {
    let n = URL_SAFE_NO_PAD.decoded_length(input).ok()?;
    let buf = buf.get_mut(..n)?;
    URL_SAFE_NO_PAD
        .decode(input, Out::from_uninit_slice(buf))
        .ok()
        .map(|b| &*b)
}

/// Encodes as unpadded base64url.
pub fn encode(input: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode_to_string(input)
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
        let mut buf = [MaybeUninit::uninit(); 2];
        assert_eq!(decode_into(b"YWI", &mut buf), Some(&b"ab"[..]));
        assert_eq!(decode_into(b"YWI=", &mut buf), None, "padding");
        assert_eq!(decode_into(b"YWJj", &mut buf), None, "does not fit");
        assert_eq!(decode_into(b"", &mut buf), Some(&b""[..]));
    }

    /// Every string of up to five characters from an alphabet of valid, edge
    /// and invalid characters decodes exactly as the `base64` crate's strict
    /// URL-safe engine decodes it (both refuse padding and trailing bits).
    #[test]
    fn agrees_with_another_implementation() {
        use base64::Engine as _;
        let other = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let alphabet = b"AQgw_-=+/.\x80";
        let mut input = Vec::new();
        let mut checked = 0;
        for len in 0..=5u32 {
            for mut n in 0..alphabet.len().pow(len) {
                input.clear();
                for _ in 0..len {
                    input.push(alphabet[n % alphabet.len()]);
                    n /= alphabet.len();
                }
                let expected = other.decode(&input).ok();
                assert_eq!(decode(&input), expected, "{input:?}");
                let mut buf = [MaybeUninit::uninit(); 4];
                assert_eq!(
                    decode_into(&input, &mut buf).map(<[u8]>::to_vec),
                    expected,
                    "{input:?}"
                );
                if let Some(bytes) = expected {
                    assert_eq!(encode(&bytes).as_bytes(), &input[..]);
                }
                checked += 1;
            }
        }
        assert_eq!(checked, (0..=5).map(|l| alphabet.len().pow(l)).sum::<usize>());
    }

    /// Long inputs take the SIMD paths: valid encodings of every length up to
    /// 300 bytes, and each with one character replaced, anywhere, by another
    /// valid or an invalid one, decode as the `base64` crate decodes them.
    #[test]
    fn long_inputs_agree_with_another_implementation() {
        use base64::Engine as _;
        let other = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rejected = 0;
        for len in 0..300 {
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            let encoded = other.encode(&data);
            assert_eq!(decode(encoded.as_bytes()).as_deref(), Some(&data[..]));
            assert_eq!(encode(&data), encoded);
            let mut buf = [MaybeUninit::uninit(); 300];
            assert_eq!(decode_into(encoded.as_bytes(), &mut buf), Some(&data[..]));
            for i in (0..encoded.len()).step_by(5) {
                for c in [b'=', b'+', b'/', b'.', 0x80, b'A', b'_'] {
                    let mut bad = encoded.clone().into_bytes();
                    bad[i] = c;
                    let expected = other.decode(&bad).ok();
                    rejected += usize::from(expected.is_none());
                    assert_eq!(decode(&bad), expected, "{len} {i} {c}");
                    assert_eq!(
                        decode_into(&bad, &mut buf).map(<[u8]>::to_vec),
                        expected,
                        "{len} {i} {c}"
                    );
                }
            }
        }
        assert!(rejected > 10_000, "{rejected}");
    }
}
