//! The inert configuration behind [`JwtAuth`](crate::JwtAuth): plain values with their
//! defaults, validated in one place when the authenticator is built.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::algorithm::{Algorithm, AlgorithmSet};
use crate::binding::Dpop;
use crate::clock::{Clock, SystemClock};
use crate::credential::api_key::Prefixes;
use crate::issuer::{Issuer, ResolverFn};
use crate::keys::CachePolicy;
use crate::metadata::ResourceMetadata;
use crate::outbound::FetchLimits;
use crate::policy::roles::RoleClaims;
use crate::reject::ConfigError;

/// Clock skew tolerated on `exp`, `nbf` and `iat`.
pub(crate) const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);
/// The most leeway that may be configured.
pub(crate) const MAX_LEEWAY: Duration = Duration::from_secs(600);
/// The longest bearer `Authorization` header (and token) read.
pub(crate) const DEFAULT_MAX_TOKEN_SIZE: usize = 8 * 1024;
/// The longest lifetime (`exp - iat`) accepted.
pub(crate) const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// Verified tokens remembered.
pub(crate) const DEFAULT_TOKEN_CACHE: u64 = 10_000;

/// What verification needs: everything but the per-layer policy. Changing any of it makes a
/// new authenticator; policy-only changes keep the one already built.
#[derive(Clone)]
pub(crate) struct Config {
    /// The issuer given to `JwtAuth::new`, with the key settings of `jwks_uri`, `jwks` and
    /// `pem_key`; its audience and algorithms are the layer's (below).
    pub(crate) primary: Issuer,
    pub(crate) audience: String,
    pub(crate) leeway: Duration,
    pub(crate) max_token_size: usize,
    pub(crate) max_lifetime: Option<Duration>,
    pub(crate) strict_rfc9068: bool,
    pub(crate) algorithms: AlgorithmSet,
    pub(crate) http_client: Option<reqwest::Client>,
    pub(crate) fetch: FetchLimits,
    pub(crate) cache: CachePolicy,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) token_cache: u64,
    pub(crate) cache_file: Option<std::path::PathBuf>,
    /// Issuers beside the primary one.
    pub(crate) issuers: Vec<Issuer>,
    pub(crate) resolver: Option<Arc<ResolverFn>>,
    /// API-key validators by prefix.
    pub(crate) api_keys: Prefixes,
    /// Where roles are read from.
    pub(crate) role_claims: RoleClaims,
    /// What the resource publishes about itself (RFC 9728).
    pub(crate) resource_metadata: Option<ResourceMetadata>,
    /// DPoP (RFC 9449), when accepted.
    pub(crate) dpop: Option<Dpop>,
    /// Whether tokens bound to a client certificate (RFC 8705) are accepted with it.
    pub(crate) certificate_bound: bool,
    /// Opaque tokens no prefix routes are shown to every unprefixed introspection endpoint in
    /// turn, instead of to the one default.
    pub(crate) introspection_in_turn: bool,
    /// The FAPI 2.0 resource-server rules: FAPI algorithms, sender-constrained tokens only.
    pub(crate) fapi2: bool,
}

/// The signature algorithms FAPI 2.0 allows.
pub(crate) const FAPI2_ALGORITHMS: AlgorithmSet =
    AlgorithmSet::of(&[Algorithm::PS256, Algorithm::ES256, Algorithm::EdDSA]);

