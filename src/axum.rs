//! `Claims` as an axum extractor (feature `axum`, on by default; depends on `axum-core` only).

use std::any::type_name;
use std::fmt;

use axum_core::body::Body;
use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;

use crate::authenticator::log_refusal;
use crate::claims::{Claims, Grant};
use crate::error::{AuthError, AuthErrorKind};
use crate::response::{is_grpc, Responder};

/// The extractor's rejection: no [`Claims`] of that type in the request.
///
/// Behind an [`optional`](crate::JwtAuth::optional) layer, an anonymous request: answered 401
/// with the layer's challenge. Otherwise the [`JwtAuth`](crate::JwtAuth) layer is not installed
/// on the route, or uses another claims type: a server bug, answered 500 with a JSON body; the
/// error event names the claims type, the body does not.
#[derive(Debug, Clone)]
pub struct MissingClaims {
    type_name: &'static str,
    /// The layer's way of answering, when the request passed it anonymously.
    anonymous: Option<Responder>,
    grpc: bool,
}

impl fmt::Display for MissingClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.anonymous.is_some() {
            write!(f, "no bearer token: `{}` is required here", self.type_name)
        } else {
            write!(
                f,
                "no verified `{}` in the request: is the JwtAuth layer installed on this route, with this claims type?",
                self.type_name
            )
        }
    }
}

impl std::error::Error for MissingClaims {}

impl IntoResponse for MissingClaims {
    fn into_response(self) -> Response {
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
        responder.respond(&error, self.grpc).map(Body::from)
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
        let anonymous = match parts.extensions.get::<Grant>() {
            // Verified, but with another claims type: a server bug.
            Some(_) => None,
            None => parts.extensions.get::<Responder>().cloned(),
        };
        Err(MissingClaims {
            type_name: type_name::<Claims<C>>(),
            anonymous,
            grpc: is_grpc(&parts.headers),
        })
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
