//! Each DPoP key's share of the replay store: a client whose tokens are bound to one key may
//! have at most so many proofs remembered per replay window, so that minting proofs as fast
//! as it can fills neither the store nor anyone else's share of it.
//!
//! A fixed window per key, counted in this process: one entry per key seen in the window
//! (its thumbprint, the window's start and a count), however many proofs it sends. With a
//! store shared by a fleet, each instance keeps its own count: one key can hold at most
//! `instances × per_key` entries of the shared store.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Keys tracked at once before new keys are refused; stale windows are dropped first.
const MAX_KEYS: usize = 100_000;

/// Why a proof may not be recorded.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Over {
    /// This key has used its share: retry once its window ends, in this long.
    Key(Duration),
    /// More keys than [`MAX_KEYS`] sent proofs within one window.
    Keys,
}

/// Proofs per key per window.
pub(crate) struct KeyQuota {
    per_key: u32,
    window_ms: u64,
    /// Thumbprint → (window start in ms, proofs in that window).
    counts: Mutex<HashMap<Box<str>, (u64, u32)>>,
}

impl KeyQuota {
    pub(crate) fn new(per_key: u32, window: Duration) -> Self {
        Self {
            per_key,
            window_ms: u64::try_from(window.as_millis()).unwrap_or(u64::MAX),
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one proof of key `jkt` at `now_ms`, unless its share is spent.
    pub(crate) fn admit(&self, jkt: &str, now_ms: u64) -> Result<(), Over> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let window_ms = self.window_ms;
        let live = |start: u64| now_ms < start.saturating_add(window_ms);
        if !counts.contains_key(jkt) && counts.len() >= MAX_KEYS {
            counts.retain(|_, (start, _)| live(*start));
            if counts.len() >= MAX_KEYS {
                return Err(Over::Keys);
            }
        }
        let (start, count) = counts.entry(jkt.into()).or_insert((now_ms, 0));
        if !live(*start) {
            (*start, *count) = (now_ms, 0);
        }
        if *count >= self.per_key {
            let ends_in = start.saturating_add(window_ms).saturating_sub(now_ms);
            return Err(Over::Key(Duration::from_millis(ends_in)));
        }
        *count += 1;
        Ok(())
    }

    /// Keys tracked now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_key_spends_its_share_and_others_keep_theirs() {
        let quota = KeyQuota::new(3, Duration::from_secs(120));
        for _ in 0..3 {
            assert_eq!(quota.admit("flood", 1_000), Ok(()));
        }
        assert_eq!(
            quota.admit("flood", 61_000),
            Err(Over::Key(Duration::from_secs(60)))
        );
        assert_eq!(quota.admit("other", 61_000), Ok(()));
        // The flooding key's window ends at 121 s: a new share.
        assert_eq!(quota.admit("flood", 121_000), Ok(()));
    }

    #[test]
    fn the_key_table_is_bounded_and_sheds_stale_windows_first() {
        let quota = KeyQuota::new(1, Duration::from_secs(10));
        for i in 0..MAX_KEYS {
            assert_eq!(quota.admit(&format!("k{i}"), 0), Ok(()));
        }
        assert_eq!(quota.admit("late", 5_000), Err(Over::Keys));
        assert_eq!(
            quota.admit("k1", 5_000),
            Err(Over::Key(Duration::from_secs(5)))
        );
        // Every window has ended: the table empties before taking the new key.
        assert_eq!(quota.admit("late", 10_000), Ok(()));
        assert_eq!(quota.len(), 1);
    }
}
