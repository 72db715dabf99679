//! What the layer counts, read back through `metrics-util`'s debugging recorder after a scripted
//! sequence of requests over real HTTP on 127.0.0.1. One test: the recorder is global to this
//! binary, and each snapshot returns what was counted since the one before.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::routing::{get, post};
use axum::{Json, Router};
use common::{closed_port_url, get as call, serve};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use serde_json::{json, Value};
use tower_jwt_auth::testing::TestIssuer;
use tower_jwt_auth::{
    api_key::ApiKeyGrant, api_key::ApiKeyStore, Introspection, JwtAuth, ManualClock, RequireScopes,
};

/// Every metric of a snapshot: `name{label=value,…}` → its value (counters and gauges as
/// numbers, histograms as their number of samples).
fn read(snapshotter: &Snapshotter) -> BTreeMap<String, f64> {
    let mut all = BTreeMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        let mut labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        labels.sort();
        let name = format!("{}{{{}}}", key.name(), labels.join(","));
        let value = match value {
            DebugValue::Counter(n) => n as f64,
            DebugValue::Gauge(g) => g.into_inner(),
            DebugValue::Histogram(samples) => samples.len() as f64,
        };
        all.insert(name, value);
    }
    all
}

fn requests(outcome: &str, issuer: &str, credential: &str) -> String {
    format!(
        "tower_jwt_auth_requests_total{{credential={credential},issuer={issuer},outcome={outcome}}}"
    )
}

/// A stand-in introspection endpoint: `live` is active, anything else inactive.
async fn introspect(body: String) -> Json<Value> {
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    if body.contains("token=live") {
        Json(json!({"active": true, "sub": "svc", "scope": "insights.read", "exp": exp}))
    } else {
        Json(json!({"active": false}))
    }
}

