//! Authorization details (RFC 9396): an entry of one type that permits this request.

use std::fmt;
use std::sync::Arc;

use http::request::Parts;
use serde::de::DeserializeOwned;
use tower_layer::Layer;

use super::{route_layer, RouteCheck, RouteCheckService};
use crate::claims::{AuthorizationDetail, Grant};
use crate::reject::{shown, AuthError, AuthErrorKind, ConfigError};

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

    fn check(&self, grant: &Grant, request: &Parts, _: u64) -> Result<(), AuthError> {
        let details = &*self.0;
        let entries = grant.authorization_details();
        let of_kind = entries.iter().filter(|d| d.kind() == &*details.kind);
        if of_kind.clone().any(|d| (details.permits)(d, request)) {
            return Ok(());
        }
        Err(
            AuthError::new(AuthErrorKind::InsufficientAuthorizationDetails)
                .with_description(Arc::clone(&details.description))
                .with_context(format!(
                    "{} entries of type {}, none permits {} {}",
                    of_kind.count(),
                    shown(&details.kind),
                    request.method,
                    shown(request.uri.path())
                )),
        )
    }

    fn error(&self) -> Option<&ConfigError> {
        self.0.error.as_ref()
    }
}

impl<S> Layer<S> for RequireAuthorizationDetails {
    type Service = RouteCheckService<S, RequireAuthorizationDetails>;

    fn layer(&self, inner: S) -> Self::Service {
        route_layer(self, inner)
    }
}
