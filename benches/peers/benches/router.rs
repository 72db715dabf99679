//! One `GET /usage` through each peer's layer, in memory (`oneshot` on a router made with
//! `with_state(())`, as `axum::serve` does), with the same RS256 token on every call: each
//! row is a ratio to `no_auth` in the same run.

use criterion::{criterion_group, criterion_main, Criterion};
use http::HeaderValue;
use tower_jwt_auth::testing::TestIssuer;
use tower_jwt_auth_peers::{app, PEERS};

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let issuer = rt.block_on(TestIssuer::start());
    let token = issuer.token().scopes(["insights.read"]).sign();
    let bearer = HeaderValue::try_from(format!("Bearer {token}")).unwrap();
    let mut group = c.benchmark_group("peers/router");
    for peer in PEERS {
        let router = rt.block_on(app(peer, &issuer));
        rt.block_on(router.warm(&bearer));
        let call = || assert_eq!(rt.block_on(router.call(&bearer)), 200, "{peer}");
        group.bench_function(peer, |b| b.iter(call));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
