//! Opaque access tokens, judged by the issuer's introspection endpoint (RFC 7662), with a cache
//! so that a client sending one token on every call costs one round trip, not one per request.
//!
//! - **The call**: `POST token=…&token_type_hint=access_token`, the resource server
//!   authenticated as an OAuth client (`client_secret_basic` by default, or
//!   `client_secret_post`), with the timeouts, size cap and redirect rules of key fetches.
//! - **The verdict**: `active: false` is 401 `invalid_token`; `active: true` is refused as well
//!   when `exp` has passed, `nbf` is ahead, `aud` (when present) does not name the audience,
//!   `iss` (when present) is not the issuer, or `token_type` (when present) is not `Bearer`
//!   or `DPoP`. A `cnf` confirmation is kept for the binding step. `scope` becomes the scopes.
//!   Absent `iss`, `aud` and `exp` are filled in for the claims type: the issuer, the
//!   audience, and 253402300799 (no expiry known). An absent `sub` is not: the grant then
//!   names no subject ([`Grant::is_client_only`](crate::Grant::is_client_only)), and the
//!   `client_id` is never presented as one.
//! - **The cache** (quick_cache): keyed by the whole token (equality, full-token hash with a per-process
//!   key). An accepted token is remembered until the earlier of its `exp` and
//!   [`Introspection::cache_ttl`] (5 minutes by default); a refused one for
//!   [`Introspection::inactive_cache_ttl`] (30 s) so that replaying a dead token cannot make
//!   every request a round trip. Requests with one token share one call. Bounded in entries.
//!   Failures (endpoint down, 5xx, an unusable answer) are 503 with `Retry-After` and are
//!   never cached.
//! - **Routing**: an opaque token names no issuer, and whoever receives it can replay it, so it
//!   goes to exactly one endpoint the configuration names: the endpoint whose
//!   [`Introspection::token_prefix`] it begins with (the longest), or else the default
//!   endpoint — the one endpoint configured without a prefix. A token no endpoint takes is
//!   refused (401 `invalid_token`) without any call. Asking several endpoints in turn is an
//!   explicit opt-in, [`JwtAuth::introspection_in_turn`](crate::JwtAuth::introspection_in_turn),
//!   which discloses each token to every endpoint asked before the one that knows it. One cache
//!   serves all endpoints (the first endpoint's capacity, the shortest inactive bound, the
//!   deciding endpoint's active bound).

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tokio::sync::OnceCell;

use crate::outbound::SingleFlight;

use crate::claims::{Claims, Grant};
use crate::clock::Clock;
use crate::credential::api_key::NO_EXPIRY;
use crate::credential::Credential;
use crate::jwt::registered::Registered;
use crate::keys::discovery;
use crate::outbound::{basic_authorization, form_encode, parse_url, Fetcher, Form};
use crate::reject::{shown, AuthError, AuthErrorKind, ConfigError, KeySourceError};

/// An accepted token is remembered at most this long by default.
pub(crate) const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(300);
/// A refused token is remembered this long by default.
pub(crate) const DEFAULT_INACTIVE_TTL: Duration = Duration::from_secs(30);
/// Introspection verdicts remembered by default.
pub(crate) const DEFAULT_CAPACITY: u64 = 10_000;
/// `Retry-After` when the endpoint failed.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// How the resource server authenticates to the introspection endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientAuth {
    Basic,
    Post,
}

/// Where the endpoint is.
#[derive(Debug, Clone)]
enum Location {
    Fixed(String),
    /// The issuer's `introspection_endpoint` from its discovery / RFC 8414 metadata.
    FromMetadata,
}

/// Token introspection (RFC 7662) for opaque access tokens, given to
/// [`JwtAuth::introspection`](crate::JwtAuth::introspection). Tokens that are not a compact
/// JWS (and match no API-key prefix) are sent to the endpoint; JWTs are still verified locally.
///
/// ```
/// use std::time::Duration;
/// use tower_jwt_auth::{Introspection, JwtAuth};
/// let auth = JwtAuth::new("https://oauth.flip.energy", "utility-api").introspection(
///     Introspection::new("https://oauth.flip.energy/token/introspect", "rs-client", "s3cr3t")
///         .cache_ttl(Duration::from_secs(60)),
/// );
/// assert!(auth.config_error().is_none());
/// assert!(!format!("{auth:?}").contains("s3cr3t"));
/// ```
#[derive(Clone)]
#[must_use = "an `Introspection` does nothing until given to `JwtAuth::introspection` or `Issuer::introspection`"]
pub struct Introspection {
    endpoint: Location,
    client_id: String,
    client_secret: String,
    auth: ClientAuth,
    cache_ttl: Duration,
    inactive_ttl: Duration,
    capacity: u64,
    prefixes: Vec<String>,
}

