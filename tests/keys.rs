//! Key sets that survive rotation, outages and floods: against a real loopback identity
//! provider that misbehaves on command, with time moved by an injected clock.

mod common;

use std::time::{Duration, Instant};
use tower_jwt_auth::{Caches, Issuer, KeyFetching, TokenRules};

use axum::response::Redirect;
use axum::routing::get;
use axum::Router;
use serde_json::json;
use tower_jwt_auth::testing::{Failure, SigningKey, TestIssuer, DEFAULT_ALGORITHMS};
use tower_jwt_auth::{Algorithm, AuthErrorKind, JwtAuth, ManualClock};

const AUD: &str = "insights-api";

/// Waits (bounded) for the issuer to have served `n` JWKS requests: an event, not a time.
async fn jwks_requests_reach(issuer: &TestIssuer, n: usize) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while issuer.jwks_requests() < n {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("JWKS requests stayed at {}", issuer.jwks_requests()));
}

#[tokio::test]
async fn max_age_sets_the_lifetime_within_floor_and_ceiling() {
    for (max_age, lifetime) in [
        (Some(600), 600),          // honoured
        (Some(10), 300),           // floor: 5 min
        (Some(1_000_000), 86_400), // ceiling: 24 h
        (None, 900),               // absent: 15 min
    ] {
        let (_issuer, auth, _clock) = common::warm(max_age, Duration::from_secs(2)).await;
        let info = auth.key_set().unwrap();
        assert_eq!(info.expires_at - info.fetched_at, lifetime, "{max_age:?}");
        assert_eq!(
            info.refresh_at - info.fetched_at,
            lifetime - lifetime / 4,
            "{max_age:?}"
        );
        assert_eq!(info.usable_until - info.expires_at, 24 * 3600);
    }
    // Configurable.
    let clock = ManualClock::starting_now();
    let issuer = TestIssuer::builder()
        .clock(clock.clone())
        .jwks_max_age(Some(30))
        .start()
        .await;
    let auth = JwtAuth::new(issuer.url(), AUD).clock(clock).caches(Caches {
        jwks_ttl: Duration::from_secs(120),
        jwks_ttl_floor: Duration::from_secs(60),
        jwks_ttl_ceiling: Duration::from_secs(3600),
        ..Caches::default()
    });
    auth.ready().await.unwrap();
    let info = auth.key_set().unwrap();
    assert_eq!(info.expires_at - info.fetched_at, 60);
}

#[tokio::test]
async fn refresh_ahead_happens_in_the_background() {
    let (issuer, auth, clock) = common::warm(Some(600), Duration::from_secs(2)).await;
    let token = issuer.token().sign();
    let fetched_at = auth.key_set().unwrap().fetched_at;
    clock.advance(Duration::from_secs(449));
    auth.verify(&token).await.unwrap();
    assert_eq!(
        auth.key_set().unwrap().fetched_at,
        fetched_at,
        "no refresh before 3/4 of max-age"
    );
    clock.advance(Duration::from_secs(1));
    // This request is answered from the current set; the refresh runs behind it.
    auth.verify(&token).await.unwrap();
    jwks_requests_reach(&issuer, 2).await;
    tokio::time::timeout(Duration::from_secs(10), async {
        while auth.key_set().unwrap().fetched_at == fetched_at {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap();
    assert_eq!(auth.key_set().unwrap().fetched_at, fetched_at + 450);
}

#[tokio::test]
async fn valid_tokens_keep_passing_through_an_outage() {
    for failure in common::outages() {
        let (issuer, auth, clock) = common::warm(Some(300), Duration::from_secs(2)).await;
        let token = issuer
            .token()
            .expires_in(Duration::from_secs(3 * 24 * 3600))
            .sign();
        let auth = auth.token_rules(TokenRules {
            max_lifetime: None,
            ..TokenRules::default()
        });
        auth.ready().await.unwrap();
        common::break_provider(&issuer, &failure);
        // Past expiry: every request still answers at once from the last good set.
        clock.advance(Duration::from_secs(400));
        for _ in 0..3 {
            let started = Instant::now();
            auth.verify(&token)
                .await
                .unwrap_or_else(|e| panic!("{failure:?}: {e:?}"));
            assert!(
                started.elapsed() < Duration::from_millis(500),
                "{failure:?}: {:?}",
                started.elapsed()
            );
        }
        // ...until the staleness bound (24 h past expiry) is reached.
        clock.advance(Duration::from_secs(24 * 3600));
        let err = auth.verify(&token).await.unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::KeysUnavailable, "{failure:?}");
        assert!(err.retry_after().is_some());
    }
}

#[tokio::test]
async fn cold_start_with_a_hanging_provider_is_503_within_the_budget() {
    let issuer = TestIssuer::start().await;
    issuer.fail(Failure::Hang);
    let auth = JwtAuth::new(issuer.url(), AUD).key_fetching(KeyFetching {
        key_wait_budget: Duration::from_millis(500),
        ..KeyFetching::default()
    });
    let started = Instant::now();
    let err = auth.verify(&issuer.token().sign()).await.unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::KeysUnavailable);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // A second request joins the same fetch instead of starting another.
    let err = auth.verify(&issuer.token().sign()).await.unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::KeysUnavailable);
    assert_eq!(issuer.discovery_requests(), 1);
}

