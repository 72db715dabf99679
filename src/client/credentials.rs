//! The client-credentials grant (RFC 6749 §4.4) and its token's lifecycle: one cached token per
//! source, renewed ahead of expiry in the background, one request at a time, backoff on
//! failure, the refresh-token grant when the server issued one.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{AccessToken, ClientSecret, TokenError, TokenErrorKind, TokenSource};
use crate::clock::{Clock, SystemClock};
use crate::keys::discovery;
use crate::keys::refresh::jittered;
use crate::outbound::SingleFlight;
use crate::outbound::{
    basic_authorization, form_encode, parse_url, Answer, FetchLimits, Fetcher, Form,
};
use crate::reject::{shown, KeySourceErrorKind};

/// The share of `expires_in` after which a token is renewed, by default.
const DEFAULT_RENEW_SHARE: f64 = 0.8;
/// How long a token whose lifetime the server did not say (no `expires_in`, not a JWT) is used.
const UNKNOWN_LIFETIME: u64 = 300;
/// The longest wait between attempts after passing failures.
const MAX_BACKOFF_MS: u64 = 60_000;
/// The wait between attempts after a configuration error.
const CONFIGURATION_RETRY_MS: u64 = 300_000;

/// How the client authenticates to the token endpoint, and the body's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    /// A form body, credentials by HTTP Basic (RFC 6749 §2.3.1): Flip, Aelix, EnergyZero.
    Basic,
    /// A form body with `client_id` and `client_secret` (`client_secret_post`).
    Post,
    /// A JSON body with `client_id` and `client_secret`: Eliq.
    Json,
}

/// When a token is renewed.
#[derive(Debug, Clone, Copy)]
enum Renew {
    /// Once this share of its lifetime has passed.
    Share(f64),
    /// This long before it expires.
    Margin(Duration),
}

#[derive(Clone)]
enum Endpoint {
    Fixed(Url),
    Discover { issuer: String, url: Url },
}

