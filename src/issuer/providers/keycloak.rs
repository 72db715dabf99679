//! Keycloak.

use crate::issuer::profile::{ClientClaim, Profile};
use crate::issuer::Issuer;

impl Issuer {
    /// Access tokens of a Keycloak realm, for one audience (a client the tokens name in `aud`,
    /// through an audience mapper or the client's own roles).
    ///
    /// `iss` is `{base_url}/realms/{realm}` (keys by its discovery); roles are
    /// `realm_access.roles` and `resource_access.{audience}.roles`; the client is in `azp`. A
    /// token without `sub` (realms without the `basic` client scope, common since Keycloak
    /// 25) is accepted, its grant naming the client alone.
    ///
    /// ```
    /// use tower_jwt_auth::{Issuer, JwtAuth};
    /// let auth = JwtAuth::from(Issuer::keycloak("https://sso.eliq.com", "customers", "insights-api"))
    ///     .require_roles(["insights-reader"]);
    /// assert!(auth.validate().is_ok());
    /// ```
    pub fn keycloak(
        base_url: impl Into<String>,
        realm: impl Into<String>,
        audience: impl Into<String>,
    ) -> Issuer {
        let base = base_url.into();
        let mut issuer = Issuer::new(format!(
            "{}/realms/{}",
            base.trim_end_matches('/'),
            realm.into()
        ))
        .audience(audience)
        .role_claims(["realm_access.roles", "resource_access.{audience}.roles"]);
        issuer.profile = Profile {
            provider: "keycloak",
            client_claims: &[ClientClaim::Azp, ClientClaim::ClientId],
            sub_optional: true,
            ..Profile::default()
        };
        issuer
    }
}
