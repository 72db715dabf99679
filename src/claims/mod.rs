//! Verified claims, plain data: the typed [`Claims`] handed to handlers, the default
//! [`AccessClaims`], and the type-erased [`Grant`] that per-route policies read.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::credential::Credential;
use crate::jose::json::{NumericDate, StrOrSeq};
use crate::reject::{AuthError, Responder};

/// Verified claims of the request's access token, of the application's type `C`.
///
/// Put into the request extensions by the layer; an axum extractor (feature `axum`); readable
/// with [`Claims::from_extensions`] anywhere else (a tonic service). Cheap to clone.
///
/// ```
/// # use tower_jwt_auth::Claims;
/// async fn usage(claims: Claims) -> String {
///     format!("{} may {:?}", claims.sub, claims.scopes().collect::<Vec<_>>())
/// }
/// ```
pub struct Claims<C = AccessClaims> {
    claims: Arc<C>,
    grant: Grant,
}

impl<C: Send + Sync + 'static> Claims<C> {
    /// The verified claims in a request's extensions — a tonic `request.extensions()`, an
    /// `http::Request`'s, a middleware's — of exactly this claims type. Where there are none,
    /// the error says why (no token behind an optional layer, no layer, or a layer built with
    /// another claims type), rather than the silent `None` of `extensions().get::<Claims>()`;
    /// with feature `tonic` it converts into the right `Status` with `?`.
    ///
    /// ```
    /// use tower_jwt_auth::{AccessClaims, Claims};
    /// let empty = http::Extensions::new();
    /// let missing = Claims::<AccessClaims>::from_extensions(&empty).unwrap_err();
    /// assert!(missing.to_string().contains("is the JwtAuth layer installed"));
    /// ```
    pub fn from_extensions(extensions: &http::Extensions) -> Result<Self, MissingClaims> {
        extensions
            .get::<Claims<C>>()
            .cloned()
            .ok_or_else(|| MissingClaims::of::<C>(extensions))
    }
}

impl<C> Claims<C> {
    pub(crate) fn new(claims: C, grant: Grant) -> Self {
        Self {
            claims: Arc::new(claims),
            grant,
        }
    }

    /// What the token grants, independent of the claims type: subject, scopes, `sub_type`,
    /// expiry.
    pub fn grant(&self) -> &Grant {
        &self.grant
    }

    /// The shared claims value.
    pub fn into_inner(self) -> Arc<C> {
        self.claims
    }
}

/// A verdict as the verified-token cache keeps it: the shared parts of [`Claims`], without
/// the layer's responder (two pointers per entry).
pub(crate) struct Stored<C> {
    claims: Arc<C>,
    grant: Arc<GrantInner>,
}

impl<C> Stored<C> {
    pub(crate) fn of(claims: &Claims<C>) -> Self {
        Self {
            claims: Arc::clone(&claims.claims),
            grant: Arc::clone(&claims.grant.inner),
        }
    }

    /// The claims again, shared with the entry.
    pub(crate) fn into_claims(self) -> Claims<C> {
        Claims {
            claims: self.claims,
            grant: Grant {
                inner: self.grant,
                responder: None,
            },
        }
    }

    pub(crate) fn expires_at(&self) -> u64 {
        self.grant.exp
    }

    pub(crate) fn not_before(&self) -> Option<u64> {
        self.grant.not_before()
    }
}

impl<C> Clone for Stored<C> {
    fn clone(&self) -> Self {
        Self {
            claims: Arc::clone(&self.claims),
            grant: Arc::clone(&self.grant),
        }
    }
}

impl<C> Clone for Claims<C> {
    fn clone(&self) -> Self {
        Self {
            claims: Arc::clone(&self.claims),
            grant: self.grant.clone(),
        }
    }
}

impl<C> Deref for Claims<C> {
    type Target = C;
    fn deref(&self) -> &C {
        &self.claims
    }
}

impl<C: fmt::Debug> fmt::Debug for Claims<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.claims, f)
    }
}