impl Introspection {
    /// The endpoint at `endpoint` (https, or http to a loopback host), the resource server
    /// authenticating as `client_id` with `client_secret`.
    pub fn new(
        endpoint: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        Self {
            endpoint: Location::Fixed(endpoint.into()),
            ..Self::from_metadata(client_id, client_secret)
        }
    }

    /// The endpoint the issuer publishes as `introspection_endpoint` in its OpenID Connect
    /// discovery or RFC 8414 metadata (looked up on the first opaque token; a failed lookup is
    /// retried on the next).
    ///
    /// ```
    /// use tower_jwt_auth::{Introspection, JwtAuth};
    /// let auth = JwtAuth::new("https://oauth.flip.energy", "utility-api")
    ///     .introspection(Introspection::from_metadata("rs-client", "s3cr3t"));
    /// assert!(auth.config_error().is_none());
    /// ```
    pub fn from_metadata(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self {
            endpoint: Location::FromMetadata,
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            auth: ClientAuth::Basic,
            cache_ttl: DEFAULT_CACHE_TTL,
            inactive_ttl: DEFAULT_INACTIVE_TTL,
            capacity: DEFAULT_CAPACITY,
            prefixes: Vec::new(),
        }
    }

    /// Opaque tokens that begin with `prefix` go to this endpoint, and to no other (the
    /// longest matching prefix of all endpoints wins). Call again for more prefixes.
    ///
    /// The tokens no prefix routes go to the default endpoint: the primary issuer's
    /// ([`JwtAuth::introspection`](crate::JwtAuth::introspection)) when it has no prefix, else
    /// the only endpoint without one; several without one, none of them the primary's, is a
    /// startup error, unless
    /// [`JwtAuth::introspection_in_turn`](crate::JwtAuth::introspection_in_turn) is chosen.
    ///
    /// ```
    /// use tower_jwt_auth::{Introspection, Issuer, JwtAuth};
    /// // Production tokens begin `at_`, sandbox tokens `sbx_`: each goes to its own server.
    /// let auth = JwtAuth::new("https://oauth.flip.energy", "utility-api")
    ///     .introspection(Introspection::from_metadata("rs-client", "s3cr3t").token_prefix("at_"))
    ///     .add_issuer(
    ///         Issuer::new("https://sandbox.oauth.flip.energy").introspection(
    ///             Introspection::from_metadata("rs-client", "s4ndb0x").token_prefix("sbx_"),
    ///         ),
    ///     );
    /// assert!(auth.config_error().is_none());
    /// ```
    pub fn token_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefixes.push(prefix.into());
        self
    }

    /// Sends the client credentials in the form body (`client_secret_post`) instead of HTTP
    /// Basic authentication (`client_secret_basic`, the default).
    pub fn client_secret_post(mut self) -> Self {
        self.auth = ClientAuth::Post;
        self
    }

    /// The longest an accepted token is remembered (it is never remembered past its `exp`).
    /// Defaults to 5 minutes; a token revoked at the issuer stays accepted at most this long.
    /// Zero disables the cache of accepted tokens.
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// How long a refused token (inactive, expired, for another audience) is remembered.
    /// Defaults to 30 s. Zero disables the cache of refused tokens.
    pub fn inactive_cache_ttl(mut self, ttl: Duration) -> Self {
        self.inactive_ttl = ttl;
        self
    }

    /// The most verdicts remembered. Defaults to 10,000.
    pub fn cache_capacity(mut self, entries: u64) -> Self {
        self.capacity = entries;
        self
    }

    /// Checks the settings; the endpoint URL as it will be used.
    pub(crate) fn validate(&self) -> Result<Option<Url>, ConfigError> {
        let error = |reason: String| ConfigError::new("introspection", reason);
        if self.client_id.is_empty() {
            return Err(error("the client_id is empty".into()));
        }
        if let Some(problem) = self
            .prefixes
            .iter()
            .find_map(|p| crate::credential::api_key::prefix_problem(p))
        {
            return Err(error(problem));
        }
        if self.client_id.contains(':') && self.auth == ClientAuth::Basic {
            // Form-encoding makes it safe, but servers differ on decoding it: say so early.
            tracing::debug!("the introspection client_id contains ':' and is form-encoded");
        }
        match &self.endpoint {
            Location::Fixed(url) => parse_url(url)
                .map(Some)
                .map_err(|e| error(format!("the endpoint: {e}"))),
            Location::FromMetadata => Ok(None),
        }
    }
}

