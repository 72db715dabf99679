//! Step 1 of the request path: where a credential comes from (the `Authorization` header, a
//! configured header or cookie, the `DPoP` proof header) and the API keys routed by prefix.

pub(crate) mod api_key;
pub(crate) mod token;

pub use api_key::{
    ApiKey, ApiKeyError, ApiKeyFn, ApiKeyGrant, ApiKeyStore, ApiKeyValidator, KeyDigest,
};
