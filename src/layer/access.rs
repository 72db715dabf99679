//! Authorization rules beyond "all of these scopes", and where the token may come from: roles,
//! "any of" scopes, the application's own predicate (layer-wide and per route), token sources
//! and the realm. Each is a policy-only change: layers derived this way share one
//! authenticator.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::HeaderName;
use http::{Request, Response};
use serde::de::DeserializeOwned;
use tower_layer::Layer;
use tower_service::Service;

use crate::claims::layer_around;
use crate::claims::Claims;
use crate::layer::body::ResponseBody;
use crate::layer::future::ResponseFuture;
use crate::layer::JwtAuth;
use crate::policy::roles::RoleClaims;
use crate::policy::rules::{check_rules, RuleFn};
use crate::reject::{AuthError, AuthErrorKind, ConfigError};

impl<C> JwtAuth<C>
where
    C: DeserializeOwned + Send + Sync + 'static,
{
    /// Requires every one of these roles, or answers 403 `insufficient_scope` (the description
    /// names no role; the log event names the missing ones). Roles are read along the
    /// [`role_claims`](JwtAuth::role_claims) paths. Adds to roles required before.
    ///
    /// ```
    /// use tower_jwt_auth::JwtAuth;
    /// let admins = JwtAuth::new("https://auth-api.eliq.com", "insights-api")
    ///     .require_roles(["insights-admin"]);
    /// assert!(admins.config_error().is_none());
    /// ```
    pub fn require_roles<I, S>(self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.with_policy(|l| l.policy.add_roles("require_roles", roles))
    }

    /// Requires at least one of these scopes ("any of"), or answers 403 `insufficient_scope`
    /// naming them all in `scope`. Each call adds one such requirement.
    ///
    /// ```
    /// use tower_jwt_auth::JwtAuth;
    /// let readers = JwtAuth::new("https://auth-api.eliq.com", "insights-api")
    ///     .require_any_scope(["insights.read", "insights.admin"]);
    /// ```
    pub fn require_any_scope<I, S>(self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.with_policy(|l| l.policy.add_any_scopes("require_any_scope", scopes))
    }

    /// Requires the application's own rule on the verified claims: `false` answers 403
    /// `insufficient_scope`; a panic inside it is contained (500 with an error event, the
    /// connection kept). Rules run after scopes, roles and `sub_type`, in the order given.
    /// Call it after [`with_claims`](JwtAuth::with_claims), since it reads the claims type.
    ///
    /// ```
    /// use tower_jwt_auth::{AccessClaims, JwtAuth};
    /// let own_clients = JwtAuth::new("https://auth-api.eliq.com", "insights-api")
    ///     .require(|c: &AccessClaims| c.client_id.as_deref().is_some_and(|id| id.starts_with("utility-")));
    /// ```
    pub fn require<F>(self, rule: F) -> Self
    where
        F: Fn(&C) -> bool + Send + Sync + 'static,
    {
        self.with_rule(Arc::new(rule))
    }

    /// Where roles are read from: dotted claim paths, `{audience}` standing for the audience.
    /// Defaults to `roles` (Microsoft Entra), `realm_access.roles` and
    /// `resource_access.{audience}.roles` (Keycloak) and `permissions` (Auth0); add `groups`
    /// to use groups as roles. A claim name may contain dots (Auth0's namespaced claims): at
    /// each level the longest run of segments that names a member is taken. Replaces the
    /// defaults.
    ///
    /// ```
    /// use tower_jwt_auth::JwtAuth;
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api")
    ///     .role_claims(["roles", "groups", "https://eliq.com/roles"])
    ///     .require_roles(["insights-admin"]);
    /// assert!(auth.config_error().is_none());
    /// ```
    pub fn role_claims<I, S>(self, paths: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        match RoleClaims::new(paths) {
            Ok(roles) => self.configure(|c| c.role_claims = roles),
            Err(e) => self.with_policy(|_| Err(e)),
        }
    }

    /// Also takes the token from the cookie `name` when the request has no
    /// `Authorization: Bearer` header (which wins when both are present), for same-site browser
    /// front-ends. The query string is never read.
    ///
    /// **CSRF**: a browser sends cookies with requests that other sites cause. Set the cookie
    /// `SameSite=Strict` (or `Lax`), `Secure` and `HttpOnly`, and do not accept it on routes that
    /// change state without a CSRF defence of their own (an anti-forgery token, or checking
    /// `Origin`); an `Authorization` header cannot be forged this way, which is why it stays
    /// the default and the only source unless you add one.
    ///
    /// ```
    /// use tower_jwt_auth::JwtAuth;
    /// let browser = JwtAuth::new("https://auth-api.eliq.com", "insights-api")
    ///     .token_from_cookie("__Host-access_token");
    /// assert!(browser.config_error().is_none());
    /// ```
    pub fn token_from_cookie(self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.with_policy(|l| {
            let valid = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b));
            if !valid {
                return Err(ConfigError::new(
                    "token_from_cookie",
                    format!("{name:?} is not a cookie name (RFC 6265 token)"),
                ));
            }
            l.sources.cookie = Some(name.into());
            Ok(())
        })
    }

    /// Also takes the token from the header `name` (its whole value, an optional `Bearer `
    /// prefix removed) when the request has no `Authorization: Bearer` header, for gateways
    /// that forward it elsewhere (`X-Access-Token`).
    ///
    /// ```
    /// use tower_jwt_auth::JwtAuth;
    /// let behind_gateway = JwtAuth::new("https://auth-api.eliq.com", "insights-api")
    ///     .token_from_header("x-access-token");
    /// assert!(behind_gateway.config_error().is_none());
    /// ```
    pub fn token_from_header(self, name: impl AsRef<str>) -> Self {
        let name = name.as_ref();
        let parsed = HeaderName::from_bytes(name.as_bytes());
        self.with_policy(|l| match parsed {
            Ok(header) if header != http::header::COOKIE => {
                l.sources.header = Some(header);
                Ok(())
            }
            _ => Err(ConfigError::new(
                "token_from_header",
                format!("{name:?} is not a usable header name"),
            )),
        })
    }

    /// The `realm` of this layer's challenges. Defaults to the audience.
    ///
    /// ```
    /// use tower_jwt_auth::JwtAuth;
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api").realm("Eliq insights");
    /// assert!(auth.config_error().is_none());
    /// ```
    pub fn realm(self, realm: impl Into<String>) -> Self {
        let realm = realm.into();
        self.with_policy(|l| {
            if realm.is_empty()
                || !realm
                    .chars()
                    .all(|c| matches!(c, ' '..='~') && c != '"' && c != '\\')
            {
                return Err(ConfigError::new(
                    "realm",
                    format!("{realm:?} must be printable ASCII without quotes or backslashes"),
                ));
            }
            l.realm = Some(realm.into());
            Ok(())
        })
    }
}

