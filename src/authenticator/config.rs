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

use super::options::{Caches, KeyFetching, TokenRules};

/// The most leeway that may be configured.
pub(crate) const MAX_LEEWAY: Duration = Duration::from_secs(600);

/// What verification needs: everything but the per-layer policy. Changing any of it makes a
/// new authenticator; policy-only changes keep the one already built.
#[derive(Clone)]
pub(crate) struct Config {
    /// The issuer given to `JwtAuth::new` or `JwtAuth::from`: its audiences and role claims
    /// are the defaults of the others.
    pub(crate) primary: Issuer,
    pub(crate) rules: TokenRules,
    pub(crate) fetching: KeyFetching,
    pub(crate) caches: Caches,
    pub(crate) clock: Arc<dyn Clock>,
    /// Issuers beside the primary one.
    pub(crate) issuers: Vec<Issuer>,
    pub(crate) resolver: Option<Arc<ResolverFn>>,
    /// API-key validators by prefix.
    pub(crate) api_keys: Prefixes,
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
    /// Credentials refused before their `exp`.
    pub(crate) revocations: Option<crate::revocation::Revocations>,
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
                issuer: Arc::from(self.primary.url.as_str()),
                audiences: self
                    .audiences()
                    .iter()
                    .map(|a| Box::from(a.as_str()))
                    .collect(),
                leeway: self.rules.leeway.as_secs(),
                max_lifetime: self.rules.max_lifetime.map(|d| d.as_secs()),
                strict_rfc9068: self.strict_rfc9068(),
                algorithms: self.algorithms(),
                // Checked by `validate`; the others inherit the primary's paths.
                roles: Arc::new(
                    (self.primary.role_claims.as_ref())
                        .and_then(|paths| RoleClaims::new(paths).ok())
                        .unwrap_or_default(),
                ),
                profile: Arc::default(),
            },
            fetch: FetchLimits {
                connect_timeout: self.fetching.connect_timeout,
                total_timeout: self.fetching.timeout,
                max_bytes: self.fetching.max_document_size,
            },
            http_client: self.fetching.http_client.as_ref(),
            clock: &self.clock,
            cache: CachePolicy {
                ttl_floor: self.caches.jwks_ttl_floor,
                ttl_ceiling: self.caches.jwks_ttl_ceiling,
                ttl_default: self.caches.jwks_ttl,
                max_stale: self.caches.jwks_max_stale,
                unknown_kid_cooldown: self.fetching.unknown_kid_cooldown,
                wait_budget: self.fetching.key_wait_budget,
                unknown_kid_wait: self.fetching.unknown_kid_wait,
                ..CachePolicy::default()
            },
            cache_file: self.caches.jwks_file.as_deref(),
        }
    }

    /// The primary issuer's audiences (every issuer's unless it sets its own); the first is
    /// "the" audience. Empty only in a configuration that fails validation.
    pub(crate) fn audiences(&self) -> &[String] {
        self.primary.audiences.as_deref().unwrap_or_default()
    }

    /// The audience where one is meant (realm, RFC 9728 resource).
    pub(crate) fn audience(&self) -> &str {
        self.audiences().first().map_or("", String::as_str)
    }

    /// Strict RFC 9068, as configured or required by FAPI 2.0.
    pub(crate) fn strict_rfc9068(&self) -> bool {
        self.rules.strict_rfc9068 || self.fapi2
    }

    /// The algorithms accepted: the configured ones; under FAPI 2.0 the default (all) narrows
    /// to the profile's, and an explicit set must lie within it (checked in `validate`).
    pub(crate) fn algorithms(&self) -> AlgorithmSet {
        let set: AlgorithmSet = self.rules.algorithms.iter().copied().collect();
        if self.fapi2 && set == AlgorithmSet::ALL {
            FAPI2_ALGORITHMS
        } else {
            set
        }
    }

    pub(crate) fn new(primary: Issuer) -> Self {
        Self {
            primary,
            rules: TokenRules::default(),
            fetching: KeyFetching::default(),
            caches: Caches::default(),
            clock: Arc::new(SystemClock),
            issuers: Vec::new(),
            resolver: None,
            api_keys: Prefixes::default(),
            resource_metadata: None,
            dpop: None,
            certificate_bound: false,
            introspection_in_turn: false,
            fapi2: false,
            revocations: None,
        }
    }

    /// Checks the values every issuer shares; the issuers themselves (URL, audience,
    /// algorithms, keys) are checked when the registry is built. The first unusable value is the error, naming the builder method it
    /// came from.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.primary.audiences.is_none() {
            return Err(ConfigError::new(
                "audience",
                format!(
                    "issuer {}: the layer's issuer needs an audience (Issuer::audience)",
                    crate::reject::shown(&self.primary.url)
                ),
            ));
        }
        if self.primary.tenants.is_some() {
            return Err(ConfigError::new(
                "issuer",
                format!(
                    "{} is a template of tenants: give it to add_issuer, beside the layer's own issuer",
                    crate::reject::shown(&self.primary.url)
                ),
            ));
        }
        let rules = &self.rules;
        if rules.leeway > MAX_LEEWAY {
            return Err(ConfigError::new(
                "leeway",
                format!("{:?} is more than the 10 minutes allowed", rules.leeway),
            ));
        }
        if rules.max_token_size == 0 {
            return Err(ConfigError::new("max_token_size", "must be more than 0"));
        }
        if self
            .caches
            .jwks_file
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            return Err(ConfigError::new("jwks_file", "the path is empty"));
        }
        let fetching = &self.fetching;
        if fetching.max_document_size == 0 {
            return Err(ConfigError::new("max_document_size", "must be more than 0"));
        }
        if fetching.connect_timeout.is_zero() {
            return Err(ConfigError::new("connect_timeout", "must be more than 0"));
        }
        if fetching.timeout.is_zero() {
            return Err(ConfigError::new("timeout", "must be more than 0"));
        }
        if let Some(paths) = &self.primary.role_claims {
            RoleClaims::new(paths)?;
        }
        self.api_keys.validate()?;
        if let Some(dpop) = &self.dpop {
            dpop.validate()?;
        }
        if let Some(meta) = &self.resource_metadata {
            meta.validate(self.audience())?;
        }
        let issuers = std::iter::once(&self.primary).chain(&self.issuers);
        for introspection in issuers.filter_map(|i| i.introspection.as_ref()) {
            introspection.validate()?;
        }
        if self.fapi2 {
            self.validate_fapi2()?;
        }
        let c = &self.caches;
        if c.jwks_ttl_floor > c.jwks_ttl_ceiling {
            return Err(ConfigError::new(
                "jwks_ttl_floor",
                format!(
                    "the floor ({:?}) is above the ceiling ({:?})",
                    c.jwks_ttl_floor, c.jwks_ttl_ceiling
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
        let outside = |set: AlgorithmSet| set.iter().find(|a| !FAPI2_ALGORITHMS.contains(*a));
        let issuers = std::iter::once(&self.primary).chain(&self.issuers);
        let sets = std::iter::once(self.algorithms()).chain(issuers.filter_map(|i| i.algorithms));
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
            .field("audiences", &primary.audiences)
            .field("rules", &self.rules)
            .field("jwks_uri", &primary.jwks_uri)
            .field("fixed_jwks", &primary.jwks.as_ref().map(|_| "(configured)"))
            .field("pem_keys", &primary.pem_keys.len())
            .field("fetching", &self.fetching)
            .field("caches", &self.caches)
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
