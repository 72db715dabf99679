//! DPoP (RFC 9449): the configuration ([`Dpop`]) and the check of a request's proof against
//! its access token (§4.3, §7.1), with optional server nonces (§8) and a replay store.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::digest;
use http::Method;
use serde_json::{Map, Value};
use url::Url;

use super::nonce::{Nonces, Standing};
use super::quota::{KeyQuota, Over};
use super::replay::{MemoryReplayStore, ReplayStore};
use crate::algorithm::{Algorithm, AlgorithmSet};
use crate::claims::{Confirmation, Grant};
use crate::clock::Clock;
use crate::jose::b64;
use crate::jose::json::StrictObject;
use crate::keys::jwk::{parse_key, RawJwk};
use crate::outbound::parse_url;
use crate::reject::DpopChallenge;
use crate::reject::{shown, AuthError, AuthErrorKind, ConfigError};

/// How far a proof's `iat` may be from now, by default.
const DEFAULT_IAT_WINDOW: Duration = Duration::from_secs(60);
/// The widest window that may be configured.
const MAX_IAT_WINDOW: Duration = Duration::from_secs(600);
/// How long a server nonce is good for, by default (it is accepted for two such steps).
const DEFAULT_NONCE_STEP: Duration = Duration::from_secs(300);
/// The longest `jti` accepted.
const MAX_JTI: usize = 256;
/// How long to wait before retrying when the replay store cannot answer.
const STORE_RETRY: Duration = Duration::from_secs(1);

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
/// ([`MemoryReplayStore`]); a fleet of instances shares a
/// `RedisReplayStore` instead.
///
/// ```
/// use tower_jwt_auth::{Dpop, JwtAuth};
/// let auth = JwtAuth::new("https://auth.example.com", "insights-api")
///     .dpop(Dpop::new("https://api.example.com"));
/// let strict = JwtAuth::new("https://auth.example.com", "insights-api")
///     .dpop(Dpop::new("https://api.example.com").required().nonces([7u8; 32]));
/// assert!(auth.config_error().is_none() && strict.config_error().is_none());
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

    /// Where proof identifiers are remembered. Defaults to a [`MemoryReplayStore`] of this
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
    /// capacity, for [`MemoryReplayStore`], is 1,000,000 entries) and lock the others out.
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

/// The request a proof must match.
pub(crate) struct ProofRequest {
    pub(crate) proof: String,
    pub(crate) method: Method,
    pub(crate) path: String,
}

/// Whether a proof's `htu` names the request's target URI, as RFC 9449 §4.3 compares them:
/// without query and fragment, after RFC 3986 §6.2.2 and §6.2.3 normalization — scheme and
/// host case, the default port, dot segments (all done by the URL parser), and
/// percent-encoding (here: unreserved characters decoded, hex digits in upper case). A `htu`
/// with user information never matches: a target URI has none.
fn same_target(htu: &Url, expected: &Url) -> bool {
    htu.username().is_empty()
        && htu.password().is_none()
        && htu.scheme() == expected.scheme()
        && htu.host_str() == expected.host_str()
        && htu.port_or_known_default() == expected.port_or_known_default()
        && normalized_path(htu.path()) == normalized_path(expected.path())
}

/// A path with RFC 3986 §6.2.2.1–2 percent-encoding normalization: `%XX` of an unreserved
/// character decoded, other escapes' hex digits in upper case.
fn normalized_path(path: &str) -> std::borrow::Cow<'_, str> {
    if !path.contains('%') {
        return path.into();
    }
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                // Two hex digits make one byte; both are below 16.
                let byte = u8::try_from(hi * 16 + lo).unwrap_or(0);
                if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
                    out.push(char::from(byte));
                } else {
                    out.push('%');
                    out.push_str(&path[i + 1..i + 3].to_ascii_uppercase());
                }
                i += 3;
            }
            _ => {
                // `path` is ASCII after URL parsing, so one byte is one character.
                out.push(char::from(bytes[i]));
                i += 1;
            }
        }
    }
    out.into()
}