#[tokio::test]
async fn one_bad_key_never_poisons_the_set() {
    let issuer = TestIssuer::start().await;
    issuer.publish_jwk(json!({"kty": "RSA", "kid": "broken", "n": "AQAB", "e": "AQAB"}));
    issuer.publish_jwk(json!({"kty": "oct", "kid": "secret", "k": "c2VjcmV0"}));
    issuer.publish_jwk(
        json!({"kty": "EC", "kid": "wrong-curve", "crv": "P-521", "x": "AA", "y": "AA"}),
    );
    let auth = JwtAuth::new(issuer.url(), AUD);
    auth.ready().await.unwrap();
    let kids = auth.key_set().unwrap().kids;
    assert_eq!(kids.len(), 5, "{kids:?}");
    assert!(!kids.contains(&Some("broken".into())));
    for alg in DEFAULT_ALGORITHMS {
        auth.verify(&issuer.token().alg(alg).sign()).await.unwrap();
    }
    let token = issuer.token().kid("secret").sign();
    assert_eq!(
        auth.verify(&token).await.unwrap_err().kind(),
        AuthErrorKind::UnknownKey
    );
}

#[tokio::test]
async fn the_jwk_alg_must_match_the_token_alg() {
    let issuer = TestIssuer::start().await;
    let auth = JwtAuth::new(issuer.url(), AUD);
    // The RS256 key (its JWK says "alg": "RS256") named by a PS256 token.
    let rs256 = issuer.key(Algorithm::RS256);
    let claims = serde_json::to_value(issuer.token().claims()).unwrap();
    let ps = SigningKey::generate(Algorithm::PS256);
    let token = ps.sign_json(&json!({"alg": "PS256", "kid": rs256.kid()}), &claims);
    assert_eq!(
        auth.verify(&token).await.unwrap_err().kind(),
        AuthErrorKind::KeyMismatch
    );
}

#[tokio::test]
async fn oversized_or_overfull_key_sets_are_refused() {
    let keys: Vec<_> = (0..101)
        .map(|i| json!({"kty": "oct", "kid": i.to_string()}))
        .collect();
    let cases = [
        (
            json!({ "keys": keys }).to_string(),
            "the JWK set has 101 keys, more than the 100 accepted",
        ),
        (
            json!({ "keys": [], "padding": "x".repeat(300 * 1024) }).to_string(),
            "body larger than 262144 bytes",
        ),
    ];
    for (body, reason) in cases {
        let issuer = TestIssuer::start().await;
        issuer.fail(Failure::JwksBody(body));
        let err = JwtAuth::new(issuer.url(), AUD).ready().await.unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::KeysUnavailable);
        let why = std::error::Error::source(&err).unwrap().to_string();
        assert!(why.ends_with(reason), "{why}");
    }
}

#[tokio::test]
async fn redirects_are_bounded_and_keep_the_scheme_rule() {
    let issuer = TestIssuer::start().await;
    let target = issuer.jwks_uri();
    let plain = "http://idp.example.com/jwks";
    let app = Router::new()
        .route("/r1", get(|| async { Redirect::temporary("/r2") }))
        .route(
            "/r2",
            get(move || async move { Redirect::temporary(&target) }),
        )
        .route("/r3", get(|| async { Redirect::temporary("/r1") }))
        .route(
            "/plain",
            get(move || async move { Redirect::temporary(plain) }),
        );
    let hops = common::serve(app).await;
    let ok = JwtAuth::from(
        Issuer::new(issuer.url())
            .audience(AUD)
            .jwks_uri(format!("{}/r1", hops.base)),
    );
    ok.ready().await.unwrap();
    let three = JwtAuth::from(
        Issuer::new(issuer.url())
            .audience(AUD)
            .jwks_uri(format!("{}/r3", hops.base)),
    );
    let why = std::error::Error::source(&three.ready().await.unwrap_err())
        .unwrap()
        .to_string();
    assert!(
        why.ends_with("redirect refused (more than 2 redirects)"),
        "{why}"
    );
    let insecure = JwtAuth::from(
        Issuer::new(issuer.url())
            .audience(AUD)
            .jwks_uri(format!("{}/plain", hops.base)),
    );
    let why = std::error::Error::source(&insecure.ready().await.unwrap_err())
        .unwrap()
        .to_string();
    assert!(
        why.ends_with("redirect refused (http://idp.example.com/jwks: plain http is only allowed to loopback hosts; use https)"),
        "{why}"
    );
}

