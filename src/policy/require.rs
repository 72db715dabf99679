//! [`RequireScopes`]: a per-route (or per-service) requirement on top of the layer's.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::Policy;
use crate::claims::layer_around;
use crate::claims::Grant;
use crate::layer::body::ResponseBody;
use crate::layer::future::ResponseFuture;
use crate::reject::{AuthErrorKind, ConfigError};

/// A per-route (or per-service) layer requiring scopes (and optionally a `sub_type`) beyond the
/// ones [`JwtAuth`](crate::JwtAuth) requires everywhere. Answers 403 `insufficient_scope` like
/// the main layer, with the main layer's realm and rejection closure; must sit inside it. Under
/// an [`optional`](crate::JwtAuth::optional) layer, an anonymous request gets 401.
///
/// ```
/// use axum::{routing::{get, post}, Router};
/// use tower_jwt_auth::{JwtAuth, RequireScopes};
///
/// let app: Router = Router::new()
///     .route("/usage", post(|| async { "written" })
///         .layer(RequireScopes::new(["insights.write"])))
///     .route("/me", get(|| async { "mine" })
///         .layer(RequireScopes::none().require_sub_type("user")))
///     .layer(JwtAuth::new("https://auth-api.eliq.com", "insights-api")
///         .require_scopes(["insights.read"]));
/// ```
///
/// An invalid scope (empty, or with spaces, quotes, backslashes or control characters) or an
/// empty `sub_type` makes applying the layer panic with a message naming it;
/// [`RequireScopes::try_new`] reports an invalid scope as a value instead.
#[derive(Debug, Clone, Default)]
#[must_use = "a layer does nothing until applied with `.layer(..)`"]
pub struct RequireScopes {
    policy: Arc<Policy>,
    error: Option<ConfigError>,
}

impl RequireScopes {
    /// Requires every one of `scopes` (exact, case-sensitive).
    pub fn new<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::built(|policy| policy.add_scopes("RequireScopes::new", scopes))
    }

    /// Requires at least one of `scopes` ("any of"); a 403 names them all in `scope`.
    ///
    /// ```
    /// use axum::{routing::get, Router};
    /// use tower_jwt_auth::{JwtAuth, RequireScopes};
    /// let app: Router = Router::new()
    ///     .route("/usage", get(|| async { "usage" })
    ///         .layer(RequireScopes::any(["insights.read", "insights.admin"])))
    ///     .layer(JwtAuth::new("https://auth-api.eliq.com", "insights-api"));
    /// ```
    pub fn any<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::built(|policy| policy.add_any_scopes("RequireScopes::any", scopes))
    }

    /// A requirement made by `add` on an empty policy; its error, if any, is kept for
    /// [`layer`](Layer::layer) (which panics naming it) and `try_new`.
    fn built(add: impl FnOnce(&mut Policy) -> Result<(), ConfigError>) -> Self {
        let mut policy = Policy::default();
        let error = add(&mut policy).err();
        Self {
            policy: Arc::new(policy),
            error,
        }
    }

    /// Requires no scope: the start of a `sub_type`-only requirement,
    /// `RequireScopes::none().require_sub_type("user")`.
    pub fn none() -> Self {
        Self::default()
    }

    /// Like [`RequireScopes::new`], reporting an invalid scope.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the invalid scope.
    ///
    /// ```
    /// use tower_jwt_auth::RequireScopes;
    /// assert!(RequireScopes::try_new(["insights.read"]).is_ok());
    /// assert_eq!(RequireScopes::try_new(["two words"]).unwrap_err().field(), "RequireScopes::new");
    /// ```
    pub fn try_new<I, S>(scopes: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let layer = Self::new(scopes);
        match layer.error {
            Some(e) => Err(e),
            None => Ok(layer),
        }
    }

    /// Also requires this `sub_type` (e.g. `"user"` for delegated tokens); the same name as
    /// [`JwtAuth::require_sub_type`](crate::JwtAuth::require_sub_type).
    pub fn require_sub_type(mut self, sub_type: impl Into<String>) -> Self {
        let mut policy = (*self.policy).clone();
        if let Err(e) = policy.set_sub_type("RequireScopes::require_sub_type", sub_type.into()) {
            self.error.get_or_insert(e);
        }
        self.policy = Arc::new(policy);
        self
    }
}

