//! One layer's share of the work: the authenticator every layer of a configuration shares, and
//! what this layer adds to it (policy, rules, token sources, anonymous access, how it answers).

use std::fmt;
use std::sync::Arc;

use http::HeaderMap;

use crate::authenticator::Authenticator;
use crate::binding::ClientCertificate;
use crate::claims::Claims;
use crate::credential::token::{Found, Scheme, Sources};
use crate::metrics;
use crate::policy::rules::{check_rules, RuleFn};
use crate::policy::Policy;
use crate::reject::{log_refusal, AuthError, AuthErrorKind, Reply, Responder};

/// One layer: the shared authenticator, and what the layer adds to it: its policy, whether
/// anonymous requests pass, and how it answers.
pub(crate) struct Gate<C> {
    pub(crate) auth: Arc<Authenticator<C>>,
    pub(crate) policy: Policy,
    pub(crate) rules: Vec<Arc<RuleFn<C>>>,
    pub(crate) sources: Sources,
    pub(crate) optional: bool,
    pub(crate) responder: Responder,
}

impl<C> fmt::Debug for Gate<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gate")
            .field("auth", &self.auth)
            .field("policy", &self.policy)
            .field("rules", &self.rules.len())
            .field("sources", &self.sources)
            .field("optional", &self.optional)
            .field("responder", &self.responder)
            .finish()
    }
}

/// A delegated request is auditable: its actor chain goes on the current span (field `actors`,
/// when the span declares it) and into an info event beside the subject.
fn audit_delegation(grant: &crate::claims::Grant) {
    if !grant.is_delegated() {
        return;
    }
    let chain = crate::claims::context::describe_chain(grant.actors());
    tracing::Span::current().record("actors", tracing::field::display(&chain));
    tracing::info!(
        sub = %crate::reject::shown(grant.sub()),
        issuer = %grant.issuer(),
        actors = %chain,
        "delegated request admitted"
    );
}

impl<C> Gate<C> {
    /// The request's token and how it was presented, from the `Authorization` header or the
    /// layer's other sources.
    pub(crate) fn credential<'r>(
        &self,
        headers: &'r HeaderMap,
    ) -> Result<Option<(&'r str, Scheme, Found)>, AuthError> {
        let dpop = self.auth.bindings().dpop_enabled();
        self.sources
            .presented(headers, self.auth.max_token_size(), dpop)
    }

    /// The most a `DPoP` proof header may hold.
    pub(crate) fn max_proof_size(&self) -> usize {
        self.auth.max_token_size()
    }

    /// The request's client certificate, when certificate-bound tokens are accepted.
    pub(crate) fn certificate(&self, extensions: &http::Extensions) -> Option<ClientCertificate> {
        if self.auth.bindings().wants_certificate() {
            crate::binding::client_certificate(extensions)
        } else {
            None
        }
    }

    /// The verification result of a credential presented as a bearer token, with its binding,
    /// the layer's policy and rules applied on top: the one place they are combined.
    pub(crate) fn admit(
        &self,
        verified: Result<Claims<C>, AuthError>,
        certificate: Option<ClientCertificate>,
        (found, token): (Found, &[u8]),
    ) -> Result<Claims<C>, AuthError> {
        let claims = verified?;
        self.check_presented(&claims, (found, token))?;
        self.auth
            .bindings()
            .check_bearer(claims.grant(), certificate)
            .map_err(|e| claims.grant().tie(e))?;
        self.admit_policy(claims)
    }

    /// What every credential must pass once verified, whatever its binding: found where its
    /// issuer delivers tokens, and not revoked.
    pub(crate) fn check_presented(
        &self,
        claims: &Claims<C>,
        (found, token): (Found, &[u8]),
    ) -> Result<(), AuthError> {
        self.check_location(claims, found)?;
        self.auth.check_revoked(claims, token)
    }

    /// A token was found where its issuer delivers tokens: a proxy-asserted token only in
    /// its proxy's header, any other only in `Authorization` or the layer's own sources.
    fn check_location(&self, claims: &Claims<C>, found: Found) -> Result<(), AuthError> {
        let expected = claims.grant().delivery_header();
        let fits = match (found, expected) {
            (Found::Proxy(i), Some(header)) => self
                .sources
                .proxies
                .get(i)
                .is_some_and(|p| p.header == *header),
            (Found::Proxy(_), None) | (_, Some(_)) => false,
            (_, None) => true,
        };
        if fits {
            return Ok(());
        }
        let err = AuthError::new(AuthErrorKind::WrongTokenLocation).with_context(format!(
            "token found in {}, this issuer reads {}",
            self.sources.describe(found),
            expected.map_or("Authorization", |h| h.as_str())
        ));
        Err(claims.grant().tie(err))
    }

    /// The policy and rules, for a credential whose binding holds.
    pub(crate) fn admit_policy(&self, claims: Claims<C>) -> Result<Claims<C>, AuthError> {
        let tied = |e: AuthError| claims.grant().tie(e);
        self.policy.check(claims.grant()).map_err(tied)?;
        check_rules(&self.rules, &claims).map_err(tied)?;
        audit_delegation(claims.grant());
        metrics::accepted(claims.grant());
        Ok(claims)
    }

    /// The response for a refusal, with its log event.
    pub(crate) fn refuse(&self, error: &AuthError, reply: Reply) -> http::Response<bytes::Bytes> {
        log_refusal(error);
        metrics::refused(error);
        self.responder.respond(error, reply)
    }
}
