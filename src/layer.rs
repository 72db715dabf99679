//! [`JwtAuth`]: the configuration, its builder methods, and the tower [`Layer`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Response;
use serde::de::DeserializeOwned;
use tower_layer::Layer;

use crate::claims::{AccessClaims, Claims};
use crate::clock::{Clock, SystemClock};
use crate::error::{AuthError, AuthErrorKind, ConfigError};
use crate::header::Algorithm;
use crate::jwks::fetch::{parse_url, FetchLimits, Fetcher};
use crate::jwks::{keys, CachePolicy, KeySet, KeySetInfo, KeySource, Origin};
use crate::policy::Policy;
use crate::response::{RejectFn, Responder};
use crate::service::JwtAuthService;
use crate::token::DEFAULT_MAX_HEADER_BYTES;
use crate::verifier::{Rules, Verifier};

/// Protects a service with OAuth 2.0 JWT access tokens of one issuer, for one audience.
///
/// A tower [`Layer`] for axum routers and tonic servers, and a verifier of its own
/// ([`JwtAuth::verify`]) for code outside tower. Cheap to clone: clones share the key cache.
///
/// ```
/// use axum::{routing::get, Router};
/// use tower_jwt_auth::{Claims, JwtAuth};
///
/// async fn usage(claims: Claims) -> String {
///     claims.sub.clone()
/// }
///
/// let app: Router = Router::new()
///     .route("/usage", get(usage))
///     .layer(JwtAuth::new("https://auth-api.eliq.com", "insights-api")
///         .require_scopes(["insights.read"])
///         .require_sub_type("user"));
/// ```
///
/// Every builder method documents its default; most services need none of them:
///
/// ```
/// use std::time::Duration;
/// use tower_jwt_auth::{Algorithm, JwtAuth};
///
/// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api")
///     .require_scopes(["insights.read"])
///     .leeway(Duration::from_secs(30))                  // default 60 s
///     .algorithms([Algorithm::RS256, Algorithm::PS256]) // default: all asymmetric ones
///     .max_lifetime(Some(Duration::from_secs(3600)))    // default 24 h
///     .unknown_kid_cooldown(Duration::from_secs(60))    // default 30 s
///     .key_wait_budget(Duration::from_secs(2))          // default 5 s
///     .verified_token_cache(50_000);                    // default 10,000; 0 turns it off
/// assert!(auth.config_error().is_none());
/// ```
///
/// Every builder method documents its default. A value that cannot work (say an `http://`
/// issuer that is not loopback) does not panic: [`JwtAuth::config_error`] reports it,
/// [`JwtAuth::ready`] fails with it, and requests get 500 with an error event naming the field.
/// [`JwtAuth::try_new`] reports a bad issuer or audience at once.
pub struct JwtAuth<C = AccessClaims> {
    config: Arc<Config>,
    shared: Arc<Shared<C>>,
}

impl<C> Clone for JwtAuth<C> {
    fn clone(&self) -> Self {
        Self {
            config: Arc::clone(&self.config),
            shared: Arc::clone(&self.shared),
        }
    }
}

#[derive(Clone)]
struct Config {
    issuer: String,
    audience: String,
    leeway: Duration,
    max_header_bytes: usize,
    max_lifetime: Option<Duration>,
    strict_rfc9068: bool,
    algorithms: [bool; 9],
    policy: Policy,
    jwks_uri: Option<String>,
    fixed_jwks: Option<String>,
    pem_keys: Vec<(String, Algorithm, String)>,
    http_client: Option<reqwest::Client>,
    fetch: FetchLimits,
    cache: CachePolicy,
    clock: Arc<dyn Clock>,
    on_reject: Option<Arc<RejectFn>>,
    token_cache: u64,
    error: Option<ConfigError>,
}

/// What the services share: built from a [`Config`].
pub(crate) struct Shared<C> {
    pub(crate) verifier: Verifier<C>,
    pub(crate) policy: Policy,
    pub(crate) responder: Responder,
    pub(crate) max_header_bytes: usize,
    pub(crate) error: Option<ConfigError>,
}

impl<C> Shared<C> {
    /// The response for a refusal, with its log event.
    pub(crate) fn reject(&self, error: &AuthError, grpc: bool) -> Response<Bytes> {
        let status = crate::response::outcome(error.kind()).status;
        if status.is_server_error() {
            if error.kind() == AuthErrorKind::KeysUnavailable {
                tracing::warn!(kind = ?error.kind(), error = %error, source = ?std::error::Error::source(error).map(ToString::to_string), "request refused: no signing keys");
            } else {
                tracing::error!(kind = ?error.kind(), source = ?std::error::Error::source(error).map(ToString::to_string), "request refused: misconfigured");
            }
        } else {
            tracing::info!(kind = ?error.kind(), reason = error.description(), "bearer token refused");
        }
        self.responder.respond(error, grpc)
    }

