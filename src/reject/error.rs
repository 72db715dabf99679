//! Errors: why a token was refused ([`AuthError`]), why a configuration is unusable
//! ([`ConfigError`]), and why keys could not be obtained ([`KeySourceError`]).

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::credential::Credential;

/// Why a request was refused. Each kind maps to exactly one outcome (status, RFC 6750 error code,
/// fixed description) in one table; see the crate documentation.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::time::Duration;
/// use tower_jwt_auth::{testing::TestIssuer, AuthErrorKind, JwtAuth};
/// let issuer = TestIssuer::start().await;
/// let auth = JwtAuth::new(issuer.url(), "insights-api");
/// let expired = issuer.token().expired_for(Duration::from_secs(600)).sign();
/// assert_eq!(auth.verify(&expired).await.unwrap_err().kind(), AuthErrorKind::Expired);
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthErrorKind {
    /// No bearer credentials: no `Authorization` header, or one of another scheme (`Basic`,
    /// `Digest`, RFC 6750 §3.1): 401 without an error code.
    MissingToken,
    /// The `Authorization` header is unusable: repeated, an empty Bearer token, or not a
    /// `b64token`: 400 `invalid_request`.
    InvalidRequest,
    /// The header or token is longer than the configured cap: 401 `invalid_token`.
    TokenTooLarge,
    /// Not a compact JWS of three base64url segments holding JSON: 401 `invalid_token`.
    Malformed,
    /// An encrypted (JWE) or nested token: 401 `invalid_token`.
    EncryptedOrNested,
    /// `alg` is `none`, symmetric (`HS*`), unknown, or not in the configured allow-list.
    UnsupportedAlgorithm,
    /// A JOSE header member this crate refuses: unknown `crit`, `b64: false`, unexpected `typ`.
    UnsupportedHeader,
    /// No key in the issuer's key set has the token's `kid`, or (without `kid`) not exactly one
    /// key fits its algorithm.
    UnknownKey,
    /// The key named by `kid` cannot verify the token's algorithm (another key type, curve or a
    /// different JWK `alg`).
    KeyMismatch,
    /// The signature does not verify.
    InvalidSignature,
    /// `exp` is in the past (beyond the leeway).
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    IssuedInFuture,
    /// The lifetime `exp - iat` is longer than the configured maximum (without `iat`: what
    /// is left of it, `exp - now`).
    LifetimeTooLong,
    /// `iss` is missing or is not the configured issuer.
    InvalidIssuer,
    /// `aud` is missing or does not contain the configured audience.
    InvalidAudience,
    /// A required claim is missing (`exp`, `sub`, or one required by strict RFC 9068 mode).
    MissingClaim,
    /// A signed JWT that is not an access token: it carries a claim only an OpenID Connect ID
    /// token carries (`nonce`, `at_hash`, `c_hash`, `s_hash`) or a security-event token's
    /// `events` (RFC 8417): 401 `invalid_token`, in every mode, for every issuer. (A `typ`
    /// naming another kind of JWT, such as `logout+jwt`, `secevent+jwt` or `dpop+jwt`, is
    /// [`UnsupportedHeader`](AuthErrorKind::UnsupportedHeader).)
    NotAnAccessToken,
    /// A claim has the wrong JSON type or an impossible value, or the claims do not fit the
    /// application's claims type.
    InvalidClaim,
    /// The token is bound to a key (its claims carry `cnf`, RFC 7800: a DPoP key thumbprint, a
    /// client certificate thumbprint) but was presented as a plain bearer token, without the
    /// proof of possession that makes it usable: 401 `invalid_token` (RFC 9449 §7.1,
    /// RFC 8705 §3).
    BoundToken,
    /// The token was presented with the `DPoP` scheme but is not bound to a DPoP key (no
    /// `cnf.jkt`): 401 `invalid_token` (RFC 9449 §7.1).
    NotDpopBound,
    /// The `DPoP` proof is missing, repeated or fails a rule of RFC 9449 §4.3: its type,
    /// algorithm, key, signature, `htm`, `htu`, `iat`, `ath`, a replayed `jti`, or a key other
    /// than the one the token is bound to: 401 `invalid_dpop_proof`.
    InvalidDpopProof,
    /// Server nonces are on and the proof lacks the current one: 401 `use_dpop_nonce` with a
    /// fresh `DPoP-Nonce` header (RFC 9449 §8).
    UseDpopNonce,
    /// DPoP is required ([`Dpop::required`](crate::Dpop::required)) and the credential was a
    /// bearer token: 401 `invalid_token` with a `DPoP` challenge.
    DpopRequired,
    /// Under [`JwtAuth::fapi2`](crate::JwtAuth::fapi2): the credential is not bound to a DPoP
    /// key or a client certificate (a plain bearer token, an API key): 401 `invalid_token`.
    NotSenderConstrained,
    /// One DPoP key sent more proofs within the replay window than its share of the replay
    /// store ([`Dpop::proofs_per_key`](crate::Dpop::proofs_per_key)): 429 Too Many Requests
    /// with `Retry-After`, for that key alone.
    TooManyProofs,
    /// The token is valid but lacks a scope the route requires: 403 `insufficient_scope`.
    InsufficientScope,
    /// The token is valid but its `sub_type` is not the one the route requires: 403
    /// `insufficient_scope`.
    SubTypeMismatch,
    /// The token is valid but lacks a role the route requires (from the configured role
    /// claims): 403 `insufficient_scope`. The description names no role.
    MissingRole,
    /// The token is valid but an application rule ([`JwtAuth::require`](crate::JwtAuth::require))
    /// returned false: 403 `insufficient_scope`.
    RuleRejected,
    /// An application rule panicked: 500, with an error event; the connection is kept.
    RulePanicked,
    /// The issuer's introspection endpoint (RFC 7662) reports the opaque token inactive
    /// (`active: false`: unknown, revoked or expired): 401 `invalid_token`.
    InactiveToken,
    /// No configured API-key validator knows the key: 401 `invalid_token`.
    UnknownApiKey,
    /// Signing keys could not be obtained (identity provider unreachable, nothing cached): 503.
    KeysUnavailable,
    /// The service that judges an opaque credential failed: the introspection endpoint is
    /// unreachable or answered with an error or an unusable document, or an API-key
    /// validator reported its own failure: 503 with `Retry-After`. Nothing is cached.
    ValidationUnavailable,
    /// The layer's configuration is unusable (see [`ConfigError`]): 500.
    Misconfigured,
    /// Verification failed unexpectedly inside the crypto backend: 401 `invalid_token`.
    Internal,
}

