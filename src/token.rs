//! Step 1: take the bearer token from the request (RFC 6750 §2.1).

use http::header::AUTHORIZATION;
use http::HeaderMap;

use crate::error::{AuthError, AuthErrorKind};

/// Returns the token of the single `Authorization: Bearer <token>` header, or `None` when the
/// request carries no bearer credentials: no `Authorization` header, or one of another scheme
/// (`Basic`, `Digest`: RFC 6750 §3.1 answers those like a request without a token).
///
/// - repeated, empty, an empty Bearer token, or not a `b64token`:
///   [`AuthErrorKind::InvalidRequest`];
/// - a Bearer value over `max_size` bytes: [`AuthErrorKind::TokenTooLarge`], before the token
///   is read.
pub(crate) fn bearer(headers: &HeaderMap, max_size: usize) -> Result<Option<&str>, AuthError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(invalid("more than one Authorization header"));
    }
    let value = value.as_bytes();
    let (scheme, rest) = match value.iter().position(|&b| b == b' ') {
        Some(i) => (&value[..i], &value[i..]),
        None => (value, &[][..]),
    };
    if scheme.is_empty() {
        return Err(invalid("the Authorization header has no scheme"));
    }
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return Ok(None);
    }
    if value.len() > max_size {
        return Err(AuthErrorKind::TokenTooLarge.into());
    }
    let token = trim_spaces(rest);
    if token.is_empty() {
        return Err(invalid("the bearer token is empty"));
    }
    if !is_b64token(token) {
        return Err(invalid(
            "the bearer token has characters a token cannot have",
        ));
    }
    // `is_b64token` admits ASCII only.
    std::str::from_utf8(token)
        .map(Some)
        .map_err(|_| invalid("the bearer token is not ASCII"))
}

fn invalid(detail: &'static str) -> AuthError {
    AuthError::new(AuthErrorKind::InvalidRequest).with_detail(detail)
}

fn trim_spaces(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`
///
/// Branch-free per byte so that the compiler can check many bytes at once: this runs on every
/// request, cached token or not.
fn is_b64token(t: &[u8]) -> bool {
    let body_len = t.len() - t.iter().rev().take_while(|&&b| b == b'=').count();
    let allowed = |b: u8| {
        (b.wrapping_sub(b'a') < 26)
            | (b.wrapping_sub(b'A') < 26)
            | (b.wrapping_sub(b'0') < 10)
            | (b == b'-')
            | (b == b'.')
            | (b == b'_')
            | (b == b'~')
            | (b == b'+')
            | (b == b'/')
    };
    body_len > 0 && t[..body_len].iter().fold(true, |ok, &b| ok & allowed(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn kind(values: &[&str]) -> AuthErrorKind {
        bearer(&headers(values), 100).unwrap_err().kind()
    }

    #[test]
    fn takes_the_token_whatever_the_scheme_case() {
        for v in ["Bearer a.b.c", "bearer a.b.c", "BEARER   a.b.c  "] {
            assert_eq!(bearer(&headers(&[v]), 100).unwrap(), Some("a.b.c"));
        }
    }

    #[test]
    fn other_schemes_carry_no_bearer_credentials() {
        assert_eq!(bearer(&headers(&[]), 100).unwrap(), None);
        for v in [
            "Basic dXNlcjpwYXNz",
            "Digest username=\"a\"",
            "Bearerx a.b.c",
            "Basic",
        ] {
            assert_eq!(bearer(&headers(&[v]), 100).unwrap(), None, "{v}");
        }
        let long_basic = format!("Basic {}", "a".repeat(200));
        assert_eq!(bearer(&headers(&[&long_basic]), 100).unwrap(), None);
    }

    #[test]
    fn b64token_admits_exactly_its_alphabet() {
        for b in 0..=255u8 {
            let expected = b.is_ascii_alphanumeric() || b"-._~+/".contains(&b);
            assert_eq!(is_b64token(&[b]), expected, "{b}");
            assert_eq!(is_b64token(&[b'a', b, b'a']), expected, "{b}");
        }
        assert!(is_b64token(b"abc=="));
        assert!(!is_b64token(b"a=b"));
    }

    #[test]
    fn refuses_what_is_not_one_bearer_token() {
        assert_eq!(
            kind(&["Bearer a", "Bearer b"]),
            AuthErrorKind::InvalidRequest
        );
        assert_eq!(
            kind(&["Basic a", "Bearer b"]),
            AuthErrorKind::InvalidRequest
        );
        assert_eq!(kind(&[" a.b.c"]), AuthErrorKind::InvalidRequest);
        assert_eq!(kind(&["Bearer"]), AuthErrorKind::InvalidRequest);
        assert_eq!(kind(&["Bearer    "]), AuthErrorKind::InvalidRequest);
        assert_eq!(kind(&["Bearer a b"]), AuthErrorKind::InvalidRequest);
        assert_eq!(kind(&["Bearer a\"b"]), AuthErrorKind::InvalidRequest);
        assert_eq!(kind(&["Bearer ==="]), AuthErrorKind::InvalidRequest);
        let long = format!("Bearer {}", "a".repeat(100));
        assert_eq!(kind(&[&long]), AuthErrorKind::TokenTooLarge);
    }
}
