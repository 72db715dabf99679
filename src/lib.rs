//! Protects tower services (axum, tonic) with OAuth 2.0 JWT access tokens: the resource-server
//! side of the client-credentials grant.
//!
//! ```
//! use axum::{routing::get, Router};
//! use tower_jwt_auth::{Claims, JwtAuth};
//!
//! async fn usage(claims: Claims) -> String {
//!     claims.sub.clone()
//! }
//!
//! let app: Router = Router::new()
//!     .route("/usage", get(usage))
//!     .layer(JwtAuth::new("https://auth-api.eliq.com", "insights-api")
//!         .require_scopes(["insights.read"])   // all listed scopes required
//!         .require_sub_type("user"));          // delegated (user-context) tokens only
//! ```
//!
//! Per request the layer takes the bearer token, reads its header and its unverified `iss` (a
//! token of another issuer is refused before any key is looked up), finds the issuer's key
//! (OpenID Connect discovery → `jwks_uri` → JWK set, cached), verifies the signature and the
//! claims (`aud`, `exp`, `nbf`, `iat`, `sub`; a `cnf`-bound token is no bearer token), checks
//! the required scopes and `sub_type`, and puts [`Claims`] (and the type-erased [`Grant`]) into
//! the request extensions. Code outside tower calls [`JwtAuth::verify`].
//!
//! # A complete run, against the embedded test issuer (feature `testing`)
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use tower_jwt_auth::{testing::TestIssuer, AuthErrorKind, JwtAuth};
//!
//! let issuer = TestIssuer::start().await; // discovery + JWKS on 127.0.0.1
//! let auth = JwtAuth::new(issuer.url(), "insights-api").require_scopes(["insights.read"]);
//!
//! let token = issuer.token().sub("u-1").sub_type("user").scopes(["insights.read"]).sign();
//! let claims = auth.verify(&token).await.unwrap();
//! assert_eq!(claims.sub, "u-1");
//!
//! let read_less = issuer.token().scopes(["insights.write"]).sign();
//! let refused = auth.verify(&read_less).await.unwrap_err();
//! assert_eq!(refused.kind(), AuthErrorKind::InsufficientScope);
//! # }
//! ```
//!
//! # Outcomes
//!
//! One table, in one place, per RFC 6750. Every refusal is a response (never an error of the
//! service), with a JSON body `{"error": .., "error_description": ..}` whose description is
//! fixed text that never echoes the token; the [`AuthError`] is in the response extensions.
//! [`JwtAuth::on_reject`] replaces the response.
//!
//! | situation | status | `WWW-Authenticate` | gRPC status |
//! |---|---|---|---|
//! | no `Authorization` header, or another scheme (`Basic`, `Digest`; RFC 6750 §3.1) | 401; passes without claims under [`JwtAuth::optional`] | `Bearer realm="<audience>"` | 16 UNAUTHENTICATED |
//! | header repeated, empty Bearer token, not a `b64token` | 400 | `error="invalid_request"` | 3 INVALID_ARGUMENT |
//! | malformed, bad signature, expired, not yet valid, wrong `iss`/`aud`, unknown `kid`, header over 8 KiB, bound to a key (`cnf`) but sent as Bearer | 401 | `error="invalid_token"` | 16 UNAUTHENTICATED |
//! | valid token lacking a required scope | 403 | `error="insufficient_scope", scope="<required>"` | 7 PERMISSION_DENIED |
//! | valid token with the wrong `sub_type` | 403 | `error="insufficient_scope"` | 7 PERMISSION_DENIED |
//! | [`RequireStepUp`]: `acr` not accepted, `auth_time` older than `max_age` or absent under one | 401 | `error="insufficient_user_authentication", acr_values="..", max_age=".."` | 16 UNAUTHENTICATED |
//! | [`RequireActors`], [`RequireAuthorizationDetails`], [`RequireAsync`] refuse | 403 | `error="insufficient_scope"` | 7 PERMISSION_DENIED |
//! | [`RequireAsync`]'s rule fails or times out | 503 | `error="temporarily_unavailable"` | 14 UNAVAILABLE |
//! | a proxy's token found outside its header (or another's in it) | 401 | `error="invalid_token"` | 16 UNAUTHENTICATED |
//! | a revoked credential ([`Revocations`]) | 401 | `error="invalid_token"` | 16 UNAUTHENTICATED |
//! | the fleet's revocation list stale past its bound, failing closed | 503 + `Retry-After` | `error="temporarily_unavailable"` | 14 UNAVAILABLE |
//! | opaque token the introspection endpoint reports inactive (or active but expired, for another audience or issuer); API key no validator knows | 401 | `error="invalid_token"` | 16 UNAUTHENTICATED |
//! | with [`JwtAuth::dpop`]: a `DPoP` proof missing, repeated, replayed or failing a rule of RFC 9449 §4.3 | 401 | `DPoP algs="..", error="invalid_dpop_proof"` | 16 UNAUTHENTICATED |
//! | with DPoP nonces: the proof lacks the current nonce | 401 + `DPoP-Nonce` | `DPoP algs="..", error="use_dpop_nonce"` | 16 UNAUTHENTICATED |
//! | a token without `cnf.jkt` under `DPoP`; a bearer token when [`Dpop::required`]; a certificate-bound token without its client certificate | 401 | `error="invalid_token"` | 16 UNAUTHENTICATED |
//! | keys cannot be obtained, nothing cached | 503 + `Retry-After` | none | 14 UNAVAILABLE |
//! | the introspection endpoint, an API-key validator or the DPoP replay store failed | 503 + `Retry-After` | none | 14 UNAVAILABLE |
//! | the discovery document names another issuer | 500 | none | 13 INTERNAL |
//!
//! gRPC requests (`content-type: application/grpc*`) are answered trailers-only with HTTP 200,
//! `grpc-status` and a percent-encoded `grpc-message`.
//!
//! The log event of each refusal names what to fix: the expected and found issuer, audience,
//! `sub_type`, algorithm or `kid`, the missing scopes ([`AuthError::context`]), and for a failed
//! key fetch the whole cause ([`KeySourceError`]). Values from the token are escaped and cut to
//! 128 characters; the token itself is never logged.
//!
//! An unusable configuration is refused when the layer is applied: a panic whose message names
//! the field (like an invalid axum route), or a [`ConfigError`] from [`JwtAuth::try_new`] and
//! [`JwtAuth::validate`].
//!
//! # One configuration, many routes; optional sign-in
//!
//! Layers derived from one [`JwtAuth`] by its policy methods share one key source and one
//! verified-token cache. [`JwtAuth::optional`] lets requests without credentials through with no
//! claims, for pages that show more to signed-in callers:
//!
//! ```
//! use axum::{routing::get, Router};
//! use tower_jwt_auth::{Claims, JwtAuth};
//!
//! async fn home(claims: Option<Claims>) -> String {
//!     claims.map_or("hello, guest".into(), |c| format!("hello, {}", c.sub))
//! }
//!
//! let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api");
//! let app: Router = Router::new()
//!     .route("/", get(home).layer(auth.clone().optional()))
//!     .route("/usage", get(home).layer(auth.clone().require_scopes(["insights.read"])))
//!     .route("/me", get(home).layer(auth.require_sub_type("user")));
//! ```
//!
//! # Opaque tokens and API keys
//!
//! One `Authorization: Bearer` header, three kinds of credential, routed by shape before any
//! parsing: a configured API-key prefix (`fl_`, the longest that matches) goes to its
//! [`ApiKeyValidator`](crate::api_key::ApiKeyValidator); a compact JWS is verified locally; anything else goes to the issuer's
//! introspection endpoint ([`Introspection`], RFC 7662) when one is configured, and is 401
//! `invalid_token` otherwise. Each ends in the same [`Claims`], so scopes, `sub_type`,
//! [`JwtAuth::optional`] and the gRPC mapping apply unchanged; [`Grant::credential`] tells them
//! apart. Introspection verdicts are cached (an active token until the earlier of its `exp` and
//! 5 minutes, a refused one 30 s; one call per token however many requests carry it), and
//! [`ApiKeyStore`](crate::api_key::ApiKeyStore) holds only SHA-256 digests of the keys.
//!
//! ```
//! use tower_jwt_auth::{api_key::ApiKeyGrant, api_key::ApiKeyStore, Introspection, JwtAuth};
//! let keys = ApiKeyStore::new();
//! keys.insert("fl_live_0123456789abcdef", ApiKeyGrant::new("org-42").scopes(["insights.read"]));
//! let auth = JwtAuth::new("https://oauth.flip.energy", "utility-api")
//!     .introspection(Introspection::new(
//!         "https://oauth.flip.energy/token/introspect", "rs-client", "s3cr3t"))
//!     .api_keys("fl_", keys)
//!     .require_scopes(["insights.read"]);
//! assert!(auth.validate().is_ok());
//! ```
//!
//! # MCP servers and protected resource metadata
//!
//! [`JwtAuth::resource_metadata`] publishes OAuth 2.0 Protected Resource Metadata (RFC 9728):
//! mount [`JwtAuth::metadata_service`] at [`JwtAuth::metadata_path`] outside the layer, and every
//! challenge carries `resource_metadata="…"`, which MCP clients follow to the authorization
//! server. `cargo run --example mcp_server` shows an `rmcp` server behind the layer.
//!
//! # Several issuers
//!
//! [`JwtAuth::add_issuer`] trusts more issuers (environments, a legacy authentication,
//! [`Issuer::tenants`] for multi-tenant providers), [`JwtAuth::issuer_resolver`] decides at run
//! time. The unverified `iss` picks the issuer before any key is looked up; the token is then
//! verified with that issuer's keys, audience and algorithms only. Each issuer has its own key
//! set and timetable; tenants whose discovery names one JWKS share it. Handlers read
//! [`Grant::issuer`] and [`Grant::tenant`].
//!
//! ```
//! use tower_jwt_auth::{Issuer, JwtAuth};
//! let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api")
//!     .add_issuer("https://auth-api-uat.eliq.com")
//!     .add_issuer(Issuer::new("https://legacy-auth.eliq.com").audience("insights"))
//!     .add_issuer(Issuer::tenants("https://login.microsoftonline.com/{tenant}/v2.0", ["6f1c2a9e"]));
//! ```
//!
//! # Authorization rules
//!
//! Beyond all-of scopes ([`JwtAuth::require_scopes`]): at least one of some scopes
//! ([`JwtAuth::require_any_scope`], [`RequireScopes::any`]), roles read from the Entra, Keycloak
//! and Auth0 layouts ([`JwtAuth::require_roles`], [`RequireRoles`], [`Issuer::role_claims`]),
//! a rule of your own on the claims ([`JwtAuth::require`], [`RequireClaims`]), scopes per gRPC
//! method ([`MethodScopes`]), a token from a cookie or another header
//! ([`JwtAuth::token_sources`]; `Authorization` wins, the
//! query string is never read) and the challenges' realm ([`JwtAuth::realm`]).
//!
//! ```
//! use axum::{routing::get, Router};
//! use tower_jwt_auth::{AccessClaims, JwtAuth, RequireRoles};
//!
//! let app: Router = Router::new()
//!     .route("/meters", get(|| async { "meters" }).layer(RequireRoles::new(["insights-admin"])))
//!     .layer(JwtAuth::new("https://auth-api.eliq.com", "insights-api")
//!         .require_any_scope(["insights.read", "insights.admin"])
//!         .require(|c: &AccessClaims| c.client_id.as_deref() != Some("retired-app")));
//! ```
//!
//! # Metrics
//!
//! With feature `metrics`, through the [`metrics`](https://docs.rs/metrics) facade (any
//! exporter). Labels carry no value from a credential: `issuer` is a trusted issuer's
//! configured URL or `none`.
//!
//! | name | kind | labels |
//! |---|---|---|
//! | `tower_jwt_auth_requests_total` | counter | `outcome` (`accepted`, or the refusal's [`AuthErrorKind`] in snake case), `issuer`, `credential` (`jwt`, `introspected`, `api_key`, `none`) |
//! | `tower_jwt_auth_route_refusals_total` | counter | `outcome` (refusals by per-route layers) |
//! | `tower_jwt_auth_token_cache_total` | counter | `result` (`hit`, `miss`) |
//! | `tower_jwt_auth_key_fetches_total` | counter | `issuer`, `result` (`ok` or the [`KeySourceErrorKind`] in snake case) |
//! | `tower_jwt_auth_key_fetch_duration_seconds` | histogram | `issuer` |
//! | `tower_jwt_auth_key_set_age_seconds` | gauge | `issuer` |
//! | `tower_jwt_auth_key_refetches_refused_total` | counter | `issuer` |
//! | `tower_jwt_auth_introspection_calls_total` | counter | `issuer`, `result` (`active`, `inactive`, `error`) |
//! | `tower_jwt_auth_introspection_duration_seconds` | histogram | `issuer` |
//! | `tower_jwt_auth_introspection_cache_total` | counter | `result` (`hit`, `miss`) |
//! | `tower_jwt_auth_calls_in_flight` | gauge | `call` (`introspection`, `jwks`, `client_token`) |
//! | `tower_jwt_auth_revocations` | gauge | — (revocations in force) |
//! | `tower_jwt_auth_revocation_staleness_seconds` | gauge | — (time since the fleet's list was last in sync) |
//!
//! # gRPC (tonic)
//!
//! The same layer goes on a tonic server; services read the claims from the request extensions.
//! With feature `tonic`, a service wrapped in [`RequireScopes`] keeps its gRPC name, so it can be
//! added on its own and only that service requires the extra scopes.
//!
//! ```no_run
//! use tonic::{Request, Response, Status};
//! use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
//! use tower_jwt_auth::{AccessClaims, Claims, JwtAuth};
//!
//! async fn check(req: Request<HealthCheckRequest>) -> Result<Response<HealthCheckResponse>, Status> {
//!     // The claims type the layer was built with; a wrong one is a loud error, never `None`.
//!     let claims = Claims::<AccessClaims>::from_extensions(req.extensions())?;
//!     tracing::info!(user = %claims.sub, "health checked");
//!     Ok(Response::new(HealthCheckResponse { status: 1 }))
//! }
//!
//! # async fn serve(listener: tokio::net::TcpListener) -> Result<(), tonic::transport::Error> {
//! let (_reporter, health) = tonic_health::server::health_reporter();
//! tonic::transport::Server::builder()
//!     .layer(JwtAuth::new("https://auth-api.eliq.com", "insights-api"))
//!     .add_service(health)
//!     .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
//!     .await
//! # }
//! ```
//!
//! # Keys
//!
//! Discovery happens lazily on first use; [`JwtAuth::ready`] prefetches. `https` is required
//! except for loopback hosts. The refresh and fault model, with defaults:
//!
//! - concurrent requests share one fetch; a request with no usable key set waits at most 5 s,
//!   then 503 with `Retry-After`;
//! - a key set lives for its `Cache-Control: max-age`, clamped to [5 min, 24 h] (15 min when
//!   absent), and is refreshed in the background before then: no request waits for it;
//! - a token whose `kid` the set lacks starts a refetch at once, then at most one per second,
//!   shared by all requests, and waits for it at most 1 s; each refetch that finds nothing new
//!   doubles the interval (to 5 min), one that finds a new key resets it, and a `kid` already
//!   looked for in vain is refused without waiting: a key used the moment it is published
//!   verifies within a second, and a flood of invented `kid`s costs about ten fetches in ten
//!   minutes, then one per five;
//! - when refreshes fail, the last good set keeps serving for 24 h past its expiry; a refresh
//!   someone needs (no set, a set past its lifetime, an unknown `kid`) is retried within a
//!   jittered second, and a hanging attempt gets up to two more beside it, so the end of an
//!   outage is noticed within two seconds; refresh-ahead alone backs off 1 s to 60 s;
//! - [`Caches::jwks_file`] keeps the last good set on disk for restarts during an
//!   outage;
//! - every fetch has a 5 s connect and 10 s total timeout, a 256 KiB cap, at most 2 redirects.
//!
//! Providers should publish a key before signing with it and keep a retired key published
//! until its tokens expire; when one does not, the first token naming the new `kid` fetches
//! it.
//!
//! # Security
//!
//! - The algorithm comes from the key and the allow-list, never from the token alone; `none`
//!   and `HS*` are always refused. `jku`, `x5u`, `jwk` and `x5c` headers are never used; any
//!   `crit` is refused; encrypted (JWE) and nested tokens are refused.
//! - Keys are checked one by one: RSA 2048–8192 bits, EC curve matching the algorithm, Ed25519
//!   only; keys for another `use`, with private members, or symmetric are skipped.
//! - base64url is decoded strictly (no padding, no `+/`, canonical trailing bits); duplicate
//!   registered claims and claims of the wrong JSON type are refused.
//! - Tokens and key material are never logged or printed by `Debug`.
//!
//! # Where things are
//!
//! - At the root: the layer ([`JwtAuth`]) and what configures it ([`Issuer`], [`TokenRules`],
//!   [`KeyFetching`], [`Caches`], [`TokenSources`], [`Introspection`], [`Dpop`],
//!   [`ResourceMetadata`]), the per-route layers ([`RequireScopes`], [`RequireRoles`],
//!   [`RequireClaims`], [`MethodScopes`]), what a handler receives ([`Claims`], [`Grant`],
//!   [`AccessClaims`]), the errors, and the clocks.
//! - [`api_key`]: API keys beside OAuth tokens. [`replay`]: DPoP replay stores.
//!   [`service`]: the services and futures the layers produce (for type signatures).
//! - `client` (feature `client`): access tokens for outgoing calls. `testing` (feature
//!   `testing`): an identity provider on loopback for your own tests.
//!
//! # Features
//!
//! Each optional part is behind a feature, so a default build carries only the layer and the
//! axum extractor. Items of other features appear in this documentation when it is built with
//! them (`cargo doc --all-features`, as docs.rs does).
//!
//! - `axum` (default): [`Claims`] is an axum extractor, `Option<Claims>` too.
//! - `tonic`: `NamedService` for the layer's services (tonic without default features).
//! - `testing`: `testing::TestIssuer`, an identity provider on loopback for your own tests.
//! - `metrics`: counters, gauges and histograms through the `metrics` facade (table above).
//! - `redis`: [`replay::RedisReplayStore`](crate::replay), the DPoP replay store a fleet of
//!   instances shares, and `Revocations::redis` (feature `redis`), the revocation list they share.
//! - `tonic-tls`: certificate-bound tokens on tonic servers, the client certificate read from
//!   tonic's TLS connection info.
//! - `client`: access tokens for outgoing calls (module `client`: `ClientCredentials`,
//!   `TokenSource`, the `AddAccessToken` layer); `reqwest-middleware` adds the same for reqwest.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod algorithm;
mod authenticator;
#[cfg(feature = "axum")]
mod axum;
mod binding;
mod claims;
#[cfg(feature = "client")]
#[cfg_attr(docsrs, doc(cfg(feature = "client")))]
pub mod client;
mod clock;
mod credential;
mod introspection;
mod issuer;
mod jose;
mod jwt;
mod keys;
mod layer;
mod metadata;
mod metrics;
mod outbound;
mod policy;
mod reject;
mod revocation;
#[cfg(feature = "testing")]
pub mod testing;