/// A per-route (or per-service) layer requiring roles (read from the role claims the main
/// layer is configured with, see [`Issuer::role_claims`](crate::Issuer::role_claims)):
/// 403 `insufficient_scope` without naming any role, like
/// [`JwtAuth::require_roles`](crate::JwtAuth::require_roles). Must sit inside a
/// [`JwtAuth`](crate::JwtAuth) layer.
///
/// ```
/// use axum::{routing::delete, Router};
/// use tower_jwt_auth::{JwtAuth, RequireRoles};
/// let app: Router = Router::new()
///     .route("/meters/{id}", delete(|| async { "deleted" })
///         .layer(RequireRoles::new(["insights-admin"])))
///     .layer(JwtAuth::new("https://auth-api.eliq.com", "insights-api"));
/// ```
#[derive(Debug, Clone)]
#[must_use = "a layer does nothing until applied with `.layer(..)`"]
pub struct RequireRoles(RequireScopes);

impl RequireRoles {
    /// Requires every one of `roles` (exact, case-sensitive).
    pub fn new<I, S>(roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self(RequireScopes::built(|policy| {
            policy.add_roles("RequireRoles::new", roles)
        }))
    }

    /// Requires at least one of `roles`.
    pub fn any<I, S>(roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self(RequireScopes::built(|policy| {
            policy.add_any_roles("RequireRoles::any", roles)
        }))
    }
}

impl<S> Layer<S> for RequireRoles {
    type Service = RequireScopesService<S>;

    /// # Panics
    /// When a role name is unusable (empty, or with spaces, quotes, backslashes or control
    /// characters), naming it.
    fn layer(&self, inner: S) -> Self::Service {
        self.0.layer(inner)
    }
}

impl<S> Layer<S> for RequireScopes {
    type Service = RequireScopesService<S>;

    /// # Panics
    /// When the requirement is unusable (see [`RequireScopes`]), naming the field and the value.
    fn layer(&self, inner: S) -> Self::Service {
        if let Some(e) = &self.error {
            panic!("tower-jwt-auth: {e}");
        }
        RequireScopesService {
            inner,
            requirement: Requirement::Fixed(Arc::clone(&self.policy)),
        }
    }
}

/// The service of [`RequireScopes`].
#[derive(Debug, Clone)]
pub struct RequireScopesService<S> {
    inner: S,
    requirement: Requirement,
}

/// What a request must satisfy: one policy, or one chosen by the request's path.
#[derive(Debug, Clone)]
enum Requirement {
    Fixed(Arc<Policy>),
    ByPath(Arc<MethodTable>),
}

impl Requirement {
    fn for_path(&self, path: &str) -> Option<&Policy> {
        match self {
            Requirement::Fixed(policy) => Some(policy),
            Requirement::ByPath(table) => table.lookup(path),
        }
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequireScopesService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, Request<ReqBody>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let Some(policy) = self.requirement.for_path(req.uri().path()) else {
            // A method the table does not name, and no default: nothing more to require.
            return ResponseFuture::inner(self.inner.call(req));
        };
        let extensions = req.extensions();
        let verdict = layer_around(extensions, "RequireScopes").and_then(|responder| {
            match extensions.get::<Grant>() {
                Some(grant) => policy.check(grant).map_err(|e| {
                    // The 403 names every scope the route needs: the layer's too.
                    let e = match (e.kind(), policy.scope_attr()) {
                        (AuthErrorKind::InsufficientScope, Some(route)) => {
                            e.with_required_scope(responder.route_scope(route))
                        }
                        _ => e,
                    };
                    (e, responder.clone())
                }),
                // An optional layer let an anonymous request through.
                None => Err((AuthErrorKind::MissingToken.into(), responder.clone())),
            }
        });
        ResponseFuture::route(&mut self.inner, req, verdict)
    }
}

/// Scopes per gRPC method (or per HTTP path): a table from the request path
/// (`/insights.v1.Usage/Read`) to the scopes it requires, whole services
/// (`/insights.v1.Usage/`) and a default for the rest. Refusals are 403 `insufficient_scope`
/// (7 PERMISSION_DENIED over gRPC) with the method's scopes in `www-authenticate`. Must sit
/// inside a [`JwtAuth`](crate::JwtAuth) layer; put it on a tonic server with
/// `Server::builder().layer(auth).layer(scopes)`.
///
/// ```
/// use tower_jwt_auth::MethodScopes;
/// let scopes = MethodScopes::new()
///     .method("/insights.v1.Usage/Read", ["insights.read"])
///     .method("/insights.v1.Usage/Write", ["insights.write"])
///     .service("insights.v1.Admin", ["insights.admin"])
///     .otherwise(["insights.read"]);
/// assert!(scopes.validate().is_ok());
/// ```
///
/// A method named twice, a path that is not `/<service>/<method>`, or an invalid scope makes
/// applying the layer panic naming it ([`MethodScopes::validate`] reports it as a value).
#[derive(Debug, Clone, Default)]
#[must_use = "a `MethodScopes` does nothing until applied with `.layer(..)`"]
pub struct MethodScopes {
    table: Arc<MethodTable>,
    error: Option<ConfigError>,
}

