//! The one table from [`AuthErrorKind`] to what the client sees, and the RFC 6750 response
//! built from it.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{Response, StatusCode};

use crate::error::{AuthError, AuthErrorKind};

/// What a kind of failure looks like on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) status: StatusCode,
    /// RFC 6750 §3.1 error code; `None` for a request without credentials.
    pub(crate) code: Option<&'static str>,
    /// Fixed text: never built from request content.
    pub(crate) description: &'static str,
}

const fn out(status: StatusCode, code: Option<&'static str>, description: &'static str) -> Outcome {
    Outcome {
        status,
        code,
        description,
    }
}

const INVALID_TOKEN: Option<&str> = Some("invalid_token");
const UNAUTHORIZED: StatusCode = StatusCode::UNAUTHORIZED;

/// The single mapping from error kind to outcome. Exhaustive on purpose: a new kind does not
/// compile until it has a status.
pub(crate) fn outcome(kind: AuthErrorKind) -> Outcome {
    use AuthErrorKind as K;
    match kind {
        K::MissingToken => out(UNAUTHORIZED, None, "a bearer token is required"),
        K::InvalidRequest => out(
            StatusCode::BAD_REQUEST,
            Some("invalid_request"),
            "the Authorization header must hold exactly one Bearer token",
        ),
        K::TokenTooLarge => out(UNAUTHORIZED, INVALID_TOKEN, "the token is too large"),
        K::Malformed => out(UNAUTHORIZED, INVALID_TOKEN, "the token is malformed"),
        K::EncryptedOrNested => out(
            UNAUTHORIZED,
            INVALID_TOKEN,
            "encrypted or nested tokens are not accepted",
        ),
        K::UnsupportedAlgorithm => out(
            UNAUTHORIZED,
            INVALID_TOKEN,
            "the token's signing algorithm is not accepted",
        ),
        K::UnsupportedHeader => out(
            UNAUTHORIZED,
            INVALID_TOKEN,
            "the token header has an unsupported member",
        ),
        K::UnknownKey => out(
            UNAUTHORIZED,
            INVALID_TOKEN,
            "the token's signing key is not known",
        ),
        K::KeyMismatch => out(
            UNAUTHORIZED,
            INVALID_TOKEN,
            "the signing key does not match the token's algorithm",
        ),
        K::InvalidSignature => out(
            UNAUTHORIZED,
            INVALID_TOKEN,
            "the token signature is invalid",
        ),
        K::Expired => out(UNAUTHORIZED, INVALID_TOKEN, "the token has expired"),
        K::NotYetValid => out(UNAUTHORIZED, INVALID_TOKEN, "the token is not valid yet"),
        K::IssuedInFuture => out(
            UNAUTHORIZED,
            INVALID_TOKEN,
            "the token is issued in the future",
        ),
        K::LifetimeTooLong => out(
            UNAUTHORIZED,
            INVALID_TOKEN,
            "the token's lifetime is too long",
        ),
        K::InvalidIssuer => out(
            UNAUTHORIZED,
            INVALID_TOKEN,
            "the token issuer is not accepted",
        ),
        K::InvalidAudience => out(
            UNAUTHORIZED,
            INVALID_TOKEN,
            "the token is not intended for this audience",
        ),
        K::MissingClaim => out(
            UNAUTHORIZED,
            INVALID_TOKEN,
            "the token lacks a required claim",
        ),
        K::InvalidClaim => out(
            UNAUTHORIZED,
            INVALID_TOKEN,
            "the token has an invalid claim",
        ),
        K::InsufficientScope => out(
            StatusCode::FORBIDDEN,
            Some("insufficient_scope"),
            "the token lacks a required scope",
        ),
        K::SubTypeMismatch => out(
            StatusCode::FORBIDDEN,
            Some("insufficient_scope"),
            "the token's subject type is not accepted here",
        ),
        K::KeysUnavailable => out(
            StatusCode::SERVICE_UNAVAILABLE,
            Some("temporarily_unavailable"),
            "signing keys are temporarily unavailable",
        ),
        K::Misconfigured => out(
            StatusCode::INTERNAL_SERVER_ERROR,
            Some("server_error"),
            "token verification is misconfigured",
        ),
        K::Internal => out(
            UNAUTHORIZED,
            INVALID_TOKEN,
            "the token could not be verified",
        ),
    }
}

/// Builds the response for a refusal: status, `WWW-Authenticate`, `Retry-After`, a JSON body,
/// and the error itself in the response extensions.
pub type RejectFn = dyn Fn(&AuthError) -> Response<Bytes> + Send + Sync;

