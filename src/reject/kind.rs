//! Why a request was refused: the kinds, each with its fixed description.

/// Why a request was refused. Each kind maps to exactly one outcome (status, RFC 6750 error code,
/// fixed description) in one table; see the crate documentation.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::time::Duration;
/// use tower_jwt_auth::{testing::TestIssuer, AuthErrorKind, JwtAuth};
/// let issuer = TestIssuer::start().await;
/// let auth = JwtAuth::new(issuer.url(), "insights-api");
/// let expired = issuer.token().expired_for(Duration::from_secs(600)).sign();
/// assert_eq!(auth.verify(&expired).await.unwrap_err().kind(), AuthErrorKind::Expired);
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthErrorKind {
    /// No bearer credentials: no `Authorization` header, or one of another scheme (`Basic`,
    /// `Digest`, RFC 6750 §3.1): 401 without an error code.
    MissingToken,
    /// The `Authorization` header is unusable: repeated, an empty Bearer token, or not a
    /// `b64token`: 400 `invalid_request`.
    InvalidRequest,
    /// The header or token is longer than the configured cap: 401 `invalid_token`.
    TokenTooLarge,
    /// Not a compact JWS of three base64url segments holding JSON: 401 `invalid_token`.
    Malformed,
    /// An encrypted (JWE) or nested token: 401 `invalid_token`.
    EncryptedOrNested,
    /// `alg` is `none`, symmetric (`HS*`), unknown, or not in the configured allow-list.
    UnsupportedAlgorithm,
    /// A JOSE header member this crate refuses: unknown `crit`, `b64: false`, unexpected `typ`.
    UnsupportedHeader,
    /// No key in the issuer's key set has the token's `kid`, or (without `kid`) not exactly one
    /// key fits its algorithm.
    UnknownKey,
    /// The key named by `kid` cannot verify the token's algorithm (another key type, curve or a
    /// different JWK `alg`).
    KeyMismatch,
    /// The signature does not verify.
    InvalidSignature,
    /// `exp` is in the past (beyond the leeway).
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    IssuedInFuture,
    /// The lifetime `exp - iat` is longer than the configured maximum (without `iat`: what
    /// is left of it, `exp - now`).
    LifetimeTooLong,
    /// `iss` is missing or is not the configured issuer.
    InvalidIssuer,
    /// `aud` is missing or does not contain the configured audience.
    InvalidAudience,
    /// A required claim is missing (`exp`, `sub`, or one required by strict RFC 9068 mode).
    MissingClaim,
    /// A signed JWT that is not an access token: it carries a claim only an OpenID Connect ID
    /// token carries (`nonce`, `at_hash`, `c_hash`, `s_hash`) or a security-event token's
    /// `events` (RFC 8417): 401 `invalid_token`, in every mode, for every issuer. (A `typ`
    /// naming another kind of JWT, such as `logout+jwt`, `secevent+jwt` or `dpop+jwt`, is
    /// [`UnsupportedHeader`](AuthErrorKind::UnsupportedHeader).)
    NotAnAccessToken,
    /// The user did not authenticate strongly or recently enough for the route: its `acr` is
    /// not one the route accepts, or its `auth_time` is older than the route's `max_age` (or
    /// absent under one): 401 `insufficient_user_authentication` with the route's
    /// `acr_values` and/or `max_age` (RFC 9470 §3), so that the client can ask for a new
    /// authentication.
    InsufficientUserAuthentication,
    /// The token is delegated (`act`) and the route refuses the acting party: delegation at
    /// all, an actor not on the route's list, a chain deeper than allowed, or an actor its
    /// `may_act` does not permit: 403 `insufficient_scope`.
    ActorNotAllowed,
    /// No `authorization_details` entry of the type the route requires permits the request
    /// (RFC 9396): 403 `insufficient_scope`, the description naming the type.
    InsufficientAuthorizationDetails,
    /// The credential was revoked ([`Revocations`](crate::Revocations)): 401 `invalid_token`.
    Revoked,
    /// The fleet's revocation list has not been in sync for longer than its bound, and it
    /// fails closed ([`WhenStale::FailClosed`](crate::WhenStale::FailClosed)): 503.
    RevocationUnavailable,
    /// An asynchronous rule could not answer (it failed or timed out): 503, failing closed.
    RuleUnavailable,
    /// The token's issuer delivers its tokens in a proxy's header (Google IAP's
    /// `x-goog-iap-jwt-assertion`, an AWS load balancer's `x-amzn-oidc-data`, Cloudflare
    /// Access's `Cf-Access-Jwt-Assertion`), and it was found elsewhere — or the other way
    /// round: 401 `invalid_token`. A proxy-asserted token replayed in `Authorization` never
    /// passes.
    WrongTokenLocation,
    /// A claim has the wrong JSON type or an impossible value, or the claims do not fit the
    /// application's claims type.
    InvalidClaim,
    /// The token is bound to a key (its claims carry `cnf`, RFC 7800: a DPoP key thumbprint, a
    /// client certificate thumbprint) but was presented as a plain bearer token, without the
    /// proof of possession that makes it usable: 401 `invalid_token` (RFC 9449 §7.1,
    /// RFC 8705 §3).
    BoundToken,
    /// The token was presented with the `DPoP` scheme but is not bound to a DPoP key (no
    /// `cnf.jkt`): 401 `invalid_token` (RFC 9449 §7.1).
    NotDpopBound,
    /// The `DPoP` proof is missing, repeated or fails a rule of RFC 9449 §4.3: its type,
    /// algorithm, key, signature, `htm`, `htu`, `iat`, `ath`, a replayed `jti`, or a key other
    /// than the one the token is bound to: 401 `invalid_dpop_proof`.
    InvalidDpopProof,
    /// Server nonces are on and the proof lacks the current one: 401 `use_dpop_nonce` with a
    /// fresh `DPoP-Nonce` header (RFC 9449 §8).
    UseDpopNonce,
    /// DPoP is required ([`Dpop::required`](crate::Dpop::required)) and the credential was a
    /// bearer token: 401 `invalid_token` with a `DPoP` challenge.
    DpopRequired,
    /// Under [`JwtAuth::fapi2`](crate::JwtAuth::fapi2): the credential is not bound to a DPoP
    /// key or a client certificate (a plain bearer token, an API key): 401 `invalid_token`.
    NotSenderConstrained,
    /// One DPoP key sent more proofs within the replay window than its share of the replay
    /// store ([`Dpop::proofs_per_key`](crate::Dpop::proofs_per_key)): 429 Too Many Requests
    /// with `Retry-After`, for that key alone.
    TooManyProofs,
    /// The token is valid but lacks a scope the route requires: 403 `insufficient_scope`.
    InsufficientScope,
    /// The token is valid but its `sub_type` is not the one the route requires: 403
    /// `insufficient_scope`.
    SubTypeMismatch,
    /// The token is valid but lacks a role the route requires (from the configured role
    /// claims): 403 `insufficient_scope`. The description names no role.
    MissingRole,
    /// The token is valid but an application rule ([`JwtAuth::require`](crate::JwtAuth::require))
    /// returned false: 403 `insufficient_scope`.
    RuleRejected,
    /// An application rule panicked: 500, with an error event; the connection is kept.
    RulePanicked,
    /// The issuer's introspection endpoint (RFC 7662) reports the opaque token inactive
    /// (`active: false`: unknown, revoked or expired): 401 `invalid_token`.
    InactiveToken,
    /// No configured API-key validator knows the key: 401 `invalid_token`.
    UnknownApiKey,
    /// Signing keys could not be obtained (identity provider unreachable, nothing cached): 503.
    KeysUnavailable,
    /// The service that judges an opaque credential failed: the introspection endpoint is
    /// unreachable or answered with an error or an unusable document, or an API-key
    /// validator reported its own failure: 503 with `Retry-After`. Nothing is cached.
    ValidationUnavailable,
    /// The layer's configuration is unusable (see [`ConfigError`](crate::ConfigError)): 500.
    Misconfigured,
    /// Verification failed unexpectedly inside the crypto backend: 401 `invalid_token`.
    Internal,
}

