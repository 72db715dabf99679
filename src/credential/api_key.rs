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

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use serde_json::{Map, Value};

use crate::reject::ConfigError;

/// An API key as presented in the request. Its `Debug` shows the routing prefix only.
///
/// ```
/// use tower_jwt_auth::ApiKey;
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

/// The SHA-256 digest of an API key: what [`ApiKeyStore`] keeps instead of the key. Equality
/// is constant-time.
///
/// ```
/// use tower_jwt_auth::KeyDigest;
/// let digest = KeyDigest::of("fl_0123456789abcdef");
/// assert_eq!(KeyDigest::from_hex(&digest.to_hex()).unwrap(), digest);
/// assert_eq!(digest.to_hex().len(), 64);
/// ```
#[derive(Clone, Copy)]
pub struct KeyDigest([u8; 32]);

impl KeyDigest {
    /// The digest of `key` (prefix included).
    pub fn of(key: &str) -> Self {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.as_bytes());
        let mut bytes = [0; 32];
        bytes.copy_from_slice(digest.as_ref());
        Self(bytes)
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

/// What an API key grants: the subject and scopes (and optionally `sub_type`, `client_id`,
/// an expiry and claims of your own) that become the request's [`Claims`](crate::Claims).
///
/// The claims object handed to the claims type has `iss` (`api-key:` and the prefix, as
/// [`Grant::issuer`](crate::Grant::issuer) says: no OAuth issuer vouches for a key), `sub`, `aud`
/// (the layer's audience), `exp` ([`ApiKeyGrant::expires_at`], or 253402300799, the last
/// second of year 9999, for a key that does not expire), `scope` (space-delimited), and
/// `client_id`, `sub_type` and your own claims when set.
///
/// ```
/// use tower_jwt_auth::ApiKeyGrant;
/// let grant = ApiKeyGrant::new("org-42")
///     .scopes(["insights.read"])
///     .sub_type("organisation")
///     .claim("org_name", "Dunder Mifflin");
/// assert_eq!(grant.sub(), "org-42");
/// ```
#[derive(Clone)]
#[must_use = "an `ApiKeyGrant` does nothing until stored or returned by a validator"]
pub struct ApiKeyGrant {
    inner: Arc<GrantData>,
}

#[derive(Clone)]
struct GrantData {
    sub: String,
    scopes: Vec<String>,
    roles: Vec<String>,
    sub_type: Option<String>,
    client_id: Option<String>,
    exp: Option<u64>,
    extra: Map<String, Value>,
    /// The claims built from this grant by the first authenticator that accepted it, so that a
    /// stored grant is converted once, not on every request.
    memo: OnceLock<(u64, Arc<dyn Any + Send + Sync>)>,
}

/// `exp` of a key that does not expire: 9999-12-31T23:59:59Z.
pub(crate) const NO_EXPIRY: u64 = 253_402_300_799;

impl ApiKeyGrant {
    /// A grant for subject `sub` (the organisation, the integration), with no scopes.
    pub fn new(sub: impl Into<String>) -> Self {
        Self {
            inner: Arc::new(GrantData {
                sub: sub.into(),
                scopes: Vec::new(),
                roles: Vec::new(),
                sub_type: None,
                client_id: None,
                exp: None,
                extra: Map::new(),
                memo: OnceLock::new(),
            }),
        }
    }

    fn edit(mut self, f: impl FnOnce(&mut GrantData)) -> Self {
        let data = Arc::make_mut(&mut self.inner);
        f(data);
        data.memo = OnceLock::new();
        self
    }

    /// The granted scopes.
    pub fn scopes<I, S>(self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let scopes = scopes.into_iter().map(Into::into).collect();
        self.edit(|d| d.scopes = scopes)
    }

    /// The granted roles (checked by [`require_roles`](crate::JwtAuth::require_roles) like a
    /// token's; also in the claims object as `roles`).
    pub fn roles<I, S>(self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let roles = roles.into_iter().map(Into::into).collect();
        self.edit(|d| d.roles = roles)
    }

    /// The `sub_type`, e.g. `"organisation"` (checked by
    /// [`require_sub_type`](crate::JwtAuth::require_sub_type) like a token's).
    pub fn sub_type(self, sub_type: impl Into<String>) -> Self {
        let sub_type = sub_type.into();
        self.edit(|d| d.sub_type = Some(sub_type))
    }

    /// The `client_id`.
    pub fn client_id(self, client_id: impl Into<String>) -> Self {
        let client_id = client_id.into();
        self.edit(|d| d.client_id = Some(client_id))
    }

