//! One issuer's introspection endpoint: the RFC 7662 call and the verdict on its answer.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tokio::sync::OnceCell;

use super::{ClientAuth, Introspection};
use crate::claims::{Claims, Grant};
use crate::credential::Credential;
use crate::credential::NO_EXPIRY;
use crate::jwt::registered::Registered;
use crate::keys::discovery;
use crate::outbound::{basic_authorization, form_encode, Fetcher, Form};
use crate::reject::{shown, AuthError, AuthErrorKind, ConfigError, KeySourceError};

/// `Retry-After` when the endpoint failed.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// What the introspector checks a response against: the issuer it speaks for.
pub(crate) struct Expect {
    pub(crate) issuer: Arc<str>,
    /// Any of which `aud` (when present) must name; the first is "the" audience.
    pub(crate) audiences: Arc<[Box<str>]>,
    pub(crate) leeway: u64,
    pub(crate) roles: Arc<crate::policy::roles::RoleClaims>,
}

impl Expect {
    /// The audience where one is meant (the default `aud`, roles).
    pub(crate) fn audience(&self) -> &str {
        self.audiences.first().map_or("", |a| a)
    }
}

/// One issuer's introspection endpoint: where it is, how to authenticate to it, and what its
/// answers must say.
pub(crate) struct Endpoint {
    pub(super) settings: Introspection,
    url: OnceCell<Url>,
    issuer_url: Url,
    pub(super) expect: Expect,
    fetcher: Arc<Fetcher>,
    authorization: Option<String>,
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
    pub(super) async fn call<C: DeserializeOwned>(
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
            if !aud
                .0
                .iter()
                .any(|a| expect.audiences.iter().any(|e| **e == **a))
            {
                let found: Vec<_> = aud.0.iter().map(|a| shown(a)).collect();
                return Err(
                    AuthError::new(AuthErrorKind::InvalidAudience).with_context(format!(
                        "expected audience {}, the introspection response names [{}]",
                        shown(expect.audience()),
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
            (
                sub,
                reg.sub_type.as_ref().map(|s| &*s.0),
                client_id,
                reg.jti.as_ref().map(|j| &*j.0),
            ),
            &reg.scopes(),
            (exp, reg.nbf.map(|n| n.0)),
            (Arc::clone(&expect.issuer), None),
        )
        .with_credential(Credential::Introspected)
        .with_roles(
            expect
                .roles
                .collect(expect.audience(), |name| object.get(name).cloned()),
        )
        .with_context(reg.context()?)
        .issued(reg.iat.map(|i| i.0))
        // A bound token (RFC 7662 §2.2 carries `cnf` too) is judged by the binding step.
        .with_confirmation(reg.cnf.clone());
        drop(reg);
        let defaults = [
            ("iss", Value::from(&*expect.issuer)),
            ("aud", Value::from(expect.audience())),
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
                    audiences: [Box::from(audience)].into(),
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
