//! The verification options of [`JwtAuth`]: issuers, credential kinds, token rules, key
//! fetching, caches, time. Each makes a new configuration (validated when the layer is first
//! used) and so a new authenticator; the policy methods, which share one, are in `builder.rs`
//! and `access.rs`.

use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::authenticator::options::{Caches, KeyFetching, TokenRules};
use crate::clock::Clock;
use crate::credential::api_key::{ApiKeyValidator, DynValidator};
use crate::introspection::Introspection;
use crate::issuer::Issuer;
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
    /// assert!(auth.validate().is_ok());
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
    /// assert!(auth.validate().is_ok());
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
    /// assert!(auth.validate().is_ok());
    /// ```
    pub fn introspection_in_turn(self) -> Self {
        self.configure(|c| c.introspection_in_turn = true)
    }

    /// Accepts API keys that begin with `prefix` (`fl_`) in the same `Authorization: Bearer`
    /// header, judged by `validator` ([`ApiKeyStore`](crate::api_key::ApiKeyStore), your own
    /// [`ApiKeyValidator`], or an [`ApiKeyFn`](crate::api_key::ApiKeyFn)). Routing is by prefix, before
    /// any parsing; with several prefixes the longest that matches wins. A key the validator
    /// does not know is 401 `invalid_token`; a failure of the validator itself is 503.
    ///
    /// A prefix that is empty, configured twice, has characters a token cannot have, or would
    /// capture JWTs (`e`, `ey`, `eyJ…`) is a configuration error (field `api_keys`).
    ///
    /// ```
    /// use tower_jwt_auth::{api_key::ApiKeyGrant, api_key::ApiKeyStore, JwtAuth};
    /// let keys = ApiKeyStore::new();
    /// keys.insert("fl_live_0123456789abcdef", ApiKeyGrant::new("org-42").scopes(["insights.read"]));
    /// let auth = JwtAuth::new("https://oauth.flip.energy", "utility-api")
    ///     .api_keys("fl_", keys)
    ///     .require_scopes(["insights.read"]); // for tokens and keys alike
    /// assert!(auth.validate().is_ok());
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
    /// assert!(auth.validate().is_ok());
    /// let wrong = JwtAuth::new("https://auth.example.com", "insights-api")
    ///     .resource_metadata(ResourceMetadata::new("https://mcp.example.com/mcp"));
    /// assert_eq!(wrong.validate().unwrap_err().field(), "resource_metadata");
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
    /// assert!(auth.validate().is_ok());
    /// let bad = JwtAuth::new("https://auth.example.com", "insights-api")
    ///     .dpop(Dpop::new("http://api.example.com"));
    /// assert_eq!(bad.validate().unwrap_err().field(), "dpop");
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
    /// assert!(auth.validate().is_ok());
    /// ```
    pub fn certificate_bound_tokens(self) -> Self {
        self.configure(|c| c.certificate_bound = true)
    }

    /// What a token must satisfy beyond its signature and issuer: the leeway, the algorithms,
    /// the size and lifetime caps, strict RFC 9068. See [`TokenRules`] for each field and its
    /// default.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_jwt_auth::{Algorithm, JwtAuth, TokenRules};
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api").token_rules(TokenRules {
    ///     algorithms: vec![Algorithm::ES256, Algorithm::EdDSA],
    ///     max_lifetime: Some(Duration::from_secs(3600)),
    ///     ..TokenRules::default()
    /// });
    /// assert!(auth.validate().is_ok());
    /// ```
    pub fn token_rules(self, rules: TokenRules) -> Self {
        self.configure(|c| c.rules = rules)
    }

    /// The FAPI 2.0 Security Profile's rules for a resource server, in one call:
    ///
    /// - signatures by PS256, ES256 or EdDSA only (tokens and DPoP proofs); RSA keys of at
    ///   least 2,048 bits (as always);
    /// - sender-constrained tokens only: a token must be bound to a DPoP key (`cnf.jkt`, with
    ///   its proof) or to the client certificate of the request (`cnf["x5t#S256"]`); a plain
    ///   bearer token, an API key or an unbound introspected token is refused (401
    ///   `invalid_token`, [`NotSenderConstrained`](crate::AuthErrorKind::NotSenderConstrained));
    /// - strict RFC 9068 ([`TokenRules::strict_rfc9068`]), whatever [`TokenRules`] says.
    ///
    /// At least one way of binding must be configured: [`dpop`](JwtAuth::dpop),
    /// [`certificate_bound_tokens`](JwtAuth::certificate_bound_tokens), or both (either binding
    /// is then accepted). The default algorithms narrow to the profile's; without a binding, or
    /// with an algorithm outside the profile's set given in [`TokenRules::algorithms`] or to an
    /// issuer, the configuration is refused, naming `fapi2`.
    ///
    /// ```
    /// use tower_jwt_auth::{Algorithm, Dpop, JwtAuth, TokenRules};
    /// let auth = JwtAuth::new("https://auth.aelix.example", "payments-api")
    ///     .fapi2()
    ///     .dpop(Dpop::new("https://api.aelix.example"))
    ///     .certificate_bound_tokens();
    /// assert!(auth.validate().is_ok());
    ///
    /// let unbound = JwtAuth::new("https://auth.aelix.example", "payments-api").fapi2();
    /// assert_eq!(unbound.validate().unwrap_err().field(), "fapi2");
    /// let rs256 = JwtAuth::new("https://auth.aelix.example", "payments-api")
    ///     .fapi2()
    ///     .certificate_bound_tokens()
    ///     .token_rules(TokenRules { algorithms: vec![Algorithm::RS256], ..TokenRules::default() });
    /// assert_eq!(rs256.validate().unwrap_err().field(), "fapi2");
    /// ```
    pub fn fapi2(self) -> Self {
        self.configure(|c| c.fapi2 = true)
    }

    /// How keys and discovery documents are fetched: the HTTP client, timeouts, the size cap,
    /// the allowance for unknown `kid`s and the cold-start wait. See [`KeyFetching`] for each
    /// field and its default.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_jwt_auth::{JwtAuth, KeyFetching};
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api").key_fetching(KeyFetching {
    ///     connect_timeout: Duration::from_secs(2),
    ///     timeout: Duration::from_secs(5),
    ///     ..KeyFetching::default()
    /// });
    /// assert!(auth.validate().is_ok());
    /// ```
    pub fn key_fetching(self, fetching: KeyFetching) -> Self {
        self.configure(|c| c.fetching = fetching)
    }

    /// What is remembered and for how long: verified tokens, fetched key sets, the key-set
    /// file. See [`Caches`] for each field and its default.
    ///
    /// ```
    /// use tower_jwt_auth::{Caches, JwtAuth};
    /// let no_cache = JwtAuth::new("https://auth-api.eliq.com", "insights-api")
    ///     .caches(Caches { verified_tokens: 0, ..Caches::default() });
    /// assert!(no_cache.validate().is_ok());
    /// ```
    pub fn caches(self, caches: Caches) -> Self {
        self.configure(|c| c.caches = caches)
    }

    /// Refuses the credentials `revocations` revokes — one token, a subject's or a client's
    /// tokens issued before a time — at once, whatever a cache remembers; in one process or,
    /// with `Revocations::redis` (feature `redis`), across a fleet. Defaults to
    /// none. See [`Revocations`](crate::Revocations).
    pub fn revocations(self, revocations: crate::revocation::Revocations) -> Self {
        self.configure(|c| c.revocations = Some(revocations))
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
}
