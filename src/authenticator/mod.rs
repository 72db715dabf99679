//! Credentials → verdict, knowing nothing of tower: the [`Authenticator`] built once from a
//! [`Config`] and shared by every service of every layer derived from one
//! [`JwtAuth`](crate::JwtAuth), and the per-layer [`Gate`] (policy, optional, how to answer).

pub(crate) mod config;
pub(crate) mod options;

use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::de::DeserializeOwned;

use crate::authenticator::config::Config;
use crate::binding::Bindings;
use crate::claims::{Claims, Grant};
use crate::clock::Clock;
use crate::credential::api_key::{ApiKey, Prefixes};
use crate::credential::token::Proxy;
use crate::credential::Credential;
use crate::credential::GrantId;
use crate::credential::NO_EXPIRY;
use crate::introspection::{Endpoint, Expect, Introspector, Routing};
use crate::issuer::Registry;
use crate::jwt::{Attempt, DirectClaims, Need, Verifier};
use crate::metadata::Published;
use crate::metrics;
use crate::outbound::{parse_url, Fetcher};
use crate::reject::{shown, AuthError, AuthErrorKind, ConfigError};
use crate::revocation::Revocations;

/// The configuration and the authenticator built from it, once.
pub(crate) struct Core<C> {
    pub(crate) config: Config,
    /// How the claims type is made from the registered claims without a second parse of the
    /// payload, when it can be ([`AccessClaims`](crate::AccessClaims)).
    pub(crate) direct: Option<DirectClaims<C>>,
    built: OnceLock<Result<Arc<Authenticator<C>>, ConfigError>>,
    /// Where the RFC 9728 document is served, derived from the configuration on first ask.
    pub(crate) metadata_path: OnceLock<String>,
}

impl<C: DeserializeOwned + Send + Sync + 'static> Core<C> {
    pub(crate) fn new(config: Config, direct: Option<DirectClaims<C>>) -> Self {
        Self {
            config,
            direct,
            built: OnceLock::new(),
            metadata_path: OnceLock::new(),
        }
    }

    /// The authenticator, built on first use.
    pub(crate) fn authenticator(&self) -> Result<&Arc<Authenticator<C>>, &ConfigError> {
        self.built
            .get_or_init(|| Authenticator::build(&self.config, self.direct).map(Arc::new))
            .as_ref()
    }
}

/// Turns a request's credentials into claims: the key source and the verified-token cache of
/// one configuration, its introspection endpoint and its API-key validators.
pub(crate) struct Authenticator<C> {
    verifier: Verifier<C>,
    introspector: Option<Introspector<C>>,
    api_keys: Prefixes,
    /// The claims built from stored API-key grants, by grant and route.
    api_key_claims: quick_cache::sync::Cache<(usize, usize), (GrantId, Claims<C>)>,
    clock: Arc<dyn Clock>,
    leeway: u64,
    max_token_size: usize,
    realm: Box<str>,
    /// The RFC 9728 document, when configured.
    published: Option<Arc<Published>>,
    /// DPoP and certificate binding.
    bindings: Bindings,
    /// Revoked credentials, checked after every verdict.
    revocations: Option<Revocations>,
}

/// Where a credential goes, decided by its shape alone, before any parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// The API-key validator at this index (the longest matching prefix).
    ApiKey(usize),
    /// A compact JWS (or anything, without introspection): JWT verification.
    Jwt,
    /// Anything else, with introspection configured.
    Opaque,
}

/// The outcome of a synchronous attempt at a credential.
pub(crate) enum Step<C> {
    Done(Result<Claims<C>, AuthError>),
    /// The verdict needs I/O (or a validator's future) first.
    Wait(Wait),
}

/// What a credential waits for.
pub(crate) enum Wait {
    Keys(Need),
    Introspection,
    ApiKey(usize),
}

impl Wait {
    /// Whether the wait may well end at once (an in-memory validator's ready future), so that
    /// polling it once inline is worth trying.
    pub(crate) fn may_be_ready(&self) -> bool {
        matches!(self, Wait::ApiKey(_))
    }
}

