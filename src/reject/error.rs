//! Errors: why a token was refused ([`AuthError`]), why a configuration is unusable
//! ([`ConfigError`]), and why keys could not be obtained ([`KeySourceError`]).

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::AuthErrorKind;
use crate::credential::Credential;
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
    /// Everything else, allocated only when something is set: an error is two words, so a
    /// `Result<Claims<C>, AuthError>` stays small on the request path.
    details: Option<Box<Details>>,
}

/// What an error says beyond its kind.
#[derive(Clone, Default)]
struct Details {
    detail: Option<&'static str>,
    required_scope: Option<Arc<str>>,
    /// The description, when it names something from the configuration (the
    /// `authorization_details` type a route requires); never a value from the token.
    description: Option<Arc<str>>,
    /// RFC 9470's challenge: the `acr` values and the `max_age` that would satisfy the route.
    step_up: Option<(Option<Arc<str>>, Option<u64>)>,
    /// For a delegated credential: the actor chain, for the log.
    actors: Option<Arc<str>>,
    retry_after: Option<Duration>,
    context: Option<Arc<str>>,
    source: Option<Arc<dyn StdError + Send + Sync>>,
    /// The trusted issuer the credential was tied to, once known (a metrics label).
    issuer: Option<Arc<str>>,
    /// How the credential was being judged, once routed (a metrics label).
    credential: Option<Credential>,
    /// A nonce for the client's next DPoP proof (`DPoP-Nonce`).
    dpop_nonce: Option<Arc<str>>,
}

impl AuthError {
    /// An error of this kind.
    pub fn new(kind: AuthErrorKind) -> Self {
        Self {
            kind,
            details: None,
        }
    }

    fn get(&self) -> Option<&Details> {
        self.details.as_deref()
    }

    fn set(&mut self) -> &mut Details {
        self.details.get_or_insert_with(Box::default)
    }

    /// What went wrong.
    pub fn kind(&self) -> AuthErrorKind {
        self.kind
    }

    /// The fixed, input-free text that goes into `error_description`.
    pub fn description(&self) -> &str {
        match self.get() {
            Some(Details {
                description: Some(text),
                ..
            }) => text,
            details => details
                .and_then(|d| d.detail)
                .unwrap_or_else(|| self.kind.description()),
        }
    }

    /// For [`AuthErrorKind::InsufficientUserAuthentication`]: the space-delimited `acr` values
    /// that would satisfy the route (the challenge's `acr_values`, RFC 9470 §3).
    pub fn acr_values(&self) -> Option<&str> {
        self.get()?.step_up.as_ref()?.0.as_deref()
    }

    /// For [`AuthErrorKind::InsufficientUserAuthentication`]: the most seconds since the
    /// user's authentication the route accepts (the challenge's `max_age`, RFC 9470 §3).
    pub fn max_age(&self) -> Option<u64> {
        self.get()?.step_up.as_ref()?.1
    }

    /// The actor chain of a delegated credential, for the log (RFC 8693).
    pub(crate) fn acting(mut self, chain: String) -> Self {
        self.set().actors.get_or_insert_with(|| chain.into());
        self
    }

    /// The actor chain of the delegated credential refused, as the log shows it.
    pub fn actors(&self) -> Option<&str> {
        self.get()?.actors.as_deref()
    }

    /// A description naming configuration (never a value taken from the token).
    pub(crate) fn with_description(mut self, text: impl Into<Arc<str>>) -> Self {
        self.set().description = Some(text.into());
        self
    }

    /// The step-up challenge's attributes.
    pub(crate) fn with_step_up(
        mut self,
        acr_values: Option<Arc<str>>,
        max_age: Option<u64>,
    ) -> Self {
        self.set().step_up = Some((acr_values, max_age));
        self
    }

    /// For [`AuthErrorKind::InsufficientScope`]: the space-delimited scopes the route requires.
    pub fn required_scope(&self) -> Option<&str> {
        self.get().and_then(|d| d.required_scope.as_deref())
    }

    /// For [`AuthErrorKind::KeysUnavailable`]: when a retry may succeed.
    pub fn retry_after(&self) -> Option<Duration> {
        self.get().and_then(|d| d.retry_after)
    }

