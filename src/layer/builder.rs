//! The constructors and the policy of one layer: what a `JwtAuth` starts as, and the calls
//! that change only what this layer requires (they share the authenticator).

use std::sync::Arc;

use bytes::Bytes;
use http::Response;
use serde::de::DeserializeOwned;

use super::JwtAuth;
use crate::authenticator::config::Config;
use crate::authenticator::Core;
use crate::claims::AccessClaims;
use crate::issuer::Issuer;
use crate::jwt::registered::Registered;
use crate::reject::{AuthError, ConfigError};

impl JwtAuth<AccessClaims> {
    /// Accepts tokens whose `iss` is exactly `issuer` and whose `aud` contains `audience`:
    /// `JwtAuth::from(Issuer::new(issuer).audience(audience))`.
    ///
    /// Keys are found by OpenID Connect discovery at
    /// `{issuer}/.well-known/openid-configuration` on first use. The issuer must be `https`,
    /// except for loopback hosts (127.0.0.0/8, `::1`, `localhost`).
    ///
    /// ```
    /// use tower_jwt_auth::JwtAuth;
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api");
    /// assert!(auth.validate().is_ok());
    /// ```
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self::from(Issuer::new(issuer).audience(audience))
    }

    /// Like [`JwtAuth::new`], reporting an unusable issuer or audience at once.
    ///
    /// # Errors
    /// A [`ConfigError`] for field `issuer` (not a URL, or not https/loopback) or `audience`
    /// (empty).
    ///
    /// ```
    /// use tower_jwt_auth::JwtAuth;
    /// let auth = JwtAuth::try_new("https://auth-api.eliq.com", "insights-api")?;
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    pub fn try_new(
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Result<Self, ConfigError> {
        let auth = Self::new(issuer, audience);
        auth.validate().map_err(Clone::clone)?;
        Ok(auth)
    }
}

/// A layer for one issuer and its own settings (audiences, where its keys come from, its
/// algorithms, role claims, introspection): the issuer every other added one inherits from.
///
/// ```
/// use tower_jwt_auth::{Issuer, JwtAuth};
/// let auth = JwtAuth::from(
///     Issuer::new("https://auth-api.eliq.com")
///         .audiences(["insights-api", "insights"])
///         .jwks_uri("https://auth-api.eliq.com/keys"),
/// );
/// assert!(auth.validate().is_ok());
/// // The layer's issuer needs an audience.
/// let none = JwtAuth::from(Issuer::new("https://auth-api.eliq.com"));
/// assert_eq!(none.validate().unwrap_err().field(), "audience");
/// ```
impl From<Issuer> for JwtAuth<AccessClaims> {
    fn from(issuer: Issuer) -> Self {
        Self {
            core: Arc::new(Core::new(
                Config::new(issuer),
                Some(|registered: Registered<'_>| registered.into_access_claims()),
            )),
            layer: Arc::default(),
            rules: Arc::new([]),
            gate: Arc::default(),
        }
    }
}

impl<C> JwtAuth<C>
where
    C: DeserializeOwned + Send + Sync + 'static,
{
    /// Uses the application's own claims type `T` (any `DeserializeOwned`), handed to handlers
    /// as `Claims<T>`. The registered claims are validated all the same.
    ///
    /// ```
    /// use serde::Deserialize;
    /// use tower_jwt_auth::JwtAuth;
    ///
    /// #[derive(Deserialize)]
    /// struct MyClaims { sub: String, tenant: String }
    ///
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api").with_claims::<MyClaims>();
    /// ```
    ///
    /// Rules given to [`require`](JwtAuth::require) read the claims type, so they come after
    /// `with_claims`; one given before is a configuration error (field `require`).
    pub fn with_claims<T: DeserializeOwned + Send + Sync + 'static>(self) -> JwtAuth<T> {
        let mut layer = self.layer;
        if !self.rules.is_empty() {
            Arc::make_mut(&mut layer)
                .error
                .get_or_insert(ConfigError::new(
                    "require",
                    "a rule was given before with_claims: call require after with_claims, since \
                     the rule reads the claims type",
                ));
        }
        JwtAuth {
            core: Arc::new(Core::new(self.core.config.clone(), None)),
            layer,
            rules: Arc::new([]),
            gate: Arc::default(),
        }
    }

