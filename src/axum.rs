//! `Claims` as an axum extractor (feature `axum`, on by default; depends on `axum-core` only).

use axum_core::body::Body;
use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;

use crate::claims::{Claims, MissingClaims};
use crate::credential::token::Scheme;
use crate::reject::log_refusal;
use crate::reject::{is_grpc, Reply, Responder};
use crate::reject::{AuthError, AuthErrorKind};

impl IntoResponse for MissingClaims {
    fn into_response(self) -> Response {
        let grpc = self.grpc;
        let (error, responder) = match self.anonymous {
            Some(responder) => (AuthError::from(AuthErrorKind::MissingToken), responder),
            None => {
                tracing::error!(error = %self, "Claims extractor used without the JwtAuth layer");
                let err = AuthError::new(AuthErrorKind::Misconfigured)
                    .with_detail("the route's authentication is not configured");
                (err, Responder::fallback())
            }
        };
        log_refusal(&error);
        let reply = Reply {
            grpc,
            scheme: Scheme::Bearer,
        };
        responder.respond(&error, reply).map(Body::from)
    }
}

impl<S, C> FromRequestParts<S> for Claims<C>
where
    S: Send + Sync,
    C: Send + Sync + 'static,
{
    type Rejection = MissingClaims;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(claims) = parts.extensions.get::<Claims<C>>() {
            return Ok(claims.clone());
        }
        Err(MissingClaims::of::<C>(&parts.extensions).for_grpc(is_grpc(&parts.headers)))
    }
}

/// `Option<Claims>`: `None` where no verified token was attached (anonymous requests behind an
/// [`optional`](crate::JwtAuth::optional) layer, routes outside the layer).
impl<S, C> OptionalFromRequestParts<S> for Claims<C>
where
    S: Send + Sync,
    C: Send + Sync + 'static,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Claims<C>>().cloned())
    }
}
