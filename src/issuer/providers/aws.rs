//! Amazon Cognito user pools and AWS Application Load Balancers.

use http::HeaderName;

use crate::issuer::profile::{ClientClaim, Location, Profile};
use crate::issuer::Issuer;
use crate::Algorithm;

impl Issuer {
    /// Access tokens of an Amazon Cognito user pool, for one app client.
    ///
    /// `iss` is `https://cognito-idp.{region}.amazonaws.com/{user_pool_id}`, keys are at
    /// `{iss}/.well-known/jwks.json`. Cognito access tokens carry no `aud`: `token_use` must be
    /// `access` (an ID token, `id`, is refused) and `client_id` the configured client (a token
    /// of another app client is refused). Roles are the `cognito:groups`; scopes the `scope`.
    ///
    /// ```
    /// use tower_jwt_auth::{Issuer, JwtAuth};
    /// let auth = JwtAuth::from(Issuer::cognito("eu-west-1", "eu-west-1_AbCdEf123", "3k8tq0example"))
    ///     .require_scopes(["insights/read"]);
    /// assert!(auth.validate().is_ok());
    /// ```
    pub fn cognito(
        region: impl Into<String>,
        user_pool_id: impl Into<String>,
        client_id: impl Into<String>,
    ) -> Issuer {
        let iss = format!(
            "https://cognito-idp.{}.amazonaws.com/{}",
            region.into(),
            user_pool_id.into()
        );
        let client_id = client_id.into();
        let jwks = format!("{iss}/.well-known/jwks.json");
        let mut issuer = Issuer::new(iss)
            .audience(client_id.clone())
            .jwks_uri(jwks)
            .role_claims(["cognito:groups"]);
        issuer.profile = Profile {
            provider: "cognito",
            audience_checked: false,
            client_claims: &[ClientClaim::ClientId],
            token_use: Some("access"),
            client: Some(client_id),
            ..Profile::default()
        };
        issuer
    }

    /// The user claims an AWS Application Load Balancer passes on after authenticating a user
    /// (`x-amzn-oidc-data`).
    ///
    /// The token is read from `x-amzn-oidc-data` only (`Authorization` belongs to the
    /// application). It is chosen by its JWS header's `signer`, which must be
    /// `load_balancer_arn`; its `iss` names the identity provider behind the load balancer and
    /// is not checked. ES256 only; keys are PEM documents fetched per `kid` from
    /// `https://public-keys.auth.elb.{region}.amazonaws.com/{kid}` (cached like a JWK set's;
    /// see [`Issuer::key_url_per_kid`]). The load balancer encodes all three segments as
    /// base64url **with** `=` padding, which this preset — and only this one — accepts. There is
    /// no `aud`; `exp` is honoured.
    ///
    /// ```
    /// use tower_jwt_auth::{Issuer, JwtAuth};
    /// let arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/insights/50dc6c495c0c9188";
    /// let auth = JwtAuth::from(Issuer::aws_alb("eu-west-1", arn));
    /// assert!(auth.validate().is_ok());
    /// ```
    pub fn aws_alb(region: impl Into<String>, load_balancer_arn: impl Into<String>) -> Issuer {
        let arn = load_balancer_arn.into();
        let mut issuer = Issuer::new(arn.clone())
            .audience(arn.clone())
            .algorithms([Algorithm::ES256])
            .key_url_per_kid(format!(
                "https://public-keys.auth.elb.{}.amazonaws.com/{{kid}}",
                region.into()
            ));
        issuer.profile = Profile {
            provider: "aws_alb",
            audience_checked: false,
            location: Location::Proxy {
                header: HeaderName::from_static("x-amzn-oidc-data"),
                cookie: None,
            },
            signer: Some(arn),
            key_url_per_kid: issuer.profile.key_url_per_kid.take(),
            ..Profile::default()
        };
        issuer
    }
}
