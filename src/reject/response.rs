//! The one table from [`AuthErrorKind`] to what the client sees, and the RFC 6750 response
//! built from it.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{Response, StatusCode};

use crate::clock::{Clock, SystemClock};
use crate::credential::token::Scheme;
use crate::reject::{AuthError, AuthErrorKind};

/// What a kind of failure looks like on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) status: StatusCode,
    /// RFC 6750 §3.1 error code; `None` for a request without credentials.
    pub(crate) code: Option<&'static str>,
    /// The gRPC status code of the same refusal.
    pub(crate) grpc: u16,
}

const fn out(status: StatusCode, code: Option<&'static str>, grpc: u16) -> Outcome {
    Outcome { status, code, grpc }
}

// gRPC status codes (grpc/doc/statuscodes.md).
const GRPC_INVALID_ARGUMENT: u16 = 3;
const GRPC_PERMISSION_DENIED: u16 = 7;
const GRPC_RESOURCE_EXHAUSTED: u16 = 8;
const GRPC_INTERNAL: u16 = 13;
const GRPC_UNAVAILABLE: u16 = 14;
const GRPC_UNAUTHENTICATED: u16 = 16;

/// The single mapping from error kind to (HTTP status, RFC 6750 code, gRPC code). Exhaustive on
/// purpose: a new kind does not compile until it has its outcome.
pub(crate) fn outcome(kind: AuthErrorKind) -> Outcome {
    use AuthErrorKind as K;
    match kind {
        K::MissingToken => out(StatusCode::UNAUTHORIZED, None, GRPC_UNAUTHENTICATED),
        K::InvalidRequest => out(
            StatusCode::BAD_REQUEST,
            Some("invalid_request"),
            GRPC_INVALID_ARGUMENT,
        ),
        K::TokenTooLarge
        | K::Malformed
        | K::EncryptedOrNested
        | K::UnsupportedAlgorithm
        | K::UnsupportedHeader
        | K::UnknownKey
        | K::KeyMismatch
        | K::InvalidSignature
        | K::Expired
        | K::NotYetValid
        | K::IssuedInFuture
        | K::LifetimeTooLong
        | K::InvalidIssuer
        | K::InvalidAudience
        | K::MissingClaim
        | K::InvalidClaim
        | K::NotAnAccessToken
        | K::WrongTokenLocation
        | K::Revoked
        | K::BoundToken
        | K::NotDpopBound
        | K::NotSenderConstrained
        | K::DpopRequired
        | K::InactiveToken
        | K::UnknownApiKey
        | K::Internal => out(
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
            GRPC_UNAUTHENTICATED,
        ),
        K::InvalidDpopProof => out(
            StatusCode::UNAUTHORIZED,
            Some("invalid_dpop_proof"),
            GRPC_UNAUTHENTICATED,
        ),
        K::UseDpopNonce => out(
            StatusCode::UNAUTHORIZED,
            Some("use_dpop_nonce"),
            GRPC_UNAUTHENTICATED,
        ),
        K::InsufficientUserAuthentication => out(
            StatusCode::UNAUTHORIZED,
            Some("insufficient_user_authentication"),
            GRPC_UNAUTHENTICATED,
        ),
        K::InsufficientScope
        | K::SubTypeMismatch
        | K::MissingRole
        | K::RuleRejected
        | K::ActorNotAllowed
        | K::InsufficientAuthorizationDetails => out(
            StatusCode::FORBIDDEN,
            Some("insufficient_scope"),
            GRPC_PERMISSION_DENIED,
        ),
        K::TooManyProofs => out(StatusCode::TOO_MANY_REQUESTS, None, GRPC_RESOURCE_EXHAUSTED),
        K::KeysUnavailable
        | K::ValidationUnavailable
        | K::RuleUnavailable
        | K::RevocationUnavailable => out(
            StatusCode::SERVICE_UNAVAILABLE,
            Some("temporarily_unavailable"),
            GRPC_UNAVAILABLE,
        ),
        K::Misconfigured | K::RulePanicked => out(
            StatusCode::INTERNAL_SERVER_ERROR,
            Some("server_error"),
            GRPC_INTERNAL,
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
///     res.headers_mut().insert("x-auth-refused", http::HeaderValue::from_static("1"));
///     res
/// });
/// ```
pub fn default_response(error: &AuthError, realm: &str) -> Response<Bytes> {
    let challenges = Challenges {
        realm,
        metadata: None,
        dpop: None,
        presented_with_dpop: false,
    };
    http_response(error, challenges)
}

/// What every challenge of a layer says besides the error: the realm, the metadata document,
/// and the DPoP challenge when DPoP is configured.
#[derive(Clone, Copy)]
pub(crate) struct Challenges<'a> {
    pub(crate) realm: &'a str,
    pub(crate) metadata: Option<&'a str>,
    pub(crate) dpop: Option<&'a DpopChallenge>,
    /// The credential came with the `DPoP` scheme: the error goes on the `DPoP` challenge.
    pub(crate) presented_with_dpop: bool,
}

/// The `DPoP` challenge of a layer (RFC 9449 §7.1): the proof algorithms it accepts, and
/// whether bearer tokens are refused (then no `Bearer` challenge is offered).
#[derive(Debug, Clone)]
pub(crate) struct DpopChallenge {
    pub(crate) algs: Box<str>,
    pub(crate) required: bool,
}

/// [`default_response`], its challenges also pointing at the resource's metadata document and
/// offering DPoP when configured.
fn http_response(error: &AuthError, challenges: Challenges<'_>) -> Response<Bytes> {
    let o = outcome(error.kind());
    let description = error.description();
    let mut res = Response::new(Bytes::from(json_body(o.code, description)));
    *res.status_mut() = o.status;
    let headers = res.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    insert_auth_headers(headers, error, challenges);
    res.extensions_mut().insert(error.clone());
    res
}

/// `WWW-Authenticate` (for 400 / 401 / 403), `Retry-After` (when known) and `DPoP-Nonce`
/// (when handed out): the same over HTTP and gRPC.
fn insert_auth_headers(headers: &mut http::HeaderMap, error: &AuthError, c: Challenges<'_>) {
    let o = outcome(error.kind());
    // A refusal carries per-request detail: no cache may keep it.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if matches!(
        o.status,
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::BAD_REQUEST
    ) {
        let attrs = Attributes {
            code: o.code,
            description: error.description(),
            scope: error.required_scope(),
            acr_values: error.acr_values(),
            max_age: error.max_age(),
        };
        match c.dpop {
            None => {
                headers.insert(WWW_AUTHENTICATE, challenge("Bearer", &c, Some(&attrs)));
            }
            Some(dpop) => {
                // The error goes on the scheme the credential came with (RFC 9449 §7.1), and
                // that challenge comes first, so that a client reading one header value reads
                // the error.
                let on_dpop = dpop.required || c.presented_with_dpop || error.is_about_dpop();
                let bearer =
                    (!dpop.required).then(|| challenge("Bearer", &c, (!on_dpop).then_some(&attrs)));
                let dpop = challenge("DPoP", &c, on_dpop.then_some(&attrs));
                let (first, second) = if on_dpop {
                    (Some(dpop), bearer)
                } else {
                    (bearer, Some(dpop))
                };
                for value in [first, second].into_iter().flatten() {
                    headers.append(WWW_AUTHENTICATE, value);
                }
            }
        }
    }
    if let Some(after) = error.retry_after() {
        headers.insert(RETRY_AFTER, HeaderValue::from(after.as_secs().max(1)));
    }
    if let Some(nonce) = error.dpop_nonce() {
        if let Ok(v) = HeaderValue::try_from(nonce) {
            headers.insert("dpop-nonce", v);
        }
    }
}

/// The error attributes of a challenge.
struct Attributes<'a> {
    code: Option<&'a str>,
    description: &'a str,
    scope: Option<&'a str>,
    acr_values: Option<&'a str>,
    max_age: Option<u64>,
}

