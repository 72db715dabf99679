//! The whole flow in one command, no setup:
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! Starts an embedded identity provider and a protected axum service on loopback, obtains
//! tokens from the provider's token endpoint (client credentials, as the seeds describe), and
//! prints what the service answers to each.

use axum::handler::Handler;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tower_jwt_auth::testing::TestIssuer;
use tower_jwt_auth::{Claims, JwtAuth, RequireScopes};

/// Reads the user's usage; needs `insights.read` and a delegated (user) token.
async fn usage(claims: Claims) -> Json<Value> {
    Json(json!({ "user": claims.sub, "scopes": claims.scopes().collect::<Vec<_>>() }))
}

/// Adds an annotation to the user's usage; needs `insights.write` as well.
async fn annotate(claims: Claims) -> Json<Value> {
    Json(json!({ "annotated_by": claims.sub }))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. An identity provider: discovery, JWKS and POST /oauth/token on 127.0.0.1.
    let issuer = TestIssuer::builder()
        .client("utility-acme-frontend", "frontend-secret")
        .start()
        .await;
    println!("identity provider  {}", issuer.url());

    // 2. The protected service.
    let auth = JwtAuth::new(issuer.url(), "insights-api")
        .require_scopes(["insights.read"])
        .require_sub_type("user");
    auth.ready().await?; // fail fast if the provider's keys cannot be loaded
                         // One path, one requirement per method: the extra scope goes on the POST handler alone
                         // (`Handler::layer`). A `.layer(..)` on the whole method router would put it on GET too.
    let app = Router::new()
        .route("/usage", get(usage))
        .route(
            "/usage/annotations",
            get(usage).post(annotate.layer(RequireScopes::new(["insights.write"]))),
        )
        .layer(auth);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let api = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    println!("protected service  {api}\n");

    // 3. Tokens, the way a client of the seeds' APIs obtains them.
    let http = reqwest::Client::new();
    let token = |body: Value| {
        let http = http.clone();
        let endpoint = issuer.token_endpoint();
        async move {
            let res: Value = http.post(endpoint).json(&body).send().await?.json().await?;
            Ok::<String, reqwest::Error>(
                res["access_token"].as_str().unwrap_or_default().to_owned(),
            )
        }
    };
    let base = json!({
        "grant_type": "client_credentials",
        "client_id": "utility-acme-frontend",
        "client_secret": "frontend-secret",
        "aud": "insights-api",
    });
    let with = |extra: Value| {
        let mut body = base.clone();
        body.as_object_mut().into_iter().for_each(|o| {
            o.extend(extra.as_object().cloned().unwrap_or_default());
        });
        body
    };
    let delegated_read = token(with(
        json!({"scope": "insights.read", "sub": "user-1042", "sub_type": "user"}),
    ))
    .await?;
    let app_token = token(with(json!({"scope": "insights.read"}))).await?;
    let expired = issuer
        .token()
        .sub("user-1042")
        .sub_type("user")
        .scopes(["insights.read"])
        .expired_for(std::time::Duration::from_secs(600))
        .sign();

    // 4. What the service answers.
    let cases: [(&str, &str, &str, Option<&str>); 6] = [
        (
            "delegated token, insights.read",
            "GET",
            "/usage",
            Some(&delegated_read),
        ),
        ("no token", "GET", "/usage", None),
        ("expired token", "GET", "/usage", Some(&expired)),
        (
            "app token (no user context)",
            "GET",
            "/usage",
            Some(&app_token),
        ),
        (
            "read-only token, reading",
            "GET",
            "/usage/annotations",
            Some(&delegated_read),
        ),
        (
            "read-only token, annotating",
            "POST",
            "/usage/annotations",
            Some(&delegated_read),
        ),
    ];
    for (what, method, path, bearer) in cases {
        let method: reqwest::Method = method.parse()?;
        let mut req = http.request(method.clone(), format!("{api}{path}"));
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        let res = req.send().await?;
        let status = res.status();
        let challenge = res
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = res.text().await?;
        println!("{what:<32} {:<4} {path:<20} -> {status}", method.as_str());
        match challenge {
            Some(c) => println!("{:<36}WWW-Authenticate: {c}\n", ""),
            None => println!("{:<36}{body}\n", ""),
        }
    }
    server.abort();
    Ok(())
}