/// Stored API-key grants whose claims are remembered.
const API_KEY_CLAIMS: usize = 10_000;

/// The RFC 9728 document, naming every configured issuer (each allowed tenant of a template)
/// as an authorization server.
fn published(config: &Config) -> Result<Option<Arc<Published>>, ConfigError> {
    let Some(meta) = &config.resource_metadata else {
        return Ok(None);
    };
    let resource = meta.validate(config.audience())?;
    let binding = crate::metadata::Binding {
        dpop: config.dpop.as_ref().map(|d| {
            let algorithms = d.algorithms_within(config.proof_algorithms());
            (
                algorithms.iter().map(|a| a.as_str()).collect(),
                d.is_required(),
            )
        }),
        certificates: config.certificate_bound,
    };
    let mut servers = vec![config.primary.url.clone()];
    for issuer in &config.issuers {
        match &issuer.tenants {
            None => servers.push(issuer.url.clone()),
            Some(tenants) => servers.extend(
                tenants
                    .iter()
                    .map(|t| issuer.url.replacen("{tenant}", t, 1)),
            ),
        }
    }
    Ok(Some(Arc::new(Published::new(
        meta, &resource, servers, &binding,
    ))))
}

/// The introspection endpoints of the primary issuer and the added ones, in that order, each
/// checking answers against its own issuer's audience and leeway.
fn introspectors<C: DeserializeOwned + Send + Sync + 'static>(
    config: &Config,
    issuers: &Registry,
) -> Result<Option<Introspector<C>>, ConfigError> {
    let fetcher = Arc::new(Fetcher::keep_alive(
        config.issuer_setup().fetch,
        config.fetching.http_client.clone(),
    ));
    let mut endpoints = Vec::new();
    for issuer in std::iter::once(&config.primary).chain(&config.issuers) {
        let Some(settings) = &issuer.introspection else {
            continue;
        };
        let Some(trusted) = issuers.select(&issuer.url) else {
            continue;
        };
        let rules = &trusted.rules;
        let issuer_url =
            parse_url(&rules.issuer).map_err(|e| ConfigError::new("introspection", e))?;
        let expect = Expect {
            issuer: Arc::clone(&rules.issuer),
            audiences: Arc::clone(&rules.audiences),
            leeway: rules.leeway,
            roles: Arc::clone(&rules.roles),
        };
        endpoints.push(Endpoint::new(
            settings.clone(),
            (issuer_url, expect),
            Arc::clone(&fetcher),
        )?);
    }
    let routing = Routing {
        in_turn: config.introspection_in_turn,
        primary_first: config.primary.introspection.is_some(),
        api_key_prefixes: config.api_keys.prefixes().map(str::to_owned).collect(),
    };
    Introspector::new(endpoints, &routing, Arc::clone(&config.clock))
}

/// `header.payload.signature`, each segment non-empty base64url: the shape of a compact JWS.
///
/// The token is already a `b64token` (RFC 6750 §2.1: letters, digits, `-._~+/`, trailing `=`),
/// so this only counts dots and looks for the characters base64url lacks, in branch-free passes
/// the compiler vectorises: it runs on every request once introspection is configured.
fn is_compact_jws(token: &str) -> bool {
    fn count(block: &[u8]) -> (u8, u8) {
        let (mut dots, mut foreign) = (0u8, 0u8);
        for &b in block {
            dots += u8::from(b == b'.');
            foreign |= u8::from(b == b'~')
                | u8::from(b == b'+')
                | u8::from(b == b'/')
                | u8::from(b == b'=');
        }
        (dots, foreign)
    }
    let blocks = token.as_bytes().chunks_exact(32);
    let (dots, mut foreign) = count(blocks.remainder());
    let mut dots = usize::from(dots);
    for block in blocks {
        let (d, f) = count(block);
        dots += usize::from(d);
        foreign |= f;
    }
    if dots != 2 || foreign != 0 {
        return false;
    }
    token.split('.').all(|s| !s.is_empty())
}

