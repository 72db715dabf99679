//! Layers derived from one `JwtAuth`: one key source and one verified-token cache however many
//! policies are derived; and optional authentication, with per-route requirements under it.
//! Over real HTTP on 127.0.0.1.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use tower_jwt_auth::{Issuer, TokenRules};

use axum::routing::get;
use axum::Router;
use common::{get as call, serve, www_authenticate, Captured};
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};
use tower_jwt_auth::testing::TestIssuer;
use tower_jwt_auth::{Claims, JwtAuth, RequireScopes};

const AUD: &str = "insights-api";

#[tokio::test]
async fn layers_derived_by_policy_share_one_discovery_and_one_jwks_fetch() {
    let issuer = TestIssuer::start().await;
    let base = JwtAuth::new(issuer.url(), AUD);
    let app = Router::new()
        .route(
            "/a",
            get(|| async { "a" }).layer(base.clone().require_scopes(["a"])),
        )
        .route(
            "/b",
            get(|| async { "b" }).layer(base.clone().require_scopes(["b"])),
        )
        .route(
            "/user",
            get(|| async { "user" }).layer(base.clone().require_sub_type("user").optional()),
        )
        .route(
            "/custom",
            get(|| async { "custom" }).layer(base.clone().on_reject(|_| {
                http::Response::builder()
                    .status(418)
                    .body(bytes::Bytes::new())
                    .unwrap()
            })),
        );
    let served = serve(app).await;
    let token = issuer.token().scopes(["a", "b"]).sub_type("user").sign();
    for path in ["/a", "/b", "/user", "/custom"] {
        let res = call(&format!("{}{path}", served.base), Some(&token)).await;
        assert_eq!(res.status(), 200, "{path}");
    }
    // The derived layers keep their own policies.
    let only_a = issuer.token().scopes(["a"]).sign();
    assert_eq!(
        call(&format!("{}/a", served.base), Some(&only_a))
            .await
            .status(),
        200
    );
    assert_eq!(
        call(&format!("{}/b", served.base), Some(&only_a))
            .await
            .status(),
        403
    );
    assert_eq!(
        call(&format!("{}/custom", served.base), None)
            .await
            .status(),
        418
    );
    assert_eq!(
        (issuer.discovery_requests(), issuer.jwks_requests()),
        (1, 1)
    );
    // And `verify` on the base shares them too.
    base.verify(&token).await.unwrap();
    assert_eq!(issuer.jwks_requests(), 1);
}

/// Counts how often a token's claims are deserialized: once per verification that missed the
/// verified-token cache.
static DESERIALIZED: AtomicUsize = AtomicUsize::new(0);

struct Counted {
    sub: String,
}

impl<'de> Deserialize<'de> for Counted {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            sub: String,
        }
        DESERIALIZED.fetch_add(1, Ordering::SeqCst);
        Raw::deserialize(d).map(|r| Counted { sub: r.sub })
    }
}

