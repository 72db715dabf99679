//! Credentials → verdict, knowing nothing of tower: the [`Authenticator`] built once from a
//! [`Config`] and shared by every service of every layer derived from one
//! [`JwtAuth`](crate::JwtAuth), and the per-layer [`Gate`] (policy, optional, how to answer).

use std::fmt;
use std::sync::Arc;

use http::HeaderMap;
use serde::de::DeserializeOwned;

use crate::claims::Claims;
use crate::config::Config;
use crate::error::{AuthError, AuthErrorKind, ConfigError};
use crate::http::Fetcher;
use crate::jwt::{Attempt, Rules, Verifier};
use crate::keys::KeySource;
use crate::policy::Policy;
use crate::response::{outcome, Responder};
use crate::token;

/// Turns a request's credentials into claims: the key source and the verified-token cache of
/// one configuration.
pub(crate) struct Authenticator<C> {
    verifier: Verifier<C>,
    max_token_size: usize,
    realm: Box<str>,
}

impl<C: DeserializeOwned + Send + Sync + 'static> Authenticator<C> {
    /// Validates the configuration and builds the key source and the caches.
    pub(crate) fn build(config: &Config) -> Result<Self, ConfigError> {
        let origin = config.validate()?;
        let keys = Arc::new(KeySource::new(
            origin.origin,
            Fetcher::new(config.fetch.clone(), config.http_client.clone()),
            Arc::clone(&config.clock),
            config.cache.clone(),
            config.algorithms,
            origin.fixed,
        ));
        let rules = Rules {
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            leeway: config.leeway.as_secs(),
            max_token_size: config.max_token_size,
            max_lifetime: config.max_lifetime.map(|d| d.as_secs()),
            strict_rfc9068: config.strict_rfc9068,
            algorithms: config.algorithms,
        };
        Ok(Self {
            verifier: Verifier::new(rules, keys, config.token_cache),
            max_token_size: config.max_token_size,
            realm: config.audience.as_str().into(),
        })
    }

    /// The request's bearer token; `None` when it carries no bearer credentials.
    pub(crate) fn credential<'r>(
        &self,
        headers: &'r HeaderMap,
    ) -> Result<Option<&'r str>, AuthError> {
        token::bearer(headers, self.max_token_size)
    }

    /// Verifies with the keys at hand, or says which keys are needed.
    pub(crate) fn try_verify(&self, token: &str) -> Attempt<C> {
        let _span = tracing::debug_span!("jwt_verify").entered();
        self.verifier.try_verify(token)
    }

    /// Verifies, waiting for keys when needed.
    pub(crate) async fn verify(&self, token: &str) -> Result<Claims<C>, AuthError> {
        self.verifier.verify(token).await
    }

    /// The slow path of [`Authenticator::try_verify`].
    pub(crate) async fn verify_after(
        &self,
        token: &str,
        why: crate::keys::Why,
    ) -> Result<Claims<C>, AuthError> {
        self.verifier.verify_after(token, why).await
    }
}

impl<C> Authenticator<C> {
    pub(crate) fn keys(&self) -> &Arc<KeySource> {
        self.verifier.keys()
    }

    /// The realm of challenges: the audience.
    pub(crate) fn realm(&self) -> &str {
        &self.realm
    }
}

impl<C> fmt::Debug for Authenticator<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("verifier", &self.verifier)
            .finish_non_exhaustive()
    }
}

/// What one layer adds to the shared authenticator: its policy, whether anonymous requests
/// pass, and how it answers.
#[derive(Debug)]
pub(crate) struct Gate {
    pub(crate) policy: Policy,
    pub(crate) optional: bool,
    pub(crate) responder: Responder,
}

impl Gate {
    /// The verification result with the layer's policy applied on top: the one place both are
    /// combined.
    pub(crate) fn admit<C>(
        &self,
        verified: Result<Claims<C>, AuthError>,
    ) -> Result<Claims<C>, AuthError> {
        let claims = verified?;
        self.policy.check(claims.grant())?;
        Ok(claims)
    }

    /// The response for a refusal, with its log event.
    pub(crate) fn refuse(&self, error: &AuthError, grpc: bool) -> http::Response<bytes::Bytes> {
        log_refusal(error);
        self.responder.respond(error, grpc)
    }
}

/// The log event of a refusal: its kind, and what a person needs to fix it (the expected and
/// found values, the whole chain of a fetch failure). Never the token or a signature.
pub(crate) fn log_refusal(error: &AuthError) {
    let kind = error.kind();
    let context = error.context();
    let source = error.source_chain();
    let source = source.as_deref();
    match kind {
        AuthErrorKind::MissingToken => {
            tracing::debug!(?kind, "request refused: no bearer token");
        }
        AuthErrorKind::KeysUnavailable => {
            tracing::warn!(?kind, context, source, "request refused: no signing keys");
        }
        _ if outcome(kind).status.is_server_error() => {
            tracing::error!(?kind, context, source, "request refused: misconfigured");
        }
        _ => {
            let reason = error.description();
            tracing::info!(?kind, reason, context, source, "bearer token refused");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithm::AlgorithmSet;

    #[test]
    fn a_configuration_is_validated_when_built() {
        let build = |c: Config| Authenticator::<crate::AccessClaims>::build(&c).unwrap_err();
        let ok = || Config::new("https://auth-api.eliq.com".into(), "insights-api".into());
        assert_eq!(
            build(Config::new("http://a.example".into(), "x".into())).field(),
            "issuer"
        );
        assert_eq!(
            build(Config {
                audience: String::new(),
                ..ok()
            })
            .field(),
            "audience"
        );
        assert_eq!(
            build(Config {
                algorithms: AlgorithmSet::EMPTY,
                ..ok()
            })
            .field(),
            "algorithms"
        );
        assert_eq!(
            build(Config {
                max_token_size: 0,
                ..ok()
            })
            .field(),
            "max_token_size"
        );
        assert_eq!(
            build(Config {
                fixed_jwks: Some("{}".into()),
                ..ok()
            })
            .field(),
            "jwks"
        );
        let err = build(Config {
            jwks_uri: Some("http://a.example/k".into()),
            ..ok()
        });
        assert_eq!(err.field(), "jwks_uri");
        assert!(err.reason().contains("https"), "{err}");
    }
}