/// No [`Claims`] of the asked-for type in a request: from [`Claims::from_extensions`], and the
/// axum extractor's rejection.
///
/// Behind an [`optional`](crate::JwtAuth::optional) layer, an anonymous request (the axum
/// extractor answers 401 with the layer's challenge; with feature `tonic` it converts into
/// `Status::unauthenticated`). Otherwise the [`JwtAuth`](crate::JwtAuth) layer is not installed
/// on the route, or verified the token into another claims type
/// ([`with_claims`](crate::JwtAuth::with_claims)): a server bug, which the message names (the
/// extractor answers 500 and logs it; `Status::internal` with tonic), never a silent `None`.
#[derive(Debug, Clone)]
pub struct MissingClaims {
    type_name: &'static str,
    /// The token was verified, into another claims type.
    other_type: bool,
    /// The layer's way of answering, when the request passed it anonymously.
    pub(crate) anonymous: Option<crate::reject::Responder>,
    pub(crate) grpc: bool,
}

impl MissingClaims {
    /// Why `extensions` hold no `Claims<C>`.
    pub(crate) fn of<C: 'static>(extensions: &http::Extensions) -> Self {
        let verified = extensions.get::<Grant>().is_some();
        Self {
            type_name: std::any::type_name::<Claims<C>>(),
            other_type: verified,
            anonymous: if verified {
                None
            } else {
                extensions.get::<crate::reject::Responder>().cloned()
            },
            grpc: false,
        }
    }

    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) fn for_grpc(mut self, grpc: bool) -> Self {
        self.grpc = grpc;
        self
    }

    /// Whether the request passed an [`optional`](crate::JwtAuth::optional) layer without a
    /// token (a client's matter), rather than the layer being absent or of another claims type
    /// (a server bug).
    pub fn is_anonymous(&self) -> bool {
        self.anonymous.is_some()
    }
}

impl fmt::Display for MissingClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.anonymous.is_some() {
            write!(f, "no bearer token: `{}` is required here", self.type_name)
        } else if self.other_type {
            write!(
                f,
                "the token was verified into another claims type than `{}`: ask for the type the JwtAuth layer was built with (`with_claims::<T>()`)",
                self.type_name
            )
        } else {
            write!(
                f,
                "no verified `{}` in the request: is the JwtAuth layer installed on this route?",
                self.type_name
            )
        }
    }
}

impl std::error::Error for MissingClaims {}

/// With feature `tonic`: an anonymous request is `UNAUTHENTICATED`; a missing layer or another
/// claims type is `INTERNAL`, logged as an error that names the type (the status message does
/// not).
#[cfg(feature = "tonic")]
impl From<MissingClaims> for tonic::Status {
    fn from(missing: MissingClaims) -> Self {
        if missing.is_anonymous() {
            tonic::Status::unauthenticated("a bearer token is required")
        } else {
            tracing::error!(error = %missing, "verified claims asked for without the JwtAuth layer");
            tonic::Status::internal("the service's authentication is not configured")
        }
    }
}

/// How the layer around a request answers refusals: the one that admitted it (carried by its
/// grant), or, for an anonymous request an optional layer let through, the one it left in the
/// extensions.
pub(crate) fn responder_in(extensions: &http::Extensions) -> Option<&Responder> {
    match extensions.get::<Grant>() {
        Some(grant) => grant.responder(),
        None => extensions.get::<Responder>(),
    }
}

