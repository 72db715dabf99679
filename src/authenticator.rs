//! Credentials → verdict, knowing nothing of tower: the [`Authenticator`] built once from a
//! [`Config`] and shared by every service of every layer derived from one
//! [`JwtAuth`](crate::JwtAuth), and the per-layer [`Gate`] (policy, optional, how to answer).

use std::fmt;
use std::sync::{Arc, OnceLock};

use http::HeaderMap;
use serde::de::DeserializeOwned;

use crate::claims::Claims;
use crate::config::Config;
use crate::error::{AuthError, AuthErrorKind, ConfigError};
use crate::issuer::Registry;
use crate::jwt::{Attempt, Need, Verifier};
use crate::keys::KeySetInfo;
use crate::layer::JwtAuth;
use crate::policy::Policy;
use crate::response::{outcome, Responder};
use crate::token;

/// The configuration and the authenticator built from it, once.
pub(crate) struct Core<C> {
    pub(crate) config: Config,
    built: OnceLock<Result<Arc<Authenticator<C>>, ConfigError>>,
}

impl<C: DeserializeOwned + Send + Sync + 'static> Core<C> {
    pub(crate) fn new(config: Config) -> Self {
        Self {
            config,
            built: OnceLock::new(),
        }
    }

    /// The authenticator, built on first use.
    pub(crate) fn authenticator(&self) -> Result<&Arc<Authenticator<C>>, &ConfigError> {
        self.built
            .get_or_init(|| Authenticator::build(&self.config).map(Arc::new))
            .as_ref()
    }
}

/// Turns a request's credentials into claims: the key source and the verified-token cache of
/// one configuration.
pub(crate) struct Authenticator<C> {
    verifier: Verifier<C>,
    max_token_size: usize,
    realm: Box<str>,
}

impl<C: DeserializeOwned + Send + Sync + 'static> Authenticator<C> {
    /// Validates the configuration and builds the issuers, their key sources and the caches.
    pub(crate) fn build(config: &Config) -> Result<Self, ConfigError> {
        config.validate()?;
        let issuers = Registry::build(config)?;
        Ok(Self {
            verifier: Verifier::new(
                issuers,
                (config.max_token_size, config.strict_rfc9068),
                config.token_cache,
            ),
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
        need: Need,
    ) -> Result<Claims<C>, AuthError> {
        self.verifier.verify_after(token, need).await
    }
}

impl<C> Authenticator<C> {
    /// The trusted issuers.
    pub(crate) fn issuers(&self) -> &Registry {
        self.verifier.issuers()
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

/// The runtime side of [`JwtAuth`]: verification and key loading outside tower.
impl<C> JwtAuth<C>
where
    C: DeserializeOwned + Send + Sync + 'static,
{
    /// The key set in use, if one is loaded: its `kid`s and timetable. For health endpoints and
    /// diagnostics; never key material.
    ///
    /// ```
    /// use tower_jwt_auth::JwtAuth;
    /// // Nothing is fetched before the first request or `ready()`.
    /// assert!(JwtAuth::new("https://auth-api.eliq.com", "insights-api").key_set().is_none());
    /// ```
    pub fn key_set(&self) -> Option<KeySetInfo> {
        self.authenticator().ok()?.issuers().primary().keys.info()
    }

    /// The key set of one trusted issuer (exact, a template's concrete tenant issuer, or one the
    /// resolver accepted), if loaded.
    ///
    /// ```
    /// use tower_jwt_auth::JwtAuth;
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api")
    ///     .add_issuer("https://auth-api-uat.eliq.com");
    /// assert!(auth.key_set_of("https://auth-api-uat.eliq.com").is_none()); // not loaded yet
    /// ```
    pub fn key_set_of(&self, issuer: &str) -> Option<KeySetInfo> {
        self.authenticator()
            .ok()?
            .issuers()
            .select(issuer)?
            .keys
            .info()
    }

    /// Verifies a token as the layer would, policy included (scopes, `sub_type`): for code
    /// outside tower (WebSocket upgrades, jobs).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use tower_jwt_auth::{testing::TestIssuer, JwtAuth};
    /// let issuer = TestIssuer::start().await;
    /// let auth = JwtAuth::new(issuer.url(), "insights-api").require_sub_type("user");
    /// let token = issuer.token().sub("user-1042").sub_type("user").sign();
    /// let claims = auth.verify(&token).await.unwrap();
    /// assert_eq!(claims.sub, "user-1042");
    /// # }
    /// ```
    ///
    /// # Errors
    /// The [`AuthError`] the layer would have answered with.
    pub async fn verify(&self, token: &str) -> Result<Claims<C>, AuthError> {
        let verdict = match (self.authenticator(), &self.layer.error) {
            (Ok(auth), None) => {
                let verified = auth.verify(token).await;
                verified.and_then(|claims| {
                    self.layer.policy.check(claims.grant())?;
                    Ok(claims)
                })
            }
            (Err(e), _) | (_, Some(e)) => Err(misconfigured(e)),
        };
        if let Err(e) = &verdict {
            log_refusal(e);
        }
        verdict
    }

    /// Loads the keys now (discovery and JWK set) of every configured issuer (each allowed
    /// tenant of a template included; issuers a resolver accepts load on first use) and reports
    /// the first failure, for services that want to fail fast at startup. Without it, keys are
    /// loaded on first use.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use tower_jwt_auth::{testing::TestIssuer, JwtAuth};
    /// let issuer = TestIssuer::start().await;
    /// JwtAuth::new(issuer.url(), "insights-api").ready().await.expect("keys load");
    /// assert_eq!(issuer.jwks_requests(), 1);
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`AuthErrorKind::Misconfigured`] with the [`ConfigError`] (or, when the discovery
    /// document names another issuer, the [`KeySourceError`](crate::KeySourceError)) as source,
    /// or [`AuthErrorKind::KeysUnavailable`] with the fetch failure as source.
    pub async fn ready(&self) -> Result<(), AuthError> {
        match (self.authenticator(), &self.layer.error) {
            (Ok(auth), None) => {
                for issuer in auth.issuers().all_static() {
                    issuer.keys.load_now().await?;
                }
                Ok(())
            }
            (Err(e), _) | (_, Some(e)) => Err(misconfigured(e)),
        }
    }
}

fn misconfigured(e: &ConfigError) -> AuthError {
    AuthError::new(AuthErrorKind::Misconfigured).with_source(e.clone())
}

/// One layer: the shared authenticator, and what the layer adds to it: its policy, whether
/// anonymous requests pass, and how it answers.
#[derive(Debug)]
pub(crate) struct Gate<C> {
    pub(crate) auth: Arc<Authenticator<C>>,
    pub(crate) policy: Policy,
    pub(crate) optional: bool,
    pub(crate) responder: Responder,
}

impl<C> Gate<C> {
    /// The verification result with the layer's policy applied on top: the one place both are
    /// combined.
    pub(crate) fn admit(
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
    let context = error.context().map(tracing::field::display);
    let source = error.source_chain();
    let source = source.as_deref().map(tracing::field::display);
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
    use crate::issuer::Issuer;

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
        let with_primary = |primary: Issuer| Config { primary, ..ok() };
        let primary = || Issuer::new("https://auth-api.eliq.com");
        assert_eq!(build(with_primary(primary().jwks("{}"))).field(), "jwks");
        let err = build(with_primary(primary().jwks_uri("http://a.example/k")));
        assert_eq!(err.field(), "jwks_uri");
        assert!(err.reason().contains("https"), "{err}");
    }
}