/// A per-route (or per-service) rule of the application's on the verified claims of type `C`,
/// the per-route form of [`JwtAuth::require`]: `false` answers 403 `insufficient_scope` with the
/// main layer's realm and rejection closure, a panic 500; must sit inside a [`JwtAuth`] layer
/// of the same claims type.
///
/// ```
/// use axum::{routing::get, Router};
/// use tower_jwt_auth::{AccessClaims, JwtAuth, RequireClaims};
/// let app: Router = Router::new()
///     .route("/orgs/42", get(|| async { "org 42" })
///         .layer(RequireClaims::new(|c: &AccessClaims| c.sub == "org-42")))
///     .layer(JwtAuth::new("https://auth-api.eliq.com", "insights-api"));
/// ```
#[must_use = "a layer does nothing until applied with `.layer(..)`"]
pub struct RequireClaims<C> {
    rule: Arc<RuleFn<C>>,
}

impl<C> RequireClaims<C> {
    /// The rule.
    pub fn new<F>(rule: F) -> Self
    where
        F: Fn(&C) -> bool + Send + Sync + 'static,
    {
        Self {
            rule: Arc::new(rule),
        }
    }
}

impl<C> Clone for RequireClaims<C> {
    fn clone(&self) -> Self {
        Self {
            rule: Arc::clone(&self.rule),
        }
    }
}

impl<C> fmt::Debug for RequireClaims<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RequireClaims(..)")
    }
}

impl<S, C> Layer<S> for RequireClaims<C> {
    type Service = RequireClaimsService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireClaimsService {
            inner,
            rule: Arc::clone(&self.rule),
            _claims: PhantomData,
        }
    }
}

/// The service of [`RequireClaims`].
pub struct RequireClaimsService<S, C> {
    inner: S,
    rule: Arc<RuleFn<C>>,
    _claims: PhantomData<fn() -> C>,
}

impl<S: Clone, C> Clone for RequireClaimsService<S, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            rule: Arc::clone(&self.rule),
            _claims: PhantomData,
        }
    }
}

impl<S: fmt::Debug, C> fmt::Debug for RequireClaimsService<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireClaimsService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, C, ReqBody, ResBody> Service<Request<ReqBody>> for RequireClaimsService<S, C>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    C: Send + Sync + 'static,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, Request<ReqBody>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let extensions = req.extensions();
        let verdict = layer_around(extensions, "RequireClaims").and_then(|responder| {
            match extensions.get::<Claims<C>>() {
                Some(claims) => check_rules(std::slice::from_ref(&self.rule), claims)
                    .map_err(|e| (e, responder.clone())),
                // Verified, but for another claims type: a wiring mistake, not the caller's.
                None if extensions.get::<crate::claims::Grant>().is_some() => {
                    let err = AuthError::new(AuthErrorKind::Misconfigured).with_context(
                        "RequireClaims reads a claims type the JwtAuth layer around it does not produce",
                    );
                    Err((err, responder.clone()))
                }
                None => Err((AuthErrorKind::MissingToken.into(), responder.clone())),
            }
        });
        ResponseFuture::route(&mut self.inner, req, verdict)
    }
}

#[cfg(feature = "tonic")]
impl<S: tonic::server::NamedService, C> tonic::server::NamedService for RequireClaimsService<S, C> {
    const NAME: &'static str = S::NAME;
}