/// What a verified token grants, whatever the application's claims type. Inserted into the
/// request extensions next to [`Claims`]; [`RequireScopes`](crate::RequireScopes) reads it, and
/// so can middleware that does not know the claims type.
///
/// Where each field comes from, per credential ([`credential`](Self::credential)):
///
/// | field | JWT | introspected token (RFC 7662 answer) | API key ([`ApiKeyGrant`](crate::ApiKeyGrant)) |
/// |---|---|---|---|
/// | [`issuer`](Self::issuer) | `iss` (a trusted issuer, matched exactly) | the issuer whose endpoint answered (its `iss`, when present, must equal it) | `api-key:` + the routing prefix |
/// | [`sub`](Self::sub) | `sub` (required, non-empty) | `sub`, or empty when absent ([`is_client_only`](Self::is_client_only)) | the grant's subject |
/// | [`sub_type`](Self::sub_type) | `sub_type` | `sub_type` | [`ApiKeyGrant::sub_type`](crate::ApiKeyGrant::sub_type) |
/// | [`client_id`](Self::client_id) | `client_id` | `client_id` | [`ApiKeyGrant::client_id`](crate::ApiKeyGrant::client_id) |
/// | [`scopes`](Self::scopes) | `scope` and `scp` | `scope` and `scp` | [`ApiKeyGrant::scopes`](crate::ApiKeyGrant::scopes) |
/// | [`roles`](Self::roles) | the configured role claims | the configured role claims | [`ApiKeyGrant::roles`](crate::ApiKeyGrant::roles) |
/// | [`expires_at`](Self::expires_at) | `exp` | `exp`, else 253402300799 | [`ApiKeyGrant::expires_at`](crate::ApiKeyGrant::expires_at), else 253402300799 |
/// | [`tenant`](Self::tenant) | the tenant a template issuer matched | — | — |
///
/// No field is ever filled from another claim: a client is never shown as a subject, and an
/// API key never as a token of an OAuth issuer.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use tower_jwt_auth::{testing::TestIssuer, JwtAuth};
/// let issuer = TestIssuer::start().await;
/// let auth = JwtAuth::new(issuer.url(), "insights-api");
/// let token = issuer.token().sub("u-1").sub_type("user").scopes(["insights.read"]).sign();
/// let grant = auth.verify(&token).await.unwrap().grant().clone();
/// assert_eq!((grant.sub(), grant.sub_type()), ("u-1", Some("user")));
/// assert!(grant.has_scope("insights.read") && !grant.has_scope("insights.write"));
/// # }
/// ```
#[derive(Clone)]
pub struct Grant {
    inner: Arc<GrantInner>,
    /// How the layer that admitted the request answers refusals: per-route layers and the
    /// extractor find it here (one request extension fewer). `None` outside a layer.
    responder: Option<Responder>,
}

struct GrantInner {
    /// `sub`, the scopes, `sub_type` and `client_id`, in one allocation.
    text: GrantText,
    exp: u64,
    /// `nbf`, 0 when absent (a token not valid before 1970 is valid now either way).
    nbf: u64,
    iss: Arc<str>,
    credential: Credential,
    roles: Box<[Box<str>]>,
    /// The tenant and the confirmation, which most tokens lack: boxed together, as a grant
    /// lives in every cached verdict (16 bytes less per entry).
    rare: Option<Box<Rare>>,
}

impl GrantInner {
    fn not_before(&self) -> Option<u64> {
        (self.nbf != 0).then_some(self.nbf)
    }
}

/// A grant's strings end to end in one allocation (`sub`, the space-delimited scopes as issued,
/// then `sub_type` and `client_id` when present): a cached verdict holds one allocation for
/// them, not four, which is what a token seen for the first time mostly pays for in memory.
struct GrantText {
    text: Box<str>,
    /// Where `sub`, the scopes and `sub_type` end.
    ends: [usize; 3],
    sub_type: bool,
    client_id: bool,
}

impl GrantText {
    fn new(sub: &str, scopes: &str, sub_type: Option<&str>, client_id: Option<&str>) -> Self {
        let (sub_type_text, client_id_text) = (sub_type.unwrap_or(""), client_id.unwrap_or(""));
        let mut text = String::with_capacity(
            sub.len() + scopes.len() + sub_type_text.len() + client_id_text.len(),
        );
        text.push_str(sub);
        let sub_end = text.len();
        text.push_str(scopes);
        let scopes_end = text.len();
        text.push_str(sub_type_text);
        let sub_type_end = text.len();
        text.push_str(client_id_text);
        Self {
            text: text.into_boxed_str(),
            ends: [sub_end, scopes_end, sub_type_end],
            sub_type: sub_type.is_some(),
            client_id: client_id.is_some(),
        }
    }

    fn sub(&self) -> &str {
        &self.text[..self.ends[0]]
    }

    fn scopes(&self) -> &str {
        &self.text[self.ends[0]..self.ends[1]]
    }

    fn sub_type(&self) -> Option<&str> {
        self.sub_type
            .then(|| &self.text[self.ends[1]..self.ends[2]])
    }

    fn client_id(&self) -> Option<&str> {
        self.client_id.then(|| &self.text[self.ends[2]..])
    }
}

#[derive(Default)]
struct Rare {
    tenant: Option<Arc<str>>,
    /// What the token is bound to.
    confirmation: Confirmation,
}

