//! The default claims type, [`AccessClaims`] (RFC 9068 and the seeds' delegated tokens), and
//! its `aud`, [`Audience`].

use std::borrow::Cow;
use std::marker::PhantomData;
use std::ops::Deref;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::jose::json::{NumericDate, ScopeList, StrOrSeq};

/// The claims of an OAuth 2.0 JWT access token (RFC 9068 and the seeds' delegated tokens).
///
/// The default claims type. For more claims, use your own `T: DeserializeOwned` with
/// [`JwtAuth::with_claims`](crate::JwtAuth::with_claims); the registered claims are still
/// validated.
///
/// ```
/// use tower_jwt_auth::AccessClaims;
/// let claims: AccessClaims = serde_json::from_str(r#"{
///     "iss": "https://auth-api.eliq.com", "sub": "user-1042", "sub_type": "user",
///     "aud": "insights-api", "exp": 1800000000, "scope": "insights.read insights.write"
/// }"#).unwrap();
/// assert!(claims.aud.contains("insights-api"));
/// assert_eq!(claims.scopes().collect::<Vec<_>>(), ["insights.read", "insights.write"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// Subject: the end user for delegated tokens, the client for app tokens. Empty when the
    /// credential names no subject (an introspected token whose answer has no `sub`): the
    /// client is then in `client_id`, and never presented here as a subject.
    #[serde(default)]
    pub sub: String,
    /// Audience(s). Empty for providers whose access tokens carry none (Amazon Cognito checks
    /// `client_id` instead; an AWS load balancer, its `signer`).
    #[serde(default)]
    pub aud: Audience,
    /// Expiry, seconds since the Unix epoch.
    #[serde(deserialize_with = "numeric_date")]
    pub exp: u64,
    /// Not before, seconds since the Unix epoch.
    #[serde(
        default,
        deserialize_with = "opt_numeric_date",
        skip_serializing_if = "Option::is_none"
    )]
    pub nbf: Option<u64>,
    /// Issued at, seconds since the Unix epoch.
    #[serde(
        default,
        deserialize_with = "opt_numeric_date",
        skip_serializing_if = "Option::is_none"
    )]
    pub iat: Option<u64>,
    /// Token id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// The OAuth client the token was issued to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Space-delimited scopes, as issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Scopes from `scp`, as some providers issue them: Okta as an array, Microsoft Entra as a
    /// space-delimited string (split here).
    #[serde(
        default,
        deserialize_with = "opt_scope_list",
        skip_serializing_if = "Option::is_none"
    )]
    pub scp: Option<Vec<String>>,
    /// Subject type, e.g. `"user"` for delegated tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_type: Option<String>,
    /// Roles as Microsoft Entra issues them (an array), kept as issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Value>,
    /// Keycloak's realm roles (`{"roles": [..]}`), kept as issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm_access: Option<Value>,
    /// Keycloak's client roles (`{"<client>": {"roles": [..]}}`), kept as issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_access: Option<Value>,
    /// Auth0's RBAC permissions (an array), kept as issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Value>,
}

impl AccessClaims {
    /// The roles in the layouts the big providers use, each once: `roles` (Microsoft Entra),
    /// `realm_access.roles` and `resource_access.<each aud>.roles` (Keycloak), `permissions`
    /// (Auth0), for claims read outside a layer. In a handler, `claims.roles()` is
    /// [`Claims::roles`](crate::Claims::roles): what the layer read along its configured
    /// [`role_claims`](crate::Issuer::role_claims), for its own audience only, and checked.
    ///
    /// ```
    /// use tower_jwt_auth::AccessClaims;
    /// let claims: AccessClaims = serde_json::from_str(r#"{
    ///     "iss": "https://kc.example/realms/eliq", "sub": "u-1", "aud": "insights-api", "exp": 1800000000,
    ///     "realm_access": {"roles": ["offline_access"]},
    ///     "resource_access": {"insights-api": {"roles": ["insights-admin"]}}
    /// }"#).unwrap();
    /// assert_eq!(claims.roles(), ["offline_access", "insights-admin"]);
    /// ```
    pub fn roles(&self) -> Vec<&str> {
        fn strings(v: Option<&Value>) -> impl Iterator<Item = &str> {
            let (one, many) = match v {
                Some(Value::String(s)) => (Some(s.as_str()), None),
                Some(Value::Array(items)) => (None, Some(items.iter().filter_map(Value::as_str))),
                _ => (None, None),
            };
            one.into_iter().chain(many.into_iter().flatten())
        }
        let mut found: Vec<&str> = strings(self.roles.as_ref()).collect();
        found.extend(strings(
            self.realm_access.as_ref().and_then(|r| r.get("roles")),
        ));
        for aud in self.aud.iter() {
            found.extend(strings(
                self.resource_access
                    .as_ref()
                    .and_then(|r| r.get(aud))
                    .and_then(|c| c.get("roles")),
            ));
        }
        found.extend(strings(self.permissions.as_ref()));
        let mut all: Vec<&str> = Vec::with_capacity(found.len());
        for role in found {
            if !all.contains(&role) {
                all.push(role);
            }
        }
        all
    }

    /// The granted scopes, from `scope` and `scp`.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope
            .as_deref()
            .into_iter()
            .flat_map(|s| s.split(' ').filter(|s| !s.is_empty()))
            .chain(self.scp.iter().flatten().map(String::as_str))
    }
}

/// The `aud` claim: one audience or several. Serialises back as it is most commonly written: a
/// string when there is one.
///
/// ```
/// use tower_jwt_auth::Audience;
/// let aud: Audience = serde_json::from_str(r#"["insights-api", "data-management-api"]"#).unwrap();
/// assert!(aud.contains("data-management-api"));
/// assert_eq!(serde_json::to_string(&Audience::from("insights-api")).unwrap(), r#""insights-api""#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Audience(pub Vec<String>);

impl Audience {
    /// Whether `aud` names this audience.
    pub fn contains(&self, audience: &str) -> bool {
        self.0.iter().any(|a| a == audience)
    }

    /// The audiences.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl Deref for Audience {
    type Target = [String];
    fn deref(&self) -> &[String] {
        &self.0
    }
}

impl From<&str> for Audience {
    fn from(a: &str) -> Self {
        Self(vec![a.to_owned()])
    }
}

impl Serialize for Audience {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => s.serialize_str(one),
            many => many.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let list = d.deserialize_any(StrOrSeq(PhantomData))?;
        Ok(Audience(list.into_iter().map(Cow::into_owned).collect()))
    }
}

/// `scp`: a space-delimited string, split into its scopes, or an array of scopes.
fn opt_scope_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    let list = ScopeList::deserialize(d)?;
    Ok(Some(list.0.into_iter().map(Cow::into_owned).collect()))
}

fn numeric_date<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    NumericDate::deserialize(d).map(|n| n.0)
}

fn opt_numeric_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    NumericDate::deserialize(d).map(|n| Some(n.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_claims_read_scope_and_scp() {
        let c: AccessClaims = serde_json::from_str(
            r#"{"iss":"i","sub":"u-1","aud":["a","b"],"exp":1.5,"scope":"x.read  x.write","scp":"y"}"#,
        )
        .unwrap();
        assert_eq!(c.exp, 1);
        assert!(c.aud.contains("b"));
        assert_eq!(c.scopes().collect::<Vec<_>>(), ["x.read", "x.write", "y"]);
        let back = serde_json::to_value(&c).unwrap();
        assert_eq!(back["aud"], serde_json::json!(["a", "b"]));
    }
}
