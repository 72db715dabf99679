//! The other side: a service that calls other APIs with client-credentials tokens.
//!
//! ```text
//! cargo run --example client
//! ```
//!
//! Starts the embedded identity provider, an axum API and a tonic gRPC service, both behind
//! `JwtAuth`, then calls each through `AddAccessToken`: one token request for both, a token
//! renewed before it expires, and after the provider rotates its keys one retry with a fresh
//! token. Set `TOKEN_ENDPOINT`, `CLIENT_ID`, `CLIENT_SECRET` and `API_URL` to call a real API
//! instead (the token is asked for with `AUDIENCE`, default `insights-api`).

use axum::routing::get;
use axum::Router;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Server};
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;
use tower::ServiceBuilder;
use tower_jwt_auth::client::{AddAccessToken, ClientCredentials};
use tower_jwt_auth::testing::TestIssuer;
use tower_jwt_auth::{Claims, JwtAuth};

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    if let Ok(endpoint) = std::env::var("TOKEN_ENDPOINT") {
        return call_real_api(&endpoint).await;
    }
    let issuer = TestIssuer::builder()
        .client("utility-acme-backend", "s3cr3t")
        .start()
        .await;
    let auth = JwtAuth::new(issuer.url(), "insights-api");

    // An axum API and a gRPC service, each behind the layer.
    let api = Router::new()
        .route(
            "/usage",
            get(|c: Claims| async move { format!("usage for {}", c.sub) }),
        )
        .layer(auth.clone().require_scopes(["insights.read"]));
    let http_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let api_url = format!("http://{}/usage", http_listener.local_addr()?);
    tokio::spawn(async move { axum::serve(http_listener, api).await });
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let grpc_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let grpc_url = format!("http://{}", grpc_listener.local_addr()?);
    let grpc = Server::builder()
        .layer(auth.clone().require_scopes(["insights.read"]))
        .add_service(health);
    tokio::spawn(grpc.serve_with_incoming(TcpIncoming::from(grpc_listener)));

    // One token source for both clients: a form body with HTTP Basic, as Flip and Aelix take it.
    let source = ClientCredentials::new(issuer.token_endpoint(), "utility-acme-backend", "s3cr3t")
        .audience("insights-api")
        .scopes(["insights.read"]);
    println!("token source: {source:?}");

    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(AddAccessToken::new(source.clone()))
        .build();
    let channel = Channel::from_shared(grpc_url)?.connect().await?;
    let mut health = HealthClient::new(
        ServiceBuilder::new()
            .layer(AddAccessToken::new(source.clone()))
            .service(channel),
    );
    let check = || HealthCheckRequest {
        service: String::new(),
    };

    println!(
        "GET /usage → {}",
        http.get(&api_url).send().await?.text().await?
    );
    let status = health.check(check()).await?.into_inner().status;
    println!("gRPC Health/Check → status {status}");
    println!("token requests so far: {}", issuer.token_requests());

    // The provider rotates its keys, and the API learns of it; the cached token is now refused
    // with `invalid_token`, dropped, and the request retried once with a fresh one.
    issuer.rotate();
    auth.verify(&issuer.token().sign()).await?;
    println!("keys rotated");
    println!(
        "GET /usage → {}",
        http.get(&api_url).send().await?.text().await?
    );
    // A gRPC body is a stream and is not sent twice; the token was already renewed above.
    let status = health.check(check()).await?.into_inner().status;
    println!("gRPC Health/Check → status {status}");
    println!("token requests in all: {}", issuer.token_requests());
    Ok(())
}

/// Calls `API_URL` with a token from a real authorization server.
async fn call_real_api(endpoint: &str) -> Result<(), Error> {
    let var = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
    let audience = std::env::var("AUDIENCE").unwrap_or_else(|_| "insights-api".into());
    let source = ClientCredentials::new(endpoint, var("CLIENT_ID")?, var("CLIENT_SECRET")?)
        .audience(audience);
    if let Err(e) = source.validate() {
        return Err(e.clone().into());
    }
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(AddAccessToken::new(source))
        .build();
    let res = http.get(var("API_URL")?).send().await?;
    println!("{} {}", res.status(), res.text().await?);
    Ok(())
}
