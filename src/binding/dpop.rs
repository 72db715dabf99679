//! DPoP (RFC 9449): the configuration ([`Dpop`]) and the check of a request's proof against
//! its access token (§4.3, §7.1), with optional server nonces (§8) and a replay store.
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use super::replay::ReplayStore;
use crate::algorithm::{Algorithm, AlgorithmSet};
use crate::outbound::parse_url;
use crate::reject::ConfigError;

mod proof;

pub(crate) use proof::{DpopVerifier, ProofRequest};

/// How far a proof's `iat` may be from now, by default.
const DEFAULT_IAT_WINDOW: Duration = Duration::from_secs(60);
/// The widest window that may be configured.
const MAX_IAT_WINDOW: Duration = Duration::from_secs(600);
/// How long a server nonce is good for, by default (it is accepted for two such steps).
const DEFAULT_NONCE_STEP: Duration = Duration::from_secs(300);

/// Accepts DPoP-bound access tokens (RFC 9449): `Authorization: DPoP <token>` with a `DPoP`
/// proof header signed by the key the token is bound to (`cnf.jkt`), for this method and URL,
/// fresh and used once. Given to [`JwtAuth::dpop`](crate::JwtAuth::dpop).
///
/// `public_base_url` is the scheme, host and (if any) path prefix clients use to reach the
/// service, as they see it: behind a reverse proxy or load balancer that is the proxy's
/// address, not the one the service listens on. A proof's `htu` must equal it followed by the
/// request's path (query and fragment ignored).
///
/// By default bearer tokens are still accepted beside DPoP (a token bound with `cnf.jkt` never
/// is); [`required`](Dpop::required) refuses them. Proof identifiers are remembered in memory
/// ([`MemoryReplayStore`](crate::replay::MemoryReplayStore)); a fleet of instances shares a
/// `RedisReplayStore` instead.
///
/// ```
/// use tower_jwt_auth::{Dpop, JwtAuth};
/// let auth = JwtAuth::new("https://auth.example.com", "insights-api")
///     .dpop(Dpop::new("https://api.example.com"));
/// let strict = JwtAuth::new("https://auth.example.com", "insights-api")
///     .dpop(Dpop::new("https://api.example.com").required().nonces([7u8; 32]));
/// assert!(auth.validate().is_ok() && strict.validate().is_ok());
/// ```
#[derive(Clone)]
#[must_use = "a `Dpop` does nothing until given to `JwtAuth::dpop`"]
pub struct Dpop {
    base: String,
    required: bool,
    algorithms: AlgorithmSet,
    iat_window: Duration,
    nonce_secret: Option<Arc<[u8]>>,
    nonce_step: Duration,
    store: Option<Arc<dyn ReplayStore>>,
    proofs_per_key: u32,
}

/// Proofs one key may have remembered per replay window, by default.
const DEFAULT_PROOFS_PER_KEY: u32 = 10_000;

impl Dpop {
    /// DPoP for a service that clients reach at `public_base_url` (https, or http on a loopback
    /// host; no query or fragment).
    pub fn new(public_base_url: impl Into<String>) -> Self {
        Self {
            base: public_base_url.into(),
            required: false,
            algorithms: AlgorithmSet::ALL,
            iat_window: DEFAULT_IAT_WINDOW,
            nonce_secret: None,
            nonce_step: DEFAULT_NONCE_STEP,
            store: None,
            proofs_per_key: DEFAULT_PROOFS_PER_KEY,
        }
    }

    /// Refuses bearer tokens (and API keys): every request needs a DPoP-bound token and its
    /// proof; refusals carry only the `DPoP` challenge, and the resource metadata says
    /// `dpop_bound_access_tokens_required`.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// The proof algorithms accepted. Defaults to every algorithm of [`Algorithm::ALL`];
    /// symmetric ones never are.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// How far a proof's `iat` may be from now, either way. Defaults to 60 s; at most 10
    /// minutes. Proof identifiers are remembered for twice as long.
    pub fn iat_window(mut self, window: Duration) -> Self {
        self.iat_window = window;
        self
    }

