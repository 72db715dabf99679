//! The layer in front of an axum service over real HTTP, against a real identity provider
//! stand-in (discovery + JWKS) on loopback: every outcome with its exact status and
//! `WWW-Authenticate`.

mod common;

use std::time::Duration;
use tower_jwt_auth::{KeyFetching, TokenRules};

use axum::routing::get as route_get;
use axum::{Json, Router};
use common::{closed_port_url, get, serve, www_authenticate, Served};
use serde_json::{json, Value};
use tower_jwt_auth::testing::{SigningKey, TestIssuer};
use tower_jwt_auth::{Algorithm, Claims, JwtAuth, ManualClock, RequireScopes};

const AUD: &str = "insights-api";

async fn usage(claims: Claims) -> Json<Value> {
    Json(json!({
        "sub": claims.sub,
        "sub_type": claims.sub_type,
        "scopes": claims.scopes().collect::<Vec<_>>(),
    }))
}

/// `/usage` needs `insights.read` (layer-wide); `/write` also needs `insights.write`.
fn app(auth: JwtAuth) -> Router {
    Router::new()
        .route("/usage", route_get(usage))
        .route(
            "/write",
            route_get(usage).layer(RequireScopes::new(["insights.write"])),
        )
        .layer(auth)
}

async fn setup() -> (TestIssuer, Served) {
    let issuer = TestIssuer::start().await;
    let auth = JwtAuth::new(issuer.url(), AUD).require_scopes(["insights.read"]);
    let served = serve(app(auth)).await;
    (issuer, served)
}

fn assert_invalid_token(res: &reqwest::Response, description: &str) {
    assert_eq!(res.status(), 401);
    assert_eq!(
        www_authenticate(res),
        format!(
            r#"Bearer realm="{AUD}", error="invalid_token", error_description="{description}""#
        )
    );
}

