//! Access tokens for the service's own outgoing calls (feature `client`): the other side of the
//! OAuth 2.0 client-credentials grant the seeds describe.
//!
//! [`ClientCredentials`] obtains a token from the authorization server, keeps one per source,
//! renews it in the background before it expires (by default once 80 % of its `expires_in` has
//! passed), lets concurrent callers share one request, and backs off with jitter when the token
//! endpoint fails. [`AddAccessToken`] is the tower layer that puts the token on outgoing
//! requests (hyper clients, tonic channels) and, when the resource server answers
//! `error="invalid_token"`, drops the token and retries once with a fresh one. With feature
//! `reqwest-middleware` the same type is a `reqwest_middleware::Middleware`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tower_jwt_auth::client::TokenError> {
//! use tower_jwt_auth::client::{ClientCredentials, TokenSource};
//!
//! // Eliq: a JSON body, the API named in `aud`.
//! let eliq = ClientCredentials::new(
//!     "https://auth-api.eliq.com/oauth/token", "utility-acme-backend", "s3cr3t")
//!     .json_body()
//!     .audience("insights-api")
//!     .scopes(["insights.read"]);
//! // Flip: a form body with HTTP Basic client authentication (the default), the endpoint found
//! // through the issuer's metadata.
//! let flip = ClientCredentials::discover("https://oauth.flip.energy", "acme", "s3cr3t");
//! let token = eliq.token().await?;
//! # let _ = (token, flip);
//! # Ok(())
//! # }
//! ```
//!
//! Secrets and tokens never appear in `Debug`, logs or errors.

mod credentials;
mod layer;
#[cfg(feature = "reqwest-middleware")]
mod middleware;

use std::fmt;
use std::future::Future;
use std::sync::Arc;

pub use credentials::ClientCredentials;
pub use layer::{AddAccessToken, AddAccessTokenService, BoxError};

/// Where access tokens for outgoing calls come from. [`ClientCredentials`] is one; implement
/// it for flows of your own (a token exchange, a workload identity file).
///
/// ```
/// use tower_jwt_auth::client::{AccessToken, TokenError, TokenSource};
///
/// /// A token handed over by the platform, read fresh each time.
/// struct FromEnv;
///
/// impl TokenSource for FromEnv {
///     async fn token(&self) -> Result<AccessToken, TokenError> {
///         std::env::var("ACCESS_TOKEN")
///             .map(AccessToken::new)
///             .map_err(|_| TokenError::configuration("ACCESS_TOKEN is not set"))
///     }
/// }
/// ```
pub trait TokenSource: Send + Sync + 'static {
    /// The current access token: cached, renewed or obtained as needed.
    fn token(&self) -> impl Future<Output = Result<AccessToken, TokenError>> + Send;

    /// The resource server refused `token` as invalid (revoked, signed with a retired key): a
    /// source that caches should forget it, so that the next [`TokenSource::token`] obtains
    /// another. Does nothing by default.
    fn invalidate(&self, token: &AccessToken) {
        let _ = token;
    }
}

impl<T: TokenSource> TokenSource for Arc<T> {
    fn token(&self) -> impl Future<Output = Result<AccessToken, TokenError>> + Send {
        (**self).token()
    }

    fn invalidate(&self, token: &AccessToken) {
        (**self).invalidate(token);
    }
}

/// An access token. Its `Debug` shows no part of it.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    value: Arc<str>,
    expires_at: Option<u64>,
}

impl AccessToken {
    /// A token with no known expiry.
    pub fn new(value: impl Into<Arc<str>>) -> Self {
        Self {
            value: value.into(),
            expires_at: None,
        }
    }

    pub(crate) fn expiring(value: Arc<str>, expires_at: u64) -> Self {
        Self {
            value,
            expires_at: Some(expires_at),
        }
    }

    /// The token itself, for the `Authorization` header. Keep it out of logs.
    pub fn secret(&self) -> &str {
        &self.value
    }

    /// When it expires (seconds since the epoch), when the token endpoint said.
    pub fn expires_at(&self) -> Option<u64> {
        self.expires_at
    }

    /// `Bearer <token>`, marked sensitive so that HTTP/2 header compression and `Debug` of the
    /// header map leave it out.
    pub fn authorization(&self) -> Result<http::HeaderValue, TokenError> {
        let mut value = http::HeaderValue::try_from(format!("Bearer {}", self.value))
            .map_err(|_| TokenError::invalid_response("the access token is not a header value"))?;
        value.set_sensitive(true);
        Ok(value)
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("value", &"…")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A client secret. Its `Debug` and `Display` show no part of it.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(Arc<str>);

impl ClientSecret {
    /// The secret itself, for the token request.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl<T: Into<Arc<str>>> From<T> for ClientSecret {
    fn from(value: T) -> Self {
        Self(value.into())
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(…)")
    }
}

/// What kind of failure kept a token from being obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenErrorKind {
    /// The configuration does not fit the authorization server: wrong secret
    /// (`invalid_client`), a client not allowed the grant (`unauthorized_client`), an unknown
    /// scope or audience, an unusable endpoint URL. Retried only rarely (every 5 minutes), never
    /// in a loop.
    Configuration,
    /// The token endpoint could not be reached, timed out or failed (5xx): retried with
    /// backoff (1 s doubling to 60 s, jittered).
    Unavailable,
    /// The token endpoint answered something that is not a usable token response.
    InvalidResponse,
}

/// Why no access token could be obtained. Never contains the secret or a token.
#[derive(Clone)]
pub struct TokenError {
    kind: TokenErrorKind,
    message: Arc<str>,
    oauth_error: Option<Arc<str>>,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl TokenError {
    fn new(kind: TokenErrorKind, message: impl Into<Arc<str>>) -> Self {
        Self {
            kind,
            message: message.into(),
            oauth_error: None,
            source: None,
        }
    }

    /// A configuration error of a source of your own.
    pub fn configuration(message: impl Into<Arc<str>>) -> Self {
        Self::new(TokenErrorKind::Configuration, message)
    }

    /// A passing failure of a source of your own (retried).
    pub fn unavailable(message: impl Into<Arc<str>>) -> Self {
        Self::new(TokenErrorKind::Unavailable, message)
    }

    pub(crate) fn invalid_response(message: impl Into<Arc<str>>) -> Self {
        Self::new(TokenErrorKind::InvalidResponse, message)
    }

    pub(crate) fn with_oauth_error(mut self, code: &str) -> Self {
        self.oauth_error = Some(code.into());
        self
    }

    pub(crate) fn with_source(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> TokenErrorKind {
        self.kind
    }

    /// Whether this is a configuration problem (see [`TokenErrorKind::Configuration`]).
    pub fn is_configuration(&self) -> bool {
        self.kind == TokenErrorKind::Configuration
    }

    /// The token endpoint's `error` code (RFC 6749 §5.2), when it sent one.
    pub fn oauth_error(&self) -> Option<&str> {
        self.oauth_error.as_deref()
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenError")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("oauth_error", &self.oauth_error)
            .field("source", &self.source.as_ref().map(|s| s.to_string()))
            .finish()
    }
}

impl std::error::Error for TokenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}
