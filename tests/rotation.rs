//! Rotation against a flaky provider, with time moved by an injected clock: a key used the moment
//! it is published verifies within a second; the end of an outage of any kind is noticed within
//! two; an unknown `kid` waits about a second at most; a flood of invented `kid`s cannot make the
//! instance hammer the provider; a restarted instance serves from its on-disk copy.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};
use tower_jwt_auth::{Caches, KeyFetching, TokenRules};

use serde_json::json;
use tower_jwt_auth::testing::{Failure, SigningKey, TestIssuer};
use tower_jwt_auth::{Algorithm, AuthErrorKind, Clock, JwtAuth, ManualClock};

const AUD: &str = "insights-api";

/// Waits (bounded) for `f` to hold: an event, not a time.
async fn until(what: &str, f: impl Fn() -> bool) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while !f() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("never: {what}"));
}

#[tokio::test]
async fn a_key_used_the_moment_it_is_published_verifies_within_a_second() {
    let (issuer, auth, clock) = common::warm(Some(600), Duration::from_secs(5)).await;
    clock.advance(Duration::from_secs(5));
    issuer.add_key(Algorithm::ES256);
    let first = issuer.token().alg(Algorithm::ES256).sign();
    let started = Instant::now();
    auth.verify(&first).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(issuer.jwks_requests(), 2);

    // Another rotation half a second later: within the allowance's second it is refused at
    // once, then verifies when the second is up.
    clock.advance(Duration::from_millis(500));
    issuer.add_key(Algorithm::ES256);
    let second = issuer.token().alg(Algorithm::ES256).sign();
    let started = Instant::now();
    let err = auth.verify(&second).await.unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::UnknownKey);
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(issuer.jwks_requests(), 2);
    clock.advance(Duration::from_millis(500));
    auth.verify(&second).await.unwrap();
    assert_eq!(issuer.jwks_requests(), 3);
}

/// The provider recovers; one second later on the injected clock, `token` verifies.
async fn recovered_within_two_seconds(
    issuer: &TestIssuer,
    failure: &Option<Failure>,
    clock: &ManualClock,
    auth: &JwtAuth,
    token: &str,
) {
    common::mend_provider(issuer, failure).await;
    clock.advance(Duration::from_secs(1));
    auth.verify(token)
        .await
        .unwrap_or_else(|e| panic!("{failure:?}: {e:?}"));
}

#[tokio::test]
async fn the_end_of_an_outage_is_noticed_within_two_seconds() {
    for failure in common::outages() {
        let (issuer, auth, clock) = common::warm(Some(600), Duration::from_secs(5)).await;
        common::break_provider(&issuer, &failure);
        // The provider rotates while it is down: its new key cannot be had yet.
        issuer.add_key(Algorithm::EdDSA);
        let token = issuer.token().alg(Algorithm::EdDSA).sign();
        let started = Instant::now();
        let err = auth.verify(&token).await.unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::UnknownKey, "{failure:?}");
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "{failure:?}: waited {:?}",
            started.elapsed()
        );
        recovered_within_two_seconds(&issuer, &failure, &clock, &auth, &token).await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_set_past_its_lifetime_is_refreshed_within_two_seconds_of_recovery() {
    let logs = common::Captured::default();
    let _guard = logs.install();
    let (issuer, auth, clock) = common::warm(Some(300), Duration::from_secs(5)).await;
    let token = issuer.token().sign();
    issuer.fail(Failure::Status(502));
    clock.advance(Duration::from_secs(301));
    // Served from the stale set at once; the refresh behind it fails.
    auth.verify(&token).await.unwrap();
    until("the refresh failed", || {
        logs.text().contains("JWK set refresh failed")
    })
    .await;
    assert_recovers_within_two_seconds(&issuer, &auth, &clock, &token).await;
}

#[tokio::test]
async fn a_set_past_its_lifetime_is_refreshed_within_two_seconds_of_a_hangs_end() {
    let (issuer, auth, clock) = common::warm(Some(300), Duration::from_secs(5)).await;
    let token = issuer.token().sign();
    issuer.fail(Failure::Hang);
    clock.advance(Duration::from_secs(301));
    // Served from the stale set at once; the refresh behind it hangs.
    auth.verify(&token).await.unwrap();
    until("the refresh is out", || issuer.jwks_requests() == 2).await;
    assert_recovers_within_two_seconds(&issuer, &auth, &clock, &token).await;
}

/// The provider recovers; a second later on the injected clock, the next request brings a fresh
/// set (and is answered from the stale one meanwhile).
async fn assert_recovers_within_two_seconds(
    issuer: &TestIssuer,
    auth: &JwtAuth,
    clock: &ManualClock,
    token: &str,
) {
    let stale = auth.key_set().unwrap().fetched_at;
    issuer.recover();
    clock.advance(Duration::from_secs(1));
    auth.verify(token).await.unwrap();
    until("the set was refreshed", || {
        auth.key_set().unwrap().fetched_at != stale
    })
    .await;
    assert_eq!(auth.key_set().unwrap().fetched_at, clock.now());
}

