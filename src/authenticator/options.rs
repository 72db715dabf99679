//! The grouped verification options, each a plain value with its defaults documented field by
//! field: [`TokenRules`] (what a token must satisfy), [`KeyFetching`] (how keys are fetched),
//! [`Caches`] (what is remembered, and for how long) and [`TokenSources`] (where a token may be
//! found besides `Authorization`).
//!
//! Each is given whole to its [`JwtAuth`](crate::JwtAuth) method and checked when the layer is
//! first used; an unusable field is a [`ConfigError`](crate::ConfigError) naming it. Start from
//! `Default::default()` and set what differs:
//!
//! ```
//! use std::time::Duration;
//! use tower_jwt_auth::{Algorithm, Caches, JwtAuth, KeyFetching, TokenRules};
//! let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api")
//!     .token_rules(TokenRules {
//!         leeway: Duration::from_secs(30),
//!         algorithms: vec![Algorithm::ES256, Algorithm::EdDSA],
//!         ..TokenRules::default()
//!     })
//!     .key_fetching(KeyFetching { timeout: Duration::from_secs(5), ..KeyFetching::default() })
//!     .caches(Caches { verified_tokens: 50_000, ..Caches::default() });
//! assert!(auth.validate().is_ok());
//! ```

use std::path::PathBuf;
use std::time::Duration;

use crate::algorithm::Algorithm;

/// What a JWT access token must satisfy beyond its signature and issuer, for every issuer of a
/// layer: set with [`JwtAuth::token_rules`](crate::JwtAuth::token_rules).
///
/// ```
/// use std::time::Duration;
/// use tower_jwt_auth::{JwtAuth, TokenRules};
/// let too_much = JwtAuth::new("https://auth-api.eliq.com", "insights-api")
///     .token_rules(TokenRules { leeway: Duration::from_secs(3600), ..TokenRules::default() });
/// assert_eq!(too_much.validate().unwrap_err().field(), "leeway");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRules {
    /// Clock skew tolerated on `exp`, `nbf` and `iat`. Defaults to 60 s; at most 10 minutes.
    pub leeway: Duration,
    /// The signature algorithms accepted; an [`Issuer`](crate::Issuer) may narrow them for its
    /// own tokens. Defaults to all of [`Algorithm::ALL`]; `none` and `HS*` are never
    /// accepted. Must not be empty.
    pub algorithms: Vec<Algorithm>,
    /// The longest token (and bearer `Authorization` header) read, in bytes; longer ones are
    /// refused with 401 before any decoding. Defaults to 8 KiB; must be more than 0.
    pub max_token_size: usize,
    /// The longest lifetime accepted: `exp − iat`, or without `iat`, `exp` − now. `None` for no
    /// limit. Defaults to 24 h.
    pub max_lifetime: Option<Duration>,
    /// Strict RFC 9068: `typ` must be `at+jwt`, and `client_id`, `iat` and `jti` are required.
    /// Defaults to `false` (`typ` may also be `JWT` or absent, as many providers issue).
    pub strict_rfc9068: bool,
}

impl Default for TokenRules {
    fn default() -> Self {
        Self {
            leeway: Duration::from_secs(60),
            algorithms: Algorithm::ALL.to_vec(),
            max_token_size: 8 * 1024,
            max_lifetime: Some(Duration::from_secs(24 * 3600)),
            strict_rfc9068: false,
        }
    }
}

/// How keys (and discovery documents) are fetched, for every issuer of a layer: set with
/// [`JwtAuth::key_fetching`](crate::JwtAuth::key_fetching).
///
/// ```
/// use std::time::Duration;
/// use tower_jwt_auth::{JwtAuth, KeyFetching};
/// let client = reqwest::Client::builder().timeout(Duration::from_secs(3)).build().unwrap();
/// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api").key_fetching(KeyFetching {
///     http_client: Some(client),
///     unknown_kid_cooldown: Duration::from_secs(5),
///     ..KeyFetching::default()
/// });
/// assert!(auth.validate().is_ok());
/// ```
#[derive(Debug, Clone)]
pub struct KeyFetching {
    /// The HTTP client of every fetch (custom CA, proxy, mTLS); its own timeouts and redirect
    /// policy apply, and so do this value's. Defaults to `None`: a rustls client with
    /// `connect_timeout`, `timeout` and at most 2 redirects, each https (or loopback).
    pub http_client: Option<reqwest::Client>,
    /// The time to connect. Defaults to 5 s; must be more than 0.
    pub connect_timeout: Duration,
    /// The time a whole fetch may take. Defaults to 10 s; must be more than 0.
    pub timeout: Duration,
    /// The longest JWK set or discovery document read, in bytes. Defaults to 256 KiB; must be
    /// more than 0.
    pub max_document_size: usize,
    /// The refetch allowance for tokens whose `kid` the key set lacks: the first refetch goes
    /// out at once, then at most one per `unknown_kid_cooldown`, shared by all requests. Each
    /// refetch that finds no new key doubles the interval, up to 5 minutes; one that finds a
    /// new key resets it. So a key used the moment it is published verifies within the
    /// cooldown, while a flood of invented `kid`s costs about ten fetches in its first ten
    /// minutes and one per five minutes after. Defaults to 1 s.
    pub unknown_kid_cooldown: Duration,
    /// How long a request whose `kid` the loaded key set lacks waits for the refetch it
    /// started or joined before it is answered 401. A `kid` that a refetch already looked for
    /// in vain is answered at once; requests with known `kid`s never wait. Defaults to 1 s.
    pub unknown_kid_wait: Duration,
    /// How long a request with no usable key set (a cold start) waits for keys before it is
    /// answered 503 with `Retry-After`. Defaults to 5 s.
    pub key_wait_budget: Duration,
}