/// How long a proof identifier is remembered: twice the `iat` window, so that a proof is
/// remembered for as long as it could be accepted.
fn replay_ttl(window_s: u64) -> Duration {
    Duration::from_secs(window_s * 2)
}

/// [`Dpop`], ready: the base URL parsed, the nonce key, the store.
pub(crate) struct DpopVerifier {
    base: Url,
    required: bool,
    algorithms: AlgorithmSet,
    window_s: u64,
    nonces: Option<Nonces>,
    store: Arc<dyn ReplayStore>,
    /// Each key's share of the store.
    quota: KeyQuota,
    clock: Arc<dyn Clock>,
    challenge: DpopChallenge,
}

fn invalid(context: impl Into<Arc<str>>) -> AuthError {
    AuthError::new(AuthErrorKind::InvalidDpopProof).with_context(context)
}

impl DpopVerifier {
    /// `allowed`: the proof algorithms the layer's profile permits at all.
    pub(crate) fn new(
        config: &Dpop,
        allowed: AlgorithmSet,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConfigError> {
        let base = config.validate()?;
        let algorithms = config.algorithms_within(allowed);
        let step_ms = u64::try_from(config.nonce_step.as_millis()).unwrap_or(u64::MAX);
        let window_s = config.iat_window.as_secs().max(1);
        Ok(Self {
            base,
            required: config.required,
            algorithms,
            window_s,
            quota: KeyQuota::new(config.proofs_per_key, replay_ttl(window_s)),
            nonces: config
                .nonce_secret
                .as_ref()
                .map(|s| Nonces::new(s, step_ms)),
            store: config
                .store
                .clone()
                .unwrap_or_else(|| Arc::new(MemoryReplayStore::new())),
            clock,
            challenge: DpopChallenge {
                algs: algorithms.names().into(),
                required: config.required,
            },
        })
    }

    pub(crate) fn required(&self) -> bool {
        self.required
    }

    pub(crate) fn challenge(&self) -> &DpopChallenge {
        &self.challenge
    }

    /// The URL a proof's `htu` must name for `path`.
    fn htu(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        let joined = format!("{}{path}", self.base.path().trim_end_matches('/'));
        url.set_path(&joined);
        url
    }

    /// Checks the proof of a request whose token was verified into `grant`. On success, the
    /// nonce to hand the client when its nonce is about to go stale.
    pub(crate) async fn check(
        &self,
        grant: &Grant,
        token: &str,
        request: &ProofRequest,
    ) -> Result<Option<Arc<str>>, AuthError> {
        let Confirmation::Jkt(jkt) = grant.confirmation() else {
            return Err(AuthError::new(AuthErrorKind::NotDpopBound)
                .with_context("a token without `cnf.jkt` was presented with the DPoP scheme"));
        };
        let now_ms = self.clock.now_millis();
        let proof = self.verify_proof(&request.proof)?;
        let claims = &proof.claims;
        let text = |name: &str| match claims.get(name) {
            Some(Value::String(s)) => Ok(s.as_str()),
            Some(_) => Err(invalid(format!("the proof's `{name}` is not a string"))),
            None => Err(invalid(format!("the proof has no `{name}` claim"))),
        };
        let jti = text("jti")?;
        if jti.is_empty() || jti.len() > MAX_JTI {
            return Err(invalid(
                "the proof's `jti` is empty or longer than 256 bytes",
            ));
        }
        let htm = text("htm")?;
        if htm != request.method.as_str() {
            return Err(invalid(format!(
                "the proof's htm {} is not the request's method {}",
                shown(htm),
                request.method
            )));
        }
        let htu = text("htu")?;
        let expected = self.htu(&request.path);
        let matches = Url::parse(htu)
            .ok()
            .is_some_and(|u| same_target(&u, &expected));
        if !matches {
            return Err(invalid(format!(
                "the proof's htu {} is not {}",
                shown(htu),
                shown(expected.as_str())
            )));
        }
        let iat = match claims.get("iat") {
            Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
            Some(_) => return Err(invalid("the proof's `iat` is not a number")),
            None => return Err(invalid("the proof has no `iat` claim")),
        };
        let now_s = (now_ms / 1000) as f64;
        if !iat.is_finite() || (iat - now_s).abs() > self.window_s as f64 {
            return Err(invalid(format!(
                "the proof's iat {iat} is more than {} s from now ({now_s})",
                self.window_s
            )));
        }
        let ath = text("ath")?;
        let hash = digest::digest(&digest::SHA256, token.as_bytes());
        if ath != b64::encode(hash.as_ref()) {
            return Err(invalid(
                "the proof's `ath` is not the hash of this access token",
            ));
        }
        if proof.thumbprint != **jkt {
            return Err(invalid(
                "the proof's key is not the one the token is bound to (cnf.jkt)",
            ));
        }
        let next_nonce = match &self.nonces {
            None => None,
            Some(nonces) => {
                let fresh = || -> Arc<str> { nonces.current(now_ms).into() };
                let standing = match claims.get("nonce") {
                    Some(Value::String(n)) => nonces.check(n, now_ms),
                    _ => None,
                };
                match standing {
                    Some(Standing::Current) => None,
                    Some(Standing::Previous) => Some(fresh()),
                    None => {
                        return Err(AuthError::new(AuthErrorKind::UseDpopNonce)
                            .with_context("the proof lacks the server's current nonce")
                            .with_dpop_nonce(fresh()))
                    }
                }
            }
        };
        // Last, so that a proof refused for another reason does not use up its `jti`.
        let mut key_input = Vec::with_capacity(jkt.len() + 1 + jti.len());
        key_input.extend_from_slice(jkt.as_bytes());
        key_input.push(0);
        key_input.extend_from_slice(jti.as_bytes());
        let key = b64::encode(digest::digest(&digest::SHA256, &key_input).as_ref());
        match self.quota.admit(jkt, now_ms) {
            Ok(()) => {}
            Err(Over::Key(ends_in)) => {
                return Err(AuthError::new(AuthErrorKind::TooManyProofs)
                    .with_context(format!(
                        "the DPoP key {} has used its share of the replay store ({} s window)",
                        shown(jkt),
                        replay_ttl(self.window_s).as_secs()
                    ))
                    .with_retry_after(ends_in.max(Duration::from_secs(1))))
            }
            Err(Over::Keys) => {
                return Err(AuthError::new(AuthErrorKind::ValidationUnavailable)
                    .with_context("more DPoP keys sent proofs within one window than are tracked")
                    .with_retry_after(STORE_RETRY))
            }
        }
        match self
            .store
            .first_use(&key, now_ms, replay_ttl(self.window_s))
            .await
        {
            Ok(true) => Ok(next_nonce),
            Ok(false) => Err(invalid(format!(
                "the proof's jti {} was already used",
                shown(jti)
            ))),
            Err(e) => Err(AuthError::new(AuthErrorKind::ValidationUnavailable)
                .with_context("the DPoP replay store could not be reached")
                .with_source(e)
                .with_retry_after(STORE_RETRY)),
        }
    }

    /// The proof's header rules, its key and its signature.
    fn verify_proof(&self, proof: &str) -> Result<Proof, AuthError> {
        let mut parts = proof.split('.');
        let (Some(h), Some(p), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid("the proof is not a compact JWS"));
        };
        let decode = |segment: &str, what: &str| {
            b64::decode(segment)
                .map_err(|_| invalid(format!("the proof's {what} is not base64url")))
        };
        let object = |bytes: &[u8], what: &str| -> Result<Map<String, Value>, AuthError> {
            serde_json::from_slice::<StrictObject>(bytes)
                .map(|o| o.0)
                .map_err(|_| {
                    invalid(format!(
                        "the proof's {what} is not a JSON object with distinct member names"
                    ))
                })
        };
        let header = object(&decode(h, "header")?, "header")?;
        match header.get("typ") {
            Some(Value::String(t)) if t.eq_ignore_ascii_case("dpop+jwt") => {}
            _ => return Err(invalid("the proof's `typ` is not dpop+jwt")),
        }
        if header.contains_key("crit") {
            return Err(invalid("the proof has critical header extensions"));
        }
        if let Some(pointer) = ["jku", "x5u", "x5c"]
            .iter()
            .find(|m| header.contains_key(**m))
        {
            // The key is the one in `jwk` (RFC 9449 §4.2); a key a proof points at or carries
            // in another form is never fetched nor trusted.
            return Err(invalid(format!(
                "the proof's header has `{pointer}`: its key must come from `jwk` alone"
            )));
        }
        let alg = match header.get("alg") {
            Some(Value::String(name)) => Algorithm::from_name(name)
                .filter(|a| self.algorithms.contains(*a))
                .ok_or_else(|| {
                    invalid(format!(
                        "proof alg {} is not allowed (allowed: {})",
                        shown(name),
                        self.algorithms.names()
                    ))
                })?,
            _ => return Err(invalid("the proof has no `alg`")),
        };
        let Some(jwk) = header.get("jwk").filter(|j| j.is_object()) else {
            return Err(invalid("the proof has no `jwk` object"));
        };
        let jwk: RawJwk = serde_json::from_value(jwk.clone())
            .map_err(|_| invalid("the proof's `jwk` is not a JWK"))?;
        let thumbprint = jwk
            .thumbprint()
            .ok_or_else(|| invalid("the proof's `jwk` is not a public RSA, EC or OKP key"))?;
        let key = parse_key(jwk, AlgorithmSet::only(alg))
            .map_err(|why| invalid(format!("the proof's `jwk` is unusable: {why}")))?;
        let verifier = key
            .verifier(alg)
            .ok_or_else(|| invalid(format!("the proof's `jwk` cannot verify {alg}")))?;
        let signature = decode(sig, "signature")?;
        let signing_input = &proof[..h.len() + 1 + p.len()];
        if verifier
            .verify_sig(signing_input.as_bytes(), &signature)
            .is_err()
        {
            return Err(invalid("the proof's signature does not verify"));
        }
        let claims = object(&decode(p, "payload")?, "claims")?;
        Ok(Proof { claims, thumbprint })
    }
}

