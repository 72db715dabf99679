//! The whole `Service` call through an axum `Router` (in memory, `oneshot`): no auth
//! (baseline), this layer with a repeated token (cache hit), and this layer verifying the
//! token in full on every call (the cost of a token seen for the first time).

mod common;

use axum::routing::get;
use axum::Router;
use common::{get_usage, jwks, token, AUD, ISS};
use criterion::{criterion_group, criterion_main, Criterion};
use http::HeaderValue;
use tower_jwt_auth::testing::SigningKey;
use tower_jwt_auth::{Algorithm, JwtAuth};
use tower_jwt_auth::{Caches, Issuer};

fn app() -> Router {
    Router::new().route("/usage", get(|| async { "ok" }))
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for alg in [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA] {
        let key = SigningKey::generate_with_kid(alg, "k1");
        let bearer = HeaderValue::try_from(format!("Bearer {}", token(&key, "user-1042"))).unwrap();
        let set = jwks(&[&key]);
        let layer = |cache: u64| {
            JwtAuth::from(Issuer::new(ISS).audience(AUD).jwks(set.clone()))
                .require_scopes(["insights.read"])
                .caches(Caches {
                    verified_tokens: cache,
                    ..Caches::default()
                })
        };
        // `with_state(())` turns the handlers into routes once, as `axum::serve` does when it
        // makes the service; without it every `oneshot` rebuilds the route (and re-applies the
        // layer), which no server does.
        let plain = app().with_state(());
        let cached = app().layer(layer(10_000)).with_state(());
        let uncached = app().layer(layer(0)).with_state(());
        let call = |router: &Router| get_usage(&rt, router, &bearer);
        let mut group = c.benchmark_group(format!("router/{alg}"));
        group.bench_function("no_auth", |b| b.iter(|| call(&plain)));
        group.bench_function("auth_repeated_token", |b| b.iter(|| call(&cached)));
        group.bench_function("auth_full_verification", |b| b.iter(|| call(&uncached)));
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