#[derive(Clone)]
struct Settings {
    endpoint: Option<Endpoint>,
    error: Option<TokenError>,
    client_id: String,
    secret: ClientSecret,
    style: Style,
    scopes: Vec<String>,
    /// The parameter naming the audience, and its value.
    audience: Option<(&'static str, String)>,
    subject: Option<(String, String)>,
    issue_refresh_token: bool,
    extra: Vec<(String, String)>,
    renew: Renew,
    clock: Arc<dyn Clock>,
    limits: FetchLimits,
    http_client: Option<reqwest::Client>,
}

/// The token in use and when to renew it (milliseconds).
struct Held {
    token: AccessToken,
    renew_at_ms: u64,
    expires_at_ms: u64,
}

/// The last failure, and when the next attempt may go out (milliseconds).
struct Failed {
    error: TokenError,
    retry_at_ms: u64,
    failures: u32,
}

struct State {
    fetcher: Fetcher,
    held: Mutex<Option<Held>>,
    refresh_token: Mutex<Option<(ClientSecret, Option<u64>)>>,
    failed: Mutex<Option<Failed>>,
    /// One token request at a time, shared by every caller that needs a token meanwhile.
    flight: SingleFlight<(), Result<AccessToken, TokenError>>,
    renewing: AtomicBool,
    discovered: OnceLock<Url>,
}

impl State {
    fn new(settings: &Settings) -> Self {
        Self {
            fetcher: Fetcher::keep_alive(settings.limits.clone(), settings.http_client.clone()),
            held: Mutex::new(None),
            refresh_token: Mutex::new(None),
            failed: Mutex::new(None),
            flight: SingleFlight::new("client_token"),
            renewing: AtomicBool::new(false),
            discovered: OnceLock::new(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Access tokens by the client-credentials grant, as the seeds describe it: a cached token per
/// source, renewed in the background once 80 % of its `expires_in` has passed (or a fixed margin
/// before expiry), one request for any number of concurrent callers, jittered backoff when the
/// token endpoint fails, and `invalid_client` / `unauthorized_client` reported as configuration
/// errors rather than retried in a loop. Clones share the token.
///
/// The request is a form body with HTTP Basic client authentication by default (RFC 6749
/// §2.3.1: Flip, Aelix, EnergyZero); [`ClientCredentials::client_secret_post`] puts the
/// credentials in the form and [`ClientCredentials::json_body`] sends Eliq's JSON body.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use tower_jwt_auth::client::{ClientCredentials, TokenSource};
/// use tower_jwt_auth::testing::TestIssuer;
///
/// let issuer = TestIssuer::builder().client("utility-acme-backend", "s3cr3t").start().await;
/// let source = ClientCredentials::new(issuer.token_endpoint(), "utility-acme-backend", "s3cr3t")
///     .audience("insights-api")
///     .scopes(["insights.read"]);
/// let token = source.token().await.unwrap();
/// assert_eq!(source.token().await.unwrap(), token); // cached
/// assert_eq!(issuer.token_requests(), 1);
/// # }
/// ```
#[derive(Clone)]
#[must_use = "a `ClientCredentials` does nothing until used as a token source"]
pub struct ClientCredentials {
    settings: Arc<Settings>,
    state: Arc<State>,
}

impl ClientCredentials {
    /// Tokens from `token_endpoint` (https, or http on a loopback host) for this client.
    pub fn new(
        token_endpoint: impl AsRef<str>,
        client_id: impl Into<String>,
        client_secret: impl Into<ClientSecret>,
    ) -> Self {
        let endpoint = parse_url(token_endpoint.as_ref()).map(Endpoint::Fixed);
        Self::with_endpoint(endpoint, client_id.into(), client_secret.into())
    }

    /// Tokens from the `token_endpoint` the issuer publishes in its OpenID Connect discovery
    /// (or RFC 8414) metadata, looked up on first use; the document's `issuer` must equal
    /// `issuer` byte for byte.
    pub fn discover(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<ClientSecret>,
    ) -> Self {
        let issuer = issuer.into();
        let endpoint = parse_url(&issuer).map(|url| Endpoint::Discover { issuer, url });
        Self::with_endpoint(endpoint, client_id.into(), client_secret.into())
    }

    fn with_endpoint(
        endpoint: Result<Endpoint, String>,
        client_id: String,
        secret: ClientSecret,
    ) -> Self {
        let (endpoint, mut error) = match endpoint {
            Ok(e) => (Some(e), None),
            Err(e) => (
                None,
                Some(TokenError::configuration(format!(
                    "the token endpoint is unusable: {e}"
                ))),
            ),
        };
        if client_id.is_empty() {
            error.get_or_insert(TokenError::configuration("the client_id is empty"));
        }
        let settings = Settings {
            endpoint,
            error,
            client_id,
            secret,
            style: Style::Basic,
            scopes: Vec::new(),
            audience: None,
            subject: None,
            issue_refresh_token: false,
            extra: Vec::new(),
            renew: Renew::Share(DEFAULT_RENEW_SHARE),
            clock: Arc::new(SystemClock),
            limits: FetchLimits::default(),
            http_client: None,
        };
        let state = Arc::new(State::new(&settings));
        Self {
            settings: Arc::new(settings),
            state,
        }
    }

    /// A configuration change: the cached token (if any) belongs to the old one.
    fn with(mut self, f: impl FnOnce(&mut Settings)) -> Self {
        f(Arc::make_mut(&mut self.settings));
        self.state = Arc::new(State::new(&self.settings));
        self
    }

    fn refuse(self, message: String) -> Self {
        self.with(|s| {
            s.error.get_or_insert(TokenError::configuration(message));
        })
    }

    /// The scopes to ask for, sent space-delimited in `scope`. Defaults to none (the scopes
    /// the server configured for the client).
    pub fn scopes<I, S>(self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let scopes: Vec<String> = scopes.into_iter().map(Into::into).collect();
        if let Some(bad) = scopes
            .iter()
            .find(|s| s.is_empty() || s.contains(|c: char| c.is_whitespace() || c == '"'))
        {
            let bad = shown(bad);
            return self.refuse(format!("scopes: {bad} is not a scope token"));
        }
        self.with(|s| s.scopes = scopes)
    }

    /// The API the token is for. An absolute `http(s)` URI is sent as the RFC 8707 `resource`
    /// indicator; anything else as Eliq's `aud`. [`ClientCredentials::param`] sends another
    /// name (Auth0's `audience`).
    pub fn audience(self, audience: impl Into<String>) -> Self {
        let audience = audience.into();
        let name = if audience.starts_with("https://") || audience.starts_with("http://") {
            "resource"
        } else {
            "aud"
        };
        self.with(|s| s.audience = Some((name, audience)))
    }

    /// The RFC 8707 `resource` indicator, whatever its form.
    pub fn resource(self, resource: impl Into<String>) -> Self {
        let resource = resource.into();
        self.with(|s| s.audience = Some(("resource", resource)))
    }

    /// A delegated token, issued on behalf of `sub` (Eliq: `sub` and `sub_type`, typically
    /// `"user"`).
    pub fn subject(self, sub: impl Into<String>, sub_type: impl Into<String>) -> Self {
        let subject = (sub.into(), sub_type.into());
        self.with(|s| s.subject = Some(subject))
    }

    /// Asks for a refresh token (Eliq's `issue_refresh_token`); renewals then use the
    /// `refresh_token` grant while it lasts, and the client-credentials grant again when the
    /// server refuses it.
    pub fn issue_refresh_token(self) -> Self {
        self.with(|s| s.issue_refresh_token = true)
    }

    /// Another parameter for the token request (sent on the client-credentials grant).
    pub fn param(self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let pair = (name.into(), value.into());
        self.with(|s| s.extra.push(pair))
    }

    /// Sends `client_id` and `client_secret` in the form body (`client_secret_post`) instead of
    /// HTTP Basic.
    pub fn client_secret_post(self) -> Self {
        self.with(|s| s.style = Style::Post)
    }

    /// Sends a JSON body with `client_id` and `client_secret`, as Eliq's token endpoint takes.
    pub fn json_body(self) -> Self {
        self.with(|s| s.style = Style::Json)
    }

    /// Renews the token once `share` (0 < share ≤ 1) of its lifetime has passed. Defaults to
    /// 0.8 (Flip: "when 80 % of the TTL has elapsed").
    pub fn renew_after(self, share: f64) -> Self {
        if !(share > 0.0 && share <= 1.0) {
            return self.refuse(format!("renew_after: {share} is not in (0, 1]"));
        }
        self.with(|s| s.renew = Renew::Share(share))
    }

    /// Renews the token `margin` before it expires instead (Aelix: 60 seconds).
    pub fn renew_before_expiry(self, margin: Duration) -> Self {
        self.with(|s| s.renew = Renew::Margin(margin))
    }

    /// The clock for expiry and renewal. Defaults to the system clock.
    pub fn clock(self, clock: impl Clock) -> Self {
        self.with(|s| s.clock = Arc::new(clock))
    }

    /// Connect and total timeouts of each token request. Default to 5 s and 10 s.
    pub fn timeouts(self, connect: Duration, total: Duration) -> Self {
        self.with(|s| {
            s.limits.connect_timeout = connect;
            s.limits.total_timeout = total;
        })
    }

    /// Your own `reqwest::Client` (custom CA, proxy, mTLS); its own timeouts and redirect
    /// policy then apply, and the total timeout still bounds each request.
    pub fn http_client(self, client: reqwest::Client) -> Self {
        self.with(|s| s.http_client = Some(client))
    }

    /// The first unusable setting, if any; [`TokenSource::token`] reports it too.
    pub fn config_error(&self) -> Option<&TokenError> {
        self.settings.error.as_ref()
    }

    fn now_ms(&self) -> u64 {
        self.settings.clock.now_millis()
    }

    /// Starts a renewal in the background unless one is out or failures hold it back.
    fn renew_in_background(&self) {
        if self.state.renewing.swap(true, Ordering::AcqRel) {
            return;
        }
        let now = self.now_ms();
        let backing_off = lock(&self.state.failed)
            .as_ref()
            .is_some_and(|f| now < f.retry_at_ms);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.state.renewing.store(false, Ordering::Release);
            return;
        };
        if backing_off {
            self.state.renewing.store(false, Ordering::Release);
            return;
        }
        let me = self.clone();
        runtime.spawn(async move {
            let _ = me.obtain(true).await;
            me.state.renewing.store(false, Ordering::Release);
        });
    }

    /// A token from the server, one request at a time. `renewing`: a token that is merely
    /// due for renewal does not count as fresh.
    async fn obtain(&self, renewing: bool) -> Result<AccessToken, TokenError> {
        self.state
            .flight
            .run((), || self.obtain_now(renewing))
            .await
    }

    /// [`obtain`](Self::obtain)'s call: the held token if it is still fresh, else a request.
    async fn obtain_now(&self, renewing: bool) -> Result<AccessToken, TokenError> {
        let now = self.now_ms();
        if let Some(held) = &*lock(&self.state.held) {
            let fresh_until = if renewing {
                held.renew_at_ms
            } else {
                held.expires_at_ms
            };
            if now < fresh_until {
                return Ok(held.token.clone());
            }
        }
        if let Some(failed) = &*lock(&self.state.failed) {
            if now < failed.retry_at_ms {
                return Err(failed.error.clone());
            }
        }
        match self.request().await {
            Ok(held) => {
                let token = held.token.clone();
                *lock(&self.state.held) = Some(held);
                *lock(&self.state.failed) = None;
                tracing::debug!(client_id = %self.settings.client_id, "access token obtained");
                Ok(token)
            }
            Err(error) => {
                let mut failed = lock(&self.state.failed);
                let failures = failed.as_ref().map_or(0, |f| f.failures) + 1;
                let wait = match error.kind() {
                    TokenErrorKind::Configuration => CONFIGURATION_RETRY_MS,
                    _ => {
                        let base = (1000u64 << (failures - 1).min(16)).min(MAX_BACKOFF_MS);
                        jittered(base, 80, 120)
                    }
                };
                if error.is_configuration() {
                    tracing::error!(client_id = %self.settings.client_id, %error, "no access token: the configuration does not fit the authorization server");
                } else {
                    tracing::warn!(client_id = %self.settings.client_id, %error, failures, retry_in_ms = wait, "no access token");
                }
                *failed = Some(Failed {
                    error: error.clone(),
                    retry_at_ms: self.now_ms().saturating_add(wait),
                    failures,
                });
                Err(error)
            }
        }
    }

    async fn endpoint(&self) -> Result<Url, TokenError> {
        match &self.settings.endpoint {
            Some(Endpoint::Fixed(url)) => Ok(url.clone()),
            Some(Endpoint::Discover { issuer, url }) => {
                if let Some(found) = self.state.discovered.get() {
                    return Ok(found.clone());
                }
                let found = discovery::token_endpoint(&self.state.fetcher, issuer, url)
                    .await
                    .map_err(|e| {
                        let kind = if e.kind() == KeySourceErrorKind::IssuerMismatch {
                            TokenErrorKind::Configuration
                        } else {
                            TokenErrorKind::Unavailable
                        };
                        TokenError::new(kind, "the token endpoint could not be discovered")
                            .with_source(e)
                    })?;
                Ok(self.state.discovered.get_or_init(|| found).clone())
            }
            None => Err(TokenError::configuration("no usable token endpoint")),
        }
    }

    /// One token request: the refresh-token grant while a refresh token lasts, else (or when
    /// the server refuses it) the client-credentials grant.
    async fn request(&self) -> Result<Held, TokenError> {
        if let Some(error) = &self.settings.error {
            return Err(error.clone());
        }
        let url = self.endpoint().await?;
        let now_s = self.settings.clock.now();
        let refresh = lock(&self.state.refresh_token)
            .clone()
            .filter(|(_, until)| until.is_none_or(|u| now_s < u));
        if let Some((refresh, _)) = refresh {
            match self.post(&url, self.refresh_grant(&refresh)).await {
                Err(e) if e.oauth_error() == Some("invalid_grant") => {
                    tracing::debug!("the refresh token was refused; using client credentials");
                    *lock(&self.state.refresh_token) = None;
                }
                result => return result,
            }
        }
        self.post(&url, self.client_credentials_grant()).await
    }

    fn client_credentials_grant(&self) -> Vec<(String, Param)> {
        let s = &*self.settings;
        let mut params = vec![("grant_type".to_owned(), Param::text("client_credentials"))];
        if !s.scopes.is_empty() {
            params.push(("scope".into(), Param::text(s.scopes.join(" "))));
        }
        if let Some((name, value)) = &s.audience {
            params.push(((*name).to_owned(), Param::text(value)));
        }
        if let Some((sub, sub_type)) = &s.subject {
            params.push(("sub".into(), Param::text(sub)));
            params.push(("sub_type".into(), Param::text(sub_type)));
        }
        if s.issue_refresh_token {
            params.push(("issue_refresh_token".into(), Param::Bool(true)));
        }
        params.extend(s.extra.iter().map(|(n, v)| (n.clone(), Param::text(v))));
        params
    }

    fn refresh_grant(&self, refresh: &ClientSecret) -> Vec<(String, Param)> {
        vec![
            ("grant_type".to_owned(), Param::text("refresh_token")),
            ("refresh_token".to_owned(), Param::text(refresh.expose())),
        ]
    }

    /// Sends the grant with the client's authentication, and reads the answer.
    async fn post(&self, url: &Url, mut params: Vec<(String, Param)>) -> Result<Held, TokenError> {
        let s = &*self.settings;
        let authorization = match s.style {
            Style::Basic => Some(basic_authorization(&s.client_id, s.secret.expose())),
            Style::Post | Style::Json => {
                params.push(("client_id".into(), Param::text(&s.client_id)));
                params.push(("client_secret".into(), Param::text(s.secret.expose())));
                None
            }
        };
        let (content_type, body) = match s.style {
            Style::Json => {
                let object: Map<String, Value> = params
                    .into_iter()
                    .map(|(n, v)| {
                        let v = match v {
                            Param::Text(t) => Value::String(t),
                            Param::Bool(b) => Value::Bool(b),
                        };
                        (n, v)
                    })
                    .collect();
                ("application/json", Value::Object(object).to_string())
            }
            Style::Basic | Style::Post => {
                let body: Vec<String> = params
                    .iter()
                    .map(|(n, v)| format!("{}={}", form_encode(n), form_encode(&v.as_text())))
                    .collect();
                ("application/x-www-form-urlencoded", body.join("&"))
            }
        };
        let form = Form {
            body,
            authorization: authorization.as_deref(),
        };
        let answer = self
            .state
            .fetcher
            .post_any(url, content_type, form)
            .await
            .map_err(|e| TokenError::unavailable("the token request failed").with_source(e))?;
        self.read(url, answer)
    }

    /// The token response (RFC 6749 §5.1), or the refusal it explains (§5.2).
    fn read(&self, url: &Url, answer: Answer) -> Result<Held, TokenError> {
        if !(200..300).contains(&answer.status) {
            return Err(refusal(url, &answer));
        }
        let response: TokenResponse = serde_json::from_slice(&answer.body).map_err(|_| {
            TokenError::invalid_response(format!(
                "{url}: the token response is not the JSON object expected"
            ))
        })?;
        if let Some(kind) = &response.token_type {
            if !kind.eq_ignore_ascii_case("bearer") {
                return Err(TokenError::invalid_response(format!(
                    "{url}: token_type {} is not Bearer",
                    shown(kind)
                )));
            }
        }
        if response.access_token.is_empty()
            || http::HeaderValue::from_str(&response.access_token).is_err()
        {
            return Err(TokenError::invalid_response(format!(
                "{url}: the access_token is empty or not a header value"
            )));
        }
        let now_ms = self.now_ms();
        let now_s = now_ms / 1000;
        let lifetime = response
            .expires_in
            .or_else(|| jwt_exp(&response.access_token).map(|exp| exp.saturating_sub(now_s)))
            .unwrap_or(UNKNOWN_LIFETIME);
        let lifetime_ms = lifetime.saturating_mul(1000);
        let expires_at_ms = now_ms.saturating_add(lifetime_ms);
        let renew_at_ms = match self.settings.renew {
            Renew::Share(share) => now_ms.saturating_add((lifetime_ms as f64 * share) as u64),
            Renew::Margin(margin) => {
                let margin = u64::try_from(margin.as_millis()).unwrap_or(u64::MAX);
                expires_at_ms.saturating_sub(margin).max(now_ms)
            }
        };
        if let Some(refresh) = response.refresh_token {
            let until = response
                .refresh_token_expires_in
                .map(|t| now_s.saturating_add(t));
            *lock(&self.state.refresh_token) = Some((ClientSecret::from(refresh), until));
        }
        Ok(Held {
            token: AccessToken::expiring(response.access_token.into(), expires_at_ms / 1000),
            renew_at_ms,
            expires_at_ms,
        })
    }
}

/// A parameter of the token request: JSON keeps booleans as booleans.
enum Param {
    Text(String),
    Bool(bool),
}

impl Param {
    fn text(value: impl Into<String>) -> Self {
        Param::Text(value.into())
    }

    fn as_text(&self) -> String {
        match self {
            Param::Text(t) => t.clone(),
            Param::Bool(b) => b.to_string(),
        }
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    token_type: Option<String>,
    #[serde(default, deserialize_with = "seconds")]
    expires_in: Option<u64>,
    refresh_token: Option<String>,
    #[serde(default, deserialize_with = "seconds")]
    refresh_token_expires_in: Option<u64>,
}

/// A number of seconds, as a JSON number or (some servers) a numeric string.
fn seconds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Secs {
        N(u64),
        F(f64),
        S(String),
    }
    Ok(match Option::<Secs>::deserialize(d)? {
        None => None,
        Some(Secs::N(n)) => Some(n),
        Some(Secs::F(f)) if f >= 0.0 => Some(f as u64),
        Some(Secs::F(_)) => None,
        Some(Secs::S(s)) => s.trim().parse().ok(),
    })
}

/// The `exp` of a JWT access token, read without verification (only to time its renewal).
fn jwt_exp(token: &str) -> Option<u64> {
    let payload = token.split('.').nth(1)?;
    let bytes = crate::jose::b64::decode(payload).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("exp")?.as_u64()
}

/// The error a refusal explains, classified: a server failure passes, a refused client or grant
/// is a configuration problem.
fn refusal(url: &Url, answer: &Answer) -> TokenError {
    #[derive(Deserialize)]
    struct OAuthError {
        error: String,
        error_description: Option<String>,
    }
    let status = answer.status;
    let explained: Option<OAuthError> = serde_json::from_slice(&answer.body).ok();
    if status >= 500 || status == 429 || status == 408 {
        let mut e = TokenError::unavailable(format!("{url}: HTTP status {status}"));
        if let Some(x) = &explained {
            e = e.with_oauth_error(&x.error);
        }
        return e;
    }
    let Some(explained) = explained else {
        return TokenError::configuration(format!(
            "{url}: HTTP status {status} without an OAuth error"
        ));
    };
    let code = explained.error.as_str();
    let meaning = match code {
        "invalid_client" => "client authentication failed: check the client_id and secret",
        "unauthorized_client" => "this client may not use the client-credentials grant",
        "invalid_scope" => "a requested scope is unknown or not granted to this client",
        "invalid_target" => "the requested audience or resource is unknown",
        "invalid_grant" => "the grant was refused",
        "unsupported_grant_type" => "the server does not support this grant",
        _ => "the request was refused",
    };
    let mut message = format!("{url}: {} ({meaning})", shown(code));
    if let Some(description) = &explained.error_description {
        message.push_str(&format!(": {}", shown(description)));
    }
    TokenError::configuration(message).with_oauth_error(code)
}

impl TokenSource for ClientCredentials {
    async fn token(&self) -> Result<AccessToken, TokenError> {
        let now = self.now_ms();
        let cached = lock(&self.state.held)
            .as_ref()
            .map(|h| (h.token.clone(), h.renew_at_ms, h.expires_at_ms));
        match cached {
            Some((token, renew_at, _)) if now < renew_at => Ok(token),
            Some((token, _, expires_at)) if now < expires_at => {
                self.renew_in_background();
                Ok(token)
            }
            _ => self.obtain(false).await,
        }
    }

    fn invalidate(&self, token: &AccessToken) {
        let mut held = lock(&self.state.held);
        if held.as_ref().is_some_and(|h| h.token == *token) {
            *held = None;
            drop(held);
            // A refusal is no failure of the token endpoint: the next call asks at once.
            *lock(&self.state.failed) = None;
            tracing::debug!(client_id = %self.settings.client_id, "access token dropped after the resource server refused it");
        }
    }
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &*self.settings;
        let endpoint = match &s.endpoint {
            Some(Endpoint::Fixed(url)) => url.as_str().to_owned(),
            Some(Endpoint::Discover { issuer, .. }) => format!("discovered from {issuer}"),
            None => "unusable".to_owned(),
        };
        f.debug_struct("ClientCredentials")
            .field("token_endpoint", &endpoint)
            .field("client_id", &s.client_id)
            .field("client_secret", &s.secret)
            .field("style", &s.style)
            .field("scopes", &s.scopes)
            .field("audience", &s.audience)
            .field("subject", &s.subject)
            .field("renew", &s.renew)
            .finish_non_exhaustive()
    }
}
