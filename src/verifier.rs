//! Steps 2–5: from a token string to verified [`Claims`], knowing nothing of tower.
//!
//! The verdict is computed synchronously when the key set is at hand (the common case); only a
//! missing key set or an unknown `kid` makes the caller wait for the key source.
//!
//! # The verified-token cache
//!
//! A client-credentials token lives an hour and its client sends it on every call, so verdicts
//! are cached (moka, bounded, 10,000 entries by default): the key is the whole token string,
//! compared for equality, never a hash of it; the value is the verified claims. A hit skips
//! steps 3–5 (header, key, signature, claims) but is re-checked against `exp` and `nbf` on the
//! injected clock, and is void once a refresh has removed any key from the set. Scopes and
//! `sub_type` are checked on every request, hit or not. The trade-off: a token stays accepted
//! until its `exp` even if the issuer would now refuse it for reasons outside the token (none of
//! which this crate checks anyway: there is no revocation list), and each entry costs memory
//! roughly the size of the token plus its claims.

use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use crate::claims::{Claims, Grant, Registered};
use crate::error::{AuthError, AuthErrorKind};
use crate::header::{self, TypPolicy};
use crate::jwks::{KeySet, KeySource};
use crate::response::Responder;

pub(crate) use crate::jwks::Why;

/// What the verifier checks, fixed when the layer is built.
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    pub(crate) issuer: String,
    pub(crate) audience: String,
    pub(crate) leeway: u64,
    pub(crate) max_token_bytes: usize,
    pub(crate) max_lifetime: Option<u64>,
    pub(crate) strict_rfc9068: bool,
    pub(crate) allowed: [bool; 9],
}

/// The outcome of a synchronous attempt.
pub(crate) enum Attempt<C> {
    Done(Result<Claims<C>, AuthError>),
    /// The key set must be (re)loaded first.
    NeedKeys(Why),
}

/// Verifies tokens of one issuer for one audience.
pub(crate) struct Verifier<C> {
    rules: Rules,
    keys: Arc<KeySource>,
    responder: Responder,
    cache: Option<TokenCache<C>>,
    _claims: PhantomData<fn() -> C>,
}

/// Verdicts by whole token string.
struct TokenCache<C> {
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
    fn new(capacity: u64) -> Self {
        Self {
            entries: moka::sync::Cache::builder()
                .max_capacity(capacity)
                .expire_after(UntilExpiry)
                .build_with_hasher(TailHash::default()),
        }
    }

    fn get(&self, token: &str, now: u64, leeway: u64, epoch: u64) -> Option<Claims<C>> {
        let entry = self.entries.get(token)?;
        let fresh = now < entry.exp.saturating_add(leeway)
            && entry
                .nbf
                .is_none_or(|nbf| nbf <= now.saturating_add(leeway))
            && entry.epoch == epoch;
        if fresh {
            Some(entry.claims)
        } else {
            self.entries.invalidate(token);
            None
        }
    }

    fn insert(&self, token: &str, claims: &Claims<C>, now: u64, leeway: u64, epoch: u64) {
        let grant = claims.grant();
        let exp = grant.expires_at();
        self.entries.insert(
            token.into(),
            Entry {
                claims: claims.clone(),
                exp,
                nbf: grant.not_before(),
                epoch,
                ttl: exp.saturating_add(leeway).saturating_sub(now),
            },
        );
    }
}

impl<C> std::fmt::Debug for Verifier<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("rules", &self.rules)
            .field("keys", &self.keys)
            .finish()
    }
}

