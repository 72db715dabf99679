//! JWK sets by URL, shared by every issuer whose keys live there: tenants whose discovery
//! documents point at one JWKS (Microsoft Entra's do) share one fetch and one parsed set.
//!
//! Each issuer keeps its own timetable, refetch allowance and discovery; when one of them
//! needs the document, it takes the store's copy if that is newer than its own, and fetches
//! only otherwise. Fetches of one URL are one at a time, so issuers due together share one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use reqwest::Url;

use super::jwk::{self, Key};
use crate::algorithm::AlgorithmSet;
use crate::outbound::Fetcher;
use crate::outbound::SingleFlight;
use crate::reject::{KeySourceError, KeySourceErrorKind};

/// One fetched document, parsed for one algorithm allow-list.
#[derive(Clone)]
pub(crate) struct Fetched {
    pub(crate) keys: Arc<[Key]>,
    /// On the injected clock, in milliseconds: tells a newer copy from an older one.
    pub(crate) fetched_at_ms: u64,
    pub(crate) max_age: Option<u64>,
    pub(crate) body: Arc<[u8]>,
}

/// The newest copy of one document.
#[derive(Default)]
struct Slot {
    copy: Mutex<Option<Fetched>>,
}

/// The store: one slot per (URL, allow-list), and the fetches in flight, so that issuers due
/// together share one.
pub(crate) struct JwksStore {
    slots: Mutex<HashMap<(Url, AlgorithmSet), Arc<Slot>>>,
    flights: SingleFlight<(Url, AlgorithmSet), Result<Fetched, KeySourceError>>,
}

impl Default for JwksStore {
    fn default() -> Self {
        Self {
            slots: Mutex::default(),
            flights: SingleFlight::new("jwks"),
        }
    }
}

impl JwksStore {
    /// The document at `url`: the stored copy when it is newer than `have_ms` (the caller's own
    /// copy, if any), else a fresh fetch. A `hedge` (a second attempt beside one that hangs)
    /// does not join the fetch in flight.
    pub(crate) async fn get(
        &self,
        fetcher: &Fetcher,
        url: &Url,
        allowed: AlgorithmSet,
        (have_ms, hedge): (Option<u64>, bool),
        now_ms: impl Fn() -> u64,
    ) -> Result<Fetched, KeySourceError> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(slots.entry((url.clone(), allowed)).or_default())
        };
        let newer = || {
            let copy = slot.copy.lock().unwrap_or_else(|p| p.into_inner());
            copy.as_ref()
                .filter(|c| have_ms.is_none_or(|have| c.fetched_at_ms > have))
                .cloned()
        };
        if let Some(copy) = newer() {
            return Ok(copy);
        }
        if hedge {
            return Self::fetch(&slot, fetcher, url, allowed, now_ms()).await;
        }
        self.flights
            .run((url.clone(), allowed), || {
                Self::fetch(&slot, fetcher, url, allowed, now_ms())
            })
            .await
    }

    /// One fetch of the document, parsed; kept as the slot's copy.
    async fn fetch(
        slot: &Slot,
        fetcher: &Fetcher,
        url: &Url,
        allowed: AlgorithmSet,
        fetched_at_ms: u64,
    ) -> Result<Fetched, KeySourceError> {
        let doc = fetcher.get(url).await?;
        let invalid = |why: String| KeySourceError::new(KeySourceErrorKind::InvalidDocument, why);
        let (keys, skipped) =
            jwk::parse_set(&doc.body, allowed).map_err(|e| invalid(format!("{url}: {e}")))?;
        for s in &skipped {
            tracing::warn!(kid = s.kid.as_deref().unwrap_or("(none)"), reason = %s.reason, "JWK skipped");
        }
        if keys.is_empty() {
            return Err(invalid(format!("{url}: the JWK set has no usable key")));
        }
        let fetched = Fetched {
            keys: keys.into(),
            fetched_at_ms,
            max_age: doc.max_age,
            body: doc.body.into(),
        };
        *slot.copy.lock().unwrap_or_else(|p| p.into_inner()) = Some(fetched.clone());
        Ok(fetched)
    }
}