    /// The verdict on a token: its verification result with the layer's policy (scopes,
    /// `sub_type`) applied on top. The one place both are combined.
    pub(crate) fn admit(
        &self,
        verified: Result<Claims<C>, AuthError>,
    ) -> Result<Claims<C>, AuthError> {
        let claims = verified?;
        self.policy.check(claims.grant())?;
        Ok(claims)
    }

    pub(crate) fn config_failure(&self) -> Option<AuthError> {
        self.error
            .as_ref()
            .map(|e| AuthError::new(AuthErrorKind::Misconfigured).with_source(e.clone()))
    }
}

impl JwtAuth<AccessClaims> {
    /// Accepts tokens whose `iss` is exactly `issuer` and whose `aud` contains `audience`.
    ///
    /// Keys are found by OpenID Connect discovery at
    /// `{issuer}/.well-known/openid-configuration` on first use. The issuer must be `https`,
    /// except for loopback hosts (127.0.0.0/8, `::1`, `localhost`).
    ///
    /// ```
    /// use tower_jwt_auth::JwtAuth;
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api");
    /// assert_eq!(auth.issuer(), "https://auth-api.eliq.com");
    /// ```
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        let mut config = Config {
            issuer: issuer.into(),
            audience: audience.into(),
            leeway: Duration::from_secs(60),
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            max_lifetime: Some(Duration::from_secs(24 * 3600)),
            strict_rfc9068: false,
            algorithms: [true; 9],
            policy: Policy::default(),
            jwks_uri: None,
            fixed_jwks: None,
            pem_keys: Vec::new(),
            http_client: None,
            fetch: FetchLimits::default(),
            cache: CachePolicy::default(),
            clock: Arc::new(SystemClock),
            on_reject: None,
            token_cache: 10_000,
            error: None,
        };
        if let Err(e) = parse_url(&config.issuer) {
            config.error = Some(ConfigError::new("issuer", e));
        } else if config.audience.is_empty() {
            config.error = Some(ConfigError::new("audience", "must not be empty"));
        }
        Self::build(config)
    }

    /// Like [`JwtAuth::new`], reporting an unusable issuer or audience.
    ///
    /// # Errors
    /// A [`ConfigError`] for field `issuer` (not a URL, or not https/loopback) or `audience`
    /// (empty).
    ///
    /// ```
    /// use tower_jwt_auth::JwtAuth;
    /// let auth = JwtAuth::try_new("https://auth-api.eliq.com", "insights-api")?;
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    pub fn try_new(
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Result<Self, ConfigError> {
        let auth = Self::new(issuer, audience);
        match auth.config_error() {
            Some(e) => Err(e.clone()),
            None => Ok(auth),
        }
    }
}