    /// What a person needs to fix the refusal, for logs: the expected and the found issuer,
    /// audience, `sub_type`, algorithm or `kid`, or the missing scopes. Never part of a
    /// response.
    pub fn context(&self) -> Option<&str> {
        self.get().and_then(|d| d.context.as_deref())
    }

    pub(crate) fn with_detail(mut self, detail: &'static str) -> Self {
        self.set().detail = Some(detail);
        self
    }

    pub(crate) fn with_required_scope(mut self, scope: Arc<str>) -> Self {
        self.set().required_scope = Some(scope);
        self
    }

    pub(crate) fn with_retry_after(mut self, after: Duration) -> Self {
        self.set().retry_after = Some(after);
        self
    }

    pub(crate) fn with_context(mut self, context: impl Into<Arc<str>>) -> Self {
        self.set().context = Some(context.into());
        self
    }

    /// Ties the refusal to the trusted issuer its credential named (unless already tied).
    pub(crate) fn at_issuer(mut self, issuer: &Arc<str>) -> Self {
        self.set().issuer.get_or_insert_with(|| Arc::clone(issuer));
        self
    }

    /// Records how the credential was judged (unless already recorded).
    pub(crate) fn judged_as(mut self, credential: Credential) -> Self {
        self.set().credential.get_or_insert(credential);
        self
    }

    /// Whether the refusal is about DPoP itself (then it goes on the `DPoP` challenge whatever
    /// the scheme).
    pub(crate) fn is_about_dpop(&self) -> bool {
        matches!(
            self.kind,
            AuthErrorKind::InvalidDpopProof
                | AuthErrorKind::UseDpopNonce
                | AuthErrorKind::DpopRequired
                | AuthErrorKind::NotDpopBound
        )
    }

    /// Hands the client a nonce for its next proof.
    pub(crate) fn with_dpop_nonce(mut self, nonce: Arc<str>) -> Self {
        self.set().dpop_nonce = Some(nonce);
        self
    }

    /// The nonce for the client's next DPoP proof, sent as `DPoP-Nonce`.
    pub fn dpop_nonce(&self) -> Option<&str> {
        self.get().and_then(|d| d.dpop_nonce.as_deref())
    }

    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) fn issuer(&self) -> Option<&Arc<str>> {
        self.get().and_then(|d| d.issuer.as_ref())
    }

    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) fn credential(&self) -> Option<Credential> {
        self.get().and_then(|d| d.credential)
    }

    pub(crate) fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.set().source = Some(Arc::new(source));
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
        if let Some(context) = self.context() {
            d.field("context", &context);
        }
        if let Some(scope) = self.required_scope() {
            d.field("required_scope", &scope);
        }
        if let Some(after) = &self.retry_after() {
            d.field("retry_after", after);
        }
        if let Some(source) = self.get().and_then(|d| d.source.as_ref()) {
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
        self.get()
            .and_then(|d| d.source.as_deref())
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// A configuration value that cannot work, naming the builder field it came from.
///
/// The layer refuses it when it is applied (a panic whose message is this error, like axum's
/// invalid routes and tower-http's invalid CORS rules); [`JwtAuth::try_new`](crate::JwtAuth::try_new),
/// [`JwtAuth::validate`](crate::JwtAuth::validate) and
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
    fn an_error_is_two_words() {
        assert_eq!(std::mem::size_of::<AuthError>(), 16);
        let plain = AuthError::new(AuthErrorKind::Expired);
        assert!(plain.details.is_none(), "nothing set, nothing allocated");
        let detailed = plain
            .with_context("exp 5")
            .with_retry_after(Duration::from_secs(1));
        assert_eq!(
            (detailed.context(), detailed.retry_after()),
            (Some("exp 5"), Some(Duration::from_secs(1)))
        );
    }

    #[test]
    fn shown_values_are_escaped_and_cut() {
        assert_eq!(shown("a\"b\n"), r#""a\"b\n""#);
        let long = "x".repeat(500);
        let s = shown(&long);
        assert_eq!(s, format!("\"{}\"...", "x".repeat(128)));
        assert_eq!(shown("é"), r#""\u{e9}""#);
    }
}
