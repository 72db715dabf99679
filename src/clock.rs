//! Time, injected: the verifier and the key cache read it through [`Clock`], so tests can move
//! time forward instead of sleeping.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of the current time, in whole seconds since the Unix epoch.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// Seconds since 1970-01-01T00:00:00Z.
    fn now(&self) -> u64;
}

/// The system's wall clock. The default.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// A clock that only moves when told to; clones share the same time.
///
/// ```
/// use std::time::Duration;
/// use tower_jwt_auth::{Clock, ManualClock};
/// let clock = ManualClock::new(1_700_000_000);
/// clock.advance(Duration::from_secs(3600));
/// assert_eq!(clock.now(), 1_700_003_600);
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    secs: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock standing at `secs` seconds since the Unix epoch.
    pub fn new(secs: u64) -> Self {
        Self {
            secs: Arc::new(AtomicU64::new(secs)),
        }
    }

    /// A clock standing at the system's current time.
    pub fn starting_now() -> Self {
        Self::new(SystemClock.now())
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.secs.fetch_add(by.as_secs(), Ordering::SeqCst);
    }

    /// Sets the clock to `secs` seconds since the Unix epoch.
    pub fn set(&self, secs: u64) {
        self.secs.store(secs, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.secs.load(Ordering::SeqCst)
    }
}