impl fmt::Debug for Introspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Introspection")
            .field("endpoint", &self.endpoint)
            .field("client_id", &self.client_id)
            .field("client_secret", &"(redacted)")
            .field("client_auth", &self.auth)
            .field("cache_ttl", &self.cache_ttl)
            .field("inactive_cache_ttl", &self.inactive_ttl)
            .field("cache_capacity", &self.capacity)
            .field("token_prefixes", &self.prefixes)
            .finish()
    }
}

/// What the introspector checks a response against: the issuer it speaks for.
pub(crate) struct Expect {
    pub(crate) issuer: Arc<str>,
    pub(crate) audience: String,
    pub(crate) leeway: u64,
    pub(crate) roles: Arc<crate::policy::roles::RoleClaims>,
}

/// One remembered verdict.
struct Entry<C> {
    verdict: Result<Claims<C>, AuthError>,
    /// Until when (milliseconds, on the injected clock) the verdict holds; found stale, it is
    /// dropped.
    until_ms: u64,
}

impl<C> Clone for Entry<C> {
    fn clone(&self) -> Self {
        Self {
            verdict: self.verdict.clone(),
            ..*self
        }
    }
}

/// Verdicts by whole token: an opaque token is chosen by whoever sends it, so it is hashed
/// whole, with a per-process SipHash key (a tail hash would let senders collide).
type Verdicts<C> = quick_cache::sync::Cache<
    Box<str>,
    Entry<C>,
    quick_cache::UnitWeighter,
    std::hash::RandomState,
    quick_cache::sync::DefaultLifecycle<Box<str>, Entry<C>>,
>;

/// One issuer's introspection endpoint: where it is, how to authenticate to it, and what its
/// answers must say.
pub(crate) struct Endpoint {
    settings: Introspection,
    url: OnceCell<Url>,
    issuer_url: Url,
    expect: Expect,
    fetcher: Arc<Fetcher>,
    authorization: Option<String>,
}

/// The introspection endpoints of one configuration, how tokens are routed to them, and the
/// cache and the calls in flight they share.
pub(crate) struct Introspector<C> {
    endpoints: Vec<Endpoint>,
    /// `(prefix, endpoint index)`, longest prefix first.
    prefixes: Vec<(Box<str>, usize)>,
    /// The endpoints a token no prefix routes goes to, in the order they are asked: the
    /// default alone, or every unprefixed endpoint when asking in turn was chosen.
    unprefixed: Vec<usize>,
    clock: Arc<dyn Clock>,
    cache: Option<Verdicts<C>>,
    /// How long a refused token is remembered: the shortest of the endpoints' settings.
    inactive_ttl: Duration,
    flights: SingleFlight<Box<str>, Result<Claims<C>, AuthError>>,
    _claims: PhantomData<fn() -> C>,
}

/// How opaque tokens reach the configured endpoints.
pub(crate) struct Routing {
    /// Every unprefixed endpoint is asked in turn (an opt-in that discloses each token to
    /// all of them) instead of the one default.
    pub(crate) in_turn: bool,
    /// The first endpoint is the primary issuer's (the default when it has no prefix).
    pub(crate) primary_first: bool,
    /// The API-key prefixes, which route before introspection: an introspection prefix must
    /// not overlap one.
    pub(crate) api_key_prefixes: Vec<String>,
}

impl<C> fmt::Debug for Introspector<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.endpoints.iter().map(|e| &e.settings))
            .finish()
    }
}

