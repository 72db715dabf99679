//! `Claims` as an axum extractor (feature `axum`, on by default; depends on `axum-core` only).

use std::any::type_name;
use std::fmt;

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;
use http::StatusCode;

use crate::claims::Claims;

/// The extractor's rejection: no [`Claims`] of that type in the request, which means the
/// [`JwtAuth`](crate::JwtAuth) layer is not installed on the route (or uses another claims
/// type). A server bug, answered 500.
#[derive(Debug, Clone)]
pub struct MissingClaims {
    type_name: &'static str,
}

impl fmt::Display for MissingClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no verified `{}` in the request: is the JwtAuth layer installed on this route, with this claims type?",
            self.type_name
        )
    }
}

impl std::error::Error for MissingClaims {}

impl IntoResponse for MissingClaims {
    fn into_response(self) -> Response {
        tracing::error!(%self, "Claims extractor used without the JwtAuth layer");
        (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()).into_response()
    }
}

impl<S, C> FromRequestParts<S> for Claims<C>
where
    S: Send + Sync,
    C: Send + Sync + 'static,
{
    type Rejection = MissingClaims;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Claims<C>>()
            .cloned()
            .ok_or(MissingClaims {
                type_name: type_name::<Claims<C>>(),
            })
    }
}

/// `Option<Claims>`: `None` where no verified token was attached (routes outside the layer).
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
