//! The verified-token cache.
//!
//! A client-credentials token lives an hour and its client sends it on every call, so verdicts
//! are cached (quick_cache, bounded, 10,000 entries by default): the key is the whole token string,
//! compared for equality, never a hash of it; the value is the verified claims. A hit skips
//! the header, the key lookup, the signature and the claim rules, but is re-checked against `exp` and `nbf` on the
//! injected clock, and is void once a refresh has removed any key from the set. Scopes and
//! `sub_type` are checked on every request, hit or not. The trade-off: a token stays accepted
//! until its `exp` even if the issuer would now refuse it for reasons outside the token (none of
//! which this crate checks anyway: there is no revocation list), and each entry costs memory
//! roughly the size of the token plus its claims.
//!
//! Why quick_cache: a token seen once must cost almost nothing more than its verification. Its
//! insert is a hash-table write under one shard's lock (moka's was ~1–2 µs of bookkeeping), and
//! its clock-based policy admits a new token to a small "cold" section first, so a flood of
//! tokens seen once passes through there without evicting the tokens clients repeat. An entry
//! past its `exp` is never returned (every hit is re-checked on the injected clock) and is
//! dropped when found; the rest leave as capacity demands.

use std::sync::Arc;

use crate::claims::{Claims, Stored};
use crate::issuer::Trusted;

/// Verdicts by whole token string.
pub(crate) struct TokenCache<C> {
    entries: Entries<C>,
    /// The hasher the entries are spread with, to hash a token once as it is inserted.
    hasher: TailHash,
}

/// Entries by token, each of weight 1, spread by [`TailHash`].
type Entries<C> = quick_cache::sync::Cache<
    TokenKey,
    Entry<C>,
    quick_cache::UnitWeighter,
    TailHash,
    quick_cache::sync::DefaultLifecycle<TokenKey, Entry<C>>,
>;

/// A cached token: its bytes, compared whole, and its [`TailHash`], kept beside them.
///
/// The table re-hashes its keys as it grows and when it evicts; with the hash at hand that
/// reads the table's own slot, not the token (an allocation of its own, long out of any CPU
/// cache by then), which made filling the cache cost a cache miss or more per new token.
struct TokenKey {
    hash: u64,
    token: Box<[u8]>,
}

impl TokenKey {
    /// `token` as a key of a table spread by `hasher`.
    fn new(hasher: &TailHash, token: &[u8]) -> Self {
        use std::hash::BuildHasher;
        Self {
            hash: hasher.hash_one(token),
            token: token.into(),
        }
    }
}

impl std::hash::Hash for TokenKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Only ever hashed by a `TailHasher`, which takes this as its result.
        state.write_u64(self.hash);
    }
}

impl PartialEq for TokenKey {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.token == other.token
    }
}

impl Eq for TokenKey {}

/// A lookup by the bytes of a request's token: equal only to the same whole token.
impl quick_cache::Equivalent<TokenKey> for [u8] {
    fn equivalent(&self, key: &TokenKey) -> bool {
        *self == *key.token
    }
}

/// Hashes a token by its last 32 bytes and its length, with quick_cache's default hasher
/// (foldhash, seeded at random per process).
///
/// Equality is still on the whole string; the hash only spreads entries. Only verified tokens
/// are inserted, and a verified token ends in its signature, which nobody without the signing
/// key can choose, so tails spread as well as whole tokens do, while a lookup costs a fixed
/// ~40 bytes of hashing instead of the whole token (about half of a cache hit's work for a
/// 700-byte RS256 token with SipHash).
#[derive(Clone, Default)]
struct TailHash(quick_cache::DefaultHashBuilder);

impl std::hash::BuildHasher for TailHash {
    type Hasher = TailHasher;
    fn build_hasher(&self) -> TailHasher {
        TailHasher {
            tail: self.0.build_hasher(),
            known: None,
        }
    }
}

struct TailHasher {
    tail: <quick_cache::DefaultHashBuilder as std::hash::BuildHasher>::Hasher,
    /// A [`TokenKey`]'s hash, computed by this hasher's builder when it was inserted.
    known: Option<u64>,
}

impl std::hash::Hasher for TailHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.tail.write(&bytes[bytes.len().saturating_sub(32)..]);
        self.tail.write_usize(bytes.len());
    }

    fn write_usize(&mut self, n: usize) {
        // `[u8]`'s `Hash` writes its length first; `write` mixes it in already.
        let _ = n;
    }

    fn write_u64(&mut self, hash: u64) {
        self.known = Some(hash);
    }

    fn finish(&self) -> u64 {
        self.known.unwrap_or_else(|| self.tail.finish())
    }
}

