//! The layer's metrics on a Prometheus `/metrics` endpoint (feature `metrics`):
//!
//! ```text
//! cargo run --example metrics --features metrics
//! ```
//!
//! Installs `metrics-exporter-prometheus` as the recorder, protects `/usage` with the layer
//! (the embedded test issuer unless `ISSUER` is set), sends a few accepted and refused
//! requests, and prints what `/metrics` (left unauthenticated, as scrapers expect; keep it on
//! an internal port in production) then shows. Set `KEEP_RUNNING=1` to keep serving.

use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::PrometheusBuilder;
use tower_jwt_auth::testing::TestIssuer;
use tower_jwt_auth::{Claims, JwtAuth};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Install the recorder before the layer first runs: metrics go to whichever is installed.
    let prometheus = PrometheusBuilder::new().install_recorder()?;

    let local = match std::env::var("ISSUER") {
        Ok(_) => None,
        Err(_) => Some(TestIssuer::start().await),
    };
    let issuer = std::env::var("ISSUER")
        .ok()
        .or_else(|| local.as_ref().map(|i| i.url().to_owned()))
        .unwrap_or_default();
    let auth = JwtAuth::new(&issuer, "insights-api").require_scopes(["insights.read"]);

    let app = Router::new()
        .route("/usage", get(|c: Claims| async move { c.sub.clone() }))
        .layer(auth)
        .route(
            "/metrics",
            get(move || {
                let prometheus = prometheus.clone();
                async move { prometheus.render() }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    println!("protected service  {base}/usage\nmetrics            {base}/metrics\n");

    if let Some(local) = &local {
        let http = reqwest::Client::new();
        let reader = local.token().scopes(["insights.read"]).sign();
        let writer = local.token().scopes(["insights.write"]).sign();
        for token in [Some(&reader), Some(&reader), Some(&writer), None] {
            let mut req = http.get(format!("{base}/usage"));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let status = req.send().await?.status();
            println!("GET /usage → {status}");
        }
        let metrics = http
            .get(format!("{base}/metrics"))
            .send()
            .await?
            .text()
            .await?;
        println!("\nGET /metrics:\n");
        for line in metrics
            .lines()
            .filter(|l| l.contains("tower_jwt_auth_") && !l.contains("quantile="))
        {
            println!("{line}");
        }
    }
    if std::env::var_os("KEEP_RUNNING").is_some() || local.is_none() {
        server.await??;
    }
    Ok(())
}