impl AuthErrorKind {
    /// The fixed, input-free text of this kind's `error_description`.
    ///
    /// ```
    /// use tower_jwt_auth::AuthErrorKind;
    /// assert_eq!(AuthErrorKind::Expired.description(), "the token has expired");
    /// ```
    pub fn description(self) -> &'static str {
        use AuthErrorKind as K;
        match self {
            K::MissingToken => "a bearer token is required",
            K::InvalidRequest => "the Authorization header must hold exactly one Bearer token",
            K::TokenTooLarge => "the token is too large",
            K::Malformed => "the token is malformed",
            K::EncryptedOrNested => "encrypted or nested tokens are not accepted",
            K::UnsupportedAlgorithm => "the token's signing algorithm is not accepted",
            K::UnsupportedHeader => "the token header has an unsupported member",
            K::UnknownKey => "the token's signing key is not known",
            K::KeyMismatch => "the signing key does not match the token's algorithm",
            K::InvalidSignature => "the token signature is invalid",
            K::Expired => "the token has expired",
            K::NotYetValid => "the token is not valid yet",
            K::IssuedInFuture => "the token is issued in the future",
            K::LifetimeTooLong => "the token's lifetime is too long",
            K::InvalidIssuer => "the token issuer is not accepted",
            K::InvalidAudience => "the token is not intended for this audience",
            K::MissingClaim => "the token lacks a required claim",
            K::InvalidClaim => "the token has an invalid claim",
            K::NotAnAccessToken => "the token is not an access token",
            K::WrongTokenLocation => "the token was not sent where its issuer delivers it",
            K::InsufficientUserAuthentication => {
                "a stronger or more recent authentication is required"
            }
            K::ActorNotAllowed => "the acting party may not act on this resource",
            K::InsufficientAuthorizationDetails => {
                "the token's authorization details do not permit this request"
            }
            K::RuleUnavailable => "the authorization check is unavailable",
            K::Revoked => "the token has been revoked",
            K::RevocationUnavailable => "the revocation list is unavailable",
            K::BoundToken => "the token is bound to a key and needs its proof of possession",
            K::NotDpopBound => "the token is not bound to a DPoP key",
            K::InvalidDpopProof => "the DPoP proof is invalid",
            K::UseDpopNonce => "the DPoP proof must carry the server's current nonce",
            K::DpopRequired => "a DPoP-bound token and its proof are required",
            K::TooManyProofs => "too many DPoP proofs from one key; retry later",
            K::NotSenderConstrained => "a sender-constrained token is required",
            K::InsufficientScope => "the token lacks a required scope",
            K::SubTypeMismatch => "the token's subject type is not accepted here",
            K::MissingRole => "the token lacks a required role",
            K::RuleRejected => "the token does not satisfy this route's rule",
            K::RulePanicked => "the authorization rule failed",
            K::InactiveToken => "the token is not active",
            K::UnknownApiKey => "the API key is not known",
            K::KeysUnavailable => "signing keys are temporarily unavailable",
            K::ValidationUnavailable => "the credential cannot be checked right now",
            K::Misconfigured => "token verification is misconfigured",
            K::Internal => "the token could not be verified",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_description() {
        use AuthErrorKind as K;
        let kinds = [
            K::MissingToken,
            K::InvalidRequest,
            K::TokenTooLarge,
            K::Malformed,
            K::EncryptedOrNested,
            K::UnsupportedAlgorithm,
            K::UnsupportedHeader,
            K::UnknownKey,
            K::KeyMismatch,
            K::InvalidSignature,
            K::Expired,
            K::NotYetValid,
            K::IssuedInFuture,
            K::LifetimeTooLong,
            K::InvalidIssuer,
            K::InvalidAudience,
            K::MissingClaim,
            K::InvalidClaim,
            K::NotAnAccessToken,
            K::WrongTokenLocation,
            K::InsufficientUserAuthentication,
            K::ActorNotAllowed,
            K::InsufficientAuthorizationDetails,
            K::RuleUnavailable,
            K::Revoked,
            K::RevocationUnavailable,
            K::BoundToken,
            K::TooManyProofs,
            K::NotSenderConstrained,
            K::InsufficientScope,
            K::SubTypeMismatch,
            K::MissingRole,
            K::RuleRejected,
            K::RulePanicked,
            K::InactiveToken,
            K::UnknownApiKey,
            K::KeysUnavailable,
            K::ValidationUnavailable,
            K::Misconfigured,
            K::Internal,
        ];
        let texts: std::collections::HashSet<_> = kinds.iter().map(|k| k.description()).collect();
        assert_eq!(texts.len(), kinds.len());
    }
}
