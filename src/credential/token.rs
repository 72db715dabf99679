//! Step 1: take the bearer token from the request: the `Authorization: Bearer` header (RFC 6750
//! §2.1), then the sources a layer adds (a named header, a named cookie). The query string is
//! never read (RFC 6750 §2.3 discourages it; MCP forbids it).

use http::header::{HeaderName, AUTHORIZATION, COOKIE};
use http::HeaderMap;

use crate::reject::{AuthError, AuthErrorKind};

/// How a credential was presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Bearer,
    Dpop,
}

/// Returns the token of the single `Authorization: Bearer <token>` header, or `None` when the
/// request carries no bearer credentials: no `Authorization` header, or one of another scheme
/// (`Basic`, `Digest`: RFC 6750 §3.1 answers those like a request without a token).
///
/// - repeated, empty, an empty Bearer token, or not a `b64token`:
///   [`AuthErrorKind::InvalidRequest`];
/// - a Bearer value over `max_size` bytes: [`AuthErrorKind::TokenTooLarge`], before the token
///   is read.
#[cfg(test)]
pub(crate) fn bearer(headers: &HeaderMap, max_size: usize) -> Result<Option<&str>, AuthError> {
    Ok(authorization(headers, max_size, false)?.map(|(token, _)| token))
}

/// The token of the single `Authorization` header and its scheme: `Bearer`, or with `dpop`
/// also `DPoP` (RFC 9449 §7.1, the same `token68`-like syntax). Another scheme is `None`.
pub(crate) fn authorization(
    headers: &HeaderMap,
    max_size: usize,
    dpop: bool,
) -> Result<Option<(&str, Scheme)>, AuthError> {
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
    let scheme = if scheme.eq_ignore_ascii_case(b"bearer") {
        Scheme::Bearer
    } else if dpop && scheme.eq_ignore_ascii_case(b"dpop") {
        Scheme::Dpop
    } else {
        return Ok(None);
    };
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
        .map(|t| Some((t, scheme)))
        .map_err(|_| invalid("the bearer token is not ASCII"))
}

/// The bytes after `Bearer ` of the request's only `Authorization` header, unchecked: only for
/// looking up a verdict on a token seen before (a hit is byte-equal to a token that passed
/// [`authorization`]); `None` sends the request down the full path.
pub(crate) fn repeated_bearer(headers: &HeaderMap) -> Option<&[u8]> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = values.next()?.as_bytes();
    if values.next().is_some() || value.len() <= 7 || value[6] != b' ' {
        return None;
    }
    value[..6]
        .eq_ignore_ascii_case(b"bearer")
        .then_some(&value[7..])
}

/// The single `DPoP` proof header (RFC 9449 §4.1): one value, within `max_size`.
pub(crate) fn dpop_proof(headers: &HeaderMap, max_size: usize) -> Result<&str, AuthError> {
    let bad = |context: &'static str| {
        Err(AuthError::new(AuthErrorKind::InvalidDpopProof).with_context(context))
    };
    let mut values = headers.get_all("dpop").iter();
    let Some(value) = values.next() else {
        return bad("the request has no DPoP proof header");
    };
    if values.next().is_some() {
        return bad("the request has more than one DPoP header");
    }
    if value.len() > max_size {
        return bad("the DPoP proof is larger than the token size cap");
    }
    match value.to_str() {
        Ok(proof) if !proof.is_empty() => Ok(proof.trim()),
        _ => bad("the DPoP header is empty or not ASCII"),
    }
}

/// Where else a layer looks for the token when the request has no `Authorization: Bearer`
/// header. Empty by default.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sources {
    pub(crate) header: Option<HeaderName>,
    pub(crate) cookie: Option<Box<str>>,
    /// The headers (and cookies) proxies deliver the issuers' tokens in (Google IAP, AWS
    /// load balancers, Cloudflare Access), read after the others.
    pub(crate) proxies: Vec<Proxy>,
    /// Every issuer is behind a proxy: `Authorization` belongs to the application.
    pub(crate) skip_authorization: bool,
}

/// A header a proxy delivers tokens in, and the cookie it also sets, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Proxy {
    pub(crate) header: HeaderName,
    pub(crate) cookie: Option<&'static str>,
}