struct Entry<C> {
    claims: Stored<C>,
    /// The issuer that accepted it: a hit is checked against that issuer's key set.
    issuer: Arc<Trusted>,
    /// The key source's removal epoch before the token was verified.
    epoch: u64,
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

impl<C: Send + Sync + 'static> TokenCache<C> {
    pub(crate) fn new(capacity: u64) -> Self {
        let items = usize::try_from(capacity).unwrap_or(usize::MAX);
        let hasher = TailHash::default();
        Self {
            entries: quick_cache::sync::Cache::with(
                items,
                capacity,
                quick_cache::UnitWeighter,
                hasher.clone(),
                quick_cache::sync::DefaultLifecycle::default(),
            ),
            hasher,
        }
    }

    /// The verdict on `token`, if one is cached and still holds at `now`: within `exp` and
    /// `nbf` (with the issuer's leeway), its issuer's key set usable, and no key dropped since.
    /// `token` as bytes: a request's header value can be looked up before it is checked as a
    /// `b64token` (a hit is equal to a token that passed every check).
    pub(crate) fn get(&self, token: &[u8], now: u64) -> Option<Claims<C>> {
        let entry = self.entries.get(token)?;
        let keys = &entry.issuer.keys;
        let leeway = entry.issuer.rules.leeway;
        let stored = &entry.claims;
        let fresh = now < stored.expires_at().saturating_add(leeway)
            && stored
                .not_before()
                .is_none_or(|nbf| nbf <= now.saturating_add(leeway))
            && keys.stands(now)
            && entry.epoch == keys.removal_epoch();
        if fresh {
            Some(entry.claims.into_claims())
        } else {
            self.entries.remove(token);
            None
        }
    }

    /// Remembers a verdict; `epoch` is the issuer's removal epoch from before verification.
    pub(crate) fn insert(
        &self,
        token: &str,
        claims: &Claims<C>,
        issuer: &Arc<Trusted>,
        epoch: u64,
    ) {
        self.entries.insert(
            TokenKey::new(&self.hasher, token.as_bytes()),
            Entry {
                claims: Stored::of(claims),
                issuer: Arc::clone(issuer),
                epoch,
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
        let key = TokenKey::new(&h, token.as_bytes());
        // A key hashes to the hash it carries, which is its bytes' hash by the same builder.
        assert_eq!(h.hash_one(token.as_bytes()), h.hash_one(&key));
        assert_eq!(h.clone().hash_one(token.as_bytes()), h.hash_one(&key));
        assert!(quick_cache::Equivalent::equivalent(token.as_bytes(), &key));
        assert!(!quick_cache::Equivalent::equivalent(
            &token.as_bytes()[1..],
            &key
        ));
        let other_tail = format!("{}.{}", "a".repeat(600), "gis".repeat(20));
        assert_ne!(
            h.hash_one(token.as_bytes()),
            h.hash_one(other_tail.as_bytes())
        );
        let other_len = format!("b{token}");
        assert_ne!(
            h.hash_one(token.as_bytes()),
            h.hash_one(other_len.as_bytes())
        );
    }

    #[test]
    fn keys_stay_found_as_the_table_grows_and_evicts() {
        // Growing re-hashes every key and evicting hashes the victim: both by the hash the key
        // carries, which must be the one a look-up by bytes computes.
        let hasher = TailHash::default();
        let table: quick_cache::sync::Cache<TokenKey, usize, quick_cache::UnitWeighter, TailHash> =
            quick_cache::sync::Cache::with(
                1_000,
                1_000,
                quick_cache::UnitWeighter,
                hasher.clone(),
                quick_cache::sync::DefaultLifecycle::default(),
            );
        let token = |i: usize| format!("{}.{i:08}", "h".repeat(600));
        for i in 0..5_000 {
            table.insert(TokenKey::new(&hasher, token(i).as_bytes()), i);
        }
        assert!(table.len() <= 1_000);
        let found: Vec<usize> = (0..5_000)
            .filter_map(|i| table.get(token(i).as_bytes()))
            .collect();
        assert_eq!(found.len(), table.len());
        assert!(found.len() > 500, "{} of 1,000 found", found.len());
        // Every hit is the entry of the very token looked up.
        for i in 0..5_000 {
            if let Some(v) = table.get(token(i).as_bytes()) {
                assert_eq!(v, i);
            }
        }
    }
}
