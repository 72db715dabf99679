//! Microsoft Entra ID (Azure AD).

use crate::issuer::profile::{ClientClaim, Profile};
use crate::issuer::Issuer;

impl Issuer {
    /// Access tokens Microsoft Entra ID issues for one application (an API registered in one
    /// tenant), in both token formats.
    ///
    /// - v2.0: `iss` `https://login.microsoftonline.com/{tenant_id}/v2.0`, `aud` the
    ///   application id, the client in `azp`;
    /// - v1.0: `iss` `https://sts.windows.net/{tenant_id}/`, `aud` the application id or its
    ///   `api://{application_id}` URI, the client in `appid`.
    ///
    /// Scopes are `scp` (space-delimited), roles `roles`. Keys come from the tenant's v2.0
    /// discovery document (both formats are signed with them). Tokens of other tenants and
    /// applications are refused. For a multi-tenant application, see
    /// [`Issuer::entra_tenants`].
    ///
    /// ```
    /// use tower_jwt_auth::{Issuer, JwtAuth};
    /// let auth = JwtAuth::from(Issuer::entra(
    ///     "6f1c2a9e-0000-4000-8000-000000000001",
    ///     "0c1d2e3f-0000-4000-8000-00000000abcd",
    /// ))
    /// .require_roles(["Insights.Read.All"]);
    /// assert!(auth.validate().is_ok());
    /// ```
    pub fn entra(tenant_id: impl Into<String>, application_id: impl Into<String>) -> Issuer {
        let tenant = tenant_id.into();
        let mut issuer = Issuer::new(format!("https://login.microsoftonline.com/{tenant}/v2.0"));
        issuer.profile.also_iss = vec![format!("https://sts.windows.net/{tenant}/")];
        entra_profile(issuer, application_id.into())
    }

    /// Access tokens Microsoft Entra ID issues for one multi-tenant application, from the
    /// tenants in `allow_list`: the v2.0 format (`iss`
    /// `https://login.microsoftonline.com/{tenant}/v2.0`, a template as
    /// [`Issuer::tenants`]), `aud` the application id or its `api://` URI, the client in `azp`,
    /// `tid` naming the same tenant. Each tenant's keys come from its own discovery document.
    ///
    /// ```
    /// use tower_jwt_auth::{Issuer, JwtAuth};
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api").add_issuer(
    ///     Issuer::entra_tenants(
    ///         ["6f1c2a9e-0000-4000-8000-000000000001", "9a2e7b31-0000-4000-8000-000000000002"],
    ///         "0c1d2e3f-0000-4000-8000-00000000abcd",
    ///     ),
    /// );
    /// assert!(auth.validate().is_ok());
    /// ```
    pub fn entra_tenants(
        allow_list: impl IntoIterator<Item = impl Into<String>>,
        application_id: impl Into<String>,
    ) -> Issuer {
        let issuer = Issuer::tenants(
            "https://login.microsoftonline.com/{tenant}/v2.0",
            allow_list.into_iter().map(Into::into),
        );
        entra_profile(issuer, application_id.into())
    }
}

fn entra_profile(mut issuer: Issuer, application: String) -> Issuer {
    let uri = format!("api://{application}");
    issuer.profile = Profile {
        provider: "entra",
        also_iss: std::mem::take(&mut issuer.profile.also_iss),
        client_claims: &[ClientClaim::Azp, ClientClaim::Appid],
        ..Profile::default()
    };
    issuer.audiences([application, uri]).role_claims(["roles"])
}
