//! [`ApiKeyStore`]: API keys in memory, held as SHA-256 digests only.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, PoisonError, RwLock};

use super::api_key::{ApiKey, ApiKeyError, ApiKeyValidator, KeyDigest};
use super::key_grant::ApiKeyGrant;

/// API keys in memory, by SHA-256 digest only: the keys themselves are never stored. Cheap to
/// clone; clones share the keys, so a handle kept by the application adds and revokes keys
/// while the layer runs, effective on the next request.
///
/// ```
/// use tower_jwt_auth::{api_key::ApiKeyGrant, api_key::ApiKeyStore, JwtAuth, api_key::KeyDigest};
/// let keys = ApiKeyStore::new();
/// keys.insert("fl_live_0123456789abcdef", ApiKeyGrant::new("org-42").scopes(["insights.read"]));
/// // or, never holding the key at all:
/// keys.insert_digest(KeyDigest::of("fl_live_fedcba9876543210"), ApiKeyGrant::new("org-7"));
/// let auth = JwtAuth::new("https://oauth.flip.energy", "utility-api").api_keys("fl_", keys.clone());
/// assert!(keys.remove("fl_live_fedcba9876543210"));
/// assert_eq!(keys.len(), 1);
/// ```
#[derive(Clone, Default)]
pub struct ApiKeyStore {
    keys: Arc<RwLock<HashMap<KeyDigest, ApiKeyGrant>>>,
}

impl ApiKeyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts `key` (prefix included) with `grant`; only its digest is kept. Replaces the
    /// grant of a key already known.
    pub fn insert(&self, key: &str, grant: ApiKeyGrant) {
        self.insert_digest(KeyDigest::of(key), grant);
    }

    /// Accepts the key whose SHA-256 digest is `digest`.
    pub fn insert_digest(&self, digest: KeyDigest, grant: ApiKeyGrant) {
        self.write().insert(digest, grant);
    }

    /// Revokes `key`; whether it was known.
    pub fn remove(&self, key: &str) -> bool {
        self.remove_digest(&KeyDigest::of(key))
    }

    /// Revokes the key whose digest is `digest`; whether it was known.
    pub fn remove_digest(&self, digest: &KeyDigest) -> bool {
        self.write().remove(digest).is_some()
    }

    /// How many keys are accepted.
    pub fn len(&self) -> usize {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no key is accepted.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The grant of `key`, if known.
    pub fn get(&self, key: &ApiKey) -> Option<ApiKeyGrant> {
        let digest = key.digest();
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        keys.get(&digest).cloned()
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<KeyDigest, ApiKeyGrant>> {
        self.keys.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for ApiKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyStore")
            .field("keys", &self.len())
            .finish()
    }
}

impl ApiKeyValidator for ApiKeyStore {
    fn validate(
        &self,
        key: &ApiKey,
    ) -> impl Future<Output = Result<Option<ApiKeyGrant>, ApiKeyError>> + Send {
        std::future::ready(Ok(self.get(key)))
    }
}
