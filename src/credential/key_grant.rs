//! [`ApiKeyGrant`]: what an API key grants, and the claims it becomes.

use std::fmt;
use std::sync::{Arc, Weak};

use serde_json::{Map, Value};

/// What an API key grants: the subject and scopes (and optionally `sub_type`, `client_id`,
/// an expiry and claims of your own) that become the request's [`Claims`](crate::Claims).
///
/// The claims object handed to the claims type has `iss` (`api-key:` and the prefix, as
/// [`Grant::issuer`](crate::Grant::issuer) says: no OAuth issuer vouches for a key), `sub`, `aud`
/// (the layer's audience), `exp` ([`ApiKeyGrant::expires_at`], or 253402300799, the last
/// second of year 9999, for a key that does not expire), `scope` (space-delimited), and
/// `client_id`, `sub_type` and your own claims when set.
///
/// ```
/// use tower_jwt_auth::api_key::ApiKeyGrant;
/// let grant = ApiKeyGrant::new("org-42")
///     .scopes(["insights.read"])
///     .sub_type("organisation")
///     .claim("org_name", "Dunder Mifflin");
/// assert_eq!(grant.sub(), "org-42");
/// ```
#[derive(Clone)]
#[must_use = "an `ApiKeyGrant` does nothing until stored or returned by a validator"]
pub struct ApiKeyGrant {
    inner: Arc<GrantData>,
}

#[derive(Clone)]
struct GrantData {
    sub: String,
    scopes: Vec<String>,
    roles: Vec<String>,
    sub_type: Option<String>,
    client_id: Option<String>,
    exp: Option<u64>,
    extra: Map<String, Value>,
}

/// `exp` of a key that does not expire: 9999-12-31T23:59:59Z.
pub(crate) const NO_EXPIRY: u64 = 253_402_300_799;

impl ApiKeyGrant {
    /// A grant for subject `sub` (the organisation, the integration), with no scopes.
    pub fn new(sub: impl Into<String>) -> Self {
        Self {
            inner: Arc::new(GrantData {
                sub: sub.into(),
                scopes: Vec::new(),
                roles: Vec::new(),
                sub_type: None,
                client_id: None,
                exp: None,
                extra: Map::new(),
            }),
        }
    }

    fn edit(mut self, f: impl FnOnce(&mut GrantData)) -> Self {
        let data = Arc::make_mut(&mut self.inner);
        f(data);

        self
    }

    /// The granted scopes.
    pub fn scopes<I, S>(self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let scopes = scopes.into_iter().map(Into::into).collect();
        self.edit(|d| d.scopes = scopes)
    }

    /// The granted roles (checked by [`require_roles`](crate::JwtAuth::require_roles) like a
    /// token's; also in the claims object as `roles`).
    pub fn roles<I, S>(self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let roles = roles.into_iter().map(Into::into).collect();
        self.edit(|d| d.roles = roles)
    }

    /// The `sub_type`, e.g. `"organisation"` (checked by
    /// [`require_sub_type`](crate::JwtAuth::require_sub_type) like a token's).
    pub fn sub_type(self, sub_type: impl Into<String>) -> Self {
        let sub_type = sub_type.into();
        self.edit(|d| d.sub_type = Some(sub_type))
    }

    /// The `client_id`.
    pub fn client_id(self, client_id: impl Into<String>) -> Self {
        let client_id = client_id.into();
        self.edit(|d| d.client_id = Some(client_id))
    }

    /// When the key stops being accepted, seconds since the Unix epoch (checked against the
    /// layer's clock and leeway).
    pub fn expires_at(self, exp: u64) -> Self {
        self.edit(|d| d.exp = Some(exp))
    }

    /// A claim of your own, for your claims type (`iss`, `sub`, `aud`, `exp`, `scope`,
    /// `client_id` and `sub_type` come from the grant and cannot be overridden).
    pub fn claim(self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        let (name, value) = (name.into(), value.into());
        self.edit(|d| {
            d.extra.insert(name, value);
        })
    }

    /// The subject.
    pub fn sub(&self) -> &str {
        &self.inner.sub
    }

    pub(crate) fn granted_scopes(&self) -> &[String] {
        &self.inner.scopes
    }

    pub(crate) fn granted_roles(&self) -> &[String] {
        &self.inner.roles
    }

    pub(crate) fn granted_sub_type(&self) -> Option<&str> {
        self.inner.sub_type.as_deref()
    }

    pub(crate) fn granted_client_id(&self) -> Option<&str> {
        self.inner.client_id.as_deref()
    }

    pub(crate) fn expiry(&self) -> Option<u64> {
        self.inner.exp
    }

    /// The claims object for the claims type.
    pub(crate) fn claims_object(&self, iss: &str, aud: &str) -> Value {
        let d = &self.inner;
        let mut object = d.extra.clone();
        object.insert("iss".into(), iss.into());
        object.insert("sub".into(), d.sub.clone().into());
        object.insert("aud".into(), aud.into());
        object.insert("exp".into(), d.exp.unwrap_or(NO_EXPIRY).into());
        object.insert("scope".into(), d.scopes.join(" ").into());
        if !d.roles.is_empty() {
            object.insert("roles".into(), d.roles.clone().into());
        }
        for (name, value) in [("client_id", &d.client_id), ("sub_type", &d.sub_type)] {
            match value {
                Some(v) => object.insert(name.into(), v.clone().into()),
                None => object.remove(name),
            };
        }
        Value::Object(object)
    }

    /// This grant's identity while it lives: what a cache of claims built from it is keyed by.
    pub(crate) fn identity(&self) -> GrantId {
        GrantId(Arc::downgrade(&self.inner))
    }
}

/// The identity of one stored [`ApiKeyGrant`]: its allocation, held weakly, so that the address
/// is never reused while the identity lives, and an edited grant (a new allocation) is another.
#[derive(Clone)]
pub(crate) struct GrantId(Weak<GrantData>);

impl GrantId {
    /// A number for hashing: the allocation's address.
    pub(crate) fn key(&self) -> usize {
        self.0.as_ptr() as usize
    }

    /// Whether `grant` is the grant this identity was taken from.
    pub(crate) fn is(&self, grant: &ApiKeyGrant) -> bool {
        std::ptr::eq(self.0.as_ptr(), Arc::as_ptr(&grant.inner))
    }
}

impl fmt::Debug for ApiKeyGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.inner;
        f.debug_struct("ApiKeyGrant")
            .field("sub", &d.sub)
            .field("scopes", &d.scopes)
            .field("sub_type", &d.sub_type)
            .field("client_id", &d.client_id)
            .field("exp", &d.exp)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_becomes_a_claims_object() {
        let grant = ApiKeyGrant::new("org-42")
            .scopes(["a", "b"])
            .claim("sub", "forged")
            .claim("org_name", "X");
        let object = grant.claims_object("https://i", "api");
        assert_eq!(object["sub"], "org-42");
        assert_eq!(object["scope"], "a b");
        assert_eq!(object["exp"], NO_EXPIRY);
        assert_eq!(object["org_name"], "X");
        assert!(object.get("sub_type").is_none());
    }
}
