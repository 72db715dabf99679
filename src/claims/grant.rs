//! What a verified token grants, whatever the claims type: [`Grant`], kept small because every
//! cached verdict holds one.

use std::fmt;
use std::sync::Arc;

use super::context::{Actor, AuthorizationDetail};
use crate::credential::Credential;
use crate::reject::{AuthError, Responder};

/// What a verified token grants, whatever the application's claims type. Inserted into the
/// request extensions next to [`Claims`](crate::Claims); [`RequireScopes`](crate::RequireScopes) reads it, and
/// so can middleware that does not know the claims type.
///
/// Where each field comes from, per credential ([`credential`](Self::credential)):
///
/// | field | JWT | introspected token (RFC 7662 answer) | API key ([`ApiKeyGrant`](crate::api_key::ApiKeyGrant)) |
/// |---|---|---|---|
/// | [`issuer`](Self::issuer) | `iss` (a trusted issuer, matched exactly) | the issuer whose endpoint answered (its `iss`, when present, must equal it) | `api-key:` + the routing prefix |
/// | [`sub`](Self::sub) | `sub` (required, non-empty) | `sub`, or empty when absent ([`is_client_only`](Self::is_client_only)) | the grant's subject |
/// | [`sub_type`](Self::sub_type) | `sub_type` | `sub_type` | [`ApiKeyGrant::sub_type`](crate::api_key::ApiKeyGrant::sub_type) |
/// | [`client_id`](Self::client_id) | `client_id` | `client_id` | [`ApiKeyGrant::client_id`](crate::api_key::ApiKeyGrant::client_id) |
/// | [`scopes`](Self::scopes) | `scope` and `scp` | `scope` and `scp` | [`ApiKeyGrant::scopes`](crate::api_key::ApiKeyGrant::scopes) |
/// | [`roles`](Self::roles) | the configured role claims | the configured role claims | [`ApiKeyGrant::roles`](crate::api_key::ApiKeyGrant::roles) |
/// | [`expires_at`](Self::expires_at) | `exp` | `exp`, else 253402300799 | [`ApiKeyGrant::expires_at`](crate::api_key::ApiKeyGrant::expires_at), else 253402300799 |
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
    /// `iat`, 0 when absent.
    iat: u64,
    credential: Credential,
    roles: Box<[Box<str>]>,
    /// The tenant and the confirmation, which most tokens lack: boxed together, as a grant
    /// lives in every cached verdict (16 bytes less per entry).
    rare: Option<Box<Rare>>,
}

/// A grant without the layer's responder: what a cached verdict keeps (one pointer).
#[derive(Clone)]
pub(crate) struct Shared(Arc<GrantInner>);

impl Shared {
    pub(crate) fn expires_at(&self) -> u64 {
        self.0.exp
    }

    pub(crate) fn not_before(&self) -> Option<u64> {
        self.0.not_before()
    }
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
    /// Where `sub`, the scopes, `sub_type` and `client_id` end (a credential is at most a few
    /// KiB: `u32` offsets keep the grant small).
    ends: [u32; 4],
    sub_type: bool,
    client_id: bool,
    jti: bool,
}

impl GrantText {
    fn new(
        sub: &str,
        scopes: &str,
        (sub_type, client_id, jti): (Option<&str>, Option<&str>, Option<&str>),
    ) -> Self {
        let parts = [
            sub,
            scopes,
            sub_type.unwrap_or(""),
            client_id.unwrap_or(""),
            jti.unwrap_or(""),
        ];
        let mut text = String::with_capacity(parts.iter().map(|p| p.len()).sum());
        let mut ends = [0u32; 4];
        for (i, part) in parts.iter().enumerate() {
            text.push_str(part);
            if let Some(end) = ends.get_mut(i) {
                *end = u32::try_from(text.len()).unwrap_or(u32::MAX);
            }
        }
        Self {
            text: text.into_boxed_str(),
            ends,
            sub_type: sub_type.is_some(),
            client_id: client_id.is_some(),
            jti: jti.is_some(),
        }
    }