#[tokio::test]
async fn every_algorithm_reaches_the_handler_with_its_claims() {
    let issuer = TestIssuer::builder()
        .algorithms(Algorithm::ALL)
        .start()
        .await;
    let auth = JwtAuth::new(issuer.url(), AUD).require_scopes(["insights.read"]);
    let app = serve(app(auth)).await;
    for alg in Algorithm::ALL {
        let token = issuer
            .token()
            .alg(alg)
            .sub("u-42")
            .sub_type("user")
            .scopes(["insights.read", "insights.write"])
            .sign();
        let res = get(&format!("{}/usage", app.base), Some(&token)).await;
        assert_eq!(res.status(), 200, "{alg}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["sub"], "u-42", "{alg}");
        assert_eq!(body["sub_type"], "user");
        assert_eq!(body["scopes"], json!(["insights.read", "insights.write"]));
    }
    assert_eq!(issuer.discovery_requests(), 1);
    assert_eq!(issuer.jwks_requests(), 1);
}

#[tokio::test]
async fn no_token_is_401_without_an_error_code() {
    let (_issuer, app) = setup().await;
    let res = get(&format!("{}/usage", app.base), None).await;
    assert_eq!(res.status(), 401);
    assert_eq!(www_authenticate(&res), r#"Bearer realm="insights-api""#);
    assert_eq!(res.headers()["content-type"], "application/json");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error_description"], "a bearer token is required");
}

#[tokio::test]
async fn invalid_tokens_are_401_invalid_token() {
    let (issuer, app) = setup().await;
    let url = format!("{}/usage", app.base);
    let ok = || issuer.token().scopes(["insights.read"]);

    let res = get(&url, Some("abc.def")).await;
    assert_invalid_token(&res, "the token is not a compact JWS");

    let token = ok().sign();
    let (head, rest) = token.split_once('.').unwrap();
    let (_, sig) = rest.split_once('.').unwrap();
    let forged_payload = {
        use base64::Engine as _;
        let claims = json!({"iss": issuer.url(), "aud": AUD, "sub": "admin", "exp": 4_000_000_000u64, "scope": "insights.read"});
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string())
    };
    let res = get(&url, Some(&format!("{head}.{forged_payload}.{sig}"))).await;
    assert_invalid_token(&res, "the token signature is invalid");

    let res = get(
        &url,
        Some(&ok().expired_for(Duration::from_secs(120)).sign()),
    )
    .await;
    assert_invalid_token(&res, "the token has expired");

    let res = get(
        &url,
        Some(&ok().not_before_in(Duration::from_secs(600)).sign()),
    )
    .await;
    assert_invalid_token(&res, "the token is not valid yet");

    let res = get(
        &url,
        Some(&ok().iss("https://auth-api-uat.eliq.com").sign()),
    )
    .await;
    assert_invalid_token(&res, "the token issuer is not accepted");

    let res = get(&url, Some(&ok().aud("data-management-api").sign())).await;
    assert_invalid_token(&res, "the token is not intended for this audience");

    let res = get(&url, Some(&ok().kid("no-such-key").sign())).await;
    assert_invalid_token(&res, "the token's signing key is not known");

    let res = get(&url, Some(&ok().without("exp").sign())).await;
    assert_invalid_token(&res, "the token has no `exp` claim");

    let res = get(&url, Some(&ok().without("sub").sign())).await;
    assert_invalid_token(&res, "the token has no `sub` claim");

    // A key of the right shape that the issuer never published.
    let stranger = SigningKey::generate(Algorithm::ES256);
    let claims = serde_json::to_value(ok().claims()).unwrap();
    let res = get(
        &url,
        Some(&stranger.sign_json(&json!({"alg": "ES256", "kid": stranger.kid()}), &claims)),
    )
    .await;
    assert_invalid_token(&res, "the token's signing key is not known");
    // ... nor does naming a published kid help it.
    let published = issuer.key(Algorithm::ES256);
    let res = get(
        &url,
        Some(&stranger.sign_json(&json!({"alg": "ES256", "kid": published.kid()}), &claims)),
    )
    .await;
    assert_invalid_token(&res, "the token signature is invalid");
}

#[tokio::test]
async fn none_and_symmetric_algorithms_are_refused() {
    use base64::Engine as _;
    let (issuer, app) = setup().await;
    let url = format!("{}/usage", app.base);
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let claims = serde_json::to_value(issuer.token().scopes(["insights.read"]).claims()).unwrap();
    for alg in ["none", "HS256", "HS512"] {
        let token = format!(
            "{}.{}.c2lnbmF0dXJl",
            b64(&json!({"alg": alg})),
            b64(&claims)
        );
        let res = get(&url, Some(&token)).await;
        assert_invalid_token(&res, "the token's signing algorithm is not accepted");
    }
}

#[tokio::test]
async fn missing_scope_is_403_with_the_required_scope() {
    let (issuer, app) = setup().await;
    let token = issuer.token().scopes(["insights.write"]).sign();
    let res = get(&format!("{}/usage", app.base), Some(&token)).await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        www_authenticate(&res),
        r#"Bearer realm="insights-api", error="insufficient_scope", error_description="the token lacks a required scope", scope="insights.read""#
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": "insufficient_scope", "error_description": "the token lacks a required scope"})
    );
}

