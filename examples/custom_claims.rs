//! Your own claims type, with one command:
//!
//! ```text
//! cargo run --example custom_claims
//! ```
//!
//! The registered claims (`iss`, `aud`, `exp`, `sub`, ...) are validated whatever the type;
//! the handler gets the application's own fields, typed. A token whose claims do not fit the
//! type is refused with 401.

use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::json;
use tower_jwt_auth::testing::TestIssuer;
use tower_jwt_auth::{Claims, JwtAuth};

/// What this utility's tokens carry beyond the registered claims.
#[derive(Debug, Deserialize)]
struct MeterClaims {
    sub: String,
    /// The utility the user belongs to.
    tenant: String,
    /// The meters the user may read.
    #[serde(default)]
    meter_ids: Vec<String>,
}

async fn meters(claims: Claims<MeterClaims>) -> String {
    format!(
        "{} at {} may read {:?}",
        claims.sub, claims.tenant, claims.meter_ids
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let issuer = TestIssuer::start().await;
    let auth = JwtAuth::new(issuer.url(), "insights-api")
        .require_scopes(["insights.read"])
        .with_claims::<MeterClaims>();
    let app = Router::new().route("/meters", get(meters)).layer(auth);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let good = issuer
        .token()
        .sub("user-1042")
        .scopes(["insights.read"])
        .claim("tenant", "utility-acme")
        .claim(
            "meter_ids",
            json!(["871687400000000001", "871687400000000002"]),
        )
        .sign();
    let no_tenant = issuer
        .token()
        .sub("user-7")
        .scopes(["insights.read"])
        .sign();

    let http = reqwest::Client::new();
    for (what, token) in [
        ("token with tenant and meters", &good),
        ("token without tenant", &no_tenant),
    ] {
        let res = http
            .get(format!("{base}/meters"))
            .bearer_auth(token)
            .send()
            .await?;
        let status = res.status();
        let challenge = res
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = res.text().await?;
        println!("{what:<30} -> {status}");
        println!("{:<34}{}\n", "", challenge.unwrap_or(body));
    }
    server.abort();
    Ok(())
}