impl AuthErrorKind {
    /// The fixed, input-free text of this kind's `error_description`.
    ///
    /// ```
    /// use tower_jwt_auth::AuthErrorKind;
    /// assert_eq!(AuthErrorKind::Expired.description(), "the token has expired");
    /// ```
    pub fn description(self) -> &'static str {
        use AuthErrorKind as K;
        match self {
            K::MissingToken => "a bearer token is required",
            K::InvalidRequest => "the Authorization header must hold exactly one Bearer token",
            K::TokenTooLarge => "the token is too large",
            K::Malformed => "the token is malformed",
            K::EncryptedOrNested => "encrypted or nested tokens are not accepted",
            K::UnsupportedAlgorithm => "the token's signing algorithm is not accepted",
            K::UnsupportedHeader => "the token header has an unsupported member",
            K::UnknownKey => "the token's signing key is not known",
            K::KeyMismatch => "the signing key does not match the token's algorithm",
            K::InvalidSignature => "the token signature is invalid",
            K::Expired => "the token has expired",
            K::NotYetValid => "the token is not valid yet",
            K::IssuedInFuture => "the token is issued in the future",
            K::LifetimeTooLong => "the token's lifetime is too long",
            K::InvalidIssuer => "the token issuer is not accepted",
            K::InvalidAudience => "the token is not intended for this audience",
            K::MissingClaim => "the token lacks a required claim",
            K::InvalidClaim => "the token has an invalid claim",
            K::NotAnAccessToken => "the token is not an access token",
            K::BoundToken => "the token is bound to a key and needs its proof of possession",
            K::NotDpopBound => "the token is not bound to a DPoP key",
            K::InvalidDpopProof => "the DPoP proof is invalid",
            K::UseDpopNonce => "the DPoP proof must carry the server's current nonce",
            K::DpopRequired => "a DPoP-bound token and its proof are required",
            K::TooManyProofs => "too many DPoP proofs from one key; retry later",
            K::NotSenderConstrained => "a sender-constrained token is required",
            K::InsufficientScope => "the token lacks a required scope",
            K::SubTypeMismatch => "the token's subject type is not accepted here",
            K::MissingRole => "the token lacks a required role",
            K::RuleRejected => "the token does not satisfy this route's rule",
            K::RulePanicked => "the authorization rule failed",
            K::InactiveToken => "the token is not active",
            K::UnknownApiKey => "the API key is not known",
            K::KeysUnavailable => "signing keys are temporarily unavailable",
            K::ValidationUnavailable => "the credential cannot be checked right now",
            K::Misconfigured => "token verification is misconfigured",
            K::Internal => "the token could not be verified",
        }
    }
}

