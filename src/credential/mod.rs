//! Step 1 of the request path: where a credential comes from (the `Authorization` header, a
//! configured header or cookie, the `DPoP` proof header) and the API keys routed by prefix.

pub(crate) mod api_key;
mod key_grant;
mod key_store;
pub(crate) mod token;

/// How the request's credential was judged.
///
/// ```
/// use tower_jwt_auth::Credential;
/// assert_ne!(Credential::Jwt, Credential::ApiKey);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Credential {
    /// A JWT access token, its signature verified with the issuer's keys.
    Jwt,
    /// An opaque token the issuer's introspection endpoint (RFC 7662) reported active.
    Introspected,
    /// An API key a configured validator accepted.
    ApiKey,
}

pub use api_key::{ApiKey, ApiKeyError, ApiKeyFn, ApiKeyValidator, KeyDigest};
pub use key_grant::ApiKeyGrant;
pub(crate) use key_grant::{GrantId, NO_EXPIRY};
pub use key_store::ApiKeyStore;