/// A proof whose signature holds under its own key.
struct Proof {
    claims: Map<String, Value>,
    thumbprint: String,
}

impl fmt::Debug for DpopVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopVerifier")
            .field("base", &self.base.as_str())
            .field("required", &self.required)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod htu_tests {
    use super::*;

    #[test]
    fn targets_compare_after_rfc_3986_normalization() {
        let expected = Url::parse("https://api.example.com/v1/usage~x").unwrap();
        for same in [
            "https://api.example.com/v1/usage~x",
            "HTTPS://API.Example.COM/v1/usage~x",
            "https://api.example.com:443/v1/usage~x",
            "https://api.example.com/v1/%75sage%7Ex",
            "https://api.example.com/v1/%75sage%7ex",
            "https://api.example.com/v1/./a/../usage~x",
            "https://api.example.com/v1/usage~x?q=1#f",
        ] {
            let htu = Url::parse(same).unwrap();
            assert!(same_target(&htu, &expected), "{same}");
        }
        for other in [
            "http://api.example.com/v1/usage~x",
            "https://api.example.com:8443/v1/usage~x",
            "https://user@api.example.com/v1/usage~x",
            "https://user:pw@api.example.com/v1/usage~x",
            "https://api.example.com/v1/usage~x/",
            "https://api.example.com/v1/Usage~x",
            "https://api.example.com/v1/usage%2Fx",
            "https://api.example.com.evil/v1/usage~x",
        ] {
            let htu = Url::parse(other).unwrap();
            assert!(!same_target(&htu, &expected), "{other}");
        }
        assert_eq!(normalized_path("/a%2fb%zz%4"), "/a%2Fb%zz%4");
    }
}