impl Endpoint {
    /// `issuer_url` is where the endpoint is discovered when it is not configured; `expect`
    /// what its answers must say.
    pub(crate) fn new(
        settings: Introspection,
        (issuer_url, expect): (Url, Expect),
        fetcher: Arc<Fetcher>,
    ) -> Result<Self, ConfigError> {
        let url = OnceCell::new_with(settings.validate()?);
        let authorization = (settings.auth == ClientAuth::Basic)
            .then(|| basic_authorization(&settings.client_id, &settings.client_secret));
        Ok(Self {
            settings,
            url,
            issuer_url,
            expect,
            fetcher,
            authorization,
        })
    }

    async fn url(&self) -> Result<&Url, AuthError> {
        self.url
            .get_or_try_init(|| {
                discovery::introspection_endpoint(
                    &self.fetcher,
                    &self.expect.issuer,
                    &self.issuer_url,
                )
            })
            .await
            .map_err(|e| unavailable("the introspection endpoint could not be found", e))
    }

    /// One call to the endpoint and its verdict.
    async fn call<C: DeserializeOwned>(
        &self,
        token: &str,
        now: u64,
    ) -> Result<Claims<C>, AuthError> {
        let url = self.url().await?;
        let mut body = format!("token={}&token_type_hint=access_token", form_encode(token));
        if self.settings.auth == ClientAuth::Post {
            body.push_str(&format!(
                "&client_id={}&client_secret={}",
                form_encode(&self.settings.client_id),
                form_encode(&self.settings.client_secret)
            ));
        }
        let form = Form {
            body,
            authorization: self.authorization.as_deref(),
        };
        let fetched = self
            .fetcher
            .post_form(url, form)
            .await
            .map_err(|e| unavailable("the introspection call failed", e))?;
        self.judge(&fetched.body, now)
    }

    /// The verdict of an introspection response.
    fn judge<C: DeserializeOwned>(&self, body: &[u8], now: u64) -> Result<Claims<C>, AuthError> {
        let bad = |why: &str| {
            AuthError::new(AuthErrorKind::ValidationUnavailable)
                .with_context(format!("the introspection response {why}"))
                .with_retry_after(RETRY_AFTER)
        };
        let mut object: Map<String, Value> =
            serde_json::from_slice(body).map_err(|_| bad("is not a JSON object"))?;
        match object.get("active") {
            Some(Value::Bool(true)) => {}
            Some(Value::Bool(false)) => {
                return Err(AuthError::new(AuthErrorKind::InactiveToken)
                    .with_context("the introspection endpoint reports the token inactive"))
            }
            _ => return Err(bad("has no boolean `active` member")),
        }
        let reg: Registered<'_> = serde_json::from_slice(body)
            .map_err(|_| bad("has a registered member of the wrong type"))?;
        let expect = &self.expect;
        let leeway = expect.leeway;
        if let Some(iss) = &reg.iss {
            if *iss.0 != *expect.issuer {
                return Err(
                    AuthError::new(AuthErrorKind::InvalidIssuer).with_context(format!(
                        "expected issuer {}, the introspection response names {}",
                        shown(&expect.issuer),
                        shown(&iss.0)
                    )),
                );
            }
        }
        if let Some(aud) = &reg.aud {
            if !aud.0.iter().any(|a| *a == *expect.audience) {
                let found: Vec<_> = aud.0.iter().map(|a| shown(a)).collect();
                return Err(
                    AuthError::new(AuthErrorKind::InvalidAudience).with_context(format!(
                        "expected audience {}, the introspection response names [{}]",
                        shown(&expect.audience),
                        found.join(", ")
                    )),
                );
            }
        }
        if let Some(exp) = reg.exp.filter(|exp| now >= exp.0.saturating_add(leeway)) {
            return Err(AuthError::new(AuthErrorKind::Expired).with_context(format!(
                "the introspection response is active but exp {} is {} s before now ({now})",
                exp.0,
                now - exp.0
            )));
        }
        if let Some(nbf) = reg.nbf.filter(|nbf| nbf.0 > now.saturating_add(leeway)) {
            return Err(
                AuthError::new(AuthErrorKind::NotYetValid).with_context(format!(
                    "nbf {} is after now ({now}) plus the leeway",
                    nbf.0
                )),
            );
        }
        match object.get("token_type") {
            None => {}
            Some(Value::String(t))
                if t.eq_ignore_ascii_case("bearer") || t.eq_ignore_ascii_case("dpop") => {}
            Some(other) => {
                return Err(
                    AuthError::new(AuthErrorKind::InvalidClaim).with_context(format!(
                        "the introspection response has token_type {other}, not Bearer"
                    )),
                )
            }
        }
        let client_id = reg.client_id.as_ref().map(|c| &*c.0);
        // No `sub`: the caller is the client alone, and the grant says so (an empty subject),
        // rather than presenting the client_id as a user's identifier.
        let sub = reg.sub.as_ref().map_or("", |s| &*s.0);
        let exp = reg.exp.map_or(NO_EXPIRY, |e| e.0);
        let grant = Grant::new(
            (sub, reg.sub_type.as_ref().map(|s| &*s.0), client_id),
            &reg.scopes(),
            (exp, reg.nbf.map(|n| n.0)),
            (Arc::clone(&expect.issuer), None),
        )
        .with_credential(Credential::Introspected)
        .with_roles(
            expect
                .roles
                .collect(&expect.audience, |name| object.get(name).cloned()),
        )
        // A bound token (RFC 7662 §2.2 carries `cnf` too) is judged by the binding step.
        .with_confirmation(reg.cnf.clone());
        drop(reg);
        let defaults = [
            ("iss", Value::from(&*expect.issuer)),
            ("aud", Value::from(expect.audience.as_str())),
            ("exp", Value::from(exp)),
        ];
        for (name, value) in defaults {
            object.entry(name).or_insert(value);
        }
        let claims: C = serde_json::from_value(Value::Object(object)).map_err(|e| {
            AuthError::new(AuthErrorKind::InvalidClaim)
                .with_detail("the token claims do not fit the expected claims type")
                .with_source(e)
        })?;
        Ok(Claims::new(claims, grant))
    }
}

