//! The compact serialization of a JWS (RFC 7515 §7.1): its three segments, and the claims of
//! a token read without verifying it, for the few places that may (timing a renewal, naming
//! what to revoke).

use serde_json::{Map, Value};

use crate::jose::b64;
use crate::reject::{AuthError, AuthErrorKind};

/// `header.payload.signature` → the three segments (base64url, undecoded) and the signing
/// input.
pub(crate) fn split(token: &str) -> Result<(&str, &str, &str, &str), AuthError> {
    // `.` is ASCII, so each index is a character boundary.
    let mut dots = memchr::memchr_iter(b'.', token.as_bytes());
    let (Some(first), Some(second)) = (dots.next(), dots.next()) else {
        return Err(
            AuthError::new(AuthErrorKind::Malformed).with_detail("the token is not a compact JWS")
        );
    };
    if dots.next().is_some() {
        // Five segments is the JWE compact form.
        return Err(AuthErrorKind::EncryptedOrNested.into());
    }
    let header = &token[..first];
    let payload = &token[first + 1..second];
    let sig = &token[second + 1..];
    if header.is_empty() || payload.is_empty() || sig.is_empty() {
        return Err(
            AuthError::new(AuthErrorKind::Malformed).with_detail("the token has an empty segment")
        );
    }
    Ok((header, payload, sig, &token[..second]))
}

/// The claims of a compact JWS, **not verified**: only for what a forged token cannot abuse.
/// A padded payload (AWS load balancers pad) is read as well.
pub(crate) fn unverified_claims(token: &str) -> Option<Map<String, Value>> {
    let (_, payload, _, _) = split(token).ok()?;
    let payload = payload.trim_end_matches('=');
    serde_json::from_slice(&b64::decode(payload).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_needs_exactly_three_segments() {
        assert_eq!(split("a.b.c").unwrap(), ("a", "b", "c", "a.b"));
        assert_eq!(split("a.b").unwrap_err().kind(), AuthErrorKind::Malformed);
        assert_eq!(split("a..c").unwrap_err().kind(), AuthErrorKind::Malformed);
        assert_eq!(
            split("a.b.c.d.e").unwrap_err().kind(),
            AuthErrorKind::EncryptedOrNested
        );
    }

    #[test]
    fn unverified_claims_are_the_payloads_json_object() {
        let token = format!("e30.{}.c2ln", b64::encode(br#"{"jti":"j-1","exp":5}"#));
        let claims = unverified_claims(&token).unwrap();
        assert_eq!(claims["jti"], "j-1");
        assert_eq!(claims["exp"], 5);
        let padded = format!("e30.{}==.c2ln", b64::encode(br#"{"jti":"j-1"}"#));
        assert_eq!(unverified_claims(&padded).unwrap()["jti"], "j-1");
        for not in ["opaque", "a.b", "e30.!!.c2ln", "e30.WzFd.c2ln"] {
            assert_eq!(unverified_claims(not), None, "{not}");
        }
    }
}
