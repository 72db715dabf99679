//! What a route requires of a verified token: scopes and `sub_type`. Checked on every request,
//! after verification (cached or not), layer-wide ([`JwtAuth`](crate::JwtAuth)) and per route
//! ([`RequireScopes`]).

pub(crate) mod roles;
pub(crate) mod rules;

mod asynchronous;
mod require;
mod route;

use std::sync::Arc;

pub use asynchronous::{RequireAsync, RequireAsyncService};
pub use require::{MethodScopes, RequireRoles, RequireScopes, RequireScopesService};
pub use route::{
    ActorRule, RequireActors, RequireAuthorizationDetails, RequireStepUp, RouteCheckService,
};

use crate::claims::Grant;
use crate::reject::{shown, AuthError, AuthErrorKind, ConfigError};

/// Scopes, roles and `sub_type` a token must have.
#[derive(Debug, Clone, Default)]
pub(crate) struct Policy {
    scopes: Box<[Box<str>]>,
    /// The required scopes, space-delimited, for the `scope` attribute of a 403.
    scope_attr: Option<Arc<str>>,
    /// At least one of these scopes (each group is one requirement).
    any_scopes: Vec<AnyOf>,
    roles: Box<[Box<str>]>,
    /// At least one of these roles (each group is one requirement).
    any_roles: Vec<Box<[Box<str>]>>,
    sub_type: Option<Box<str>>,
}

/// "At least one of": the names, and the names space-delimited for a challenge's `scope`.
type AnyOf = (Box<[Box<str>]>, Arc<str>);

/// Checks values destined for a policy: scope tokens (RFC 6749 §3.3) or role names.
fn tokens<I, S>(field: &'static str, what: &str, values: I) -> Result<Vec<Box<str>>, ConfigError>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut all: Vec<Box<str>> = Vec::new();
    for value in values {
        let value = value.into();
        if value.is_empty()
            || !value
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
        {
            return Err(ConfigError::new(
                field,
                format!("{value:?} is not a {what} (no spaces, quotes, backslashes or control characters)"),
            ));
        }
        if !all.iter().any(|s| **s == *value) {
            all.push(value.into());
        }
    }
    Ok(all)
}

/// `existing` followed by the `added` names it lacks.
fn joined(existing: &[Box<str>], added: Vec<Box<str>>) -> Box<[Box<str>]> {
    let mut all = existing.to_vec();
    for name in added {
        if !all.contains(&name) {
            all.push(name);
        }
    }
    all.into()
}

/// An "at least one of" group: refused when empty, as nothing could satisfy it.
fn one_of(
    field: &'static str,
    group: Vec<Box<str>>,
    what: &str,
) -> Result<Vec<Box<str>>, ConfigError> {
    if group.is_empty() {
        return Err(ConfigError::new(
            field,
            format!("at least one {what} is needed"),
        ));
    }
    Ok(group)
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
        self.scopes = joined(&self.scopes, tokens(field, "scope token", scopes)?);
        self.scope_attr = (!self.scopes.is_empty()).then(|| Arc::from(self.scopes.join(" ")));
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

    /// Adds a requirement: at least one of `scopes`.
    pub(crate) fn add_any_scopes<I, S>(
        &mut self,
        field: &'static str,
        scopes: I,
    ) -> Result<(), ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let group = one_of(field, tokens(field, "scope token", scopes)?, "scope")?;
        let attr: Arc<str> = group.join(" ").into();
        self.any_scopes.push((group.into(), attr));
        Ok(())
    }

    /// Adds required roles, every one of them.
    pub(crate) fn add_roles<I, S>(
        &mut self,
        field: &'static str,
        roles: I,
    ) -> Result<(), ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.roles = joined(&self.roles, tokens(field, "role name", roles)?);
        Ok(())
    }

    /// Adds a requirement: at least one of `roles`.
    pub(crate) fn add_any_roles<I, S>(
        &mut self,
        field: &'static str,
        roles: I,
    ) -> Result<(), ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let group = one_of(field, tokens(field, "role name", roles)?, "role")?;
        self.any_roles.push(group.into());
        Ok(())
    }

    /// The required scopes, space-delimited, if any.
    pub(crate) fn scope_attr(&self) -> Option<&Arc<str>> {
        self.scope_attr.as_ref()
    }

    /// All required scopes granted, and the right `sub_type`.
    pub(crate) fn check(&self, grant: &Grant) -> Result<(), AuthError> {
        if let Some(missing) = missing(&self.scopes, |s| grant.has_scope_word(s)) {
            let mut err = AuthError::new(AuthErrorKind::InsufficientScope)
                .with_context(format!("missing scopes: {missing}"));
            if let Some(attr) = &self.scope_attr {
                err = err.with_required_scope(Arc::clone(attr));
            }
            return Err(err);
        }
        for (group, attr) in &self.any_scopes {
            if !group.iter().any(|s| grant.has_scope_word(s)) {
                return Err(AuthError::new(AuthErrorKind::InsufficientScope)
                    .with_detail("the token lacks every accepted scope")
                    .with_context(format!("none of the scopes: {attr}"))
                    .with_required_scope(Arc::clone(attr)));
            }
        }
        if let Some(missing) = missing(&self.roles, |r| grant.has_role(r)) {
            // The description is fixed text; the required (configured) roles go to the log.
            return Err(AuthError::new(AuthErrorKind::MissingRole)
                .with_context(format!("missing roles: {missing}")));
        }
        for group in &self.any_roles {
            if !group.iter().any(|r| grant.has_role(r)) {
                let names: Vec<&str> = group.iter().map(|r| &**r).collect();
                return Err(AuthError::new(AuthErrorKind::MissingRole)
                    .with_context(format!("none of the roles: {}", names.join(" "))));
            }
        }
        if let Some(required) = &self.sub_type {
            if grant.is_client_only() {
                return Err(
                    AuthError::new(AuthErrorKind::SubTypeMismatch).with_context(format!(
                        "expected sub_type {}, found a credential that names no subject (client {})",
                        shown(required),
                        grant.client_id().map_or_else(|| "unknown".to_owned(), shown)
                    )),
                );
            }
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

/// The required names the grant lacks, space-separated; `None` (and no allocation) when it has
/// them all, as on every accepted request.
fn missing(required: &[Box<str>], has: impl Fn(&str) -> bool) -> Option<String> {
    if required.iter().all(|name| has(name)) {
        return None;
    }
    let lacking: Vec<&str> = required
        .iter()
        .map(|name| &**name)
        .filter(|name| !has(name))
        .collect();
    Some(lacking.join(" "))
}