/// The default rejection response for `error` with the given realm (the audience).
///
/// Useful inside a custom rejection closure that only wants to adjust the default.
///
/// ```
/// use tower_jwt_auth::{default_response, AuthErrorKind, JwtAuth};
/// let res = default_response(&AuthErrorKind::MissingToken.into(), "insights-api");
/// assert_eq!(res.status(), 401);
/// assert_eq!(res.headers()["www-authenticate"], r#"Bearer realm="insights-api""#);
///
/// // Keep the default, add a header.
/// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api").on_reject(|err| {
///     let mut res = default_response(err, "insights-api");
///     res.headers_mut().insert("cache-control", http::HeaderValue::from_static("no-store"));
///     res
/// });
/// ```
pub fn default_response(error: &AuthError, realm: &str) -> Response<Bytes> {
    let o = outcome(error.kind());
    let description = error.description();
    let mut res = Response::new(Bytes::from(json_body(o.code, description)));
    *res.status_mut() = o.status;
    let headers = res.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    insert_auth_headers(headers, error, realm);
    res.extensions_mut().insert(error.clone());
    res
}

/// `WWW-Authenticate` (for 400 / 401 / 403) and `Retry-After` (when known): the same over HTTP
/// and gRPC.
fn insert_auth_headers(headers: &mut http::HeaderMap, error: &AuthError, realm: &str) {
    let o = outcome(error.kind());
    if o.status == UNAUTHORIZED
        || o.status == StatusCode::FORBIDDEN
        || o.status == StatusCode::BAD_REQUEST
    {
        headers.insert(
            WWW_AUTHENTICATE,
            challenge(realm, o.code, error.description(), error.required_scope()),
        );
    }
    if let Some(after) = error.retry_after() {
        headers.insert(RETRY_AFTER, HeaderValue::from(after.as_secs().max(1)));
    }
}

/// `Bearer realm="..", error="..", error_description="..", scope=".."` (RFC 6750 §3).
fn challenge(
    realm: &str,
    code: Option<&str>,
    description: &str,
    scope: Option<&str>,
) -> HeaderValue {
    let mut v = String::with_capacity(96);
    v.push_str("Bearer realm=\"");
    push_quoted(&mut v, realm);
    v.push('"');
    if let Some(code) = code {
        v.push_str(", error=\"");
        v.push_str(code);
        v.push_str("\", error_description=\"");
        push_quoted(&mut v, description);
        v.push('"');
        if let Some(scope) = scope {
            v.push_str(", scope=\"");
            push_quoted(&mut v, scope);
            v.push('"');
        }
    }
    // Every piece is either fixed text or configuration filtered by `push_quoted`.
    HeaderValue::try_from(v).unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
}

/// Appends `s` keeping only characters RFC 6750 allows in these quoted strings
/// (%x20-21 / %x23-5B / %x5D-7E): no quotes, backslashes or control characters.
fn push_quoted(out: &mut String, s: &str) {
    out.extend(
        s.chars()
            .filter(|&c| matches!(c, ' '..='~') && c != '"' && c != '\\'),
    );
}

fn json_body(code: Option<&str>, description: &str) -> String {
    serde_json::json!({
        "error": code.unwrap_or("unauthorized"),
        "error_description": description,
    })
    .to_string()
}

/// How the layer turns an [`AuthError`] into a response.
#[derive(Clone)]
pub(crate) enum Responder {
    Default { realm: Arc<str> },
    Custom(Arc<RejectFn>),
}

impl Responder {
    /// For refusals outside any configured layer (misconfiguration).
    pub(crate) fn fallback() -> Self {
        Responder::Default {
            realm: Arc::from(""),
        }
    }

    /// The response for `error`: gRPC-style for gRPC requests, else HTTP (or the custom
    /// closure's). Always carries the error in its extensions.
    pub(crate) fn respond(&self, error: &AuthError, grpc: bool) -> Response<Bytes> {
        match self {
            Responder::Custom(f) => {
                let mut res = f(error);
                res.extensions_mut().insert(error.clone());
                res
            }
            Responder::Default { realm } if grpc => grpc_response(error, realm),
            Responder::Default { realm } => default_response(error, realm),
        }
    }
}

/// Whether the request is a gRPC call (`content-type: application/grpc[+proto|;...]`).
pub(crate) fn is_grpc(headers: &http::HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}

/// gRPC status codes for each outcome: 16 UNAUTHENTICATED for 401, 7 PERMISSION_DENIED for
/// 403, 14 UNAVAILABLE for 503, 3 INVALID_ARGUMENT for 400, 13 INTERNAL for 500.
fn grpc_status(status: StatusCode) -> u8 {
    match status {
        StatusCode::BAD_REQUEST => 3,
        StatusCode::FORBIDDEN => 7,
        StatusCode::SERVICE_UNAVAILABLE => 14,
        StatusCode::INTERNAL_SERVER_ERROR => 13,
        _ => 16,
    }
}

