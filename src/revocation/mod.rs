//! Revocation: tokens refused before their `exp` — one token, everything of a subject or a
//! client issued before a time — checked after every verdict (cached or not), in one process
//! or, with the Redis backend (feature `redis`), across a fleet; and a receiver of Shared
//! Signals (SSF 1.0: CAEP and RISC events pushed as Security Event Tokens, RFC 8417/8935) that
//! turns events into revocations.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::claims::Grant;
use crate::clock::{Clock, SystemClock};
use crate::credential::KeyDigest;
use crate::jose::compact::unverified_claims;
use crate::reject::{AuthError, AuthErrorKind};

mod list;
pub(crate) mod receiver;
#[cfg(feature = "redis")]
mod redis;

pub(crate) use list::Entry;
use list::List;

/// How long a subject's or client's revocation is kept past its time when nothing says how
/// long its tokens live: the longest token lifetime accepted by default (24 h) plus leeway.
const DEFAULT_HORIZON: Duration = Duration::from_secs(24 * 3600 + 600);
/// How often (at most) a write also drops expired entries, in seconds.
const PRUNE_EVERY: u64 = 60;

/// What a fleet backend does when it has not been able to synchronise for longer than the
/// bound ([`Revocations::when_stale`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenStale {
    /// Keep refusing what the last known list revokes, and accept the rest (the default: a
    /// revocation store's outage does not take the API down, and every revocation seen before
    /// it still holds).
    ServeLastKnown,
    /// Answer every request 503 (`RevocationUnavailable`) until the list is fresh again.
    FailClosed,
}

/// Shared state of one revocation list.
pub(crate) struct State {
    /// Read on every request while anything is revoked; written in place (a flood of
    /// revocations costs each one an insert, not a copy of the list).
    pub(crate) list: RwLock<List>,
    /// When expired entries are dropped next (seconds).
    next_prune: AtomicU64,
    /// Whether the list holds anything: the check on the request path is one load when not.
    pub(crate) any: AtomicBool,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) horizon: u64,
    /// For a fleet backend: whether it is in sync now, and since when it last was (ms).
    pub(crate) synced: AtomicBool,
    pub(crate) last_sync_ms: AtomicU64,
    /// Under [`WhenStale::FailClosed`], how long out of sync (ms) before refusing;
    /// `u64::MAX` when serving on the last known list. Read on the request path while out of
    /// sync: an atomic, not a lock.
    fail_closed_after_ms: AtomicU64,
    #[cfg(feature = "redis")]
    pub(crate) backend: std::sync::OnceLock<redis::Backend>,
}

impl State {
    /// Adds revocations (from this instance, a fleet peer or an event), pruning the expired.
    pub(crate) fn apply(&self, entries: &[(Entry, u64)]) {
        let now = self.clock.now();
        let mut list = self.list.write().unwrap_or_else(|e| e.into_inner());
        if now >= self.next_prune.load(Ordering::Relaxed) {
            list.prune(now);
            self.next_prune.store(now + PRUNE_EVERY, Ordering::Relaxed);
        }
        for (entry, until) in entries {
            if *until > now {
                list.insert(entry, *until);
            }
        }
        self.any.store(list.len() > 0, Ordering::Release);
        crate::metrics::revocations(list.len());
    }

    /// Replaces the list with a full copy (a fleet's reconciliation).
    pub(crate) fn replace(&self, entries: &[(Entry, u64)]) {
        let now = self.clock.now();
        let mut fresh = List::default();
        for (entry, until) in entries.iter().filter(|(_, until)| *until > now) {
            fresh.insert(entry, *until);
        }
        let mut list = self.list.write().unwrap_or_else(|e| e.into_inner());
        *list = fresh;
        self.any.store(list.len() > 0, Ordering::Release);
        crate::metrics::revocations(list.len());
    }

    /// Drops what expired (on every count, so that what is reported is in force).
    fn prune(&self) -> usize {
        let now = self.clock.now();
        let mut list = self.list.write().unwrap_or_else(|e| e.into_inner());
        list.prune(now);
        self.any.store(list.len() > 0, Ordering::Release);
        list.len()
    }
}

