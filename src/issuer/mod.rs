//! Trusted issuers: [`Issuer`] (one issuer and its own settings, or a template of tenants), and
//! the registry that picks the issuer a token's unverified `iss` names (exact match, then
//! templates, then the resolver) before any key is looked up.
use std::fmt;
use std::sync::Arc;

use crate::algorithm::{Algorithm, AlgorithmSet};
use crate::clock::Clock;
use crate::introspection::Introspection;
use crate::jwt::Rules;
use crate::keys::CachePolicy;
use crate::outbound::FetchLimits;

pub(crate) mod profile;
mod providers;
mod registry;

use profile::Profile;

pub(crate) use registry::{Registry, Trusted};

/// A fixed key given in PEM.
#[derive(Clone)]
pub(crate) struct PemKey {
    pub(crate) kid: String,
    pub(crate) alg: Algorithm,
    pub(crate) pem: String,
}

/// What the registry of trusted issuers is built from: the issuers, and what each inherits
/// unless it sets its own.
pub(crate) struct Setup<'a> {
    pub(crate) primary: &'a Issuer,
    pub(crate) added: &'a [Issuer],
    pub(crate) resolver: Option<&'a Arc<ResolverFn>>,
    /// The rules of the primary issuer, which the others start from.
    pub(crate) base: Rules,
    pub(crate) fetch: FetchLimits,
    pub(crate) http_client: Option<&'a reqwest::Client>,
    pub(crate) clock: &'a Arc<dyn Clock>,
    pub(crate) cache: CachePolicy,
    pub(crate) cache_file: Option<&'a std::path::Path>,
}

/// A trusted issuer beside the one given to [`JwtAuth::new`](crate::JwtAuth::new), with settings
/// of its own where it differs: another environment, a legacy authentication kept while clients
/// migrate, or a template of tenants.
///
/// Unless set here, an issuer takes the layer's audience and algorithms, and finds its keys by
/// OpenID Connect discovery from its own URL.
///
/// ```
/// use tower_jwt_auth::{Issuer, JwtAuth};
/// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api")
///     .add_issuer("https://auth-api-uat.eliq.com")                 // same audience and rules
///     .add_issuer(Issuer::new("https://legacy-auth.eliq.com")       // its own settings
///         .audience("insights")
///         .jwks_uri("https://legacy-auth.eliq.com/keys"))
///     .add_issuer(Issuer::tenants(                                  // a template + allow-list
///         "https://login.microsoftonline.com/{tenant}/v2.0",
///         ["6f1c2a9e-0000-4000-8000-000000000001", "9a2e7b31-0000-4000-8000-000000000002"]));
/// assert!(auth.validate().is_ok());
/// ```
///
/// # Identity providers
///
/// A preset per provider sets its `iss`, where its keys and tokens are, and which claims name
/// what; the [`Grant`](crate::Grant) a handler reads has one shape for all:
///
/// | preset | audience check | [`client_id`](crate::Grant::client_id) | [`sub`](crate::Grant::sub) | [`scopes`](crate::Grant::scopes) | [`roles`](crate::Grant::roles) | token read from |
/// |---|---|---|---|---|---|---|
/// | [`Issuer::new`] | `aud` | `client_id` | `sub` (required) | `scope`, `scp` | `roles`, `realm_access.roles`, `resource_access.{aud}.roles`, `permissions` | `Authorization` |
/// | [`Issuer::cognito`] | `token_use` = `access`, `client_id` = the client | `client_id` | `sub` | `scope` | `cognito:groups` | `Authorization` |
/// | [`Issuer::entra`] | `aud` = the application (id or `api://`) | `azp` (v2.0), `appid` (v1.0) | `sub` | `scp` | `roles` | `Authorization` |
/// | [`Issuer::keycloak`] | `aud` | `azp` | `sub`, or none (the client alone) | `scope` | `realm_access.roles`, `resource_access.{aud}.roles` | `Authorization` |
/// | [`Issuer::auth0`] | `aud` | `azp`, `client_id` | `sub` | `scope` | `permissions` | `Authorization` |
/// | [`Issuer::okta`] | `aud` | `cid` | `sub` | `scp` | `groups` | `Authorization` |
/// | [`Issuer::google_iap`] | `aud` | — | `sub` | — | — | `x-goog-iap-jwt-assertion` |
/// | [`Issuer::aws_alb`] | the header's `signer` | — | `sub` | — | — | `x-amzn-oidc-data` |
/// | [`Issuer::cloudflare_access`] | `aud` | `common_name` | `sub`, or empty (the client alone) | — | — | `Cf-Access-Jwt-Assertion`, `CF_Authorization` |
/// | [`Issuer::github_actions`] | `aud` | — | `sub` | — | — | `Authorization` |
/// | [`Issuer::kubernetes`] | `aud` | — | `sub` | — | — | `Authorization` |
///
/// A token without a subject is the client alone ([`Grant::is_client_only`](crate::Grant::is_client_only)):
/// no other claim is presented as a user's `sub`. A token a proxy delivers is read only from
/// its header and refused anywhere else ([`WrongTokenLocation`](crate::AuthErrorKind::WrongTokenLocation)).
#[derive(Clone)]
#[must_use = "an `Issuer` does nothing until given to `JwtAuth::add_issuer` or `JwtAuth::from`"]
pub struct Issuer {
    pub(crate) url: String,
    pub(crate) tenants: Option<Vec<String>>,
    pub(crate) audiences: Option<Vec<String>>,
    /// Where roles are read from, when not the layer's default paths.
    pub(crate) role_claims: Option<Vec<String>>,
    pub(crate) jwks_uri: Option<String>,
    pub(crate) algorithms: Option<AlgorithmSet>,
    pub(crate) jwks: Option<String>,
    pub(crate) pem_keys: Vec<PemKey>,
    pub(crate) introspection: Option<Introspection>,
    /// What sets this provider's tokens apart (the presets' rules).
    pub(crate) profile: Profile,
    /// How this issuer's discovery and key requests authenticate the server and themselves.
    pub(crate) fetch_auth: FetchAuth,
}

