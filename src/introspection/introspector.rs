//! The endpoints of one configuration together: how an opaque token is routed to one of them,
//! the verdict cache, and the calls in flight.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::endpoint::Endpoint;
use super::DEFAULT_INACTIVE_TTL;
use crate::claims::Claims;
use crate::clock::Clock;
use crate::outbound::SingleFlight;
use crate::reject::{shown, AuthError, AuthErrorKind, ConfigError};

/// One remembered verdict.
struct Entry<C> {
    verdict: Result<Claims<C>, AuthError>,
    /// Until when (milliseconds, on the injected clock) the verdict holds; found stale, it is
    /// dropped.
    until_ms: u64,
}

impl<C> Clone for Entry<C> {
    fn clone(&self) -> Self {
        Self {
            verdict: self.verdict.clone(),
            ..*self
        }
    }
}

/// Verdicts by whole token: an opaque token is chosen by whoever sends it, so it is hashed
/// whole, with a per-process SipHash key (a tail hash would let senders collide).
type Verdicts<C> = quick_cache::sync::Cache<
    Box<str>,
    Entry<C>,
    quick_cache::UnitWeighter,
    std::hash::RandomState,
    quick_cache::sync::DefaultLifecycle<Box<str>, Entry<C>>,
>;

/// The introspection endpoints of one configuration, how tokens are routed to them, and the
/// cache and the calls in flight they share.
pub(crate) struct Introspector<C> {
    endpoints: Vec<Endpoint>,
    /// `(prefix, endpoint index)`, longest prefix first.
    prefixes: Vec<(Box<str>, usize)>,
    /// The endpoints a token no prefix routes goes to, in the order they are asked: the
    /// default alone, or every unprefixed endpoint when asking in turn was chosen.
    unprefixed: Vec<usize>,
    clock: Arc<dyn Clock>,
    cache: Option<Verdicts<C>>,
    /// How long a refused token is remembered: the shortest of the endpoints' settings.
    inactive_ttl: Duration,
    flights: SingleFlight<Box<str>, Result<Claims<C>, AuthError>>,
    _claims: PhantomData<fn() -> C>,
}

/// How opaque tokens reach the configured endpoints.
pub(crate) struct Routing {
    /// Every unprefixed endpoint is asked in turn (an opt-in that discloses each token to
    /// all of them) instead of the one default.
    pub(crate) in_turn: bool,
    /// The first endpoint is the primary issuer's (the default when it has no prefix).
    pub(crate) primary_first: bool,
    /// The API-key prefixes, which route before introspection: an introspection prefix must
    /// not overlap one.
    pub(crate) api_key_prefixes: Vec<String>,
}

impl<C> fmt::Debug for Introspector<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.endpoints.iter().map(|e| &e.settings))
            .finish()
    }
}

