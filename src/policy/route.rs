//! The per-route checks of who acts and how: step-up authentication (RFC 9470), delegation
//! (RFC 8693) and authorization details (RFC 9396). Each is a tower layer placed inside a
//! [`JwtAuth`](crate::JwtAuth) layer — on one route, or on a whole router (then it holds for
//! every route of that layer) — and answers refusals as that layer does.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::request::Parts;
use http::{Request, Response};
use serde::de::DeserializeOwned;
use tower_layer::Layer;
use tower_service::Service;

use crate::claims::context::describe_chain;
use crate::claims::{layer_around, Actor, AuthorizationDetail, Grant};
use crate::layer::body::ResponseBody;
use crate::layer::future::ResponseFuture;
use crate::reject::{shown, AuthError, AuthErrorKind, ConfigError};

mod sealed {
    /// A check of the admitted grant and the request, at the time of the layer's clock.
    pub trait RouteCheck: Send + Sync + 'static {
        /// The layer's name, in the log when no `JwtAuth` layer is around it.
        const NAME: &'static str;
        fn check(
            &self,
            grant: &crate::claims::Grant,
            request: &http::request::Parts,
            now: u64,
        ) -> Result<(), crate::reject::AuthError>;
        /// A configuration problem, reported when the layer is applied.
        fn error(&self) -> Option<&crate::reject::ConfigError>;
    }
}
use sealed::RouteCheck;

/// The service of a per-route check ([`RequireStepUp`], [`RequireActors`],
/// [`RequireAuthorizationDetails`]).
pub struct RouteCheckService<S, P> {
    inner: S,
    check: P,
}

impl<S: Clone, P: Clone> Clone for RouteCheckService<S, P> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            check: self.check.clone(),
        }
    }
}

impl<S: fmt::Debug, P: fmt::Debug> fmt::Debug for RouteCheckService<S, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouteCheckService")
            .field("inner", &self.inner)
            .field("check", &self.check)
            .finish()
    }
}

impl<S, P, ReqBody, ResBody> Service<Request<ReqBody>> for RouteCheckService<S, P>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    P: RouteCheck,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, Request<ReqBody>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let (parts, body) = req.into_parts();
        let verdict = layer_around(&parts.extensions, P::NAME).and_then(|responder| {
            match parts.extensions.get::<Grant>() {
                Some(grant) => self
                    .check
                    .check(grant, &parts, responder.now())
                    .map_err(|e| (grant.tie(e), responder.clone())),
                None => Err((AuthErrorKind::MissingToken.into(), responder.clone())),
            }
        });
        ResponseFuture::route(&mut self.inner, Request::from_parts(parts, body), verdict)
    }
}

#[cfg(feature = "tonic")]
impl<S: tonic::server::NamedService, P> tonic::server::NamedService for RouteCheckService<S, P> {
    const NAME: &'static str = S::NAME;
}

/// Applies a check, panicking on a configuration problem as every layer of the crate does.
fn route_layer<S, P: RouteCheck + Clone>(check: &P, inner: S) -> RouteCheckService<S, P> {
    if let Some(e) = check.error() {
        panic!("tower-jwt-auth: {e}");
    }
    RouteCheckService {
        inner,
        check: check.clone(),
    }
}

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

    fn check(&self, grant: &Grant, request: &Parts, now: u64) -> Result<(), AuthError> {
        self.0.check(grant, request, now)
    }

    fn error(&self) -> Option<&ConfigError> {
        self.0.error()
    }
}

impl StepUp {
    fn check(&self, grant: &Grant, _: &Parts, now: u64) -> Result<(), AuthError> {
        let short = |why: String| {
            Err(
                AuthError::new(AuthErrorKind::InsufficientUserAuthentication)
                    .with_step_up(self.acr_values.clone(), self.max_age)
                    .with_context(why),
            )
        };
        if !self.acr.is_empty() {
            match grant.acr() {
                Some(acr) if self.acr.iter().any(|a| **a == *acr) => {}
                found => {
                    return short(format!(
                        "acr is {}, the route accepts {}",
                        found.map_or_else(|| "absent".to_owned(), shown),
                        self.acr_values.as_deref().unwrap_or("")
                    ))
                }
            }
        }
        if let Some(max_age) = self.max_age {
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
        self.error.as_ref()
    }
}

impl<S> Layer<S> for RequireStepUp {
    type Service = RouteCheckService<S, RequireStepUp>;

