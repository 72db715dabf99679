//! What the crate counts and measures, through the [`metrics`](https://docs.rs/metrics) facade
//! (feature `metrics`): every name and label in one place. Without the feature each function
//! here is empty and inlined away.
//!
//! Labels never carry a value taken from a credential: `issuer` is always a trusted issuer's
//! configured URL (a tenant's own URL for a template issuer, a resolver's answer for a resolved
//! one), so its cardinality is bounded by the configuration; `outcome`, `credential` and
//! `result` take the fixed values listed in the crate docs.
#![cfg_attr(not(feature = "metrics"), allow(dead_code))]

use crate::claims::{Credential, Grant};
use crate::error::{AuthError, AuthErrorKind};

/// Requests the main layer judged: `outcome` (`accepted` or the refusal's kind), `issuer`
/// (`none` when no trusted issuer was reached), `credential` (`jwt`, `introspected`,
/// `api_key`, `none`).
pub(crate) const REQUESTS: &str = "tower_jwt_auth_requests_total";
/// Refusals by per-route layers (`RequireScopes`, `RequireRoles`, `RequireClaims`,
/// `MethodScopes`): `outcome`.
pub(crate) const ROUTE_REFUSALS: &str = "tower_jwt_auth_route_refusals_total";
/// Verified-token cache look-ups: `result` = `hit` | `miss`.
pub(crate) const TOKEN_CACHE: &str = "tower_jwt_auth_token_cache_total";
/// Key-set fetch attempts: `issuer`, `result` = `ok` or the failure's kind.
pub(crate) const KEY_FETCHES: &str = "tower_jwt_auth_key_fetches_total";
/// Key-set fetch attempts' duration in seconds (histogram): `issuer`.
pub(crate) const KEY_FETCH_SECONDS: &str = "tower_jwt_auth_key_fetch_duration_seconds";
/// Age in seconds of the key set in use (gauge): `issuer`.
pub(crate) const KEY_SET_AGE: &str = "tower_jwt_auth_key_set_age_seconds";
/// Refetches for an unknown `kid` that the cooldown (or an earlier vain look-up) refused:
/// `issuer`.
pub(crate) const REFETCHES_REFUSED: &str = "tower_jwt_auth_key_refetches_refused_total";
/// Introspection calls (RFC 7662): `issuer`, `result` = `active` | `inactive` | `error`.
pub(crate) const INTROSPECTIONS: &str = "tower_jwt_auth_introspection_calls_total";
/// Introspection calls' duration in seconds (histogram): `issuer`.
pub(crate) const INTROSPECTION_SECONDS: &str = "tower_jwt_auth_introspection_duration_seconds";
/// Introspection cache look-ups: `result` = `hit` | `miss`.
pub(crate) const INTROSPECTION_CACHE: &str = "tower_jwt_auth_introspection_cache_total";

/// The `outcome` label of a refusal of this kind.
pub(crate) fn outcome(kind: AuthErrorKind) -> &'static str {
    use AuthErrorKind as K;
    match kind {
        K::MissingToken => "missing_token",
        K::InvalidRequest => "invalid_request",
        K::TokenTooLarge => "token_too_large",
        K::Malformed => "malformed",
        K::EncryptedOrNested => "encrypted_or_nested",
        K::UnsupportedAlgorithm => "unsupported_algorithm",
        K::UnsupportedHeader => "unsupported_header",
        K::UnknownKey => "unknown_key",
        K::KeyMismatch => "key_mismatch",
        K::InvalidSignature => "invalid_signature",
        K::Expired => "expired",
        K::NotYetValid => "not_yet_valid",
        K::IssuedInFuture => "issued_in_future",
        K::LifetimeTooLong => "lifetime_too_long",
        K::InvalidIssuer => "invalid_issuer",
        K::InvalidAudience => "invalid_audience",
        K::MissingClaim => "missing_claim",
        K::InvalidClaim => "invalid_claim",
        K::BoundToken => "bound_token",
        K::NotDpopBound => "not_dpop_bound",
        K::InvalidDpopProof => "invalid_dpop_proof",
        K::UseDpopNonce => "use_dpop_nonce",
        K::DpopRequired => "dpop_required",
        K::InsufficientScope => "insufficient_scope",
        K::SubTypeMismatch => "sub_type_mismatch",
        K::MissingRole => "missing_role",
        K::RuleRejected => "rule_rejected",
        K::RulePanicked => "rule_panicked",
        K::InactiveToken => "inactive_token",
        K::UnknownApiKey => "unknown_api_key",
        K::KeysUnavailable => "keys_unavailable",
        K::ValidationUnavailable => "validation_unavailable",
        K::Misconfigured => "misconfigured",
        K::Internal => "internal",
    }
}

fn credential(credential: Credential) -> &'static str {
    match credential {
        Credential::Jwt => "jwt",
        Credential::Introspected => "introspected",
        Credential::ApiKey => "api_key",
    }
}