#[tokio::test]
async fn layers_derived_by_policy_share_one_verified_token_cache() {
    let issuer = TestIssuer::start().await;
    let base = JwtAuth::new(issuer.url(), AUD).with_claims::<Counted>();
    let handler = |c: Claims<Counted>| async move { c.sub.clone() };
    let app = Router::new()
        .route("/a", get(handler).layer(base.clone().require_scopes(["a"])))
        .route("/b", get(handler).layer(base.clone().require_scopes(["b"])));
    let served = serve(app).await;
    let token = issuer.token().sub("u-5").scopes(["a", "b"]).sign();
    for path in ["/a", "/b", "/a", "/b"] {
        let res = call(&format!("{}{path}", served.base), Some(&token)).await;
        assert_eq!(res.text().await.unwrap(), "u-5");
    }
    assert_eq!(DESERIALIZED.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_chain_of_builder_calls_parses_a_fixed_key_set_once() {
    let logs = Captured::default();
    let _guard = logs.install();
    let issuer = TestIssuer::start().await;
    // An encryption key beside the signing keys: skipped with one warning.
    issuer.publish_jwk(
        json!({"kty": "EC", "crv": "P-256", "use": "enc", "kid": "enc-1",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}),
    );
    let jwks = issuer.jwks().to_string();
    let auth = JwtAuth::from(Issuer::new(issuer.url()).audience(AUD).jwks(jwks))
        .token_rules(TokenRules {
            leeway: std::time::Duration::from_secs(10),
            ..TokenRules::default()
        })
        .require_scopes(["a"])
        .require_sub_type("user")
        .optional();
    // Nothing is built until first use; then once for every clone.
    for _ in 0..3 {
        assert!(auth.clone().validate().is_ok());
    }
    let token = issuer.token().scopes(["a"]).sub_type("user").sign();
    auth.verify(&token).await.unwrap();
    let _app: Router = Router::new()
        .route("/x", get(|| async { "x" }))
        .route("/y", get(|| async { "y" }))
        .layer(auth.clone().require_scopes(["b"]));
    assert_eq!(issuer.jwks_requests(), 0);
    let warnings = logs.text().matches("configured JWK skipped").count();
    assert_eq!(warnings, 1, "{}", logs.text());
}

async fn page(claims: Option<Claims>) -> String {
    claims.map_or_else(
        || "hello, guest".to_owned(),
        |c| format!("hello, {}", c.sub),
    )
}

async fn optional_app(issuer: &TestIssuer) -> common::Served {
    let auth = JwtAuth::new(issuer.url(), AUD).optional();
    let app = Router::new()
        .route("/", get(page))
        .route("/strict", get(|c: Claims| async move { c.sub.clone() }))
        .route(
            "/write",
            get(page).layer(RequireScopes::new(["insights.write"])),
        )
        .route(
            "/mine",
            get(page).layer(RequireScopes::none().require_sub_type("user")),
        )
        .layer(auth);
    serve(app).await
}

#[tokio::test]
async fn optional_lets_anonymous_requests_through_without_claims() {
    let issuer = TestIssuer::start().await;
    let served = optional_app(&issuer).await;
    let url = format!("{}/", served.base);

    let res = call(&url, None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "hello, guest");

    // Another scheme carries no bearer credentials: anonymous too.
    let res = reqwest::Client::new()
        .get(&url)
        .header("authorization", "Basic dTpw")
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "hello, guest");

    let token = issuer.token().sub("u-1").sign();
    let res = call(&url, Some(&token)).await;
    assert_eq!(res.text().await.unwrap(), "hello, u-1");
    assert_eq!(issuer.jwks_requests(), 1);
}

#[tokio::test]
async fn optional_still_refuses_a_token_that_fails() {
    let issuer = TestIssuer::start().await;
    let served = optional_app(&issuer).await;
    let url = format!("{}/", served.base);
    let expired = issuer
        .token()
        .expired_for(std::time::Duration::from_secs(600))
        .sign();
    let res = call(&url, Some(&expired)).await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        www_authenticate(&res),
        r#"Bearer realm="insights-api", error="invalid_token", error_description="the token has expired""#
    );
    let res = call(&url, Some("not a token")).await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn under_optional_a_required_claim_or_scope_is_401_for_anonymous_requests() {
    let issuer = TestIssuer::start().await;
    let served = optional_app(&issuer).await;
    for path in ["/strict", "/write", "/mine"] {
        let res = call(&format!("{}{path}", served.base), None).await;
        assert_eq!(res.status(), 401, "{path}");
        assert_eq!(
            www_authenticate(&res),
            r#"Bearer realm="insights-api""#,
            "{path}"
        );
        let body: Value = res.json().await.unwrap();
        assert_eq!(
            body,
            json!({"error": "unauthorized", "error_description": "a bearer token is required"})
        );
    }
    // With a token, the per-route requirements answer as usual.
    let app_token = issuer.token().sub("c-1").sign();
    let res = call(&format!("{}/write", served.base), Some(&app_token)).await;
    assert_eq!(res.status(), 403);
    let res = call(&format!("{}/mine", served.base), Some(&app_token)).await;
    assert_eq!(res.status(), 403);
    let user = issuer.token().sub("u-2").sub_type("user").sign();
    let res = call(&format!("{}/mine", served.base), Some(&user)).await;
    assert_eq!(res.text().await.unwrap(), "hello, u-2");
    let res = call(&format!("{}/strict", served.base), Some(&user)).await;
    assert_eq!(res.text().await.unwrap(), "u-2");
}

#[test]
fn per_route_requirements_compile_without_scopes() {
    // `RequireScopes::new([])` cannot infer its item type; these can.
    let _ = RequireScopes::none().require_sub_type("user");
    let _ = RequireScopes::default().require_sub_type("user");
    let _ = RequireScopes::new(Vec::<String>::new());
    let panic = std::panic::catch_unwind(|| {
        tower::Layer::layer(&RequireScopes::none().require_sub_type(""), ())
    })
    .unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("RequireScopes::require_sub_type"),
        "{message}"
    );
}
