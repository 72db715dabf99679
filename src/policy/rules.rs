//! The application's own rules on the claims (`JwtAuth::require`, `RequireClaims`).

use std::sync::Arc;

use crate::claims::Claims;
use crate::reject::{AuthError, AuthErrorKind};

/// An application rule on the claims.
pub(crate) type RuleFn<C> = dyn Fn(&C) -> bool + Send + Sync;

/// The application's rules, in order; a panicking rule is contained (500, an error event).
pub(crate) fn check_rules<C>(
    rules: &[Arc<RuleFn<C>>],
    claims: &Claims<C>,
) -> Result<(), AuthError> {
    for rule in rules {
        let verdict = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rule(claims)));
        match verdict {
            Ok(true) => {}
            Ok(false) => {
                return Err(AuthError::new(AuthErrorKind::RuleRejected)
                    .with_context("an application rule (require) returned false"))
            }
            Err(_) => {
                return Err(AuthError::new(AuthErrorKind::RulePanicked)
                    .with_context("an application rule (require) panicked"))
            }
        }
    }
    Ok(())
}