    /// When the key stops being accepted, seconds since the Unix epoch (checked against the
    /// layer's clock and leeway).
    pub fn expires_at(self, exp: u64) -> Self {
        self.edit(|d| d.exp = Some(exp))
    }

    /// A claim of your own, for your claims type (`iss`, `sub`, `aud`, `exp`, `scope`,
    /// `client_id` and `sub_type` come from the grant and cannot be overridden).
    pub fn claim(self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        let (name, value) = (name.into(), value.into());
        self.edit(|d| {
            d.extra.insert(name, value);
        })
    }

    /// The subject.
    pub fn sub(&self) -> &str {
        &self.inner.sub
    }

    pub(crate) fn granted_scopes(&self) -> &[String] {
        &self.inner.scopes
    }

    pub(crate) fn granted_roles(&self) -> &[String] {
        &self.inner.roles
    }

    pub(crate) fn granted_sub_type(&self) -> Option<&str> {
        self.inner.sub_type.as_deref()
    }

    pub(crate) fn granted_client_id(&self) -> Option<&str> {
        self.inner.client_id.as_deref()
    }

    pub(crate) fn expiry(&self) -> Option<u64> {
        self.inner.exp
    }

    /// The claims object for the claims type.
    pub(crate) fn claims_object(&self, iss: &str, aud: &str) -> Value {
        let d = &self.inner;
        let mut object = d.extra.clone();
        object.insert("iss".into(), iss.into());
        object.insert("sub".into(), d.sub.clone().into());
        object.insert("aud".into(), aud.into());
        object.insert("exp".into(), d.exp.unwrap_or(NO_EXPIRY).into());
        object.insert("scope".into(), d.scopes.join(" ").into());
        if !d.roles.is_empty() {
            object.insert("roles".into(), d.roles.clone().into());
        }
        for (name, value) in [("client_id", &d.client_id), ("sub_type", &d.sub_type)] {
            match value {
                Some(v) => object.insert(name.into(), v.clone().into()),
                None => object.remove(name),
            };
        }
        Value::Object(object)
    }

    /// The value memoised by authenticator `owner`, if any.
    pub(crate) fn memo<T: Any + Send + Sync>(&self, owner: u64) -> Option<Arc<T>> {
        let (by, value) = self.inner.memo.get()?;
        (*by == owner).then(|| Arc::clone(value).downcast().ok())?
    }

    /// Memoises `value` for authenticator `owner`, unless another one was first.
    pub(crate) fn remember<T: Any + Send + Sync>(&self, owner: u64, value: Arc<T>) {
        let _ = self.inner.memo.set((owner, value));
    }
}

impl fmt::Debug for ApiKeyGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.inner;
        f.debug_struct("ApiKeyGrant")
            .field("sub", &d.sub)
            .field("scopes", &d.scopes)
            .field("sub_type", &d.sub_type)
            .field("client_id", &d.client_id)
            .field("exp", &d.exp)
            .finish_non_exhaustive()
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
/// use tower_jwt_auth::{ApiKey, ApiKeyError, ApiKeyGrant, ApiKeyValidator};
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
/// use tower_jwt_auth::{ApiKeyFn, ApiKeyGrant, JwtAuth};
/// let auth = JwtAuth::new("https://oauth.flip.energy", "utility-api").api_keys(
///     "fl_",
///     ApiKeyFn::new(|key| async move {
///         // a call to your secrets service with `key.digest()`
///         Ok(Some(ApiKeyGrant::new("org-42").scopes(["insights.read"])))
///     }),
/// );
/// assert!(auth.config_error().is_none());
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

/// API keys in memory, by SHA-256 digest only: the keys themselves are never stored. Cheap to
/// clone; clones share the keys, so a handle kept by the application adds and revokes keys
/// while the layer runs, effective on the next request.
///
/// ```
/// use tower_jwt_auth::{ApiKeyGrant, ApiKeyStore, JwtAuth, KeyDigest};
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

    #[test]
    fn a_grant_becomes_a_claims_object() {
        let grant = ApiKeyGrant::new("org-42")
            .scopes(["a", "b"])
            .claim("sub", "forged")
            .claim("org_name", "X");
        let object = grant.claims_object("https://i", "api");
        assert_eq!(object["sub"], "org-42");
        assert_eq!(object["scope"], "a b");
        assert_eq!(object["exp"], NO_EXPIRY);
        assert_eq!(object["org_name"], "X");
        assert!(object.get("sub_type").is_none());
    }
}
