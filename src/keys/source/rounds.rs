//! A refresh round: when one may start, its attempts (hedged when one hangs), and how the
//! first answer, or the last failure, ends it for everyone waiting.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::{quiet, KeySource, Origin, Round, Start, State, Why};
use crate::keys::refresh::{self, ms, HEDGE_AFTER, MAX_ATTEMPTS};
use crate::keys::{discovery, KeySet};
use crate::metrics;
use crate::reject::{KeySourceError, KeySourceErrorKind};

impl KeySource {
    /// Why no fetch starts for `why` now.
    pub(super) fn not_now(&self, why: &Why) -> KeySourceError {
        let state = self.lock();
        match &state.last_error {
            Some(e) if e.is_config() => e.clone(),
            Some(e) => KeySourceError::new(
                e.kind(),
                format!("key fetches are paused after a failure; the last: {e}"),
            ),
            None if matches!(why, Why::UnknownKid(_)) => KeySourceError::new(
                KeySourceErrorKind::Other,
                "the kid is not in the key set, and the refetch allowance is spent",
            ),
            None => KeySourceError::new(KeySourceErrorKind::Other, "no key fetch could start"),
        }
    }

    /// Joins the refresh in flight (hedging a hanging attempt when `why` needs it), or starts
    /// one if the timetable allows.
    pub(super) fn start(self: &Arc<Self>, why: &Why) -> Start {
        if matches!(self.origin, Origin::Fixed) {
            return Start::NotNow;
        }
        let now_ms = self.clock.now_millis();
        let mut state = self.lock();
        let timeout = self.attempt_timeout(&state);
        if let Some(round) = &mut state.round {
            round.for_unknown_kid |= matches!(why, Why::UnknownKid(_));
            let rx = round.tx.subscribe();
            let hanging = now_ms >= round.last_attempt_ms.saturating_add(ms(HEDGE_AFTER));
            if why.needed() && hanging && round.in_flight < MAX_ATTEMPTS {
                round.in_flight += 1;
                round.last_attempt_ms = now_ms;
                let id = round.id;
                drop(state);
                self.spawn_attempt(id, Some(timeout), true);
            }
            return Start::Waiting(rx);
        }
        let gate = match why {
            Why::Routine => &self.next_routine_ms,
            _ => &self.next_needed_ms,
        };
        if now_ms < gate.load(Ordering::Relaxed) {
            return Start::NotNow;
        }
        let cooldown = self.policy.unknown_kid_cooldown;
        if matches!(why, Why::UnknownKid(_)) {
            if !state.allowance.permits(now_ms, cooldown) {
                metrics::refetch_refused(&self.issuer);
                return Start::NotNow;
            }
            state.allowance.started(now_ms);
        }
        if tokio::runtime::Handle::try_current().is_err() {
            tracing::error!("tower-jwt-auth needs a Tokio runtime to fetch keys");
            return Start::NotNow;
        }
        state.rounds += 1;
        let (tx, rx) = watch::channel(None);
        let id = state.rounds;
        // After a failure, even the first attempt is a probe with the short timeout.
        let timeout = (state.failures > 0).then_some(timeout);
        state.round = Some(Round {
            id,
            tx,
            in_flight: 1,
            last_attempt_ms: now_ms,
            for_unknown_kid: matches!(why, Why::UnknownKid(_)),
        });
        self.refreshing.store(true, Ordering::Relaxed);
        drop(state);
        tracing::debug!(?why, "JWK set refresh started");
        self.spawn_attempt(id, timeout, false);
        Start::Waiting(rx)
    }

    /// The timeout of a probe: four times the provider's last answer time, within [1 s, the
    /// configured total timeout]; 2 s before any answer.
    fn attempt_timeout(&self, state: &State) -> Duration {
        let total = self.fetcher.total_timeout();
        let learnt = state.latency_ms.map_or(2000, |l| l.saturating_mul(4));
        Duration::from_millis(learnt.clamp(1000, ms(total).max(1000)))
    }