#[tokio::test]
async fn an_unknown_kid_waits_about_a_second_and_known_kids_never_wait() {
    let (issuer, auth, _clock) = common::warm(Some(600), Duration::from_secs(5)).await;
    let known = issuer.token().sign();
    issuer.fail(Failure::Hang);
    issuer.add_key(Algorithm::ES256);
    let unknown = issuer.token().alg(Algorithm::ES256).sign();
    let waiting = {
        let auth = auth.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let err = auth.verify(&unknown).await.unwrap_err();
            (err.kind(), started.elapsed())
        })
    };
    // While that refetch hangs, tokens with known kids pass at once.
    until("the refetch is out", || issuer.jwks_requests() == 2).await;
    for _ in 0..10 {
        let started = Instant::now();
        auth.verify(&known).await.unwrap();
        assert!(started.elapsed() < Duration::from_millis(200));
    }
    let (kind, waited) = waiting.await.unwrap();
    assert_eq!(kind, AuthErrorKind::UnknownKey);
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_millis(1500),
        "{waited:?}"
    );
}

#[tokio::test]
async fn a_kid_found_absent_is_refused_without_waiting() {
    let (issuer, auth, clock) = common::warm(Some(600), Duration::from_secs(5)).await;
    let stranger = SigningKey::generate(Algorithm::ES256);
    let claims = serde_json::to_value(issuer.token().claims()).unwrap();
    let forged = |kid: &str| stranger.sign_json(&json!({"alg": "ES256", "kid": kid}), &claims);
    // One refetch looks for "x" and does not find it.
    assert_eq!(
        auth.verify(&forged("x")).await.unwrap_err().kind(),
        AuthErrorKind::UnknownKey
    );
    assert_eq!(issuer.jwks_requests(), 2);
    // Later, while a refetch for "y" hangs, "x" is answered at once.
    issuer.fail(Failure::Hang);
    clock.advance(Duration::from_secs(2));
    let y = {
        let auth = auth.clone();
        let token = forged("y");
        tokio::spawn(async move { auth.verify(&token).await.unwrap_err().kind() })
    };
    until("the refetch for y is out", || issuer.jwks_requests() == 3).await;
    let started = Instant::now();
    assert_eq!(
        auth.verify(&forged("x")).await.unwrap_err().kind(),
        AuthErrorKind::UnknownKey
    );
    assert!(started.elapsed() < Duration::from_millis(200));
    assert_eq!(y.await.unwrap(), AuthErrorKind::UnknownKey);
}

#[tokio::test]
async fn a_flood_of_invented_kids_cannot_make_the_instance_hammer_the_provider() {
    // A day-long max-age: every fetch in this test is one the flood caused.
    let (issuer, auth, clock) = common::warm(Some(86_400), Duration::from_secs(5)).await;
    let stranger = Arc::new(SigningKey::generate(Algorithm::ES256));
    let claims = serde_json::to_value(issuer.token().claims()).unwrap();
    let start = clock.now_millis();
    let mut fetch_times = Vec::new();
    let mut seen = issuer.jwks_requests();
    // Four requests a second for 30 minutes, each with a kid never seen before.
    for i in 0..(30 * 60 * 4) {
        clock.advance(Duration::from_millis(250));
        let token = stranger.sign_json(&json!({"alg": "ES256", "kid": format!("k-{i}")}), &claims);
        assert_eq!(
            auth.verify(&token).await.unwrap_err().kind(),
            AuthErrorKind::UnknownKey
        );
        if issuer.jwks_requests() != seen {
            seen = issuer.jwks_requests();
            fetch_times.push(clock.now_millis() - start);
        }
    }
    let first_ten_minutes = fetch_times.iter().filter(|&&t| t <= 600_000).count();
    assert!(first_ten_minutes <= 15, "{fetch_times:?}");
    for pair in fetch_times.windows(2).filter(|w| w[0] >= 600_000) {
        assert!(pair[1] - pair[0] >= 300_000, "{fetch_times:?}");
    }
    // A real rotation after the flood resets the allowance once its refetch finds the key.
    clock.advance(Duration::from_secs(300));
    issuer.add_key(Algorithm::EdDSA);
    auth.verify(&issuer.token().alg(Algorithm::EdDSA).sign())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_cold_start_while_the_provider_is_down_recovers_within_two_seconds() {
    for failure in [Some(Failure::Status(503)), Some(Failure::Hang), None] {
        let clock = ManualClock::starting_now();
        let issuer = TestIssuer::builder().clock(clock.clone()).start().await;
        common::break_provider(&issuer, &failure);
        let auth = JwtAuth::new(issuer.url(), AUD)
            .clock(clock.clone())
            .key_fetching(KeyFetching {
                key_wait_budget: Duration::from_secs(1),
                ..KeyFetching::default()
            });
        let token = issuer.token().sign();
        let started = Instant::now();
        let err = auth.verify(&token).await.unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::KeysUnavailable, "{failure:?}");
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "{failure:?}"
        );
        let retry = err.retry_after().unwrap();
        assert!(retry >= Duration::from_secs(1) && retry <= Duration::from_secs(2));
        recovered_within_two_seconds(&issuer, &failure, &clock, &auth, &token).await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn routine_refreshes_back_off_while_nothing_waits() {
    let logs = common::Captured::default();
    let _guard = logs.install();
    let (issuer, auth, clock) = common::warm(Some(600), Duration::from_secs(5)).await;
    let token = issuer.token().sign();
    issuer.fail(Failure::Status(500));
    // Refresh-ahead starts at 450 s; while nothing waits its failures back off 1 s, 2 s, 4 s...
    // (each ±20 %), and every request is answered from the set at hand.
    clock.advance(Duration::from_secs(450));
    let count = |what: &str| logs.text().matches(what).count();
    let started_before = count("JWK set refresh started");
    let mut attempts_at = Vec::new();
    for _ in 0..(40 * 10) {
        auth.verify(&token).await.unwrap();
        let started = count("JWK set refresh started") - started_before;
        if started > attempts_at.len() {
            attempts_at.push(clock.now_millis());
            until("the attempt failed", || {
                count("JWK set refresh failed") == started
            })
            .await;
        }
        clock.advance(Duration::from_millis(100));
    }
    let gaps: Vec<u64> = attempts_at.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.len() >= 4, "{attempts_at:?}");
    assert!(gaps.windows(2).all(|g| g[1] > g[0]), "gaps grow: {gaps:?}");
    assert!((800..=1300).contains(&gaps[0]), "{gaps:?}");
}

