//! API keys beside OAuth tokens, in the same `Authorization: Bearer` header (Flip's
//! `Bearer fl_…`): a [`JwtAuth::api_keys`](crate::JwtAuth::api_keys) prefix routes a credential
//! to its [`ApiKeyValidator`] before any token parsing; what the validator grants becomes the
//! same [`Claims`](crate::Claims) a JWT gives, so scopes, `sub_type` and `optional()` apply
//! unchanged.
//!
//! The ready validator is [`ApiKeyStore`], in memory, which holds only SHA-256 digests of the
//! keys and compares them in constant time. Your own asynchronous lookup (a database, a secrets
//! service) implements [`ApiKeyValidator`], or is a closure in [`ApiKeyFn`].
//!
//! A key never appears in logs, `Debug` output or error descriptions: [`ApiKey`] prints as
//! `ApiKey("fl_…")`, and refusals name the prefix only.

use std::fmt;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::sync::Arc;

use super::key_grant::ApiKeyGrant;
use crate::reject::ConfigError;

/// An API key as presented in the request. Its `Debug` shows the routing prefix only.
///
/// ```
/// use tower_jwt_auth::api_key::ApiKey;
/// let key = ApiKey::new("fl_live_0123456789abcdef");
/// assert_eq!(format!("{key:?}"), r#"ApiKey("fl_…")"#);
/// assert_eq!(key.digest(), ApiKey::new("fl_live_0123456789abcdef").digest());
/// ```
#[derive(Clone)]
pub struct ApiKey {
    key: Box<str>,
    prefix_len: usize,
}

impl ApiKey {
    /// A key as presented (the prefix is not stripped).
    pub fn new(key: impl Into<Box<str>>) -> Self {
        Self {
            key: key.into(),
            prefix_len: 0,
        }
    }

    pub(crate) fn routed(key: &str, prefix_len: usize) -> Self {
        Self {
            key: key.into(),
            prefix_len,
        }
    }

    /// The whole key, prefix included: for a validator that must send it on (to a secrets
    /// service). Prefer [`ApiKey::digest`] for lookups.
    pub fn expose(&self) -> &str {
        &self.key
    }

    /// The prefix that routed the key here (`fl_`); empty for a key made with [`ApiKey::new`].
    pub fn prefix(&self) -> &str {
        &self.key[..self.prefix_len]
    }

    /// The SHA-256 digest of the whole key, prefix included.
    pub fn digest(&self) -> KeyDigest {
        KeyDigest::of(&self.key)
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = self.key.get(..self.prefix_len.max(3)).unwrap_or("");
        write!(f, "ApiKey(\"{shown}…\")")
    }
}

/// The SHA-256 digest of an API key: what [`ApiKeyStore`](crate::api_key::ApiKeyStore) keeps instead of the key. Equality
/// is constant-time.
///
/// ```
/// use tower_jwt_auth::api_key::KeyDigest;
/// let digest = KeyDigest::of("fl_0123456789abcdef");
/// assert_eq!(KeyDigest::from_hex(&digest.to_hex()).unwrap(), digest);
/// assert_eq!(digest.to_hex().len(), 64);
/// ```
#[derive(Clone, Copy)]
pub struct KeyDigest([u8; 32]);

impl KeyDigest {
    /// The digest of `key` (prefix included).
    pub fn of(key: &str) -> Self {
        Self::of_bytes(key.as_bytes())
    }

    /// The digest of any bytes (a whole token, for its revocation).
    pub(crate) fn of_bytes(bytes: &[u8]) -> Self {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
        let mut out = [0; 32];
        out.copy_from_slice(digest.as_ref());
        Self(out)
    }

    /// Reads 64 hex digits, as [`KeyDigest::to_hex`] writes them (for digests kept in
    /// configuration or a database instead of keys).
    ///
    /// # Errors
    /// A [`ConfigError`] for field `api_keys` when `hex` is not 64 hex digits.
    pub fn from_hex(hex: &str) -> Result<Self, ConfigError> {
        let invalid = || ConfigError::new("api_keys", "a key digest must be 64 hex digits");
        if hex.len() != 64 {
            return Err(invalid());
        }
        let mut bytes = [0; 32];
        for (i, pair) in hex.as_bytes().chunks(2).enumerate() {
            let pair = std::str::from_utf8(pair).map_err(|_| invalid())?;
            bytes[i] = u8::from_str_radix(pair, 16).map_err(|_| invalid())?;
        }
        Ok(Self(bytes))
    }

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl PartialEq for KeyDigest {
    fn eq(&self, other: &Self) -> bool {
        aws_lc_rs::constant_time::verify_slices_are_equal(&self.0, &other.0).is_ok()
    }
}

impl Eq for KeyDigest {}

impl Hash for KeyDigest {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl fmt::Debug for KeyDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyDigest({})", self.to_hex())
    }
}

