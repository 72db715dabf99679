//! What the crate counts and measures, through the [`metrics`](https://docs.rs/metrics) facade
//! (feature `metrics`): every name and label in one place. Without the feature each function
//! here is empty and inlined away.
//!
//! Labels never carry a value taken from a credential: `issuer` is always a trusted issuer's
//! configured URL (a tenant's own URL for a template issuer, a resolver's answer for a resolved
//! one), so its cardinality is bounded by the configuration; `outcome`, `credential` and
//! `result` take the fixed values listed in the crate docs.
#![cfg_attr(not(feature = "metrics"), allow(dead_code))]

use crate::claims::Grant;
use crate::credential::Credential;
use crate::reject::{AuthError, AuthErrorKind};

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

/// Outbound calls in flight, each shared by the requests waiting for it (gauge): `call` =
/// `introspection` | `jwks` | `client_token`.
pub(crate) const CALLS_IN_FLIGHT: &str = "tower_jwt_auth_calls_in_flight";
/// Gauge: revocations in force.
pub(crate) const REVOCATIONS: &str = "tower_jwt_auth_revocations";
/// Gauge: seconds since a fleet's revocation list was last in sync (0 while it is).
pub(crate) const REVOCATION_STALENESS: &str = "tower_jwt_auth_revocation_staleness_seconds";

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
        K::NotAnAccessToken => "not_an_access_token",
        K::WrongTokenLocation => "wrong_token_location",
        K::InsufficientUserAuthentication => "insufficient_user_authentication",
        K::ActorNotAllowed => "actor_not_allowed",
        K::InsufficientAuthorizationDetails => "insufficient_authorization_details",
        K::RuleUnavailable => "rule_unavailable",
        K::Revoked => "revoked",
        K::RevocationUnavailable => "revocation_unavailable",
        K::BoundToken => "bound_token",
        K::NotDpopBound => "not_dpop_bound",
        K::InvalidDpopProof => "invalid_dpop_proof",
        K::UseDpopNonce => "use_dpop_nonce",
        K::DpopRequired => "dpop_required",
        K::TooManyProofs => "too_many_proofs",
        K::NotSenderConstrained => "not_sender_constrained",
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
    use std::cell::RefCell;
    use std::sync::Arc;
    use std::time::Duration;

    use metrics::{Key, Label};

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
            describe_gauge!(REVOCATIONS, "Revocations in force");
            describe_gauge!(
                REVOCATION_STALENESS,
                Unit::Seconds,
                "Time since the fleet's revocation list was last in sync"
            );
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
            describe_gauge!(
                CALLS_IN_FLIGHT,
                "Outbound calls in flight (each shared by its waiters), by call"
            );
        });
    }

    /// Where the macros would say the metrics come from.
    static METADATA: metrics::Metadata<'static> =
        metrics::Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

    /// Adds one to the counter `key` names in the recorder in force now (a thread's local
    /// recorder, else the global one): the handle is looked up per call, as the macros do, so
    /// a recorder installed after the layer was built still sees every request.
    fn count(key: &Key) {
        metrics::with_recorder(|recorder| recorder.register_counter(key, &METADATA)).increment(1);
    }

    /// A counter's key with fixed labels, built (and hashed) at compile time.
    macro_rules! static_key {
        ($name:expr, $($label:literal => $value:literal),+) => {{
            static LABELS: &[Label] = &[$(Label::from_static_parts($label, $value)),+];
            static KEY: Key = Key::from_static_parts($name, LABELS);
            &KEY
        }};
    }

    thread_local! {
        /// The key of the last accepted request's counter on this thread, with what it was
        /// built for: an accepted request needs no allocation nor hashing when its issuer and
        /// credential are the last one's (the usual case: one issuer, JWTs).
        static ACCEPTED: RefCell<Option<(Arc<str>, Credential, Key)>> = const { RefCell::new(None) };
    }

    fn accepted_key(issuer: &Arc<str>, credential: Credential) -> Key {
        Key::from_parts(
            REQUESTS,
            vec![
                Label::new("outcome", "accepted"),
                Label::new("issuer", Arc::clone(issuer)),
                Label::new("credential", super::credential(credential)),
            ],
        )
    }

    pub(crate) fn accepted(grant: &Grant) {
        let (issuer, credential) = (grant.issuer_shared(), grant.credential());
        let counted = ACCEPTED.try_with(|last| {
            let Ok(mut last) = last.try_borrow_mut() else {
                return false;
            };
            let same =
                matches!(&*last, Some((i, c, _)) if Arc::ptr_eq(i, issuer) && *c == credential);
            if !same {
                *last = Some((
                    Arc::clone(issuer),
                    credential,
                    accepted_key(issuer, credential),
                ));
            }
            if let Some((_, _, key)) = &*last {
                count(key);
            }
            true
        });
        if counted != Ok(true) {
            count(&accepted_key(issuer, credential));
        }
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

    pub(crate) fn revocations(count: usize) {
        metrics::gauge!(REVOCATIONS).set(count as f64);
    }

    pub(crate) fn revocation_staleness(seconds: f64) {
        metrics::gauge!(REVOCATION_STALENESS).set(seconds);
    }

    pub(crate) fn token_cache(hit: bool) {
        count(if hit {
            static_key!(TOKEN_CACHE, "result" => "hit")
        } else {
            static_key!(TOKEN_CACHE, "result" => "miss")
        });
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

    pub(crate) fn calls_in_flight(call: &'static str, n: usize) {
        metrics::gauge!(CALLS_IN_FLIGHT, "call" => call).set(n as f64);
    }

    pub(crate) fn introspection_cache(hit: bool) {
        count(if hit {
            static_key!(INTROSPECTION_CACHE, "result" => "hit")
        } else {
            static_key!(INTROSPECTION_CACHE, "result" => "miss")
        });
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
    pub(crate) fn revocations(_: usize) {}
    #[inline(always)]
    pub(crate) fn revocation_staleness(_: f64) {}
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

    pub(crate) fn calls_in_flight(_: &'static str, _: usize) {}
}

pub(crate) use on::*;

#[cfg(all(test, feature = "metrics"))]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    use super::*;

    fn grant(iss: &Arc<str>, credential: Credential) -> Grant {
        Grant::new(
            ("u-1", None, None, None),
            "a",
            (1, None),
            (Arc::clone(iss), None),
        )
        .with_credential(credential)
    }

    /// Counts per `issuer/credential` after the sequence, read from a local recorder.
    fn counted(sequence: &[&Grant]) -> BTreeMap<String, u64> {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::with_local_recorder(&recorder, || {
            for grant in sequence {
                accepted(grant);
            }
            token_cache(true);
            token_cache(false);
            token_cache(true);
        });
        let mut seen = BTreeMap::new();
        for (key, _, _, value) in snapshotter.snapshot().into_vec() {
            let key = key.key();
            let DebugValue::Counter(n) = value else {
                continue;
            };
            let labels: Vec<_> = key.labels().map(|l| l.value().to_owned()).collect();
            seen.insert(format!("{}{labels:?}", key.name()), n);
        }
        seen
    }

    #[test]
    fn accepted_requests_count_under_their_own_issuer_and_credential() {
        let (a, b): (Arc<str>, Arc<str>) = ("https://a.example".into(), "https://b.example".into());
        // Another `Arc` with the same URL (a second layer's issuer) counts under the same labels.
        let a_again: Arc<str> = "https://a.example".into();
        let (ja, jb) = (grant(&a, Credential::Jwt), grant(&b, Credential::Jwt));
        let (ka, ja2) = (
            grant(&a, Credential::ApiKey),
            grant(&a_again, Credential::Jwt),
        );
        let seen = counted(&[&ja, &ja, &jb, &ja, &ka, &ka, &ja2, &jb]);
        let want =
            |iss: &str, cred: &str| format!("{REQUESTS}[\"accepted\", \"{iss}\", \"{cred}\"]");
        assert_eq!(seen[&want("https://a.example", "jwt")], 4, "{seen:?}");
        assert_eq!(seen[&want("https://b.example", "jwt")], 2, "{seen:?}");
        assert_eq!(seen[&want("https://a.example", "api_key")], 2, "{seen:?}");
        assert_eq!(seen[&format!("{TOKEN_CACHE}[\"hit\"]")], 2, "{seen:?}");
        assert_eq!(seen[&format!("{TOKEN_CACHE}[\"miss\"]")], 1, "{seen:?}");
        // A recorder installed later sees requests too: nothing was bound to the first one.
        assert_eq!(counted(&[&ja])[&want("https://a.example", "jwt")], 1);
    }
}
