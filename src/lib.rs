//! Protects tower services (axum, tonic) with OAuth 2.0 JWT access tokens.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "axum")]
mod axum;
mod body;
mod claims;
mod clock;
mod error;
mod future;
mod header;
mod jwks;
mod layer;
mod policy;
mod response;
mod service;
#[cfg(feature = "testing")]
pub mod testing;
mod token;
mod verifier;

#[cfg(feature = "axum")]
pub use crate::axum::MissingClaims;
pub use body::ResponseBody;
pub use claims::{AccessClaims, Audience, Claims, Grant};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{AuthError, AuthErrorKind, ConfigError, KeySourceError};
pub use future::ResponseFuture;
pub use header::Algorithm;
pub use layer::JwtAuth;
pub use policy::{RequireScopes, RequireScopesService};
pub use response::default_response;
pub use service::JwtAuthService;
