//! Step 3: decode the JOSE header: algorithm allow-list, `kid`, `typ`, `crit`.
//!
//! Only the members needed to choose a key are read. `jku`, `x5u`, `jwk` and `x5c` are never
//! read at all: a token cannot point at, or carry, the key that verifies it.

use std::borrow::Cow;
use std::fmt;

use std::marker::PhantomData;

use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use crate::claims::{is_duplicate, Seen, Str};
use crate::error::{AuthError, AuthErrorKind};

/// A JWS signature algorithm this crate verifies. Symmetric algorithms and `none` are not
/// representable: they are refused before a key is looked up.
///
/// ```
/// use tower_jwt_auth::{Algorithm, JwtAuth};
/// assert_eq!(Algorithm::from_name("ES256"), Some(Algorithm::ES256));
/// assert_eq!(Algorithm::from_name("HS256"), None);
/// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api")
///     .algorithms([Algorithm::RS256, Algorithm::ES256]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// EdDSA on Ed25519.
    EdDSA,
}

impl Algorithm {
    /// Every supported algorithm: the default allow-list.
    pub const ALL: [Algorithm; 9] = [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ];

    /// The JOSE name, e.g. `"RS256"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
        }
    }

    /// Parses a JOSE name (exact, case-sensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the verifier needs from a token's header.
#[derive(Debug)]
pub(crate) struct Header<'a> {
    pub(crate) alg: Algorithm,
    pub(crate) kid: Option<Cow<'a, str>>,
}

/// The members read from a header; every other member is skipped, but a name may appear only
/// once.
#[derive(Default)]
struct RawHeader<'a> {
    alg: Option<Str<'a>>,
    kid: Option<Str<'a>>,
    typ: Option<Str<'a>>,
    cty: Option<Str<'a>>,
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
}

