//! What a route requires of a verified token: scopes and `sub_type`. Checked on every request,
//! after verification (cached or not), layer-wide ([`JwtAuth`](crate::JwtAuth)) and per route
//! ([`RequireScopes`]).

mod require;

use std::sync::Arc;

pub use require::{RequireScopes, RequireScopesService};

use crate::claims::Grant;
use crate::error::{shown, AuthError, AuthErrorKind, ConfigError};

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

    /// The required scopes, space-delimited, if any.
    pub(crate) fn scope_attr(&self) -> Option<&Arc<str>> {
        self.scope_attr.as_ref()
    }

    /// All required scopes granted, and the right `sub_type`.
    pub(crate) fn check(&self, grant: &Grant) -> Result<(), AuthError> {
        if !self.scopes.iter().all(|s| grant.has_scope(s)) {
            let missing: Vec<&str> = self
                .scopes
                .iter()
                .filter(|s| !grant.has_scope(s))
                .map(|s| &**s)
                .collect();
            let mut err = AuthError::new(AuthErrorKind::InsufficientScope)
                .with_context(format!("missing scopes: {}", missing.join(" ")));
            if let Some(attr) = &self.scope_attr {
                err = err.with_required_scope(Arc::clone(attr));
            }
            return Err(err);
        }
        if let Some(required) = &self.sub_type {
            if grant.sub_type() != Some(&**required) {
                return Err(
                    AuthError::new(AuthErrorKind::SubTypeMismatch).with_context(format!(
                        "expected sub_type {}, found {}",
                        shown(required),
                        grant
                            .sub_type()
                            .map_or_else(|| "no `sub_type` claim".to_owned(), shown)
                    )),
                );
            }
        }
        Ok(())
    }
}