/// What a token is bound to (its `cnf` claim, RFC 7800), as the binding step reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum Confirmation {
    /// No `cnf`: a bearer token.
    #[default]
    None,
    /// `cnf.jkt`: the RFC 7638 thumbprint of a DPoP key (RFC 9449 §6).
    Jkt(Box<str>),
    /// `cnf["x5t#S256"]`: the SHA-256 thumbprint of a client certificate (RFC 8705 §3.1).
    X5tS256(Box<str>),
    /// A `cnf` of another shape (another member, both at once, not an object): bound to
    /// something this crate cannot check, so never accepted.
    Unsupported,
}

impl Grant {
    /// `scopes` space-delimited, as issued.
    pub(crate) fn new(
        (sub, sub_type, client_id): (&str, Option<&str>, Option<&str>),
        scopes: &str,
        (exp, nbf): (u64, Option<u64>),
        (iss, tenant): (Arc<str>, Option<Arc<str>>),
    ) -> Self {
        Self {
            inner: Arc::new(GrantInner {
                text: GrantText::new(sub, scopes, sub_type, client_id),
                exp,
                nbf: nbf.unwrap_or(0),
                iss,
                rare: tenant.map(|tenant| {
                    Box::new(Rare {
                        tenant: Some(tenant),
                        confirmation: Confirmation::None,
                    })
                }),
                credential: Credential::Jwt,
                roles: Box::default(),
            }),
            responder: None,
        }
    }