/// Where a request's token was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Found {
    Authorization,
    /// The layer's own token header ([`TokenSources::header`](crate::TokenSources::header)).
    Header,
    /// The layer's own token cookie.
    Cookie,
    /// The header (or cookie) of the proxy at this index of [`Sources::proxies`].
    Proxy(usize),
}

impl Sources {
    /// The sources of [`TokenSources`], checked: an error names the unusable field.
    pub(crate) fn from_options(
        options: &crate::authenticator::options::TokenSources,
    ) -> Result<Self, crate::reject::ConfigError> {
        use crate::reject::ConfigError;
        let header = match &options.header {
            None => None,
            Some(name) => match HeaderName::from_bytes(name.as_bytes()) {
                Ok(header) if header != http::header::COOKIE => Some(header),
                _ => {
                    return Err(ConfigError::new(
                        "header",
                        format!("{name:?} is not a usable header name"),
                    ))
                }
            },
        };
        let cookie = match &options.cookie {
            None => None,
            Some(name) => {
                let valid = !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b));
                if !valid {
                    return Err(ConfigError::new(
                        "cookie",
                        format!("{name:?} is not a cookie name (RFC 6265 token)"),
                    ));
                }
                Some(name.as_str().into())
            }
        };
        Ok(Self {
            header,
            cookie,
            ..Self::default()
        })
    }

    /// These sources, with the proxies the layer's issuers are behind; `Authorization` is
    /// read only when some credential may arrive there.
    pub(crate) fn with_locations(mut self, proxies: Vec<Proxy>, authorization: bool) -> Self {
        self.proxies = proxies;
        self.skip_authorization = !authorization;
        self
    }

    /// Where `found` is, for a log line.
    pub(crate) fn describe(&self, found: Found) -> String {
        match found {
            Found::Authorization => "Authorization".to_owned(),
            Found::Header => self
                .header
                .as_ref()
                .map_or_else(String::new, |h| h.as_str().to_owned()),
            Found::Cookie => format!("the cookie {}", self.cookie.as_deref().unwrap_or("")),
            Found::Proxy(i) => self
                .proxies
                .get(i)
                .map_or_else(String::new, |p| p.header.as_str().to_owned()),
        }
    }

    /// The token: the `Authorization` header first (it wins whenever it carries a Bearer
    /// token), then the named header, then the named cookie. The same rules apply to each
    /// value: one value, a `b64token`, within `max_size`.
    #[cfg(test)]
    pub(crate) fn token<'r>(
        &self,
        headers: &'r HeaderMap,
        max_size: usize,
    ) -> Result<Option<&'r str>, AuthError> {
        Ok(self.presented(headers, max_size, false)?.map(|(t, _, _)| t))
    }

    /// [`Sources::token`] with its scheme; with `dpop`, `Authorization: DPoP` counts too.
    /// The other sources are bearer tokens.
    pub(crate) fn presented<'r>(
        &self,
        headers: &'r HeaderMap,
        max_size: usize,
        dpop: bool,
    ) -> Result<Option<(&'r str, Scheme, Found)>, AuthError> {
        if !self.skip_authorization {
            if let Some((token, scheme)) = authorization(headers, max_size, dpop)? {
                return Ok(Some((token, scheme, Found::Authorization)));
            }
        }
        if let Some(name) = &self.header {
            let mut values = headers.get_all(name).iter();
            if let Some(value) = values.next() {
                if values.next().is_some() {
                    return Err(invalid("the token header is repeated"));
                }
                let value = value.as_bytes();
                // `Bearer ` in front is tolerated: some proxies forward the header as they got it.
                let value = match value.get(..7) {
                    Some(p) if p.eq_ignore_ascii_case(b"bearer ") => &value[7..],
                    _ => value,
                };
                return checked(trim_spaces(value), max_size, Origin::Header)
                    .map(|t| Some((t, Scheme::Bearer, Found::Header)));
            }
        }
        if let Some(name) = &self.cookie {
            if let Some(value) = cookie(headers, name) {
                return checked(value, max_size, Origin::Cookie)
                    .map(|t| Some((t, Scheme::Bearer, Found::Cookie)));
            }
        }
        for (i, proxy) in self.proxies.iter().enumerate() {
            let mut values = headers.get_all(&proxy.header).iter();
            let value = match (values.next(), proxy.cookie) {
                (Some(value), _) => {
                    if values.next().is_some() {
                        return Err(invalid("the token header is repeated"));
                    }
                    Some(value.as_bytes())
                }
                (None, Some(name)) => cookie(headers, name),
                (None, None) => None,
            };
            if let Some(value) = value {
                return checked(trim_spaces(value), max_size, Origin::Proxy)
                    .map(|t| Some((t, Scheme::Bearer, Found::Proxy(i))));
            }
        }
        Ok(None)
    }
}

