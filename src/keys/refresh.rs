//! When the key source may fetch: the timetable of retries after failures, the refetch
//! allowance for unknown `kid`s, and the memory of `kid`s found absent. Plain state, no I/O:
//! the key source consults it under its lock.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

/// After a failed fetch, a refresh that someone needs (no usable set, a set past its lifetime,
/// an unknown `kid`) is retried this soon, jittered down to half: recovery is noticed within
/// about a second.
pub(crate) const PROBE_INTERVAL: Duration = Duration::from_secs(1);
/// A needed refresh whose newest attempt has been out this long without an answer (a hanging
/// provider) gets another attempt beside it.
pub(crate) const HEDGE_AFTER: Duration = Duration::from_secs(1);
/// Attempts of one refresh at once, at most.
pub(crate) const MAX_ATTEMPTS: u32 = 3;
/// Unknown-`kid` refetches that found nothing new stretch the allowance up to this interval.
pub(crate) const MAX_UNKNOWN_KID_INTERVAL: Duration = Duration::from_secs(300);
/// `kid`s remembered as absent from the current set.
const MAX_ABSENT_KIDS: usize = 4096;

/// A duration in whole milliseconds.
pub(crate) fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `base` scaled by a random factor in `[lo, hi]` percent, so that a fleet of instances does
/// not retry in step.
pub(crate) fn jittered(base: u64, lo: u64, hi: u64) -> u64 {
    let r = RandomState::new().hash_one(base) % (hi - lo + 1);
    base.saturating_mul(lo + r) / 100
}

/// The delay before the next routine (nobody waiting) refresh after `failures` failures in a
/// row: 1 s doubling to `max`, jittered ±20 %.
pub(crate) fn routine_backoff(failures: u32, max: Duration) -> u64 {
    let base = (1000u64 << failures.saturating_sub(1).min(16)).min(ms(max).max(1000));
    jittered(base, 80, 120)
}

/// The delay before the next needed refresh after a failure: at most [`PROBE_INTERVAL`].
pub(crate) fn probe_delay() -> u64 {
    jittered(ms(PROBE_INTERVAL), 50, 100)
}

/// The allowance of refetches for tokens whose `kid` the set lacks: the first at once, then one
/// per `cooldown`; each refetch that finds no new key doubles the interval, up to five minutes,
/// and one that finds a new key resets it. A flood of invented `kid`s therefore costs a handful
/// of fetches in its first ten minutes and one per five minutes after, while a real rotation
/// is picked up within `cooldown`.
#[derive(Debug, Default)]
pub(crate) struct Allowance {
    /// Unknown-`kid` refetches in a row that found no new key.
    futile: u32,
    /// When the last unknown-`kid` refetch started.
    last_ms: Option<u64>,
}

impl Allowance {
    fn interval(&self, cooldown: Duration) -> u64 {
        let cap = ms(MAX_UNKNOWN_KID_INTERVAL);
        ms(cooldown)
            .saturating_mul(1u64 << self.futile.min(20))
            .min(cap.max(ms(cooldown)))
    }

    /// Whether an unknown-`kid` refetch may start at `now_ms`.
    pub(crate) fn permits(&self, now_ms: u64, cooldown: Duration) -> bool {
        self.last_ms
            .is_none_or(|last| now_ms >= last.saturating_add(self.interval(cooldown)))
    }

    pub(crate) fn started(&mut self, now_ms: u64) {
        self.last_ms = Some(now_ms);
    }

    /// A refetch completed: did it bring a key the set did not have?
    pub(crate) fn completed(&mut self, found_new_key: bool) {
        if found_new_key {
            self.futile = 0;
        } else {
            self.futile = self.futile.saturating_add(1);
        }
    }

    /// A new key arrived some other way (a routine refresh).
    pub(crate) fn reset(&mut self) {
        self.futile = 0;
    }
}

/// `kid`s that a refetch looked for and did not find, valid until the set changes: a token
/// naming one is refused at once instead of waiting for another refetch.
#[derive(Debug, Default)]
pub(crate) struct Absent {
    kids: HashSet<Box<str>>,
}

impl Absent {
    pub(crate) fn contains(&self, kid: &str) -> bool {
        self.kids.contains(kid)
    }

    pub(crate) fn insert(&mut self, kid: &str) {
        if self.kids.len() < MAX_ABSENT_KIDS {
            self.kids.insert(kid.into());
        }
    }

    /// The set changed: what was absent may be there now.
    pub(crate) fn clear(&mut self) {
        self.kids.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_costs_few_refetches_then_one_per_five_minutes() {
        let cooldown = Duration::from_secs(1);
        let mut a = Allowance::default();
        let mut fetches = Vec::new();
        // A request every 100 ms for 30 minutes, each with a new invented kid.
        for now in (0..30 * 60 * 1000).step_by(100) {
            if a.permits(now, cooldown) {
                a.started(now);
                a.completed(false);
                fetches.push(now);
            }
        }
        let first_ten_minutes = fetches.iter().filter(|&&t| t < 600_000).count();
        assert!(first_ten_minutes <= 15, "{fetches:?}");
        for pair in fetches.windows(2).filter(|w| w[0] >= 600_000) {
            assert!(pair[1] - pair[0] >= 300_000, "{fetches:?}");
        }
        // A refetch that finds a new key restores the one-second allowance.
        a.completed(true);
        let last = *fetches.last().unwrap();
        assert!(a.permits(last + 1000, cooldown));
    }

    #[test]
    fn the_first_refetch_is_at_once_then_one_per_cooldown() {
        let cooldown = Duration::from_secs(1);
        let mut a = Allowance::default();
        assert!(a.permits(0, cooldown));
        a.started(5_000);
        a.completed(true);
        assert!(!a.permits(5_999, cooldown));
        assert!(a.permits(6_000, cooldown));
    }

    #[test]
    fn delays_are_jittered_within_their_bounds() {
        for failures in 1..20 {
            let d = routine_backoff(failures, Duration::from_secs(60));
            let base = (1000u64 << (failures - 1).min(16)).min(60_000);
            assert!(
                (base * 80 / 100..=base * 120 / 100).contains(&d),
                "{failures}: {d}"
            );
        }
        let probes: HashSet<u64> = (0..50).map(|_| probe_delay()).collect();
        assert!(
            probes.iter().all(|d| (500..=1000).contains(d)),
            "{probes:?}"
        );
        assert!(probes.len() > 1, "no jitter: {probes:?}");
    }

    #[test]
    fn absent_kids_are_bounded_and_forgotten_with_the_set() {
        let mut a = Absent::default();
        for i in 0..10_000 {
            a.insert(&format!("k{i}"));
        }
        assert!(a.contains("k1") && !a.contains("k9999"));
        a.clear();
        assert!(!a.contains("k1"));
    }
}
