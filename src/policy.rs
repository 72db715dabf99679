//! Step 6: what a route requires of a verified token: scopes, `sub_type`. Checked on every
//! request, after verification.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::body::ResponseBody;
use crate::claims::Grant;
use crate::error::{AuthError, AuthErrorKind, ConfigError};
use crate::future::ResponseFuture;
use crate::response::Responder;

/// Scopes and `sub_type` a token must have.
#[derive(Debug, Clone, Default)]
pub(crate) struct Policy {
    scopes: Box<[Box<str>]>,
    /// The required scopes, space-delimited, for the `scope` attribute of a 403.
    scope_attr: Option<Arc<str>>,
    sub_type: Option<Box<str>>,
}

impl Policy {
    /// Adds required scopes; each must be a valid RFC 6749 scope token.
    pub(crate) fn add_scopes<I, S>(
        &mut self,
        field: &'static str,
        scopes: I,
    ) -> Result<(), ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut all: Vec<Box<str>> = self.scopes.to_vec();
        for scope in scopes {
            let scope = scope.into();
            if scope.is_empty()
                || !scope
                    .bytes()
                    .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
            {
                return Err(ConfigError::new(
                    field,
                    format!("{scope:?} is not a scope token (no spaces, quotes, backslashes or control characters)"),
                ));
            }
            if !all.iter().any(|s| **s == *scope) {
                all.push(scope.into());
            }
        }
        self.scope_attr = (!all.is_empty()).then(|| Arc::from(all.join(" ")));
        self.scopes = all.into();
        Ok(())
    }

    pub(crate) fn set_sub_type(
        &mut self,
        field: &'static str,
        sub_type: String,
    ) -> Result<(), ConfigError> {
        if sub_type.is_empty() {
            return Err(ConfigError::new(
                field,
                "the subject type must not be empty",
            ));
        }
        self.sub_type = Some(sub_type.into());
        Ok(())
    }

    /// All required scopes granted, and the right `sub_type`.
    pub(crate) fn check(&self, grant: &Grant) -> Result<(), AuthError> {
        if !self.scopes.iter().all(|s| grant.has_scope(s)) {
            let mut err = AuthError::new(AuthErrorKind::InsufficientScope);
            if let Some(attr) = &self.scope_attr {
                err = err.with_required_scope(Arc::clone(attr));
            }
            return Err(err);
        }
        if let Some(required) = &self.sub_type {
            if grant.sub_type() != Some(&**required) {
                return Err(AuthErrorKind::SubTypeMismatch.into());
            }
        }
        Ok(())
    }
}

/// A per-route (or per-service) layer requiring scopes beyond the ones
/// [`JwtAuth`](crate::JwtAuth) requires everywhere. Answers 403 `insufficient_scope` like the
/// main layer; must sit inside it.
///
/// ```
/// use axum::{routing::post, Router};
/// use tower_jwt_auth::{JwtAuth, RequireScopes};
///
/// let app: Router = Router::new()
///     .route("/usage", post(|| async { "written" })
///         .layer(RequireScopes::new(["insights.write"])))
///     .layer(JwtAuth::new("https://auth-api.eliq.com", "insights-api")
///         .require_scopes(["insights.read"]));
/// ```
#[derive(Debug, Clone)]
pub struct RequireScopes {
    policy: Arc<Policy>,
    error: Option<ConfigError>,
}

impl RequireScopes {
    /// Requires every one of `scopes` (exact, case-sensitive).
    ///
    /// An invalid scope (empty, or with spaces, quotes, backslashes or control characters) makes
    /// every request through this layer fail with 500 and an error event naming it; use
    /// [`RequireScopes::try_new`] to catch it at startup.
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

    /// Like [`RequireScopes::new`], reporting an invalid scope.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the invalid scope.
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

    /// Also requires this `sub_type` (e.g. `"user"` for delegated tokens).
    pub fn sub_type(mut self, sub_type: impl Into<String>) -> Self {
        let mut policy = (*self.policy).clone();
        if let Err(e) = policy.set_sub_type("RequireScopes::sub_type", sub_type.into()) {
            self.error.get_or_insert(e);
        }
        self.policy = Arc::new(policy);
        self
    }
}

impl<S> Layer<S> for RequireScopes {
    type Service = RequireScopesService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireScopesService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of [`RequireScopes`].
#[derive(Debug, Clone)]
pub struct RequireScopesService<S> {
    inner: S,
    layer: RequireScopes,
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
        // Whether to answer gRPC-style is only looked up when refusing.
        let grpc = || crate::response::is_grpc(req.headers());
        if let Some(e) = &self.layer.error {
            tracing::error!(error = %e, "RequireScopes is misconfigured");
            let err = AuthError::new(AuthErrorKind::Misconfigured).with_source(e.clone());
            return ResponseFuture::rejected(Responder::fallback().respond(&err, grpc()));
        }
        let Some(grant) = req.extensions().get::<Grant>() else {
            tracing::error!("RequireScopes found no verified token: install JwtAuth outside it");
            let err = AuthError::new(AuthErrorKind::Misconfigured)
                .with_detail("RequireScopes needs the JwtAuth layer outside it");
            return ResponseFuture::rejected(Responder::fallback().respond(&err, grpc()));
        };
        match self.layer.policy.check(grant) {
            Ok(()) => ResponseFuture::inner(self.inner.call(req)),
            Err(err) => {
                tracing::info!(kind = ?err.kind(), "request refused by RequireScopes");
                ResponseFuture::rejected(grant.responder().respond(&err, grpc()))
            }
        }
    }
}

#[cfg(feature = "tonic")]
impl<S: tonic::server::NamedService> tonic::server::NamedService for RequireScopesService<S> {
    const NAME: &'static str = S::NAME;
}
