//! The token request itself: the grant's parameters, the call, and the answer read into a held
//! token (or a refusal that says what to fix), one at a time through single-flight.

use std::sync::atomic::Ordering;

use reqwest::Url;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{lock, ClientCredentials, Endpoint, Failed, Held, Renew, Style};
use super::{CONFIGURATION_RETRY_MS, MAX_BACKOFF_MS, UNKNOWN_LIFETIME};
use crate::client::{AccessToken, ClientSecret, TokenError, TokenErrorKind};
use crate::jose::compact::unverified_claims;
use crate::keys::discovery;
use crate::keys::refresh::jittered;
use crate::outbound::{basic_authorization, form_encode, Answer, Form};
use crate::reject::{shown, KeySourceErrorKind};

impl ClientCredentials {
    pub(super) fn now_ms(&self) -> u64 {
        self.settings.clock.now_millis()
    }

    /// Starts a renewal in the background unless one is out or failures hold it back.
    pub(super) fn renew_in_background(&self) {
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
    pub(super) async fn obtain(&self, renewing: bool) -> Result<AccessToken, TokenError> {
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
    unverified_claims(token)?.get("exp")?.as_u64()
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