impl Default for KeyFetching {
    fn default() -> Self {
        Self {
            http_client: None,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            max_document_size: 256 * 1024,
            unknown_kid_cooldown: Duration::from_secs(1),
            unknown_kid_wait: Duration::from_secs(1),
            key_wait_budget: Duration::from_secs(5),
        }
    }
}

/// What a layer remembers, and for how long: set with
/// [`JwtAuth::caches`](crate::JwtAuth::caches). (An introspection endpoint's verdicts are
/// [`Introspection`](crate::Introspection)'s own.)
///
/// ```
/// use std::time::Duration;
/// use tower_jwt_auth::{Caches, JwtAuth};
/// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api").caches(Caches {
///     jwks_file: Some(std::env::temp_dir().join("insights-api-jwks.json")),
///     jwks_max_stale: Duration::from_secs(6 * 3600),
///     ..Caches::default()
/// });
/// assert!(auth.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caches {
    /// How many verified tokens to remember, by whole token string; 0 turns the cache off. A
    /// hit skips signature and claim validation but not the `exp`/`nbf` check against the
    /// clock, nor the scopes and `sub_type` a route requires; a refresh that removes a key
    /// voids every earlier verdict. Defaults to 10,000.
    pub verified_tokens: u64,
    /// The lifetime of a fetched key set whose response has no `Cache-Control: max-age`.
    /// Defaults to 15 minutes.
    pub jwks_ttl: Duration,
    /// The least lifetime a `max-age` can give a key set. Defaults to 5 minutes; at most
    /// `jwks_ttl_ceiling`.
    pub jwks_ttl_floor: Duration,
    /// The longest lifetime a `max-age` can give a key set. Defaults to 24 h.
    pub jwks_ttl_ceiling: Duration,
    /// How long past its expiry a key set keeps serving while refreshes fail. Defaults to
    /// 24 h.
    pub jwks_max_stale: Duration,
    /// A file keeping a copy of the last good key set: written atomically after each
    /// successful load, read when the layer is first used, so that an instance restarted while
    /// the provider is down serves at once. The copy is used only by the same issuer and key
    /// source, and only within `jwks_max_stale` of its expiry; a corrupt or foreign file is
    /// ignored with a warning. The file holds public keys only. Defaults to `None`; must not
    /// be an empty path.
    pub jwks_file: Option<PathBuf>,
}

impl Default for Caches {
    fn default() -> Self {
        Self {
            verified_tokens: 10_000,
            jwks_ttl: Duration::from_secs(15 * 60),
            jwks_ttl_floor: Duration::from_secs(5 * 60),
            jwks_ttl_ceiling: Duration::from_secs(24 * 3600),
            jwks_max_stale: Duration::from_secs(24 * 3600),
            jwks_file: None,
        }
    }
}

/// Where else a layer takes the token from when the request has no `Authorization: Bearer`
/// header (which wins when both are present): set with
/// [`JwtAuth::token_sources`](crate::JwtAuth::token_sources). The query string is never read.
///
/// **CSRF**: a browser sends cookies with requests that other sites cause. Set the cookie
/// `SameSite=Strict` (or `Lax`), `Secure` and `HttpOnly`, and do not accept it on routes that
/// change state without a CSRF defence of their own (an anti-forgery token, or checking
/// `Origin`); an `Authorization` header cannot be forged this way, which is why it stays the
/// default and the only source unless you add one.
///
/// ```
/// use tower_jwt_auth::{JwtAuth, TokenSources};
/// let browser = JwtAuth::new("https://auth-api.eliq.com", "insights-api").token_sources(TokenSources {
///     cookie: Some("__Host-access_token".into()),
///     ..TokenSources::default()
/// });
/// assert!(browser.validate().is_ok());
/// let behind_gateway = JwtAuth::new("https://auth-api.eliq.com", "insights-api")
///     .token_sources(TokenSources { header: Some("x-access-token".into()), cookie: None });
/// assert!(behind_gateway.validate().is_ok());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenSources {
    /// A header whose whole value is the token (an optional `Bearer ` prefix removed), for
    /// gateways that forward it elsewhere (`X-Access-Token`). Defaults to `None`; must be a
    /// header name other than `Cookie`.
    pub header: Option<String>,
    /// A cookie whose value is the token, for same-site browser front-ends. Defaults to `None`;
    /// must be an RFC 6265 cookie name.
    pub cookie: Option<String>,
}
