//! An embedded identity provider for tests and examples (feature `testing`).
//!
//! [`TestIssuer`] generates real keys, serves OpenID Connect discovery, the JWK set and the
//! token endpoint the seeds describe (`POST /oauth/token`, client credentials) on 127.0.0.1 with
//! a random port, mints tokens with [`TokenBuilder`], rotates keys, and can be told to fail so
//! that an application can test its own behaviour when the provider is down.
//!
//! ```no_run
//! # async fn demo() {
//! use tower_jwt_auth::{testing::TestIssuer, JwtAuth};
//!
//! let issuer = TestIssuer::start().await;
//! let auth = JwtAuth::new(issuer.url(), "insights-api");
//! let token = issuer.token().sub("u-1").scopes(["insights.read"]).sign();
//! let claims = auth.verify(&token).await.unwrap();
//! assert_eq!(claims.sub, "u-1");
//! # }
//! ```

mod dpop;
mod events;
mod keys;
mod server;
mod token;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use serde_json::{json, Value};
use tokio::task::JoinHandle;

pub use dpop::{DpopKey, ProofBuilder};
pub use events::SecurityEventBuilder;
pub use keys::SigningKey;
pub use token::TokenBuilder;

use crate::clock::{Clock, SystemClock};
use crate::Algorithm;

/// The algorithms a [`TestIssuer`] has keys for unless told otherwise.
pub const DEFAULT_ALGORITHMS: [Algorithm; 5] = [
    Algorithm::RS256,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// How the discovery and JWKS endpoints misbehave when told to.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use tower_jwt_auth::{testing::{Failure, TestIssuer}, JwtAuth};
/// let issuer = TestIssuer::start().await;
/// let auth = JwtAuth::new(issuer.url(), "insights-api");
/// auth.ready().await.unwrap();
/// issuer.fail(Failure::Garbage);
/// // Keys already loaded keep serving while the provider misbehaves.
/// assert!(auth.verify(&issuer.token().sign()).await.is_ok());
/// issuer.recover();
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// Answer with this HTTP status and an HTML body.
    Status(u16),
    /// Accept the request and never answer.
    Hang,
    /// Answer 200 with a body that is not JSON.
    Garbage,
    /// Answer 200 with `{"keys":{}}` (JSON, but not a JWK set) from the JWKS endpoint.
    InvalidJwks,
    /// Answer 200 with this JSON body from the JWKS endpoint (discovery is unaffected).
    JwksBody(String),
}

/// Builder for a [`TestIssuer`].
#[derive(Debug)]
#[must_use = "call `start` to run the issuer"]
pub struct TestIssuerBuilder {
    audience: String,
    algorithms: Vec<Algorithm>,
    clients: Vec<(String, String)>,
    clock: Arc<dyn Clock>,
    max_age: Option<u64>,
    tenants: Vec<String>,
}

impl Default for TestIssuerBuilder {
    fn default() -> Self {
        Self {
            audience: "insights-api".into(),
            algorithms: DEFAULT_ALGORITHMS.to_vec(),
            clients: vec![("test-client".into(), "test-secret".into())],
            clock: Arc::new(SystemClock),
            max_age: Some(300),
            tenants: Vec::new(),
        }
    }
}