/// The failure of a validator itself (its database is down): answered 503 with `Retry-After`,
/// never 401, and never cached.
#[derive(Debug)]
pub struct ApiKeyError {
    message: Box<str>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl ApiKeyError {
    /// A failure described by `message` (never include the key).
    pub fn new(message: impl Into<Box<str>>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    /// A failure caused by `source`.
    pub fn with_source(
        message: impl Into<Box<str>>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            message: message.into(),
            source: Some(source.into()),
        }
    }
}

impl fmt::Display for ApiKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiKeyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Decides what an API key grants: `Ok(Some(grant))` for a known key, `Ok(None)` for an unknown
/// one (401 `invalid_token`), `Err` when the lookup itself failed (503).
///
/// Implement it for your own lookup (a database, a secrets service); compare digests
/// ([`ApiKey::digest`]), not keys, so that the store never holds a usable key.
///
/// ```
/// use tower_jwt_auth::{api_key::ApiKey, api_key::ApiKeyError, api_key::ApiKeyGrant, api_key::ApiKeyValidator};
/// struct Database;
/// impl ApiKeyValidator for Database {
///     async fn validate(&self, key: &ApiKey) -> Result<Option<ApiKeyGrant>, ApiKeyError> {
///         let digest = key.digest().to_hex();
///         // SELECT org_id, scopes FROM api_keys WHERE sha256 = $1
///         Ok((digest.len() == 64).then(|| ApiKeyGrant::new("org-42").scopes(["insights.read"])))
///     }
/// }
/// ```
pub trait ApiKeyValidator: Send + Sync + 'static {
    /// Looks `key` up.
    fn validate(
        &self,
        key: &ApiKey,
    ) -> impl Future<Output = Result<Option<ApiKeyGrant>, ApiKeyError>> + Send;
}

/// A closure as an [`ApiKeyValidator`]: `Fn(ApiKey) -> impl Future<Output = Result<Option<ApiKeyGrant>, ApiKeyError>>`.
///
/// ```
/// use tower_jwt_auth::{api_key::ApiKeyFn, api_key::ApiKeyGrant, JwtAuth};
/// let auth = JwtAuth::new("https://oauth.flip.energy", "utility-api").api_keys(
///     "fl_",
///     ApiKeyFn::new(|key| async move {
///         // a call to your secrets service with `key.digest()`
///         Ok(Some(ApiKeyGrant::new("org-42").scopes(["insights.read"])))
///     }),
/// );
/// assert!(auth.validate().is_ok());
/// ```
#[derive(Clone)]
pub struct ApiKeyFn<F>(F);

impl<F> ApiKeyFn<F> {
    /// Wraps `f`.
    pub fn new<Fut>(f: F) -> Self
    where
        F: Fn(ApiKey) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Option<ApiKeyGrant>, ApiKeyError>> + Send,
    {
        Self(f)
    }
}

impl<F> fmt::Debug for ApiKeyFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKeyFn(..)")
    }
}

impl<F, Fut> ApiKeyValidator for ApiKeyFn<F>
where
    F: Fn(ApiKey) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<ApiKeyGrant>, ApiKeyError>> + Send,
{
    fn validate(
        &self,
        key: &ApiKey,
    ) -> impl Future<Output = Result<Option<ApiKeyGrant>, ApiKeyError>> + Send {
        (self.0)(key.clone())
    }
}

/// A validator's future, type-erased.
pub(crate) type Lookup<'a> =
    Pin<Box<dyn Future<Output = Result<Option<ApiKeyGrant>, ApiKeyError>> + Send + 'a>>;

/// [`ApiKeyValidator`] as a trait object.
pub(crate) trait DynValidator: Send + Sync {
    fn lookup<'a>(&'a self, key: &'a ApiKey) -> Lookup<'a>;
}

impl<T: ApiKeyValidator> DynValidator for T {
    fn lookup<'a>(&'a self, key: &'a ApiKey) -> Lookup<'a> {
        Box::pin(self.validate(key))
    }
}

