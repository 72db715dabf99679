//! What sets one identity provider's tokens apart from RFC 9068's: where they arrive, which
//! claim names the client, whether `aud` and `sub` are there, and the provider's own checks
//! (Cognito's `token_use`, an AWS load balancer's `signer`). The presets in `providers/` fill
//! it; [`Issuer::new`](crate::Issuer::new) takes the RFC's defaults.

use http::HeaderName;

/// Where an issuer's tokens arrive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Location {
    /// `Authorization` (`Bearer` or `DPoP`), and the layer's own [`TokenSources`](crate::TokenSources).
    Authorization,
    /// A header a proxy in front of the service sets (and, where the proxy also sets one, a
    /// cookie). `Authorization` then belongs to the application.
    Proxy {
        header: HeaderName,
        cookie: Option<&'static str>,
    },
}

/// The claim a provider names the client in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientClaim {
    /// `client_id` (RFC 9068, RFC 8693).
    ClientId,
    /// `azp` (OpenID Connect; Entra v2.0, Keycloak, Auth0).
    Azp,
    /// `appid` (Entra v1.0).
    Appid,
    /// `cid` (Okta).
    Cid,
    /// `common_name` (Cloudflare Access service tokens).
    CommonName,
}

/// One provider's rules beyond the RFC's.
#[derive(Debug, Clone)]
pub(crate) struct Profile {
    /// The provider's name, in refusal logs (`"cognito"`, `"entra"`, …; `"oauth"` otherwise).
    pub(crate) provider: &'static str,
    /// Other `iss` values of the same issuer and keys (Entra's v1.0 issuer beside v2.0).
    pub(crate) also_iss: Vec<String>,
    /// Whether `aud` must name one of the audiences. Cognito access tokens and AWS load
    /// balancer tokens carry none: the client, or the signer, is checked instead.
    pub(crate) audience_checked: bool,
    /// Where the client is named, first match wins.
    pub(crate) client_claims: &'static [ClientClaim],
    /// Whether a token without `sub` (or with an empty one) is accepted: its grant then
    /// names the client alone.
    pub(crate) sub_optional: bool,
    /// Cognito: `token_use` must be this.
    pub(crate) token_use: Option<&'static str>,
    /// Cognito: the client the tokens must have been issued to.
    pub(crate) client: Option<String>,
    /// Where the tokens arrive.
    pub(crate) location: Location,
    /// AWS load balancers: the JWS header's `signer` must be this ARN. Such an issuer is
    /// chosen by its `signer`, not by `iss` (which names the identity provider behind the
    /// load balancer), and its tokens may be padded base64url.
    pub(crate) signer: Option<String>,
    /// Keys fetched one by one, as PEM, from this URL with `{kid}` replaced (AWS load
    /// balancers).
    pub(crate) key_url_per_kid: Option<String>,
}

impl Default for Profile {
    fn default() -> Self {
        Self {
            provider: "oauth",
            also_iss: Vec::new(),
            audience_checked: true,
            client_claims: &[ClientClaim::ClientId],
            sub_optional: false,
            token_use: None,
            client: None,
            location: Location::Authorization,
            signer: None,
            key_url_per_kid: None,
        }
    }
}

impl Profile {
    /// The header a proxy delivers this issuer's tokens in, if it is one.
    pub(crate) fn proxy_header(&self) -> Option<&HeaderName> {
        match &self.location {
            Location::Authorization => None,
            Location::Proxy { header, .. } => Some(header),
        }
    }
}
