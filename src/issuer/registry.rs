//! The registry that picks the trusted issuer a token's unverified `iss` names (exact match,
//! then templates, then the resolver) before any key is looked up, and builds each issuer's
//! rules and key source.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::profile::Location;
use super::{Issuer, PemKey, ResolverFn, Setup};
use crate::algorithm::AlgorithmSet;
use crate::jwt::Rules;
use crate::keys::jwk::{self, Key};
use crate::keys::persist::CacheFile;
use crate::keys::refresh::ms;
use crate::keys::{pem, Env, KeySet, KeySource, Origin};
use crate::outbound::{parse_url, FetchLimits, Fetcher};
use crate::policy::roles::RoleClaims;
use crate::reject::{shown, ConfigError};

/// The placeholder of a template issuer.
const TENANT: &str = "{tenant}";
/// Answers of the resolver remembered (both accepted and refused issuers).
const RESOLVED_CACHE: usize = 10_000;
/// How long a resolver's answer is remembered.
const RESOLVED_TTL: Duration = Duration::from_secs(600);

/// The resolver's answers by `iss`, both ways, each with the time (milliseconds, on the
/// injected clock) until which it holds.
type Resolved = quick_cache::sync::Cache<String, (u64, Option<Arc<Trusted>>)>;

/// An accepted issuer: its claim rules and its keys.
pub(crate) struct Trusted {
    pub(crate) rules: Rules,
    pub(crate) keys: Arc<KeySource>,
    /// For a template issuer: the tenant its `iss` named.
    pub(crate) tenant: Option<Arc<str>>,
}

impl fmt::Debug for Trusted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trusted")
            .field("issuer", &self.rules.issuer)
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

/// A template issuer's tenants, each built on first use.
struct Template {
    prefix: String,
    suffix: String,
    spec: Issuer,
    tenants: HashMap<Box<str>, OnceLock<Option<Arc<Trusted>>>>,
}

/// What every issuer is built with.
struct Shared {
    env: Env,
    base: Rules,
    /// What a fetcher of an issuer's own (its own CA or token) is built from.
    fetch: FetchLimits,
    http_client: Option<reqwest::Client>,
}

/// Every trusted issuer of one configuration.
pub(crate) struct Registry {
    primary: Arc<Trusted>,
    exact: HashMap<Box<str>, Arc<Trusted>>,
    /// Issuers chosen by the JWS header's `signer` (AWS load balancers), not by `iss`.
    by_signer: HashMap<Box<str>, Arc<Trusted>>,
    templates: Vec<Template>,
    resolver: Option<(Arc<ResolverFn>, Resolved)>,
    shared: Shared,
}

impl Registry {
    /// Validates every issuer and builds the static ones.
    pub(crate) fn build(setup: Setup<'_>) -> Result<Self, ConfigError> {
        let shared = Shared {
            env: Env {
                fetcher: Arc::new(Fetcher::new(
                    setup.fetch.clone(),
                    setup.http_client.cloned(),
                )),
                store: Arc::default(),
                clock: Arc::clone(setup.clock),
                policy: setup.cache.clone(),
            },
            base: setup.base,
            fetch: setup.fetch.clone(),
            http_client: setup.http_client.cloned(),
        };
        let primary = setup.primary;
        let file = setup.cache_file.map(|path| CacheFile {
            path: path.to_owned(),
            issuer: primary.url.clone(),
            source: primary
                .jwks_uri
                .clone()
                .unwrap_or_else(|| primary.url.clone()),
        });
        let primary =
            Arc::new(shared.trusted(primary, &primary.url, None, file, Declared::Primary)?);
        let mut index = Index::default();
        index.add(setup.primary, Arc::clone(&primary))?;
        let mut templates = Vec::new();
        for spec in setup.added {
            match &spec.tenants {
                None => {
                    let trusted = shared.trusted(spec, &spec.url, None, None, Declared::Added)?;
                    index.add(spec, Arc::new(trusted))?;
                }
                Some(_) if spec.introspection.is_some() => {
                    return Err(ConfigError::new(
                        "add_issuer",
                        format!(
                            "{}: introspection needs one issuer URL, not a template of tenants",
                            shown(&spec.url)
                        ),
                    ));
                }
                Some(tenants) => templates.push(shared.template(spec, tenants)?),
            }
        }
        let resolver = setup
            .resolver
            .map(|f| (Arc::clone(f), quick_cache::sync::Cache::new(RESOLVED_CACHE)));
        Ok(Self {
            primary,
            exact: index.exact,
            by_signer: index.by_signer,
            templates,
            resolver,
            shared,
        })
    }

