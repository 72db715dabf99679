//! The DPoP replay store a fleet shares: two service instances behind one public URL, each
//! with its own `RedisReplayStore` on one real `redis-server` on 127.0.0.1 (installed by
//! `.ci/run`; started here on a free port). A proof accepted by one is refused by the other;
//! with Redis gone, requests are refused with 503, never accepted.

mod common;

use std::time::Duration;

use axum::routing::get;
use axum::Router;
use tower_jwt_auth::testing::{DpopKey, TestIssuer};
use tower_jwt_auth::{replay::RedisReplayStore, Algorithm, Claims, Dpop, JwtAuth};

/// What clients see: the load balancer in front of both instances.
const PUBLIC: &str = "https://api.example.com";

/// One instance behind the public URL, with its own connection to the shared store.
async fn instance(issuer: &TestIssuer, store: Option<RedisReplayStore>) -> common::Served {
    let mut dpop = Dpop::new(PUBLIC);
    if let Some(store) = store {
        dpop = dpop.replay_store(store);
    }
    let app = Router::new()
        .route("/usage", get(|c: Claims| async move { c.sub.clone() }))
        .layer(JwtAuth::new(issuer.url(), "insights-api").dpop(dpop));
    common::serve(app).await
}

async fn call(served: &common::Served, token: &str, proof: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}/usage", served.base))
        .header("authorization", format!("DPoP {token}"))
        .header("dpop", proof)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_proof_accepted_by_one_instance_is_refused_by_the_other() {
    let redis = common::Redis::start().await;
    let issuer = TestIssuer::start().await;
    let a = instance(&issuer, Some(RedisReplayStore::new(&redis.url).unwrap())).await;
    let b = instance(&issuer, Some(RedisReplayStore::new(&redis.url).unwrap())).await;
    let key = DpopKey::generate(Algorithm::ES256);
    let token = issuer.token().sub("u-7").dpop_bound(&key).sign();
    let url = format!("{PUBLIC}/usage");

    let proof = key.proof("GET", &url).access_token(&token).sign();
    let res = call(&a, &token, &proof).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "u-7");
    let res = call(&b, &token, &proof).await;
    assert_eq!(res.status(), 401, "replayed against the other instance");
    let challenge = common::challenges(&res);
    assert!(
        challenge
            .iter()
            .any(|c| c.contains(r#"error="invalid_dpop_proof""#)),
        "{challenge:?}"
    );
    // Fresh proofs pass on either.
    for served in [&a, &b] {
        let fresh = key.proof("GET", &url).access_token(&token).sign();
        assert_eq!(call(served, &token, &fresh).await.status(), 200);
    }

    // In-memory stores, by contrast, do not see each other's proofs.
    let c = instance(&issuer, None).await;
    let d = instance(&issuer, None).await;
    let proof = key.proof("GET", &url).access_token(&token).sign();
    assert_eq!(call(&c, &token, &proof).await.status(), 200);
    assert_eq!(call(&d, &token, &proof).await.status(), 200);
}

#[tokio::test]
async fn without_redis_dpop_requests_are_refused_with_503() {
    let mut redis = common::Redis::start().await;
    let issuer = TestIssuer::start().await;
    let store = RedisReplayStore::new(&redis.url)
        .unwrap()
        .timeout(Duration::from_millis(500));
    let a = instance(&issuer, Some(store)).await;
    let key = DpopKey::generate(Algorithm::ES256);
    let token = issuer.token().dpop_bound(&key).sign();
    let url = format!("{PUBLIC}/usage");
    let proof = || key.proof("GET", &url).access_token(&token).sign();
    assert_eq!(call(&a, &token, &proof()).await.status(), 200);

    redis.stop().await;
    for _ in 0..3 {
        let res = call(&a, &token, &proof()).await;
        assert_eq!(res.status(), 503, "fail closed");
        assert!(res.headers().contains_key("retry-after"));
    }

    // Never connected: the same.
    let closed = common::closed_port_url()
        .await
        .replace("http://", "redis://");
    let b = instance(&issuer, Some(RedisReplayStore::new(&closed).unwrap())).await;
    assert_eq!(call(&b, &token, &proof()).await.status(), 503);
    assert!(RedisReplayStore::new("not a url").is_err());
}
