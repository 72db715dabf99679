//! The revocation list of a fleet, in Redis: a sorted set of revocations (member: the entry as
//! JSON, score: until when it matters, in seconds) and a pub/sub channel announcing each new
//! one. Every instance applies announcements as they come (within milliseconds), and reads the
//! whole set on connecting and every ten seconds, so that what it missed while disconnected is
//! applied when it is back.
//!
//! Another system revokes for the fleet with the same two commands:
//! `ZADD {prefix}:revocations <until> <entry>` then
//! `PUBLISH {prefix}:revocations <entry with "until":<until> added>`, where `<entry>` is one of
//! `{"kind":"jti","iss":"…","jti":"…"}`, `{"kind":"token","sha256":"<hex>"}`,
//! `{"kind":"subject","iss":"…","sub":"…","before":<seconds>}`,
//! `{"kind":"client","iss":"…","client":"…","before":<seconds>}` (without the `PUBLISH`, the
//! next reconciliation applies it).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;

use super::{Entry, RevocationError, Revocations, State};

/// How often the whole set is read again while connected.
const RECONCILE_EVERY: Duration = Duration::from_secs(10);
/// The longest pause between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// The fleet side of a revocation list.
pub(crate) struct Backend {
    commands: ConnectionManager,
    key: String,
}

impl Backend {
    /// Records `entries` in the set and announces them.
    pub(crate) async fn publish(&self, entries: &[(Entry, u64)]) -> Result<(), RevocationError> {
        let mut pipe = redis::pipe();
        for (entry, until) in entries {
            let member = serde_json::to_string(entry);
            let announced = serde_json::to_string(&Announced {
                until: *until,
                entry: entry.clone(),
            });
            let (member, announced) = member
                .and_then(|m| Ok((m, announced?)))
                .map_err(|e| RevocationError(e.to_string()))?;
            pipe.zadd(&self.key, &member, *until).ignore();
            pipe.publish(&self.key, &announced).ignore();
        }
        let mut commands = self.commands.clone();
        pipe.query_async::<()>(&mut commands)
            .await
            .map_err(|e| RevocationError(e.to_string()))
    }
}

impl Revocations {
    /// A revocation list shared by every instance through the Redis at `url` (feature
    /// `redis`), under keys starting with `prefix`: a revocation made on any instance, or
    /// written by another system (see the key layout in the crate docs' Revocation section),
    /// is refused by every instance within a second.
    ///
    /// Redis unreachable: the instance keeps its last known list, logs it, and exposes the
    /// time since it was last in sync (`tower_jwt_auth_revocation_staleness_seconds`); past
    /// the bound of [`when_stale`](Revocations::when_stale) it keeps serving
    /// on that list unless told to fail closed. Back in touch, it reads the whole set again.
    ///
    /// # Errors
    /// Redis cannot be reached now.
    pub async fn redis(url: &str, prefix: &str) -> Result<Revocations, RevocationError> {
        let client = redis::Client::open(url).map_err(|e| RevocationError(e.to_string()))?;
        let commands = ConnectionManager::new(client.clone())
            .await
            .map_err(|e| RevocationError(e.to_string()))?;
        let revocations = Revocations::new();
        let key = format!("{prefix}:revocations");
        let state = &revocations.state;
        state.synced.store(false, Ordering::Relaxed);
        state
            .last_sync_ms
            .store(state.clock.now_millis(), Ordering::Relaxed);
        let backend = Backend {
            commands: commands.clone(),
            key: key.clone(),
        };
        if state.backend.set(backend).is_err() {
            unreachable!("a new list has no backend");
        }
        tokio::spawn(follow(Arc::downgrade(state), client, commands, key));
        Ok(revocations)
    }
}

/// An announcement on the channel: the entry and until when it matters.
#[derive(serde::Serialize, serde::Deserialize)]
struct Announced {
    until: u64,
    #[serde(flatten)]
    entry: Entry,
}

/// Follows the fleet's list for as long as any handle of this one lives.
async fn follow(
    state: Weak<State>,
    client: redis::Client,
    commands: ConnectionManager,
    key: String,
) {
    let mut backoff = Duration::from_millis(50);
    loop {
        if state.strong_count() == 0 {
            return;
        }
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(&key).await {
                // Subscribed first, then read: nothing announced in between is missed.
                Ok(()) if reconcile(&state, &commands, &key).await => {
                    backoff = Duration::from_millis(50);
                    tracing::info!("revocation list: in sync with the fleet");
                    let mut messages = pubsub.on_message();
                    loop {
                        match tokio::time::timeout(RECONCILE_EVERY, messages.next()).await {
                            Ok(Some(message)) => {
                                let Some(state) = state.upgrade() else {
                                    return;
                                };
                                let payload: String = message.get_payload().unwrap_or_default();
                                match serde_json::from_str::<Announced>(&payload) {
                                    Ok(a) => state.apply(&[(a.entry, a.until)]),
                                    Err(e) => {
                                        tracing::warn!(error = %e, "revocation list: an announcement is not a revocation")
                                    }
                                }
                            }
                            Ok(None) => break, // disconnected
                            Err(_) => {
                                if !reconcile(&state, &commands, &key).await {
                                    break;
                                }
                            }
                        }
                    }
                }
                Ok(()) => {}
                Err(e) => tracing::warn!(error = %e, "revocation list: cannot subscribe"),
            },
            Err(e) => tracing::debug!(error = %e, "revocation list: Redis unreachable"),
        }
        let Some(alive) = state.upgrade() else {
            return;
        };
        if alive.synced.swap(false, Ordering::Relaxed) {
            tracing::warn!(
                "revocation list: lost touch with the fleet; serving the last known list"
            );
        }
        let stale_ms = alive
            .clock
            .now_millis()
            .saturating_sub(alive.last_sync_ms.load(Ordering::Relaxed));
        crate::metrics::revocation_staleness(stale_ms as f64 / 1000.0);
        drop(alive);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Reads the whole set (dropping what no longer matters) and makes it the list; `false` when
/// Redis did not answer.
async fn reconcile(state: &Weak<State>, commands: &ConnectionManager, key: &str) -> bool {
    let Some(state) = state.upgrade() else {
        return false;
    };
    let now = state.clock.now();
    let mut commands = commands.clone();
    let _: Result<u64, _> = commands.zrembyscore(key, "-inf", now).await;
    let members: Vec<(String, u64)> = match commands
        .zrangebyscore_withscores(key, format!("({now}"), "+inf")
        .await
    {
        Ok(members) => members,
        Err(e) => {
            tracing::warn!(error = %e, "revocation list: cannot read the fleet's list");
            return false;
        }
    };
    let entries: Vec<(Entry, u64)> = members
        .into_iter()
        .filter_map(|(member, until)| Some((serde_json::from_str(&member).ok()?, until)))
        .collect();
    state.replace(&entries);
    state
        .last_sync_ms
        .store(state.clock.now_millis(), Ordering::Relaxed);
    state.synced.store(true, Ordering::Relaxed);
    crate::metrics::revocation_staleness(0.0);
    true
}
