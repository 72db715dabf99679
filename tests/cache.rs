//! The verified-token cache: what it saves, and every way it must not be trusted beyond the
//! token it holds.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tower_jwt_auth::{Caches, TokenRules};

use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Deserializer};
use tower_jwt_auth::testing::TestIssuer;
use tower_jwt_auth::{
    Algorithm, AuthErrorKind, Claims, Clock, JwtAuth, ManualClock, RequireScopes,
};

/// Counts how often a token's claims are decoded, i.e. how often it is fully verified.
static DECODED: AtomicUsize = AtomicUsize::new(0);

#[derive(Debug)]
struct Counted;

impl<'de> Deserialize<'de> for Counted {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d)?;
        DECODED.fetch_add(1, Ordering::SeqCst);
        Ok(Counted)
    }
}

#[tokio::test]
async fn a_repeated_token_is_verified_once_unless_the_cache_is_off() {
    let issuer = TestIssuer::start().await;
    let cached = JwtAuth::new(issuer.url(), "insights-api").with_claims::<Counted>();
    let token = issuer.token().sign();
    let before = DECODED.load(Ordering::SeqCst);
    for _ in 0..5 {
        cached.verify(&token).await.unwrap();
    }
    assert_eq!(DECODED.load(Ordering::SeqCst) - before, 1);

    let uncached = JwtAuth::new(issuer.url(), "insights-api")
        .caches(Caches {
            verified_tokens: 0,
            ..Caches::default()
        })
        .with_claims::<Counted>();
    let before = DECODED.load(Ordering::SeqCst);
    for _ in 0..5 {
        uncached.verify(&token).await.unwrap();
    }
    assert_eq!(DECODED.load(Ordering::SeqCst) - before, 5);
}

#[tokio::test]
async fn an_entry_never_outlives_exp_and_honours_nbf() {
    let clock = ManualClock::starting_now();
    let issuer = TestIssuer::builder().clock(clock.clone()).start().await;
    let auth = JwtAuth::new(issuer.url(), "insights-api")
        .clock(clock.clone())
        .token_rules(TokenRules {
            leeway: Duration::ZERO,
            ..TokenRules::default()
        });
    let token = issuer
        .token()
        .expires_in(Duration::from_secs(60))
        .not_before_in(Duration::ZERO)
        .sign();
    auth.verify(&token).await.unwrap();
    clock.advance(Duration::from_secs(59));
    auth.verify(&token).await.unwrap();
    // Back in time, before nbf: the cached verdict does not apply.
    clock.set(clock.now() - 120);
    assert_eq!(
        auth.verify(&token).await.unwrap_err().kind(),
        AuthErrorKind::NotYetValid
    );
    clock.set(clock.now() + 121);
    assert_eq!(
        auth.verify(&token).await.unwrap_err().kind(),
        AuthErrorKind::Expired
    );
}

#[tokio::test]
async fn removing_the_signing_key_voids_cached_verdicts() {
    let clock = ManualClock::starting_now();
    let issuer = TestIssuer::builder()
        .clock(clock.clone())
        .jwks_max_age(Some(300))
        .start()
        .await;
    let auth = JwtAuth::new(issuer.url(), "insights-api").clock(clock.clone());
    let old = issuer.token().alg(Algorithm::ES256).sign();
    let other = issuer.token().alg(Algorithm::EdDSA).sign();
    auth.verify(&old).await.unwrap();
    auth.verify(&other).await.unwrap();
    let old_kid = issuer.key(Algorithm::ES256).kid().to_owned();
    issuer.add_key(Algorithm::ES256);
    assert!(issuer.remove_key(&old_kid));
    // The routine refresh (at 3/4 of max-age) sees the key gone.
    clock.advance(Duration::from_secs(226));
    let fetched = auth.key_set().unwrap().fetched_at;
    auth.verify(&other).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), async {
        while auth.key_set().unwrap().fetched_at == fetched {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap();
    assert_eq!(
        auth.verify(&old).await.unwrap_err().kind(),
        AuthErrorKind::UnknownKey
    );
    // Tokens of keys still in the set verify again (their entries were voided too).
    auth.verify(&other).await.unwrap();
}

#[tokio::test]
async fn only_the_exact_token_hits() {
    let issuer = TestIssuer::start().await;
    let auth = JwtAuth::new(issuer.url(), "insights-api");
    let token = issuer.token().alg(Algorithm::EdDSA).sign();
    auth.verify(&token).await.unwrap();
    let alphabet = ['A', 'B', '_', '-', '0'];
    let mut refused = 0;
    for pos in (0..token.len()).step_by(7) {
        for c in alphabet {
            if token[pos..].starts_with(c) {
                continue;
            }
            let changed = format!("{}{c}{}", &token[..pos], &token[pos + 1..]);
            assert!(auth.verify(&changed).await.is_err(), "{changed}");
            refused += 1;
        }
    }
    assert!(refused > 100);
    // A prefix or an extension of the token is another token.
    assert!(auth.verify(&token[..token.len() - 1]).await.is_err());
    assert!(auth.verify(&format!("{token}A")).await.is_err());
}

#[tokio::test]
async fn route_requirements_are_checked_on_every_hit() {
    let issuer = TestIssuer::start().await;
    let auth = JwtAuth::new(issuer.url(), "insights-api").require_scopes(["insights.read"]);
    let app = Router::new()
        .route("/read", get(|c: Claims| async move { c.sub.clone() }))
        .route(
            "/write",
            get(|c: Claims| async move { c.sub.clone() })
                .layer(RequireScopes::new(["insights.write"])),
        )
        .layer(auth);
    let served = common::serve(app).await;
    let token = issuer.token().scopes(["insights.read"]).sign();
    for _ in 0..3 {
        let read = common::get(&format!("{}/read", served.base), Some(&token)).await;
        assert_eq!(read.status(), 200);
        let write = common::get(&format!("{}/write", served.base), Some(&token)).await;
        assert_eq!(write.status(), 403);
    }
    let no_scope = issuer.token().sign();
    for _ in 0..3 {
        let res = common::get(&format!("{}/read", served.base), Some(&no_scope)).await;
        assert_eq!(res.status(), 403);
    }
}