impl TestIssuerBuilder {
    /// The audience tokens get unless told otherwise. Defaults to `"insights-api"`.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = audience.into();
        self
    }

    /// One key per algorithm. Defaults to [`DEFAULT_ALGORITHMS`]: RS256, PS256, ES256, ES384
    /// and EdDSA.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// Registers an OAuth client for the token endpoint, in addition to the default
    /// `test-client` / `test-secret`.
    pub fn client(
        mut self,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        self.clients.push((client_id.into(), client_secret.into()));
        self
    }

    /// The clock for `iat`/`exp` of minted tokens. Defaults to the system clock.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// `Cache-Control: max-age` of the JWKS response; `None` sends no header. Defaults to 300.
    pub fn jwks_max_age(mut self, max_age: Option<u64>) -> Self {
        self.max_age = max_age;
        self
    }

    /// Also serves these tenants the way multi-tenant providers (Microsoft Entra) do: tenant
    /// `t`'s issuer is `{url}/t/v2.0` with its own discovery document there, and every tenant's
    /// document names one shared JWK set. See [`TestIssuer::tenant_template`] and
    /// [`TestIssuer::tenant_token`]. Defaults to none.
    pub fn tenants<I, S>(mut self, tenants: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tenants = tenants.into_iter().map(Into::into).collect();
        self
    }

    /// Starts serving on 127.0.0.1 with a random port.
    ///
    /// # Panics
    /// If no loopback port can be bound: there is nothing to test against then.
    pub async fn start(self) -> TestIssuer {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind 127.0.0.1:0 for the test issuer");
        let addr = listener
            .local_addr()
            .expect("local address of the test issuer");
        let keys = self
            .algorithms
            .iter()
            .map(|alg| Arc::new(SigningKey::generate(*alg)))
            .collect();
        let inner = Arc::new(Inner {
            url: format!("http://{addr}"),
            audience: self.audience,
            default_client_id: self.clients[0].0.clone(),
            clients: self.clients.into_iter().collect(),
            keys: RwLock::new(keys),
            extra_jwks: RwLock::new(Vec::new()),
            failure: Mutex::new(None),
            max_age: Mutex::new(self.max_age),
            clock: self.clock,
            discovery_hits: AtomicUsize::new(0),
            jwks_hits: AtomicUsize::new(0),
            token_hits: AtomicUsize::new(0),
            jti: AtomicU64::new(1),
            tenants: self.tenants,
            token_failure: Mutex::new(None),
            last_token_request: Mutex::new(None),
            refresh_tokens: Mutex::new(HashMap::new()),
        });
        let task = tokio::spawn(server::serve(listener, Arc::clone(&inner)));
        TestIssuer {
            inner,
            addr,
            task: Mutex::new(task),
        }
    }
}

/// An identity provider on 127.0.0.1 for tests; stops when dropped.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use tower_jwt_auth::{testing::TestIssuer, JwtAuth};
/// let issuer = TestIssuer::builder().client("utility-acme-backend", "s3cret").start().await;
/// // Tokens the way clients get them: POST /oauth/token, client credentials (the audience from
/// // `aud`, `audience` or the RFC 8707 `resource`).
/// let res: serde_json::Value = reqwest::Client::new()
///     .post(issuer.token_endpoint())
///     .basic_auth("utility-acme-backend", Some("s3cret"))
///     .form(&[("grant_type", "client_credentials"), ("aud", "insights-api"), ("scope", "insights.read")])
///     .send().await.unwrap().json().await.unwrap();
/// let token = res["access_token"].as_str().unwrap();
/// let claims = JwtAuth::new(issuer.url(), "insights-api").verify(token).await.unwrap();
/// assert_eq!(claims.client_id.as_deref(), Some("utility-acme-backend"));
/// # }
/// ```
pub struct TestIssuer {
    inner: Arc<Inner>,
    addr: SocketAddr,
    task: Mutex<JoinHandle<()>>,
}

pub(crate) struct Inner {
    url: String,
    audience: String,
    default_client_id: String,
    clients: HashMap<String, String>,
    keys: RwLock<Vec<Arc<SigningKey>>>,
    extra_jwks: RwLock<Vec<Value>>,
    failure: Mutex<Option<Failure>>,
    max_age: Mutex<Option<u64>>,
    clock: Arc<dyn Clock>,
    discovery_hits: AtomicUsize,
    jwks_hits: AtomicUsize,
    token_hits: AtomicUsize,
    jti: AtomicU64,
    tenants: Vec<String>,
    /// How the token endpoint misbehaves, apart from discovery and JWKS.
    token_failure: Mutex<Option<Failure>>,
    /// The last request the token endpoint answered.
    last_token_request: Mutex<Option<TokenRequest>>,
    /// Refresh tokens issued, with the parameters of the grant they renew.
    refresh_tokens: Mutex<HashMap<String, HashMap<String, String>>>,
}