    /// Requires every one of these scopes, from `scope` or `scp` (exact, case-sensitive), or
    /// answers 403 `insufficient_scope`. Adds to scopes required before. Defaults to none.
    ///
    /// ```
    /// use tower_jwt_auth::JwtAuth;
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api").require_scopes(["insights.read", "insights.write"]);
    /// ```
    pub fn require_scopes<I, S>(self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.with_policy(|l| l.policy.add_scopes("require_scopes", scopes))
    }

    /// Requires the `sub_type` claim to be `sub_type` (e.g. `"user"`: delegated tokens only), or
    /// answers 403 `insufficient_scope`. Defaults to any or none.
    ///
    /// ```
    /// use tower_jwt_auth::JwtAuth;
    /// let delegated_only = JwtAuth::new("https://auth-api.eliq.com", "insights-api").require_sub_type("user");
    /// ```
    pub fn require_sub_type(self, sub_type: impl Into<String>) -> Self {
        self.with_policy(|l| l.policy.set_sub_type("require_sub_type", sub_type.into()))
    }

    /// Lets requests without credentials through, with no [`Claims`](crate::Claims) in their extensions (a
    /// handler takes `Option<Claims>` and gets `None`); a token that fails verification is still
    /// refused, and a per-route [`RequireScopes`](crate::RequireScopes) answers an anonymous
    /// request 401. Defaults to off: every request needs a valid token.
    ///
    /// ```
    /// use axum::{routing::get, Router};
    /// use tower_jwt_auth::{Claims, JwtAuth};
    /// async fn home(claims: Option<Claims>) -> String {
    ///     claims.map_or("hello, guest".into(), |c| format!("hello, {}", c.sub))
    /// }
    /// let app: Router = Router::new()
    ///     .route("/", get(home))
    ///     .layer(JwtAuth::new("https://auth-api.eliq.com", "insights-api").optional());
    /// ```
    pub fn optional(self) -> Self {
        self.with_policy(|l| {
            l.optional = true;
            Ok(())
        })
    }

    /// Replaces the refusal response. The closure gets the error (its kind, fixed description,
    /// required scope, retry delay); the error is also put in the response's extensions.
    /// Defaults to the RFC 6750 response (see [`default_response`](crate::default_response)).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use http::{Response, StatusCode};
    /// use tower_jwt_auth::JwtAuth;
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api").on_reject(|err| {
    ///     let mut res = Response::new(Bytes::from(format!("denied: {}", err.description())));
    ///     *res.status_mut() = StatusCode::UNAUTHORIZED;
    ///     res
    /// });
    /// ```
    pub fn on_reject<F>(self, f: F) -> Self
    where
        F: Fn(&AuthError) -> Response<Bytes> + Send + Sync + 'static,
    {
        self.with_policy(|l| {
            l.on_reject = Some(Arc::new(f));
            Ok(())
        })
    }

    /// Validates the whole configuration now and builds the authenticator (issuers, key
    /// sources, caches; nothing is fetched), as applying the layer would: call it at startup
    /// to turn an unusable value into an error naming its field instead of a panic in
    /// `.layer(..)`. Clones and layers derived by the policy methods share what it built.
    ///
    /// # Errors
    /// The first unusable value: [`ConfigError::field`] names it.
    ///
    /// ```
    /// use tower_jwt_auth::JwtAuth;
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api").require_scopes(["not a scope"]);
    /// assert_eq!(auth.validate().unwrap_err().field(), "require_scopes");
    /// ```
    pub fn validate(&self) -> Result<(), &ConfigError> {
        self.authenticator()?;
        self.layer.error.as_ref().map_or(Ok(()), Err)
    }
}