impl<C: DeserializeOwned + Send + Sync + 'static> Introspector<C> {
    /// `None` without endpoints. The cache takes the first endpoint's capacity. Refuses a
    /// configuration that would send a token to an endpoint it did not choose: prefixes that
    /// overlap each other or an API-key prefix, and several endpoints that could each be the
    /// default.
    pub(crate) fn new(
        endpoints: Vec<Endpoint>,
        routing: &Routing,
        clock: Arc<dyn Clock>,
    ) -> Result<Option<Self>, ConfigError> {
        let Some(first) = endpoints.first() else {
            return Ok(None);
        };
        let capacity = first.settings.capacity;
        let error = |reason: String| ConfigError::new("introspection", reason);
        let mut prefixes: Vec<(Box<str>, usize)> = Vec::new();
        for (index, endpoint) in endpoints.iter().enumerate() {
            for prefix in &endpoint.settings.prefixes {
                let overlaps =
                    |other: &str| other.starts_with(&**prefix) || prefix.starts_with(other);
                if let Some((other, _)) = prefixes.iter().find(|(p, _)| overlaps(p)) {
                    return Err(error(format!(
                        "the token prefixes {} and {} overlap: a token could go to either endpoint",
                        shown(other),
                        shown(prefix)
                    )));
                }
                if let Some(other) = routing.api_key_prefixes.iter().find(|p| overlaps(p)) {
                    return Err(error(format!(
                        "the token prefix {} overlaps the API-key prefix {}",
                        shown(prefix),
                        shown(other)
                    )));
                }
                prefixes.push((prefix.as_str().into(), index));
            }
        }
        prefixes.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        let unprefixed: Vec<usize> = endpoints
            .iter()
            .enumerate()
            .filter(|(_, e)| e.settings.prefixes.is_empty())
            .map(|(index, _)| index)
            .collect();
        let unprefixed = if routing.in_turn || unprefixed.len() <= 1 {
            unprefixed
        } else if routing.primary_first && unprefixed.first() == Some(&0) {
            // The primary issuer's endpoint is the default; the others take only their
            // prefixes' tokens, and those without one none at all.
            for &i in &unprefixed[1..] {
                tracing::warn!(
                    issuer = %endpoints[i].expect.issuer,
                    "this introspection endpoint has no token_prefix and the primary issuer's \
                     is the default: no opaque token goes to it"
                );
            }
            vec![0]
        } else {
            let issuers: Vec<String> = unprefixed
                .iter()
                .map(|&i| shown(&endpoints[i].expect.issuer))
                .collect();
            return Err(error(format!(
                "the introspection endpoints of {} could each take opaque tokens, and none is \
                 the default: a token must go only to the server that issued it. Give all but \
                 one of them a token_prefix (Introspection::token_prefix), configure the \
                 primary issuer's (JwtAuth::introspection), or opt into asking them in turn \
                 (JwtAuth::introspection_in_turn), which shows every token to each of them",
                issuers.join(" and ")
            )));
        };
        let cache = (capacity > 0).then(|| {
            quick_cache::sync::Cache::with(
                usize::try_from(capacity).unwrap_or(usize::MAX),
                capacity,
                quick_cache::UnitWeighter,
                std::hash::RandomState::new(),
                quick_cache::sync::DefaultLifecycle::default(),
            )
        });
        let inactive_ttl = endpoints
            .iter()
            .map(|e| e.settings.inactive_ttl)
            .min()
            .unwrap_or(DEFAULT_INACTIVE_TTL);
        Ok(Some(Self {
            endpoints,
            prefixes,
            unprefixed,
            clock,
            cache,
            inactive_ttl,
            flights: SingleFlight::new("introspection"),
            _claims: PhantomData,
        }))
    }

    /// Whether some endpoint takes `token` (a prefix routes it, or there is a default).
    pub(crate) fn takes(&self, token: &str) -> bool {
        !self.route(token).is_empty()
    }

    /// The endpoints `token` may be shown to, in the order they are asked.
    fn route(&self, token: &str) -> &[usize] {
        match self.prefixes.iter().find(|(p, _)| token.starts_with(&**p)) {
            Some((_, index)) => std::slice::from_ref(index),
            None => &self.unprefixed,
        }
    }

    /// The remembered verdict on `token`, if it still holds.
    pub(crate) fn cached(&self, token: &str) -> Option<Result<Claims<C>, AuthError>> {
        let cache = self.cache.as_ref()?;
        let entry = cache.get(token)?;
        if self.clock.now_millis() < entry.until_ms {
            Some(entry.verdict)
        } else {
            cache.remove(token);
            None
        }
    }

    /// The verdict on `token`: remembered, or from one call shared by every request that
    /// carries it meanwhile.
    pub(crate) async fn introspect(&self, token: &str) -> Result<Claims<C>, AuthError> {
        if let Some(verdict) = self.cached(token) {
            return verdict;
        }
        self.flights
            .run(token.into(), || async {
                // A call that ended just before this one joined has remembered its verdict.
                if let Some(verdict) = self.cached(token) {
                    return verdict;
                }
                let (verdict, cache_ttl) = self.ask(token).await;
                self.remember(token, &verdict, cache_ttl);
                verdict
            })
            .await
    }

    /// Asks the endpoints the token is routed to (one, unless asking in turn was chosen)
    /// until one knows it: an active answer (accepted or refused on its claims) decides;
    /// "inactive" passes to the next endpoint. Among answers that decide nothing, a failure
    /// outranks "inactive": the token may belong to the issuer that could not answer. Also
    /// returns the deciding endpoint's bound on remembering.
    async fn ask(&self, token: &str) -> (Result<Claims<C>, AuthError>, Duration) {
        let now = self.clock.now();
        let mut undecided: Option<AuthError> = None;
        for endpoint in self.route(token).iter().map(|&i| &self.endpoints[i]) {
            let timer = std::time::Instant::now();
            let verdict = endpoint.call(token, now).await;
            let issuer = &endpoint.expect.issuer;
            let result = match &verdict {
                Err(e) if e.kind() == AuthErrorKind::InactiveToken => "inactive",
                Err(e) if e.kind() == AuthErrorKind::ValidationUnavailable => "error",
                _ => "active",
            };
            crate::metrics::introspection(issuer, result, timer.elapsed());
            match verdict.map_err(|e| e.at_issuer(issuer)) {
                Err(e) if e.kind() == AuthErrorKind::InactiveToken => {
                    undecided.get_or_insert(e);
                }
                Err(e) if e.kind() == AuthErrorKind::ValidationUnavailable => {
                    undecided = Some(e);
                }
                verdict => return (verdict, endpoint.settings.cache_ttl),
            }
        }
        let error = undecided.unwrap_or_else(|| AuthErrorKind::Internal.into());
        (Err(error), Duration::ZERO)
    }

    fn remember(&self, token: &str, verdict: &Result<Claims<C>, AuthError>, cache_ttl: Duration) {
        let Some(cache) = &self.cache else { return };
        let now_ms = self.clock.now_millis();
        let ttl = match verdict {
            Ok(claims) => {
                let exp_ms = claims.grant().expires_at().saturating_mul(1000);
                cache_ttl.min(Duration::from_millis(exp_ms.saturating_sub(now_ms)))
            }
            Err(e) if e.kind() == AuthErrorKind::ValidationUnavailable => return,
            Err(_) => self.inactive_ttl,
        };
        if ttl.is_zero() {
            return;
        }
        let until_ms = now_ms.saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX));
        let entry = Entry {
            verdict: verdict.clone(),
            until_ms,
        };
        cache.insert(token.into(), entry);
    }
}