#[tokio::test]
async fn scopes_compare_exactly() {
    let (issuer, app) = setup().await;
    for scopes in [
        vec!["Insights.read"],
        vec!["insights.read.all"],
        vec!["insights"],
    ] {
        let token = issuer.token().scopes(&scopes).sign();
        let res = get(&format!("{}/usage", app.base), Some(&token)).await;
        assert_eq!(res.status(), 403, "{scopes:?}");
    }
    // `scp` as an array counts too.
    let token = issuer.token().claim("scp", json!(["insights.read"])).sign();
    let res = get(&format!("{}/usage", app.base), Some(&token)).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn per_route_scopes_come_on_top_of_the_layer_scopes() {
    let (issuer, app) = setup().await;
    let url = format!("{}/write", app.base);
    let read_only = issuer.token().scopes(["insights.read"]).sign();
    let res = get(&url, Some(&read_only)).await;
    assert_eq!(res.status(), 403);
    assert!(
        www_authenticate(&res).ends_with(r#"scope="insights.write""#),
        "{}",
        www_authenticate(&res)
    );
    let both = issuer
        .token()
        .scopes(["insights.read", "insights.write"])
        .sign();
    assert_eq!(get(&url, Some(&both)).await.status(), 200);
    // The layer's own scopes are still required on that route.
    let write_only = issuer.token().scopes(["insights.write"]).sign();
    let res = get(&url, Some(&write_only)).await;
    assert_eq!(res.status(), 403);
    assert!(www_authenticate(&res).ends_with(r#"scope="insights.read""#));
}

#[tokio::test]
async fn user_context_routes_refuse_app_tokens() {
    let issuer = TestIssuer::start().await;
    let auth = JwtAuth::new(issuer.url(), AUD)
        .require_scopes(["insights.read"])
        .require_sub_type("user");
    let app = serve(app(auth)).await;
    let url = format!("{}/usage", app.base);
    let app_token = issuer.token().scopes(["insights.read"]).sign();
    let res = get(&url, Some(&app_token)).await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        www_authenticate(&res),
        r#"Bearer realm="insights-api", error="insufficient_scope", error_description="the token's subject type is not accepted here""#
    );
    let other = issuer
        .token()
        .scopes(["insights.read"])
        .sub_type("service")
        .sign();
    assert_eq!(get(&url, Some(&other)).await.status(), 403);
    let delegated = issuer
        .token()
        .scopes(["insights.read"])
        .sub("u-7")
        .sub_type("user")
        .sign();
    let res = get(&url, Some(&delegated)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["sub"], "u-7");
}

#[tokio::test]
async fn unusable_authorization_headers_are_400_invalid_request() {
    let (issuer, app) = setup().await;
    let url = format!("{}/usage", app.base);
    let token = issuer.token().scopes(["insights.read"]).sign();
    let client = reqwest::Client::new();
    let cases: Vec<Vec<String>> = vec![
        vec![format!("Bearer {token}"), format!("Bearer {token}")],
        vec!["Bearer ".into()],
        vec!["Bearer".into()],
        vec![format!("Bearer {token} extra")],
    ];
    for values in cases {
        let mut req = client.get(&url);
        for v in &values {
            req = req.header("authorization", v);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 400, "{values:?}");
        let www = www_authenticate(&res);
        assert!(
            www.starts_with(
                r#"Bearer realm="insights-api", error="invalid_request", error_description=""#
            ),
            "{www}"
        );
    }
    // The scheme is case-insensitive.
    let res = client
        .get(&url)
        .header("authorization", format!("bEaReR {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn oversized_headers_are_refused_before_decoding() {
    let (_issuer, app) = setup().await;
    let huge = "a".repeat(8 * 1024);
    let res = get(&format!("{}/usage", app.base), Some(&huge)).await;
    assert_invalid_token(&res, "the token is too large");
}

#[tokio::test]
async fn unreachable_provider_on_cold_start_is_503_with_retry_after() {
    let issuer = closed_port_url().await;
    let auth = JwtAuth::new(&issuer, AUD).key_fetching(KeyFetching {
        key_wait_budget: Duration::from_secs(3),
        ..KeyFetching::default()
    });
    let app = serve(app(auth)).await;
    // A well-formed token naming that issuer: there are no keys to check it with.
    let token = TestIssuer::start()
        .await
        .token()
        .claim("iss", issuer.as_str())
        .sign();
    let started = std::time::Instant::now();
    let res = get(&format!("{}/usage", app.base), Some(&token)).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(res.status(), 503);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    assert!(res.headers().get("www-authenticate").is_none());
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
}

#[tokio::test]
async fn tokens_from_the_token_endpoint_are_accepted() {
    let issuer = TestIssuer::builder()
        .client("utility-acme-frontend", "s3cret")
        .start()
        .await;
    let auth = JwtAuth::new(issuer.url(), AUD).require_scopes(["insights.read"]);
    let app = serve(app(auth)).await;
    let client = reqwest::Client::new();

    // JSON body, delegated token.
    let res = client
        .post(issuer.token_endpoint())
        .json(&json!({
            "grant_type": "client_credentials",
            "client_id": "utility-acme-frontend",
            "client_secret": "s3cret",
            "aud": "insights-api",
            "scope": "insights.read insights.write",
            "sub": "user-1",
            "sub_type": "user",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    let token = body["access_token"].as_str().unwrap();
    let res = get(&format!("{}/write", app.base), Some(token)).await;
    assert_eq!(res.status(), 200);
    let claims: Value = res.json().await.unwrap();
    assert_eq!(claims["sub"], "user-1");
    assert_eq!(claims["sub_type"], "user");

    // Form body with HTTP Basic, app token without scopes: authenticated, not authorised.
    let res = client
        .post(issuer.token_endpoint())
        .basic_auth("utility-acme-frontend", Some("s3cret"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&aud=insights-api")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let token = res.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        get(&format!("{}/usage", app.base), Some(&token))
            .await
            .status(),
        403
    );

    // Bad credentials and grant types.
    let res = client
        .post(issuer.token_endpoint())
        .basic_auth("utility-acme-frontend", Some("wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );
    let res = client
        .post(issuer.token_endpoint())
        .form(&[
            ("grant_type", "password"),
            ("client_id", "test-client"),
            ("client_secret", "test-secret"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "unsupported_grant_type"
    );
}

#[tokio::test]
async fn concurrent_first_requests_share_one_discovery_and_one_jwks_fetch() {
    let (issuer, app) = setup().await;
    let token = issuer.token().scopes(["insights.read"]).sign();
    let url = format!("{}/usage", app.base);
    let client = reqwest::Client::new();
    let calls = (0..200).map(|_| {
        let req = client.get(&url).bearer_auth(&token);
        async move { req.send().await.unwrap().status() }
    });
    let statuses = futures_join_all(calls).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(issuer.discovery_requests(), 1);
    assert_eq!(issuer.jwks_requests(), 1);
}

async fn futures_join_all<F: std::future::Future + Send + 'static>(
    futs: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn rotated_keys_verify_after_one_refetch_and_removed_keys_stop() {
    let clock = ManualClock::starting_now();
    let issuer = TestIssuer::builder().clock(clock.clone()).start().await;
    let auth = JwtAuth::new(issuer.url(), AUD).clock(clock.clone());
    let app = serve(app(auth)).await;
    let url = format!("{}/usage", app.base);
    let old = issuer.token().scopes(["insights.read"]).sign();
    assert_eq!(get(&url, Some(&old)).await.status(), 200);
    assert_eq!(issuer.jwks_requests(), 1);

    let old_kid = issuer.key(Algorithm::RS256).kid().to_owned();
    let new_key = issuer.add_key(Algorithm::RS256);
    issuer.remove_key(&old_kid);
    let new = issuer.token().scopes(["insights.read"]).sign();
    // The first request with the new kid refetches, waits for it, and passes.
    let res = get(&url, Some(&new)).await;
    assert_eq!(res.status(), 200, "new kid {}", new_key.kid());
    assert_eq!(issuer.jwks_requests(), 2);
    // The refetch that brought the new key removed the old one.
    let res = get(&url, Some(&old)).await;
    assert_invalid_token(&res, "the token's signing key is not known");
}

#[tokio::test]
async fn expiry_follows_the_injected_clock_with_leeway() {
    let clock = ManualClock::starting_now();
    let issuer = TestIssuer::builder().clock(clock.clone()).start().await;
    let auth = JwtAuth::new(issuer.url(), AUD)
        .clock(clock.clone())
        .token_rules(TokenRules {
            leeway: Duration::from_secs(30),
            ..TokenRules::default()
        });
    let app = serve(app(auth)).await;
    let url = format!("{}/usage", app.base);
    let token = issuer.token().expires_in(Duration::from_secs(60)).sign();
    assert_eq!(get(&url, Some(&token)).await.status(), 200);
    clock.advance(Duration::from_secs(89));
    assert_eq!(get(&url, Some(&token)).await.status(), 200);
    clock.advance(Duration::from_secs(1));
    assert_invalid_token(&get(&url, Some(&token)).await, "the token has expired");
}

#[tokio::test]
async fn a_misconfigured_layer_refuses_to_start_and_names_the_field() {
    let err = JwtAuth::try_new("http://auth-api.eliq.com", AUD).unwrap_err();
    assert_eq!(err.field(), "issuer");
    let auth = JwtAuth::new("http://auth-api.eliq.com", AUD);
    assert_eq!(auth.validate().unwrap_err().field(), "issuer");
    let ready = auth.ready().await.unwrap_err();
    assert_eq!(ready.kind(), tower_jwt_auth::AuthErrorKind::Misconfigured);
    let panic = std::panic::catch_unwind(|| app(auth)).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("invalid `issuer`") && message.contains("http://auth-api.eliq.com"),
        "{message}"
    );

    let bad_scope = JwtAuth::new("https://auth-api.eliq.com", AUD).require_scopes(["two words"]);
    assert_eq!(bad_scope.validate().unwrap_err().field(), "require_scopes");
    assert_eq!(
        JwtAuth::try_new("https://auth-api.eliq.com", "")
            .unwrap_err()
            .field(),
        "audience"
    );
}
