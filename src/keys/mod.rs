//! The key for `(issuer, kid)`: discovery → `jwks_uri` → JWK set, parsed once, cached.
//!
//! # Refresh and fault model
//!
//! - **First use** (or [`JwtAuth::ready`](crate::JwtAuth::ready)): discovery, then the JWK set,
//!   fetched once however many requests arrive together (single-flight). A request waits at
//!   most the key wait budget (default 5 s) and then gets 503 with `Retry-After`.
//! - **Lifetime**: `Cache-Control: max-age` of the JWKS response clamped to [5 min, 24 h]
//!   (15 min when absent). At three quarters of it a request starts a background refresh and
//!   goes on with the keys it has: no request waits for a routine refresh, and the hot path reads
//!   an `Arc` snapshot without taking a lock.
//! - **Unknown `kid`**: see [`refresh::Allowance`]: the first refetch at once, then one per
//!   cooldown (1 s), doubling while refetches find nothing new; the request waits at most 1 s.
//! - **Outage**: a failed refresh keeps the last good set serving until 24 h past its expiry.
//!   A refresh someone needs is retried within a jittered second and hedged when it hangs;
//!   refresh-ahead alone backs off exponentially (1 s to 60 s).
//! - **Rotation**: a new key verifies as soon as one refetch has seen it; a key that left the
//!   set stops verifying with the refresh that removed it.
//! - **Restarts**: [`persist`] keeps the last good set on disk when configured.

pub(crate) mod discovery;
#[cfg(test)]
mod jose_vectors;
pub(crate) mod jwk;
pub(crate) mod pem;
pub(crate) mod persist;
pub(crate) mod refresh;
mod shared;
mod source;
#[cfg(test)]
mod vectors;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub(crate) use shared::JwksStore;
pub(crate) use source::{CachePolicy, Env, KeySource, Origin, Why};

use crate::algorithm::Algorithm;
use crate::reject::{AuthError, AuthErrorKind, KeySourceError};
use jwk::Key;

/// A loaded JWK set and its timetable (seconds on the injected clock).
#[derive(Debug)]
pub(crate) struct KeySet {
    /// Shared with every other issuer whose keys are the same document (one JWKS URL).
    keys: Arc<[Key]>,
    /// When it was fetched, in milliseconds (tells copies of one document apart).
    fetched_at_ms: u64,
    /// When it was fetched.
    pub(crate) fetched_at: u64,
    /// When a background refresh starts.
    pub(crate) refresh_at: u64,
    /// When its lifetime (`max-age`, clamped) ends.
    pub(crate) expires_at: u64,
    /// After this the set is no longer used, even when no refresh succeeded.
    pub(crate) usable_until: u64,
    /// Position by `kid`, for sets large enough for a scan to cost (and whose ids are unique).
    by_kid: Option<HashMap<Box<str>, usize>>,
}

/// Sets of at most this many keys are scanned.
const SCANNED: usize = 8;

/// The position of each key by `kid`, when the set is larger than [`SCANNED`] and every key
/// has a distinct `kid`.
fn index(keys: &[Key]) -> Option<HashMap<Box<str>, usize>> {
    if keys.len() <= SCANNED {
        return None;
    }
    let mut by_kid = HashMap::with_capacity(keys.len());
    for (i, key) in keys.iter().enumerate() {
        if by_kid.insert(key.kid.clone()?, i).is_some() {
            return None;
        }
    }
    Some(by_kid)
}

impl KeySet {
    pub(crate) fn new(
        keys: Arc<[Key]>,
        fetched_at_ms: u64,
        ttl: Duration,
        max_stale: Duration,
    ) -> Self {
        let ttl = ttl.as_secs();
        let fetched_at = fetched_at_ms / 1000;
        Self {
            by_kid: index(&keys),
            keys,
            fetched_at_ms,
            fetched_at,
            refresh_at: fetched_at.saturating_add(ttl - ttl / 4),
            expires_at: fetched_at.saturating_add(ttl),
            usable_until: fetched_at
                .saturating_add(ttl)
                .saturating_add(max_stale.as_secs()),
        }
    }

    /// A set without keys that never expires: where keys are fetched one `kid` at a time.
    pub(crate) fn empty() -> Self {
        Self::fixed(Vec::new())
    }

    /// A set that never expires (keys given in configuration).
    pub(crate) fn fixed(keys: Vec<Key>) -> Self {
        Self {
            by_kid: index(&keys),
            keys: keys.into(),
            fetched_at_ms: 0,
            fetched_at: 0,
            refresh_at: u64::MAX,
            expires_at: u64::MAX,
            usable_until: u64::MAX,
        }
    }

    /// When it was fetched, in milliseconds.
    pub(crate) fn fetched_at_ms(&self) -> u64 {
        self.fetched_at_ms
    }

    /// Whether a key has this `kid`.
    pub(crate) fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    /// Whether `self` holds a key that `older` lacks.
    pub(crate) fn adds_keys_to(&self, older: &KeySet) -> bool {
        self.loses_keys_in(older)
    }

