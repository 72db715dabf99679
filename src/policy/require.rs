//! [`RequireScopes`]: a per-route (or per-service) requirement on top of the layer's.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::Policy;
use crate::authenticator::log_refusal;
use crate::body::ResponseBody;
use crate::claims::Grant;
use crate::error::{AuthError, AuthErrorKind, ConfigError};
use crate::future::ResponseFuture;
use crate::response::{is_grpc, Responder};

/// A per-route (or per-service) layer requiring scopes (and optionally a `sub_type`) beyond the
/// ones [`JwtAuth`](crate::JwtAuth) requires everywhere. Answers 403 `insufficient_scope` like
/// the main layer, with the main layer's realm and rejection closure; must sit inside it. Under
/// an [`optional`](crate::JwtAuth::optional) layer, an anonymous request gets 401.
///
/// ```
/// use axum::{routing::{get, post}, Router};
/// use tower_jwt_auth::{JwtAuth, RequireScopes};
///
/// let app: Router = Router::new()
///     .route("/usage", post(|| async { "written" })
///         .layer(RequireScopes::new(["insights.write"])))
///     .route("/me", get(|| async { "mine" })
///         .layer(RequireScopes::none().require_sub_type("user")))
///     .layer(JwtAuth::new("https://auth-api.eliq.com", "insights-api")
///         .require_scopes(["insights.read"]));
/// ```
///
/// An invalid scope (empty, or with spaces, quotes, backslashes or control characters) or an
/// empty `sub_type` makes applying the layer panic with a message naming it;
/// [`RequireScopes::try_new`] reports an invalid scope as a value instead.
#[derive(Debug, Clone, Default)]
pub struct RequireScopes {
    policy: Arc<Policy>,
    error: Option<ConfigError>,
}

impl RequireScopes {
    /// Requires every one of `scopes` (exact, case-sensitive).
    pub fn new<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut policy = Policy::default();
        let error = policy.add_scopes("RequireScopes::new", scopes).err();
        Self {
            policy: Arc::new(policy),
            error,
        }
    }

    /// Requires no scope: the start of a `sub_type`-only requirement,
    /// `RequireScopes::none().require_sub_type("user")`.
    pub fn none() -> Self {
        Self::default()
    }

    /// Like [`RequireScopes::new`], reporting an invalid scope.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the invalid scope.
    ///
    /// ```
    /// use tower_jwt_auth::RequireScopes;
    /// assert!(RequireScopes::try_new(["insights.read"]).is_ok());
    /// assert_eq!(RequireScopes::try_new(["two words"]).unwrap_err().field(), "RequireScopes::new");
    /// ```
    pub fn try_new<I, S>(scopes: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let layer = Self::new(scopes);
        match layer.error {
            Some(e) => Err(e),
            None => Ok(layer),
        }
    }

    /// Also requires this `sub_type` (e.g. `"user"` for delegated tokens); the same name as
    /// [`JwtAuth::require_sub_type`](crate::JwtAuth::require_sub_type).
    pub fn require_sub_type(mut self, sub_type: impl Into<String>) -> Self {
        let mut policy = (*self.policy).clone();
        if let Err(e) = policy.set_sub_type("RequireScopes::require_sub_type", sub_type.into()) {
            self.error.get_or_insert(e);
        }
        self.policy = Arc::new(policy);
        self
    }

    /// The former name of [`RequireScopes::require_sub_type`].
    #[deprecated(since = "0.1.0", note = "use `require_sub_type`, as on `JwtAuth`")]
    pub fn sub_type(self, sub_type: impl Into<String>) -> Self {
        self.require_sub_type(sub_type)
    }
}

impl<S> Layer<S> for RequireScopes {
    type Service = RequireScopesService<S>;

    /// # Panics
    /// When the requirement is unusable (see [`RequireScopes`]), naming the field and the value.
    fn layer(&self, inner: S) -> Self::Service {
        if let Some(e) = &self.error {
            panic!("tower-jwt-auth: {e}");
        }
        RequireScopesService {
            inner,
            policy: Arc::clone(&self.policy),
        }
    }
}

/// The service of [`RequireScopes`].
#[derive(Debug, Clone)]
pub struct RequireScopesService<S> {
    inner: S,
    policy: Arc<Policy>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequireScopesService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, Request<ReqBody>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let extensions = req.extensions();
        let verdict = match (extensions.get::<Grant>(), extensions.get::<Responder>()) {
            (Some(grant), Some(responder)) => self.policy.check(grant).map_err(|e| {
                // The 403 names every scope the route needs: the layer's too.
                let e = match (e.kind(), self.policy.scope_attr()) {
                    (AuthErrorKind::InsufficientScope, Some(route)) => {
                        e.with_required_scope(responder.route_scope(route))
                    }
                    _ => e,
                };
                (e, responder.clone())
            }),
            // An optional layer let an anonymous request through.
            (None, Some(responder)) => Err((AuthErrorKind::MissingToken.into(), responder.clone())),
            (_, None) => {
                let err = AuthError::new(AuthErrorKind::Misconfigured)
                    .with_context("RequireScopes found no JwtAuth layer around it");
                Err((err, Responder::fallback()))
            }
        };
        match verdict {
            Ok(()) => ResponseFuture::inner(self.inner.call(req)),
            Err((err, responder)) => {
                log_refusal(&err);
                ResponseFuture::rejected(responder.respond(&err, is_grpc(req.headers())))
            }
        }
    }
}

#[cfg(feature = "tonic")]
impl<S: tonic::server::NamedService> tonic::server::NamedService for RequireScopesService<S> {
    const NAME: &'static str = S::NAME;
}
