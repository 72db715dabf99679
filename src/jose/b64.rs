//! The crate's one base64url decoder: strict, as RFC 7515 §2 and RFC 7519 require of tokens.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine as _};

/// base64url without padding; refuses padding, `+/`, whitespace, a lone trailing character and
/// non-canonical trailing bits.
const STRICT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// Not base64url.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotBase64Url;

/// Decodes `input` into `buf` (cleared first), so that the caller can reuse its buffer.
pub(crate) fn decode_into(input: &str, buf: &mut Vec<u8>) -> Result<(), NotBase64Url> {
    buf.clear();
    STRICT.decode_vec(input, buf).map_err(|_| NotBase64Url)
}

/// Decodes `input` into `out` and says how many bytes it wrote; `None` when `out` may be too
/// small for it (then decode into a vector).
pub(crate) fn decode_slice(input: &str, out: &mut [u8]) -> Option<Result<usize, NotBase64Url>> {
    if input.len() / 4 * 3 + 3 > out.len() {
        return None;
    }
    Some(STRICT.decode_slice(input, out).map_err(|_| NotBase64Url))
}

/// Decodes `input` into a new vector.
pub(crate) fn decode(input: &str) -> Result<Vec<u8>, NotBase64Url> {
    STRICT.decode(input).map_err(|_| NotBase64Url)
}

/// Decodes a JWK member: like [`decode`], but trailing `=` padding is tolerated, as some
/// providers publish it (key sets come from a trusted origin; tokens never get this leniency).
pub(crate) fn decode_padded(input: &str) -> Result<Vec<u8>, NotBase64Url> {
    let unpadded = input.strip_suffix("==").or_else(|| input.strip_suffix('='));
    decode(unpadded.unwrap_or(input))
}

/// Encodes without padding.
pub(crate) fn encode(bytes: &[u8]) -> String {
    STRICT.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_for_tokens() {
        let mut buf = Vec::new();
        assert!(decode_into("eyJh", &mut buf).is_ok());
        assert!(decode_into("eyJhbA==", &mut buf).is_err());
        assert!(decode_into("ey+h", &mut buf).is_err());
        assert!(decode_into("ey h", &mut buf).is_err());
        // "QR" decodes to one byte with non-zero trailing bits; "QQ" is canonical.
        assert!(decode_into("QQ", &mut buf).is_ok());
        assert!(decode_into("QR", &mut buf).is_err());
        assert!(decode_into("QUE", &mut buf).is_ok());
        assert!(decode_into("QUF", &mut buf).is_err());
        assert!(decode_into("QUFBQ", &mut buf).is_err());
        assert!(decode_into("", &mut buf).is_ok() && buf.is_empty());
        assert_eq!(decode("QUFB").unwrap(), b"AAA");
    }

    #[test]
    fn into_a_slice_when_it_fits() {
        let mut out = [0u8; 6];
        assert_eq!(decode_slice("QUFB", &mut out), Some(Ok(3)));
        assert_eq!(&out[..3], b"AAA");
        assert_eq!(decode_slice("QUE", &mut out), Some(Ok(2)));
        assert_eq!(decode_slice("QUF", &mut out), Some(Err(NotBase64Url)));
        assert_eq!(decode_slice("QUFB=", &mut out), Some(Err(NotBase64Url)));
        // Eight characters may need six bytes and up to three more are allowed for: too small.
        assert_eq!(decode_slice("QUFBQUFB", &mut out), None);
    }

    #[test]
    fn padding_only_for_jwk_members() {
        assert_eq!(decode_padded("QQ==").unwrap(), b"A");
        assert_eq!(decode_padded("QUE=").unwrap(), b"AA");
        assert_eq!(decode_padded("QUE").unwrap(), b"AA");
        assert!(decode_padded("QUE===").is_err());
        assert!(decode("QQ==").is_err());
    }

    proptest::proptest! {
        #[test]
        fn round_trips(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let mut buf = Vec::new();
            decode_into(&encode(&bytes), &mut buf).unwrap();
            proptest::prop_assert_eq!(buf, bytes);
        }

        #[test]
        fn refuses_foreign_characters(s in "[A-Za-z0-9_-]{0,40}[+/= \t.!]{1}[A-Za-z0-9_-]{0,40}") {
            proptest::prop_assert!(decode(&s).is_err());
        }
    }
}