    /// Whether some key of `self` is missing from `newer`.
    pub(crate) fn loses_keys_in(&self, newer: &KeySet) -> bool {
        self.keys
            .iter()
            .any(|old| !newer.keys.iter().any(|new| new.same_as(old)))
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    pub(crate) fn info(&self) -> KeySetInfo {
        KeySetInfo {
            kids: self
                .keys
                .iter()
                .map(|k| k.kid.as_deref().map(str::to_owned))
                .collect(),
            fetched_at: self.fetched_at,
            refresh_at: self.refresh_at,
            expires_at: self.expires_at,
            usable_until: self.usable_until,
        }
    }

    /// The key that verifies a token with this `kid` and `alg`.
    ///
    /// With a `kid`: the key(s) with that id, one of which must fit the algorithm
    /// ([`AuthErrorKind::KeyMismatch`] otherwise). Without: exactly one key in the set must fit.
    pub(crate) fn find(&self, kid: Option<&str>, alg: Algorithm) -> Result<&Key, AuthError> {
        match kid {
            Some(kid) if self.by_kid.is_some() => {
                let found = self.by_kid.as_ref().and_then(|m| m.get(kid));
                let Some(key) = found.map(|&i| &self.keys[i]) else {
                    return Err(self.unknown_kid(kid));
                };
                if key.fits(alg) {
                    Ok(key)
                } else {
                    Err(key_mismatch(kid, alg))
                }
            }
            Some(kid) => {
                let mut named = self
                    .keys
                    .iter()
                    .filter(|k| k.kid.as_deref() == Some(kid))
                    .peekable();
                if named.peek().is_none() {
                    return Err(self.unknown_kid(kid));
                }
                named
                    .find(|k| k.fits(alg))
                    .ok_or_else(|| key_mismatch(kid, alg))
            }
            None => {
                let mut fitting = self.keys.iter().filter(|k| k.fits(alg));
                match (fitting.next(), fitting.next()) {
                    (Some(key), None) => Ok(key),
                    (None, _) => Err(AuthError::new(AuthErrorKind::UnknownKey)
                        .with_context(format!("token without kid, no key for alg {alg}"))),
                    (Some(_), Some(_)) => Err(AuthError::new(AuthErrorKind::UnknownKey)
                        .with_context(format!(
                            "token without kid, several keys for alg {alg}: {}",
                            self.kids()
                        ))),
                }
            }
        }
    }

    fn unknown_kid(&self, kid: &str) -> AuthError {
        AuthError::new(AuthErrorKind::UnknownKey).with_context(format!(
            "token kid {}, known: {}",
            crate::reject::shown(kid),
            self.kids()
        ))
    }

    /// The `kid`s of the set, for log events.
    fn kids(&self) -> String {
        let kids: Vec<&str> = self
            .keys
            .iter()
            .map(|k| k.kid.as_deref().unwrap_or("(none)"))
            .collect();
        kids.join(" ")
    }
}

/// The key set in use: which keys, and its timetable in seconds since the Unix epoch on the
/// layer's clock (`u64::MAX` for fixed keys). See [`JwtAuth::key_set`](crate::JwtAuth::key_set).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use tower_jwt_auth::{testing::TestIssuer, JwtAuth};
/// let issuer = TestIssuer::builder().jwks_max_age(Some(600)).start().await;
/// let auth = JwtAuth::new(issuer.url(), "insights-api");
/// assert!(auth.key_set().is_none()); // keys are loaded on first use
/// auth.ready().await.unwrap();
/// let info = auth.key_set().unwrap();
/// assert_eq!(info.kids.len(), 5);
/// assert_eq!(info.expires_at - info.fetched_at, 600);
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeySetInfo {
    /// The `kid` of each usable key, in set order.
    pub kids: Vec<Option<String>>,
    /// When the set was fetched.
    pub fetched_at: u64,
    /// When a request starts a background refresh (three quarters of the lifetime).
    pub refresh_at: u64,
    /// When the lifetime (`Cache-Control: max-age`, clamped) ends.
    pub expires_at: u64,
    /// The last moment the set is used while refreshes fail.
    pub usable_until: u64,
}

/// The refusal for a request whose keys could not be obtained: 503 with `Retry-After`, or 500
/// when the failure is one of configuration.
fn key_mismatch(kid: &str, alg: Algorithm) -> AuthError {
    AuthError::new(AuthErrorKind::KeyMismatch).with_context(format!(
        "key {} cannot verify token alg {alg}",
        crate::reject::shown(kid)
    ))
}

pub(crate) fn unavailable(retry_after: Duration, why: KeySourceError) -> AuthError {
    if why.is_config() {
        return AuthError::new(AuthErrorKind::Misconfigured).with_source(why);
    }
    AuthError::new(AuthErrorKind::KeysUnavailable)
        .with_retry_after(retry_after)
        .with_source(why)
}
