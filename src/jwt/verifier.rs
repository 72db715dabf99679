//! From a token string to verified [`Claims`], in the order of the request path: cache, JOSE
//! header, unverified `iss` → trusted issuer, key, signature, claim rules.
//!
//! The verdict is computed synchronously when the issuer's key set is at hand (the common
//! case); only a missing key set or an unknown `kid` makes the caller wait for that issuer's key
//! source. A token whose `iss` no trusted issuer accepts is refused before any key set is looked
//! at, so it costs no fetch, cold or warm; and a token is only ever checked with the keys of the
//! issuer its `iss` names.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use serde::de::DeserializeOwned;

use super::cache::TokenCache;
use super::registered::Registered;
use crate::claims::{Claims, Grant};
use crate::credential::Credential;
use crate::issuer::{Registry, Trusted};
use crate::jose::header::{self, Header, TypPolicy};
use crate::jose::{b64, compact};
use crate::keys::{KeySet, Why};
use crate::reject::{shown, AuthError, AuthErrorKind};

/// The outcome of a synchronous attempt.
pub(crate) enum Attempt<C> {
    Done(Result<Claims<C>, AuthError>),
    /// This issuer's key set must be (re)loaded first.
    NeedKeys(Need),
}

/// Which issuer's keys are needed, and why.
pub(crate) struct Need(Arc<Trusted>, Why);

/// Verifies tokens of the trusted issuers.
pub(crate) struct Verifier<C> {
    issuers: Registry,
    max_token_size: usize,
    strict_rfc9068: bool,
    cache: Option<TokenCache<C>>,
    direct: Option<DirectClaims<C>>,
}

/// Makes the claims type from the registered claims read while verifying, without parsing the
/// payload again; `None` falls back to deserialising the payload.
pub(crate) type DirectClaims<C> = fn(Registered<'_>) -> Option<C>;

/// The decoded header and payload of a token, its issuer accepted, its signature not yet
/// checked.
struct Unverified<'t, 'b> {
    issuer: Arc<Trusted>,
    header: Header<'b>,
    signing_input: &'t str,
    signature: &'t str,
    payload: &'b [u8],
    registered: Registered<'b>,
}

/// Where a token's header and payload are decoded: on the stack when they fit (most
/// access tokens), else on the heap.
struct Buffers {
    header: [u8; 256],
    payload: [u8; 1024],
    header_heap: Vec<u8>,
    payload_heap: Vec<u8>,
}

impl Buffers {
    fn new() -> Self {
        Self {
            header: [0; 256],
            payload: [0; 1024],
            header_heap: Vec::new(),
            payload_heap: Vec::new(),
        }
    }
}

impl<C> std::fmt::Debug for Verifier<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("primary", self.issuers.primary())
            .finish_non_exhaustive()
    }
}

impl<C> Verifier<C> {
    pub(crate) fn issuers(&self) -> &Registry {
        &self.issuers
    }
}

