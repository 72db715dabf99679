//! From a token string to verified [`Claims`], in the order of the request path: cache, JOSE
//! header, unverified `iss`, key, signature, claim rules.
//!
//! The verdict is computed synchronously when the key set is at hand (the common case); only a
//! missing key set or an unknown `kid` makes the caller wait for the key source. A token whose
//! `iss` is not the configured issuer is refused before the key set is even looked at, so it
//! costs no fetch, cold or warm.

use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use serde::de::DeserializeOwned;

use super::cache::TokenCache;
use super::registered::Registered;
use super::Rules;
use crate::claims::{Claims, Grant};
use crate::error::{AuthError, AuthErrorKind};
use crate::jose::b64;
use crate::jose::header::{self, Header, TypPolicy};
use crate::keys::{KeySet, KeySource, Why};

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
    cache: Option<TokenCache<C>>,
    _claims: PhantomData<fn() -> C>,
}

/// The decoded header and payload of a token, its issuer accepted, its signature not yet
/// checked.
struct Unverified<'t, 'b> {
    header: Header<'b>,
    signing_input: &'t str,
    signature: &'t str,
    payload: &'b [u8],
    registered: Registered<'b>,
}

/// Buffers for the decoded header and payload, reused within one verification.
#[derive(Default)]
struct Buffers {
    header: Vec<u8>,
    payload: Vec<u8>,
}

impl<C> std::fmt::Debug for Verifier<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("rules", &self.rules)
            .field("keys", &self.keys)
            .finish()
    }
}

impl<C> Verifier<C> {
    pub(crate) fn keys(&self) -> &Arc<KeySource> {
        &self.keys
    }
}

impl<C: DeserializeOwned + Send + Sync + 'static> Verifier<C> {
    /// `cache_capacity` 0 disables the verified-token cache.
    pub(crate) fn new(rules: Rules, keys: Arc<KeySource>, cache_capacity: u64) -> Self {
        Self {
            rules,
            keys,
            cache: (cache_capacity > 0).then(|| TokenCache::new(cache_capacity)),
            _claims: PhantomData,
        }
    }

    /// Verifies with the key set at hand, or says which keys are needed.
    pub(crate) fn try_verify(&self, token: &str) -> Attempt<C> {
        self.attempt(token, true)
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
        self.keys.obtain(why).await?;
        match self.attempt(token, false) {
            Attempt::Done(result) => result,
            Attempt::NeedKeys(_) => Err(AuthErrorKind::UnknownKey.into()),
        }
    }

    fn attempt(&self, token: &str, may_refetch: bool) -> Attempt<C> {
        let now = self.keys.clock().now();
        // Looked at on every request, cache hit or not: it starts the routine refresh when the
        // set is due, and a refresh that drops a key voids cached verdicts.
        let keys = self.keys.usable(now);
        let set = keys.as_ref().and_then(|guard| guard.as_deref());
        let epoch = self.keys.removal_epoch();
        let leeway = self.rules.leeway;
        if let (Some(cache), Some(_)) = (&self.cache, set) {
            if let Some(claims) = cache.get(token, now, leeway, epoch) {
                return Attempt::Done(Ok(claims));
            }
        }
        // A panic anywhere in verification (a backend bug on a hostile key, a claims type's
        // Deserialize) becomes a refusal and an error event, never a dropped connection.
        let attempt = catch_unwind(AssertUnwindSafe(|| self.run(token, set, now, may_refetch)))
            .unwrap_or_else(|_| {
                tracing::error!("token verification panicked");
                Attempt::Done(Err(AuthErrorKind::Internal.into()))
            });
        if let (Some(cache), Attempt::Done(Ok(claims))) = (&self.cache, &attempt) {
            cache.insert(token, claims, now, leeway, epoch);
        }
        attempt
    }

    fn run(&self, token: &str, set: Option<&KeySet>, now: u64, may_refetch: bool) -> Attempt<C> {
        let mut buffers = Buffers::default();
        let unverified = match self.read(token, &mut buffers) {
            Ok(u) => u,
            Err(e) => return Attempt::Done(Err(e)),
        };
        // Only now, with the issuer accepted, may a missing key set cost a fetch.
        let Some(set) = set else {
            return Attempt::NeedKeys(Why::Missing);
        };
        let kid = unverified.header.kid.clone();
        match self.check(unverified, set, now) {
            Err(e) if e.kind() == AuthErrorKind::UnknownKey && may_refetch => {
                Attempt::NeedKeys(Why::UnknownKid(kid.map(|k| k.into())))
            }
            result => Attempt::Done(result),
        }
    }

    /// Everything that needs no key: size, shape, header rules, payload, and the issuer.
    fn read<'t, 'b>(
        &self,
        token: &'t str,
        buffers: &'b mut Buffers,
    ) -> Result<Unverified<'t, 'b>, AuthError> {
        let r = &self.rules;
        if token.len() > r.max_token_size {
            return Err(AuthErrorKind::TokenTooLarge.into());
        }
        let (header_b64, payload_b64, signature, signing_input) = split(token)?;
        let Buffers {
            header: header_json,
            payload,
        } = buffers;
        b64::decode_into(header_b64, header_json).map_err(|_| not_base64())?;
        let header_json: &'b [u8] = header_json;
        let typ = if r.strict_rfc9068 {
            TypPolicy::Rfc9068
        } else {
            TypPolicy::Lenient
        };
        let header = header::parse(header_json, r.algorithms, typ)?;
        b64::decode_into(payload_b64, payload).map_err(|_| not_base64())?;
        let payload: &'b [u8] = payload;
        if payload.first() != Some(&b'{') {
            return Err(AuthError::new(AuthErrorKind::Malformed)
                .with_detail("the token claims are not a JSON object"));
        }
        let registered: Registered<'b> = serde_json::from_slice(payload).map_err(claims_error)?;
        r.check_issuer(&registered)?;
        Ok(Unverified {
            header,
            signing_input,
            signature,
            payload,
            registered,
        })
    }

    /// The key, the signature and the claim rules.
    fn check(
        &self,
        token: Unverified<'_, '_>,
        set: &KeySet,
        now: u64,
    ) -> Result<Claims<C>, AuthError> {
        let Unverified {
            header,
            signing_input,
            signature,
            payload,
            registered: reg,
        } = token;
        let key = set.find(header.kid.as_deref(), header.alg)?;
        let verifier = key.verifier(header.alg).ok_or(AuthErrorKind::KeyMismatch)?;
        let sig = b64::decode(signature).map_err(|_| not_base64())?;
        if verifier.verify_sig(signing_input.as_bytes(), &sig).is_err() {
            return Err(AuthErrorKind::InvalidSignature.into());
        }
        let (sub, exp) = self.rules.check_claims(&reg, now)?;
        let grant = Grant::new(
            sub,
            reg.sub_type.as_ref().map(|s| &*s.0),
            reg.scopes(),
            (exp, reg.nbf.map(|n| n.0)),
        );
        let claims: C = match reg.into_claims() {
            Some(claims) => claims,
            None => serde_json::from_slice(payload).map_err(|e| {
                AuthError::new(AuthErrorKind::InvalidClaim)
                    .with_detail("the token claims do not fit the expected claims type")
                    .with_source(e)
            })?,
        };
        Ok(Claims::new(claims, grant))
    }
}

fn not_base64() -> AuthError {
    AuthError::new(AuthErrorKind::Malformed).with_detail("the token is not valid base64url")
}

fn claims_error(e: serde_json::Error) -> AuthError {
    if crate::jose::json::is_duplicate(&e) {
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
