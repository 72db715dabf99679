//! The JWS header rules: algorithm allow-list, `kid`, `typ`, `crit`.
//!
//! Only the members needed to choose a key are read. `jku`, `x5u`, `jwk` and `x5c` are never
//! read at all: a token cannot point at, or carry, the key that verifies it.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use crate::algorithm::{Algorithm, AlgorithmSet};
use crate::jose::json::{is_duplicate, Seen, Str};
use crate::reject::{AuthError, AuthErrorKind};

/// What the verifier needs from a token's header.
#[derive(Debug)]
pub(crate) struct Header<'a> {
    pub(crate) alg: Algorithm,
    pub(crate) kid: Option<Cow<'a, str>>,
    /// An AWS load balancer's ARN (`signer`, its own header parameter): what chooses the
    /// issuer of such a token.
    pub(crate) signer: Option<Cow<'a, str>>,
}

/// The members read from a header; every other member is skipped, but a name may appear only
/// once.
#[derive(Default)]
struct RawHeader<'a> {
    alg: Option<Str<'a>>,
    kid: Option<Str<'a>>,
    typ: Option<Str<'a>>,
    cty: Option<Str<'a>>,
    signer: Option<Str<'a>>,
    crit: bool,
    b64: bool,
    enc: bool,
}

impl<'de: 'a, 'a> Deserialize<'de> for RawHeader<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = RawHeader<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JOSE header object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawHeader<'a>, A::Error> {
                let mut h = RawHeader::default();
                let mut seen = Seen::new();
                while let Some(Str(name)) = map.next_key::<Str<'a>>()? {
                    seen.insert(name.clone())?;
                    match &*name {
                        "alg" => h.alg = Some(map.next_value()?),
                        "kid" => h.kid = Some(map.next_value()?),
                        "typ" => h.typ = Some(map.next_value()?),
                        "cty" => h.cty = Some(map.next_value()?),
                        "signer" => h.signer = Some(map.next_value()?),
                        other => {
                            map.next_value::<IgnoredAny>()?;
                            match other {
                                "crit" => h.crit = true,
                                "b64" => h.b64 = true,
                                "enc" => h.enc = true,
                                _ => {}
                            }
                        }
                    }
                }
                Ok(h)
            }
        }
        d.deserialize_map(V(PhantomData))
    }
}

/// How strictly `typ` is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TypPolicy {
    /// `at+jwt`, `application/at+jwt`, `JWT` or absent.
    Lenient,
    /// `at+jwt` or `application/at+jwt` only (RFC 9068 §4).
    Rfc9068,
    /// `secevent+jwt` or `application/secevent+jwt` only (RFC 8417 §2.3): a Security Event
    /// Token, never an access token.
    SecurityEvent,
}

/// Parses the decoded header JSON and applies the header rules. The algorithm must be one this
/// crate verifies; whether the issuer allows it is [`check_allowed`]'s, once the issuer is known.
pub(crate) fn parse<'a>(json: &'a [u8], typ_policy: TypPolicy) -> Result<Header<'a>, AuthError> {
    if json.first() != Some(&b'{') {
        return Err(malformed("the token header is not a JSON object"));
    }
    // One UTF-8 check of the whole header, then a parser that need not check each string.
    let json =
        std::str::from_utf8(json).map_err(|_| malformed("the token header is not valid JSON"))?;
    let raw: RawHeader<'a> = serde_json::from_str(json).map_err(|e| {
        if is_duplicate(&e) {
            malformed("the token header has a duplicate member name")
        } else if e.classify() == serde_json::error::Category::Data {
            malformed("the token header has a member of the wrong type")
        } else {
            malformed("the token header is not valid JSON")
        }
    })?;
    if raw.enc
        || raw
            .cty
            .as_ref()
            .is_some_and(|c| c.0.eq_ignore_ascii_case("JWT"))
    {
        return Err(AuthErrorKind::EncryptedOrNested.into());
    }
    if raw.crit {
        return Err(unsupported("the token header has critical extensions"));
    }
    if raw.b64 {
        return Err(unsupported("unencoded payloads are not accepted"));
    }
    check_typ(raw.typ.as_ref().map(|t| &*t.0), typ_policy)?;
    let name = raw.alg.as_ref().map(|a| &*a.0);
    let alg = name.and_then(Algorithm::from_name).ok_or_else(|| {
        AuthError::new(AuthErrorKind::UnsupportedAlgorithm).with_context(format!(
            "token alg {} is not an asymmetric signature algorithm this crate verifies",
            name.map_or_else(|| "(none)".to_owned(), crate::reject::shown),
        ))
    })?;
    Ok(Header {
        alg,
        kid: raw.kid.map(|k| k.0),
        signer: raw.signer.map(|s| s.0),
    })
}

/// The issuer's allow-list.
pub(crate) fn check_allowed(alg: Algorithm, allowed: AlgorithmSet) -> Result<(), AuthError> {
    if allowed.contains(alg) {
        return Ok(());
    }
    Err(AuthError::new(AuthErrorKind::UnsupportedAlgorithm)
        .with_context(format!("token alg {alg}, allowed: {}", allowed.names())))
}

