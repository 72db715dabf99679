//! Step-up authentication (RFC 9470): how, and how long ago, the user authenticated.

use std::sync::Arc;
use std::time::Duration;

use http::request::Parts;
use tower_layer::Layer;

use super::{route_layer, RouteCheck, RouteCheckService};
use crate::claims::Grant;
use crate::reject::{shown, AuthError, AuthErrorKind, ConfigError};

/// Step-up authentication (RFC 9470): the route needs the user to have authenticated with one
/// of these `acr` values, and/or within `max_age`. A token that falls short is answered 401
/// with `WWW-Authenticate: Bearer error="insufficient_user_authentication",
/// error_description="…", acr_values="…"` and/or `max_age="…"`, so that the client can send
/// the user back to the authorization server (gRPC: UNAUTHENTICATED, the same challenge). A
/// token without `auth_time` under a `max_age` falls short. Works for JWTs and introspected
/// tokens alike (`acr`, `auth_time` from the introspection answer).
///
/// ```
/// use std::time::Duration;
/// use axum::{routing::{get, put}, Router};
/// use tower_jwt_auth::{JwtAuth, RequireStepUp};
///
/// let payout = RequireStepUp::new()
///     .acr(["urn:eliq:acr:mfa"])
///     .max_age(Duration::from_secs(300));
/// let app: Router = Router::new()
///     .route("/usage", get(|| async { "usage" }))
///     .route("/payout-account", put(|| async { "changed" }).layer(payout))
///     .layer(JwtAuth::new("https://auth-api.eliq.com", "insights-api"));
/// ```
#[derive(Clone, Debug, Default)]
#[must_use = "a layer does nothing until applied with `.layer(..)`"]
pub struct RequireStepUp(Arc<StepUp>);

#[derive(Debug, Default, Clone)]
struct StepUp {
    acr: Vec<Box<str>>,
    /// The `acr_values` of the challenge, space-delimited.
    acr_values: Option<Arc<str>>,
    max_age: Option<u64>,
    error: Option<ConfigError>,
}

impl RequireStepUp {
    /// No requirement yet: add [`acr`](RequireStepUp::acr) and/or
    /// [`max_age`](RequireStepUp::max_age).
    pub fn new() -> Self {
        Self::default()
    }

    /// The `acr` values any of which the user's authentication must have. Each must be a
    /// non-empty string without spaces or quotes.
    pub fn acr<I, S>(self, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut step = Arc::unwrap_or_clone(self.0);
        for value in values {
            let value = value.into();
            let fits = !value.is_empty()
                && value
                    .chars()
                    .all(|c| matches!(c, '!'..='~') && c != '"' && c != '\\');
            if !fits {
                step.error.get_or_insert(ConfigError::new(
                    "RequireStepUp::acr",
                    format!("{} is not an acr value", shown(&value)),
                ));
            }
            step.acr.push(value.into());
        }
        let joined: Vec<&str> = step.acr.iter().map(|a| &**a).collect();
        step.acr_values = Some(joined.join(" ").into());
        Self(Arc::new(step))
    }

    /// The most time since the user authenticated (`auth_time`) the route accepts.
    pub fn max_age(self, max_age: Duration) -> Self {
        let mut step = Arc::unwrap_or_clone(self.0);
        step.max_age = Some(max_age.as_secs());
        Self(Arc::new(step))
    }
}

impl RouteCheck for RequireStepUp {
    const NAME: &'static str = "RequireStepUp";

    fn check(&self, grant: &Grant, _: &Parts, now: u64) -> Result<(), AuthError> {
        let step = &*self.0;
        let short = |why: String| {
            Err(
                AuthError::new(AuthErrorKind::InsufficientUserAuthentication)
                    .with_step_up(step.acr_values.clone(), step.max_age)
                    .with_context(why),
            )
        };
        if !step.acr.is_empty() {
            match grant.acr() {
                Some(acr) if step.acr.iter().any(|a| **a == *acr) => {}
                found => {
                    return short(format!(
                        "acr is {}, the route accepts {}",
                        found.map_or_else(|| "absent".to_owned(), shown),
                        step.acr_values.as_deref().unwrap_or("")
                    ))
                }
            }
        }
        if let Some(max_age) = step.max_age {
            match grant.auth_time() {
                None => return short("no auth_time, and the route has a max_age".into()),
                Some(at) if now.saturating_sub(at) > max_age => {
                    return short(format!(
                        "the user authenticated {} s ago, the route accepts {max_age} s",
                        now - at
                    ))
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    fn error(&self) -> Option<&ConfigError> {
        self.0.error.as_ref()
    }
}

impl<S> Layer<S> for RequireStepUp {
    type Service = RouteCheckService<S, RequireStepUp>;

    fn layer(&self, inner: S) -> Self::Service {
        route_layer(self, inner)
    }
}