impl<C> JwtAuth<C>
where
    C: DeserializeOwned + Send + Sync + 'static,
{
    fn build(config: Config) -> Self {
        let mut error = config.error.clone();
        let allowed = config.algorithms;
        let mut fixed = None;
        let origin = if config.fixed_jwks.is_some() || !config.pem_keys.is_empty() {
            let mut keys = Vec::new();
            if let Some(json) = &config.fixed_jwks {
                match keys::parse_set(json.as_bytes(), &allowed) {
                    Ok((parsed, skipped)) => {
                        for s in skipped {
                            tracing::warn!(kid = s.kid.as_deref().unwrap_or("(none)"), reason = %s.reason, "configured JWK skipped");
                        }
                        keys.extend(parsed);
                    }
                    Err(e) => {
                        error.get_or_insert(ConfigError::new("jwks", e));
                    }
                }
            }
            for (kid, alg, pem) in &config.pem_keys {
                if !allowed[alg.index()] {
                    error.get_or_insert(ConfigError::new(
                        "pem_key",
                        format!("{alg} is not an allowed algorithm"),
                    ));
                    continue;
                }
                match keys::from_pem(kid, *alg, pem) {
                    Ok(key) => keys.push(key),
                    Err(e) => {
                        error.get_or_insert(ConfigError::new(
                            "pem_key",
                            format!("key {kid:?}: {e}"),
                        ));
                    }
                }
            }
            if keys.is_empty() {
                let field = if config.fixed_jwks.is_some() {
                    "jwks"
                } else {
                    "pem_key"
                };
                error.get_or_insert(ConfigError::new(field, "no usable key"));
            }
            fixed = Some(KeySet::fixed(keys));
            Origin::Fixed
        } else if let Some(uri) = &config.jwks_uri {
            match parse_url(uri) {
                Ok(url) => Origin::JwksUri(url),
                Err(e) => {
                    error.get_or_insert(ConfigError::new("jwks_uri", e));
                    Origin::Fixed
                }
            }
        } else {
            match parse_url(&config.issuer) {
                Ok(issuer_url) => Origin::Discovery {
                    issuer: config.issuer.clone(),
                    issuer_url,
                },
                Err(_) => Origin::Fixed,
            }
        };
        let keys = Arc::new(KeySource::new(
            origin,
            Fetcher::new(config.fetch.clone(), config.http_client.clone()),
            Arc::clone(&config.clock),
            config.cache.clone(),
            allowed,
            fixed,
        ));
        let responder = match &config.on_reject {
            Some(f) => Responder::Custom(Arc::clone(f)),
            None => Responder::Default {
                realm: Arc::from(config.audience.as_str()),
            },
        };
        let rules = Rules {
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            leeway: config.leeway.as_secs(),
            max_token_bytes: config.max_header_bytes,
            max_lifetime: config.max_lifetime.map(|d| d.as_secs()),
            strict_rfc9068: config.strict_rfc9068,
            allowed,
        };
        let shared = Shared {
            verifier: Verifier::new(rules, keys, responder.clone(), config.token_cache),
            policy: config.policy.clone(),
            responder,
            max_header_bytes: config.max_header_bytes,
            error,
        };
        Self {
            config: Arc::new(config),
            shared: Arc::new(shared),
        }
    }

    fn with(self, f: impl FnOnce(&mut Config)) -> Self {
        let mut config = Arc::unwrap_or_clone(self.config);
        f(&mut config);
        Self::build(config)
    }

    fn fail(config: &mut Config, error: ConfigError) {
        config.error.get_or_insert(error);
    }

    /// Uses the application's own claims type `T` (any `DeserializeOwned`), handed to handlers
    /// as `Claims<T>`. The registered claims are validated all the same.
    ///
    /// ```
    /// use serde::Deserialize;
    /// use tower_jwt_auth::JwtAuth;
    ///
    /// #[derive(Deserialize)]
    /// struct MyClaims { sub: String, tenant: String }
    ///
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api").with_claims::<MyClaims>();
    /// ```
    pub fn with_claims<T: DeserializeOwned + Send + Sync + 'static>(self) -> JwtAuth<T> {
        JwtAuth::<T>::build(Arc::unwrap_or_clone(self.config))
    }

    /// Requires every one of these scopes, from `scope` or `scp` (exact, case-sensitive), or
    /// answers 403 `insufficient_scope`. Adds to scopes required before. Defaults to none.
    ///
    /// ```
    /// use tower_jwt_auth::JwtAuth;
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api").require_scopes(["insights.read", "insights.write"]);
    /// ```
    pub fn require_scopes<I, S>(self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.with(|c| {
            if let Err(e) = c.policy.add_scopes("require_scopes", scopes) {
                Self::fail(c, e);
            }
        })
    }

    /// Requires the `sub_type` claim to be `sub_type` (e.g. `"user"`: delegated tokens only), or
    /// answers 403 `insufficient_scope`. Defaults to any or none.
    ///
    /// ```
    /// use tower_jwt_auth::JwtAuth;
    /// let delegated_only = JwtAuth::new("https://auth-api.eliq.com", "insights-api").require_sub_type("user");
    /// ```
    pub fn require_sub_type(self, sub_type: impl Into<String>) -> Self {
        self.with(|c| {
            if let Err(e) = c.policy.set_sub_type("require_sub_type", sub_type.into()) {
                Self::fail(c, e);
            }
        })
    }

    /// Clock skew tolerated on `exp`, `nbf` and `iat`. Defaults to 60 s. At most 10 minutes.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_jwt_auth::JwtAuth;
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api").leeway(Duration::from_secs(30));
    /// assert!(auth.config_error().is_none());
    /// let too_much = JwtAuth::new("https://auth-api.eliq.com", "insights-api").leeway(Duration::from_secs(3600));
    /// assert_eq!(too_much.config_error().unwrap().field(), "leeway");
    /// ```
    pub fn leeway(self, leeway: Duration) -> Self {
        self.with(|c| {
            if leeway > Duration::from_secs(600) {
                Self::fail(c, ConfigError::new("leeway", "must be at most 10 minutes"));
            } else {
                c.leeway = leeway;
            }
        })
    }

    /// The signature algorithms accepted. Defaults to all of [`Algorithm::ALL`]; `none` and
    /// `HS*` are never accepted.
    ///
    /// ```
    /// use tower_jwt_auth::{Algorithm, JwtAuth};
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api")
    ///     .algorithms([Algorithm::ES256, Algorithm::EdDSA]);
    /// ```
    pub fn algorithms(self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.with(|c| {
            let mut allowed = [false; 9];
            for a in algorithms {
                allowed[a.index()] = true;
            }
            if allowed.iter().any(|a| *a) {
                c.algorithms = allowed;
            } else {
                Self::fail(
                    c,
                    ConfigError::new("algorithms", "at least one algorithm is required"),
                );
            }
        })
    }

    /// The longest `Authorization` header (and token) read, in bytes. Longer ones are refused
    /// with 401 before any decoding. Defaults to 8 KiB.
    ///
    /// ```
    /// use tower_jwt_auth::JwtAuth;
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api").max_token_size(4 * 1024);
    /// ```
    pub fn max_token_size(self, bytes: usize) -> Self {
        self.with(|c| c.max_header_bytes = bytes)
    }

    /// The longest lifetime (`exp - iat`) accepted, or `None` for no limit. Defaults to 24 h.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_jwt_auth::JwtAuth;
    /// let hour_at_most = JwtAuth::new("https://auth-api.eliq.com", "insights-api").max_lifetime(Some(Duration::from_secs(3600)));
    /// ```
    pub fn max_lifetime(self, max: Option<Duration>) -> Self {
        self.with(|c| c.max_lifetime = max)
    }

    /// Strict RFC 9068: `typ` must be `at+jwt`, and `client_id`, `iat` and `jti` are required.
    /// Defaults to off (`typ` may also be `JWT` or absent, as many providers issue).
    ///
    /// ```
    /// use tower_jwt_auth::JwtAuth;
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api").strict_rfc9068();
    /// ```
    pub fn strict_rfc9068(self) -> Self {
        self.with(|c| c.strict_rfc9068 = true)
    }

    /// Fetches keys from this JWK set URL instead of discovering it. Defaults to discovery.
    ///
    /// ```
    /// use tower_jwt_auth::JwtAuth;
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api").jwks_uri("https://auth-api.eliq.com/.well-known/jwks.json");
    /// assert!(auth.config_error().is_none());
    /// ```
    pub fn jwks_uri(self, uri: impl Into<String>) -> Self {
        self.with(|c| c.jwks_uri = Some(uri.into()))
    }

    /// Uses these keys (a JWK set document) and never fetches any. Defaults to discovery.
    ///
    /// ```
    /// use tower_jwt_auth::JwtAuth;
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api")
    ///     .jwks(r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#);
    /// assert!(auth.config_error().is_none());
    /// ```
    pub fn jwks(self, jwk_set_json: impl Into<String>) -> Self {
        self.with(|c| c.fixed_jwks = Some(jwk_set_json.into()))
    }

    /// Adds a fixed public key in PEM (`PUBLIC KEY` or `RSA PUBLIC KEY`) for one algorithm,
    /// under `kid`; tokens without a `kid` use it when it is the only key for their algorithm.
    /// With fixed keys nothing is ever fetched. Defaults to none (discovery).
    ///
    /// ```
    /// use tower_jwt_auth::{Algorithm, JwtAuth};
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api").pem_key(
    ///     "k1",
    ///     Algorithm::EdDSA,
    ///     "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n-----END PUBLIC KEY-----\n",
    /// );
    /// assert!(auth.config_error().is_none());
    /// ```
    pub fn pem_key(self, kid: impl Into<String>, alg: Algorithm, pem: impl Into<String>) -> Self {
        self.with(|c| c.pem_keys.push((kid.into(), alg, pem.into())))
    }

    /// The key set in use, if one is loaded: its `kid`s and timetable. For health endpoints and
    /// diagnostics; never key material.
    ///
    /// ```
    /// use tower_jwt_auth::JwtAuth;
    /// // Nothing is fetched before the first request or `ready()`.
    /// assert!(JwtAuth::new("https://auth-api.eliq.com", "insights-api").key_set().is_none());
    /// ```
    pub fn key_set(&self) -> Option<KeySetInfo> {
        self.shared.verifier.keys().info()
    }

    /// Uses this HTTP client for every fetch (custom CA, proxy, mTLS). Its own timeouts and
    /// redirect policy apply; the total timeout and size cap of this layer apply as well.
    /// Defaults to a rustls client with a 5 s connect timeout, a 10 s total timeout and at most 2
    /// redirects, each https (or loopback).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_jwt_auth::JwtAuth;
    /// let client = reqwest::Client::builder().timeout(Duration::from_secs(3)).build().unwrap();
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api").http_client(client);
    /// ```
    pub fn http_client(self, client: reqwest::Client) -> Self {
        self.with(|c| c.http_client = Some(client))
    }

    /// Timeouts of every fetch. Defaults to 5 s to connect and 10 s in all.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_jwt_auth::JwtAuth;
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api").fetch_timeouts(Duration::from_secs(2), Duration::from_secs(5));
    /// ```
    pub fn fetch_timeouts(self, connect: Duration, total: Duration) -> Self {
        self.with(|c| {
            c.fetch.connect_timeout = connect;
            c.fetch.total_timeout = total;
        })
    }

    /// The longest JWK set or discovery document read, in bytes. Defaults to 256 KiB.
    ///
    /// ```
    /// use tower_jwt_auth::JwtAuth;
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api").max_jwks_size(64 * 1024);
    /// ```
    pub fn max_jwks_size(self, bytes: usize) -> Self {
        self.with(|c| c.fetch.max_bytes = bytes)
    }

    /// Lifetime of a fetched key set when the response has no `Cache-Control: max-age`, and
    /// the range `max-age` is clamped to. Defaults to 15 min, within [5 min, 24 h].
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_jwt_auth::JwtAuth;
    /// let min = Duration::from_secs(60);
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api").jwks_cache_ttl(10 * min, 5 * min, 60 * min);
    /// assert!(auth.config_error().is_none());
    /// ```
    pub fn jwks_cache_ttl(self, default: Duration, floor: Duration, ceiling: Duration) -> Self {
        self.with(|c| {
            if floor > ceiling {
                Self::fail(
                    c,
                    ConfigError::new("jwks_cache_ttl", "the floor is above the ceiling"),
                );
            } else {
                c.cache.ttl_default = default;
                c.cache.ttl_floor = floor;
                c.cache.ttl_ceiling = ceiling;
            }
        })
    }

    /// How long past its expiry a key set keeps serving while refreshes fail. Defaults to 24 h.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_jwt_auth::JwtAuth;
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api").max_stale(Duration::from_secs(6 * 3600));
    /// ```
    pub fn max_stale(self, max_stale: Duration) -> Self {
        self.with(|c| c.cache.max_stale = max_stale)
    }

    /// At most one refetch per this interval for tokens with an unknown `kid`. Defaults to 30 s.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_jwt_auth::JwtAuth;
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api").unknown_kid_cooldown(Duration::from_secs(60));
    /// ```
    pub fn unknown_kid_cooldown(self, cooldown: Duration) -> Self {
        self.with(|c| c.cache.unknown_kid_cooldown = cooldown)
    }

    /// How long a request waits for keys before it is answered 503. Defaults to 5 s.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_jwt_auth::JwtAuth;
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api").key_wait_budget(Duration::from_secs(1));
    /// ```
    pub fn key_wait_budget(self, budget: Duration) -> Self {
        self.with(|c| c.cache.wait_budget = budget)
    }

    /// The clock for `exp`/`nbf`/`iat` and the key cache. Defaults to [`SystemClock`]; tests
    /// use [`ManualClock`](crate::ManualClock).
    ///
    /// ```
    /// use tower_jwt_auth::{JwtAuth, ManualClock};
    /// let clock = ManualClock::new(1_800_000_000);
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api").clock(clock.clone());
    /// // tests move `clock` forward instead of sleeping
    /// ```
    pub fn clock(self, clock: impl Clock) -> Self {
        self.with(|c| c.clock = Arc::new(clock))
    }

    /// Replaces the refusal response. The closure gets the error (its kind, fixed description,
    /// required scope, retry delay); the error is also put in the response's extensions.
    /// Defaults to the RFC 6750 response (see [`default_response`](crate::default_response)).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use http::{Response, StatusCode};
    /// use tower_jwt_auth::JwtAuth;
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api").on_reject(|err| {
    ///     let mut res = Response::new(Bytes::from(format!("denied: {}", err.description())));
    ///     *res.status_mut() = StatusCode::UNAUTHORIZED;
    ///     res
    /// });
    /// ```
    pub fn on_reject<F>(self, f: F) -> Self
    where
        F: Fn(&AuthError) -> Response<Bytes> + Send + Sync + 'static,
    {
        self.with(|c| c.on_reject = Some(Arc::new(f)))
    }

    /// How many verified tokens to remember, by whole token string; 0 turns the cache off.
    /// A hit skips signature and claim validation but not the `exp`/`nbf` check against the
    /// clock, nor the scopes and `sub_type` a route requires; a refresh that removes a key voids
    /// every earlier verdict. Defaults to 10,000.
    ///
    /// ```
    /// use tower_jwt_auth::JwtAuth;
    /// let no_cache = JwtAuth::new("https://auth-api.eliq.com", "insights-api").verified_token_cache(0);
    /// ```
    pub fn verified_token_cache(self, max_entries: u64) -> Self {
        self.with(|c| c.token_cache = max_entries)
    }

    /// The first unusable configuration value, if any.
    ///
    /// ```
    /// use tower_jwt_auth::JwtAuth;
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api").require_scopes(["not a scope"]);
    /// assert_eq!(auth.config_error().unwrap().field(), "require_scopes");
    /// ```
    pub fn config_error(&self) -> Option<&ConfigError> {
        self.shared.error.as_ref()
    }

    /// The configured issuer.
    ///
    /// ```
    /// use tower_jwt_auth::JwtAuth;
    /// assert_eq!(JwtAuth::new("https://auth-api.eliq.com", "insights-api").issuer(), "https://auth-api.eliq.com");
    /// ```
    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    /// The configured audience.
    ///
    /// ```
    /// use tower_jwt_auth::JwtAuth;
    /// assert_eq!(JwtAuth::new("https://auth-api.eliq.com", "insights-api").audience(), "insights-api");
    /// ```
    pub fn audience(&self) -> &str {
        &self.config.audience
    }

    /// Verifies a token as the layer would, policy included (scopes, `sub_type`): for code
    /// outside tower (WebSocket upgrades, jobs).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use tower_jwt_auth::{testing::TestIssuer, JwtAuth};
    /// let issuer = TestIssuer::start().await;
    /// let auth = JwtAuth::new(issuer.url(), "insights-api").require_sub_type("user");
    /// let token = issuer.token().sub("user-1042").sub_type("user").sign();
    /// let claims = auth.verify(&token).await.unwrap();
    /// assert_eq!(claims.sub, "user-1042");
    /// # }
    /// ```
    ///
    /// # Errors
    /// The [`AuthError`] the layer would have answered with.
    pub async fn verify(&self, token: &str) -> Result<Claims<C>, AuthError> {
        let shared = &self.shared;
        if let Some(e) = shared.config_failure() {
            return Err(e);
        }
        shared.admit(shared.verifier.verify(token).await)
    }

    /// Loads the keys now (discovery and JWK set) and reports failure, for services that want
    /// to fail fast at startup. Without it, keys are loaded on first use.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use tower_jwt_auth::{testing::TestIssuer, JwtAuth};
    /// let issuer = TestIssuer::start().await;
    /// JwtAuth::new(issuer.url(), "insights-api").ready().await.expect("keys load");
    /// assert_eq!(issuer.jwks_requests(), 1);
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`AuthErrorKind::Misconfigured`] with the [`ConfigError`] as source, or
    /// [`AuthErrorKind::KeysUnavailable`] with the fetch failure as source.
    pub async fn ready(&self) -> Result<(), AuthError> {
        if let Some(e) = self.shared.config_failure() {
            return Err(e);
        }
        self.shared.verifier.keys().load_now().await.map(|_| ())
    }
}

impl<C> fmt::Debug for JwtAuth<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        f.debug_struct("JwtAuth")
            .field("issuer", &c.issuer)
            .field("audience", &c.audience)
            .field("leeway", &c.leeway)
            .field("policy", &c.policy)
            .field("jwks_uri", &c.jwks_uri)
            .field("fixed_jwks", &c.fixed_jwks.as_ref().map(|_| "(configured)"))
            .field("error", &c.error)
            .finish_non_exhaustive()
    }
}

impl<S, C> Layer<S> for JwtAuth<C> {
    type Service = JwtAuthService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        JwtAuthService::new(inner, Arc::clone(&self.shared))
    }
}