impl<C: DeserializeOwned + Send + Sync + 'static> Authenticator<C> {
    /// Validates the configuration and builds the issuers, their key sources and the caches.
    pub(crate) fn build(
        config: &Config,
        direct: Option<DirectClaims<C>>,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        metrics::describe();
        let issuers = Registry::build(config.issuer_setup())?;
        let introspector = introspectors(config, &issuers)?;
        Ok(Self {
            verifier: Verifier::new(
                issuers,
                (config.rules.max_token_size, config.strict_rfc9068()),
                config.caches.verified_tokens,
                direct,
            ),
            introspector,
            api_keys: config.api_keys.clone(),
            api_key_claims: quick_cache::sync::Cache::new(API_KEY_CLAIMS),
            clock: Arc::clone(&config.clock),
            leeway: config.rules.leeway.as_secs(),
            max_token_size: config.rules.max_token_size,
            realm: config.audience().into(),
            published: published(config)?,
            bindings: Bindings::build(config.binding_setup(), Arc::clone(&config.clock))?,
            revocations: config.revocations.clone(),
        })
    }

    /// The remembered verdict on a JWT verified before, looked up with the raw bytes of a
    /// request's `Authorization: Bearer` value before any other check: equal bytes are a token
    /// that passed them all.
    /// An API key is never looked for there.
    pub(crate) fn cached_bearer(&self, token: &[u8]) -> Option<Claims<C>> {
        if self.api_keys.route_bytes(token).is_some() {
            return None;
        }
        self.verifier.cached(token)
    }

    /// The proxies the issuers' tokens arrive through, and whether any credential (a token of
    /// another issuer, an opaque token, an API key) arrives in `Authorization`.
    pub(crate) fn locations(&self) -> (Vec<Proxy>, bool) {
        let (proxies, authorization) = self.verifier.issuers().locations();
        let proxies = proxies
            .into_iter()
            .map(|(header, cookie)| Proxy { header, cookie })
            .collect();
        let others = self.introspector.is_some() || self.api_keys.prefixes().next().is_some();
        (proxies, authorization || others)
    }

    /// Whether `token` has the shape of a compact JWS; padded base64url counts where an
    /// issuer sends it (AWS load balancers), so that such a token never goes to introspection.
    fn is_jws(&self, token: &str) -> bool {
        is_compact_jws(token)
            || (self.verifier.issuers().accepts_padding()
                && token.split('.').count() == 3
                && token.split('.').all(|s| {
                    let body = s.trim_end_matches('=');
                    !body.is_empty()
                        && s.len() - body.len() <= 2
                        && body
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                }))
    }

    /// Where `token` goes.
    pub(crate) fn route(&self, token: &str) -> Route {
        if let Some(index) = self.api_keys.route(token) {
            Route::ApiKey(index)
        } else if self
            .introspector
            .as_ref()
            .is_some_and(|i| !self.is_jws(token) && i.takes(token))
        {
            Route::Opaque
        } else {
            // A JWT, or an opaque token no introspection endpoint takes: verification refuses
            // the latter as malformed, without showing it to anyone.
            Route::Jwt
        }
    }

    /// The verdict on any credential when it needs no I/O (a JWT with its keys at hand, a
    /// remembered introspection); otherwise what it waits for.
    ///
    /// `probed`: [`Authenticator::cached_bearer`] already missed for this token, so the JWT
    /// cache is not asked again before routing.
    pub(crate) fn try_authenticate(&self, token: &str, probed: bool) -> Step<C> {
        if !probed && self.introspector.is_some() && self.api_keys.route(token).is_none() {
            // A JWT verified before needs no shape check: a cache hit costs the same with
            // introspection configured as without.
            if let Some(claims) = self.verifier.cached(token.as_bytes()) {
                return Step::Done(Ok(claims));
            }
        }
        match self.route(token) {
            Route::Jwt => match self.try_verify(token) {
                Attempt::Done(verdict) => Step::Done(judged(verdict, Credential::Jwt)),
                Attempt::NeedKeys(need) => Step::Wait(Wait::Keys(need)),
            },
            Route::Opaque => {
                let cached = self.introspector.as_ref().and_then(|i| i.cached(token));
                metrics::introspection_cache(cached.is_some());
                match cached {
                    Some(verdict) => Step::Done(judged(verdict, Credential::Introspected)),
                    None => Step::Wait(Wait::Introspection),
                }
            }
            Route::ApiKey(index) => Step::Wait(Wait::ApiKey(index)),
        }
    }

    /// The verdict on any credential, waiting as needed.
    pub(crate) async fn authenticate(&self, token: &str) -> Result<Claims<C>, AuthError> {
        match self.try_authenticate(token, false) {
            Step::Done(verdict) => verdict,
            Step::Wait(wait) => self.authenticate_after(token, wait).await,
        }
    }

    /// The slow path of [`Authenticator::try_authenticate`].
    pub(crate) async fn authenticate_after(
        &self,
        token: &str,
        wait: Wait,
    ) -> Result<Claims<C>, AuthError> {
        match wait {
            Wait::Keys(need) => judged(self.verify_after(token, need).await, Credential::Jwt),
            Wait::Introspection => match &self.introspector {
                Some(introspector) => judged(
                    introspector.introspect(token).await,
                    Credential::Introspected,
                ),
                None => Err(AuthErrorKind::Internal.into()),
            },
            Wait::ApiKey(index) => {
                judged(self.check_api_key(token, index).await, Credential::ApiKey)
            }
        }
    }

    /// Asks the prefix's validator, and turns its grant into claims (once per stored grant).
    async fn check_api_key(&self, token: &str, index: usize) -> Result<Claims<C>, AuthError> {
        let (prefix, validator) = self.api_keys.get(index);
        let key = ApiKey::routed(token, prefix.len());
        let grant = match validator.lookup(&key).await {
            Ok(Some(grant)) => grant,
            Ok(None) => {
                return Err(AuthError::new(AuthErrorKind::UnknownApiKey)
                    .with_context(format!("no key with prefix {} is known", shown(prefix))))
            }
            Err(e) => {
                return Err(AuthError::new(AuthErrorKind::ValidationUnavailable)
                    .with_context(format!(
                        "the API-key validator for prefix {} failed",
                        shown(prefix)
                    ))
                    .with_source(e)
                    .with_retry_after(std::time::Duration::from_secs(5)))
            }
        };
        if let Some(exp) = grant.expiry() {
            let now = self.clock.now();
            if now >= exp.saturating_add(self.leeway) {
                return Err(AuthError::new(AuthErrorKind::Expired).with_context(format!(
                    "the API key with prefix {} expired at {exp}, {} s before now",
                    shown(prefix),
                    now - exp
                )));
            }
        }
        // A stored grant is converted into claims once, not on every request.
        let id = grant.identity();
        if let Some((_, claims)) = self
            .api_key_claims
            .get(&(id.key(), index))
            .filter(|(known, _)| known.is(&grant))
        {
            return Ok(claims);
        }
        let primary = &self.issuers().primary().rules;
        // An API key is vouched for by its validator, not by an OAuth issuer.
        let vouched_by: Arc<str> = format!("api-key:{prefix}").into();
        let object = grant.claims_object(&vouched_by, primary.audience());
        let claims: C = serde_json::from_value(object).map_err(|e| {
            AuthError::new(AuthErrorKind::InvalidClaim)
                .with_detail("the token claims do not fit the expected claims type")
                .with_context(format!(
                    "the grant of an API key with prefix {} does not fit the claims type",
                    shown(prefix)
                ))
                .with_source(e)
        })?;
        let g = Grant::new(
            (
                grant.sub(),
                grant.granted_sub_type(),
                grant.granted_client_id(),
                None,
            ),
            &grant.granted_scopes().join(" "),
            (grant.expiry().unwrap_or(NO_EXPIRY), None),
            (vouched_by, None),
        )
        .with_credential(Credential::ApiKey)
        .with_roles(
            grant
                .granted_roles()
                .iter()
                .map(|r| r.as_str().into())
                .collect(),
        );
        let claims = Claims::new(claims, g);
        self.api_key_claims
            .insert((id.key(), index), (id, claims.clone()));
        Ok(claims)
    }

    /// Verifies with the keys at hand, or says which keys are needed.
    pub(crate) fn try_verify(&self, token: &str) -> Attempt<C> {
        let _span = tracing::debug_span!("jwt_verify").entered();
        self.verifier.try_verify(token)
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

impl<C: Send + Sync + 'static> crate::revocation::receiver::SetKeys for Authenticator<C> {
    fn registry(&self) -> &Registry {
        self.issuers()
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

    /// The RFC 9728 document, when configured.
    pub(crate) fn published(&self) -> Option<&Arc<Published>> {
        self.published.as_ref()
    }

    /// DPoP and certificate binding.
    pub(crate) fn bindings(&self) -> &Bindings {
        &self.bindings
    }

    /// The longest token (and `DPoP` proof) read.
    pub(crate) fn max_token_size(&self) -> usize {
        self.max_token_size
    }
}

impl<C> fmt::Debug for Authenticator<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("verifier", &self.verifier)
            .finish_non_exhaustive()
    }
}