    /// This grant as admitted by a layer that answers refusals with `responder`: the copy
    /// put into the request's extensions, where per-route layers and the extractor find it.
    pub(crate) fn admitted_by(&self, responder: &Responder) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            responder: Some(responder.clone()),
        }
    }

    /// How the layer that admitted the request answers refusals.
    pub(crate) fn responder(&self) -> Option<&Responder> {
        self.responder.as_ref()
    }

    /// Ties a refusal of this accepted credential to its issuer and kind (the metrics labels).
    pub(crate) fn tie(&self, error: AuthError) -> AuthError {
        error
            .at_issuer(&self.inner.iss)
            .judged_as(self.inner.credential)
    }

    /// Sets how the credential was judged; only while the grant is being built (not yet
    /// shared).
    pub(crate) fn with_credential(mut self, credential: Credential) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.credential = credential;
        }
        self
    }

    /// Sets the roles, read from the configured role claims; only while the grant is being
    /// built.
    pub(crate) fn with_roles(mut self, roles: Vec<Box<str>>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.roles = roles.into();
        }
        self
    }

    /// Sets what the token is bound to; only while the grant is being built.
    pub(crate) fn with_confirmation(mut self, confirmation: Confirmation) -> Self {
        if confirmation == Confirmation::None {
            return self;
        }
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.rare.get_or_insert_with(Box::default).confirmation = confirmation;
        }
        self
    }

    /// What the token is bound to (`cnf`).
    pub(crate) fn confirmation(&self) -> &Confirmation {
        self.inner
            .rare
            .as_ref()
            .map_or(&Confirmation::None, |rare| &rare.confirmation)
    }

    /// The roles, from the role claims the layer reads (by default `roles`,
    /// `realm_access.roles`, `resource_access.<audience>.roles` and `permissions`; see
    /// [`JwtAuth::role_claims`](crate::JwtAuth::role_claims)).
    pub fn roles(&self) -> impl Iterator<Item = &str> {
        self.inner.roles.iter().map(|r| &**r)
    }

    /// Whether `role` was granted (exact, case-sensitive comparison).
    pub fn has_role(&self, role: &str) -> bool {
        self.roles().any(|r| r == role)
    }

    /// The OAuth client the token was issued to (`client_id`), when the credential names one.
    pub fn client_id(&self) -> Option<&str> {
        self.inner.text.client_id()
    }

    /// How the credential was judged: a verified JWT, an introspected opaque token, or an API
    /// key.
    pub fn credential(&self) -> Credential {
        self.inner.credential
    }

    /// Who vouches for the credential: the trusted issuer that accepted the token (its `iss`,
    /// for JWTs and introspected tokens), or, for an API key, `api-key:` followed by the
    /// prefix that routed it (`api-key:fl_`) — never an OAuth issuer's URL, so that
    /// `(issuer(), sub())` names one subject at one issuer whatever the credential.
    pub fn issuer(&self) -> &str {
        &self.inner.iss
    }

    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) fn issuer_shared(&self) -> &Arc<str> {
        &self.inner.iss
    }

    /// For an issuer configured with [`Issuer::tenants`](crate::Issuer::tenants): the tenant
    /// its `iss` named. `None` for other issuers.
    pub fn tenant(&self) -> Option<&str> {
        self.inner
            .rare
            .as_ref()
            .and_then(|rare| rare.tenant.as_deref())
    }

    /// The subject the credential names: a JWT's `sub`, an introspection answer's `sub`, an
    /// API key's [`ApiKeyGrant::new`](crate::ApiKeyGrant::new) subject. Empty when it names
    /// none (see [`is_client_only`](Self::is_client_only)): another identifier, such as the
    /// `client_id`, is never put in its place.
    pub fn sub(&self) -> &str {
        self.inner.text.sub()
    }

    /// Whether the credential names no subject, only the client it was issued to
    /// ([`client_id`](Self::client_id), when known): an introspected token whose answer has
    /// no `sub`. A rule for users ([`require_sub_type`](crate::JwtAuth::require_sub_type))
    /// refuses it.
    pub fn is_client_only(&self) -> bool {
        self.inner.text.sub().is_empty()
    }

    /// The `sub_type` claim, e.g. `"user"` for delegated tokens.
    pub fn sub_type(&self) -> Option<&str> {
        self.inner.text.sub_type()
    }

    /// The granted scopes, from `scope` (space-delimited) and `scp` (array or string).
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.inner
            .text
            .scopes()
            .split(' ')
            .filter(|s| !s.is_empty())
    }

    /// Whether `scope` was granted (exact, case-sensitive comparison).
    pub fn has_scope(&self, scope: &str) -> bool {
        // A scope is one word: nothing empty or with a space in it is granted.
        !scope.is_empty() && !scope.contains(' ') && self.has_scope_word(scope)
    }

    /// [`has_scope`](Self::has_scope) for a scope known to be one non-empty word (a policy's,
    /// checked when it was configured): compared at each granted word's start, without
    /// splitting, as this runs on every request.
    pub(crate) fn has_scope_word(&self, word: &str) -> bool {
        debug_assert!(!word.is_empty() && !word.contains(' '));
        let word = word.as_bytes();
        let mut rest = self.inner.text.scopes().as_bytes();
        loop {
            if let Some(after) = rest.strip_prefix(word) {
                if after.first().is_none_or(|&b| b == b' ') {
                    return true;
                }
            }
            match rest.iter().position(|&b| b == b' ') {
                Some(space) => rest = &rest[space + 1..],
                None => return false,
            }
        }
    }

    /// The `exp` claim, seconds since the Unix epoch.
    pub fn expires_at(&self) -> u64 {
        self.inner.exp
    }

    /// The `nbf` claim, if any, seconds since the Unix epoch.
    pub fn not_before(&self) -> Option<u64> {
        self.inner.not_before()
    }
}

impl fmt::Debug for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Grant")
            .field("iss", &self.issuer())
            .field("tenant", &self.tenant())
            .field("sub", &self.sub())
            .field("credential", &self.credential())
            .field("client_id", &self.client_id())
            .field("sub_type", &self.sub_type())
            .field("scopes", &self.scopes().collect::<Vec<_>>())
            .field("roles", &self.roles().collect::<Vec<_>>())
            .field("exp", &self.inner.exp)
            .finish()
    }
}

