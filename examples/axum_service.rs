//! A real service, configured from the environment:
//!
//! ```text
//! ISSUER=https://auth-api.eliq.com AUDIENCE=insights-api BIND=127.0.0.1:8080 \
//!     cargo run --example axum_service
//! ```
//!
//! | variable   | meaning                                   | default                          |
//! |------------|-------------------------------------------|----------------------------------|
//! | `ISSUER`   | the authorization server's issuer         | an embedded test issuer          |
//! | `AUDIENCE` | this API's audience                       | `insights-api`                   |
//! | `BIND`     | where to listen                           | `127.0.0.1:8080`                 |
//!
//! Without `ISSUER` it starts the embedded test issuer and prints tokens to try with curl, so
//! `cargo run --example axum_service` works on its own. Serves until Ctrl-C.
//!
//! Routes:
//! - `GET /health`: no token needed;
//! - `GET /usage`: `insights.read` (required for every route under the layer);
//! - `POST /usage/annotations`: also `insights.write`;
//! - `GET /me`: delegated (user) tokens only.

use axum::handler::Handler;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tower_jwt_auth::testing::TestIssuer;
use tower_jwt_auth::{Claims, JwtAuth, RequireScopes};

async fn usage(claims: Claims) -> Json<Value> {
    Json(json!({ "client": claims.client_id, "subject": claims.sub, "kwh": [12.5, 11.8, 13.1] }))
}

async fn annotate(claims: Claims) -> Json<Value> {
    Json(json!({ "annotated_by": claims.sub }))
}

async fn me(claims: Claims) -> Json<Value> {
    Json(json!({ "user": claims.sub, "scopes": claims.scopes().collect::<Vec<_>>() }))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_jwt_auth=debug".into()),
        )
        .init();

    let audience = std::env::var("AUDIENCE").unwrap_or_else(|_| "insights-api".into());
    let bind = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:8080".into());
    // Keep the embedded issuer alive for as long as the service runs.
    let mut embedded = None;
    let issuer = match std::env::var("ISSUER") {
        Ok(issuer) => issuer,
        Err(_) => {
            let test_issuer = TestIssuer::builder().audience(&audience).start().await;
            let url = test_issuer.url().to_owned();
            embedded = Some(test_issuer);
            url
        }
    };

    let auth = JwtAuth::try_new(&issuer, &audience)?.require_scopes(["insights.read"]);
    // Fail at startup, not on the first request, if the issuer's keys cannot be loaded.
    if let Err(e) = auth.ready().await {
        return Err(format!(
            "cannot load the signing keys of {issuer}: {e} ({:?})",
            std::error::Error::source(&e)
        )
        .into());
    }

    let protected = Router::new()
        .route("/usage", get(usage))
        .route(
            "/usage/annotations",
            // On the handler, so that a GET added beside it later does not inherit it.
            post(annotate.layer(RequireScopes::new(["insights.write"]))),
        )
        .route(
            "/me",
            get(me).layer(RequireScopes::none().require_sub_type("user")),
        )
        .layer(auth);
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .merge(protected);

    let listener = tokio::net::TcpListener::bind(&bind).await?;
    let base = format!("http://{}", listener.local_addr()?);
    println!("serving {audience} on {base}, tokens from {issuer}");
    if let Some(issuer) = &embedded {
        let reader = issuer
            .token()
            .sub("user-1042")
            .sub_type("user")
            .scopes(["insights.read"])
            .sign();
        let writer = issuer
            .token()
            .scopes(["insights.read", "insights.write"])
            .sign();
        println!("\ntry:");
        println!("  curl -i {base}/health");
        println!("  curl -i {base}/usage");
        println!("  curl -i -H 'Authorization: Bearer {reader}' {base}/me");
        println!("  curl -i -X POST -H 'Authorization: Bearer {reader}' {base}/usage/annotations");
        println!("  curl -i -X POST -H 'Authorization: Bearer {writer}' {base}/usage/annotations");
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