    fn layer(&self, inner: S) -> Self::Service {
        route_layer(self, inner)
    }
}

/// Delegation rules (RFC 8693): who may act for the token's subject on this route. Tokens
/// nobody acts for pass; a delegated token (an `act` claim) passes only as the rules say. A
/// `may_act` claim, when the token has one, must permit the current actor. Refusals are 403
/// `insufficient_scope`; the log names the actor chain.
///
/// ```
/// use axum::{routing::{get, put}, Router};
/// use tower_jwt_auth::{ActorRule, JwtAuth, RequireActors};
///
/// let app: Router = Router::new()
///     // Partner support staff may read a customer's usage for them …
///     .route("/usage", get(|| async { "usage" }).layer(
///         RequireActors::allow([ActorRule::client("energyzero-partner-portal")]).max_depth(1),
///     ))
///     // … but only the customer changes where the money goes.
///     .route("/payout-account", put(|| async { "changed" }).layer(RequireActors::none()))
///     .layer(JwtAuth::new("https://auth-api.eliq.com", "insights-api"));
/// ```
#[derive(Clone, Debug)]
#[must_use = "a layer does nothing until applied with `.layer(..)`"]
pub struct RequireActors(Arc<Actors>);

#[derive(Debug, Clone)]
struct Actors {
    /// `None`: no delegated token passes.
    allowed: Option<Vec<ActorRule>>,
    max_depth: Option<usize>,
    error: Option<ConfigError>,
}

/// One party allowed to act for a subject: by its `sub`, its `client_id`, or both, optionally
/// only for tokens of one issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorRule {
    sub: Option<Box<str>>,
    client_id: Option<Box<str>>,
    issuer: Option<Box<str>>,
}

impl ActorRule {
    /// The actor whose `sub` is this.
    pub fn sub(sub: impl Into<String>) -> Self {
        Self {
            sub: Some(sub.into().into()),
            client_id: None,
            issuer: None,
        }
    }

    /// Any actor acting through this client (`client_id` of the `act` claim).
    pub fn client(client_id: impl Into<String>) -> Self {
        Self {
            sub: None,
            client_id: Some(client_id.into().into()),
            issuer: None,
        }
    }

    /// Also requires this client (with [`ActorRule::sub`]).
    pub fn with_client(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into().into());
        self
    }

    /// Only for tokens of this issuer ([`Grant::issuer`](crate::Grant::issuer)).
    pub fn for_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into().into());
        self
    }

    fn admits(&self, actor: &Actor, issuer: &str) -> bool {
        self.issuer.as_deref().is_none_or(|i| i == issuer)
            && self.sub.as_deref().is_none_or(|s| actor.sub() == Some(s))
            && (self.client_id.as_deref()).is_none_or(|c| actor.client_id() == Some(c))
    }
}

impl RequireActors {
    /// No one may act for the subject here: every delegated token is refused (the route is
    /// the subject's own).
    pub fn none() -> Self {
        Self(Arc::new(Actors {
            allowed: None,
            max_depth: None,
            error: None,
        }))
    }

    /// Only these actors (the current actor, the first of the chain) may act for the
    /// subject.
    pub fn allow(rules: impl IntoIterator<Item = ActorRule>) -> Self {
        let rules: Vec<ActorRule> = rules.into_iter().collect();
        let error = rules
            .iter()
            .any(|r| r.sub.is_none() && r.client_id.is_none())
            .then(|| ConfigError::new("ActorRule", "a rule names neither a sub nor a client"));
        Self(Arc::new(Actors {
            allowed: Some(rules),
            max_depth: None,
            error,
        }))
    }

    /// The longest actor chain accepted (1: an actor acting directly for the subject).
    pub fn max_depth(self, depth: usize) -> Self {
        let mut actors = Arc::unwrap_or_clone(self.0);
        actors.max_depth = Some(depth);
        Self(Arc::new(actors))
    }
}

impl RouteCheck for RequireActors {
    const NAME: &'static str = "RequireActors";

    fn check(&self, grant: &Grant, request: &Parts, now: u64) -> Result<(), AuthError> {
        self.0.check(grant, request, now)
    }

    fn error(&self) -> Option<&ConfigError> {
        self.0.error()
    }
}

impl Actors {
    fn check(&self, grant: &Grant, _: &Parts, _: u64) -> Result<(), AuthError> {
        let chain = grant.actors();
        let Some(current) = chain.first() else {
            return Ok(());
        };
        let refuse = |why: &str| {
            Err(
                AuthError::new(AuthErrorKind::ActorNotAllowed).with_context(format!(
                    "{why}; subject {}, actor chain: {}",
                    shown(grant.sub()),
                    describe_chain(chain)
                )),
            )
        };
        let Some(allowed) = &self.allowed else {
            return refuse("the route refuses delegated tokens");
        };
        if self.max_depth.is_some_and(|max| chain.len() > max) {
            return refuse(&format!(
                "the actor chain is {} deep, the route accepts {}",
                chain.len(),
                self.max_depth.unwrap_or(0)
            ));
        }
        if let Some(may) = grant.may_act() {
            if !current.is_permitted_by(may) {
                return refuse(&format!("may_act permits {may}, not the current actor"));
            }
        }
        if !allowed.iter().any(|r| r.admits(current, grant.issuer())) {
            return refuse("the current actor is not on the route's list");
        }
        Ok(())
    }