/// `Bearer realm="..", resource_metadata="..", error="..", error_description="..", scope=".."`
/// (RFC 6750 §3, RFC 9728 §5.1), or `DPoP algs="..", resource_metadata="..", error=..`
/// (RFC 9449 §7.1).
fn challenge(scheme: &str, c: &Challenges<'_>, attrs: Option<&Attributes<'_>>) -> HeaderValue {
    let mut v = String::with_capacity(96);
    v.push_str(scheme);
    match (scheme, c.dpop) {
        ("DPoP", Some(dpop)) => {
            v.push_str(" algs=\"");
            push_quoted(&mut v, &dpop.algs);
        }
        _ => {
            v.push_str(" realm=\"");
            push_quoted(&mut v, c.realm);
        }
    }
    v.push('"');
    if let Some(url) = c.metadata {
        v.push_str(", resource_metadata=\"");
        push_quoted(&mut v, url);
        v.push('"');
    }
    if let Some(Attributes {
        code: Some(code),
        description,
        scope,
        acr_values,
        max_age,
    }) = attrs
    {
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
        // RFC 9470 §3: `acr_values` and `max_age` as quoted strings.
        if let Some(acr) = acr_values {
            v.push_str(", acr_values=\"");
            push_quoted(&mut v, acr);
            v.push('"');
        }
        if let Some(max_age) = max_age {
            v.push_str(&format!(", max_age=\"{max_age}\""));
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

/// How a layer turns an [`AuthError`] into a response: its realm and the application's
/// rejection closure, if any. Cheap to clone; travels in request extensions so that per-route
/// layers answer as the layer around them does.
#[derive(Clone)]
pub(crate) struct Responder(Arc<ResponderInner>);

#[derive(Clone)]
struct ResponderInner {
    realm: Box<str>,
    custom: Option<Arc<RejectFn>>,
    /// The URL of the resource's RFC 9728 document, for every challenge.
    metadata: Option<Arc<str>>,
    /// The scopes the layer requires, space-delimited: a per-route requirement's 403 names
    /// them too.
    layer_scope: Option<Arc<str>>,
    /// The DPoP challenge, when DPoP is configured.
    dpop: Option<DpopChallenge>,
    /// The layer's clock, for the per-route checks that need the time (`max_age`).
    clock: Arc<dyn Clock>,
}

impl Responder {
    pub(crate) fn new(realm: &str, custom: Option<Arc<RejectFn>>) -> Self {
        Self::for_layer(realm, custom, (None, None), None).with_clock(Arc::new(SystemClock))
    }

    /// This responder, with the layer's clock.
    pub(crate) fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        let inner = Arc::unwrap_or_clone(self.0);
        Self(Arc::new(ResponderInner { clock, ..inner }))
    }

    /// Now, on the layer's clock (seconds).
    pub(crate) fn now(&self) -> u64 {
        self.0.clock.now()
    }

    pub(crate) fn for_layer(
        realm: &str,
        custom: Option<Arc<RejectFn>>,
        (metadata, dpop): (Option<Arc<str>>, Option<DpopChallenge>),
        layer_scope: Option<Arc<str>>,
    ) -> Self {
        Self(Arc::new(ResponderInner {
            realm: realm.into(),
            custom,
            metadata,
            layer_scope,
            dpop,
            clock: Arc::new(SystemClock),
        }))
    }

    /// The `scope=` of a per-route requirement's 403. With resource metadata published (MCP
    /// step-up: the client asks for a token with exactly the scopes the challenge names), every
    /// scope the route needs, the layer's first; otherwise the scopes of the requirement that
    /// failed, as before metadata existed.
    pub(crate) fn route_scope(&self, route: &Arc<str>) -> Arc<str> {
        match (&self.0.metadata, &self.0.layer_scope) {
            (Some(_), Some(layer)) => {
                let mut all: Vec<&str> = layer.split(' ').collect();
                for scope in route.split(' ') {
                    if !all.contains(&scope) {
                        all.push(scope);
                    }
                }
                all.join(" ").into()
            }
            _ => Arc::clone(route),
        }
    }

    /// For refusals outside any configured layer (a per-route layer without `JwtAuth`).
    pub(crate) fn fallback() -> Self {
        Self::new("", None)
    }

    /// The response for `error`: the custom closure's, else gRPC-style for gRPC requests, else
    /// HTTP, with the error on the challenge of the scheme the credential came with. Always
    /// carries the error in its extensions.
    pub(crate) fn respond(&self, error: &AuthError, to: Reply) -> Response<Bytes> {
        let inner = &*self.0;
        match &inner.custom {
            Some(f) => {
                let mut res = f(error);
                res.extensions_mut().insert(error.clone());
                res
            }
            None => {
                let challenges = Challenges {
                    realm: &inner.realm,
                    metadata: inner.metadata.as_deref(),
                    dpop: inner.dpop.as_ref(),
                    presented_with_dpop: to.scheme == Scheme::Dpop,
                };
                if to.grpc {
                    grpc_response(error, challenges)
                } else {
                    http_response(error, challenges)
                }
            }
        }
    }
}

impl fmt::Debug for Responder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Responder")
            .field("realm", &self.0.realm)
            .field("custom", &self.0.custom.as_ref().map(|_| "(closure)"))
            .finish()
    }
}