/// A refused token or request.
///
/// The kind decides the response; the context (expected and found values, for logs) and the
/// source say more. Neither ever holds the token or a signature, and values taken from the token
/// are escaped and cut to 128 characters. Cloneable so that it can travel in response
/// extensions.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use tower_jwt_auth::{testing::TestIssuer, AuthErrorKind, JwtAuth};
/// let issuer = TestIssuer::start().await;
/// let auth = JwtAuth::new(issuer.url(), "insights-api").require_scopes(["insights.write"]);
/// let err = auth.verify(&issuer.token().scopes(["insights.read"]).sign()).await.unwrap_err();
/// assert_eq!(err.kind(), AuthErrorKind::InsufficientScope);
/// assert_eq!(err.required_scope(), Some("insights.write"));
/// assert_eq!(err.to_string(), "the token lacks a required scope");
/// assert_eq!(err.context(), Some("missing scopes: insights.write"));
/// # }
/// ```
#[derive(Clone)]
pub struct AuthError {
    kind: AuthErrorKind,
    detail: Option<&'static str>,
    required_scope: Option<Arc<str>>,
    retry_after: Option<Duration>,
    context: Option<Arc<str>>,
    source: Option<Arc<dyn StdError + Send + Sync>>,
    /// The trusted issuer the credential was tied to, once known (a metrics label).
    issuer: Option<Arc<str>>,
    /// How the credential was being judged, once routed (a metrics label).
    credential: Option<Credential>,
    /// The credential came with the `DPoP` scheme: the error goes on the DPoP challenge.
    dpop: bool,
    /// A nonce for the client's next DPoP proof (`DPoP-Nonce`).
    dpop_nonce: Option<Arc<str>>,
}

impl AuthError {
    /// An error of this kind.
    pub fn new(kind: AuthErrorKind) -> Self {
        Self {
            kind,
            detail: None,
            required_scope: None,
            retry_after: None,
            context: None,
            source: None,
            issuer: None,
            credential: None,
            dpop: false,
            dpop_nonce: None,
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> AuthErrorKind {
        self.kind
    }

    /// The fixed, input-free text that goes into `error_description`.
    pub fn description(&self) -> &'static str {
        self.detail.unwrap_or_else(|| self.kind.description())
    }

    /// For [`AuthErrorKind::InsufficientScope`]: the space-delimited scopes the route requires.
    pub fn required_scope(&self) -> Option<&str> {
        self.required_scope.as_deref()
    }

    /// For [`AuthErrorKind::KeysUnavailable`]: when a retry may succeed.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// What a person needs to fix the refusal, for logs: the expected and the found issuer,
    /// audience, `sub_type`, algorithm or `kid`, or the missing scopes. Never part of a
    /// response.
    pub fn context(&self) -> Option<&str> {
        self.context.as_deref()
    }

    pub(crate) fn with_detail(mut self, detail: &'static str) -> Self {
        self.detail = Some(detail);
        self
    }

    pub(crate) fn with_required_scope(mut self, scope: Arc<str>) -> Self {
        self.required_scope = Some(scope);
        self
    }

    pub(crate) fn with_retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    pub(crate) fn with_context(mut self, context: impl Into<Arc<str>>) -> Self {
        self.context = Some(context.into());
        self
    }

    /// Ties the refusal to the trusted issuer its credential named (unless already tied).
    pub(crate) fn at_issuer(mut self, issuer: &Arc<str>) -> Self {
        self.issuer.get_or_insert_with(|| Arc::clone(issuer));
        self
    }

    /// Records how the credential was judged (unless already recorded).
    pub(crate) fn judged_as(mut self, credential: Credential) -> Self {
        self.credential.get_or_insert(credential);
        self
    }

    /// Marks a refusal of a credential presented with the `DPoP` scheme.
    pub(crate) fn presented_with_dpop(mut self) -> Self {
        self.dpop = true;
        self
    }

    /// Whether the credential came with the `DPoP` scheme, or the refusal is about DPoP.
    pub(crate) fn is_dpop(&self) -> bool {
        self.dpop
            || matches!(
                self.kind,
                AuthErrorKind::InvalidDpopProof
                    | AuthErrorKind::UseDpopNonce
                    | AuthErrorKind::DpopRequired
                    | AuthErrorKind::NotDpopBound
            )
    }

    /// Hands the client a nonce for its next proof.
    pub(crate) fn with_dpop_nonce(mut self, nonce: Arc<str>) -> Self {
        self.dpop_nonce = Some(nonce);
        self
    }

    /// The nonce for the client's next DPoP proof, sent as `DPoP-Nonce`.
    pub fn dpop_nonce(&self) -> Option<&str> {
        self.dpop_nonce.as_deref()
    }

    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) fn issuer(&self) -> Option<&Arc<str>> {
        self.issuer.as_ref()
    }

    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) fn credential(&self) -> Option<Credential> {
        self.credential
    }

    pub(crate) fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// The source and its own sources, joined by `": "`, for log events.
    pub(crate) fn source_chain(&self) -> Option<String> {
        let mut next = StdError::source(self);
        let mut out: Option<String> = None;
        while let Some(e) = next {
            let text = e.to_string();
            match &mut out {
                // Some errors repeat their source in their own message.
                Some(o) if o.ends_with(&text) => {}
                Some(o) => {
                    o.push_str(": ");
                    o.push_str(&text);
                }
                None => out = Some(text),
            }
            next = e.source();
        }
        out
    }
}