/// The claims of an OAuth 2.0 JWT access token (RFC 9068 and the seeds' delegated tokens).
///
/// The default claims type. For more claims, use your own `T: DeserializeOwned` with
/// [`JwtAuth::with_claims`](crate::JwtAuth::with_claims); the registered claims are still
/// validated.
///
/// ```
/// use tower_jwt_auth::AccessClaims;
/// let claims: AccessClaims = serde_json::from_str(r#"{
///     "iss": "https://auth-api.eliq.com", "sub": "user-1042", "sub_type": "user",
///     "aud": "insights-api", "exp": 1800000000, "scope": "insights.read insights.write"
/// }"#).unwrap();
/// assert!(claims.aud.contains("insights-api"));
/// assert_eq!(claims.scopes().collect::<Vec<_>>(), ["insights.read", "insights.write"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// Subject: the end user for delegated tokens, the client for app tokens. Empty when the
    /// credential names no subject (an introspected token whose answer has no `sub`): the
    /// client is then in `client_id`, and never presented here as a subject.
    #[serde(default)]
    pub sub: String,
    /// Audience(s).
    pub aud: Audience,
    /// Expiry, seconds since the Unix epoch.
    #[serde(deserialize_with = "numeric_date")]
    pub exp: u64,
    /// Not before, seconds since the Unix epoch.
    #[serde(
        default,
        deserialize_with = "opt_numeric_date",
        skip_serializing_if = "Option::is_none"
    )]
    pub nbf: Option<u64>,
    /// Issued at, seconds since the Unix epoch.
    #[serde(
        default,
        deserialize_with = "opt_numeric_date",
        skip_serializing_if = "Option::is_none"
    )]
    pub iat: Option<u64>,
    /// Token id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// The OAuth client the token was issued to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Space-delimited scopes, as issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Scopes as an array (`scp`), as some providers issue them.
    #[serde(
        default,
        deserialize_with = "opt_string_list",
        skip_serializing_if = "Option::is_none"
    )]
    pub scp: Option<Vec<String>>,
    /// Subject type, e.g. `"user"` for delegated tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_type: Option<String>,
    /// Roles as Microsoft Entra issues them (an array), kept as issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Value>,
    /// Keycloak's realm roles (`{"roles": [..]}`), kept as issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm_access: Option<Value>,
    /// Keycloak's client roles (`{"<client>": {"roles": [..]}}`), kept as issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_access: Option<Value>,
    /// Auth0's RBAC permissions (an array), kept as issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Value>,
}

impl AccessClaims {
    /// The roles in the layouts the big providers use, each once: `roles` (Microsoft Entra),
    /// `realm_access.roles` and `resource_access.<each aud>.roles` (Keycloak), `permissions`
    /// (Auth0). What a layer checks is [`Grant::roles`], read along its configured
    /// [`role_claims`](crate::JwtAuth::role_claims).
    ///
    /// ```
    /// use tower_jwt_auth::AccessClaims;
    /// let claims: AccessClaims = serde_json::from_str(r#"{
    ///     "iss": "https://kc.example/realms/eliq", "sub": "u-1", "aud": "insights-api", "exp": 1800000000,
    ///     "realm_access": {"roles": ["offline_access"]},
    ///     "resource_access": {"insights-api": {"roles": ["insights-admin"]}}
    /// }"#).unwrap();
    /// assert_eq!(claims.roles(), ["offline_access", "insights-admin"]);
    /// ```
    pub fn roles(&self) -> Vec<&str> {
        fn strings(v: Option<&Value>) -> impl Iterator<Item = &str> {
            let (one, many) = match v {
                Some(Value::String(s)) => (Some(s.as_str()), None),
                Some(Value::Array(items)) => (None, Some(items.iter().filter_map(Value::as_str))),
                _ => (None, None),
            };
            one.into_iter().chain(many.into_iter().flatten())
        }
        let mut found: Vec<&str> = strings(self.roles.as_ref()).collect();
        found.extend(strings(
            self.realm_access.as_ref().and_then(|r| r.get("roles")),
        ));
        for aud in self.aud.iter() {
            found.extend(strings(
                self.resource_access
                    .as_ref()
                    .and_then(|r| r.get(aud))
                    .and_then(|c| c.get("roles")),
            ));
        }
        found.extend(strings(self.permissions.as_ref()));
        let mut all: Vec<&str> = Vec::with_capacity(found.len());
        for role in found {
            if !all.contains(&role) {
                all.push(role);
            }
        }
        all
    }

    /// The granted scopes, from `scope` and `scp`.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope
            .as_deref()
            .into_iter()
            .flat_map(|s| s.split(' ').filter(|s| !s.is_empty()))
            .chain(self.scp.iter().flatten().map(String::as_str))
    }
}