fn check_typ(typ: Option<&str>, policy: TypPolicy) -> Result<(), AuthError> {
    let access_token =
        |t: &str| t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt");
    let set = |t: &str| {
        t.eq_ignore_ascii_case("secevent+jwt") || t.eq_ignore_ascii_case("application/secevent+jwt")
    };
    let ok = match (typ, policy) {
        (Some(t), TypPolicy::SecurityEvent) => set(t),
        (None, TypPolicy::SecurityEvent) => false,
        (Some(t), _) if access_token(t) => true,
        (Some(t), TypPolicy::Lenient) => t.eq_ignore_ascii_case("JWT"),
        (None, TypPolicy::Lenient) => true,
        (_, TypPolicy::Rfc9068) => false,
    };
    match (ok, policy) {
        (true, _) => Ok(()),
        (false, TypPolicy::SecurityEvent) => {
            Err(unsupported("the token type is not a security event token"))
        }
        (false, _) => Err(unsupported("the token type is not an access token")),
    }
}

fn malformed(detail: &'static str) -> AuthError {
    AuthError::new(AuthErrorKind::Malformed).with_detail(detail)
}

fn unsupported(detail: &'static str) -> AuthError {
    AuthError::new(AuthErrorKind::UnsupportedHeader).with_detail(detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(json: &str) -> AuthErrorKind {
        parse(json.as_bytes(), TypPolicy::Lenient)
            .unwrap_err()
            .kind()
    }

    #[test]
    fn reads_alg_and_kid() {
        let h = parse(
            br#"{"alg":"ES256","kid":"k1","typ":"at+JWT"}"#,
            TypPolicy::Rfc9068,
        )
        .unwrap();
        assert_eq!(h.alg, Algorithm::ES256);
        assert_eq!(h.kid.as_deref(), Some("k1"));
    }

    #[test]
    fn refuses_dangerous_headers() {
        use AuthErrorKind::*;
        assert_eq!(kind(r#"{"alg":"none"}"#), UnsupportedAlgorithm);
        assert_eq!(kind(r#"{"alg":"HS256"}"#), UnsupportedAlgorithm);
        assert_eq!(kind(r#"{"alg":"rs256"}"#), UnsupportedAlgorithm);
        assert_eq!(kind(r#"{"kid":"k"}"#), UnsupportedAlgorithm);
        assert_eq!(kind(r#"{"alg":"RS256","crit":["exp"]}"#), UnsupportedHeader);
        assert_eq!(kind(r#"{"alg":"RS256","b64":false}"#), UnsupportedHeader);
        assert_eq!(kind(r#"{"alg":"RS256","typ":"JOSE"}"#), UnsupportedHeader);
        assert_eq!(
            kind(r#"{"alg":"RSA-OAEP","enc":"A256GCM"}"#),
            EncryptedOrNested
        );
        assert_eq!(kind(r#"{"alg":"RS256","cty":"jwt"}"#), EncryptedOrNested);
        assert_eq!(kind(r#"["alg","RS256"]"#), Malformed);
        assert_eq!(kind(r#"{"alg":"RS256","alg":"RS256"}"#), Malformed);
        assert_eq!(kind(r#"{"alg":"RS256","kid":7}"#), Malformed);
        assert_eq!(kind(r#"{"alg":"RS256","x5u":"a","x5u":"b"}"#), Malformed);
        let rs_only = AlgorithmSet::only(Algorithm::RS256);
        let err = check_allowed(Algorithm::ES256, rs_only).unwrap_err();
        assert_eq!(err.kind(), UnsupportedAlgorithm);
        assert!(check_allowed(Algorithm::RS256, rs_only).is_ok());
    }

    #[test]
    fn strict_mode_requires_at_jwt() {
        assert!(parse(br#"{"alg":"RS256","typ":"JWT"}"#, TypPolicy::Rfc9068).is_err());
        assert!(parse(br#"{"alg":"RS256"}"#, TypPolicy::Rfc9068).is_err());
        assert!(parse(
            br#"{"alg":"RS256","typ":"application/at+jwt"}"#,
            TypPolicy::Rfc9068
        )
        .is_ok());
    }

    proptest::proptest! {
        #[test]
        fn header_parsing_never_panics(json in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = parse(&json, TypPolicy::Lenient);
        }

        #[test]
        fn header_objects_with_any_members_never_panic(
            members in proptest::collection::vec(("[a-z]{1,4}", proptest::prelude::any::<i64>()), 0..8),
            alg in "(RS256|ES256|EdDSA|none|HS256|x)",
        ) {
            let mut obj = serde_json::Map::new();
            obj.insert("alg".into(), serde_json::json!(alg));
            for (k, v) in members {
                obj.insert(k, serde_json::json!(v));
            }
            let _ = parse(serde_json::Value::Object(obj).to_string().as_bytes(), TypPolicy::Lenient);
        }
    }
}