    fn spawn_attempt(self: &Arc<Self>, round: u64, timeout: Option<Duration>, hedge: bool) {
        self.last_attempt_ms
            .store(self.clock.now_millis(), Ordering::Relaxed);
        let me = Arc::clone(self);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            let started = me.clock.now_millis();
            let timer = std::time::Instant::now();
            let fetched = match timeout {
                Some(limit) => match tokio::time::timeout(limit, me.fetch(hedge)).await {
                    Ok(result) => result,
                    Err(_) => Err(KeySourceError::new(
                        KeySourceErrorKind::Timeout,
                        format!("timed out: no answer within the probe timeout of {limit:?}"),
                    )),
                },
                None => me.fetch(hedge).await,
            };
            let result = match &fetched {
                Ok(_) => "ok",
                Err(e) => e.kind().label(),
            };
            metrics::key_fetch(&me.issuer, result, timer.elapsed());
            me.finish(round, fetched, started);
        });
    }

    /// One attempt is over: the first success ends the round; a failure ends it only when no
    /// other attempt is still out.
    fn finish(
        &self,
        round_id: u64,
        fetched: Result<(Arc<KeySet>, Arc<[u8]>), KeySourceError>,
        started_ms: u64,
    ) {
        let now_ms = self.clock.now_millis();
        let mut state = self.lock();
        let Some(round) = state.round.as_mut().filter(|r| r.id == round_id) else {
            return; // another attempt already ended this round
        };
        round.in_flight = round.in_flight.saturating_sub(1);
        match fetched {
            Ok((set, body)) => {
                let round = state.round.take().expect("checked above");
                state.failures = 0;
                state.last_error = None;
                state.latency_ms = Some(now_ms.saturating_sub(started_ms));
                self.next_routine_ms.store(0, Ordering::Relaxed);
                self.next_needed_ms.store(0, Ordering::Relaxed);
                let old = self.current.load_full();
                let found_new = old.as_ref().is_none_or(|old| set.adds_keys_to(old));
                if round.for_unknown_kid {
                    state.allowance.completed(found_new);
                } else if found_new {
                    state.allowance.reset();
                }
                if old.as_ref().is_some_and(|old| old.loses_keys_in(&set)) {
                    self.removal_epoch.fetch_add(1, Ordering::AcqRel);
                }
                state.absent.clear();
                self.current.store(Some(Arc::clone(&set)));
                let (quiet_until, fetched_at_ms) = quiet(&set);
                self.fetched_at_ms.store(fetched_at_ms, Ordering::Relaxed);
                self.quiet_until.store(quiet_until, Ordering::Release);
                self.refreshing.store(false, Ordering::Relaxed);
                drop(state);
                if let Some(file) = self.file.clone().filter(|_| !body.is_empty()) {
                    let written = Arc::clone(&set);
                    // A small file, but still blocking I/O: off the runtime's workers.
                    tokio::task::spawn_blocking(move || file.write(&written, &body));
                }
                let _ = round.tx.send(Some(Ok(set)));
            }
            Err(e) if round.in_flight > 0 => {
                tracing::debug!(error = %e, "a key fetch attempt failed; another is still out");
                state.last_error = Some(e);
            }
            Err(e) => {
                let round = state.round.take().expect("checked above");
                state.failures = state.failures.saturating_add(1);
                state.last_error = Some(e.clone());
                let routine = refresh::routine_backoff(state.failures, self.policy.max_backoff);
                let probe = refresh::probe_delay();
                self.next_routine_ms
                    .store(now_ms.saturating_add(routine), Ordering::Relaxed);
                self.next_needed_ms
                    .store(now_ms.saturating_add(probe), Ordering::Relaxed);
                self.refreshing.store(false, Ordering::Relaxed);
                let failures = state.failures;
                drop(state);
                let serving_stale = self.current.load().is_some();
                if e.is_config() {
                    tracing::error!(error = %e, failures, serving_stale, "JWK set refresh failed: the configuration does not match the provider");
                } else {
                    tracing::warn!(error = %e, cause = ?e.kind(), failures, retry_needed_in_ms = probe, retry_routine_in_ms = routine, serving_stale, "JWK set refresh failed");
                }
                let _ = round.tx.send(Some(Err(e)));
            }
        }
    }

    /// [`Origin::PerKid`]: the PEM document of each `kid` asked for, added to the keys
    /// fetched before. A `kid` that is not a plain identifier never goes into a URL.
    async fn fetch_per_kid(
        &self,
        template: &str,
    ) -> Result<(Arc<KeySet>, Arc<[u8]>), KeySourceError> {
        let wanted = self.lock().wanted.clone();
        let mut fetched = Vec::new();
        for kid in &wanted {
            if self.lock().fetched_pems.iter().any(|(k, _)| k == kid) {
                continue;
            }
            let plain = !kid.is_empty()
                && kid.len() <= 128
                && kid
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
                && !kid.starts_with('.');
            if !plain {
                tracing::warn!(kid = %crate::reject::shown(kid), "a kid that cannot name a key URL is not fetched");
                continue;
            }
            let url = crate::outbound::parse_url(&template.replace("{kid}", kid))
                .map_err(|e| KeySourceError::new(KeySourceErrorKind::Other, e))?;
            match self.fetcher.get(&url).await {
                Ok(doc) => {
                    let pem = String::from_utf8(doc.body).map_err(|_| {
                        KeySourceError::new(
                            KeySourceErrorKind::InvalidDocument,
                            format!("{url}: the key is not a PEM document"),
                        )
                    })?;
                    fetched.push((kid.clone(), pem));
                }
                // No such key: the kid is looked for in vain, like one a JWK set lacks.
                Err(e) if e.status() == Some(404) => {
                    tracing::debug!(error = %e, "no key under this kid");
                }
                Err(e) => return Err(e),
            }
        }
        let mut state = self.lock();
        state.wanted.retain(|w| !wanted.contains(w));
        for (kid, pem) in fetched {
            if !state.fetched_pems.iter().any(|(k, _)| *k == kid) {
                state.fetched_pems.push((kid, pem));
            }
        }
        let mut keys = Vec::with_capacity(state.fetched_pems.len());
        for (kid, pem) in &state.fetched_pems {
            let alg = self
                .allowed
                .iter()
                .next()
                .unwrap_or(crate::Algorithm::ES256);
            match crate::keys::pem::from_pem(kid, alg, pem) {
                Ok(key) => keys.push(key),
                Err(e) => {
                    tracing::warn!(kid = %crate::reject::shown(kid), error = %e, "fetched key skipped")
                }
            }
        }
        drop(state);
        tracing::info!(keys = keys.len(), "keys fetched by kid");
        Ok((Arc::new(KeySet::fixed(keys)), Arc::from(&[][..])))
    }

    /// Discovery (once) and the JWK set. Returns the parsed set and the document as fetched.
    async fn fetch(&self, hedge: bool) -> Result<(Arc<KeySet>, Arc<[u8]>), KeySourceError> {
        let url = match &self.origin {
            Origin::JwksUri(url) => url.clone(),
            Origin::Discovery { issuer, issuer_url } => match self.jwks_uri.get() {
                Some(url) => url.clone(),
                None => {
                    let url = discovery::discover(&self.fetcher, issuer, issuer_url).await?;
                    self.jwks_uri.get_or_init(|| url).clone()
                }
            },
            Origin::Fixed => {
                return Err(KeySourceError::new(
                    KeySourceErrorKind::Other,
                    "keys are fixed by configuration",
                ))
            }
            Origin::PerKid(template) => return self.fetch_per_kid(template).await,
        };
        let have_ms = self.current.load().as_ref().map(|set| set.fetched_at_ms());
        let clock = &self.clock;
        let doc = self
            .store
            .get(&self.fetcher, &url, self.allowed, (have_ms, hedge), || {
                clock.now_millis()
            })
            .await?;
        let p = &self.policy;
        let ttl = doc
            .max_age
            .map_or(p.ttl_default, Duration::from_secs)
            .clamp(p.ttl_floor, p.ttl_ceiling.max(p.ttl_floor));
        tracing::info!(jwks_uri = %url, keys = doc.keys.len(), ttl_secs = ttl.as_secs(), "JWK set loaded");
        let set = KeySet::new(doc.keys, doc.fetched_at_ms, ttl, p.max_stale);
        Ok((Arc::new(set), doc.body))
    }
}
