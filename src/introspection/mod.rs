//! Opaque access tokens, judged by the issuer's introspection endpoint (RFC 7662), with a cache
//! so that a client sending one token on every call costs one round trip, not one per request.
//!
//! - **The call**: `POST token=…&token_type_hint=access_token`, the resource server
//!   authenticated as an OAuth client (`client_secret_basic` by default, or
//!   `client_secret_post`), with the timeouts, size cap and redirect rules of key fetches.
//! - **The verdict**: `active: false` is 401 `invalid_token`; `active: true` is refused as well
//!   when `exp` has passed, `nbf` is ahead, `aud` (when present) does not name the audience,
//!   `iss` (when present) is not the issuer, or `token_type` (when present) is not `Bearer`
//!   or `DPoP`. A `cnf` confirmation is kept for the binding step. `scope` becomes the scopes.
//!   Absent `iss`, `aud` and `exp` are filled in for the claims type: the issuer, the
//!   audience, and 253402300799 (no expiry known). An absent `sub` is not: the grant then
//!   names no subject ([`Grant::is_client_only`](crate::Grant::is_client_only)), and the
//!   `client_id` is never presented as one.
//! - **The cache** (quick_cache): keyed by the whole token (equality, full-token hash with a per-process
//!   key). An accepted token is remembered until the earlier of its `exp` and
//!   [`Introspection::cache_ttl`] (5 minutes by default); a refused one for
//!   [`Introspection::inactive_cache_ttl`] (30 s) so that replaying a dead token cannot make
//!   every request a round trip. Requests with one token share one call. Bounded in entries.
//!   Failures (endpoint down, 5xx, an unusable answer) are 503 with `Retry-After` and are
//!   never cached.
//! - **Routing**: an opaque token names no issuer, and whoever receives it can replay it, so it
//!   goes to exactly one endpoint the configuration names: the endpoint whose
//!   [`Introspection::token_prefix`] it begins with (the longest), or else the default
//!   endpoint — the one endpoint configured without a prefix. A token no endpoint takes is
//!   refused (401 `invalid_token`) without any call. Asking several endpoints in turn is an
//!   explicit opt-in, [`JwtAuth::introspection_in_turn`](crate::JwtAuth::introspection_in_turn),
//!   which discloses each token to every endpoint asked before the one that knows it. One cache
//!   serves all endpoints (the first endpoint's capacity, the shortest inactive bound, the
//!   deciding endpoint's active bound).

use std::fmt;
use std::time::Duration;

use reqwest::Url;

use crate::outbound::parse_url;
use crate::reject::ConfigError;

mod endpoint;
mod introspector;

pub(crate) use endpoint::{Endpoint, Expect};
pub(crate) use introspector::{Introspector, Routing};

/// An accepted token is remembered at most this long by default.
pub(crate) const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(300);
/// A refused token is remembered this long by default.
pub(crate) const DEFAULT_INACTIVE_TTL: Duration = Duration::from_secs(30);
/// Introspection verdicts remembered by default.
pub(crate) const DEFAULT_CAPACITY: u64 = 10_000;

/// How the resource server authenticates to the introspection endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientAuth {
    Basic,
    Post,
}

/// Where the endpoint is.
#[derive(Debug, Clone)]
enum Location {
    Fixed(String),
    /// The issuer's `introspection_endpoint` from its discovery / RFC 8414 metadata.
    FromMetadata,
}

/// Token introspection (RFC 7662) for opaque access tokens, given to
/// [`JwtAuth::introspection`](crate::JwtAuth::introspection). Tokens that are not a compact
/// JWS (and match no API-key prefix) are sent to the endpoint; JWTs are still verified locally.
///
/// ```
/// use std::time::Duration;
/// use tower_jwt_auth::{Introspection, JwtAuth};
/// let auth = JwtAuth::new("https://oauth.flip.energy", "utility-api").introspection(
///     Introspection::new("https://oauth.flip.energy/token/introspect", "rs-client", "s3cr3t")
///         .cache_ttl(Duration::from_secs(60)),
/// );
/// assert!(auth.validate().is_ok());
/// assert!(!format!("{auth:?}").contains("s3cr3t"));
/// ```
#[derive(Clone)]
#[must_use = "an `Introspection` does nothing until given to `JwtAuth::introspection` or `Issuer::introspection`"]
pub struct Introspection {
    endpoint: Location,
    client_id: String,
    client_secret: String,
    auth: ClientAuth,
    cache_ttl: Duration,
    inactive_ttl: Duration,
    capacity: u64,
    prefixes: Vec<String>,
}

impl Introspection {
    /// The endpoint at `endpoint` (https, or http to a loopback host), the resource server
    /// authenticating as `client_id` with `client_secret`.
    pub fn new(
        endpoint: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        Self {
            endpoint: Location::Fixed(endpoint.into()),
            ..Self::from_metadata(client_id, client_secret)
        }
    }

