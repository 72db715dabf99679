//! Kubernetes service accounts.

use crate::issuer::profile::Profile;
use crate::issuer::Issuer;

/// Where a pod finds its service account's CA certificate and token.
const IN_CLUSTER: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

impl Issuer {
    /// Projected service-account tokens of a Kubernetes cluster (`issuer_url`, the API
    /// server's `--service-account-issuer`), for one audience (the `audience` of the
    /// projected volume).
    ///
    /// `sub` is `system:serviceaccount:{namespace}:{name}`; the nested `kubernetes.io` claim
    /// (namespace, service account, pod) is read by a claims type of your own. Keys come from
    /// the issuer's discovery document. Inside a pod, the discovery and key requests trust the
    /// cluster's CA (`/var/run/secrets/kubernetes.io/serviceaccount/ca.crt`, when present) and
    /// carry the pod's own service-account token (read again for every request), as API
    /// servers that do not serve discovery anonymously require; elsewhere, give the CA with
    /// [`Issuer::key_fetch_ca`] and the token with [`Issuer::key_fetch_token_file`].
    ///
    /// ```
    /// use tower_jwt_auth::{Issuer, JwtAuth};
    /// let auth = JwtAuth::from(Issuer::kubernetes("https://kubernetes.default.svc.cluster.local", "insights-api"))
    ///     .require(|c: &tower_jwt_auth::AccessClaims| c.sub.starts_with("system:serviceaccount:billing:"));
    /// assert!(auth.validate().is_ok());
    /// ```
    pub fn kubernetes(issuer_url: impl Into<String>, audience: impl Into<String>) -> Issuer {
        let mut issuer = Issuer::new(issuer_url).audience(audience);
        issuer.profile = Profile {
            provider: "kubernetes",
            ..Profile::default()
        };
        issuer.fetch_auth.ca_file_if_present = Some(format!("{IN_CLUSTER}/ca.crt").into());
        issuer.fetch_auth.token_file = Some(format!("{IN_CLUSTER}/token").into());
        issuer
    }
}