#[tokio::test]
async fn outcomes_caches_fetches_and_introspection_are_counted() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().unwrap();

    let clock = ManualClock::starting_now();
    let issuer = TestIssuer::builder().clock(clock.clone()).start().await;
    let url = issuer.url().to_owned();
    let standin = serve(Router::new().route("/introspect", post(introspect))).await;
    let keys = ApiKeyStore::new();
    keys.insert(
        "fl_reader_0123456789",
        ApiKeyGrant::new("org-7").scopes(["insights.read"]),
    );
    let auth = JwtAuth::new(&url, "insights-api")
        .clock(clock.clone())
        .require_scopes(["insights.read"])
        .api_keys("fl_", keys)
        .introspection(Introspection::new(
            format!("{}/introspect", standin.base),
            "rs",
            "secret",
        ));
    let app = Router::new()
        .route(
            "/admin",
            get(|| async { "admin" }).layer(RequireScopes::new(["insights.admin"])),
        )
        .route("/usage", get(|| async { "usage" }))
        .layer(auth.clone());
    let served = serve(app).await;
    let at = |p: &str| format!("{}{p}", served.base);
    auth.ready().await.unwrap();
    let warmed = read(&snapshotter);
    assert_eq!(
        warmed[&format!("tower_jwt_auth_key_fetches_total{{issuer={url},result=ok}}")],
        1.0,
        "{warmed:#?}"
    );
    assert_eq!(
        warmed[&format!("tower_jwt_auth_key_fetch_duration_seconds{{issuer={url}}}")],
        1.0
    );

    let good = issuer.token().scopes(["insights.read"]).sign();
    for _ in 0..3 {
        assert_eq!(call(&at("/usage"), Some(&good)).await.status(), 200);
    }
    assert_eq!(call(&at("/usage"), None).await.status(), 401);
    let expired = issuer
        .token()
        .scopes(["insights.read"])
        .expired_for(Duration::from_secs(600))
        .sign();
    assert_eq!(call(&at("/usage"), Some(&expired)).await.status(), 401);
    let weak = issuer.token().scopes(["other"]).sign();
    assert_eq!(call(&at("/usage"), Some(&weak)).await.status(), 403);
    let foreign = issuer.token().iss("https://evil.example").sign();
    assert_eq!(call(&at("/usage"), Some(&foreign)).await.status(), 401);
    // Refused by the route, not the layer.
    assert_eq!(call(&at("/admin"), Some(&good)).await.status(), 403);
    // Two invented kids: the first is refetched for, the second falls in the cooldown.
    for kid in ["invented-1", "invented-2"] {
        let t = issuer.token().scopes(["insights.read"]).kid(kid).sign();
        assert_eq!(call(&at("/usage"), Some(&t)).await.status(), 401, "{kid}");
    }
    // An API key, an opaque token twice (one call), a dead one.
    for token in ["fl_reader_0123456789", "live", "live", "dead"] {
        call(&at("/usage"), Some(token)).await;
    }

    let seen = read(&snapshotter);
    let expect = [
        // `/usage` three times, and `/admin` (accepted by the layer, refused by the route).
        (requests("accepted", &url, "jwt"), 4.0),
        (requests("missing_token", "none", "none"), 1.0),
        (requests("expired", &url, "jwt"), 1.0),
        (requests("insufficient_scope", &url, "jwt"), 1.0),
        (requests("invalid_issuer", "none", "jwt"), 1.0),
        (requests("unknown_key", &url, "jwt"), 2.0),
        // The route's refusal follows the layer's acceptance.
        (requests("accepted", "api-key:fl_", "api_key"), 1.0),
        (requests("accepted", &url, "introspected"), 2.0),
        (requests("inactive_token", &url, "introspected"), 1.0),
        (
            "tower_jwt_auth_route_refusals_total{outcome=insufficient_scope}".into(),
            1.0,
        ),
        ("tower_jwt_auth_token_cache_total{result=hit}".into(), 3.0),
        (
            format!("tower_jwt_auth_key_fetches_total{{issuer={url},result=ok}}"),
            1.0,
        ),
        (
            format!("tower_jwt_auth_key_refetches_refused_total{{issuer={url}}}"),
            1.0,
        ),
        (
            format!("tower_jwt_auth_introspection_calls_total{{issuer={url},result=active}}"),
            1.0,
        ),
        (
            format!("tower_jwt_auth_introspection_calls_total{{issuer={url},result=inactive}}"),
            1.0,
        ),
        (
            format!("tower_jwt_auth_introspection_duration_seconds{{issuer={url}}}"),
            2.0,
        ),
        (
            "tower_jwt_auth_introspection_cache_total{result=hit}".into(),
            1.0,
        ),
        (
            "tower_jwt_auth_introspection_cache_total{result=miss}".into(),
            2.0,
        ),
    ];
    for (name, value) in &expect {
        assert_eq!(seen.get(name), Some(value), "{name} in {seen:#?}");
    }
    // A miss is a look-up: one per verification, and one more after waiting for keys (the two
    // unknown kids): 6 tokens verified afresh, 2 of them twice.
    assert_eq!(seen["tower_jwt_auth_token_cache_total{result=miss}"], 8.0);
    // No label carries anything from a token but the trusted issuer.
    for name in seen.keys() {
        assert!(
            !name.contains("evil") && !name.contains("invented") && !name.contains("live"),
            "{name}"
        );
    }

    // The key set's age follows the clock.
    clock.advance(Duration::from_secs(120));
    let other = issuer.token().scopes(["insights.read"]).sub("age").sign();
    assert_eq!(call(&at("/usage"), Some(&other)).await.status(), 200);
    let age_key = format!("tower_jwt_auth_key_set_age_seconds{{issuer={url}}}");
    let age = read(&snapshotter)[&age_key];
    assert!((120.0..130.0).contains(&age), "{age}");
    // On a cache hit too: the same token again, a minute later.
    let hits = read(&snapshotter)["tower_jwt_auth_token_cache_total{result=hit}"];
    clock.advance(Duration::from_secs(60));
    assert_eq!(call(&at("/usage"), Some(&other)).await.status(), 200);
    let now = read(&snapshotter);
    assert_eq!(
        now["tower_jwt_auth_token_cache_total{result=hit}"],
        hits + 1.0
    );
    let age = now[&age_key];
    assert!((180.0..190.0).contains(&age), "{age}");

    // A provider that is down: the failure's kind is the result.
    let down = closed_port_url().await;
    let unreachable = JwtAuth::new(&down, "insights-api");
    assert!(unreachable.ready().await.is_err());
    let failed = read(&snapshotter);
    assert_eq!(
        failed.get(&format!(
            "tower_jwt_auth_key_fetches_total{{issuer={down},result=connection_refused}}"
        )),
        Some(&1.0),
        "{failed:#?}"
    );
}
