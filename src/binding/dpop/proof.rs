//! The check of a request's DPoP proof against its access token (RFC 9449 §4.3, §7.1), with
//! server nonces (§8), each key's share of the replay store, and the replay store itself.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::digest;
use http::Method;
use serde_json::{Map, Value};
use url::Url;

use super::Dpop;
use crate::algorithm::{Algorithm, AlgorithmSet};
use crate::binding::nonce::{Nonces, Standing};
use crate::binding::quota::{KeyQuota, Over};
use crate::binding::replay::{MemoryReplayStore, ReplayStore};
use crate::claims::{Confirmation, Grant};
use crate::clock::Clock;
use crate::jose::b64;
use crate::jose::json::StrictObject;
use crate::keys::jwk::{parse_key, RawJwk};
use crate::reject::DpopChallenge;
use crate::reject::{shown, AuthError, AuthErrorKind, ConfigError};

/// The longest `jti` accepted.
const MAX_JTI: usize = 256;
/// How long to wait before retrying when the replay store cannot answer.
const STORE_RETRY: Duration = Duration::from_secs(1);

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