/// The `aud` claim: one audience or several. Serialises back as it is most commonly written: a
/// string when there is one.
///
/// ```
/// use tower_jwt_auth::Audience;
/// let aud: Audience = serde_json::from_str(r#"["insights-api", "data-management-api"]"#).unwrap();
/// assert!(aud.contains("data-management-api"));
/// assert_eq!(serde_json::to_string(&Audience::from("insights-api")).unwrap(), r#""insights-api""#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Audience(pub Vec<String>);

impl Audience {
    /// Whether `aud` names this audience.
    pub fn contains(&self, audience: &str) -> bool {
        self.0.iter().any(|a| a == audience)
    }

    /// The audiences.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl Deref for Audience {
    type Target = [String];
    fn deref(&self) -> &[String] {
        &self.0
    }
}

impl From<&str> for Audience {
    fn from(a: &str) -> Self {
        Self(vec![a.to_owned()])
    }
}

impl Serialize for Audience {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => s.serialize_str(one),
            many => many.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let list = d.deserialize_any(StrOrSeq(PhantomData))?;
        Ok(Audience(list.into_iter().map(Cow::into_owned).collect()))
    }
}

fn opt_string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    let list = d.deserialize_any(StrOrSeq(PhantomData))?;
    Ok(Some(list.into_iter().map(Cow::into_owned).collect()))
}

fn numeric_date<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    NumericDate::deserialize(d).map(|n| n.0)
}

fn opt_numeric_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    NumericDate::deserialize(d).map(|n| Some(n.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grants_strings_share_one_allocation_and_keep_their_bounds() {
        let text = GrantText::new("u-1", "a b", Some("user"), Some("acme"));
        assert_eq!(
            (text.sub(), text.scopes(), text.sub_type(), text.client_id()),
            ("u-1", "a b", Some("user"), Some("acme"))
        );
        // Absent and empty stay apart; multi-byte characters keep their boundaries.
        let text = GrantText::new("ü", "", Some(""), None);
        assert_eq!(
            (text.sub(), text.scopes(), text.sub_type(), text.client_id()),
            ("ü", "", Some(""), None)
        );
        let text = GrantText::new("", "s", None, Some("ç"));
        assert_eq!(
            (text.sub(), text.scopes(), text.sub_type(), text.client_id()),
            ("", "s", None, Some("ç"))
        );
    }

    #[test]
    fn a_scope_is_granted_only_as_a_whole_word() {
        let grant =
            |scopes: &str| Grant::new(("u", None, None), scopes, (1, None), ("i".into(), None));
        // Each case against the definition: one of the space-separated words, exactly.
        let granted = [
            "",
            " ",
            "a",
            "ab",
            "a b",
            "b a",
            "ab a",
            "a  b",
            " a",
            "a ",
            "aa ab",
            "b.a a.b",
            "insights.read insights.write",
            "insights.readx insights",
        ];
        let wanted = [
            "",
            "a",
            "b",
            "ab",
            "aa",
            "a b",
            " ",
            "insights",
            "insights.read",
            "A",
        ];
        for scopes in granted {
            let g = grant(scopes);
            for scope in wanted {
                let expected = !scope.is_empty() && scopes.split(' ').any(|w| w == scope);
                assert_eq!(g.has_scope(scope), expected, "{scope:?} in {scopes:?}");
            }
        }
    }

    #[test]
    fn a_grant_fits_its_allocation_class() {
        // Every cached verdict holds one: 112 bytes plus the `Arc` counts is a 144-byte
        // allocation with glibc (160 with four strings of their own, 176 with the tenant and
        // confirmation inline too).
        assert!(std::mem::size_of::<GrantInner>() <= 112);
    }

    #[test]
    fn access_claims_read_scope_and_scp() {
        let c: AccessClaims = serde_json::from_str(
            r#"{"iss":"i","sub":"u-1","aud":["a","b"],"exp":1.5,"scope":"x.read  x.write","scp":"y"}"#,
        )
        .unwrap();
        assert_eq!(c.exp, 1);
        assert!(c.aud.contains("b"));
        assert_eq!(c.scopes().collect::<Vec<_>>(), ["x.read", "x.write", "y"]);
        let back = serde_json::to_value(&c).unwrap();
        assert_eq!(back["aud"], serde_json::json!(["a", "b"]));
    }
}