impl<C: DeserializeOwned + Send + Sync + 'static> Introspector<C> {
    /// `None` without endpoints. The cache takes the first endpoint's capacity. Refuses a
    /// configuration that would send a token to an endpoint it did not choose: prefixes that
    /// overlap each other or an API-key prefix, and several endpoints that could each be the
    /// default.
    pub(crate) fn new(
        endpoints: Vec<Endpoint>,
        routing: &Routing,
        clock: Arc<dyn Clock>,
    ) -> Result<Option<Self>, ConfigError> {
        let Some(first) = endpoints.first() else {
            return Ok(None);
        };
        let capacity = first.settings.capacity;
        let error = |reason: String| ConfigError::new("introspection", reason);
        let mut prefixes: Vec<(Box<str>, usize)> = Vec::new();
        for (index, endpoint) in endpoints.iter().enumerate() {
            for prefix in &endpoint.settings.prefixes {
                let overlaps =
                    |other: &str| other.starts_with(&**prefix) || prefix.starts_with(other);
                if let Some((other, _)) = prefixes.iter().find(|(p, _)| overlaps(p)) {
                    return Err(error(format!(
                        "the token prefixes {} and {} overlap: a token could go to either endpoint",
                        shown(other),
                        shown(prefix)
                    )));
                }
                if let Some(other) = routing.api_key_prefixes.iter().find(|p| overlaps(p)) {
                    return Err(error(format!(
                        "the token prefix {} overlaps the API-key prefix {}",
                        shown(prefix),
                        shown(other)
                    )));
                }
                prefixes.push((prefix.as_str().into(), index));
            }
        }
        prefixes.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        let unprefixed: Vec<usize> = endpoints
            .iter()
            .enumerate()
            .filter(|(_, e)| e.settings.prefixes.is_empty())
            .map(|(index, _)| index)
            .collect();
        let unprefixed = if routing.in_turn || unprefixed.len() <= 1 {
            unprefixed
        } else if routing.primary_first && unprefixed.first() == Some(&0) {
            // The primary issuer's endpoint is the default; the others take only their
            // prefixes' tokens, and those without one none at all.
            for &i in &unprefixed[1..] {
                tracing::warn!(
                    issuer = %endpoints[i].expect.issuer,
                    "this introspection endpoint has no token_prefix and the primary issuer's \
                     is the default: no opaque token goes to it"
                );
            }
            vec![0]
        } else {
            let issuers: Vec<String> = unprefixed
                .iter()
                .map(|&i| shown(&endpoints[i].expect.issuer))
                .collect();
            return Err(error(format!(
                "the introspection endpoints of {} could each take opaque tokens, and none is \
                 the default: a token must go only to the server that issued it. Give all but \
                 one of them a token_prefix (Introspection::token_prefix), configure the \
                 primary issuer's (JwtAuth::introspection), or opt into asking them in turn \
                 (JwtAuth::introspection_in_turn), which shows every token to each of them",
                issuers.join(" and ")
            )));
        };
        let cache = (capacity > 0).then(|| {
            quick_cache::sync::Cache::with(
                usize::try_from(capacity).unwrap_or(usize::MAX),
                capacity,
                quick_cache::UnitWeighter,
                std::hash::RandomState::new(),
                quick_cache::sync::DefaultLifecycle::default(),
            )
        });
        let inactive_ttl = endpoints
            .iter()
            .map(|e| e.settings.inactive_ttl)
            .min()
            .unwrap_or(DEFAULT_INACTIVE_TTL);
        Ok(Some(Self {
            endpoints,
            prefixes,
            unprefixed,
            clock,
            cache,
            inactive_ttl,
            flights: SingleFlight::new("introspection"),
            _claims: PhantomData,
        }))
    }

    /// Whether some endpoint takes `token` (a prefix routes it, or there is a default).
    pub(crate) fn takes(&self, token: &str) -> bool {
        !self.route(token).is_empty()
    }

    /// The endpoints `token` may be shown to, in the order they are asked.
    fn route(&self, token: &str) -> &[usize] {
        match self.prefixes.iter().find(|(p, _)| token.starts_with(&**p)) {
            Some((_, index)) => std::slice::from_ref(index),
            None => &self.unprefixed,
        }
    }

    /// The remembered verdict on `token`, if it still holds.
    pub(crate) fn cached(&self, token: &str) -> Option<Result<Claims<C>, AuthError>> {
        let cache = self.cache.as_ref()?;
        let entry = cache.get(token)?;
        if self.clock.now_millis() < entry.until_ms {
            Some(entry.verdict)
        } else {
            cache.remove(token);
            None
        }
    }

    /// The verdict on `token`: remembered, or from one call shared by every request that
    /// carries it meanwhile.
    pub(crate) async fn introspect(&self, token: &str) -> Result<Claims<C>, AuthError> {
        if let Some(verdict) = self.cached(token) {
            return verdict;
        }
        self.flights
            .run(token.into(), || async {
                // A call that ended just before this one joined has remembered its verdict.
                if let Some(verdict) = self.cached(token) {
                    return verdict;
                }
                let (verdict, cache_ttl) = self.ask(token).await;
                self.remember(token, &verdict, cache_ttl);
                verdict
            })
            .await
    }

    /// Asks the endpoints the token is routed to (one, unless asking in turn was chosen)
    /// until one knows it: an active answer (accepted or refused on its claims) decides;
    /// "inactive" passes to the next endpoint. Among answers that decide nothing, a failure
    /// outranks "inactive": the token may belong to the issuer that could not answer. Also
    /// returns the deciding endpoint's bound on remembering.
    async fn ask(&self, token: &str) -> (Result<Claims<C>, AuthError>, Duration) {
        let now = self.clock.now();
        let mut undecided: Option<AuthError> = None;
        for endpoint in self.route(token).iter().map(|&i| &self.endpoints[i]) {
            let timer = std::time::Instant::now();
            let verdict = endpoint.call(token, now).await;
            let issuer = &endpoint.expect.issuer;
            let result = match &verdict {
                Err(e) if e.kind() == AuthErrorKind::InactiveToken => "inactive",
                Err(e) if e.kind() == AuthErrorKind::ValidationUnavailable => "error",
                _ => "active",
            };
            crate::metrics::introspection(issuer, result, timer.elapsed());
            match verdict.map_err(|e| e.at_issuer(issuer)) {
                Err(e) if e.kind() == AuthErrorKind::InactiveToken => {
                    undecided.get_or_insert(e);
                }
                Err(e) if e.kind() == AuthErrorKind::ValidationUnavailable => {
                    undecided = Some(e);
                }
                verdict => return (verdict, endpoint.settings.cache_ttl),
            }
        }
        let error = undecided.unwrap_or_else(|| AuthErrorKind::Internal.into());
        (Err(error), Duration::ZERO)
    }

    fn remember(&self, token: &str, verdict: &Result<Claims<C>, AuthError>, cache_ttl: Duration) {
        let Some(cache) = &self.cache else { return };
        let now_ms = self.clock.now_millis();
        let ttl = match verdict {
            Ok(claims) => {
                let exp_ms = claims.grant().expires_at().saturating_mul(1000);
                cache_ttl.min(Duration::from_millis(exp_ms.saturating_sub(now_ms)))
            }
            Err(e) if e.kind() == AuthErrorKind::ValidationUnavailable => return,
            Err(_) => self.inactive_ttl,
        };
        if ttl.is_zero() {
            return;
        }
        let until_ms = now_ms.saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX));
        let entry = Entry {
            verdict: verdict.clone(),
            until_ms,
        };
        cache.insert(token.into(), entry);
    }
}
