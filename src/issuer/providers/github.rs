//! GitHub Actions.

use crate::issuer::profile::Profile;
use crate::issuer::Issuer;

impl Issuer {
    /// The OpenID Connect tokens GitHub Actions gives a workflow run (`id-token: write`), for
    /// one audience (the one the workflow asks for).
    ///
    /// `iss` is `https://token.actions.githubusercontent.com` (keys by its discovery); `sub`
    /// names the repository and what ran (`repo:eliq/insights:ref:refs/heads/main`). The
    /// workflow claims (`repository`, `repository_owner`, `ref`, `environment`,
    /// `job_workflow_ref`, …) are read by a claims type of your own
    /// ([`JwtAuth::with_claims`](crate::JwtAuth::with_claims)) and checked by rules
    /// ([`JwtAuth::require`](crate::JwtAuth::require)).
    ///
    /// ```
    /// use serde::Deserialize;
    /// use tower_jwt_auth::{Issuer, JwtAuth};
    ///
    /// #[derive(Deserialize)]
    /// struct Workflow { repository: String, environment: Option<String> }
    ///
    /// let deploys = JwtAuth::from(Issuer::github_actions("https://deploy.eliq.com"))
    ///     .with_claims::<Workflow>()
    ///     .require(|w: &Workflow| {
    ///         w.repository == "eliq/insights" && w.environment.as_deref() == Some("production")
    ///     });
    /// assert!(deploys.validate().is_ok());
    /// ```
    pub fn github_actions(audience: impl Into<String>) -> Issuer {
        let mut issuer =
            Issuer::new("https://token.actions.githubusercontent.com").audience(audience);
        issuer.profile = Profile {
            provider: "github_actions",
            ..Profile::default()
        };
        issuer
    }
}
