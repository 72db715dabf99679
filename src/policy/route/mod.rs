//! The per-route checks of who acts and how: step-up authentication (RFC 9470), delegation
//! (RFC 8693) and authorization details (RFC 9396). Each is a tower layer placed inside a
//! [`JwtAuth`](crate::JwtAuth) layer — on one route, or on a whole router (then it holds for
//! every route of that layer) — and answers refusals as that layer does.

use std::fmt;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use crate::claims::{layer_around, Grant};
use crate::layer::body::ResponseBody;
use crate::layer::future::ResponseFuture;
use crate::reject::AuthErrorKind;

mod actors;
mod details;
mod step_up;

pub use actors::{ActorRule, RequireActors};
pub use details::RequireAuthorizationDetails;
pub use step_up::RequireStepUp;

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
pub(crate) use sealed::RouteCheck;

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
pub(crate) fn route_layer<S, P: RouteCheck + Clone>(
    check: &P,
    inner: S,
) -> RouteCheckService<S, P> {
    if let Some(e) = check.error() {
        panic!("tower-jwt-auth: {e}");
    }
    RouteCheckService {
        inner,
        check: check.clone(),
    }
}
