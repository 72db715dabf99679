//! Verified claims, plain data: the typed [`Claims`] handed to handlers, the default
//! [`AccessClaims`], and the type-erased [`Grant`] that per-route policies read.

mod access;
pub(crate) mod context;
mod grant;

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

pub use access::{AccessClaims, Audience};
pub use context::{Actor, AuthorizationDetail};
pub use grant::Grant;
pub(crate) use grant::{Confirmation, GrantContext};

use crate::reject::{AuthError, Responder};

/// Verified claims of the request's access token, of the application's type `C`.
///
/// Put into the request extensions by the layer; an axum extractor (feature `axum`); readable
/// with [`Claims::from_extensions`] anywhere else (a tonic service). Cheap to clone.
///
/// ```
/// # use tower_jwt_auth::Claims;
/// async fn usage(claims: Claims) -> String {
///     format!("{} may {:?}", claims.sub, claims.scopes().collect::<Vec<_>>())
/// }
/// ```
pub struct Claims<C = AccessClaims> {
    claims: Arc<C>,
    grant: Grant,
}

impl<C: Send + Sync + 'static> Claims<C> {
    /// The verified claims in a request's extensions — a tonic `request.extensions()`, an
    /// `http::Request`'s, a middleware's — of exactly this claims type. Where there are none,
    /// the error says why (no token behind an optional layer, no layer, or a layer built with
    /// another claims type), rather than the silent `None` of `extensions().get::<Claims>()`;
    /// with feature `tonic` it converts into the right `Status` with `?`.
    ///
    /// ```
    /// use tower_jwt_auth::{AccessClaims, Claims};
    /// let empty = http::Extensions::new();
    /// let missing = Claims::<AccessClaims>::from_extensions(&empty).unwrap_err();
    /// assert!(missing.to_string().contains("is the JwtAuth layer installed"));
    /// ```
    pub fn from_extensions(extensions: &http::Extensions) -> Result<Self, MissingClaims> {
        extensions
            .get::<Claims<C>>()
            .cloned()
            .ok_or_else(|| MissingClaims::of::<C>(extensions))
    }
}

impl<C> Claims<C> {
    /// The roles the layer read, along its [`role_claims`](crate::Issuer::role_claims): the
    /// same as [`Grant::roles`], and what [`require_roles`](crate::JwtAuth::require_roles) and
    /// [`RequireRoles`](crate::RequireRoles) check. (It stands before
    /// [`AccessClaims::roles`], which reads the default layouts for every audience the token
    /// names, because a handler must see what the layer checked.)
    pub fn roles(&self) -> Vec<&str> {
        self.grant.roles().collect()
    }

    pub(crate) fn new(claims: C, grant: Grant) -> Self {
        Self {
            claims: Arc::new(claims),
            grant,
        }
    }

    /// What the token grants, independent of the claims type: subject, scopes, `sub_type`,
    /// expiry.
    pub fn grant(&self) -> &Grant {
        &self.grant
    }

    /// The shared claims value.
    pub fn into_inner(self) -> Arc<C> {
        self.claims
    }
}

/// A verdict as the verified-token cache keeps it: the shared parts of [`Claims`], without
/// the layer's responder (two pointers per entry).
pub(crate) struct Stored<C> {
    claims: Arc<C>,
    grant: grant::Shared,
}

impl<C> Stored<C> {
    pub(crate) fn of(claims: &Claims<C>) -> Self {
        Self {
            claims: Arc::clone(&claims.claims),
            grant: claims.grant.shared(),
        }
    }

    /// The claims again, shared with the entry.
    pub(crate) fn into_claims(self) -> Claims<C> {
        Claims {
            claims: self.claims,
            grant: Grant::from_shared(self.grant),
        }
    }

    pub(crate) fn expires_at(&self) -> u64 {
        self.grant.expires_at()
    }

    pub(crate) fn not_before(&self) -> Option<u64> {
        self.grant.not_before()
    }
}

impl<C> Clone for Stored<C> {
    fn clone(&self) -> Self {
        Self {
            claims: Arc::clone(&self.claims),
            grant: self.grant.clone(),
        }
    }
}

impl<C> Clone for Claims<C> {
    fn clone(&self) -> Self {
        Self {
            claims: Arc::clone(&self.claims),
            grant: self.grant.clone(),
        }
    }
}

impl<C> Deref for Claims<C> {
    type Target = C;
    fn deref(&self) -> &C {
        &self.claims
    }
}

impl<C: fmt::Debug> fmt::Debug for Claims<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.claims, f)
    }
}