    /// The `i`-th string: `sub`, scopes, `sub_type`, `client_id`, `jti`.
    fn part(&self, i: usize) -> &str {
        let start = i.checked_sub(1).map_or(0, |j| self.ends[j] as usize);
        let end = self.ends.get(i).map_or(self.text.len(), |&e| e as usize);
        self.text.get(start..end).unwrap_or("")
    }

    fn sub(&self) -> &str {
        self.part(0)
    }

    fn scopes(&self) -> &str {
        self.part(1)
    }

    fn sub_type(&self) -> Option<&str> {
        self.sub_type.then(|| self.part(2))
    }

    fn client_id(&self) -> Option<&str> {
        self.client_id.then(|| self.part(3))
    }

    fn jti(&self) -> Option<&str> {
        self.jti.then(|| self.part(4))
    }
}

#[derive(Default)]
struct Rare {
    tenant: Option<Arc<str>>,
    /// What the token is bound to.
    confirmation: Confirmation,
    /// The header a proxy delivers this issuer's tokens in (none: `Authorization`).
    delivered_in: Option<http::HeaderName>,
    /// How the user authenticated, who acts, for exactly what.
    context: GrantContext,
}

/// What a grant says beyond identity and scopes, when the credential says it.
#[derive(Default)]
pub(crate) struct GrantContext {
    /// `acr` (RFC 9470).
    pub(crate) acr: Option<Box<str>>,
    /// `auth_time` (RFC 9470).
    pub(crate) auth_time: Option<u64>,
    /// `act`, current actor first (RFC 8693 §4.1).
    pub(crate) actors: Box<[Actor]>,
    /// `may_act` (RFC 8693 §4.4).
    pub(crate) may_act: Option<Actor>,
    /// `authorization_details` (RFC 9396).
    pub(crate) authorization_details: Option<Arc<[AuthorizationDetail]>>,
}