/// A refusal remembers how the credential was judged (for metrics); a verdict passes as it is.
fn judged<C>(
    verdict: Result<Claims<C>, AuthError>,
    credential: Credential,
) -> Result<Claims<C>, AuthError> {
    verdict.map_err(|e| e.judged_as(credential))
}

impl<C> Authenticator<C> {
    /// Whether the credential of `claims` (presented as `token`) was revoked: after every
    /// verdict, cached or not.
    pub(crate) fn check_revoked(&self, claims: &Claims<C>, token: &[u8]) -> Result<(), AuthError> {
        match &self.revocations {
            None => Ok(()),
            Some(r) => r
                .check(claims.grant(), Some(token))
                .map_err(|e| claims.grant().tie(e)),
        }
    }

    /// The revocation list, when one is configured.
    pub(crate) fn revocations(&self) -> Option<&Revocations> {
        self.revocations.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::options::TokenRules;
    use super::*;
    use crate::issuer::Issuer;

    #[test]
    fn the_shape_of_a_compact_jws() {
        assert!(is_compact_jws("eyJh.eyJz.c2ln-_"));
        for not in [
            "a.b", "a.b.c.d", "a..c", ".b.c", "a.b.", "a.b+.c", "a.b.c=", "a~.b.c", "opaque",
        ] {
            assert!(!is_compact_jws(not), "{not}");
        }
    }

    #[test]
    fn a_configuration_is_validated_when_built() {
        let build = |c: Config| Authenticator::<crate::AccessClaims>::build(&c, None).unwrap_err();
        let primary = || Issuer::new("https://auth-api.eliq.com").audience("insights-api");
        let ok = || Config::new(primary());
        assert_eq!(
            build(Config::new(Issuer::new("http://a.example").audience("x"))).field(),
            "issuer"
        );
        assert_eq!(
            build(Config::new(primary().audience(""))).field(),
            "audience"
        );
        assert_eq!(
            build(Config::new(Issuer::new("https://auth-api.eliq.com"))).field(),
            "audience"
        );
        let rules = |rules: TokenRules| Config { rules, ..ok() };
        assert_eq!(
            build(rules(TokenRules {
                algorithms: Vec::new(),
                ..TokenRules::default()
            }))
            .field(),
            "algorithms"
        );
        assert_eq!(
            build(rules(TokenRules {
                max_token_size: 0,
                ..TokenRules::default()
            }))
            .field(),
            "max_token_size"
        );
        let with_primary = |primary: Issuer| Config { primary, ..ok() };
        assert_eq!(build(with_primary(primary().jwks("{}"))).field(), "jwks");
        let err = build(with_primary(primary().jwks_uri("http://a.example/k")));
        assert_eq!(err.field(), "jwks_uri");
        assert!(err.reason().contains("https"), "{err}");
    }
}