/// The base64url alphabet's values; 0xFF marks every other byte.
const B64_VALUES: [u8; 256] = {
    let mut t = [0xFFu8; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut i = 0;
    while i < 64 {
        t[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    t
};

/// Decodes base64url without padding into `buf`, refusing padding, `+/`, whitespace, a lone
/// trailing character and non-canonical trailing bits.
pub(crate) fn b64_decode(segment: &str, buf: &mut Vec<u8>) -> Result<(), AuthError> {
    let input = segment.as_bytes();
    let tail = match input.len() % 4 {
        0 => 0,
        2 => 1,
        3 => 2,
        _ => return Err(bad_base64()),
    };
    let full = input.len() / 4;
    buf.clear();
    buf.resize(full * 3 + tail, 0);
    let v = |b: u8| u32::from(B64_VALUES[usize::from(b)]);
    for (chunk, out) in input.chunks_exact(4).zip(buf.chunks_exact_mut(3)) {
        let (a, b, c, d) = (v(chunk[0]), v(chunk[1]), v(chunk[2]), v(chunk[3]));
        if (a | b | c | d) > 63 {
            return Err(bad_base64());
        }
        let n = a << 18 | b << 12 | c << 6 | d;
        out.copy_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
    }
    let rest = &input[full * 4..];
    let out = &mut buf[full * 3..];
    match *rest {
        [] => {}
        [a, b] => {
            let n = v(a) << 6 | v(b);
            // 12 bits for one byte: the low 4 must be zero (canonical), and no invalid char.
            if v(a) > 63 || v(b) > 63 || n & 0xF != 0 {
                return Err(bad_base64());
            }
            out[0] = (n >> 4) as u8;
        }
        [a, b, c] => {
            let n = v(a) << 12 | v(b) << 6 | v(c);
            if v(a) > 63 || v(b) > 63 || v(c) > 63 || n & 0x3 != 0 {
                return Err(bad_base64());
            }
            out[0] = (n >> 10) as u8;
            out[1] = (n >> 2) as u8;
        }
        _ => return Err(bad_base64()),
    }
    Ok(())
}

fn bad_base64() -> AuthError {
    AuthError::new(AuthErrorKind::Malformed).with_detail("the token is not valid base64url")
}

/// Parses the decoded header JSON and applies the header rules.
pub(crate) fn parse<'a>(
    json: &'a [u8],
    allowed: &[bool; 9],
    typ_policy: TypPolicy,
) -> Result<Header<'a>, AuthError> {
    if json.first() != Some(&b'{') {
        return Err(malformed("the token header is not a JSON object"));
    }
    let raw: RawHeader<'a> = serde_json::from_slice(json).map_err(|e| {
        if is_duplicate(&e) {
            malformed("the token header has a duplicate member name")
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
    let alg = raw
        .alg
        .as_ref()
        .and_then(|a| Algorithm::from_name(&a.0))
        .filter(|a| allowed[a.index()])
        .ok_or(AuthErrorKind::UnsupportedAlgorithm)?;
    Ok(Header {
        alg,
        kid: raw.kid.map(|k| k.0),
    })
}

fn check_typ(typ: Option<&str>, policy: TypPolicy) -> Result<(), AuthError> {
    let access_token =
        |t: &str| t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt");
    let ok = match (typ, policy) {
        (Some(t), _) if access_token(t) => true,
        (Some(t), TypPolicy::Lenient) => t.eq_ignore_ascii_case("JWT"),
        (None, TypPolicy::Lenient) => true,
        (_, TypPolicy::Rfc9068) => false,
    };
    if ok {
        Ok(())
    } else {
        Err(unsupported("the token type is not an access token"))
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
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;

    const ALL: [bool; 9] = [true; 9];

    fn kind(json: &str) -> AuthErrorKind {
        parse(json.as_bytes(), &ALL, TypPolicy::Lenient)
            .unwrap_err()
            .kind()
    }

    #[test]
    fn reads_alg_and_kid() {
        let h = parse(
            br#"{"alg":"ES256","kid":"k1","typ":"at+JWT"}"#,
            &ALL,
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
        let rs_only = {
            let mut a = [false; 9];
            a[Algorithm::RS256.index()] = true;
            a
        };
        let err = parse(br#"{"alg":"ES256"}"#, &rs_only, TypPolicy::Lenient).unwrap_err();
        assert_eq!(err.kind(), UnsupportedAlgorithm);
    }

    #[test]
    fn strict_mode_requires_at_jwt() {
        assert!(parse(br#"{"alg":"RS256","typ":"JWT"}"#, &ALL, TypPolicy::Rfc9068).is_err());
        assert!(parse(br#"{"alg":"RS256"}"#, &ALL, TypPolicy::Rfc9068).is_err());
        assert!(parse(
            br#"{"alg":"RS256","typ":"application/at+jwt"}"#,
            &ALL,
            TypPolicy::Rfc9068
        )
        .is_ok());
    }

    proptest::proptest! {
        #[test]
        fn base64url_round_trips(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let mut buf = Vec::new();
            b64_decode(&URL_SAFE_NO_PAD.encode(&bytes), &mut buf).unwrap();
            proptest::prop_assert_eq!(buf, bytes);
        }

        #[test]
        fn base64url_agrees_with_the_base64_crate(s in "[A-Za-z0-9_=+/ -]{0,64}") {
            let mut ours = Vec::new();
            let theirs = URL_SAFE_NO_PAD.decode(&s);
            let mine = b64_decode(&s, &mut ours);
            proptest::prop_assert_eq!(mine.is_ok(), theirs.is_ok(), "{}", s);
            if let Ok(t) = theirs {
                proptest::prop_assert_eq!(ours, t);
            }
        }

        #[test]
        fn base64url_refuses_foreign_characters(s in "[A-Za-z0-9_-]{0,40}[+/= \t.!]{1}[A-Za-z0-9_-]{0,40}") {
            let mut buf = Vec::new();
            proptest::prop_assert!(b64_decode(&s, &mut buf).is_err());
        }

        #[test]
        fn header_parsing_never_panics(json in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = parse(&json, &ALL, TypPolicy::Lenient);
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
            let _ = parse(serde_json::Value::Object(obj).to_string().as_bytes(), &ALL, TypPolicy::Lenient);
        }
    }

    #[test]
    fn base64url_is_strict() {
        let mut buf = Vec::new();
        assert!(b64_decode("eyJh", &mut buf).is_ok());
        assert!(b64_decode("eyJhbA==", &mut buf).is_err());
        assert!(b64_decode("ey+h", &mut buf).is_err());
        assert!(b64_decode("ey h", &mut buf).is_err());
        // "QR" decodes to one byte with non-zero trailing bits; "QQ" is canonical.
        assert!(b64_decode("QQ", &mut buf).is_ok());
        assert!(b64_decode("QR", &mut buf).is_err());
        assert!(b64_decode("QUE", &mut buf).is_ok());
        assert!(b64_decode("QUF", &mut buf).is_err());
        assert!(b64_decode("QUFB", &mut buf).is_ok());
        assert!(b64_decode("QUFBQ", &mut buf).is_err());
        assert!(b64_decode("", &mut buf).is_ok() && buf.is_empty());
    }
}
