//! The verified-token cache.
//!
//! A client-credentials token lives an hour and its client sends it on every call, so verdicts
//! are cached (moka, bounded, 10,000 entries by default): the key is the whole token string,
//! compared for equality, never a hash of it; the value is the verified claims. A hit skips
//! the header, the key lookup, the signature and the claim rules, but is re-checked against `exp` and `nbf` on the
//! injected clock, and is void once a refresh has removed any key from the set. Scopes and
//! `sub_type` are checked on every request, hit or not. The trade-off: a token stays accepted
//! until its `exp` even if the issuer would now refuse it for reasons outside the token (none of
//! which this crate checks anyway: there is no revocation list), and each entry costs memory
//! roughly the size of the token plus its claims.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::claims::Claims;
use crate::issuer::Trusted;

/// Verdicts by whole token string.
pub(crate) struct TokenCache<C> {
    entries: moka::sync::Cache<Box<str>, Entry<C>, TailHash>,
}

/// Hashes a token by its last 32 bytes and its length, with a per-process random SipHash key.
///
/// Equality is still on the whole string; the hash only spreads entries. Only verified tokens
/// are inserted, and a verified token ends in its signature, which nobody without the signing
/// key can choose, so tails spread as well as whole tokens do, while a lookup costs a fixed
/// ~40 bytes of hashing instead of the whole token (about half of a cache hit's work for a
/// 700-byte RS256 token).
#[derive(Clone, Default)]
struct TailHash(std::hash::RandomState);

impl std::hash::BuildHasher for TailHash {
    type Hasher = TailHasher;
    fn build_hasher(&self) -> TailHasher {
        TailHasher(self.0.build_hasher())
    }
}

struct TailHasher(std::hash::DefaultHasher);

impl std::hash::Hasher for TailHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.write(&bytes[bytes.len().saturating_sub(32)..]);
        self.0.write_usize(bytes.len());
    }

    fn finish(&self) -> u64 {
        self.0.finish()
    }
}

struct Entry<C> {
    claims: Claims<C>,
    /// The issuer that accepted it: a hit is checked against that issuer's key set.
    issuer: Arc<Trusted>,
    exp: u64,
    nbf: Option<u64>,
    /// The key source's removal epoch before the token was verified.
    epoch: u64,
    /// Seconds until `exp` (plus leeway) when inserted, for moka's own eviction.
    ttl: u64,
}

impl<C> Clone for Entry<C> {
    fn clone(&self) -> Self {
        Self {
            claims: self.claims.clone(),
            issuer: Arc::clone(&self.issuer),
            ..*self
        }
    }
}

/// Evicts an entry when its token expires (by the system clock; hits are re-checked against
/// the injected clock).
struct UntilExpiry;

impl<C> moka::Expiry<Box<str>, Entry<C>> for UntilExpiry {
    fn expire_after_create(
        &self,
        _token: &Box<str>,
        entry: &Entry<C>,
        _at: Instant,
    ) -> Option<Duration> {
        Some(Duration::from_secs(entry.ttl))
    }
}

impl<C: Send + Sync + 'static> TokenCache<C> {
    pub(crate) fn new(capacity: u64) -> Self {
        Self {
            entries: moka::sync::Cache::builder()
                .max_capacity(capacity)
                .expire_after(UntilExpiry)
                .build_with_hasher(TailHash::default()),
        }
    }

    /// The verdict on `token`, if one is cached and still holds at `now`: within `exp` and
    /// `nbf` (with the issuer's leeway), its issuer's key set usable, and no key dropped since.
    pub(crate) fn get(&self, token: &str, now: u64) -> Option<Claims<C>> {
        let entry = self.entries.get(token)?;
        let keys = &entry.issuer.keys;
        let leeway = entry.issuer.rules.leeway;
        let fresh = now < entry.exp.saturating_add(leeway)
            && entry
                .nbf
                .is_none_or(|nbf| nbf <= now.saturating_add(leeway))
            && keys.usable(now).is_some()
            && entry.epoch == keys.removal_epoch();
        if fresh {
            Some(entry.claims)
        } else {
            self.entries.invalidate(token);
            None
        }
    }

    /// Remembers a verdict; `epoch` is the issuer's removal epoch from before verification.
    pub(crate) fn insert(
        &self,
        token: &str,
        claims: &Claims<C>,
        issuer: &Arc<Trusted>,
        now: u64,
        epoch: u64,
    ) {
        let grant = claims.grant();
        let exp = grant.expires_at();
        self.entries.insert(
            token.into(),
            Entry {
                claims: claims.clone(),
                issuer: Arc::clone(issuer),
                exp,
                nbf: grant.not_before(),
                epoch,
                ttl: exp.saturating_add(issuer.rules.leeway).saturating_sub(now),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_tokens_hash_equally_and_tails_decide() {
        use std::hash::BuildHasher;
        let h = TailHash::default();
        let token = format!("{}.{}", "a".repeat(600), "sig".repeat(20));
        assert_eq!(
            h.hash_one(token.as_str()),
            h.hash_one(token.clone().into_boxed_str())
        );
        let other_tail = format!("{}.{}", "a".repeat(600), "gis".repeat(20));
        assert_ne!(h.hash_one(token.as_str()), h.hash_one(other_tail.as_str()));
        let other_len = format!("b{token}");
        assert_ne!(h.hash_one(token.as_str()), h.hash_one(other_len.as_str()));
    }
}