/// Extra trust and credentials for one issuer's discovery and key requests (a Kubernetes API
/// server: a private CA, the pod's service-account token).
#[derive(Clone, Default)]
pub(crate) struct FetchAuth {
    /// CA certificates (PEM) trusted besides the platform's.
    pub(crate) ca_pem: Option<String>,
    /// A CA file trusted when it exists (the in-cluster one).
    pub(crate) ca_file_if_present: Option<std::path::PathBuf>,
    /// A file whose content is sent as a bearer token, read again for every request.
    pub(crate) token_file: Option<std::path::PathBuf>,
}

impl FetchAuth {
    pub(crate) fn is_set(&self) -> bool {
        self.ca_pem.is_some() || self.ca_file_if_present.is_some() || self.token_file.is_some()
    }

    /// The CA certificates to trust: the one given, and the in-cluster file when it exists.
    pub(crate) fn ca_pems(&self) -> Vec<String> {
        let file = (self.ca_file_if_present.as_ref()).and_then(|p| std::fs::read_to_string(p).ok());
        self.ca_pem.iter().cloned().chain(file).collect()
    }
}

impl Issuer {
    /// Tokens whose `iss` is exactly `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            tenants: None,
            audiences: None,
            role_claims: None,
            jwks_uri: None,
            algorithms: None,
            jwks: None,
            pem_keys: Vec::new(),
            introspection: None,
            profile: Profile::default(),
            fetch_auth: FetchAuth::default(),
        }
    }

    /// Tokens of any tenant in `allow_list`, whose `iss` is `template` with `{tenant}` (one
    /// whole path segment) replaced by the tenant, as multi-tenant providers issue
    /// (`https://login.microsoftonline.com/{tenant}/v2.0`). A token's `tid` claim, when present,
    /// must name the same tenant. Each tenant's discovery document is fetched from its own
    /// issuer URL; tenants whose documents name one JWKS share its fetch and cache.
    pub fn tenants<I, S>(template: impl Into<String>, allow_list: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            tenants: Some(allow_list.into_iter().map(Into::into).collect()),
            ..Self::new(template)
        }
    }

    /// The audience this issuer's tokens must name. Defaults to the layer's (for the issuer
    /// given to [`JwtAuth::from`](crate::JwtAuth#impl-From<Issuer>-for-JwtAuth), it is required).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences = Some(vec![audience.into()]);
        self
    }

    /// Several audiences, any of which a token's `aud` may name: an API known under two names
    /// during a migration, or a v1 and a v2 form of one. The first is the one used where a
    /// single audience is meant (the challenge's default `realm`, the RFC 9728 `resource`,
    /// roles under `resource_access.{audience}`). Defaults to the layer's.
    ///
    /// ```
    /// use tower_jwt_auth::{Issuer, JwtAuth};
    /// let auth = JwtAuth::from(
    ///     Issuer::new("https://auth-api.eliq.com").audiences(["insights-api", "api://insights"]),
    /// );
    /// assert!(auth.validate().is_ok());
    /// ```
    pub fn audiences(mut self, audiences: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.audiences = Some(audiences.into_iter().map(Into::into).collect());
        self
    }

    /// Where this issuer's tokens carry roles: dotted claim paths, read in order, whose
    /// `{audience}` segment stands for the (first) audience. A claim name may itself contain
    /// dots (Auth0's namespaced `https://example.com/roles`). Defaults to `roles`,
    /// `realm_access.roles`, `resource_access.{audience}.roles` and `permissions`.
    ///
    /// ```
    /// use tower_jwt_auth::{Issuer, JwtAuth};
    /// let auth = JwtAuth::from(
    ///     Issuer::new("https://auth-api.eliq.com")
    ///         .audience("insights-api")
    ///         .role_claims(["groups", "https://eliq.com/roles"]),
    /// )
    /// .require_roles(["support"]);
    /// assert!(auth.validate().is_ok());
    /// ```
    pub fn role_claims(mut self, paths: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.role_claims = Some(paths.into_iter().map(Into::into).collect());
        self
    }

    /// Fetches this issuer's keys from this JWK set URL instead of discovering it. Defaults to
    /// OpenID Connect discovery (then RFC 8414) from the issuer URL. A URL with `{kid}` in it
    /// is a per-`kid` key URL, as [`Issuer::key_url_per_kid`].
    ///
    /// ```
    /// use tower_jwt_auth::{Issuer, JwtAuth};
    /// let auth = JwtAuth::from(
    ///     Issuer::new("https://auth-api.eliq.com")
    ///         .audience("insights-api")
    ///         .jwks_uri("https://auth-api.eliq.com/.well-known/jwks.json"),
    /// );
    /// assert!(auth.validate().is_ok());
    /// ```
    pub fn jwks_uri(mut self, uri: impl Into<String>) -> Self {
        self.jwks_uri = Some(uri.into());
        self
    }

    /// The signature algorithms accepted from this issuer. Defaults to the layer's.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = Some(algorithms.into_iter().collect());
        self
    }

    /// Uses these keys (a JWK set document) for this issuer and never fetches any. Keys for
    /// other uses are skipped with a warning; a set without a usable key is refused.
    ///
    /// ```
    /// use tower_jwt_auth::{Issuer, JwtAuth};
    /// let auth = JwtAuth::from(Issuer::new("https://auth-api.eliq.com").audience("insights-api")
    ///     .jwks(r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#));
    /// assert!(auth.validate().is_ok());
    /// ```
    pub fn jwks(mut self, jwk_set_json: impl Into<String>) -> Self {
        self.jwks = Some(jwk_set_json.into());
        self
    }

    /// Adds a fixed public key in PEM (`PUBLIC KEY` or `RSA PUBLIC KEY`) for one algorithm,
    /// under `kid`; tokens without a `kid` use it when it is the only key for their algorithm.
    /// With fixed keys nothing is ever fetched. Defaults to none (discovery).
    ///
    /// ```
    /// use tower_jwt_auth::{Algorithm, Issuer, JwtAuth};
    /// let auth = JwtAuth::from(Issuer::new("https://auth-api.eliq.com").audience("insights-api").pem_key(
    ///     "k1",
    ///     Algorithm::EdDSA,
    ///     "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n-----END PUBLIC KEY-----\n",
    /// ));
    /// assert!(auth.validate().is_ok());
    /// ```
    pub fn pem_key(
        mut self,
        kid: impl Into<String>,
        alg: Algorithm,
        pem: impl Into<String>,
    ) -> Self {
        self.pem_keys.push(PemKey {
            kid: kid.into(),
            alg,
            pem: pem.into(),
        });
        self
    }

    /// Judges opaque tokens at this issuer's introspection endpoint (RFC 7662), as
    /// [`JwtAuth::introspection`](crate::JwtAuth::introspection) does for the primary issuer:
    /// the response's `iss` (when present) must be this issuer and its `aud` (when present)
    /// this issuer's audience. An opaque token names no issuer, so with several endpoints it
    /// is sent to each in turn (the primary issuer's first, then in the order issuers were
    /// added) until one reports it active; the verdict is cached once for all of them. Not for
    /// a template of tenants (field `add_issuer`).
    ///
    /// ```
    /// use tower_jwt_auth::{Introspection, Issuer, JwtAuth};
    /// let auth = JwtAuth::new("https://oauth.flip.energy", "utility-api").add_issuer(
    ///     Issuer::new("https://legacy-auth.flip.energy")
    ///         .introspection(Introspection::from_metadata("rs-client", "s3cr3t")),
    /// );
    /// assert!(auth.validate().is_ok());
    /// ```
    pub fn introspection(mut self, introspection: Introspection) -> Self {
        self.introspection = Some(introspection);
        self
    }

    /// Trusts this CA certificate (PEM) for this issuer's discovery and key requests, besides
    /// the platform's roots: an identity provider on a private network (a Kubernetes API
    /// server). Ignored when [`KeyFetching::http_client`](crate::KeyFetching::http_client)
    /// supplies the client. Defaults to none.
    pub fn key_fetch_ca(mut self, pem: impl Into<String>) -> Self {
        self.fetch_auth.ca_pem = Some(pem.into());
        self
    }

    /// Sends the content of this file as a bearer token with this issuer's discovery and key
    /// requests, reading it again for every request (a Kubernetes service-account token is
    /// rotated in place). A missing file sends no token. Defaults to none.
    pub fn key_fetch_token_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.fetch_auth.token_file = Some(path.into());
        self
    }

    /// Fetches each key alone, as a PEM document, from this URL with `{kid}` replaced by the
    /// token's `kid` (as AWS load balancers publish theirs); keys are cached and refetched like
    /// a JWK set's, an unknown `kid` costing a bounded number of fetches. Defaults to none
    /// (a JWK set).
    pub fn key_url_per_kid(mut self, template: impl Into<String>) -> Self {
        self.profile.key_url_per_kid = Some(template.into());
        self
    }

    /// The issuer URL, or the template.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl From<&str> for Issuer {
    fn from(url: &str) -> Self {
        Self::new(url)
    }
}

impl From<String> for Issuer {
    fn from(url: String) -> Self {
        Self::new(url)
    }
}

impl From<&String> for Issuer {
    fn from(url: &String) -> Self {
        Self::new(url.as_str())
    }
}

impl fmt::Debug for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issuer")
            .field("url", &self.url)
            .field("tenants", &self.tenants.as_ref().map(Vec::len))
            .field("audiences", &self.audiences)
            .field("role_claims", &self.role_claims)
            .field("jwks_uri", &self.jwks_uri)
            .field("algorithms", &self.algorithms)
            .field("jwks", &self.jwks.as_ref().map(|_| "(configured)"))
            .field("pem_keys", &self.pem_keys.len())
            .field("introspection", &self.introspection)
            .field("provider", &self.profile.provider)
            .finish_non_exhaustive()
    }
}

/// Called with an `iss` no configured issuer matches; `Some` trusts it.
pub(crate) type ResolverFn = dyn Fn(&str) -> Option<Issuer> + Send + Sync;
