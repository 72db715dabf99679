//! Google Cloud Identity-Aware Proxy.

use http::HeaderName;

use crate::issuer::profile::{Location, Profile};
use crate::issuer::Issuer;
use crate::Algorithm;

impl Issuer {
    /// The assertion Google Cloud Identity-Aware Proxy adds to each request it lets through,
    /// for one backend (`audience`: `/projects/{number}/global/backendServices/{id}` or
    /// `/projects/{number}/apps/{project}`).
    ///
    /// `iss` is `https://cloud.google.com/iap`, ES256 only, keys at
    /// `https://www.gstatic.com/iap/verify/public_key-jwk`. The token is read from
    /// `x-goog-iap-jwt-assertion` only: an `Authorization` header belongs to the application,
    /// and a token of this issuer found there is refused.
    ///
    /// ```
    /// use tower_jwt_auth::{Issuer, JwtAuth};
    /// let auth = JwtAuth::from(Issuer::google_iap("/projects/1234/global/backendServices/5678"));
    /// assert!(auth.validate().is_ok());
    /// ```
    pub fn google_iap(audience: impl Into<String>) -> Issuer {
        let mut issuer = Issuer::new("https://cloud.google.com/iap")
            .audience(audience)
            .algorithms([Algorithm::ES256])
            .jwks_uri("https://www.gstatic.com/iap/verify/public_key-jwk");
        issuer.profile = Profile {
            provider: "google_iap",
            location: Location::Proxy {
                header: HeaderName::from_static("x-goog-iap-jwt-assertion"),
                cookie: None,
            },
            ..Profile::default()
        };
        issuer
    }
}
