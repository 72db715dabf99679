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

/// Decodes `input` into `stack` when it surely fits there, else into `heap`: the decoded
/// bytes, with no allocation for the usual token's header, payload and signature.
pub(crate) fn decode_in<'b>(
    input: &str,
    stack: &'b mut [u8],
    heap: &'b mut Vec<u8>,
) -> Result<&'b [u8], NotBase64Url> {
    if input.len() / 4 * 3 + 3 <= stack.len() {
        let n = STRICT
            .decode_slice(input, stack)
            .map_err(|_| NotBase64Url)?;
        return Ok(&stack[..n]);
    }
    heap.clear();
    STRICT.decode_vec(input, heap).map_err(|_| NotBase64Url)?;
    Ok(heap)
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
        assert!(decode("eyJh").is_ok());
        assert!(decode("eyJhbA==").is_err());
        assert!(decode("ey+h").is_err());
        assert!(decode("ey h").is_err());
        // "QR" decodes to one byte with non-zero trailing bits; "QQ" is canonical.
        assert!(decode("QQ").is_ok());
        assert!(decode("QR").is_err());
        assert!(decode("QUE").is_ok());
        assert!(decode("QUF").is_err());
        assert!(decode("QUFBQ").is_err());
        assert!(decode("").is_ok_and(|b| b.is_empty()));
        assert_eq!(decode("QUFB").unwrap(), b"AAA");
    }

    #[test]
    fn into_the_stack_when_it_fits() {
        let mut stack = [0u8; 6];
        let mut heap = Vec::new();
        assert_eq!(decode_in("QUFB", &mut stack, &mut heap), Ok(&b"AAA"[..]));
        assert_eq!(decode_in("QUE", &mut stack, &mut heap), Ok(&b"AA"[..]));
        assert_eq!(decode_in("QUF", &mut stack, &mut heap), Err(NotBase64Url));
        assert_eq!(decode_in("QUFB=", &mut stack, &mut heap), Err(NotBase64Url));
        assert_eq!(heap.capacity(), 0);
        // Eight characters may need six bytes and up to three more are allowed for: the heap.
        assert_eq!(
            decode_in("QUFBQUFB", &mut stack, &mut heap),
            Ok(&b"AAAAAA"[..])
        );
        assert_eq!(heap, b"AAAAAA");
        assert_eq!(
            decode_in("QUFBQUF=", &mut stack, &mut heap),
            Err(NotBase64Url)
        );
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
            let (mut stack, mut heap) = ([0u8; 64], Vec::new());
            let decoded = decode_in(&encode(&bytes), &mut stack, &mut heap).unwrap();
            proptest::prop_assert_eq!(decoded, &bytes[..]);
        }

        #[test]
        fn refuses_foreign_characters(s in "[A-Za-z0-9_-]{0,40}[+/= \t.!]{1}[A-Za-z0-9_-]{0,40}") {
            proptest::prop_assert!(decode(&s).is_err());
        }
    }
}