/// A request the token endpoint received, as [`TestIssuer::last_token_request`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenRequest {
    /// The request's `Content-Type`.
    pub content_type: String,
    /// The client id of HTTP Basic client authentication, when used.
    pub basic_client_id: Option<String>,
    /// The body's parameters (form or JSON), `client_secret` replaced by `"…"`.
    pub params: HashMap<String, String>,
}

impl Inner {
    fn now(&self) -> u64 {
        self.clock.now()
    }

    fn next_jti(&self) -> String {
        format!("jti-{}", self.jti.fetch_add(1, Ordering::Relaxed))
    }

    /// The newest key for `alg`, generated now if there is none.
    fn key_for(&self, alg: Algorithm) -> Arc<SigningKey> {
        if let Some(k) = read(&self.keys).iter().rev().find(|k| k.alg() == alg) {
            return Arc::clone(k);
        }
        let key = Arc::new(SigningKey::generate(alg));
        write(&self.keys).push(Arc::clone(&key));
        key
    }

    fn jwks(&self) -> Value {
        let mut keys: Vec<Value> = read(&self.keys).iter().map(|k| k.public_jwk()).collect();
        keys.extend(read(&self.extra_jwks).iter().cloned());
        json!({ "keys": keys })
    }

    fn failure(&self) -> Option<Failure> {
        self.failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}

impl TestIssuer {
    /// Starts an issuer with the defaults of [`TestIssuerBuilder`].
    pub async fn start() -> Self {
        Self::builder().start().await
    }

    /// Configures an issuer.
    pub fn builder() -> TestIssuerBuilder {
        TestIssuerBuilder::default()
    }

    /// The issuer identifier (`http://127.0.0.1:PORT`), for `JwtAuth::new`.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// The address served on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `{url}/.well-known/jwks.json`.
    pub fn jwks_uri(&self) -> String {
        format!("{}/.well-known/jwks.json", self.inner.url)
    }

    /// `{url}/oauth/token`.
    pub fn token_endpoint(&self) -> String {
        format!("{}/oauth/token", self.inner.url)
    }

    /// The audience tokens get by default.
    pub fn audience(&self) -> &str {
        &self.inner.audience
    }

    /// A token builder, starting from a valid app token.
    pub fn token(&self) -> TokenBuilder {
        TokenBuilder::new(Arc::clone(&self.inner))
    }

    /// A Security Event Token of this issuer (a Shared Signals transmitter), with one event of
    /// `event_type`: sign it, or push it to a receiver.
    pub fn security_event(&self, event_type: &str) -> SecurityEventBuilder {
        SecurityEventBuilder::new(self.token(), event_type)
    }

    /// The issuer template of the tenants ([`TestIssuerBuilder::tenants`]):
    /// `{url}/{tenant}/v2.0`, for [`Issuer::tenants`](crate::Issuer::tenants).
    pub fn tenant_template(&self) -> String {
        format!("{}/{{tenant}}/v2.0", self.inner.url)
    }

    /// The issuer of one tenant: `{url}/{tenant}/v2.0`.
    pub fn tenant_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/v2.0", self.inner.url)
    }

    /// A token builder for one tenant: its `iss`, and `tid` naming the tenant.
    pub fn tenant_token(&self, tenant: &str) -> TokenBuilder {
        self.token()
            .iss(&self.tenant_url(tenant))
            .claim("tid", tenant)
    }

    /// The current key for `alg` (generated and published if there is none).
    pub fn key(&self, alg: Algorithm) -> Arc<SigningKey> {
        self.inner.key_for(alg)
    }

    /// The published JWK set.
    pub fn jwks(&self) -> Value {
        self.inner.jwks()
    }

    /// Publishes a fresh key for `alg` next to the existing ones; new tokens for `alg` use it.
    pub fn add_key(&self, alg: Algorithm) -> Arc<SigningKey> {
        let key = Arc::new(SigningKey::generate(alg));
        write(&self.inner.keys).push(Arc::clone(&key));
        key
    }