/// A trailers-only gRPC response: HTTP 200, `grpc-status`, percent-encoded `grpc-message`,
/// and the same `WWW-Authenticate` / `Retry-After` headers as over HTTP.
fn grpc_response(error: &AuthError, realm: &str) -> Response<Bytes> {
    let o = outcome(error.kind());
    let mut res = Response::new(Bytes::new());
    res.extensions_mut().insert(error.clone());
    let headers = res.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert(
        "grpc-status",
        HeaderValue::from(u16::from(grpc_status(o.status))),
    );
    if let Ok(msg) = HeaderValue::try_from(grpc_percent_encode(error.description())) {
        headers.insert("grpc-message", msg);
    }
    insert_auth_headers(headers, error, realm);
    res
}

/// Percent-encodes per the gRPC HTTP/2 spec: everything outside printable ASCII, and `%`.
fn grpc_percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl std::fmt::Debug for Responder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Responder::Default { realm } => {
                f.debug_struct("Default").field("realm", realm).finish()
            }
            Responder::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn www(res: &Response<Bytes>) -> &str {
        res.headers()[WWW_AUTHENTICATE].to_str().unwrap()
    }

    #[test]
    fn missing_token_has_no_error_code() {
        let res = default_response(&AuthErrorKind::MissingToken.into(), "insights-api");
        assert_eq!(res.status(), 401);
        assert_eq!(www(&res), r#"Bearer realm="insights-api""#);
        let body: serde_json::Value = serde_json::from_slice(res.body()).unwrap();
        assert_eq!(body["error_description"], "a bearer token is required");
    }

    #[test]
    fn insufficient_scope_names_the_required_scopes() {
        let err = AuthError::new(AuthErrorKind::InsufficientScope)
            .with_required_scope("insights.read insights.write".into());
        let res = default_response(&err, "insights-api");
        assert_eq!(res.status(), 403);
        assert_eq!(
            www(&res),
            r#"Bearer realm="insights-api", error="insufficient_scope", error_description="the token lacks a required scope", scope="insights.read insights.write""#
        );
        assert_eq!(
            res.extensions().get::<AuthError>().unwrap().kind(),
            AuthErrorKind::InsufficientScope
        );
    }

    #[test]
    fn unavailable_has_retry_after_and_no_challenge() {
        let err = AuthError::new(AuthErrorKind::KeysUnavailable)
            .with_retry_after(std::time::Duration::from_secs(5));
        let res = default_response(&err, "a");
        assert_eq!(res.status(), 503);
        assert_eq!(res.headers()[RETRY_AFTER], "5");
        assert!(res.headers().get(WWW_AUTHENTICATE).is_none());
    }

    #[test]
    fn grpc_refusals_are_trailers_only_with_a_status() {
        let err =
            AuthError::new(AuthErrorKind::InsufficientScope).with_required_scope("a b".into());
        let res = Responder::Default {
            realm: "api".into(),
        }
        .respond(&err, true);
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()[CONTENT_TYPE], "application/grpc");
        assert_eq!(res.headers()["grpc-status"], "7");
        assert_eq!(
            res.headers()["grpc-message"],
            "the token lacks a required scope"
        );
        assert!(res.headers()[WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .ends_with(r#"scope="a b""#));
        assert!(res.body().is_empty());
        for (kind, code) in [
            (AuthErrorKind::MissingToken, "16"),
            (AuthErrorKind::Expired, "16"),
            (AuthErrorKind::InvalidRequest, "3"),
            (AuthErrorKind::KeysUnavailable, "14"),
            (AuthErrorKind::Misconfigured, "13"),
        ] {
            let res = Responder::Default {
                realm: "api".into(),
            }
            .respond(&kind.into(), true);
            assert_eq!(res.headers()["grpc-status"], code, "{kind:?}");
        }
        assert_eq!(
            grpc_percent_encode("100% sure\n\u{e9}"),
            "100%25 sure%0A%C3%A9"
        );
    }

    #[test]
    fn grpc_is_detected_by_content_type() {
        let mut h = http::HeaderMap::new();
        assert!(!is_grpc(&h));
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/grpc+proto"),
        );
        assert!(is_grpc(&h));
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        assert!(!is_grpc(&h));
    }

    #[test]
    fn realm_cannot_break_out_of_its_quotes() {
        let res = default_response(&AuthErrorKind::Expired.into(), "a\"b\r\nc\\d");
        assert!(www(&res).starts_with(r#"Bearer realm="abcd", error="invalid_token""#));
    }
}