/// A file path of this test's own.
fn cache_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tower-jwt-auth-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

#[tokio::test]
async fn a_restarted_instance_serves_from_its_cache_file_while_the_provider_is_down() {
    let path = cache_path("restart.json");
    let issuer = TestIssuer::start().await;
    let token = issuer.token().sign();
    let first = JwtAuth::new(issuer.url(), AUD).caches(Caches {
        jwks_file: Some(path.clone()),
        ..Caches::default()
    });
    first.verify(&token).await.unwrap();
    until("the copy is written", || path.exists()).await;
    issuer.stop();
    // A new instance, the provider down: it serves at once, from the copy.
    let restarted = JwtAuth::new(issuer.url(), AUD).caches(Caches {
        jwks_file: Some(path.clone()),
        ..Caches::default()
    });
    let started = Instant::now();
    restarted.verify(&token).await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(200));
    assert_eq!(restarted.key_set().unwrap(), first.key_set().unwrap());
    assert_eq!(issuer.jwks_requests(), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn corrupt_foreign_or_stale_cache_files_are_ignored_with_a_warning() {
    let logs = common::Captured::default();
    let _guard = logs.install();
    let issuer = TestIssuer::start().await;
    let token = issuer.token().sign();
    let path = cache_path("ignored.json");
    JwtAuth::new(issuer.url(), AUD)
        .caches(Caches {
            jwks_file: Some(path.clone()),
            ..Caches::default()
        })
        .ready()
        .await
        .unwrap();
    until("the copy is written", || path.exists()).await;
    let good = std::fs::read(&path).unwrap();
    issuer.stop();

    std::fs::write(&path, b"{\"format\": 1, garbage").unwrap();
    let corrupt = JwtAuth::new(issuer.url(), AUD)
        .caches(Caches {
            jwks_file: Some(path.clone()),
            ..Caches::default()
        })
        .key_fetching(KeyFetching {
            key_wait_budget: Duration::from_millis(300),
            ..KeyFetching::default()
        });
    let err = corrupt.verify(&token).await.unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::KeysUnavailable);
    assert!(
        logs.text().contains("JWK set cache file ignored"),
        "{}",
        logs.text()
    );

    // Another issuer's configuration does not take this issuer's keys.
    let foreign_path = cache_path("foreign.json");
    std::fs::write(&foreign_path, &good).unwrap();
    let other = TestIssuer::start().await;
    let foreign = JwtAuth::new(other.url(), AUD).caches(Caches {
        jwks_file: Some(foreign_path.clone()),
        ..Caches::default()
    });
    foreign.ready().await.unwrap();
    assert_eq!(other.jwks_requests(), 1, "the foreign copy was not used");

    // Past its staleness bound, the copy is not used either.
    std::fs::write(&path, &good).unwrap();
    let clock = ManualClock::starting_now();
    clock.advance(Duration::from_secs(3 * 24 * 3600));
    let stale = JwtAuth::new(issuer.url(), AUD)
        .clock(clock)
        .token_rules(TokenRules {
            max_lifetime: None,
            ..TokenRules::default()
        })
        .caches(Caches {
            jwks_file: Some(path.clone()),
            ..Caches::default()
        })
        .key_fetching(KeyFetching {
            key_wait_budget: Duration::from_millis(300),
            ..KeyFetching::default()
        });
    assert!(stale.key_set().is_none());
    assert!(
        logs.text().contains("outside its usable window"),
        "{}",
        logs.text()
    );
}
