//! SHA-256 digests: what the caches and the session store keep in place of
//! tokens and session ids, which are credentials and never stored.

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    let mut out = [0; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// SHA-256 over components, each a presence byte and, when present, its
/// length and bytes: no two different lists share an encoding.
pub(crate) fn length_prefixed<const N: usize>(components: [Option<&str>; N]) -> [u8; 32] {
    let mut enc = Vec::with_capacity(64);
    for component in components {
        match component {
            None => enc.push(0),
            Some(s) => {
                enc.push(1);
                enc.extend_from_slice(&(s.len() as u64).to_be_bytes());
                enc.extend_from_slice(s.as_bytes());
            }
        }
    }
    sha256(&enc)
}

/// Lower-case hex, e.g. of a digest as a store key.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_answer() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(super::sha256(b"abc")[..4], [0xba, 0x78, 0x16, 0xbf]);
        assert_eq!(super::hex(&[0x00, 0xab, 0x7f]), "00ab7f");
    }
}
