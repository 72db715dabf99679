//! The inert configuration behind [`JwtAuth`](crate::JwtAuth): plain values with their
//! defaults, validated in one place when the authenticator is built.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::algorithm::{Algorithm, AlgorithmSet};
use crate::clock::{Clock, SystemClock};
use crate::error::ConfigError;
use crate::http::{parse_url, FetchLimits};
use crate::keys::jwk::{self, Key};
use crate::keys::persist::CacheFile;
use crate::keys::{pem, CachePolicy, KeySet, Origin};

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
    pub(crate) issuer: String,
    pub(crate) audience: String,
    pub(crate) leeway: Duration,
    pub(crate) max_token_size: usize,
    pub(crate) max_lifetime: Option<Duration>,
    pub(crate) strict_rfc9068: bool,
    pub(crate) algorithms: AlgorithmSet,
    pub(crate) jwks_uri: Option<String>,
    pub(crate) fixed_jwks: Option<String>,
    pub(crate) pem_keys: Vec<PemKey>,
    pub(crate) http_client: Option<reqwest::Client>,
    pub(crate) fetch: FetchLimits,
    pub(crate) cache: CachePolicy,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) token_cache: u64,
    pub(crate) cache_file: Option<std::path::PathBuf>,
}

/// A fixed key given in PEM.
#[derive(Clone)]
pub(crate) struct PemKey {
    pub(crate) kid: String,
    pub(crate) alg: Algorithm,
    pub(crate) pem: String,
}

/// Where the validated configuration takes its keys from.
pub(crate) struct KeyOrigin {
    pub(crate) origin: Origin,
    pub(crate) fixed: Option<KeySet>,
    pub(crate) file: Option<CacheFile>,
}

impl Config {
    pub(crate) fn new(issuer: String, audience: String) -> Self {
        Self {
            issuer,
            audience,
            leeway: DEFAULT_LEEWAY,
            max_token_size: DEFAULT_MAX_TOKEN_SIZE,
            max_lifetime: Some(DEFAULT_MAX_LIFETIME),
            strict_rfc9068: false,
            algorithms: AlgorithmSet::ALL,
            jwks_uri: None,
            fixed_jwks: None,
            pem_keys: Vec::new(),
            http_client: None,
            fetch: FetchLimits::default(),
            cache: CachePolicy::default(),
            clock: Arc::new(SystemClock),
            token_cache: DEFAULT_TOKEN_CACHE,
            cache_file: None,
        }
    }

    /// Checks every value and parses fixed keys. The first unusable value is the error, naming
    /// the builder method it came from.
    pub(crate) fn validate(&self) -> Result<KeyOrigin, ConfigError> {
        let issuer_url = parse_url(&self.issuer).map_err(|e| ConfigError::new("issuer", e))?;
        if self.audience.is_empty() {
            return Err(ConfigError::new("audience", "must not be empty"));
        }
        if self.leeway > MAX_LEEWAY {
            return Err(ConfigError::new(
                "leeway",
                format!("{:?} is more than the 10 minutes allowed", self.leeway),
            ));
        }
        if self.algorithms.is_empty() {
            return Err(ConfigError::new(
                "algorithms",
                "at least one algorithm is required",
            ));
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
        if self.fixed_jwks.is_some() || !self.pem_keys.is_empty() {
            let keys = self.fixed_keys()?;
            return Ok(KeyOrigin {
                origin: Origin::Fixed,
                fixed: Some(KeySet::fixed(keys)),
                file: None,
            });
        }
        let (origin, source) = match &self.jwks_uri {
            Some(uri) => {
                let url = parse_url(uri).map_err(|e| ConfigError::new("jwks_uri", e))?;
                let source = url.to_string();
                (Origin::JwksUri(url), source)
            }
            None => {
                let origin = Origin::Discovery {
                    issuer: self.issuer.clone(),
                    issuer_url,
                };
                (origin, self.issuer.clone())
            }
        };
        let file = match &self.cache_file {
            Some(path) if path.as_os_str().is_empty() => {
                return Err(ConfigError::new("jwks_cache_file", "the path is empty"))
            }
            Some(path) => Some(CacheFile {
                path: path.clone(),
                issuer: self.issuer.clone(),
                source,
            }),
            None => None,
        };
        Ok(KeyOrigin {
            origin,
            fixed: None,
            file,
        })
    }

    /// The keys given by [`jwks`](crate::JwtAuth::jwks) and
    /// [`pem_key`](crate::JwtAuth::pem_key). A JWK set copied from a provider may hold keys for
    /// other uses (encryption): those are skipped with a warning, as in fetched sets, but a set
    /// with no usable key, or an unusable PEM key, is an error.
    fn fixed_keys(&self) -> Result<Vec<Key>, ConfigError> {
        let mut keys = Vec::new();
        if let Some(json) = &self.fixed_jwks {
            let (parsed, skipped) = jwk::parse_set(json.as_bytes(), self.algorithms)
                .map_err(|e| ConfigError::new("jwks", e))?;
            if parsed.is_empty() {
                let why = skipped.first().map_or_else(
                    || "it holds no key".to_owned(),
                    |s| {
                        format!(
                            "key {:?} is unusable: {}",
                            s.kid.as_deref().unwrap_or("(none)"),
                            s.reason
                        )
                    },
                );
                return Err(ConfigError::new("jwks", format!("no usable key: {why}")));
            }
            for s in &skipped {
                tracing::warn!(kid = s.kid.as_deref().unwrap_or("(none)"), reason = %s.reason, "configured JWK skipped");
            }
            keys.extend(parsed);
        }
        for PemKey { kid, alg, pem } in &self.pem_keys {
            if !self.algorithms.contains(*alg) {
                return Err(ConfigError::new(
                    "pem_key",
                    format!("key {kid:?}: {alg} is not an allowed algorithm"),
                ));
            }
            let key = pem::from_pem(kid, *alg, pem)
                .map_err(|e| ConfigError::new("pem_key", format!("key {kid:?}: {e}")))?;
            keys.push(key);
        }
        Ok(keys)
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway", &self.leeway)
            .field("algorithms", &self.algorithms)
            .field("jwks_uri", &self.jwks_uri)
            .field(
                "fixed_jwks",
                &self.fixed_jwks.as_ref().map(|_| "(configured)"),
            )
            .field("pem_keys", &self.pem_keys.len())
            .finish_non_exhaustive()
    }
}
