//! Errors: why a token was refused ([`AuthError`]) and why a configuration is unusable
//! ([`ConfigError`]).

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

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
    /// No `Authorization` header: 401 without an error code.
    MissingToken,
    /// The `Authorization` header is unusable: repeated, not the Bearer scheme, empty, or not a
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
    /// The lifetime `exp - iat` is longer than the configured maximum.
    LifetimeTooLong,
    /// `iss` is missing or is not the configured issuer.
    InvalidIssuer,
    /// `aud` is missing or does not contain the configured audience.
    InvalidAudience,
    /// A required claim is missing (`exp`, `sub`, or one required by strict RFC 9068 mode).
    MissingClaim,
    /// A claim has the wrong JSON type or an impossible value, or the claims do not fit the
    /// application's claims type.
    InvalidClaim,
    /// The token is valid but lacks a scope the route requires: 403 `insufficient_scope`.
    InsufficientScope,
    /// The token is valid but its `sub_type` is not the one the route requires: 403
    /// `insufficient_scope`.
    SubTypeMismatch,
    /// Signing keys could not be obtained (identity provider unreachable, nothing cached): 503.
    KeysUnavailable,
    /// The layer's configuration is unusable (see [`ConfigError`]): 500.
    Misconfigured,
    /// Verification failed unexpectedly inside the crypto backend: 401 `invalid_token`.
    Internal,
}

/// A refused token or request.
///
/// The kind decides the response; the optional source says more for logs (never the token).
/// Cloneable so that it can travel in response extensions.
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
/// # }
/// ```
#[derive(Clone)]
pub struct AuthError {
    kind: AuthErrorKind,
    detail: Option<&'static str>,
    required_scope: Option<Arc<str>>,
    retry_after: Option<Duration>,
    source: Option<Arc<dyn StdError + Send + Sync>>,
}

impl AuthError {
    /// An error of this kind.
    pub fn new(kind: AuthErrorKind) -> Self {
        Self {
            kind,
            detail: None,
            required_scope: None,
            retry_after: None,
            source: None,
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> AuthErrorKind {
        self.kind
    }

    /// The fixed, input-free text that goes into `error_description`.
    pub fn description(&self) -> &'static str {
        self.detail
            .unwrap_or_else(|| crate::response::outcome(self.kind).description)
    }

    /// For [`AuthErrorKind::InsufficientScope`]: the space-delimited scopes the route requires.
    pub fn required_scope(&self) -> Option<&str> {
        self.required_scope.as_deref()
    }

    /// For [`AuthErrorKind::KeysUnavailable`]: when a retry may succeed.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
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

    pub(crate) fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }
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

/// Why signing keys could not be obtained (the source of a
/// [`AuthErrorKind::KeysUnavailable`] error). Never contains key material.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use tower_jwt_auth::{testing::{Failure, TestIssuer}, AuthErrorKind, JwtAuth};
/// let issuer = TestIssuer::start().await;
/// issuer.fail(Failure::Status(500));
/// let err = JwtAuth::new(issuer.url(), "insights-api").ready().await.unwrap_err();
/// assert_eq!(err.kind(), AuthErrorKind::KeysUnavailable);
/// let why = std::error::Error::source(&err).unwrap().to_string();
/// assert!(why.ends_with("HTTP status 500"), "{why}");
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct KeySourceError {
    message: String,
}

impl KeySourceError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Display for KeySourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for KeySourceError {}
