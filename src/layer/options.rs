//! The verification options of [`JwtAuth`]: claim rules, keys, fetching, caching, time. Each
//! makes a new configuration (validated when the layer is first used); the policy methods are
//! in `layer.rs`.

use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::algorithm::Algorithm;
use crate::clock::Clock;
use crate::credential::api_key::{ApiKeyValidator, DynValidator};
use crate::introspection::Introspection;
use crate::issuer::Issuer;
use crate::issuer::PemKey;
use crate::layer::JwtAuth;
use crate::metadata::ResourceMetadata;

impl<C> JwtAuth<C>
where
    C: DeserializeOwned + Send + Sync + 'static,
{
    /// Trusts another issuer beside the primary one: another environment, a legacy
    /// authentication kept while clients migrate, or a template of tenants. A `&str` or
    /// `String` is an issuer with the layer's audience and rules; an [`Issuer`] has settings of
    /// its own. A token's unverified `iss` picks the issuer by exact match (then templates, then
    /// the [`issuer_resolver`](JwtAuth::issuer_resolver)), and the token is verified only with
    /// that issuer's keys; each issuer has its own key set, timetable and outage handling.
    ///
    /// ```
    /// use tower_jwt_auth::{Issuer, JwtAuth};
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api")
    ///     .add_issuer("https://auth-api-uat.eliq.com")
    ///     .add_issuer(Issuer::new("https://legacy-auth.eliq.com").audience("insights"));
    /// assert!(auth.config_error().is_none());
    /// ```
    pub fn add_issuer(self, issuer: impl Into<Issuer>) -> Self {
        let issuer = issuer.into();
        self.configure(|c| c.issuers.push(issuer))
    }

    /// Trusts issuers decided at run time, for tenants that come and go: called with a token's
    /// `iss` when no configured issuer matches; `Some(Issuer::new(iss))` (with its own settings
    /// if needed, and the same URL) trusts it. Answers, both ways, are remembered for 10 minutes
    /// in a cache of 10,000 entries, so a flood of invented `iss` values costs neither unbounded
    /// memory nor a call per request. A resolved issuer's keys load on first use.
    ///
    /// ```
    /// use std::collections::HashSet;
    /// use tower_jwt_auth::{Issuer, JwtAuth};
    /// let tenants: HashSet<String> = ["https://idp.example/t-1".to_owned()].into();
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api")
    ///     .issuer_resolver(move |iss: &str| tenants.contains(iss).then(|| Issuer::new(iss)));
    /// ```
    pub fn issuer_resolver<F>(self, resolver: F) -> Self
    where
        F: Fn(&str) -> Option<Issuer> + Send + Sync + 'static,
    {
        self.configure(|c| c.resolver = Some(Arc::new(resolver)))
    }

    /// Accepts opaque access tokens: a bearer token that is not a compact JWS (and matches no
    /// [`api_keys`](JwtAuth::api_keys) prefix) is judged by the issuer's introspection
    /// endpoint (RFC 7662), its verdicts cached. Without it, such a token is 401
    /// `invalid_token`. The response's `iss` (when present) must be the primary issuer and its
    /// `aud` (when present) must name the audience. See [`Introspection`]; other issuers take
    /// theirs with [`Issuer::introspection`].
    ///
    /// ```
    /// use tower_jwt_auth::{Introspection, JwtAuth};
    /// let auth = JwtAuth::new("https://oauth.flip.energy", "utility-api").introspection(
    ///     Introspection::new("https://oauth.flip.energy/token/introspect", "rs-client", "s3cr3t"));
    /// assert!(auth.config_error().is_none());
    /// ```
    pub fn introspection(self, introspection: Introspection) -> Self {
        self.configure(|c| c.primary.introspection = Some(introspection))
    }

    /// Shows an opaque token that no [`Introspection::token_prefix`] routes to every
    /// introspection endpoint without a prefix, in turn (the primary issuer's first), until one
    /// reports it active — instead of to the one default endpoint.
    ///
    /// **This discloses every caller's token to every one of those servers**: each sees the
    /// tokens the others issued and could replay them against this service or elsewhere, and
    /// tenants see each other's callers. Choose it only when every endpoint is run by one
    /// party you trust with all of them; otherwise give each endpoint a token prefix.
    ///
    /// ```
    /// use tower_jwt_auth::{Introspection, Issuer, JwtAuth};
    /// let auth = JwtAuth::new("https://oauth.flip.energy", "utility-api")
    ///     .introspection(Introspection::from_metadata("rs-client", "s3cr3t"))
    ///     .add_issuer(Issuer::new("https://oauth2.flip.energy")
    ///         .introspection(Introspection::from_metadata("rs-client", "s3cr3t")))
    ///     .introspection_in_turn();
    /// assert!(auth.config_error().is_none());
    /// ```
    pub fn introspection_in_turn(self) -> Self {
        self.configure(|c| c.introspection_in_turn = true)
    }

    /// Accepts API keys that begin with `prefix` (`fl_`) in the same `Authorization: Bearer`
    /// header, judged by `validator` ([`ApiKeyStore`](crate::ApiKeyStore), your own
    /// [`ApiKeyValidator`], or an [`ApiKeyFn`](crate::ApiKeyFn)). Routing is by prefix, before
    /// any parsing; with several prefixes the longest that matches wins. A key the validator
    /// does not know is 401 `invalid_token`; a failure of the validator itself is 503.
    ///
    /// A prefix that is empty, configured twice, has characters a token cannot have, or would
    /// capture JWTs (`e`, `ey`, `eyJ…`) is a configuration error (field `api_keys`).
    ///
    /// ```
    /// use tower_jwt_auth::{ApiKeyGrant, ApiKeyStore, JwtAuth};
    /// let keys = ApiKeyStore::new();
    /// keys.insert("fl_live_0123456789abcdef", ApiKeyGrant::new("org-42").scopes(["insights.read"]));
    /// let auth = JwtAuth::new("https://oauth.flip.energy", "utility-api")
    ///     .api_keys("fl_", keys)
    ///     .require_scopes(["insights.read"]); // for tokens and keys alike
    /// assert!(auth.config_error().is_none());
    /// ```
    pub fn api_keys(self, prefix: impl Into<String>, validator: impl ApiKeyValidator) -> Self {
        let prefix = prefix.into();
        let validator: Arc<dyn DynValidator> = Arc::new(validator);
        self.configure(|c| c.api_keys.add(prefix, validator))
    }

    /// Publishes OAuth 2.0 Protected Resource Metadata (RFC 9728) for this resource: serve it
    /// with [`metadata_service`](JwtAuth::metadata_service) at
    /// [`metadata_path`](JwtAuth::metadata_path), outside the layer. Every challenge of the
    /// layer (and of per-route [`RequireScopes`](crate::RequireScopes)) then carries
    /// `resource_metadata="<the document's URL>"` (RFC 9728 §5.1), which is how MCP clients
    /// find the authorization server, and a per-route requirement's 403 names every scope the
    /// route needs (the layer's and its own), so that a client stepping up asks for all of
    /// them. The resource must equal the audience (field `resource_metadata`).
    ///
    /// ```
    /// use tower_jwt_auth::{JwtAuth, ResourceMetadata};
    /// let auth = JwtAuth::new("https://auth.example.com", "https://mcp.example.com/mcp")
    ///     .resource_metadata(ResourceMetadata::new("https://mcp.example.com/mcp")
    ///         .scopes_supported(["mcp.tools"]));
    /// assert!(auth.config_error().is_none());
    /// let wrong = JwtAuth::new("https://auth.example.com", "insights-api")
    ///     .resource_metadata(ResourceMetadata::new("https://mcp.example.com/mcp"));
    /// assert_eq!(wrong.config_error().unwrap().field(), "resource_metadata");
    /// ```
    pub fn resource_metadata(self, metadata: ResourceMetadata) -> Self {
        self.configure(|c| c.resource_metadata = Some(metadata))
    }

    /// Accepts DPoP-bound access tokens (RFC 9449): `Authorization: DPoP <token>` with a
    /// `DPoP` proof header; see [`Dpop`](crate::Dpop). A token bound with `cnf.jkt` is never
    /// accepted as a bearer token; with [`Dpop::required`](crate::Dpop::required) no bearer
    /// token is. Refusals offer a `DPoP` challenge (`algs`, and the error when the request used
    /// DPoP); a per-request proof is checked on every request, cache hit or not.
    ///
    /// ```
    /// use tower_jwt_auth::{Dpop, JwtAuth};
    /// let auth = JwtAuth::new("https://auth.example.com", "insights-api")
    ///     .dpop(Dpop::new("https://api.example.com"));
    /// assert!(auth.config_error().is_none());
    /// let bad = JwtAuth::new("https://auth.example.com", "insights-api")
    ///     .dpop(Dpop::new("http://api.example.com"));
    /// assert_eq!(bad.config_error().unwrap().field(), "dpop");
    /// ```
    pub fn dpop(self, dpop: crate::Dpop) -> Self {
        self.configure(|c| c.dpop = Some(dpop))
    }

    /// Accepts certificate-bound access tokens (RFC 8705 §3): a token whose
    /// `cnf["x5t#S256"]` names the SHA-256 thumbprint of the client certificate of the
    /// request's mutual-TLS connection. The certificate comes from a
    /// [`ClientCertificate`](crate::ClientCertificate) request extension (inserted by your TLS
    /// acceptor) or, with feature `tonic-tls`, from tonic's TLS connection info. Without this
    /// option such tokens are refused; with it, a bound token without the matching certificate
    /// is 401 `invalid_token`, and the resource metadata says
    /// `tls_client_certificate_bound_access_tokens`.
    ///
    /// ```
    /// use tower_jwt_auth::JwtAuth;
    /// let auth = JwtAuth::new("https://auth.example.com", "insights-api").certificate_bound_tokens();
    /// assert!(auth.config_error().is_none());
    /// ```
    pub fn certificate_bound_tokens(self) -> Self {
        self.configure(|c| c.certificate_bound = true)
    }

    /// Clock skew tolerated on `exp`, `nbf` and `iat`. Defaults to 60 s; at most 10 minutes.
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
        self.configure(|c| c.leeway = leeway)
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
        self.configure(|c| c.algorithms = algorithms.into_iter().collect())
    }

    /// The longest bearer `Authorization` header (and token) read, in bytes. Longer ones are
    /// refused with 401 before any decoding. Defaults to 8 KiB.
    ///
    /// ```
    /// use tower_jwt_auth::JwtAuth;
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api").max_token_size(4 * 1024);
    /// ```
    pub fn max_token_size(self, bytes: usize) -> Self {
        self.configure(|c| c.max_token_size = bytes)
    }

    /// The longest lifetime (`exp - iat`) accepted, or `None` for no limit. Defaults to 24 h.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_jwt_auth::JwtAuth;
    /// let hour_at_most = JwtAuth::new("https://auth-api.eliq.com", "insights-api").max_lifetime(Some(Duration::from_secs(3600)));
    /// ```
    pub fn max_lifetime(self, max: Option<Duration>) -> Self {
        self.configure(|c| c.max_lifetime = max)
    }

    /// Strict RFC 9068: `typ` must be `at+jwt`, and `client_id`, `iat` and `jti` are required.
    /// Defaults to off (`typ` may also be `JWT` or absent, as many providers issue).
    ///
    /// ```
    /// use tower_jwt_auth::JwtAuth;
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api").strict_rfc9068();
    /// ```
    pub fn strict_rfc9068(self) -> Self {
        self.configure(|c| c.strict_rfc9068 = true)
    }

    /// The FAPI 2.0 Security Profile's rules for a resource server, in one call:
    ///
    /// - signatures by PS256, ES256 or EdDSA only (tokens and DPoP proofs); RSA keys of at
    ///   least 2,048 bits (as always);
    /// - sender-constrained tokens only: a token must be bound to a DPoP key (`cnf.jkt`, with
    ///   its proof) or to the client certificate of the request (`cnf["x5t#S256"]`); a plain
    ///   bearer token, an API key or an unbound introspected token is refused (401
    ///   `invalid_token`, [`NotSenderConstrained`](crate::AuthErrorKind::NotSenderConstrained));
    /// - strict RFC 9068 ([`strict_rfc9068`](JwtAuth::strict_rfc9068)).
    ///
    /// At least one way of binding must be configured: [`dpop`](JwtAuth::dpop),
    /// [`certificate_bound_tokens`](JwtAuth::certificate_bound_tokens), or both (either binding
    /// is then accepted). Without one, or with an algorithm outside the profile's set (for the
    /// layer or an issuer), the configuration is refused, naming `fapi2`.
    ///
    /// ```
    /// use tower_jwt_auth::{Algorithm, Dpop, JwtAuth};
    /// let auth = JwtAuth::new("https://auth.aelix.example", "payments-api")
    ///     .fapi2()
    ///     .dpop(Dpop::new("https://api.aelix.example"))
    ///     .certificate_bound_tokens();
    /// assert!(auth.config_error().is_none());
    ///
    /// let unbound = JwtAuth::new("https://auth.aelix.example", "payments-api").fapi2();
    /// assert_eq!(unbound.config_error().unwrap().field(), "fapi2");
    /// let rs256 = JwtAuth::new("https://auth.aelix.example", "payments-api")
    ///     .fapi2()
    ///     .certificate_bound_tokens()
    ///     .algorithms([Algorithm::RS256]);
    /// assert_eq!(rs256.config_error().unwrap().field(), "fapi2");
    /// ```
    pub fn fapi2(self) -> Self {
        self.configure(|c| {
            c.fapi2 = true;
            c.strict_rfc9068 = true;
            c.algorithms = crate::authenticator::config::FAPI2_ALGORITHMS;
        })
    }

    /// Fetches keys from this JWK set URL instead of discovering it. Defaults to discovery.
    ///
    /// ```
    /// use tower_jwt_auth::JwtAuth;
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api").jwks_uri("https://auth-api.eliq.com/.well-known/jwks.json");
    /// assert!(auth.config_error().is_none());
    /// ```
    pub fn jwks_uri(self, uri: impl Into<String>) -> Self {
        self.configure(|c| c.primary.jwks_uri = Some(uri.into()))
    }

    /// Uses these keys (a JWK set document) and never fetches any. Defaults to discovery. Keys
    /// for other uses are skipped with a warning; a set without a usable key is refused.
    ///
    /// ```
    /// use tower_jwt_auth::JwtAuth;
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api")
    ///     .jwks(r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#);
    /// assert!(auth.config_error().is_none());
    /// ```
    pub fn jwks(self, jwk_set_json: impl Into<String>) -> Self {
        self.configure(|c| c.primary.jwks = Some(jwk_set_json.into()))
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
        let key = PemKey {
            kid: kid.into(),
            alg,
            pem: pem.into(),
        };
        self.configure(|c| c.primary.pem_keys.push(key))
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
        self.configure(|c| c.http_client = Some(client))
    }

    /// Timeouts of every fetch. Defaults to 5 s to connect and 10 s in all.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_jwt_auth::JwtAuth;
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api").fetch_timeouts(Duration::from_secs(2), Duration::from_secs(5));
    /// ```
    pub fn fetch_timeouts(self, connect: Duration, total: Duration) -> Self {
        self.configure(|c| {
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
        self.configure(|c| c.fetch.max_bytes = bytes)
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
        self.configure(|c| {
            c.cache.ttl_default = default;
            c.cache.ttl_floor = floor;
            c.cache.ttl_ceiling = ceiling;
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
        self.configure(|c| c.cache.max_stale = max_stale)
    }

    /// The refetch allowance for tokens whose `kid` the key set lacks: the first refetch goes
    /// out at once, then at most one per `cooldown`, shared by all requests. Each refetch that
    /// finds no new key doubles the interval, up to 5 minutes; one that finds a new key resets
    /// it. So a key used the moment it is published verifies within `cooldown`, while a flood of
    /// invented `kid`s costs about ten fetches in its first ten minutes and one per five minutes
    /// after. Defaults to 1 s.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_jwt_auth::JwtAuth;
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api").unknown_kid_cooldown(Duration::from_secs(5));
    /// ```
    pub fn unknown_kid_cooldown(self, cooldown: Duration) -> Self {
        self.configure(|c| c.cache.unknown_kid_cooldown = cooldown)
    }

    /// How long a request whose `kid` the loaded key set lacks waits for the refetch it started
    /// or joined before it is answered 401. A `kid` that a refetch already looked for in vain is
    /// answered at once; requests with known `kid`s never wait. Defaults to 1 s.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_jwt_auth::JwtAuth;
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api").unknown_kid_wait(Duration::from_millis(500));
    /// ```
    pub fn unknown_kid_wait(self, wait: Duration) -> Self {
        self.configure(|c| c.cache.unknown_kid_wait = wait)
    }

    /// Keeps a copy of the last good key set in this file: written atomically after each
    /// successful load, read when the layer is first used, so that an instance restarted while
    /// the provider is down serves at once. The copy is used only by the same issuer and key
    /// source, and only within [`max_stale`](JwtAuth::max_stale) of its expiry; a corrupt or
    /// foreign file is ignored with a warning. The file holds public keys only. Defaults to
    /// none.
    ///
    /// ```
    /// use tower_jwt_auth::JwtAuth;
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api")
    ///     .jwks_cache_file(std::env::temp_dir().join("insights-api-jwks.json"));
    /// ```
    pub fn jwks_cache_file(self, path: impl Into<std::path::PathBuf>) -> Self {
        self.configure(|c| c.cache_file = Some(path.into()))
    }

    /// How long a request with no usable key set (a cold start) waits for keys before it is
    /// answered 503 with `Retry-After`. Defaults to 5 s.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_jwt_auth::JwtAuth;
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api").key_wait_budget(Duration::from_secs(1));
    /// ```
    pub fn key_wait_budget(self, budget: Duration) -> Self {
        self.configure(|c| c.cache.wait_budget = budget)
    }

    /// The clock for `exp`/`nbf`/`iat` and the key cache. Defaults to
    /// [`SystemClock`](crate::SystemClock); tests use [`ManualClock`](crate::ManualClock).
    ///
    /// ```
    /// use tower_jwt_auth::{JwtAuth, ManualClock};
    /// let clock = ManualClock::new(1_800_000_000);
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api").clock(clock.clone());
    /// // tests move `clock` forward instead of sleeping
    /// ```
    pub fn clock(self, clock: impl Clock) -> Self {
        self.configure(|c| c.clock = Arc::new(clock))
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
        self.configure(|c| c.token_cache = max_entries)
    }
}

impl<C> JwtAuth<C> {
    /// The configured issuer.
    ///
    /// ```
    /// use tower_jwt_auth::JwtAuth;
    /// assert_eq!(JwtAuth::new("https://auth-api.eliq.com", "insights-api").issuer(), "https://auth-api.eliq.com");
    /// ```
    pub fn issuer(&self) -> &str {
        &self.core.config.primary.url
    }

    /// The configured audience.
    ///
    /// ```
    /// use tower_jwt_auth::JwtAuth;
    /// assert_eq!(JwtAuth::new("https://auth-api.eliq.com", "insights-api").audience(), "insights-api");
    /// ```
    pub fn audience(&self) -> &str {
        &self.core.config.audience
    }
}