    fn error(&self) -> Option<&ConfigError> {
        self.error.as_ref()
    }
}

impl<S> Layer<S> for RequireActors {
    type Service = RouteCheckService<S, RequireActors>;

    fn layer(&self, inner: S) -> Self::Service {
        route_layer(self, inner)
    }
}

type PermitsFn = dyn Fn(&AuthorizationDetail, &Parts) -> bool + Send + Sync;

/// Authorization details (RFC 9396): the route needs an `authorization_details` entry of one
/// type that permits this request, judged by your function with the entry (as your own type)
/// and the request (method, path, headers). A token without one — with only a coarse scope,
/// or an amount too small — is refused 403 `insufficient_scope`, the description naming the
/// type (never the values).
///
/// ```
/// use axum::{routing::post, Router};
/// use serde::Deserialize;
/// use tower_jwt_auth::{JwtAuth, RequireAuthorizationDetails};
///
/// #[derive(Deserialize)]
/// #[serde(rename_all = "camelCase")]
/// struct PaymentInitiation { instructed_amount: Amount }
/// #[derive(Deserialize)]
/// struct Amount { currency: String, amount: String }
///
/// let payments = RequireAuthorizationDetails::new(
///     "payment_initiation",
///     |p: &PaymentInitiation, request: &http::request::Parts| {
///         // The amount this request pays, from a header the API defines.
///         let asked = request.headers.get("x-payment-amount").and_then(|v| v.to_str().ok());
///         p.instructed_amount.currency == "EUR" && asked == Some(p.instructed_amount.amount.as_str())
///     },
/// );
/// let app: Router = Router::new()
///     .route("/payments", post(|| async { "paid" }).layer(payments))
///     .layer(JwtAuth::new("https://auth.aelix.example", "payments-api"));
/// ```
#[derive(Clone)]
#[must_use = "a layer does nothing until applied with `.layer(..)`"]
pub struct RequireAuthorizationDetails(Arc<Details>);

struct Details {
    kind: Box<str>,
    permits: Box<PermitsFn>,
    description: Arc<str>,
    error: Option<ConfigError>,
}

impl fmt::Debug for Details {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireAuthorizationDetails")
            .field("type", &self.kind)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for RequireAuthorizationDetails {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl RequireAuthorizationDetails {
    /// An entry of type `kind`, read as `T`, for which `permits` holds. An entry of that type
    /// that does not fit `T` permits nothing.
    pub fn new<T, F>(kind: impl Into<String>, permits: F) -> Self
    where
        T: DeserializeOwned,
        F: Fn(&T, &Parts) -> bool + Send + Sync + 'static,
    {
        let kind: String = kind.into();
        let error = (kind.is_empty() || kind.contains(['"', '\\'])).then(|| {
            ConfigError::new(
                "RequireAuthorizationDetails::new",
                format!("{} is not a type", shown(&kind)),
            )
        });
        let description =
            format!("no authorization_details entry of type {kind} permits this request");
        Self(Arc::new(Details {
            permits: Box::new(move |detail, request| {
                detail
                    .parse::<T>()
                    .is_ok_and(|typed| permits(&typed, request))
            }),
            kind: kind.into(),
            description: description.into(),
            error,
        }))
    }
}

impl RouteCheck for RequireAuthorizationDetails {
    const NAME: &'static str = "RequireAuthorizationDetails";

    fn check(&self, grant: &Grant, request: &Parts, now: u64) -> Result<(), AuthError> {
        self.0.check(grant, request, now)
    }

    fn error(&self) -> Option<&ConfigError> {
        self.0.error()
    }
}

impl Details {
    fn check(&self, grant: &Grant, request: &Parts, _: u64) -> Result<(), AuthError> {
        let entries = grant.authorization_details();
        let of_kind = entries.iter().filter(|d| d.kind() == &*self.kind);
        if of_kind.clone().any(|d| (self.permits)(d, request)) {
            return Ok(());
        }
        Err(
            AuthError::new(AuthErrorKind::InsufficientAuthorizationDetails)
                .with_description(Arc::clone(&self.description))
                .with_context(format!(
                    "{} entries of type {}, none permits {} {}",
                    of_kind.count(),
                    shown(&self.kind),
                    request.method,
                    shown(request.uri.path())
                )),
        )
    }

    fn error(&self) -> Option<&ConfigError> {
        self.error.as_ref()
    }
}

impl<S> Layer<S> for RequireAuthorizationDetails {
    type Service = RouteCheckService<S, RequireAuthorizationDetails>;

    fn layer(&self, inner: S) -> Self::Service {
        route_layer(self, inner)
    }
}
