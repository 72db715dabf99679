//! One peer on 127.0.0.1 (a random port) in front of `GET /usage`, on one thread, with the
//! stand-in provider beside it. Prints `PORT TOKEN` once it serves; runs until killed.
//!
//!   cargo run --release --bin serve -- jwt_authorizer

use tower_jwt_auth::testing::TestIssuer;
use tower_jwt_auth_peers::{app, PEERS};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let peer = std::env::args().nth(1).unwrap_or_default();
    assert!(PEERS.contains(&peer.as_str()), "usage: serve {}", PEERS.join("|"));
    let issuer = TestIssuer::start().await;
    let token = issuer.token().scopes(["insights.read"]).sign();
    let app = app(&peer, &issuer).await;
    let bearer = http::HeaderValue::try_from(format!("Bearer {token}")).unwrap();
    app.warm(&bearer).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("{} {token}", listener.local_addr().unwrap().port());
    app.serve(listener).await;
}