#[cfg(feature = "metrics")]
mod on {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    /// Describes every metric to the recorder installed at the time, once per process.
    pub(crate) fn describe() {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
            describe_counter!(
                REQUESTS,
                "Requests the layer judged, by outcome, issuer and credential"
            );
            describe_counter!(
                ROUTE_REFUSALS,
                "Requests a per-route layer refused, by outcome"
            );
            describe_counter!(TOKEN_CACHE, "Verified-token cache look-ups, by result");
            describe_counter!(KEY_FETCHES, "Key-set fetch attempts, by issuer and result");
            describe_histogram!(
                KEY_FETCH_SECONDS,
                Unit::Seconds,
                "Key-set fetch attempts' duration"
            );
            describe_gauge!(KEY_SET_AGE, Unit::Seconds, "Age of the key set in use");
            describe_counter!(
                REFETCHES_REFUSED,
                "Unknown-kid refetches refused by the cooldown"
            );
            describe_counter!(INTROSPECTIONS, "Introspection calls, by issuer and result");
            describe_histogram!(
                INTROSPECTION_SECONDS,
                Unit::Seconds,
                "Introspection calls' duration"
            );
            describe_counter!(
                INTROSPECTION_CACHE,
                "Introspection cache look-ups, by result"
            );
        });
    }

    pub(crate) fn accepted(grant: &Grant) {
        metrics::counter!(REQUESTS,
            "outcome" => "accepted",
            "issuer" => Arc::clone(grant.issuer_shared()),
            "credential" => credential(grant.credential()))
        .increment(1);
    }

    pub(crate) fn refused(error: &AuthError) {
        let issuer = match error.issuer() {
            Some(issuer) => metrics::SharedString::from(Arc::clone(issuer)),
            None => metrics::SharedString::const_str("none"),
        };
        let credential = error.credential().map_or("none", credential);
        metrics::counter!(REQUESTS,
            "outcome" => outcome(error.kind()),
            "issuer" => issuer,
            "credential" => credential)
        .increment(1);
    }

    pub(crate) fn route_refused(error: &AuthError) {
        metrics::counter!(ROUTE_REFUSALS, "outcome" => outcome(error.kind())).increment(1);
    }

    pub(crate) fn token_cache(hit: bool) {
        let result = if hit { "hit" } else { "miss" };
        metrics::counter!(TOKEN_CACHE, "result" => result).increment(1);
    }

    pub(crate) fn key_fetch(issuer: &Arc<str>, result: &'static str, took: Duration) {
        metrics::counter!(KEY_FETCHES, "issuer" => Arc::clone(issuer), "result" => result)
            .increment(1);
        metrics::histogram!(KEY_FETCH_SECONDS, "issuer" => Arc::clone(issuer))
            .record(took.as_secs_f64());
    }

    /// The key-set age gauge of one issuer, registered once.
    #[derive(Clone)]
    pub(crate) struct AgeGauge(metrics::Gauge);

    impl AgeGauge {
        pub(crate) fn new(issuer: &Arc<str>) -> Self {
            Self(metrics::gauge!(KEY_SET_AGE, "issuer" => Arc::clone(issuer)))
        }

        pub(crate) fn set(&self, age_ms: u64) {
            self.0.set(age_ms as f64 / 1000.0);
        }
    }

    pub(crate) fn refetch_refused(issuer: &Arc<str>) {
        metrics::counter!(REFETCHES_REFUSED, "issuer" => Arc::clone(issuer)).increment(1);
    }

    pub(crate) fn introspection(issuer: &Arc<str>, result: &'static str, took: Duration) {
        metrics::counter!(INTROSPECTIONS, "issuer" => Arc::clone(issuer), "result" => result)
            .increment(1);
        metrics::histogram!(INTROSPECTION_SECONDS, "issuer" => Arc::clone(issuer))
            .record(took.as_secs_f64());
    }

    pub(crate) fn introspection_cache(hit: bool) {
        let result = if hit { "hit" } else { "miss" };
        metrics::counter!(INTROSPECTION_CACHE, "result" => result).increment(1);
    }
}

#[cfg(not(feature = "metrics"))]
mod on {
    use std::sync::Arc;
    use std::time::Duration;

    use super::{AuthError, Grant};

    #[inline(always)]
    pub(crate) fn describe() {}
    #[inline(always)]
    pub(crate) fn accepted(_: &Grant) {}
    #[inline(always)]
    pub(crate) fn refused(_: &AuthError) {}
    #[inline(always)]
    pub(crate) fn route_refused(_: &AuthError) {}
    #[inline(always)]
    pub(crate) fn token_cache(_: bool) {}
    #[inline(always)]
    pub(crate) fn key_fetch(_: &Arc<str>, _: &'static str, _: Duration) {}
    #[derive(Clone)]
    pub(crate) struct AgeGauge;
    impl AgeGauge {
        #[inline(always)]
        pub(crate) fn new(_: &Arc<str>) -> Self {
            Self
        }
        #[inline(always)]
        pub(crate) fn set(&self, _: u64) {}
    }
    #[inline(always)]
    pub(crate) fn refetch_refused(_: &Arc<str>) {}
    #[inline(always)]
    pub(crate) fn introspection(_: &Arc<str>, _: &'static str, _: Duration) {}
    #[inline(always)]
    pub(crate) fn introspection_cache(_: bool) {}
}

pub(crate) use on::*;