    /// Whether the primary issuer is the only one.
    pub(crate) fn is_single(&self) -> bool {
        self.exact.len() + self.by_signer.len() == 1
            && self.templates.is_empty()
            && self.resolver.is_none()
    }

    /// The issuer a JWS header's `signer` names (an AWS load balancer), if one is trusted.
    pub(crate) fn select_by_signer(&self, signer: &str) -> Option<Arc<Trusted>> {
        self.by_signer.get(signer).cloned()
    }

    /// Whether any issuer accepts padded base64url (AWS load balancers do).
    pub(crate) fn accepts_padding(&self) -> bool {
        !self.by_signer.is_empty()
    }

    /// The proxy headers (and cookies) the static issuers' tokens arrive in, each once, and
    /// whether any issuer's tokens arrive in `Authorization`.
    pub(crate) fn locations(&self) -> (Vec<(http::HeaderName, Option<&'static str>)>, bool) {
        let mut proxies: Vec<(http::HeaderName, Option<&'static str>)> = Vec::new();
        let mut authorization = !self.templates.is_empty() || self.resolver.is_some();
        for trusted in self.exact.values().chain(self.by_signer.values()) {
            match &trusted.rules.profile.location {
                Location::Authorization => authorization = true,
                Location::Proxy { header, cookie } => {
                    if !proxies.iter().any(|(h, _)| h == header) {
                        proxies.push((header.clone(), *cookie));
                    }
                }
            }
        }
        (proxies, authorization)
    }

    /// The issuer given to `JwtAuth::new`.
    pub(crate) fn primary(&self) -> &Arc<Trusted> {
        &self.primary
    }

    /// The issuer that `iss` names, if one is trusted: exact match, then templates, then the
    /// resolver (whose answers, both ways, are remembered). The cost does not grow with the
    /// number of issuers or tenants.
    pub(crate) fn select(&self, iss: &str) -> Option<Arc<Trusted>> {
        if let Some(trusted) = self.exact.get(iss) {
            return Some(Arc::clone(trusted));
        }
        for t in &self.templates {
            let Some(tenant) = iss
                .strip_prefix(t.prefix.as_str())
                .and_then(|rest| rest.strip_suffix(t.suffix.as_str()))
            else {
                continue;
            };
            let Some(slot) = t.tenants.get(tenant) else {
                continue;
            };
            // Validated with a sample tenant when the layer was built, so this holds.
            return slot
                .get_or_init(|| {
                    self.shared
                        .trusted(&t.spec, iss, Some(tenant), None, Declared::Added)
                        .inspect_err(|e| tracing::error!(error = %e, "template tenant unusable"))
                        .ok()
                        .map(Arc::new)
                })
                .clone();
        }
        let (resolve, cache) = self.resolver.as_ref()?;
        let now = self.shared.env.clock.now_millis();
        match cache.get(iss) {
            Some((until, known)) if now < until => return known,
            Some(_) => {
                cache.remove(iss);
            }
            None => {}
        }
        // Concurrent first sightings of one `iss` ask the resolver once.
        let answer = cache.get_or_insert_with(iss, || {
            let until = now.saturating_add(ms(RESOLVED_TTL));
            let Some(spec) = resolve(iss) else {
                return Ok::<_, std::convert::Infallible>((until, None));
            };
            if spec.tenants.is_some() || spec.url != iss {
                tracing::error!(iss = %shown(iss), answer = %shown(&spec.url), "issuer_resolver answered with another issuer or a template: ignored");
                return Ok((until, None));
            }
            let trusted = match self.shared.trusted(&spec, iss, None, None, Declared::Resolved) {
                Ok(trusted) => Some(Arc::new(trusted)),
                Err(e) => {
                    tracing::error!(iss = %shown(iss), error = %e, "issuer_resolver answered with an unusable issuer: ignored");
                    None
                }
            };
            Ok((until, trusted))
        });
        match answer {
            Ok((_, trusted)) => trusted,
            Err(never) => match never {},
        }
    }

    /// Every statically configured issuer (the primary first, then the others, then each
    /// allowed tenant of each template).
    pub(crate) fn all_static(&self) -> Vec<Arc<Trusted>> {
        let mut all = vec![Arc::clone(&self.primary)];
        for trusted in self.exact.values().chain(self.by_signer.values()) {
            // An issuer under two `iss` values (Entra v1 and v2) has one key source.
            if !all.iter().any(|t| Arc::ptr_eq(&t.keys, &trusted.keys)) {
                all.push(Arc::clone(trusted));
            }
        }
        for t in &self.templates {
            for tenant in t.tenants.keys() {
                let iss = format!("{}{tenant}{}", t.prefix, t.suffix);
                all.extend(self.select(&iss));
            }
        }
        all
    }

    /// Names of trusted issuers, for the log event of an untrusted one.
    pub(crate) fn describe(&self) -> String {
        let mut names: Vec<String> = self.exact.keys().take(4).map(|k| shown(k)).collect();
        names.extend(
            self.by_signer
                .keys()
                .map(|signer| format!("signer {}", shown(signer))),
        );
        if self.exact.len() > 4 {
            names.push(format!("and {} more", self.exact.len() - 4));
        }
        for t in &self.templates {
            names.push(shown(&t.spec.url));
        }
        if self.resolver.is_some() {
            names.push("the resolver".to_owned());
        }
        names.join(", ")
    }
}

/// The static issuers by what selects them: `iss` (and its aliases), or `signer`.
#[derive(Default)]
struct Index {
    exact: HashMap<Box<str>, Arc<Trusted>>,
    by_signer: HashMap<Box<str>, Arc<Trusted>>,
}

impl Index {
    fn add(&mut self, spec: &Issuer, trusted: Arc<Trusted>) -> Result<(), ConfigError> {
        let twice = |what: &str| {
            ConfigError::new("add_issuer", format!("{} is configured twice", shown(what)))
        };
        if let Some(signer) = &spec.profile.signer {
            if self
                .by_signer
                .insert(signer.as_str().into(), trusted)
                .is_some()
            {
                return Err(twice(signer));
            }
            return Ok(());
        }
        for alias in &spec.profile.also_iss {
            // The same keys and rules under another `iss` (Entra's v1.0 issuer).
            let under_alias = Trusted {
                rules: Rules {
                    issuer: Arc::from(alias.as_str()),
                    ..trusted.rules.clone()
                },
                keys: Arc::clone(&trusted.keys),
                tenant: trusted.tenant.clone(),
            };
            if self
                .exact
                .insert(alias.as_str().into(), Arc::new(under_alias))
                .is_some()
            {
                return Err(twice(alias));
            }
        }
        if self
            .exact
            .insert(spec.url.as_str().into(), trusted)
            .is_some()
        {
            return Err(twice(&spec.url));
        }
        Ok(())
    }
}

/// Where an issuer was declared, which decides the builder field its problems are reported
/// under: the primary's under the method that set the value (`issuer`, `jwks`, ...), the others
/// under `add_issuer` or `issuer_resolver`, naming the issuer.
#[derive(Clone, Copy)]
enum Declared {
    Primary,
    Added,
    Resolved,
}

impl Declared {
    fn error(self, primary_field: &'static str, issuer: &str, why: String) -> ConfigError {
        let field = match self {
            Declared::Primary => return ConfigError::new(primary_field, why),
            Declared::Added => "add_issuer",
            Declared::Resolved => "issuer_resolver",
        };
        ConfigError::new(field, format!("issuer {}: {why}", shown(issuer)))
    }
}

impl Shared {
    /// One concrete issuer, validated, with its key source.
    fn trusted(
        &self,
        spec: &Issuer,
        issuer: &str,
        tenant: Option<&str>,
        file: Option<CacheFile>,
        declared: Declared,
    ) -> Result<Trusted, ConfigError> {
        let named = |field: &'static str, why: String| declared.error(field, issuer, why);
        let profile = &spec.profile;
        // An issuer chosen by its `signer` is named by an ARN, not a URL.
        let issuer_url = match profile.signer {
            Some(_) => None,
            None => Some(parse_url(issuer).map_err(|e| named("issuer", e))?),
        };
        let audiences: Arc<[Box<str>]> = match &spec.audiences {
            Some(own) => own.iter().map(|a| Box::from(a.as_str())).collect(),
            None => Arc::clone(&self.base.audiences),
        };
        if audiences.is_empty() {
            return Err(named(
                "audience",
                "at least one audience is required".into(),
            ));
        }
        if audiences.iter().any(|a| a.is_empty()) {
            return Err(named("audience", "the audience must not be empty".into()));
        }
        let roles = match &spec.role_claims {
            Some(paths) => Arc::new(
                RoleClaims::new(paths).map_err(|e| named("role_claims", e.reason().into()))?,
            ),
            None => Arc::clone(&self.base.roles),
        };
        let algorithms = spec.algorithms.unwrap_or(self.base.algorithms);
        if algorithms.is_empty() {
            return Err(named(
                "algorithms",
                "at least one algorithm is required".into(),
            ));
        }
        let (origin, fixed) = if spec.jwks.is_some() || !spec.pem_keys.is_empty() {
            let keys = fixed_keys(spec, algorithms, &named)?;
            (Origin::Fixed, Some(KeySet::fixed(keys)))
        } else if let Some(uri) = spec.jwks_uri.as_ref().filter(|u| !u.contains("{kid}")) {
            let url = parse_url(uri).map_err(|e| named("jwks_uri", e))?;
            (Origin::JwksUri(url), None)
        } else if let Some(template) = (spec.jwks_uri.as_ref()).or(profile.key_url_per_kid.as_ref())
        {
            // A key URL with `{kid}` in it names one key per `kid`, however it was given.
            let sample = template.replace("{kid}", "kid");
            if !template.contains("{kid}") {
                return Err(named(
                    "key_url_per_kid",
                    format!("{} has no {{kid}}", shown(template)),
                ));
            }
            parse_url(&sample).map_err(|e| named("key_url_per_kid", e))?;
            (Origin::PerKid(template.clone()), Some(KeySet::empty()))
        } else if let Some(issuer_url) = issuer_url {
            let origin = Origin::Discovery {
                issuer: issuer.to_owned(),
                issuer_url,
            };
            (origin, None)
        } else {
            return Err(named(
                "jwks_uri",
                "this issuer has no URL to discover its keys from: give jwks_uri, jwks, pem_key \
                 or key_url_per_kid"
                    .into(),
            ));
        };
        let env = if spec.fetch_auth.is_set() {
            Env {
                fetcher: Arc::new(
                    Fetcher::with_auth(
                        self.fetch.clone(),
                        self.http_client.clone(),
                        &spec.fetch_auth.ca_pems(),
                        spec.fetch_auth.token_file.clone(),
                    )
                    .map_err(|e| named("key_fetch_ca", e))?,
                ),
                ..self.env.clone()
            }
        } else {
            self.env.clone()
        };
        let issuer: Arc<str> = Arc::from(issuer);
        let keys = KeySource::new(origin, Arc::clone(&issuer), env, algorithms, fixed, file);
        Ok(Trusted {
            rules: Rules {
                issuer,
                audiences,
                algorithms,
                roles,
                profile: Arc::new(profile.clone()),
                ..self.base.clone()
            },
            keys: Arc::new(keys),
            tenant: tenant.map(Arc::from),
        })
    }

    /// A template issuer, checked with a sample tenant.
    fn template(&self, spec: &Issuer, tenants: &[String]) -> Result<Template, ConfigError> {
        let fail = |why: String| {
            ConfigError::new(
                "add_issuer",
                format!("template {}: {why}", shown(&spec.url)),
            )
        };
        let (prefix, suffix) = spec
            .url
            .split_once(TENANT)
            .ok_or_else(|| fail(format!("has no {TENANT} placeholder")))?;
        if suffix.contains(TENANT) {
            return Err(fail(format!("has more than one {TENANT}")));
        }
        if !prefix.ends_with('/') || !(suffix.is_empty() || suffix.starts_with('/')) {
            return Err(fail(format!("{TENANT} must be a whole path segment")));
        }
        if tenants.is_empty() {
            return Err(fail("the allow-list is empty".into()));
        }
        let mut allowed = HashMap::with_capacity(tenants.len());
        for tenant in tenants {
            let bad = tenant.is_empty()
                || !tenant
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
            if bad {
                return Err(fail(format!(
                    "tenant {} is not a path segment",
                    shown(tenant)
                )));
            }
            allowed.insert(tenant.as_str().into(), OnceLock::new());
        }
        // Every tenant's issuer differs only in the segment: one check covers them all.
        let sample = format!("{prefix}{}{suffix}", tenants[0]);
        self.trusted(spec, &sample, Some(&tenants[0]), None, Declared::Added)?;
        Ok(Template {
            prefix: prefix.to_owned(),
            suffix: suffix.to_owned(),
            spec: spec.clone(),
            tenants: allowed,
        })
    }
}

/// The keys given by `jwks` and `pem_key`. A JWK set copied from a provider may hold keys for
/// other uses (encryption): those are skipped with a warning, as in fetched sets, but a set with
/// no usable key, or an unusable PEM key, is an error.
fn fixed_keys(
    spec: &Issuer,
    allowed: AlgorithmSet,
    named: &dyn Fn(&'static str, String) -> ConfigError,
) -> Result<Vec<Key>, ConfigError> {
    let mut keys = Vec::new();
    if let Some(json) = &spec.jwks {
        let (parsed, skipped) =
            jwk::parse_set(json.as_bytes(), allowed).map_err(|e| named("jwks", e.to_string()))?;
        if parsed.is_empty() {
            let why = skipped.first().map_or_else(
                || "it holds no key".to_owned(),
                |s| {
                    format!(
                        "key {:?} is unusable: {}",
                        s.kid.as_deref().unwrap_or("(none)"),
                        s.reason
                    )
                },
            );
            return Err(named("jwks", format!("no usable key: {why}")));
        }
        for s in &skipped {
            tracing::warn!(kid = s.kid.as_deref().unwrap_or("(none)"), reason = %s.reason, "configured JWK skipped");
        }
        keys.extend(parsed);
    }
    for PemKey { kid, alg, pem } in &spec.pem_keys {
        if !allowed.contains(*alg) {
            return Err(named(
                "pem_key",
                format!("key {kid:?}: {alg} is not an allowed algorithm"),
            ));
        }
        let key = pem::from_pem(kid, *alg, pem)
            .map_err(|e| named("pem_key", format!("key {kid:?}: {e}")))?;
        keys.push(key);
    }
    Ok(keys)
}