/// What is wrong with `prefix` as a route for opaque credentials (API keys, introspection):
/// it must be able to match a bearer token and must not capture JWTs (whose first segment
/// always begins `eyJ`).
pub(crate) fn prefix_problem(prefix: &str) -> Option<String> {
    if prefix.is_empty() {
        Some("the prefix is empty: it would capture every token".to_owned())
    } else if !prefix
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/'))
    {
        Some(format!(
            "the prefix {} has characters a bearer token cannot have",
            crate::reject::shown(prefix)
        ))
    } else if "eyJ".starts_with(prefix) || prefix.starts_with("eyJ") {
        Some(format!(
            "the prefix {} would capture JWTs, which begin with eyJ",
            crate::reject::shown(prefix)
        ))
    } else {
        None
    }
}

/// The configured prefixes, longest first.
#[derive(Clone, Default)]
pub(crate) struct Prefixes {
    routes: Vec<(Box<str>, Arc<dyn DynValidator>)>,
}

impl Prefixes {
    pub(crate) fn add(&mut self, prefix: String, validator: Arc<dyn DynValidator>) {
        self.routes.push((prefix.into(), validator));
        self.routes.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
    }

    /// A prefix must be able to match a bearer token, must not capture JWTs (whose first
    /// segment always begins `eyJ`), and must be configured once.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let mut seen = std::collections::HashSet::new();
        for (prefix, _) in &self.routes {
            let problem = prefix_problem(prefix).or_else(|| {
                (!seen.insert(prefix)).then(|| {
                    format!(
                        "the prefix {} is configured twice",
                        crate::reject::shown(prefix)
                    )
                })
            });
            if let Some(problem) = problem {
                return Err(ConfigError::new("api_keys", problem));
            }
        }
        Ok(())
    }

    /// The configured prefixes, longest first.
    pub(crate) fn prefixes(&self) -> impl Iterator<Item = &str> {
        self.routes.iter().map(|(p, _)| &**p)
    }

    /// The index of the longest prefix `token` begins with.
    pub(crate) fn route(&self, token: &str) -> Option<usize> {
        self.route_bytes(token.as_bytes())
    }

    /// [`Prefixes::route`] of a header value not yet checked as text.
    pub(crate) fn route_bytes(&self, token: &[u8]) -> Option<usize> {
        self.routes
            .iter()
            .position(|(prefix, _)| token.starts_with(prefix.as_bytes()))
    }

    pub(crate) fn get(&self, index: usize) -> (&str, &dyn DynValidator) {
        let (prefix, validator) = &self.routes[index];
        (prefix, &**validator)
    }
}

impl fmt::Debug for Prefixes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.routes.iter().map(|(p, _)| p))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api_key::ApiKeyStore;

    fn prefixes(list: &[&str]) -> Prefixes {
        let mut p = Prefixes::default();
        for prefix in list {
            p.add((*prefix).to_owned(), Arc::new(ApiKeyStore::new()));
        }
        p
    }

    #[test]
    fn the_longest_prefix_wins() {
        let p = prefixes(&["fl_", "fl_live_", "sk-"]);
        assert!(p.validate().is_ok());
        assert_eq!(p.get(p.route("fl_live_abc").unwrap()).0, "fl_live_");
        assert_eq!(p.get(p.route("fl_test_abc").unwrap()).0, "fl_");
        assert_eq!(p.get(p.route("sk-1").unwrap()).0, "sk-");
        assert!(p.route("eyJhbGciOi.x.y").is_none());
    }

    #[test]
    fn unusable_prefixes_are_configuration_errors() {
        for (list, needle) in [
            (&["fl_", "fl_"][..], "twice"),
            (&[""][..], "empty"),
            (&["e"][..], "JWT"),
            (&["eyJhb"][..], "JWT"),
            (&["fl key"][..], "characters"),
        ] {
            let err = prefixes(list).validate().unwrap_err();
            assert_eq!(err.field(), "api_keys");
            assert!(err.reason().contains(needle), "{err}");
        }
    }

    #[test]
    fn keys_never_show() {
        let key = ApiKey::routed("fl_secret-value", 3);
        assert_eq!(format!("{key:?}"), "ApiKey(\"fl_…\")");
        assert_eq!(key.prefix(), "fl_");
        let store = ApiKeyStore::new();
        store.insert("fl_secret-value", ApiKeyGrant::new("org"));
        assert!(!format!("{store:?}").contains("secret"));
        assert_eq!(store.get(&key).unwrap().sub(), "org");
        assert!(store.get(&ApiKey::new("fl_secret-valuf")).is_none());
    }
}