impl Config {
    /// What the binding rules are built from.
    pub(crate) fn binding_setup(&self) -> crate::binding::Setup<'_> {
        crate::binding::Setup {
            dpop: self.dpop.as_ref(),
            proof_algorithms: self.proof_algorithms(),
            certificates: self.certificate_bound,
            sender_constrained: self.fapi2,
        }
    }

    /// What the registry of trusted issuers is built from.
    pub(crate) fn issuer_setup(&self) -> crate::issuer::Setup<'_> {
        crate::issuer::Setup {
            primary: &self.primary,
            added: &self.issuers,
            resolver: self.resolver.as_ref(),
            base: crate::jwt::Rules {
                issuer: std::sync::Arc::from(self.primary.url.as_str()),
                audience: self.audience.clone(),
                leeway: self.leeway.as_secs(),
                max_lifetime: self.max_lifetime.map(|d| d.as_secs()),
                strict_rfc9068: self.strict_rfc9068,
                algorithms: self.algorithms,
                roles: std::sync::Arc::new(self.role_claims.clone()),
            },
            fetch: &self.fetch,
            http_client: self.http_client.as_ref(),
            clock: &self.clock,
            cache: &self.cache,
            cache_file: self.cache_file.as_deref(),
        }
    }

    pub(crate) fn new(issuer: String, audience: String) -> Self {
        Self {
            primary: Issuer::new(issuer),
            audience,
            leeway: DEFAULT_LEEWAY,
            max_token_size: DEFAULT_MAX_TOKEN_SIZE,
            max_lifetime: Some(DEFAULT_MAX_LIFETIME),
            strict_rfc9068: false,
            algorithms: AlgorithmSet::ALL,
            http_client: None,
            fetch: FetchLimits::default(),
            cache: CachePolicy::default(),
            clock: Arc::new(SystemClock),
            token_cache: DEFAULT_TOKEN_CACHE,
            cache_file: None,
            issuers: Vec::new(),
            resolver: None,
            api_keys: Prefixes::default(),
            resource_metadata: None,
            role_claims: RoleClaims::default(),
            dpop: None,
            certificate_bound: false,
            introspection_in_turn: false,
            fapi2: false,
        }
    }

    /// Checks the values every issuer shares; the issuers themselves (URL, audience,
    /// algorithms, keys) are checked when the registry is built. The first unusable value is the error, naming the builder method it
    /// came from.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.leeway > MAX_LEEWAY {
            return Err(ConfigError::new(
                "leeway",
                format!("{:?} is more than the 10 minutes allowed", self.leeway),
            ));
        }
        if self
            .cache_file
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            return Err(ConfigError::new("jwks_cache_file", "the path is empty"));
        }
        if self.max_token_size == 0 {
            return Err(ConfigError::new("max_token_size", "must be more than 0"));
        }
        if self.fetch.max_bytes == 0 {
            return Err(ConfigError::new("max_jwks_size", "must be more than 0"));
        }
        if self.fetch.connect_timeout.is_zero() || self.fetch.total_timeout.is_zero() {
            return Err(ConfigError::new("fetch_timeouts", "must be more than 0"));
        }
        self.api_keys.validate()?;
        if let Some(dpop) = &self.dpop {
            dpop.validate()?;
        }
        if let Some(meta) = &self.resource_metadata {
            meta.validate(&self.audience)?;
        }
        let issuers = std::iter::once(&self.primary).chain(&self.issuers);
        for introspection in issuers.filter_map(|i| i.introspection.as_ref()) {
            introspection.validate()?;
        }
        if self.fapi2 {
            self.validate_fapi2()?;
        }
        let c = &self.cache;
        if c.ttl_floor > c.ttl_ceiling {
            return Err(ConfigError::new(
                "jwks_cache_ttl",
                format!(
                    "the floor ({:?}) is above the ceiling ({:?})",
                    c.ttl_floor, c.ttl_ceiling
                ),
            ));
        }
        Ok(())
    }
}

impl Config {
    /// FAPI 2.0: a way to bind tokens, and no algorithm outside the profile's.
    fn validate_fapi2(&self) -> Result<(), ConfigError> {
        let refuse = |why: String| Err(ConfigError::new("fapi2", why));
        if self.dpop.is_none() && !self.certificate_bound {
            return refuse(
                "FAPI 2.0 accepts only sender-constrained tokens: configure dpop(..) and/or \
                 certificate_bound_tokens()"
                    .into(),
            );
        }
        if !self.strict_rfc9068 {
            return refuse("FAPI 2.0 needs strict RFC 9068".into());
        }
        let outside = |set: AlgorithmSet| set.iter().find(|a| !FAPI2_ALGORITHMS.contains(*a));
        let issuers = std::iter::once(&self.primary).chain(&self.issuers);
        let sets = std::iter::once(self.algorithms).chain(issuers.filter_map(|i| i.algorithms));
        for set in sets {
            if let Some(alg) = outside(set) {
                return refuse(format!(
                    "{alg} is not allowed by FAPI 2.0 (PS256, ES256 and EdDSA are)"
                ));
            }
        }
        if self
            .dpop
            .as_ref()
            .is_some_and(|d| d.algorithms_within(FAPI2_ALGORITHMS).is_empty())
        {
            return refuse(
                "no DPoP proof algorithm is allowed by FAPI 2.0 (PS256, ES256 and EdDSA are)"
                    .into(),
            );
        }
        Ok(())
    }

    /// The DPoP proof algorithms accepted: the configured ones, narrowed to FAPI 2.0's under
    /// that profile.
    pub(crate) fn proof_algorithms(&self) -> AlgorithmSet {
        if self.fapi2 {
            FAPI2_ALGORITHMS
        } else {
            AlgorithmSet::ALL
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let primary = &self.primary;
        f.debug_struct("Config")
            .field("issuer", &primary.url)
            .field("audience", &self.audience)
            .field("leeway", &self.leeway)
            .field("algorithms", &self.algorithms)
            .field("jwks_uri", &primary.jwks_uri)
            .field("fixed_jwks", &primary.jwks.as_ref().map(|_| "(configured)"))
            .field("pem_keys", &primary.pem_keys.len())
            .field("issuers", &self.issuers)
            .field("resolver", &self.resolver.as_ref().map(|_| "(closure)"))
            .field("introspection", &self.primary.introspection)
            .field("api_key_prefixes", &self.api_keys)
            .field("resource_metadata", &self.resource_metadata)
            .field("dpop", &self.dpop)
            .field("certificate_bound_tokens", &self.certificate_bound)
            .field("introspection_in_turn", &self.introspection_in_turn)
            .field("fapi2", &self.fapi2)
            .finish_non_exhaustive()
    }
}
