//! The on-disk copy of the last good key set (`Caches::jwks_file`), so that an instance
//! restarted during a provider outage serves at once.
//!
//! Written after every successful load, atomically (a temporary file in the same directory,
//! then a rename); read once when the key source is built. A file for another issuer or key
//! URL, past its staleness bound, or unreadable is ignored with a warning: it can only ever add
//! keys the provider itself published for this configuration.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{jwk, KeySet};
use crate::algorithm::AlgorithmSet;

const FORMAT: &str = "tower-jwt-auth key set v1";

/// What the file is for: a copy is used only by the configuration it was written for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CacheFile {
    pub(crate) path: PathBuf,
    /// The configured issuer.
    pub(crate) issuer: String,
    /// Where keys come from: the configured `jwks_uri`, or the issuer for discovery.
    pub(crate) source: String,
}

#[derive(Serialize, Deserialize)]
struct Stored<'a> {
    format: String,
    issuer: String,
    source: String,
    fetched_at: u64,
    refresh_at: u64,
    expires_at: u64,
    #[serde(borrow)]
    jwks: &'a RawValue,
}

impl CacheFile {
    /// The stored set, if the file is for this configuration and still within `max_stale` of its
    /// expiry at `now`.
    pub(crate) fn read(
        &self,
        allowed: AlgorithmSet,
        max_stale: Duration,
        now: u64,
    ) -> Option<KeySet> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => return self.ignore(&format!("cannot be read: {e}")),
        };
        let Ok(stored) = serde_json::from_slice::<Stored<'_>>(&bytes) else {
            return self.ignore("is not a key-set copy (corrupt, or written by something else)");
        };
        if stored.format != FORMAT {
            return self.ignore(&format!("has format {:?}", stored.format));
        }
        if stored.issuer != self.issuer || stored.source != self.source {
            return self.ignore(&format!(
                "was written for issuer {:?} and key source {:?}",
                stored.issuer, stored.source
            ));
        }
        let usable_until = stored.expires_at.saturating_add(max_stale.as_secs());
        if now >= usable_until || stored.fetched_at > now {
            return self.ignore("is outside its usable window");
        }
        let keys = match jwk::parse_set(stored.jwks.get().as_bytes(), allowed) {
            Ok((keys, _)) if !keys.is_empty() => keys,
            _ => return self.ignore("holds no usable key"),
        };
        tracing::info!(path = %self.path.display(), keys = keys.len(), fetched_at = stored.fetched_at, "JWK set restored from the cache file");
        Some(KeySet {
            by_kid: super::index(&keys),
            keys: keys.into(),
            fetched_at_ms: stored.fetched_at.saturating_mul(1000),
            fetched_at: stored.fetched_at,
            refresh_at: stored.refresh_at,
            expires_at: stored.expires_at,
            usable_until,
        })
    }

    fn ignore(&self, why: &str) -> Option<KeySet> {
        tracing::warn!(path = %self.path.display(), "JWK set cache file ignored: it {why}");
        None
    }

    /// Writes `jwks` (the document as fetched) with `set`'s timetable, atomically.
    pub(crate) fn write(&self, set: &KeySet, jwks: &[u8]) {
        let Ok(jwks) = serde_json::from_slice::<&RawValue>(jwks) else {
            return;
        };
        let stored = Stored {
            format: FORMAT.into(),
            issuer: self.issuer.clone(),
            source: self.source.clone(),
            fetched_at: set.fetched_at,
            refresh_at: set.refresh_at,
            expires_at: set.expires_at,
            jwks,
        };
        let Ok(bytes) = serde_json::to_vec(&stored) else {
            return;
        };
        if let Err(e) = write_atomically(&self.path, &bytes) {
            tracing::warn!(path = %self.path.display(), error = %e, "JWK set cache file not written");
        }
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}