impl<C: DeserializeOwned + Send + Sync + 'static> Verifier<C> {
    /// `cache_capacity` 0 disables the verified-token cache.
    pub(crate) fn new(
        issuers: Registry,
        (max_token_size, strict_rfc9068): (usize, bool),
        cache_capacity: u64,
        direct: Option<DirectClaims<C>>,
    ) -> Self {
        Self {
            issuers,
            max_token_size,
            strict_rfc9068,
            cache: (cache_capacity > 0).then(|| TokenCache::new(cache_capacity)),
            direct,
        }
    }

    /// Verifies with the key set at hand, or says which keys are needed.
    pub(crate) fn try_verify(&self, token: &str) -> Attempt<C> {
        self.attempt(token, true)
    }

    /// The slow path: obtain the issuer's keys, then verify (no second refetch).
    pub(crate) async fn verify_after(
        &self,
        token: &str,
        need: Need,
    ) -> Result<Claims<C>, AuthError> {
        let Need(issuer, why) = need;
        let tied = |e: AuthError| e.at_issuer(&issuer.rules.issuer);
        issuer.keys.obtain(why).await.map_err(tied)?;
        match self.attempt(token, false) {
            Attempt::Done(result) => result,
            Attempt::NeedKeys(_) => Err(tied(AuthErrorKind::UnknownKey.into())),
        }
    }

    /// The remembered verdict on a token verified before, if it still holds.
    pub(crate) fn cached(&self, token: &[u8]) -> Option<Claims<C>> {
        let now = self.issuers.primary().keys.clock().now();
        let hit = self.cache.as_ref()?.get(token, now);
        if hit.is_some() {
            // A miss is counted by the verification that follows.
            crate::metrics::token_cache(true);
        }
        hit
    }

    fn attempt(&self, token: &str, may_refetch: bool) -> Attempt<C> {
        let clock = self.issuers.primary().keys.clock();
        let now = clock.now();
        if let Some(cache) = &self.cache {
            // A hit is re-checked against its issuer's key set (which also starts that set's
            // routine refresh when due): a refresh that dropped a key voids it.
            let hit = cache.get(token.as_bytes(), now);
            crate::metrics::token_cache(hit.is_some());
            if let Some(claims) = hit {
                return Attempt::Done(Ok(claims));
            }
        }
        // A panic anywhere in verification (a backend bug on a hostile key, a claims type's
        // Deserialize) becomes a refusal and an error event, never a dropped connection.
        catch_unwind(AssertUnwindSafe(|| self.run(token, now, may_refetch))).unwrap_or_else(|_| {
            tracing::error!("token verification panicked");
            Attempt::Done(Err(AuthErrorKind::Internal.into()))
        })
    }

    fn run(&self, token: &str, now: u64, may_refetch: bool) -> Attempt<C> {
        let mut buffers = Buffers::new();
        let unverified = match self.read(token, &mut buffers) {
            Ok(u) => u,
            Err(e) => return Attempt::Done(Err(e)),
        };
        // Only now, with the issuer trusted, may a missing key set cost a fetch.
        let issuer = Arc::clone(&unverified.issuer);
        let epoch = issuer.keys.removal_epoch();
        let keys = issuer.keys.usable(now);
        let Some(set) = keys.as_ref().and_then(|guard| guard.as_deref()) else {
            return Attempt::NeedKeys(Need(issuer, Why::Missing));
        };
        let kid = unverified.header.kid.clone();
        match self.check(unverified, set, now) {
            Err(e) if e.kind() == AuthErrorKind::UnknownKey && may_refetch => {
                Attempt::NeedKeys(Need(issuer, Why::UnknownKid(kid.map(|k| k.into()))))
            }
            Ok(claims) => {
                if let Some(cache) = &self.cache {
                    cache.insert(token, &claims, &issuer, epoch);
                }
                Attempt::Done(Ok(claims))
            }
            Err(e) => Attempt::Done(Err(e.at_issuer(&issuer.rules.issuer))),
        }
    }

    /// Everything that needs no key: size, shape, header rules, payload, and the issuer.
    fn read<'t, 'b>(
        &self,
        token: &'t str,
        buffers: &'b mut Buffers,
    ) -> Result<Unverified<'t, 'b>, AuthError> {
        if token.len() > self.max_token_size {
            return Err(AuthErrorKind::TokenTooLarge.into());
        }
        let (header_b64, payload_b64, signature, signing_input) = compact::split(token)?;
        // Padded base64url, only where an issuer sends it (AWS load balancers): the padding
        // goes before decoding, and a padded token of any other issuer is refused below.
        let padded = self.issuers.accepts_padding() && token.as_bytes().contains(&b'=');
        let (header_b64, payload_b64, signature) = if padded {
            (unpad(header_b64), unpad(payload_b64), unpad(signature))
        } else {
            (header_b64, payload_b64, signature)
        };
        let Buffers {
            header,
            payload,
            header_heap,
            payload_heap,
        } = buffers;
        let header_json: &'b [u8] =
            b64::decode_in(header_b64, header, header_heap).map_err(|_| not_base64())?;
        let typ = if self.strict_rfc9068 {
            TypPolicy::Rfc9068
        } else {
            TypPolicy::Lenient
        };
        // The issuer's own allow-list is applied once the issuer is known.
        let header = header::parse(header_json, typ)?;
        let payload: &'b [u8] =
            b64::decode_in(payload_b64, payload, payload_heap).map_err(|_| not_base64())?;
        if payload.first() != Some(&b'{') {
            return Err(AuthError::new(AuthErrorKind::Malformed)
                .with_detail("the token claims are not a JSON object"));
        }
        // One UTF-8 check of the whole payload, then a parser that need not check each string.
        let text = std::str::from_utf8(payload).map_err(|_| {
            AuthError::new(AuthErrorKind::Malformed)
                .with_detail("the token claims are not valid JSON")
        })?;
        let registered: Registered<'b> = serde_json::from_str(text).map_err(claims_error)?;
        let issuer = self.trusted_issuer(&header, &registered)?;
        if padded && issuer.rules.profile.signer.is_none() {
            return Err(not_base64());
        }
        header::check_allowed(header.alg, issuer.rules.algorithms)?;
        Ok(Unverified {
            issuer,
            header,
            signing_input,
            signature,
            payload,
            registered,
        })
    }

    /// The trusted issuer the unverified `iss` names; for a template issuer, a `tid` claim must
    /// name the same tenant.
    fn trusted_issuer(
        &self,
        header: &Header<'_>,
        reg: &Registered<'_>,
    ) -> Result<Arc<Trusted>, AuthError> {
        // An AWS load balancer's token is chosen by its `signer`; its `iss` names the identity
        // provider behind the load balancer.
        if let Some(signer) = header.signer.as_deref() {
            if let Some(trusted) = self.issuers.select_by_signer(signer) {
                return Ok(trusted);
            }
            if self.issuers.accepts_padding() {
                return Err(
                    AuthError::new(AuthErrorKind::InvalidIssuer).with_context(format!(
                        "signer is {}, expected one of {}",
                        shown(signer),
                        self.issuers.describe()
                    )),
                );
            }
        }
        let untrusted = |found: String| {
            let expected = if self.issuers.is_single() {
                format!(
                    "expected issuer {}",
                    shown(&self.issuers.primary().rules.issuer)
                )
            } else {
                format!("expected one of {}", self.issuers.describe())
            };
            AuthError::new(AuthErrorKind::InvalidIssuer)
                .with_context(format!("{expected}, found {found}"))
        };
        let Some(iss) = &reg.iss else {
            return Err(untrusted("no `iss` claim".to_owned()));
        };
        let issuer = self
            .issuers
            .select(&iss.0)
            .ok_or_else(|| untrusted(shown(&iss.0)))?;
        if let (Some(tenant), Some(tid)) = (&issuer.tenant, &reg.tid) {
            if *tid.0 != **tenant {
                return Err(
                    AuthError::new(AuthErrorKind::InvalidIssuer).with_context(format!(
                        "tid {} does not name the tenant {} of iss {}",
                        shown(&tid.0),
                        shown(tenant),
                        shown(&iss.0)
                    )),
                );
            }
        }
        Ok(issuer)
    }

    /// The key, the signature and the claim rules.
    fn check(
        &self,
        token: Unverified<'_, '_>,
        set: &KeySet,
        now: u64,
    ) -> Result<Claims<C>, AuthError> {
        let Unverified {
            issuer,
            header,
            signing_input,
            signature,
            payload,
            registered: mut reg,
        } = token;
        let key = set.find(header.kid.as_deref(), header.alg)?;
        let verifier = key.verifier(header.alg).ok_or(AuthErrorKind::KeyMismatch)?;
        // Up to RSA-8192 on the stack; anything longer is decoded into the heap.
        let (mut stack, mut heap) = ([0u8; 1024], Vec::new());
        let sig = b64::decode_in(signature, &mut stack, &mut heap).map_err(|_| not_base64())?;
        if verifier.verify_sig(signing_input.as_bytes(), sig).is_err() {
            return Err(AuthErrorKind::InvalidSignature.into());
        }
        let (sub, exp) = issuer.rules.check_claims(&reg, now)?;
        let grant = Grant::new(
            (
                sub,
                reg.sub_type.as_ref().map(|s| &*s.0),
                issuer.rules.client(&reg),
                reg.jti.as_ref().map(|j| &*j.0),
            ),
            &reg.scopes(),
            (exp, reg.nbf.map(|n| n.0)),
            (Arc::clone(&issuer.rules.issuer), issuer.tenant.clone()),
        )
        .with_credential(Credential::Jwt)
        .with_roles(roles_of(&issuer.rules, &reg, payload))
        .with_context(reg.context()?)
        .issued(reg.iat.map(|i| i.0))
        .with_confirmation(std::mem::take(&mut reg.cnf))
        .delivered_in(issuer.rules.profile.proxy_header());
        let claims: C = match self.direct.and_then(|direct| direct(reg)) {
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

/// The token's roles along the issuer's role paths: from the claims kept aside while reading
/// the registered ones, or, for a path starting elsewhere, from the whole payload.
fn roles_of(rules: &crate::jwt::Rules, reg: &Registered<'_>, payload: &[u8]) -> Vec<Box<str>> {
    if reg.kept.is_empty() && !rules.roles.needs_payload() {
        // No claim a role path starts at: most client-credentials tokens.
        return Vec::new();
    }
    let whole: Option<serde_json::Map<String, serde_json::Value>> = if rules.roles.needs_payload() {
        serde_json::from_slice(payload).ok()
    } else {
        None
    };
    rules.roles.collect(rules.audience(), |name| {
        reg.kept(name)
            .or_else(|| whole.as_ref().and_then(|w| w.get(name).cloned()))
    })
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

/// A segment without its base64 padding (at most two `=`).
fn unpad(segment: &str) -> &str {
    segment
        .strip_suffix("==")
        .or_else(|| segment.strip_suffix('='))
        .unwrap_or(segment)
}
