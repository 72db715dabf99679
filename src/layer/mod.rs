//! [`JwtAuth`]: the builder and the tower [`Layer`]. Nothing here runs per request.
//!
//! A `JwtAuth` is two things: an inert [`Config`] with the authenticator built from it once, on
//! first use (shared by every clone and every layer derived by policy-only calls), and the
//! layer's own policy. The verification options are in `options.rs`.

use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::de::DeserializeOwned;
use tower_layer::Layer;

use crate::authenticator::config::Config;
use crate::authenticator::{Authenticator, Core};
use crate::claims::AccessClaims;
use crate::credential::token::Sources;
use crate::layer::service::JwtAuthService;
use crate::policy::rules::RuleFn;
use crate::policy::Policy;
use crate::reject::ConfigError;
use crate::reject::{RejectFn, Responder};
use gate::Gate;

/// Protects a service with OAuth 2.0 JWT access tokens of one issuer (or several, see
/// [`JwtAuth::add_issuer`]), for one audience.
///
/// A tower [`Layer`] for axum routers and tonic servers, and a verifier of its own
/// ([`JwtAuth::verify`]) for code outside tower. Cheap to clone. Clones, and layers derived by
/// the policy methods ([`require_scopes`](JwtAuth::require_scopes),
/// [`require_sub_type`](JwtAuth::require_sub_type), [`optional`](JwtAuth::optional),
/// [`on_reject`](JwtAuth::on_reject)), share one key source and one verified-token cache:
///
/// ```
/// use axum::{routing::get, Router};
/// use tower_jwt_auth::{Claims, JwtAuth};
///
/// async fn usage(claims: Claims) -> String {
///     claims.sub.clone()
/// }
///
/// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api");
/// let app: Router = Router::new()
///     .route("/usage", get(usage).layer(auth.clone().require_scopes(["insights.read"])))
///     .route("/me", get(usage).layer(auth.require_sub_type("user")));
/// // One discovery and one JWK set fetch serve both routes.
/// ```
///
/// An unusable value (an `http://` issuer that is not loopback, an empty audience, a scope with
/// a space, a bad inline key) makes applying the layer panic with a message naming the field, as
/// axum does for invalid routes; [`JwtAuth::validate`] reports it as
/// a value, and [`JwtAuth::verify`] and [`JwtAuth::ready`] fail with it.
///
/// Every builder call returns a new value: one whose result is dropped is a compile-time
/// warning (`unused_must_use`), never a requirement silently missing.
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// let auth = tower_jwt_auth::JwtAuth::new("https://auth-api.eliq.com", "insights-api");
/// auth.clone().require_scopes(["insights.write"]); // dropped: nothing is required
/// ```
#[must_use = "a `JwtAuth` does nothing until applied with `.layer(..)`: a builder call whose result is dropped changes nothing"]
pub struct JwtAuth<C = AccessClaims> {
    pub(crate) core: Arc<Core<C>>,
    pub(crate) layer: Arc<LayerPolicy>,
    /// The application's rules ([`require`](JwtAuth::require)), on this claims type.
    pub(crate) rules: Arc<[Arc<RuleFn<C>>]>,
    /// What the services of this exact configuration and policy share, built on first
    /// `layer()`: axum applies a route's layers again on every request, so this must be cheap.
    gate: Arc<OnceLock<Arc<Gate<C>>>>,
}

/// What only this layer decides: the policy, anonymous access, the rejection closure.
#[derive(Clone, Default)]
pub(crate) struct LayerPolicy {
    pub(crate) policy: Policy,
    optional: bool,
    on_reject: Option<Arc<RejectFn>>,
    pub(crate) error: Option<ConfigError>,
    /// The realm of challenges, when not the audience.
    pub(crate) realm: Option<Box<str>>,
    /// Where else the token may come from.
    pub(crate) sources: Sources,
}

// Its shared state (`ArcSwap` key sets, concurrent caches, `OnceLock`s) stays consistent across an
// unwinding panic, so a `JwtAuth` may cross `catch_unwind` (as tests of a startup panic do).
impl<C> std::panic::UnwindSafe for JwtAuth<C> {}
impl<C> std::panic::RefUnwindSafe for JwtAuth<C> {}