/// A revocation list: tokens refused from now on, until their `exp`. Give it to
/// [`JwtAuth::revocations`](crate::JwtAuth::revocations); revoke through any clone of it (an
/// admin endpoint, a Shared Signals receiver, a message consumer). In memory by default; with
/// `Revocations::redis` (feature `redis`) (feature `redis`), shared by every instance of a fleet.
///
/// A revoked credential is refused 401 `invalid_token` ("the token has been revoked") at once,
/// whatever verdict a cache holds. Each entry is dropped once the newest `exp` it can affect
/// has passed: a token's own `exp`, or for a subject or client, the time plus the longest
/// token lifetime (24 h and the leeway by default).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use tower_jwt_auth::{testing::TestIssuer, AuthErrorKind, JwtAuth, Revocations};
/// let issuer = TestIssuer::start().await;
/// let revocations = Revocations::new();
/// let auth = JwtAuth::new(issuer.url(), "insights-api").revocations(revocations.clone());
/// let token = issuer.token().sub("customer-1042").sign();
/// assert!(auth.verify(&token).await.is_ok());
/// // The customer's account is disabled: every token issued to them until now is refused.
/// revocations.revoke_subject(issuer.url(), "customer-1042", None).await.unwrap();
/// assert_eq!(auth.verify(&token).await.unwrap_err().kind(), AuthErrorKind::Revoked);
/// # }
/// ```
#[derive(Clone)]
pub struct Revocations {
    pub(crate) state: Arc<State>,
}

impl fmt::Debug for Revocations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Revocations")
            .field(
                "entries",
                &self.state.list.read().map_or(0, |list| list.len()),
            )
            .finish_non_exhaustive()
    }
}

impl Default for Revocations {
    fn default() -> Self {
        Self::new()
    }
}

/// Why a revocation could not be recorded (the fleet's store failed; this instance still
/// applies it).
#[derive(Debug, Clone)]
pub struct RevocationError(pub(crate) String);

impl fmt::Display for RevocationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the revocation could not be shared: {}", self.0)
    }
}

impl std::error::Error for RevocationError {}

