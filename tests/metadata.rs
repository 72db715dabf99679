//! OAuth 2.0 Protected Resource Metadata (RFC 9728) over real HTTP: the document, the
//! `resource_metadata` pointer in every challenge, and 403s naming every scope a route needs.

mod common;

use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tower_jwt_auth::testing::TestIssuer;
use tower_jwt_auth::{JwtAuth, RequireScopes, ResourceMetadata};

/// A listener and the resource URL it will serve (`http://127.0.0.1:<port>/mcp`).
async fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let resource = format!("http://{}/mcp", listener.local_addr().unwrap());
    (listener, resource)
}

fn spawn(listener: TcpListener, app: Router) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() })
}

fn origin(resource: &str) -> &str {
    resource.strip_suffix("/mcp").unwrap()
}

/// The `resource_metadata` attribute of a challenge.
fn metadata_url(challenge: &str) -> String {
    let start = challenge.find("resource_metadata=\"").expect(challenge) + 19;
    let end = challenge[start..].find('"').unwrap();
    challenge[start..start + end].to_owned()
}

#[tokio::test]
async fn the_document_is_served_and_every_challenge_points_at_it() {
    let issuer = TestIssuer::start().await;
    let uat = TestIssuer::start().await;
    let (listener, resource) = listener().await;
    let auth = JwtAuth::new(issuer.url(), &resource)
        .add_issuer(uat.url())
        .resource_metadata(
            ResourceMetadata::new(&resource)
                .scopes_supported(["mcp.tools", "mcp.resources"])
                .resource_name("Usage insights")
                .resource_documentation("https://docs.example.com/mcp"),
        )
        .require_scopes(["mcp.tools"]);
    assert_eq!(
        auth.metadata_path(),
        "/.well-known/oauth-protected-resource/mcp"
    );
    let app = Router::new()
        .route("/mcp", post(|| async { "tools" }).get(|| async { "tools" }))
        .route(
            "/mcp/admin",
            get(|| async { "admin" }).layer(RequireScopes::new(["mcp.admin"])),
        )
        .layer(auth.clone())
        .route_service(auth.metadata_path(), auth.metadata_service());
    let _server = spawn(listener, app);
    let client = reqwest::Client::new();

    // No token: 401 whose challenge names the document, which is served publicly.
    let res = client.post(&resource).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let challenge = common::www_authenticate(&res);
    let url = metadata_url(&challenge);
    assert_eq!(
        url,
        format!(
            "{}/.well-known/oauth-protected-resource/mcp",
            origin(&resource)
        )
    );
    assert!(
        challenge.starts_with(&format!("Bearer realm=\"{resource}\"")),
        "{challenge}"
    );
    let res = client.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    let cache = res.headers()["cache-control"].to_str().unwrap().to_owned();
    assert!(cache.contains("max-age="), "{cache}");
    let doc: Value = res.json().await.unwrap();
    assert_eq!(
        doc,
        json!({
            "resource": resource,
            "authorization_servers": [issuer.url(), uat.url()],
            "scopes_supported": ["mcp.tools", "mcp.resources"],
            "bearer_methods_supported": ["header"],
            "resource_name": "Usage insights",
            "resource_documentation": "https://docs.example.com/mcp",
        })
    );
    let head = client.head(&url).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-type"], "application/json");
    assert!(head.bytes().await.unwrap().is_empty());
    let put = client.put(&url).send().await.unwrap();
    assert_eq!(put.status(), 405);
    assert_eq!(put.headers()["allow"], "GET, HEAD");

    // A bad token: the same pointer beside the error.
    let res = client
        .post(&resource)
        .bearer_auth("a.b.c")
        .send()
        .await
        .unwrap();
    let challenge = common::www_authenticate(&res);
    assert_eq!(metadata_url(&challenge), url);
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );

    // A token for this resource: through. One without the layer's scope: 403 naming it.
    let token = issuer.token().aud(&resource).scopes(["mcp.tools"]).sign();
    let res = client
        .post(&resource)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let weak = issuer
        .token()
        .aud(&resource)
        .scopes(["mcp.resources"])
        .sign();
    let res = client
        .post(&resource)
        .bearer_auth(&weak)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let challenge = common::www_authenticate(&res);
    assert!(challenge.contains(r#"scope="mcp.tools""#), "{challenge}");
    assert_eq!(metadata_url(&challenge), url);

    // A route requiring more: the 403 names every scope it needs, the layer's and its own.
    let res = client
        .get(format!("{resource}/admin"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let challenge = common::www_authenticate(&res);
    assert!(
        challenge.contains(r#"scope="mcp.tools mcp.admin""#),
        "{challenge}"
    );
    assert_eq!(metadata_url(&challenge), url);

    // A token for another resource is refused: tokens must be minted for this one.
    let other = issuer
        .token()
        .aud("https://other.example.com/mcp")
        .scopes(["mcp.tools"])
        .sign();
    let res = client
        .post(&resource)
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    // gRPC refusals carry the same challenge.
    let res = client
        .post(&resource)
        .header("content-type", "application/grpc")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["grpc-status"], "16");
    assert_eq!(metadata_url(&common::www_authenticate(&res)), url);
}

#[tokio::test]
async fn without_metadata_nothing_changes_and_the_service_answers_404() {
    let issuer = TestIssuer::start().await;
    let auth = JwtAuth::new(issuer.url(), "insights-api");
    let app = Router::new()
        .route("/usage", get(|| async { "ok" }))
        .layer(auth.clone())
        .route_service(auth.metadata_path(), auth.metadata_service());
    let served = common::serve(app).await;
    let res = common::get(&format!("{}/usage", served.base), None).await;
    assert_eq!(
        common::www_authenticate(&res),
        r#"Bearer realm="insights-api""#
    );
    let res = common::get(
        &format!("{}/.well-known/oauth-protected-resource", served.base),
        None,
    )
    .await;
    assert_eq!(res.status(), 404);
}

#[test]
fn metadata_for_another_resource_than_the_audience_stops_the_service() {
    let auth = JwtAuth::new("https://auth.example.com", "insights-api")
        .resource_metadata(ResourceMetadata::new("https://mcp.example.com/mcp"));
    let err = auth.validate().unwrap_err().clone();
    assert_eq!(err.field(), "resource_metadata");
    assert!(err.reason().contains("is not the audience"), "{err}");
    let panic = std::panic::catch_unwind(|| auth.metadata_service()).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains("`resource_metadata`"), "{message}");
    let http = JwtAuth::new("https://auth.example.com", "http://mcp.example.com/mcp")
        .resource_metadata(ResourceMetadata::new("http://mcp.example.com/mcp"));
    assert_eq!(http.validate().unwrap_err().field(), "resource_metadata");
}
