//! The server of the loopback load test (`benches/load.sh`): one route, without a layer,
//! behind this layer, or behind a layer that passes every request through untouched (what
//! `Router::layer` costs by itself), on 127.0.0.1 and a random port, on one thread. Prints `PORT TOKEN` and serves until
//! killed. With a second argument, also writes there the tokens of the mixed run: for each of
//! 1,000 clients a token that expires 5 s into the run and the one that renews it, one
//! `FIRST RENEWED` pair a line.
//!
//! ```text
//! cargo run --release --example bench_server -- auth [tokens-file]   # or: plain, passthrough
//! ```

use axum::routing::get;
use axum::Router;
use serde_json::json;
use tower_jwt_auth::testing::SigningKey;
use tower_jwt_auth::Issuer;
use tower_jwt_auth::{Algorithm, JwtAuth};

const ISS: &str = "https://auth-api.eliq.com";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mode = std::env::args().nth(1).unwrap_or_default();
    if !["auth", "plain", "passthrough"].contains(&mode.as_str()) {
        return Err("usage: bench_server auth|plain|passthrough [tokens-file]".into());
    }
    let key = SigningKey::generate_with_kid(Algorithm::RS256, "k1");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let claims = json!({
        "iss": ISS, "aud": "insights-api", "sub": "user-1042", "sub_type": "user",
        "scope": "insights.read", "iat": now, "exp": now + 3600,
    });
    let token = key.sign_json(
        &json!({"alg": "RS256", "kid": "k1", "typ": "at+jwt"}),
        &claims,
    );
    if let Some(path) = std::env::args().nth(2) {
        let mut lines = String::new();
        for client in 0..1_000 {
            let mint = |exp: u64| {
                let claims = json!({
                    "iss": ISS, "aud": "insights-api", "sub": format!("client-{client}"),
                    "scope": "insights.read", "iat": now, "exp": exp,
                });
                key.sign_json(
                    &json!({"alg": "RS256", "kid": "k1", "typ": "at+jwt"}),
                    &claims,
                )
            };
            lines.push_str(&format!("{} {}\n", mint(now + 5), mint(now + 3600)));
        }
        std::fs::write(path, lines)?;
    }
    let mut app = Router::new().route("/usage", get(|| async { "ok" }));
    if mode == "passthrough" {
        app = app.layer(tower::util::MapRequestLayer::new(
            |r: axum::extract::Request| r,
        ));
    }
    if mode == "auth" {
        let jwks = json!({ "keys": [key.public_jwk()] }).to_string();
        app = app.layer(
            JwtAuth::from(Issuer::new(ISS).audience("insights-api").jwks(jwks))
                .require_scopes(["insights.read"]),
        );
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("{} {token}", listener.local_addr()?.port());
    axum::serve(listener, app).await?;
    Ok(())
}