/// `value` as a log event shows it: quoted, escaped (control characters, quotes, backslashes,
/// non-ASCII) and cut to 128 characters, so that a hostile token cannot forge log lines or
/// flood them.
pub(crate) fn shown(value: &str) -> String {
    const MAX: usize = 128;
    let mut out = String::with_capacity(value.len().min(MAX) + 8);
    out.push('"');
    for c in value.chars().take(MAX) {
        out.extend(c.escape_default());
    }
    out.push('"');
    if value.chars().nth(MAX).is_some() {
        out.push_str("...");
    }
    out
}

impl From<AuthErrorKind> for AuthError {
    fn from(kind: AuthErrorKind) -> Self {
        Self::new(kind)
    }
}

impl fmt::Debug for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("AuthError");
        d.field("kind", &self.kind)
            .field("description", &self.description());
        if let Some(context) = &self.context {
            d.field("context", context);
        }
        if let Some(scope) = &self.required_scope {
            d.field("required_scope", scope);
        }
        if let Some(after) = &self.retry_after {
            d.field("retry_after", after);
        }
        if let Some(source) = &self.source {
            d.field("source", &format_args!("{source}"));
        }
        d.finish()
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

impl StdError for AuthError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// A configuration value that cannot work, naming the builder field it came from.
///
/// The layer refuses it when it is applied (a panic whose message is this error, like axum's
/// invalid routes and tower-http's invalid CORS rules); [`JwtAuth::try_new`](crate::JwtAuth::try_new),
/// [`JwtAuth::config_error`](crate::JwtAuth::config_error) and
/// [`JwtAuth::ready`](crate::JwtAuth::ready) report it as a value.
///
/// ```
/// use tower_jwt_auth::JwtAuth;
/// let err = JwtAuth::try_new("http://auth-api.eliq.com", "insights-api").unwrap_err();
/// assert_eq!(err.field(), "issuer");
/// assert!(err.to_string().starts_with("invalid `issuer`: "));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    field: &'static str,
    reason: String,
}

impl ConfigError {
    pub(crate) fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }

    /// The configuration field at fault, e.g. `"issuer"` or `"require_scopes"`.
    pub fn field(&self) -> &'static str {
        self.field
    }

    /// Why the value cannot be used.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid `{}`: {}", self.field, self.reason)
    }
}

impl StdError for ConfigError {}

/// What kind of failure kept signing keys from being obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeySourceErrorKind {
    /// Nothing listens at the address: the connection was refused.
    ConnectionRefused,
    /// The host name did not resolve.
    NameNotResolved,
    /// The TLS handshake failed (the message names the certificate problem).
    Tls,
    /// No complete answer within the timeout, or no connection within the connect timeout.
    Timeout,
    /// Another connection failure (reset, unreachable network).
    Connect,
    /// The provider answered with a non-2xx status ([`KeySourceError::status`]).
    Status,
    /// The body could not be read, is larger than the cap, or is not the document expected
    /// (discovery metadata, a JWK set with a usable key).
    InvalidDocument,
    /// A redirect was refused: too many, or to a URL that is not https (or loopback).
    Redirect,
    /// The discovery document names another issuer than the configured one: a configuration
    /// error, not an outage.
    IssuerMismatch,
    /// Anything else (the HTTP client could not be built, no Tokio runtime).
    Other,
}