impl<C> Clone for JwtAuth<C> {
    fn clone(&self) -> Self {
        Self {
            core: Arc::clone(&self.core),
            layer: Arc::clone(&self.layer),
            rules: Arc::clone(&self.rules),
            gate: Arc::clone(&self.gate),
        }
    }
}

impl<C> JwtAuth<C>
where
    C: DeserializeOwned + Send + Sync + 'static,
{
    /// A new configuration: the next use builds a new authenticator (key source and caches).
    pub(crate) fn configure(self, f: impl FnOnce(&mut Config)) -> Self {
        let mut config = self.core.config.clone();
        f(&mut config);
        Self {
            core: Arc::new(Core::new(config, self.core.direct)),
            layer: self.layer,
            rules: self.rules,
            gate: Arc::default(),
        }
    }

    /// A change of policy only: the authenticator stays shared.
    pub(crate) fn with_policy(
        self,
        f: impl FnOnce(&mut LayerPolicy) -> Result<(), ConfigError>,
    ) -> Self {
        let mut layer = Arc::unwrap_or_clone(self.layer);
        if let Err(e) = f(&mut layer) {
            layer.error.get_or_insert(e);
        }
        Self {
            core: self.core,
            layer: Arc::new(layer),
            rules: self.rules,
            gate: Arc::default(),
        }
    }

    /// One more application rule: a change of policy only.
    pub(crate) fn with_rule(self, rule: Arc<RuleFn<C>>) -> Self {
        let mut rules = self.rules.to_vec();
        rules.push(rule);
        Self {
            core: self.core,
            layer: self.layer,
            rules: rules.into(),
            gate: Arc::default(),
        }
    }

    /// The authenticator, built on first use.
    pub(crate) fn authenticator(&self) -> Result<&Arc<Authenticator<C>>, &ConfigError> {
        self.core.authenticator()
    }
}

impl<C> fmt::Debug for JwtAuth<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuth")
            .field("config", &self.core.config)
            .field("policy", &self.layer.policy)
            .field("optional", &self.layer.optional)
            .field(
                "on_reject",
                &self.layer.on_reject.as_ref().map(|_| "(closure)"),
            )
            .finish_non_exhaustive()
    }
}

impl<S, C> Layer<S> for JwtAuth<C>
where
    C: DeserializeOwned + Send + Sync + 'static,
{
    type Service = JwtAuthService<S, C>;

    /// # Panics
    /// When the configuration is unusable, with a message naming the field and the value's
    /// problem (see [`JwtAuth::validate`]).
    fn layer(&self, inner: S) -> Self::Service {
        let gate = self.gate.get_or_init(|| {
            let auth = match (self.authenticator(), &self.layer.error) {
                (Ok(auth), None) => Arc::clone(auth),
                (Err(e), _) | (_, Some(e)) => panic!("tower-jwt-auth: {e}"),
            };
            let realm = self.layer.realm.as_deref().unwrap_or(auth.realm());
            let responder = Responder::for_layer(
                realm,
                self.layer.on_reject.clone(),
                (
                    auth.published().map(|p| Arc::clone(&p.url)),
                    auth.bindings().challenge(),
                ),
                self.layer.policy.scope_attr().cloned(),
            )
            .with_clock(Arc::clone(&self.core.config.clock));
            let (proxies, authorization) = auth.locations();
            Arc::new(Gate {
                sources: (self.layer.sources.clone()).with_locations(proxies, authorization),
                auth,
                policy: self.layer.policy.clone(),
                rules: self.rules.to_vec(),
                optional: self.layer.optional,
                responder,
            })
        });
        JwtAuthService::new(inner, Arc::clone(gate))
    }
}

// In this order, so that the documentation lists the constructors and the layer's policy first,
// then the access rules, the verification options and the runtime methods.
pub(crate) mod access;
pub(crate) mod body;
mod builder;
pub(crate) mod future;
pub(crate) mod gate;
mod options;
mod runtime;
pub(crate) mod service;