/// No [`Claims`] of the asked-for type in a request: from [`Claims::from_extensions`], and the
/// axum extractor's rejection.
///
/// Behind an [`optional`](crate::JwtAuth::optional) layer, an anonymous request (the axum
/// extractor answers 401 with the layer's challenge; with feature `tonic` it converts into
/// `Status::unauthenticated`). Otherwise the [`JwtAuth`](crate::JwtAuth) layer is not installed
/// on the route, or verified the token into another claims type
/// ([`with_claims`](crate::JwtAuth::with_claims)): a server bug, which the message names (the
/// extractor answers 500 and logs it; `Status::internal` with tonic), never a silent `None`.
#[derive(Debug, Clone)]
pub struct MissingClaims {
    type_name: &'static str,
    /// The token was verified, into another claims type.
    other_type: bool,
    /// The layer's way of answering, when the request passed it anonymously.
    pub(crate) anonymous: Option<crate::reject::Responder>,
    pub(crate) grpc: bool,
}

impl MissingClaims {
    /// Why `extensions` hold no `Claims<C>`.
    pub(crate) fn of<C: 'static>(extensions: &http::Extensions) -> Self {
        let verified = extensions.get::<Grant>().is_some();
        Self {
            type_name: std::any::type_name::<Claims<C>>(),
            other_type: verified,
            anonymous: if verified {
                None
            } else {
                extensions.get::<crate::reject::Responder>().cloned()
            },
            grpc: false,
        }
    }

    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) fn for_grpc(mut self, grpc: bool) -> Self {
        self.grpc = grpc;
        self
    }

    /// Whether the request passed an [`optional`](crate::JwtAuth::optional) layer without a
    /// token (a client's matter), rather than the layer being absent or of another claims type
    /// (a server bug).
    pub fn is_anonymous(&self) -> bool {
        self.anonymous.is_some()
    }
}

impl fmt::Display for MissingClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.anonymous.is_some() {
            write!(f, "no bearer token: `{}` is required here", self.type_name)
        } else if self.other_type {
            write!(
                f,
                "the token was verified into another claims type than `{}`: ask for the type the JwtAuth layer was built with (`with_claims::<T>()`)",
                self.type_name
            )
        } else {
            write!(
                f,
                "no verified `{}` in the request: is the JwtAuth layer installed on this route?",
                self.type_name
            )
        }
    }
}

impl std::error::Error for MissingClaims {}

/// With feature `tonic`: an anonymous request is `UNAUTHENTICATED`; a missing layer or another
/// claims type is `INTERNAL`, logged as an error that names the type (the status message does
/// not).
#[cfg(feature = "tonic")]
impl From<MissingClaims> for tonic::Status {
    fn from(missing: MissingClaims) -> Self {
        if missing.is_anonymous() {
            tonic::Status::unauthenticated("a bearer token is required")
        } else {
            tracing::error!(error = %missing, "verified claims asked for without the JwtAuth layer");
            tonic::Status::internal("the service's authentication is not configured")
        }
    }
}

/// How the layer around a request answers refusals: the one that admitted it (carried by its
/// grant), or, for an anonymous request an optional layer let through, the one it left in the
/// extensions.
pub(crate) fn responder_in(extensions: &http::Extensions) -> Option<&Responder> {
    match extensions.get::<Grant>() {
        Some(grant) => grant.responder(),
        None => extensions.get::<Responder>(),
    }
}

/// The layer around a per-route requirement named `what`: how it answers, or, when no
/// [`JwtAuth`](crate::JwtAuth) layer sits around the requirement, the refusal (500, a wiring
/// mistake) and the fallback answer.
pub(crate) fn layer_around<'e>(
    extensions: &'e http::Extensions,
    what: &'static str,
) -> Result<&'e Responder, (AuthError, Responder)> {
    responder_in(extensions).ok_or_else(|| {
        let err = AuthError::new(crate::reject::AuthErrorKind::Misconfigured)
            .with_context(format!("{what} found no JwtAuth layer around it"));
        (err, Responder::fallback())
    })
}

/// The claims a per-route requirement named `what` reads, with the layer around it; refused
/// as that layer answers when there are none: no credential (anonymous under `optional()`),
/// or claims of another type (500: a wiring mistake, not the caller's).
pub(crate) fn claims_around<'e, C: Send + Sync + 'static>(
    extensions: &'e http::Extensions,
    what: &'static str,
) -> Result<(&'e Claims<C>, &'e Responder), (AuthError, Responder)> {
    let responder = layer_around(extensions, what)?;
    match extensions.get::<Claims<C>>() {
        Some(claims) => Ok((claims, responder)),
        None if extensions.get::<Grant>().is_some() => {
            let err = AuthError::new(crate::reject::AuthErrorKind::Misconfigured).with_context(
                format!("{what} reads a claims type the JwtAuth layer around it does not produce"),
            );
            Err((err, responder.clone()))
        }
        None => Err((
            crate::reject::AuthErrorKind::MissingToken.into(),
            responder.clone(),
        )),
    }
}