impl Revocations {
    /// An empty list, in this process.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    pub(crate) fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            state: Arc::new(State {
                list: RwLock::new(List::default()),
                next_prune: AtomicU64::new(0),
                any: AtomicBool::new(false),
                clock,
                horizon: DEFAULT_HORIZON.as_secs(),
                synced: AtomicBool::new(true),
                last_sync_ms: AtomicU64::new(0),
                fail_closed_after_ms: AtomicU64::new(u64::MAX),
                #[cfg(feature = "redis")]
                backend: std::sync::OnceLock::new(),
            }),
        }
    }

    /// The clock deciding when entries expire. Defaults to the system clock; give the layer's
    /// [`ManualClock`](crate::ManualClock) in tests.
    pub fn clock(self, clock: impl Clock) -> Self {
        Self::with_clock(Arc::new(clock))
    }

    /// For a fleet backend: how long the list may go without synchronising before `policy`
    /// applies. Defaults to [`WhenStale::ServeLastKnown`], which has no bound: the last known
    /// list keeps serving however long the outage.
    pub fn when_stale(self, after: Duration, policy: WhenStale) -> Self {
        let after_ms = match policy {
            WhenStale::FailClosed => u64::try_from(after.as_millis()).unwrap_or(u64::MAX - 1),
            WhenStale::ServeLastKnown => u64::MAX,
        };
        self.state
            .fail_closed_after_ms
            .store(after_ms, Ordering::Relaxed);
        self
    }

    /// Revokes one token: by its `jti` when it has one (every copy of it), else the token
    /// itself; until its `exp`. The token is read, not verified: revoking a forged token
    /// harms no one.
    ///
    /// # Errors
    /// With a fleet backend, the store could not record it (this instance refuses the token
    /// all the same).
    pub async fn revoke_token(&self, token: &str) -> Result<(), RevocationError> {
        let claims = unverified_claims(token).unwrap_or_default();
        let field = |name: &str| claims.get(name).and_then(|v| v.as_str()).map(str::to_owned);
        let now = self.state.clock.now();
        let until = claims
            .get("exp")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(now + self.state.horizon);
        let entry = match (field("iss"), field("jti")) {
            (Some(iss), Some(jti)) => Entry::Jti { iss, jti },
            _ => Entry::Token {
                sha256: KeyDigest::of(token).to_hex(),
            },
        };
        self.record(vec![(entry, until)]).await
    }

    /// Revokes the token of `issuer` whose `jti` is this, until `expires_at` (its `exp`).
    ///
    /// # Errors
    /// As [`Revocations::revoke_token`].
    pub async fn revoke_jti(
        &self,
        issuer: &str,
        jti: &str,
        expires_at: u64,
    ) -> Result<(), RevocationError> {
        let entry = Entry::Jti {
            iss: issuer.into(),
            jti: jti.into(),
        };
        self.record(vec![(entry, expires_at)]).await
    }

    /// Revokes every token of `issuer` for subject `sub` issued before `before` (seconds since
    /// the epoch; `None`: now). Tokens without `iat` count as issued before.
    ///
    /// # Errors
    /// As [`Revocations::revoke_token`].
    pub async fn revoke_subject(
        &self,
        issuer: &str,
        sub: &str,
        before: Option<u64>,
    ) -> Result<(), RevocationError> {
        let before = before.unwrap_or_else(|| self.state.clock.now() + 1);
        let entry = Entry::Subject {
            iss: issuer.into(),
            sub: sub.into(),
            before,
        };
        self.record(vec![(entry, before + self.state.horizon)])
            .await
    }

    /// Revokes every token of `issuer` issued to `client_id` (`client_id`, `azp`, …) before
    /// `before` (`None`: now): a client whose credentials leaked.
    ///
    /// # Errors
    /// As [`Revocations::revoke_token`].
    pub async fn revoke_client(
        &self,
        issuer: &str,
        client_id: &str,
        before: Option<u64>,
    ) -> Result<(), RevocationError> {
        let before = before.unwrap_or_else(|| self.state.clock.now() + 1);
        let entry = Entry::Client {
            iss: issuer.into(),
            client: client_id.into(),
            before,
        };
        self.record(vec![(entry, before + self.state.horizon)])
            .await
    }

    /// How many revocations are in force (expired ones are dropped first).
    pub fn len(&self) -> usize {
        self.state.prune()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Applies `entries` here, then shares them with the fleet.
    pub(crate) async fn record(&self, entries: Vec<(Entry, u64)>) -> Result<(), RevocationError> {
        self.state.apply(&entries);
        #[cfg(feature = "redis")]
        if let Some(backend) = self.state.backend.get() {
            return backend.publish(&entries).await;
        }
        Ok(())
    }

    /// The verdict on an admitted credential: refused if revoked, or (fail closed) if the
    /// list is stale beyond its bound. One atomic load when nothing is revoked and the list is
    /// in sync.
    pub(crate) fn check(&self, grant: &Grant, token: Option<&[u8]>) -> Result<(), AuthError> {
        let state = &*self.state;
        if !state.synced.load(Ordering::Relaxed) {
            self.check_staleness()?;
        }
        if !state.any.load(Ordering::Acquire) {
            return Ok(());
        }
        let list = state.list.read().unwrap_or_else(|e| e.into_inner());
        match list.revoked(grant, token) {
            None => Ok(()),
            Some(why) => Err(AuthError::new(AuthErrorKind::Revoked).with_context(why)),
        }
    }

    fn check_staleness(&self) -> Result<(), AuthError> {
        let state = &*self.state;
        let after_ms = state.fail_closed_after_ms.load(Ordering::Relaxed);
        if after_ms == u64::MAX {
            return Ok(());
        }
        let stale_ms = state
            .clock
            .now_millis()
            .saturating_sub(state.last_sync_ms.load(Ordering::Relaxed));
        if stale_ms > after_ms {
            return Err(AuthError::new(AuthErrorKind::RevocationUnavailable)
                .with_retry_after(Duration::from_secs(1))
                .with_context(format!(
                    "the revocation list has not been synchronised for {} ms",
                    stale_ms
                )));
        }
        Ok(())
    }
}
