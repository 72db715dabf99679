//! The whole router call with a repeated token, measured in interleaved rounds: the same axum
//! route with no layer (baseline), behind a layer that passes every request through untouched
//! (what `Router::layer` costs by itself: another boxed route, its future and its clone), and
//! behind this layer (a cache hit, the scope check, the claims put into the request).
//!
//! The criterion rows in `benches/router.rs` run one after another, and the host's drift
//! between them moves their ratio by several percent; here each round runs every variant
//! back to back, in an order that rotates, and the table shows the median and quartiles of
//! the rounds' ratios.
//!
//!   taskset -c 1 cargo bench --bench router_rounds       # ROUNDS=… to change the default 200

mod common;

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use common::{get_usage, jwks, quartiles, ratio_cell, token, AUD, ISS};
use http::{HeaderValue, Request};
use std::time::Instant;
use tower_jwt_auth::testing::SigningKey;
use tower_jwt_auth::Issuer;
use tower_jwt_auth::{Algorithm, JwtAuth};

/// Calls per variant per round.
const CALLS: usize = 2_000;

fn app() -> Router {
    Router::new().route("/usage", get(|| async { "ok" }))
}

fn main() {
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(200);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "Router call with a repeated token, interleaved: {rounds} rounds of {CALLS} calls; \
         ratio per round, median [quartiles]"
    );
    println!(
        "| alg | no auth | pass-through layer | this layer | this layer / no auth | pass-through / no auth | this layer / pass-through |"
    );
    println!("|---|---|---|---|---|---|---|");
    for alg in [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA] {
        let key = SigningKey::generate_with_kid(alg, "k1");
        let bearer = HeaderValue::try_from(format!("Bearer {}", token(&key, "user-1042"))).unwrap();
        // As `axum::serve` does: routes built once (see benches/router.rs).
        let routers = [
            app().with_state(()),
            app()
                .layer(tower::util::MapRequestLayer::new(|r: Request<Body>| r))
                .with_state(()),
            app()
                .layer(
                    JwtAuth::from(Issuer::new(ISS).audience(AUD).jwks(jwks(&[&key])))
                        .require_scopes(["insights.read"]),
                )
                .with_state(()),
        ];
        let call = |router: &Router| get_usage(&rt, router, &bearer);
        // Warm-up: the layer verifies (and caches) the token on its first call.
        for router in &routers {
            for _ in 0..CALLS {
                call(router);
            }
        }
        let mut times: [Vec<f64>; 3] = Default::default();
        for round in 0..rounds {
            for step in 0..routers.len() {
                let variant = (round + step) % routers.len();
                let began = Instant::now();
                for _ in 0..CALLS {
                    call(&routers[variant]);
                }
                times[variant].push(began.elapsed().as_nanos() as f64 / CALLS as f64);
            }
        }
        let ns = |v: usize| quartiles(times[v].clone()).1;
        println!(
            "| {} | {:.0} ns | {:.0} ns | {:.0} ns | {} | {} | {} |",
            alg.as_str(),
            ns(0),
            ns(1),
            ns(2),
            ratio_cell(&times[2], &times[0]),
            ratio_cell(&times[1], &times[0]),
            ratio_cell(&times[2], &times[1]),
        );
    }
}
