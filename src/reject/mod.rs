//! Failure anywhere on the request path: the error and its kinds, configuration errors, the
//! one table from kind to wire outcome, challenges and refusal responses.

mod error;
mod kind;
mod log;
mod response;

pub(crate) use error::*;
pub use error::{AuthError, ConfigError, KeySourceError, KeySourceErrorKind};
pub use kind::AuthErrorKind;
pub(crate) use log::log_refusal;
pub(crate) use response::*;
pub use response::{default_response, RejectFn};