    /// Removes the key with this `kid` from the published set. Returns whether it was there.
    pub fn remove_key(&self, kid: &str) -> bool {
        let mut keys = write(&self.inner.keys);
        let before = keys.len();
        keys.retain(|k| k.kid() != kid);
        keys.len() != before
    }

    /// Publishes a raw JWK as it is (say, one that a verifier must skip) after the issuer's
    /// own keys.
    pub fn publish_jwk(&self, jwk: Value) {
        write(&self.inner.extra_jwks).push(jwk);
    }

    /// Stops serving: connections are refused from now on (the provider is down). Tokens can
    /// still be minted.
    pub fn stop(&self) {
        self.task.lock().unwrap_or_else(|p| p.into_inner()).abort();
    }

    /// Serves again on the same address after [`TestIssuer::stop`] (the provider is back).
    ///
    /// # Panics
    /// If the address cannot be bound again.
    pub async fn resume(&self) {
        // The stopped server's listener closes once its task has been cancelled.
        let mut tries = 0;
        let listener = loop {
            match tokio::net::TcpListener::bind(self.addr).await {
                Ok(listener) => break listener,
                Err(e) if tries < 1000 => {
                    tries += 1;
                    tracing::trace!(error = %e, "test issuer address still taken");
                    tokio::task::yield_now().await;
                }
                Err(e) => panic!("bind the test issuer's address {} again: {e}", self.addr),
            }
        };
        let task = tokio::spawn(server::serve(listener, Arc::clone(&self.inner)));
        let old = std::mem::replace(
            &mut *self.task.lock().unwrap_or_else(|p| p.into_inner()),
            task,
        );
        old.abort();
    }

    /// Replaces every key with a fresh one of the same algorithm (new `kid`s).
    pub fn rotate(&self) {
        let mut keys = write(&self.inner.keys);
        let fresh: Vec<_> = keys
            .iter()
            .map(|k| Arc::new(SigningKey::generate(k.alg())))
            .collect();
        *keys = fresh;
    }

    /// Makes discovery and JWKS answer with `failure` until [`TestIssuer::recover`].
    pub fn fail(&self, failure: Failure) {
        *self.inner.failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(failure);
    }

    /// Ends a [`TestIssuer::fail`] and a [`TestIssuer::fail_token_endpoint`].
    pub fn recover(&self) {
        *self.inner.failure.lock().unwrap_or_else(|p| p.into_inner()) = None;
        *self
            .inner
            .token_failure
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Makes the token endpoint (only) answer with `failure` until [`TestIssuer::recover`].
    pub fn fail_token_endpoint(&self, failure: Failure) {
        *self
            .inner
            .token_failure
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(failure);
    }

    /// The last request the token endpoint received, if any.
    pub fn last_token_request(&self) -> Option<TokenRequest> {
        self.inner
            .last_token_request
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Sets `Cache-Control: max-age` of later JWKS responses (`None`: no header).
    pub fn set_jwks_max_age(&self, max_age: Option<u64>) {
        *self.inner.max_age.lock().unwrap_or_else(|p| p.into_inner()) = max_age;
    }

    /// Requests served by the discovery endpoint so far.
    pub fn discovery_requests(&self) -> usize {
        self.inner.discovery_hits.load(Ordering::SeqCst)
    }

    /// Requests served by the JWKS endpoint so far.
    pub fn jwks_requests(&self) -> usize {
        self.inner.jwks_hits.load(Ordering::SeqCst)
    }

    /// Requests served by the token endpoint so far.
    pub fn token_requests(&self) -> usize {
        self.inner.token_hits.load(Ordering::SeqCst)
    }
}

impl Drop for TestIssuer {
    fn drop(&mut self) {
        self.task.lock().unwrap_or_else(|p| p.into_inner()).abort();
    }
}

impl std::fmt::Debug for TestIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestIssuer")
            .field("url", &self.inner.url)
            .field("audience", &self.inner.audience)
            .finish_non_exhaustive()
    }
}