impl GrantContext {
    fn is_empty(&self) -> bool {
        self.acr.is_none()
            && self.auth_time.is_none()
            && self.actors.is_empty()
            && self.may_act.is_none()
            && self.authorization_details.is_none()
    }
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
        (sub, sub_type, client_id, jti): (&str, Option<&str>, Option<&str>, Option<&str>),
        scopes: &str,
        (exp, nbf): (u64, Option<u64>),
        (iss, tenant): (Arc<str>, Option<Arc<str>>),
    ) -> Self {
        Self {
            inner: Arc::new(GrantInner {
                text: GrantText::new(sub, scopes, (sub_type, client_id, jti)),
                exp,
                nbf: nbf.unwrap_or(0),
                iss,
                iat: 0,
                rare: tenant.map(|tenant| {
                    Box::new(Rare {
                        tenant: Some(tenant),
                        confirmation: Confirmation::None,
                        delivered_in: None,
                        context: GrantContext::default(),
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

    /// The shared part, for a cached verdict.
    pub(crate) fn shared(&self) -> Shared {
        Shared(Arc::clone(&self.inner))
    }

    /// A grant of a cached verdict, without a responder.
    pub(crate) fn from_shared(shared: Shared) -> Self {
        Self {
            inner: shared.0,
            responder: None,
        }
    }

    /// How the layer that admitted the request answers refusals.
    pub(crate) fn responder(&self) -> Option<&Responder> {
        self.responder.as_ref()
    }

    /// Ties a refusal of this accepted credential to its issuer and kind (the metrics labels).
    pub(crate) fn tie(&self, error: AuthError) -> AuthError {
        let error = error
            .at_issuer(&self.inner.iss)
            .judged_as(self.inner.credential);
        match self.actors() {
            [] => error,
            chain => error.acting(super::context::describe_chain(chain)),
        }
    }

    /// A key telling grants apart while both are alive: the same token's verdicts (cached)
    /// share one grant.
    pub(crate) fn key(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }

    /// Whether `other` is this very grant (not merely an equal one).
    pub(crate) fn is_same(&self, other: &Grant) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
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

    /// When the credential was issued (`iat`), where it says.
    pub(crate) fn issued(mut self, iat: Option<u64>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.iat = iat.unwrap_or(0);
        }
        self
    }

    /// When the credential was issued (`iat`), when it says.
    pub fn issued_at(&self) -> Option<u64> {
        Some(self.inner.iat).filter(|&iat| iat > 0)
    }

    /// The credential's identifier (`jti`), when it has one.
    pub fn jti(&self) -> Option<&str> {
        self.inner.text.jti()
    }

    /// The authentication, delegation and authorization details the credential carries.
    pub(crate) fn with_context(mut self, context: GrantContext) -> Self {
        if context.is_empty() {
            return self;
        }
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.rare.get_or_insert_with(Box::default).context = context;
        }
        self
    }

    fn context(&self) -> Option<&GrantContext> {
        self.inner.rare.as_ref().map(|rare| &rare.context)
    }

    /// The Authentication Context Class Reference the user authenticated with (`acr`), when
    /// the credential says (RFC 9470).
    pub fn acr(&self) -> Option<&str> {
        self.context()?.acr.as_deref()
    }

    /// When the user authenticated (`auth_time`, seconds since the epoch), when the credential
    /// says (RFC 9470).
    pub fn auth_time(&self) -> Option<u64> {
        self.context()?.auth_time
    }

    /// The parties acting for the subject (`act`, RFC 8693 §4.1), the current actor first and
    /// each earlier one after it; empty when nobody acts for the subject.
    pub fn actors(&self) -> &[Actor] {
        self.context().map_or(&[], |c| &c.actors)
    }

    /// Whether someone acts for the subject (the token is delegated: impersonation or an
    /// agent).
    pub fn is_delegated(&self) -> bool {
        !self.actors().is_empty()
    }

    /// The party allowed to act for the subject (`may_act`, RFC 8693 §4.4), when the
    /// credential names one.
    pub fn may_act(&self) -> Option<&Actor> {
        self.context()?.may_act.as_ref()
    }

    /// The `authorization_details` entries (RFC 9396); empty when the credential has none.
    pub fn authorization_details(&self) -> &[AuthorizationDetail] {
        self.context()
            .and_then(|c| c.authorization_details.as_deref())
            .unwrap_or(&[])
    }

    /// Notes that the token's issuer delivers its tokens in this proxy header.
    pub(crate) fn delivered_in(mut self, header: Option<&http::HeaderName>) -> Self {
        let Some(header) = header else {
            return self;
        };
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.rare.get_or_insert_with(Box::default).delivered_in = Some(header.clone());
        }
        self
    }

    /// The proxy header the token's issuer delivers its tokens in; `None` for `Authorization`
    /// (and a layer's own token sources).
    pub(crate) fn delivery_header(&self) -> Option<&http::HeaderName> {
        self.inner.rare.as_ref()?.delivered_in.as_ref()
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
    /// [`Issuer::role_claims`](crate::Issuer::role_claims)).
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
    /// API key's [`ApiKeyGrant::new`](crate::api_key::ApiKeyGrant::new) subject. Empty when it names
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grants_strings_share_one_allocation_and_keep_their_bounds() {
        let text = GrantText::new("u-1", "a b", (Some("user"), Some("acme"), Some("j-1")));
        assert_eq!(
            (
                text.sub(),
                text.scopes(),
                text.sub_type(),
                text.client_id(),
                text.jti()
            ),
            ("u-1", "a b", Some("user"), Some("acme"), Some("j-1"))
        );
        // Absent and empty stay apart; multi-byte characters keep their boundaries.
        let text = GrantText::new("ü", "", (Some(""), None, None));
        assert_eq!(
            (text.sub(), text.scopes(), text.sub_type(), text.client_id()),
            ("ü", "", Some(""), None)
        );
        let text = GrantText::new("", "s", (None, Some("ç"), Some("é")));
        assert_eq!(
            (
                text.sub(),
                text.scopes(),
                text.sub_type(),
                text.client_id(),
                text.jti()
            ),
            ("", "s", None, Some("ç"), Some("é"))
        );
    }

    #[test]
    fn a_scope_is_granted_only_as_a_whole_word() {
        let grant = |scopes: &str| {
            Grant::new(
                ("u", None, None, None),
                scopes,
                (1, None),
                ("i".into(), None),
            )
        };
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
}
