//! Single-flight: one outbound call per key, shared by every caller that needs its answer
//! meanwhile, and gone as soon as the last of them is.
//!
//! Each caller holds a [`Waiter`]; the call lives in a map only while someone waits for it.
//! When the last waiter goes away — the call answered, or every request that waited was
//! cancelled (the client disconnected, an outer timeout fired, the server shut the
//! connection) — its `Drop` takes the entry out of the map, and with it the unfinished call.
//! Without that, every abandoned call would stay in the map for good: a flood of requests with
//! random opaque tokens against a slow introspection endpoint would grow memory without bound.
//!
//! If the caller driving the call is cancelled while others still wait, the next of them
//! starts it again ([`tokio::sync::OnceCell`]'s rule): a call is never left without a driver.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::OnceCell;

/// Calls in flight, by key.
pub(crate) struct SingleFlight<K, V> {
    calls: Mutex<HashMap<K, Arc<OnceCell<V>>>>,
    /// The `call` label of the in-flight gauge.
    name: &'static str,
}

impl<K: Hash + Eq + Clone, V: Clone> SingleFlight<K, V> {
    /// An empty map; `name` labels its in-flight gauge (`introspection`, `jwks`, …).
    pub(crate) fn new(name: &'static str) -> Self {
        Self {
            calls: Mutex::new(HashMap::new()),
            name,
        }
    }

    /// The answer of the call for `key`: the one in flight, or a new one made by `call`.
    pub(crate) async fn run<F, Fut>(&self, key: K, call: F) -> V
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = V>,
    {
        let waiter = self.join(key);
        waiter.cell.get_or_init(call).await.clone()
    }

    /// Calls in flight now (each with at least one waiter).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    fn join(&self, key: K) -> Waiter<'_, K, V> {
        let mut calls = self.lock();
        let cell = Arc::clone(calls.entry(key.clone()).or_default());
        crate::metrics::calls_in_flight(self.name, calls.len());
        Waiter {
            flight: self,
            key,
            cell,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<K, Arc<OnceCell<V>>>> {
        self.calls.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One caller's share of a call. Every clone of the cell is taken under the map's lock, so
/// the count seen there under the same lock is exact.
struct Waiter<'a, K: Hash + Eq + Clone, V: Clone> {
    flight: &'a SingleFlight<K, V>,
    key: K,
    cell: Arc<OnceCell<V>>,
}

impl<K: Hash + Eq + Clone, V: Clone> Drop for Waiter<'_, K, V> {
    fn drop(&mut self) {
        let mut calls = self.flight.lock();
        let last = calls
            .get(&self.key)
            .is_some_and(|c| Arc::ptr_eq(c, &self.cell) && Arc::strong_count(&self.cell) == 2);
        if last {
            calls.remove(&self.key);
            crate::metrics::calls_in_flight(self.flight.name, calls.len());
        }
    }
}

impl<K, V> std::fmt::Debug for SingleFlight<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SingleFlight")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn waiters_share_one_call_and_leave_nothing_behind() {
        let flight = SingleFlight::<u32, u32>::new("test");
        let calls = AtomicUsize::new(0);
        let (tx, rx) = tokio::sync::watch::channel(false);
        let call = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            let mut rx = rx.clone();
            rx.wait_for(|open| *open).await.unwrap();
            7
        };
        let waiters = futures_join(&flight, 5, call, tx).await;
        assert_eq!(waiters, vec![7; 5]);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(flight.len(), 0);
    }

    /// Runs `n` waiters on one key, opens the gate once all have joined, and collects them.
    async fn futures_join<F, Fut>(
        flight: &SingleFlight<u32, u32>,
        n: usize,
        call: F,
        gate: tokio::sync::watch::Sender<bool>,
    ) -> Vec<u32>
    where
        F: Fn() -> Fut + Copy,
        Fut: Future<Output = u32>,
    {
        let mut all: Vec<_> = (0..n).map(|_| Box::pin(flight.run(1, call))).collect();
        // Poll each once so that every waiter has joined before the call may end.
        for f in &mut all {
            let polled = futures_poll_once(f.as_mut()).await;
            assert!(polled.is_none());
        }
        assert_eq!(flight.len(), 1);
        gate.send(true).unwrap();
        let mut out = Vec::new();
        for f in all {
            out.push(f.await);
        }
        out
    }

    async fn futures_poll_once<T>(f: std::pin::Pin<&mut impl Future<Output = T>>) -> Option<T> {
        let mut f = Some(f);
        std::future::poll_fn(|cx| {
            let f = f.take().unwrap();
            std::task::Poll::Ready(match f.poll(cx) {
                std::task::Poll::Ready(v) => Some(v),
                std::task::Poll::Pending => None,
            })
        })
        .await
    }

    #[tokio::test]
    async fn cancelled_waiters_take_their_call_with_them() {
        let flight = SingleFlight::<u32, u32>::new("test");
        for key in 0..10_000 {
            let waited =
                tokio::time::timeout(Duration::ZERO, flight.run(key, std::future::pending::<u32>))
                    .await;
            assert!(waited.is_err());
        }
        assert_eq!(flight.len(), 0, "every abandoned call is gone");
    }

    #[tokio::test]
    async fn a_cancelled_driver_hands_the_call_to_the_next_waiter() {
        let flight = SingleFlight::<u32, u32>::new("test");
        let mut first = Box::pin(flight.run(1, std::future::pending::<u32>));
        assert!(futures_poll_once(first.as_mut()).await.is_none());
        let mut second = Box::pin(flight.run(1, || async { 2 }));
        assert!(futures_poll_once(second.as_mut()).await.is_none());
        drop(first);
        assert_eq!(flight.len(), 1, "the second waiter still holds the call");
        assert_eq!(second.await, 2);
        assert_eq!(flight.len(), 0);
    }
}