fn unavailable(what: &'static str, e: KeySourceError) -> AuthError {
    AuthError::new(AuthErrorKind::ValidationUnavailable)
        .with_context(what)
        .with_source(e)
        .with_retry_after(RETRY_AFTER)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::FetchLimits;
    use crate::AccessClaims;
    use base64::Engine as _;

    fn endpoint(settings: Introspection, audience: &str) -> Endpoint {
        Endpoint::new(
            settings,
            (
                Url::parse("http://127.0.0.1:9").unwrap(),
                Expect {
                    issuer: "http://127.0.0.1:9".into(),
                    audience: audience.into(),
                    leeway: 60,
                    roles: Arc::default(),
                },
            ),
            Arc::new(Fetcher::keep_alive(FetchLimits::default(), None)),
        )
        .unwrap()
    }

    fn judge(body: &str) -> Result<Claims<AccessClaims>, AuthError> {
        let settings = Introspection::new("http://127.0.0.1:9/introspect", "rs", "secret");
        endpoint(settings, "utility-api").judge(body.as_bytes(), 1_800_000_000)
    }

    #[test]
    fn responses_are_judged() {
        let ok = judge(
            r#"{"active":true,"scope":"a b","client_id":"c-1","exp":1800000600,"token_type":"Bearer"}"#,
        )
        .unwrap();
        assert_eq!(
            ok.grant().sub(),
            "",
            "a client_id is never shown as the subject"
        );
        assert!(ok.grant().is_client_only());
        assert_eq!(ok.sub, "");
        assert_eq!(ok.grant().client_id(), Some("c-1"));
        assert_eq!(ok.grant().credential(), Credential::Introspected);
        assert!(ok.grant().has_scope("b"));
        assert_eq!(ok.iss, "http://127.0.0.1:9");
        assert!(ok.aud.contains("utility-api"));
        let kind = |body: &str| judge(body).unwrap_err().kind();
        assert_eq!(kind(r#"{"active":false}"#), AuthErrorKind::InactiveToken);
        assert_eq!(
            kind(r#"{"active":true,"exp":1700000000}"#),
            AuthErrorKind::Expired
        );
        assert_eq!(
            kind(r#"{"active":true,"aud":["other-api"]}"#),
            AuthErrorKind::InvalidAudience
        );
        assert_eq!(
            kind(r#"{"active":true,"iss":"https://evil.example"}"#),
            AuthErrorKind::InvalidIssuer
        );
        assert_eq!(
            kind(r#"{"active":true,"token_type":"N_A"}"#),
            AuthErrorKind::InvalidClaim
        );
        let bound = judge(r#"{"active":true,"cnf":{"jkt":"x"}}"#).unwrap();
        assert_eq!(
            bound.grant().confirmation(),
            &crate::claims::Confirmation::Jkt("x".into())
        );
        for broken in [
            "[]",
            "<html>",
            r#"{"active":"true"}"#,
            r#"{"active":true,"exp":"soon"}"#,
        ] {
            assert_eq!(
                kind(broken),
                AuthErrorKind::ValidationUnavailable,
                "{broken}"
            );
        }
    }

    #[test]
    fn client_credentials_are_form_encoded_before_basic() {
        let i = endpoint(
            Introspection::new("http://127.0.0.1:9/i", "rs client", "p:w"),
            "a",
        );
        let expected = base64::engine::general_purpose::STANDARD.encode("rs+client:p%3Aw");
        assert_eq!(
            i.authorization.as_deref(),
            Some(format!("Basic {expected}").as_str())
        );
        let err = Introspection::new("http://auth.example/i", "rs", "s")
            .validate()
            .unwrap_err();
        assert_eq!(err.field(), "introspection");
    }
}