    /// The endpoint the issuer publishes as `introspection_endpoint` in its OpenID Connect
    /// discovery or RFC 8414 metadata (looked up on the first opaque token; a failed lookup is
    /// retried on the next).
    ///
    /// ```
    /// use tower_jwt_auth::{Introspection, JwtAuth};
    /// let auth = JwtAuth::new("https://oauth.flip.energy", "utility-api")
    ///     .introspection(Introspection::from_metadata("rs-client", "s3cr3t"));
    /// assert!(auth.validate().is_ok());
    /// ```
    pub fn from_metadata(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self {
            endpoint: Location::FromMetadata,
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            auth: ClientAuth::Basic,
            cache_ttl: DEFAULT_CACHE_TTL,
            inactive_ttl: DEFAULT_INACTIVE_TTL,
            capacity: DEFAULT_CAPACITY,
            prefixes: Vec::new(),
        }
    }

    /// Opaque tokens that begin with `prefix` go to this endpoint, and to no other (the
    /// longest matching prefix of all endpoints wins). Call again for more prefixes.
    ///
    /// The tokens no prefix routes go to the default endpoint: the primary issuer's
    /// ([`JwtAuth::introspection`](crate::JwtAuth::introspection)) when it has no prefix, else
    /// the only endpoint without one; several without one, none of them the primary's, is a
    /// startup error, unless
    /// [`JwtAuth::introspection_in_turn`](crate::JwtAuth::introspection_in_turn) is chosen.
    ///
    /// ```
    /// use tower_jwt_auth::{Introspection, Issuer, JwtAuth};
    /// // Production tokens begin `at_`, sandbox tokens `sbx_`: each goes to its own server.
    /// let auth = JwtAuth::new("https://oauth.flip.energy", "utility-api")
    ///     .introspection(Introspection::from_metadata("rs-client", "s3cr3t").token_prefix("at_"))
    ///     .add_issuer(
    ///         Issuer::new("https://sandbox.oauth.flip.energy").introspection(
    ///             Introspection::from_metadata("rs-client", "s4ndb0x").token_prefix("sbx_"),
    ///         ),
    ///     );
    /// assert!(auth.validate().is_ok());
    /// ```
    pub fn token_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefixes.push(prefix.into());
        self
    }

    /// Sends the client credentials in the form body (`client_secret_post`) instead of HTTP
    /// Basic authentication (`client_secret_basic`, the default).
    pub fn client_secret_post(mut self) -> Self {
        self.auth = ClientAuth::Post;
        self
    }

    /// The longest an accepted token is remembered (it is never remembered past its `exp`).
    /// Defaults to 5 minutes; a token revoked at the issuer stays accepted at most this long.
    /// Zero disables the cache of accepted tokens.
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// How long a refused token (inactive, expired, for another audience) is remembered.
    /// Defaults to 30 s. Zero disables the cache of refused tokens.
    pub fn inactive_cache_ttl(mut self, ttl: Duration) -> Self {
        self.inactive_ttl = ttl;
        self
    }

    /// The most verdicts remembered. Defaults to 10,000.
    pub fn cache_capacity(mut self, entries: u64) -> Self {
        self.capacity = entries;
        self
    }

    /// Checks the settings; the endpoint URL as it will be used.
    pub(crate) fn validate(&self) -> Result<Option<Url>, ConfigError> {
        let error = |reason: String| ConfigError::new("introspection", reason);
        if self.client_id.is_empty() {
            return Err(error("the client_id is empty".into()));
        }
        if let Some(problem) = self
            .prefixes
            .iter()
            .find_map(|p| crate::credential::api_key::prefix_problem(p))
        {
            return Err(error(problem));
        }
        if self.client_id.contains(':') && self.auth == ClientAuth::Basic {
            // Form-encoding makes it safe, but servers differ on decoding it: say so early.
            tracing::debug!("the introspection client_id contains ':' and is form-encoded");
        }
        match &self.endpoint {
            Location::Fixed(url) => parse_url(url)
                .map(Some)
                .map_err(|e| error(format!("the endpoint: {e}"))),
            Location::FromMetadata => Ok(None),
        }
    }
}

impl fmt::Debug for Introspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Introspection")
            .field("endpoint", &self.endpoint)
            .field("client_id", &self.client_id)
            .field("client_secret", &"(redacted)")
            .field("client_auth", &self.auth)
            .field("cache_ttl", &self.cache_ttl)
            .field("inactive_cache_ttl", &self.inactive_ttl)
            .field("cache_capacity", &self.capacity)
            .field("token_prefixes", &self.prefixes)
            .finish()
    }
}