impl<C: DeserializeOwned + Send + Sync + 'static> Verifier<C> {
    /// `cache_capacity` 0 disables the verified-token cache.
    pub(crate) fn new(
        rules: Rules,
        keys: Arc<KeySource>,
        responder: Responder,
        cache_capacity: u64,
    ) -> Self {
        Self {
            rules,
            keys,
            responder,
            cache: (cache_capacity > 0).then(|| TokenCache::new(cache_capacity)),
            _claims: PhantomData,
        }
    }

    pub(crate) fn keys(&self) -> &Arc<KeySource> {
        &self.keys
    }

    /// Verifies with the key set at hand, or says which keys are needed.
    pub(crate) fn try_verify(&self, token: &str) -> Attempt<C> {
        let now = self.keys.clock().now();
        match self.keys.usable(now) {
            Some(guard) => match guard.as_ref() {
                Some(set) => self.run(token, set, now, true),
                None => Attempt::NeedKeys(Why::Missing),
            },
            None => Attempt::NeedKeys(Why::Missing),
        }
    }

    /// Verifies, waiting for the key source when needed.
    pub(crate) async fn verify(&self, token: &str) -> Result<Claims<C>, AuthError> {
        match self.try_verify(token) {
            Attempt::Done(result) => result,
            Attempt::NeedKeys(why) => self.verify_after(token, why).await,
        }
    }

    /// The slow path: obtain keys for `why`, then verify (no second refetch).
    pub(crate) async fn verify_after(&self, token: &str, why: Why) -> Result<Claims<C>, AuthError> {
        let set = self.keys.obtain(why).await?;
        let now = self.keys.clock().now();
        match self.run(token, &set, now, false) {
            Attempt::Done(result) => result,
            Attempt::NeedKeys(_) => Err(AuthErrorKind::UnknownKey.into()),
        }
    }

    fn run(&self, token: &str, set: &KeySet, now: u64, may_refetch: bool) -> Attempt<C> {
        let epoch = self.keys.removal_epoch();
        let leeway = self.rules.leeway;
        if let Some(cache) = &self.cache {
            if let Some(claims) = cache.get(token, now, leeway, epoch) {
                return Attempt::Done(Ok(claims));
            }
        }
        // A panic anywhere in verification (a backend bug on a hostile key, a claims type's
        // Deserialize) becomes a refusal and an error event, never a dropped connection.
        let checked = catch_unwind(AssertUnwindSafe(|| self.check(token, set, now)))
            .unwrap_or_else(|_| {
                tracing::error!("token verification panicked");
                Err(AuthErrorKind::Internal.into())
            });
        match checked {
            Err(e) if e.kind() == AuthErrorKind::UnknownKey && may_refetch => {
                Attempt::NeedKeys(Why::UnknownKid)
            }
            Ok(claims) => {
                if let Some(cache) = &self.cache {
                    cache.insert(token, &claims, now, leeway, epoch);
                }
                Attempt::Done(Ok(claims))
            }
            result => Attempt::Done(result),
        }
    }

    fn check(&self, token: &str, set: &KeySet, now: u64) -> Result<Claims<C>, AuthError> {
        let r = &self.rules;
        if token.len() > r.max_token_bytes {
            return Err(AuthErrorKind::TokenTooLarge.into());
        }
        let (header_b64, payload_b64, sig_b64, signing_input) = split(token)?;

        let mut header_json = Vec::with_capacity(header_b64.len() * 3 / 4);
        header::b64_decode(header_b64, &mut header_json)?;
        let typ = if r.strict_rfc9068 {
            TypPolicy::Rfc9068
        } else {
            TypPolicy::Lenient
        };
        let header = header::parse(&header_json, &r.allowed, typ)?;

        let key = set.find(header.kid.as_deref(), header.alg)?;
        let verifier = key.verifier(header.alg).ok_or(AuthErrorKind::KeyMismatch)?;
        let mut sig = Vec::with_capacity(sig_b64.len() * 3 / 4);
        header::b64_decode(sig_b64, &mut sig)?;
        if verifier.verify_sig(signing_input.as_bytes(), &sig).is_err() {
            return Err(AuthErrorKind::InvalidSignature.into());
        }

        let mut payload = Vec::with_capacity(payload_b64.len() * 3 / 4);
        header::b64_decode(payload_b64, &mut payload)?;
        if payload.first() != Some(&b'{') {
            return Err(AuthError::new(AuthErrorKind::Malformed)
                .with_detail("the token claims are not a JSON object"));
        }
        let reg: Registered<'_> = serde_json::from_slice(&payload).map_err(claims_error)?;
        let (sub, exp) = self.validate(&reg, now)?;
        let grant = Grant::new(
            sub,
            reg.sub_type.as_ref().map(|s| &*s.0),
            reg.scopes(),
            (exp, reg.nbf.map(|n| n.0)),
            self.responder.clone(),
        );
        let claims: C = match reg.into_claims() {
            Some(claims) => claims,
            None => serde_json::from_slice(&payload).map_err(|_| {
                AuthError::new(AuthErrorKind::InvalidClaim)
                    .with_detail("the token claims do not fit the expected claims type")
            })?,
        };
        Ok(Claims::new(claims, grant))
    }

    /// The registered-claim rules. Returns `sub` and `exp`.
    fn validate<'r>(&self, reg: &'r Registered<'_>, now: u64) -> Result<(&'r str, u64), AuthError> {
        let r = &self.rules;
        if reg.iss.as_ref().is_none_or(|iss| iss.0 != r.issuer) {
            return Err(AuthErrorKind::InvalidIssuer.into());
        }
        if reg
            .aud
            .as_ref()
            .is_none_or(|aud| !aud.0.iter().any(|a| *a == r.audience))
        {
            return Err(AuthErrorKind::InvalidAudience.into());
        }
        let exp = reg
            .exp
            .ok_or_else(|| missing("the token has no `exp` claim"))?
            .0;
        if now >= exp.saturating_add(r.leeway) {
            return Err(AuthErrorKind::Expired.into());
        }
        if reg
            .nbf
            .is_some_and(|nbf| nbf.0 > now.saturating_add(r.leeway))
        {
            return Err(AuthErrorKind::NotYetValid.into());
        }
        if let Some(iat) = reg.iat {
            if iat.0 > now.saturating_add(r.leeway) {
                return Err(AuthErrorKind::IssuedInFuture.into());
            }
            if r.max_lifetime
                .is_some_and(|max| exp.saturating_sub(iat.0) > max)
            {
                return Err(AuthErrorKind::LifetimeTooLong.into());
            }
        }
        let sub = match &reg.sub {
            None => return Err(missing("the token has no `sub` claim")),
            Some(s) if s.0.is_empty() => {
                return Err(AuthError::new(AuthErrorKind::InvalidClaim)
                    .with_detail("the `sub` claim is empty"))
            }
            Some(s) => &*s.0,
        };
        if r.strict_rfc9068 {
            if reg.client_id.is_none() {
                return Err(missing("the token has no `client_id` claim"));
            }
            if reg.iat.is_none() {
                return Err(missing("the token has no `iat` claim"));
            }
            if reg.jti.is_none() {
                return Err(missing("the token has no `jti` claim"));
            }
        }
        Ok((sub, exp))
    }
}

