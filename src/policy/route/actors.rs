//! Delegation (RFC 8693): who may act for the token's subject.

use std::sync::Arc;

use http::request::Parts;
use tower_layer::Layer;

use super::{route_layer, RouteCheck, RouteCheckService};
use crate::claims::context::describe_chain;
use crate::claims::{Actor, Grant};
use crate::reject::{shown, AuthError, AuthErrorKind, ConfigError};

/// Delegation rules (RFC 8693): who may act for the token's subject on this route. Tokens
/// nobody acts for pass; a delegated token (an `act` claim) passes only as the rules say. A
/// `may_act` claim, when the token has one, must permit the current actor. Refusals are 403
/// `insufficient_scope`; the log names the actor chain.
///
/// ```
/// use axum::{routing::{get, put}, Router};
/// use tower_jwt_auth::{ActorRule, JwtAuth, RequireActors};
///
/// let app: Router = Router::new()
///     // Partner support staff may read a customer's usage for them …
///     .route("/usage", get(|| async { "usage" }).layer(
///         RequireActors::allow([ActorRule::client("energyzero-partner-portal")]).max_depth(1),
///     ))
///     // … but only the customer changes where the money goes.
///     .route("/payout-account", put(|| async { "changed" }).layer(RequireActors::none()))
///     .layer(JwtAuth::new("https://auth-api.eliq.com", "insights-api"));
/// ```
#[derive(Clone, Debug)]
#[must_use = "a layer does nothing until applied with `.layer(..)`"]
pub struct RequireActors(Arc<Actors>);

#[derive(Debug, Clone)]
struct Actors {
    /// `None`: no delegated token passes.
    allowed: Option<Vec<ActorRule>>,
    max_depth: Option<usize>,
    error: Option<ConfigError>,
}

/// One party allowed to act for a subject: by its `sub`, its `client_id`, or both, optionally
/// only for tokens of one issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorRule {
    sub: Option<Box<str>>,
    client_id: Option<Box<str>>,
    issuer: Option<Box<str>>,
}

impl ActorRule {
    /// The actor whose `sub` is this.
    pub fn sub(sub: impl Into<String>) -> Self {
        Self {
            sub: Some(sub.into().into()),
            client_id: None,
            issuer: None,
        }
    }

    /// Any actor acting through this client (`client_id` of the `act` claim).
    pub fn client(client_id: impl Into<String>) -> Self {
        Self {
            sub: None,
            client_id: Some(client_id.into().into()),
            issuer: None,
        }
    }

    /// Also requires this client (with [`ActorRule::sub`]).
    pub fn with_client(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into().into());
        self
    }

    /// Only for tokens of this issuer ([`Grant::issuer`](crate::Grant::issuer)).
    pub fn for_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into().into());
        self
    }

    fn admits(&self, actor: &Actor, issuer: &str) -> bool {
        self.issuer.as_deref().is_none_or(|i| i == issuer)
            && self.sub.as_deref().is_none_or(|s| actor.sub() == Some(s))
            && (self.client_id.as_deref()).is_none_or(|c| actor.client_id() == Some(c))
    }
}

impl RequireActors {
    /// No one may act for the subject here: every delegated token is refused (the route is
    /// the subject's own).
    pub fn none() -> Self {
        Self(Arc::new(Actors {
            allowed: None,
            max_depth: None,
            error: None,
        }))
    }

    /// Only these actors (the current actor, the first of the chain) may act for the
    /// subject.
    pub fn allow(rules: impl IntoIterator<Item = ActorRule>) -> Self {
        let rules: Vec<ActorRule> = rules.into_iter().collect();
        let error = rules
            .iter()
            .any(|r| r.sub.is_none() && r.client_id.is_none())
            .then(|| ConfigError::new("ActorRule", "a rule names neither a sub nor a client"));
        Self(Arc::new(Actors {
            allowed: Some(rules),
            max_depth: None,
            error,
        }))
    }

    /// The longest actor chain accepted (1: an actor acting directly for the subject).
    pub fn max_depth(self, depth: usize) -> Self {
        let mut actors = Arc::unwrap_or_clone(self.0);
        actors.max_depth = Some(depth);
        Self(Arc::new(actors))
    }
}

impl RouteCheck for RequireActors {
    const NAME: &'static str = "RequireActors";

    fn check(&self, grant: &Grant, _: &Parts, _: u64) -> Result<(), AuthError> {
        let rules = &*self.0;
        let chain = grant.actors();
        let Some(current) = chain.first() else {
            return Ok(());
        };
        let refuse = |why: &str| {
            Err(
                AuthError::new(AuthErrorKind::ActorNotAllowed).with_context(format!(
                    "{why}; subject {}, actor chain: {}",
                    shown(grant.sub()),
                    describe_chain(chain)
                )),
            )
        };
        let Some(allowed) = &rules.allowed else {
            return refuse("the route refuses delegated tokens");
        };
        if rules.max_depth.is_some_and(|max| chain.len() > max) {
            return refuse(&format!(
                "the actor chain is {} deep, the route accepts {}",
                chain.len(),
                rules.max_depth.unwrap_or(0)
            ));
        }
        if let Some(may) = grant.may_act() {
            if !current.is_permitted_by(may) {
                return refuse(&format!("may_act permits {may}, not the current actor"));
            }
        }
        if !allowed.iter().any(|r| r.admits(current, grant.issuer())) {
            return refuse("the current actor is not on the route's list");
        }
        Ok(())
    }

    fn error(&self) -> Option<&ConfigError> {
        self.0.error.as_ref()
    }
}

impl<S> Layer<S> for RequireActors {
    type Service = RouteCheckService<S, RequireActors>;

    fn layer(&self, inner: S) -> Self::Service {
        route_layer(self, inner)
    }
}
