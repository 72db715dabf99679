//! Roles, read from the claim layouts the big providers use: `roles` (Microsoft Entra),
//! `realm_access.roles` and `resource_access.<audience>.roles` (Keycloak), `permissions`
//! (Auth0), `groups` when asked for, or any dotted path.

use serde_json::Value;

use crate::reject::{shown, ConfigError};

/// The role claims read by default.
pub(crate) const DEFAULT_PATHS: [&str; 4] = [
    "roles",
    "realm_access.roles",
    "resource_access.{audience}.roles",
    "permissions",
];

/// Top-level claims a token's registered-claims pass keeps aside (unparsed) for role paths;
/// a path starting elsewhere costs a parse of the whole payload.
pub(crate) const KEPT: [&str; 6] = [
    "roles",
    "realm_access",
    "resource_access",
    "permissions",
    "groups",
    "cognito:groups",
];

/// Where roles are read from: dotted paths whose `{audience}` segment is the audience. A claim
/// name may itself contain dots (Auth0's namespaced `https://example.com/roles`): at each
/// level the path's segments are joined as long as that names a member.
#[derive(Debug, Clone)]
pub(crate) struct RoleClaims {
    paths: Vec<Box<str>>,
    /// Whether a path may start at a claim the registered-claims pass does not keep.
    needs_payload: bool,
}

impl Default for RoleClaims {
    fn default() -> Self {
        Self::new(DEFAULT_PATHS).unwrap_or(Self {
            paths: Vec::new(),
            needs_payload: false,
        })
    }
}

impl RoleClaims {
    pub(crate) fn new<I, S>(paths: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut parsed = Vec::new();
        let mut needs_payload = false;
        for path in paths {
            let path = path.as_ref();
            if path.split('.').any(str::is_empty) {
                return Err(ConfigError::new(
                    "role_claims",
                    format!("{} is not a dotted claim path", shown(path)),
                ));
            }
            // A claim whose name starts like a kept one is taken to be that one (a top-level
            // claim named `roles.x` is not looked for).
            let first = path.split('.').next().unwrap_or(path);
            needs_payload |= !KEPT.contains(&first);
            parsed.push(path.into());
        }
        Ok(Self {
            paths: parsed,
            needs_payload,
        })
    }

    /// Whether any path may start at a claim the registered-claims pass does not keep.
    pub(crate) fn needs_payload(&self) -> bool {
        self.needs_payload
    }

    /// The roles found along every path, in order, each once. `member` gives a top-level claim.
    pub(crate) fn collect(
        &self,
        audience: &str,
        mut member: impl FnMut(&str) -> Option<Value>,
    ) -> Vec<Box<str>> {
        let mut roles: Vec<Box<str>> = Vec::new();
        for path in &self.paths {
            let found = splits(path).find_map(|(top, rest)| {
                let top = member(top)?;
                match rest {
                    None => Some(top),
                    Some(rest) => descend(&top, rest, audience).cloned(),
                }
            });
            let mut push = |role: &str| {
                if !role.is_empty() && !roles.iter().any(|r| &**r == role) {
                    roles.push(role.into());
                }
            };
            match found {
                Some(Value::String(role)) => push(&role),
                Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).for_each(push),
                _ => {}
            }
        }
        roles
    }
}

/// The ways to cut `path` into a member name and the rest, longest name first.
fn splits(path: &str) -> impl Iterator<Item = (&str, Option<&str>)> {
    let whole = std::iter::once((path, None));
    let cuts = path
        .rmatch_indices('.')
        .map(move |(i, _)| (&path[..i], Some(&path[i + 1..])));
    whole.chain(cuts)
}

/// The value at `path` below `at`; `{audience}` stands for the audience.
fn descend<'v>(at: &'v Value, path: &str, audience: &str) -> Option<&'v Value> {
    splits(path).find_map(|(key, rest)| {
        let key = if key == "{audience}" { audience } else { key };
        let next = at.get(key)?;
        match rest {
            None => Some(next),
            Some(rest) => descend(next, rest, audience),
        }
    })
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
        // Claim names with dots, at the top and below.
        let namespaced = json!({
            "https://eliq.com/roles": ["ns"],
            "https://eliq.com/app": {"v1.0": {"roles": ["deep"]}},
        });
        let paths = ["https://eliq.com/roles", "https://eliq.com/app.v1.0.roles"];
        let found = RoleClaims::new(paths)
            .unwrap()
            .collect("a", |name| namespaced.get(name).cloned());
        assert_eq!(found, ["ns", "deep"].map(Box::from));
        assert!(!RoleClaims::default().needs_payload());
        assert_eq!(
            RoleClaims::new(["a..b"]).unwrap_err().field(),
            "role_claims"
        );
    }
}
