//! Cloudflare Access.

use http::HeaderName;

use crate::issuer::profile::{ClientClaim, Location, Profile};
use crate::issuer::Issuer;

impl Issuer {
    /// The application token Cloudflare Access adds to each request it lets through, for one
    /// application (`audience_tag`, its "Application Audience (AUD) Tag").
    ///
    /// `iss` is `https://{team_domain}` (`{team}.cloudflareaccess.com`), keys at
    /// `{iss}/cdn-cgi/access/certs`. The token is read from `Cf-Access-Jwt-Assertion`, or from
    /// the `CF_Authorization` cookie a browser sends; `aud` must contain the tag. Tokens of
    /// service tokens (an empty `sub`, the service token's client id in `common_name`) are
    /// accepted as the client alone.
    ///
    /// ```
    /// use tower_jwt_auth::{Issuer, JwtAuth};
    /// let auth = JwtAuth::from(Issuer::cloudflare_access(
    ///     "eliq.cloudflareaccess.com",
    ///     "32eafc7626e974616deaf0dc3ce63d7bcbed58a2731e84d06bc3cdf1b53c4228",
    /// ));
    /// assert!(auth.validate().is_ok());
    /// ```
    pub fn cloudflare_access(
        team_domain: impl Into<String>,
        audience_tag: impl Into<String>,
    ) -> Issuer {
        let team = team_domain.into();
        let iss = format!("https://{}", team.trim_end_matches('/'));
        let certs = format!("{iss}/cdn-cgi/access/certs");
        let mut issuer = Issuer::new(iss).audience(audience_tag).jwks_uri(certs);
        issuer.profile = Profile {
            provider: "cloudflare_access",
            client_claims: &[ClientClaim::CommonName],
            sub_optional: true,
            location: Location::Proxy {
                header: HeaderName::from_static("cf-access-jwt-assertion"),
                cookie: Some("CF_Authorization"),
            },
            ..Profile::default()
        };
        issuer
    }
}
