//! The client-credentials grant (RFC 6749 §4.4) and its token's lifecycle: one cached token per
//! source, renewed ahead of expiry in the background, one request at a time, backoff on
//! failure, the refresh-token grant when the server issued one.

use std::fmt;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use reqwest::Url;

use super::{AccessToken, ClientSecret, TokenError, TokenSource};

mod exchange;
use crate::clock::{Clock, SystemClock};
use crate::outbound::SingleFlight;
use crate::outbound::{parse_url, FetchLimits, Fetcher};
use crate::reject::shown;

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

    /// Checks the settings now; [`TokenSource::token`] reports the same error.
    ///
    /// # Errors
    /// The first unusable setting.
    pub fn validate(&self) -> Result<(), &TokenError> {
        self.settings.error.as_ref().map_or(Ok(()), Err)
    }
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