/// The value of the first cookie called `name` in the `Cookie` headers (RFC 6265 §5.4), without
/// its optional double quotes.
fn cookie<'r>(headers: &'r HeaderMap, name: &str) -> Option<&'r [u8]> {
    headers.get_all(COOKIE).iter().find_map(|value| {
        value.as_bytes().split(|&b| b == b';').find_map(|pair| {
            let pair = trim_spaces(pair);
            let eq = pair.iter().position(|&b| b == b'=')?;
            let (n, v) = (&pair[..eq], &pair[eq + 1..]);
            if n != name.as_bytes() {
                return None;
            }
            Some(match v {
                [b'"', inner @ .., b'"'] => inner,
                v => v,
            })
        })
    })
}

/// Where a token came from, for the refusal's description.
#[derive(Clone, Copy)]
enum Origin {
    Header,
    Cookie,
    /// A proxy's header or cookie: a compact JWS whose segments may carry base64 padding
    /// (AWS load balancers pad them); whether its issuer may is the verifier's to say.
    Proxy,
}

/// A token from a header or cookie: not empty, within the cap, a `b64token` (for a proxy's,
/// `=` may also end each segment).
fn checked(token: &[u8], max_size: usize, origin: Origin) -> Result<&str, AuthError> {
    if token.len() > max_size {
        return Err(AuthErrorKind::TokenTooLarge.into());
    }
    let (empty, foreign) = match origin {
        Origin::Header | Origin::Proxy => (
            "the token header is empty",
            "the token header has characters a token cannot have",
        ),
        Origin::Cookie => (
            "the token cookie is empty",
            "the token cookie has characters a token cannot have",
        ),
    };
    if token.is_empty() {
        return Err(invalid(empty));
    }
    let padded_jws = |t: &[u8]| {
        t.iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(b))
    };
    let fits = match origin {
        Origin::Proxy => padded_jws(token),
        Origin::Header | Origin::Cookie => is_b64token(token),
    };
    if !fits {
        return Err(invalid(foreign));
    }
    std::str::from_utf8(token).map_err(|_| invalid(foreign))
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
    fn other_sources_come_after_the_authorization_header() {
        let sources = Sources {
            header: Some(HeaderName::from_static("x-access-token")),
            cookie: Some("at".into()),
            ..Sources::default()
        };
        let mut h = HeaderMap::new();
        assert_eq!(sources.token(&h, 100).unwrap(), None);
        h.append(
            COOKIE,
            HeaderValue::from_static("theme=dark; at=\"c.c.c\"; x=1"),
        );
        assert_eq!(sources.token(&h, 100).unwrap(), Some("c.c.c"));
        h.append("x-access-token", HeaderValue::from_static("Bearer h.h.h"));
        assert_eq!(sources.token(&h, 100).unwrap(), Some("h.h.h"));
        h.append(AUTHORIZATION, HeaderValue::from_static("Bearer a.a.a"));
        assert_eq!(sources.token(&h, 100).unwrap(), Some("a.a.a"));
        // Another scheme in Authorization does not hide the cookie.
        let mut h = HeaderMap::new();
        h.append(AUTHORIZATION, HeaderValue::from_static("Basic dTpw"));
        h.append(COOKIE, HeaderValue::from_static("at=c.c.c"));
        assert_eq!(sources.token(&h, 100).unwrap(), Some("c.c.c"));
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_static("at=a b"));
        let err = sources.token(&h, 100).unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::InvalidRequest);
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_static("at2=x; xat=y"));
        assert_eq!(sources.token(&h, 100).unwrap(), None);
        // Without configured sources, only Authorization counts.
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_static("at=c.c.c"));
        assert_eq!(Sources::default().token(&h, 100).unwrap(), None);
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