#[tokio::test]
async fn a_supplied_http_client_is_used_for_every_fetch() {
    let issuer = TestIssuer::start().await;
    let jwks = issuer.jwks().to_string();
    let app = Router::new().route(
        "/jwks",
        get(move |headers: http::HeaderMap| {
            let jwks = jwks.clone();
            async move {
                if headers.get("x-client").is_some_and(|v| v == "ours") {
                    Ok(jwks)
                } else {
                    Err(http::StatusCode::FORBIDDEN)
                }
            }
        }),
    );
    let guarded = common::serve(app).await;
    let uri = format!("{}/jwks", guarded.base);
    let mut headers = http::HeaderMap::new();
    headers.insert("x-client", "ours".parse().unwrap());
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    let auth = JwtAuth::from(Issuer::new(issuer.url()).audience(AUD).jwks_uri(&uri)).key_fetching(
        KeyFetching {
            http_client: Some(client),
            ..KeyFetching::default()
        },
    );
    auth.verify(&issuer.token().sign()).await.unwrap();
    // Without it the key server's 403 is what the layer reports.
    let err = JwtAuth::from(Issuer::new(issuer.url()).audience(AUD).jwks_uri(&uri))
        .ready()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::KeysUnavailable, "{err:?}");
    let source = std::error::Error::source(&err).map(ToString::to_string);
    assert_eq!(source, Some(format!("{uri}: HTTP status 403")));
}

#[tokio::test]
async fn pem_keys_verify_without_any_fetch() {
    let issuer = TestIssuer::start().await;
    let mut fixed = Issuer::new(issuer.url()).audience(AUD);
    for alg in DEFAULT_ALGORITHMS {
        let key = issuer.key(alg);
        fixed = fixed.pem_key(key.kid(), alg, key.public_pem());
    }
    let auth = JwtAuth::from(fixed);
    assert!(auth.validate().is_ok(), "{:?}", auth.validate());
    for alg in DEFAULT_ALGORITHMS {
        auth.verify(&issuer.token().alg(alg).sign()).await.unwrap();
    }
    assert_eq!(issuer.jwks_requests() + issuer.discovery_requests(), 0);
    let rsa = issuer.key(Algorithm::RS256).public_pem();
    let wrong = JwtAuth::from(Issuer::new(issuer.url()).audience(AUD).pem_key(
        "k",
        Algorithm::ES256,
        rsa,
    ));
    assert_eq!(wrong.validate().unwrap_err().field(), "pem_key");
    let private = JwtAuth::from(Issuer::new(issuer.url()).audience(AUD).pem_key(
        "k",
        Algorithm::ES256,
        "-----BEGIN PRIVATE KEY-----\nAA\n-----END PRIVATE KEY-----",
    ));
    assert!(private.validate().unwrap_err().reason().contains("private"));
}

#[tokio::test]
async fn debug_output_never_shows_key_material() {
    let issuer = TestIssuer::start().await;
    let auth = JwtAuth::from(
        Issuer::new(issuer.url())
            .audience(AUD)
            .jwks(issuer.jwks().to_string()),
    );
    let printed = format!(
        "{auth:?} {:?} {:?}",
        auth.key_set(),
        issuer.key(Algorithm::RS256)
    );
    let n = issuer.key(Algorithm::RS256).public_jwk()["n"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!printed.contains(&n[..20]));
    assert!(
        printed.contains("fixed_jwks: Some(\"(configured)\")"),
        "{printed}"
    );
}

#[tokio::test]
async fn large_sets_find_keys_by_kid_and_still_refuse_unknown_or_mismatched_ones() {
    let issuer = TestIssuer::start().await;
    let keys: Vec<SigningKey> = (0..20)
        .map(|i| SigningKey::generate_with_kid(Algorithm::ES256, format!("big-{i}")))
        .collect();
    let set =
        serde_json::json!({ "keys": keys.iter().map(|k| k.public_jwk()).collect::<Vec<_>>() });
    let auth = JwtAuth::from(
        Issuer::new(issuer.url())
            .audience("insights-api")
            .jwks(set.to_string()),
    );
    let signed_by = |key: &SigningKey, kid: &str| {
        let mut claims = issuer.token().claims().clone();
        claims.insert("sub".into(), "u".into());
        key.sign_json(
            &serde_json::json!({"alg": key.alg().as_str(), "kid": kid}),
            &serde_json::Value::Object(claims),
        )
    };
    for key in [&keys[0], &keys[7], &keys[19]] {
        assert!(auth.verify(&signed_by(key, key.kid())).await.is_ok());
    }
    let err = auth
        .verify(&signed_by(&keys[3], "big-99"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::UnknownKey);
    // Signed by key 3 but naming key 4: the named key does not verify it.
    let err = auth
        .verify(&signed_by(&keys[3], "big-4"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::InvalidSignature);
    // An EdDSA token naming an ES256 key.
    let ed = SigningKey::generate_with_kid(Algorithm::EdDSA, "big-5");
    let err = auth.verify(&signed_by(&ed, "big-5")).await.unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::KeyMismatch);
}
