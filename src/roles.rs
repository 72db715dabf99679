//! Roles, read from the claim layouts the big providers use: `roles` (Microsoft Entra),
//! `realm_access.roles` and `resource_access.<audience>.roles` (Keycloak), `permissions`
//! (Auth0), `groups` when asked for, or any dotted path.

use serde_json::Value;

use crate::error::{shown, ConfigError};

/// The role claims read by default.
pub(crate) const DEFAULT_PATHS: [&str; 4] = [
    "roles",
    "realm_access.roles",
    "resource_access.{audience}.roles",
    "permissions",
];

/// Top-level claims a token's registered-claims pass keeps aside (unparsed) for role paths;
/// a path starting elsewhere costs a parse of the whole payload.
pub(crate) const KEPT: [&str; 5] = [
    "roles",
    "realm_access",
    "resource_access",
    "permissions",
    "groups",
];

/// Where roles are read from: dotted paths whose `{audience}` segment is the audience.
#[derive(Debug, Clone)]
pub(crate) struct RoleClaims {
    paths: Vec<Vec<Box<str>>>,
}

impl Default for RoleClaims {
    fn default() -> Self {
        Self::new(DEFAULT_PATHS).unwrap_or(Self { paths: Vec::new() })
    }
}

impl RoleClaims {
    pub(crate) fn new<I, S>(paths: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut parsed = Vec::new();
        for path in paths {
            let path = path.as_ref();
            let segments: Vec<Box<str>> = path.split('.').map(Into::into).collect();
            if segments.iter().any(|s| s.is_empty()) {
                return Err(ConfigError::new(
                    "role_claims",
                    format!("{} is not a dotted claim path", shown(path)),
                ));
            }
            parsed.push(segments);
        }
        Ok(Self { paths: parsed })
    }

    /// Whether any path starts at a claim the registered-claims pass does not keep.
    pub(crate) fn needs_payload(&self) -> bool {
        self.paths.iter().any(|p| !KEPT.contains(&&*p[0]))
    }

    /// The roles found along every path, in order, each once. `member` gives a top-level claim.
    pub(crate) fn collect(
        &self,
        audience: &str,
        mut member: impl FnMut(&str) -> Option<Value>,
    ) -> Vec<Box<str>> {
        let mut roles: Vec<Box<str>> = Vec::new();
        for path in &self.paths {
            let Some(top) = member(&path[0]) else {
                continue;
            };
            let mut at = &top;
            let mut found = true;
            for segment in &path[1..] {
                let key = if &**segment == "{audience}" {
                    audience
                } else {
                    segment
                };
                match at.get(key) {
                    Some(next) => at = next,
                    None => {
                        found = false;
                        break;
                    }
                }
            }
            if !found {
                continue;
            }
            let mut push = |role: &str| {
                if !role.is_empty() && !roles.iter().any(|r| &**r == role) {
                    roles.push(role.into());
                }
            };
            match at {
                Value::String(role) => push(role),
                Value::Array(items) => items.iter().filter_map(Value::as_str).for_each(push),
                _ => {}
            }
        }
        roles
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_layout_by_default_and_groups_when_asked() {
        let claims = json!({
            "roles": ["Entra.Admin"],
            "realm_access": {"roles": ["keycloak-realm"]},
            "resource_access": {"insights-api": {"roles": ["kc-client"]}, "other": {"roles": ["no"]}},
            "permissions": ["read:usage"],
            "groups": ["g1"],
            "custom": {"nested": {"roles": "one"}},
        });
        let member = |name: &str| claims.get(name).cloned();
        let roles = RoleClaims::default().collect("insights-api", member);
        assert_eq!(
            roles,
            ["Entra.Admin", "keycloak-realm", "kc-client", "read:usage"].map(Box::from)
        );
        let custom = RoleClaims::new(["groups", "custom.nested.roles", "missing.x"]).unwrap();
        assert!(custom.needs_payload());
        assert_eq!(
            custom.collect("insights-api", member),
            ["g1", "one"].map(Box::from)
        );
        assert!(!RoleClaims::default().needs_payload());
        assert_eq!(
            RoleClaims::new(["a..b"]).unwrap_err().field(),
            "role_claims"
        );
    }
}