/// What a refusal answers besides the error: the request's protocol and the scheme its
/// credential came with, known only at the edge.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reply {
    pub(crate) grpc: bool,
    pub(crate) scheme: Scheme,
}

impl Reply {
    /// A reply to `headers`' request, for a credential presented with `scheme`.
    pub(crate) fn to(headers: &http::HeaderMap, scheme: Scheme) -> Self {
        Self {
            grpc: is_grpc(headers),
            scheme,
        }
    }
}

/// Whether the request is a gRPC call (`content-type: application/grpc[+proto|;...]`).
pub(crate) fn is_grpc(headers: &http::HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}

/// A trailers-only gRPC response: HTTP 200, `grpc-status`, percent-encoded `grpc-message`,
/// and the same `WWW-Authenticate` / `Retry-After` headers as over HTTP.
fn grpc_response(error: &AuthError, challenges: Challenges<'_>) -> Response<Bytes> {
    let o = outcome(error.kind());
    let mut res = Response::new(Bytes::new());
    res.extensions_mut().insert(error.clone());
    let headers = res.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert("grpc-status", HeaderValue::from(o.grpc));
    if let Ok(msg) = HeaderValue::try_from(grpc_percent_encode(error.description())) {
        headers.insert("grpc-message", msg);
    }
    insert_auth_headers(headers, error, challenges);
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

#[cfg(test)]
mod tests {
    use super::*;

    const GRPC: Reply = Reply {
        grpc: true,
        scheme: Scheme::Bearer,
    };

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
        let res = Responder::new("api", None).respond(&err, GRPC);
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
            (AuthErrorKind::ValidationUnavailable, "14"),
            (AuthErrorKind::InactiveToken, "16"),
            (AuthErrorKind::UnknownApiKey, "16"),
            (AuthErrorKind::Misconfigured, "13"),
        ] {
            let res = Responder::new("api", None).respond(&kind.into(), GRPC);
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
