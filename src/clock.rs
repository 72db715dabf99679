//! Time, injected: the verifier and the key cache read it through [`Clock`], so tests can move
//! time forward instead of sleeping.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A source of the current time since the Unix epoch.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// Seconds since 1970-01-01T00:00:00Z.
    fn now(&self) -> u64;

    /// Milliseconds since 1970-01-01T00:00:00Z, for the key cache's sub-second timetable
    /// (retries, refetch allowances). Defaults to [`Clock::now`] in whole seconds.
    fn now_millis(&self) -> u64 {
        self.now().saturating_mul(1000)
    }
}

/// The system's wall clock. The default.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        // Whole seconds straight from the duration: no 128-bit millisecond arithmetic on
        // every request.
        since_epoch().as_secs()
    }

    fn now_millis(&self) -> u64 {
        u64::try_from(since_epoch().as_millis()).unwrap_or(u64::MAX)
    }
}

/// The time since the Unix epoch (zero before it).
fn since_epoch() -> Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

/// A clock that only moves when told to, to the millisecond; clones share the same time.
///
/// ```
/// use std::time::Duration;
/// use tower_jwt_auth::{Clock, ManualClock};
/// let clock = ManualClock::new(1_700_000_000);
/// clock.advance(Duration::from_secs(3600));
/// assert_eq!(clock.now(), 1_700_003_600);
/// clock.advance(Duration::from_millis(1500));
/// assert_eq!((clock.now(), clock.now_millis()), (1_700_003_601, 1_700_003_601_500));
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    millis: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock standing at `secs` seconds since the Unix epoch.
    pub fn new(secs: u64) -> Self {
        Self {
            millis: Arc::new(AtomicU64::new(secs.saturating_mul(1000))),
        }
    }

    /// A clock standing at the system's current time, in whole seconds.
    pub fn starting_now() -> Self {
        Self::new(SystemClock.now())
    }

    /// Moves the clock forward (to the millisecond).
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.millis.fetch_add(by, Ordering::SeqCst);
    }

    /// Sets the clock to `secs` seconds since the Unix epoch.
    pub fn set(&self, secs: u64) {
        self.millis
            .store(secs.saturating_mul(1000), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.now_millis() / 1000
    }

    fn now_millis(&self) -> u64 {
        self.millis.load(Ordering::SeqCst)
    }
}