    /// Turns on server nonces (RFC 9449 §8): a proof must carry a nonce this service issued
    /// (401 `use_dpop_nonce` with a `DPoP-Nonce` header otherwise). Nonces are a MAC over a time
    /// step keyed by `secret` (at least 32 bytes): every instance with the same secret issues
    /// and accepts the same nonces, with no shared state. Nonces bound how long a proof made in
    /// advance stays usable, at the price of one extra round trip per client and step.
    pub fn nonces(mut self, secret: impl AsRef<[u8]>) -> Self {
        self.nonce_secret = Some(secret.as_ref().into());
        self
    }

    /// How long one nonce step lasts (a nonce is accepted in its step and the next). Defaults
    /// to 5 minutes.
    pub fn nonce_lifetime(mut self, step: Duration) -> Self {
        self.nonce_step = step;
        self
    }

    /// Where proof identifiers are remembered. Defaults to a [`MemoryReplayStore`](crate::replay::MemoryReplayStore) of this
    /// layer.
    pub fn replay_store(mut self, store: impl ReplayStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// How many proofs of one key (one `cnf.jkt`) are remembered per replay window (twice
    /// [`iat_window`](Dpop::iat_window)): each key's share of the replay store. Defaults to
    /// 10,000 (about 80 requests a second, sustained, with the default window).
    ///
    /// A client that mints proofs faster is answered **429 Too Many Requests** with
    /// `Retry-After` (the end of its window) until its window ends, and only that client:
    /// every other key keeps its own share, so one client cannot fill the store (whose
    /// capacity, for [`MemoryReplayStore`](crate::replay::MemoryReplayStore), is 1,000,000 entries) and lock the others out.
    /// The count is per instance: with a store shared by a fleet, one key holds at most
    /// `instances × proofs_per_key` entries of it.
    pub fn proofs_per_key(mut self, proofs: u32) -> Self {
        self.proofs_per_key = proofs;
        self
    }

    pub(crate) fn is_required(&self) -> bool {
        self.required
    }

    pub(crate) fn algorithm_names(&self) -> Vec<&'static str> {
        self.algorithms.iter().map(Algorithm::as_str).collect()
    }

    /// The proof algorithms accepted where the layer allows only `allowed` (FAPI 2.0 narrows
    /// the default set to its own).
    pub(crate) fn algorithms_within(&self, allowed: AlgorithmSet) -> AlgorithmSet {
        self.algorithms.and(allowed)
    }

    /// The first unusable setting.
    pub(crate) fn validate(&self) -> Result<Url, ConfigError> {
        let refuse = |why: String| ConfigError::new("dpop", why);
        let url = parse_url(&self.base).map_err(refuse)?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err(refuse(format!(
                "the public base URL {:?} has a query or fragment",
                self.base
            )));
        }
        if self.algorithms.is_empty() {
            return Err(refuse("no proof algorithm is allowed".into()));
        }
        if self.iat_window.is_zero() || self.iat_window > MAX_IAT_WINDOW {
            return Err(refuse(format!(
                "iat_window {:?} is not within 1 s..=10 min",
                self.iat_window
            )));
        }
        if self.nonce_secret.as_ref().is_some_and(|s| s.len() < 32) {
            return Err(refuse("the nonce secret is shorter than 32 bytes".into()));
        }
        if self.proofs_per_key == 0 {
            return Err(refuse(
                "proofs_per_key is 0: no proof could ever be accepted".into(),
            ));
        }
        if self.nonce_step < Duration::from_secs(1) {
            return Err(refuse("nonce_lifetime is shorter than 1 s".into()));
        }
        Ok(url)
    }
}

impl fmt::Debug for Dpop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dpop")
            .field("public_base_url", &self.base)
            .field("required", &self.required)
            .field("algorithms", &self.algorithm_names())
            .field("iat_window", &self.iat_window)
            .field("nonces", &self.nonce_secret.as_ref().map(|_| "(secret)"))
            .field(
                "replay_store",
                &self.store.as_ref().map_or("memory", |_| "(custom)"),
            )
            .field("proofs_per_key", &self.proofs_per_key)
            .finish()
    }
}