impl KeySourceErrorKind {
    /// The metrics label of a failed fetch.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) fn label(self) -> &'static str {
        use KeySourceErrorKind as K;
        match self {
            K::ConnectionRefused => "connection_refused",
            K::NameNotResolved => "name_not_resolved",
            K::Tls => "tls",
            K::Timeout => "timeout",
            K::Connect => "connect",
            K::Status => "status",
            K::InvalidDocument => "invalid_document",
            K::Redirect => "redirect",
            K::IssuerMismatch => "issuer_mismatch",
            K::Other => "other",
        }
    }
}

/// Why signing keys could not be obtained (the source of a
/// [`AuthErrorKind::KeysUnavailable`] error). Never contains key material.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use tower_jwt_auth::{testing::{Failure, TestIssuer}, AuthErrorKind, JwtAuth, KeySourceError, KeySourceErrorKind};
/// let issuer = TestIssuer::start().await;
/// issuer.fail(Failure::Status(500));
/// let err = JwtAuth::new(issuer.url(), "insights-api").ready().await.unwrap_err();
/// assert_eq!(err.kind(), AuthErrorKind::KeysUnavailable);
/// let why = std::error::Error::source(&err).unwrap();
/// assert!(why.to_string().ends_with("HTTP status 500"), "{why}");
/// let why = why.downcast_ref::<KeySourceError>().unwrap();
/// assert_eq!((why.kind(), why.status()), (KeySourceErrorKind::Status, Some(500)));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct KeySourceError {
    kind: KeySourceErrorKind,
    status: Option<u16>,
    message: Arc<str>,
}

impl KeySourceError {
    pub(crate) fn new(kind: KeySourceErrorKind, message: impl Into<Arc<str>>) -> Self {
        Self {
            kind,
            status: None,
            message: message.into(),
        }
    }

    pub(crate) fn http(status: u16, message: impl Into<Arc<str>>) -> Self {
        Self {
            kind: KeySourceErrorKind::Status,
            status: Some(status),
            message: message.into(),
        }
    }

    /// What kind of failure.
    pub fn kind(&self) -> KeySourceErrorKind {
        self.kind
    }

    /// The HTTP status, for [`KeySourceErrorKind::Status`].
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// Whether retrying cannot help until the configuration (or the provider's) changes.
    pub(crate) fn is_config(&self) -> bool {
        self.kind == KeySourceErrorKind::IssuerMismatch
    }
}

impl fmt::Display for KeySourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for KeySourceError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_values_are_escaped_and_cut() {
        assert_eq!(shown("a\"b\n"), r#""a\"b\n""#);
        let long = "x".repeat(500);
        let s = shown(&long);
        assert_eq!(s, format!("\"{}\"...", "x".repeat(128)));
        assert_eq!(shown("é"), r#""\u{e9}""#);
    }

    #[test]
    fn every_kind_has_its_own_description() {
        use AuthErrorKind as K;
        let kinds = [
            K::MissingToken,
            K::InvalidRequest,
            K::TokenTooLarge,
            K::Malformed,
            K::EncryptedOrNested,
            K::UnsupportedAlgorithm,
            K::UnsupportedHeader,
            K::UnknownKey,
            K::KeyMismatch,
            K::InvalidSignature,
            K::Expired,
            K::NotYetValid,
            K::IssuedInFuture,
            K::LifetimeTooLong,
            K::InvalidIssuer,
            K::InvalidAudience,
            K::MissingClaim,
            K::InvalidClaim,
            K::NotAnAccessToken,
            K::BoundToken,
            K::TooManyProofs,
            K::NotSenderConstrained,
            K::InsufficientScope,
            K::SubTypeMismatch,
            K::MissingRole,
            K::RuleRejected,
            K::RulePanicked,
            K::InactiveToken,
            K::UnknownApiKey,
            K::KeysUnavailable,
            K::ValidationUnavailable,
            K::Misconfigured,
            K::Internal,
        ];
        let texts: std::collections::HashSet<_> = kinds.iter().map(|k| k.description()).collect();
        assert_eq!(texts.len(), kinds.len());
    }
}