pub use algorithm::Algorithm;
pub use authenticator::options::{Caches, KeyFetching, TokenRules, TokenSources};
pub use binding::{ClientCertificate, Dpop};
pub use claims::{
    AccessClaims, Actor, Audience, AuthorizationDetail, Claims, Grant, MissingClaims,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use credential::Credential;
pub use introspection::Introspection;
pub use issuer::Issuer;
pub use keys::KeySetInfo;
pub use layer::access::RequireClaims;
pub use layer::JwtAuth;
pub use metadata::ResourceMetadata;
pub use policy::{
    ActorRule, MethodScopes, RequireActors, RequireAsync, RequireAuthorizationDetails,
    RequireRoles, RequireScopes, RequireStepUp,
};
pub use reject::default_response;
pub use reject::{AuthError, AuthErrorKind, ConfigError, KeySourceError, KeySourceErrorKind};
pub use revocation::{RevocationError, Revocations, WhenStale};

pub mod api_key {
    //! API keys beside OAuth tokens ([`JwtAuth::api_keys`](crate::JwtAuth::api_keys)): the
    //! presented key, how it is judged (a closure, a store of digests, your own validator),
    //! and the grant it earns.
    pub use crate::credential::{
        ApiKey, ApiKeyError, ApiKeyFn, ApiKeyGrant, ApiKeyStore, ApiKeyValidator, KeyDigest,
    };
}

pub mod replay {
    //! Where DPoP proofs are remembered against replay ([`Dpop::replay_store`](crate::Dpop::replay_store)):
    //! in memory for one instance, in Redis (feature `redis`) for a fleet, or a store of your
    //! own.
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub use crate::binding::RedisReplayStore;
    pub use crate::binding::{MemoryReplayStore, ReplayFuture, ReplayStore, ReplayStoreError};
}

pub mod service {
    //! The tower services the layers wrap around yours, their futures and bodies, and the RFC
    //! 9728 document's service. Named in type signatures only; built by
    //! [`JwtAuth`](crate::JwtAuth), [`RequireScopes`](crate::RequireScopes),
    //! [`RequireClaims`](crate::RequireClaims) and
    //! [`JwtAuth::metadata_service`](crate::JwtAuth::metadata_service).
    pub use crate::layer::access::RequireClaimsService;
    pub use crate::layer::body::ResponseBody;
    pub use crate::layer::future::ResponseFuture;
    pub use crate::layer::service::JwtAuthService;
    pub use crate::metadata::{FixedBody, MetadataService};
    pub use crate::policy::{RequireAsyncService, RequireScopesService, RouteCheckService};
    pub use crate::revocation::receiver::SecurityEventReceiver;
}