fn missing(detail: &'static str) -> AuthError {
    AuthError::new(AuthErrorKind::MissingClaim).with_detail(detail)
}

fn claims_error(e: serde_json::Error) -> AuthError {
    if crate::claims::is_duplicate(&e) {
        return AuthError::new(AuthErrorKind::Malformed)
            .with_detail("the token claims have a duplicate member name");
    }
    match e.classify() {
        serde_json::error::Category::Data => AuthError::new(AuthErrorKind::InvalidClaim)
            .with_detail("a registered claim has the wrong type or value"),
        _ => AuthError::new(AuthErrorKind::Malformed)
            .with_detail("the token claims are not valid JSON"),
    }
}

/// `header.payload.signature` → the three segments and the signing input.
fn split(token: &str) -> Result<(&str, &str, &str, &str), AuthError> {
    let mut dots = token.match_indices('.').map(|(i, _)| i);
    let (Some(first), Some(second)) = (dots.next(), dots.next()) else {
        return Err(
            AuthError::new(AuthErrorKind::Malformed).with_detail("the token is not a compact JWS")
        );
    };
    if dots.next().is_some() {
        // Five segments is the JWE compact form.
        return Err(AuthErrorKind::EncryptedOrNested.into());
    }
    let header = &token[..first];
    let payload = &token[first + 1..second];
    let sig = &token[second + 1..];
    if header.is_empty() || payload.is_empty() || sig.is_empty() {
        return Err(
            AuthError::new(AuthErrorKind::Malformed).with_detail("the token has an empty segment")
        );
    }
    Ok((header, payload, sig, &token[..second]))
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

    #[test]
    fn split_needs_exactly_three_segments() {
        assert_eq!(split("a.b.c").unwrap(), ("a", "b", "c", "a.b"));
        assert_eq!(split("a.b").unwrap_err().kind(), AuthErrorKind::Malformed);
        assert_eq!(split("a..c").unwrap_err().kind(), AuthErrorKind::Malformed);
        assert_eq!(
            split("a.b.c.d.e").unwrap_err().kind(),
            AuthErrorKind::EncryptedOrNested
        );
    }
}
