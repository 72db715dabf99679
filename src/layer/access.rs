//! Authorization rules beyond "all of these scopes", and where the token may come from: roles,
//! "any of" scopes, the application's own predicate (layer-wide and per route), token sources
//! and the realm. Each is a policy-only change: layers derived this way share one
//! authenticator.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use serde::de::DeserializeOwned;
use tower_layer::Layer;
use tower_service::Service;

use crate::authenticator::options::TokenSources;
use crate::claims::claims_around;
use crate::credential::token::Sources;
use crate::layer::body::ResponseBody;
use crate::layer::future::ResponseFuture;
use crate::layer::JwtAuth;
use crate::policy::rules::{check_rules, RuleFn};
use crate::reject::ConfigError;

impl<C> JwtAuth<C>
where
    C: DeserializeOwned + Send + Sync + 'static,
{
    /// Requires every one of these roles, or answers 403 `insufficient_scope` (the description
    /// names no role; the log event names the missing ones). Roles are read along the token's
    /// issuer's [`role_claims`](crate::Issuer::role_claims) paths. Adds to roles required
    /// before.
    ///
    /// ```
    /// use tower_jwt_auth::JwtAuth;
    /// let admins = JwtAuth::new("https://auth-api.eliq.com", "insights-api")
    ///     .require_roles(["insights-admin"]);
    /// assert!(admins.validate().is_ok());
    /// ```
    pub fn require_roles<I, S>(self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.with_policy(|l| l.policy.add_roles("require_roles", roles))
    }

    /// Requires at least one of these scopes ("any of"), or answers 403 `insufficient_scope`
    /// naming them all in `scope`. Each call adds one such requirement.
    ///
    /// ```
    /// use tower_jwt_auth::JwtAuth;
    /// let readers = JwtAuth::new("https://auth-api.eliq.com", "insights-api")
    ///     .require_any_scope(["insights.read", "insights.admin"]);
    /// ```
    pub fn require_any_scope<I, S>(self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.with_policy(|l| l.policy.add_any_scopes("require_any_scope", scopes))
    }

    /// Requires the application's own rule on the verified claims: `false` answers 403
    /// `insufficient_scope`; a panic inside it is contained (500 with an error event, the
    /// connection kept). Rules run after scopes, roles and `sub_type`, in the order given.
    /// Call it after [`with_claims`](JwtAuth::with_claims), since it reads the claims type.
    ///
    /// ```
    /// use tower_jwt_auth::{AccessClaims, JwtAuth};
    /// let own_clients = JwtAuth::new("https://auth-api.eliq.com", "insights-api")
    ///     .require(|c: &AccessClaims| c.client_id.as_deref().is_some_and(|id| id.starts_with("utility-")));
    /// ```
    pub fn require<F>(self, rule: F) -> Self
    where
        F: Fn(&C) -> bool + Send + Sync + 'static,
    {
        self.with_rule(Arc::new(rule))
    }

    /// Where else the token may come from when the request has no `Authorization: Bearer`
    /// header: a header, a cookie, or both. See [`TokenSources`] for each field, its default,
    /// and the CSRF caveat of cookies. Replaces the sources given before.
    ///
    /// ```
    /// use tower_jwt_auth::{JwtAuth, TokenSources};
    /// let browser = JwtAuth::new("https://auth-api.eliq.com", "insights-api").token_sources(
    ///     TokenSources { cookie: Some("__Host-access_token".into()), ..TokenSources::default() },
    /// );
    /// assert!(browser.validate().is_ok());
    /// let bad = JwtAuth::new("https://auth-api.eliq.com", "insights-api")
    ///     .token_sources(TokenSources { cookie: Some("a b".into()), ..TokenSources::default() });
    /// assert_eq!(bad.validate().unwrap_err().field(), "cookie");
    /// ```
    pub fn token_sources(self, sources: TokenSources) -> Self {
        self.with_policy(|l| {
            l.sources = Sources::from_options(&sources)?;
            Ok(())
        })
    }

    /// The `realm` of this layer's challenges. Defaults to the audience.
    ///
    /// ```
    /// use tower_jwt_auth::JwtAuth;
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api").realm("Eliq insights");
    /// assert!(auth.validate().is_ok());
    /// ```
    pub fn realm(self, realm: impl Into<String>) -> Self {
        let realm = realm.into();
        self.with_policy(|l| {
            if realm.is_empty()
                || !realm
                    .chars()
                    .all(|c| matches!(c, ' '..='~') && c != '"' && c != '\\')
            {
                return Err(ConfigError::new(
                    "realm",
                    format!("{realm:?} must be printable ASCII without quotes or backslashes"),
                ));
            }
            l.realm = Some(realm.into());
            Ok(())
        })
    }
}

/// A per-route (or per-service) rule of the application's on the verified claims of type `C`,
/// the per-route form of [`JwtAuth::require`]: `false` answers 403 `insufficient_scope` with the
/// main layer's realm and rejection closure, a panic 500; must sit inside a [`JwtAuth`] layer
/// of the same claims type.
///
/// ```
/// use axum::{routing::get, Router};
/// use tower_jwt_auth::{AccessClaims, JwtAuth, RequireClaims};
/// let app: Router = Router::new()
///     .route("/orgs/42", get(|| async { "org 42" })
///         .layer(RequireClaims::new(|c: &AccessClaims| c.sub == "org-42")))
///     .layer(JwtAuth::new("https://auth-api.eliq.com", "insights-api"));
/// ```
#[must_use = "a layer does nothing until applied with `.layer(..)`"]
pub struct RequireClaims<C> {
    rule: Arc<RuleFn<C>>,
}

impl<C> RequireClaims<C> {
    /// The rule.
    pub fn new<F>(rule: F) -> Self
    where
        F: Fn(&C) -> bool + Send + Sync + 'static,
    {
        Self {
            rule: Arc::new(rule),
        }
    }
}

impl<C> Clone for RequireClaims<C> {
    fn clone(&self) -> Self {
        Self {
            rule: Arc::clone(&self.rule),
        }
    }
}

impl<C> fmt::Debug for RequireClaims<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RequireClaims(..)")
    }
}

impl<S, C> Layer<S> for RequireClaims<C> {
    type Service = RequireClaimsService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireClaimsService {
            inner,
            rule: Arc::clone(&self.rule),
            _claims: PhantomData,
        }
    }
}

/// The service of [`RequireClaims`].
pub struct RequireClaimsService<S, C> {
    inner: S,
    rule: Arc<RuleFn<C>>,
    _claims: PhantomData<fn() -> C>,
}

impl<S: Clone, C> Clone for RequireClaimsService<S, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            rule: Arc::clone(&self.rule),
            _claims: PhantomData,
        }
    }
}

impl<S: fmt::Debug, C> fmt::Debug for RequireClaimsService<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireClaimsService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, C, ReqBody, ResBody> Service<Request<ReqBody>> for RequireClaimsService<S, C>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    C: Send + Sync + 'static,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, Request<ReqBody>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let verdict = claims_around::<C>(req.extensions(), "RequireClaims").and_then(
            |(claims, responder)| {
                check_rules(std::slice::from_ref(&self.rule), claims)
                    .map_err(|e| (e, responder.clone()))
            },
        );
        ResponseFuture::route(&mut self.inner, req, verdict)
    }
}

#[cfg(feature = "tonic")]
impl<S: tonic::server::NamedService, C> tonic::server::NamedService for RequireClaimsService<S, C> {
    const NAME: &'static str = S::NAME;
}
