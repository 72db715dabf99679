//! Auth0 and Okta.

use crate::issuer::profile::{ClientClaim, Profile};
use crate::issuer::Issuer;

impl Issuer {
    /// Access tokens of an Auth0 tenant for one API (its identifier is the audience).
    ///
    /// `iss` is `https://{domain}/`, with the trailing slash, exactly; `aud` may be an array
    /// that also holds `https://{domain}/userinfo`; the client is in `azp` (or `client_id` in
    /// Auth0's RFC 9068 token profile); roles are `permissions` (RBAC). Machine-to-machine
    /// tokens (`gty: client-credentials`, `sub` = `{client}@clients`) are accepted like any
    /// other.
    ///
    /// ```
    /// use tower_jwt_auth::{Issuer, JwtAuth};
    /// let auth = JwtAuth::from(Issuer::auth0("eliq.eu.auth0.com", "https://api.eliq.com/insights"))
    ///     .require_scopes(["read:usage"]);
    /// assert!(auth.validate().is_ok());
    /// ```
    pub fn auth0(domain: impl Into<String>, audience: impl Into<String>) -> Issuer {
        let domain = domain.into();
        let mut issuer = Issuer::new(format!("https://{}/", domain.trim_end_matches('/')))
            .audience(audience)
            .role_claims(["permissions"]);
        issuer.profile = Profile {
            provider: "auth0",
            client_claims: &[ClientClaim::Azp, ClientClaim::ClientId],
            ..Profile::default()
        };
        issuer
    }

    /// Access tokens of an Okta custom authorization server (`issuer_url`, as
    /// `https://{org}.okta.com/oauth2/{server_id}` or `…/oauth2/default`), for one audience.
    ///
    /// Scopes are the `scp` array, the client is in `cid`, roles are `groups` when a claim
    /// puts them there. Tokens of the org authorization server (`iss` without `/oauth2/…`),
    /// which are meant for Okta's own APIs, have another `iss` and are refused.
    ///
    /// ```
    /// use tower_jwt_auth::{Issuer, JwtAuth};
    /// let auth = JwtAuth::from(Issuer::okta("https://eliq.okta.com/oauth2/default", "api://insights"))
    ///     .require_scopes(["insights.read"]);
    /// assert!(auth.validate().is_ok());
    /// ```
    pub fn okta(issuer_url: impl Into<String>, audience: impl Into<String>) -> Issuer {
        let mut issuer = Issuer::new(issuer_url)
            .audience(audience)
            .role_claims(["groups"]);
        issuer.profile = Profile {
            provider: "okta",
            client_claims: &[ClientClaim::Cid, ClientClaim::ClientId],
            ..Profile::default()
        };
        issuer
    }
}
