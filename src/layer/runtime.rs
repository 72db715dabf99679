//! The runtime side of [`JwtAuth`] outside tower: verifying a token, loading and reporting
//! keys, the RFC 9728 document.

use serde::de::DeserializeOwned;

use super::JwtAuth;
use crate::claims::Claims;
use crate::keys::KeySetInfo;
use crate::metadata::MetadataService;
use crate::policy::rules::check_rules;
use crate::reject::{log_refusal, AuthError, AuthErrorKind, ConfigError};

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
                let verified = auth.authenticate(token).await;
                verified.and_then(|claims| {
                    auth.check_revoked(&claims, token.as_bytes())?;
                    auth.bindings().check_bearer(claims.grant(), None)?;
                    self.layer.policy.check(claims.grant())?;
                    check_rules(&self.rules, &claims)?;
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

    /// The path at which to serve [`metadata_service`](JwtAuth::metadata_service): the RFC 9728
    /// well-known prefix `/.well-known/oauth-protected-resource` followed by the resource's
    /// path (`/mcp` for `https://mcp.example.com/mcp`). Without
    /// [`resource_metadata`](JwtAuth::resource_metadata), the audience stands for the
    /// resource.
    ///
    /// ```
    /// use tower_jwt_auth::{JwtAuth, ResourceMetadata};
    /// let auth = JwtAuth::new("https://auth.example.com", "https://api.example.com/v1/")
    ///     .resource_metadata(ResourceMetadata::new("https://api.example.com/v1/"));
    /// assert_eq!(auth.metadata_path(), "/.well-known/oauth-protected-resource/v1");
    /// ```
    pub fn metadata_path(&self) -> &str {
        self.core.metadata_path.get_or_init(|| {
            let config = &self.core.config;
            let resource = config
                .resource_metadata
                .as_ref()
                .map_or(config.audience(), |m| m.resource());
            crate::metadata::well_known_path(resource)
        })
    }

    /// The RFC 9728 document as a `Clone` tower service, to mount at
    /// [`metadata_path`](JwtAuth::metadata_path) outside the layer (it is public): `GET` and
    /// `HEAD` answer the JSON, other methods 405; without
    /// [`resource_metadata`](JwtAuth::resource_metadata) it answers 404.
    ///
    /// ```
    /// use axum::{routing::get, Router};
    /// use tower_jwt_auth::{JwtAuth, ResourceMetadata};
    /// let auth = JwtAuth::new("https://auth.example.com", "https://mcp.example.com/mcp")
    ///     .resource_metadata(ResourceMetadata::new("https://mcp.example.com/mcp"));
    /// let app: Router = Router::new()
    ///     .route("/mcp", get(|| async { "tools" }))
    ///     .layer(auth.clone())
    ///     .route_service(auth.metadata_path(), auth.metadata_service());
    /// ```
    ///
    /// # Panics
    /// When the configuration is unusable, as [applying the layer](JwtAuth#impl-Layer<S>-for-JwtAuth<C>) does.
    pub fn metadata_service(&self) -> MetadataService {
        match (self.authenticator(), &self.layer.error) {
            (Ok(auth), None) => MetadataService::new(auth.published().cloned()),
            (Err(e), _) | (_, Some(e)) => panic!("tower-jwt-auth: {e}"),
        }
    }

    /// A Shared Signals receiver (SSF 1.0, RFC 8935 push delivery) for this layer's issuers,
    /// as a `Clone` tower service to mount outside the layer (its caller is the transmitter,
    /// not a user): Security Event Tokens whose `aud` is `audience`, signed by a trusted
    /// issuer's keys, whose CAEP and RISC events revoke through this layer's
    /// [`revocations`](JwtAuth::revocations). See
    /// [`SecurityEventReceiver`](crate::service::SecurityEventReceiver).
    ///
    /// ```
    /// use axum::{routing::get, Router};
    /// use tower_jwt_auth::{JwtAuth, Revocations};
    /// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api")
    ///     .revocations(Revocations::new());
    /// let app: Router = Router::new()
    ///     .route("/usage", get(|| async { "usage" }))
    ///     .layer(auth.clone())
    ///     .route_service(
    ///         "/ssf/events",
    ///         auth.security_event_receiver("https://insights.eliq.com/ssf").transmitter_token("s3cr3t"),
    ///     );
    /// ```
    ///
    /// # Panics
    /// When the configuration is unusable, or has no [`revocations`](JwtAuth::revocations),
    /// as applying the layer does.
    pub fn security_event_receiver(
        &self,
        audience: impl Into<String>,
    ) -> crate::service::SecurityEventReceiver {
        let auth = match (self.authenticator(), &self.layer.error) {
            (Ok(auth), None) => auth,
            (Err(e), _) | (_, Some(e)) => panic!("tower-jwt-auth: {e}"),
        };
        let Some(revocations) = auth.revocations() else {
            panic!(
                "tower-jwt-auth: invalid `revocations`: a security event receiver revokes through \
                 the layer's revocations(..), and none is configured"
            );
        };
        let keys: std::sync::Arc<dyn crate::revocation::receiver::SetKeys> = auth.clone();
        crate::service::SecurityEventReceiver::new(
            keys,
            revocations.clone(),
            audience.into(),
            self.core.config.rules.leeway.as_secs(),
        )
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