#[derive(Debug, Clone, Default)]
struct MethodTable {
    methods: std::collections::HashMap<Box<str>, Policy>,
    services: std::collections::HashMap<Box<str>, Policy>,
    otherwise: Option<Policy>,
}

impl MethodTable {
    /// The method's own entry, else its service's, else the default.
    fn lookup(&self, path: &str) -> Option<&Policy> {
        if let Some(policy) = self.methods.get(path) {
            return Some(policy);
        }
        let service = path
            .strip_prefix('/')
            .and_then(|p| p.rsplit_once('/'))
            .map(|(service, _)| service);
        service
            .and_then(|s| self.services.get(s))
            .or(self.otherwise.as_ref())
    }
}

impl MethodScopes {
    /// An empty table: nothing beyond the main layer is required.
    pub fn new() -> Self {
        Self::default()
    }

    fn policy<I, S>(&mut self, field: &'static str, scopes: I) -> Option<Policy>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut policy = Policy::default();
        match policy.add_scopes(field, scopes) {
            Ok(()) => Some(policy),
            Err(e) => {
                self.error.get_or_insert(e);
                None
            }
        }
    }

    /// The scopes the method at `path` (`/package.Service/Method`, as gRPC sends it) requires.
    pub fn method<I, S>(mut self, path: impl Into<String>, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let path = path.into();
        let well_formed = path
            .strip_prefix('/')
            .and_then(|p| p.split_once('/'))
            .is_some_and(|(s, m)| !s.is_empty() && !m.is_empty() && !m.contains('/'));
        if !well_formed {
            self.error.get_or_insert(ConfigError::new(
                "MethodScopes::method",
                format!("{path:?} is not a gRPC method path (/package.Service/Method)"),
            ));
            return self;
        }
        self.entry("MethodScopes::method", path, scopes, |t| &mut t.methods)
    }

    /// The scopes every method of the service `name` (`package.Service`) requires, unless the
    /// method has its own entry.
    pub fn service<I, S>(mut self, name: impl Into<String>, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let name = name.into();
        if name.is_empty() || name.contains('/') {
            self.error.get_or_insert(ConfigError::new(
                "MethodScopes::service",
                format!("{name:?} is not a gRPC service name (package.Service)"),
            ));
            return self;
        }
        self.entry("MethodScopes::service", name, scopes, |t| &mut t.services)
    }

    /// Adds `name → scopes` to the part of the table `part` picks; a name given twice is a
    /// configuration error.
    fn entry<I, S>(
        mut self,
        field: &'static str,
        name: String,
        scopes: I,
        part: fn(&mut MethodTable) -> &mut std::collections::HashMap<Box<str>, Policy>,
    ) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        if let Some(policy) = self.policy(field, scopes) {
            let table = part(Arc::make_mut(&mut self.table));
            if table.insert(name.as_str().into(), policy).is_some() {
                self.error
                    .get_or_insert(ConfigError::new(field, format!("{name:?} is named twice")));
            }
        }
        self
    }

    /// The scopes of every other method. Without it, other methods need nothing more.
    pub fn otherwise<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        if let Some(policy) = self.policy("MethodScopes::otherwise", scopes) {
            Arc::make_mut(&mut self.table).otherwise = Some(policy);
        }
        self
    }

    /// The first unusable entry, as applying the layer would report it (with a panic).
    ///
    /// # Errors
    /// The first unusable entry: [`ConfigError::field`] names the method it came from.
    pub fn validate(&self) -> Result<(), &ConfigError> {
        self.error.as_ref().map_or(Ok(()), Err)
    }
}

impl<S> Layer<S> for MethodScopes {
    type Service = RequireScopesService<S>;

    /// # Panics
    /// When an entry is unusable (see [`MethodScopes`]).
    fn layer(&self, inner: S) -> Self::Service {
        if let Some(e) = &self.error {
            panic!("tower-jwt-auth: {e}");
        }
        RequireScopesService {
            inner,
            requirement: Requirement::ByPath(Arc::clone(&self.table)),
        }
    }
}

#[cfg(feature = "tonic")]
impl<S: tonic::server::NamedService> tonic::server::NamedService for RequireScopesService<S> {
    const NAME: &'static str = S::NAME;
}
