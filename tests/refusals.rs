//! Refusals that explain themselves, over real HTTP on 127.0.0.1: an untrusted issuer costs no
//! fetch, bound tokens are no bearer tokens, other schemes are answered like no token, unusable
//! configuration stops the service at startup naming the field, and every refusal's log event
//! names what a person needs to fix it.

mod common;

use std::time::Duration;
use tower_jwt_auth::{Caches, Issuer, KeyFetching, TokenRules};

use axum::routing::get;
use axum::Router;
use common::{closed_port_url, get as call, serve, www_authenticate, Captured};
use serde::Deserialize;
use serde_json::json;
use tower_jwt_auth::testing::{Failure, TestIssuer};
use tower_jwt_auth::{AuthErrorKind, Claims, JwtAuth, KeySourceError, KeySourceErrorKind};

const AUD: &str = "insights-api";

fn app(auth: JwtAuth) -> Router {
    Router::new()
        .route("/usage", get(|c: Claims| async move { c.sub.clone() }))
        .layer(auth)
}

fn invalid_token(description: &str) -> String {
    format!(r#"Bearer realm="{AUD}", error="invalid_token", error_description="{description}""#)
}

#[tokio::test]
async fn a_token_of_another_issuer_is_refused_with_no_fetch_cold_or_warm() {
    let trusted = TestIssuer::start().await;
    let other = TestIssuer::start().await;
    let served = serve(app(JwtAuth::new(trusted.url(), AUD))).await;
    let url = format!("{}/usage", served.base);
    let foreign = other.token().sign();

    // Cold: nothing loaded yet, and nothing is fetched for it.
    let res = call(&url, Some(&foreign)).await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        www_authenticate(&res),
        invalid_token("the token issuer is not accepted")
    );
    assert_eq!(
        (trusted.discovery_requests(), trusted.jwks_requests()),
        (0, 0)
    );
    assert_eq!((other.discovery_requests(), other.jwks_requests()), (0, 0));

    // Warm: a `kid` the trusted set lacks would otherwise cost a refetch.
    assert_eq!(
        call(&url, Some(&trusted.token().sign())).await.status(),
        200
    );
    let unknown_kid = other.token().kid("never-published").sign();
    for token in [&foreign, &unknown_kid] {
        let res = call(&url, Some(token)).await;
        assert_eq!(
            www_authenticate(&res),
            invalid_token("the token issuer is not accepted")
        );
    }
    let no_iss = trusted.token().without("iss").sign();
    let res = call(&url, Some(&no_iss)).await;
    assert_eq!(
        www_authenticate(&res),
        invalid_token("the token issuer is not accepted")
    );
    assert_eq!(
        (trusted.discovery_requests(), trusted.jwks_requests()),
        (1, 1)
    );
    assert_eq!(other.jwks_requests(), 0);
}

#[tokio::test]
async fn tokens_bound_to_a_key_are_not_bearer_tokens() {
    let issuer = TestIssuer::start().await;
    let auth = JwtAuth::new(issuer.url(), AUD);
    let served = serve(app(auth.clone())).await;
    let url = format!("{}/usage", served.base);
    for cnf in [
        json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}),
        json!({"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}),
        json!({"kid": "some-other-binding"}),
    ] {
        let token = issuer.token().claim("cnf", cnf.clone()).sign();
        let res = call(&url, Some(&token)).await;
        assert_eq!(res.status(), 401, "{cnf}");
        assert_eq!(
            www_authenticate(&res),
            invalid_token("the token is bound to a key and needs its proof of possession")
        );
        let err = auth.verify(&token).await.unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::BoundToken);
    }
    assert_eq!(call(&url, Some(&issuer.token().sign())).await.status(), 200);
}

#[tokio::test]
async fn another_scheme_is_answered_like_no_token() {
    let issuer = TestIssuer::start().await;
    let served = serve(app(JwtAuth::new(issuer.url(), AUD))).await;
    let url = format!("{}/usage", served.base);
    let client = reqwest::Client::new();
    for value in [
        "Basic dGVzdC1jbGllbnQ6dGVzdC1zZWNyZXQ=",
        r#"Digest username="u", realm="r", nonce="n", uri="/usage", response="x""#,
        "Negotiate YIIB",
    ] {
        let res = client
            .get(&url)
            .header("authorization", value)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{value}");
        assert_eq!(
            www_authenticate(&res),
            format!(r#"Bearer realm="{AUD}""#),
            "{value}"
        );
    }
    // Malformed Bearer values and repeated headers stay 400.
    let token = issuer.token().sign();
    for values in [
        vec!["Bearer".to_owned()],
        vec!["Bearer a\"b".to_owned()],
        vec![format!("Bearer {token}"), "Basic dTpw".to_owned()],
    ] {
        let mut req = client.get(&url);
        for v in &values {
            req = req.header("authorization", v);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 400, "{values:?}");
        assert!(www_authenticate(&res).contains(r#"error="invalid_request""#));
    }
}

/// The panic message of building an app around `auth`.
fn startup_panic(auth: JwtAuth) -> String {
    let panic = std::panic::catch_unwind(|| app(auth)).expect_err("the layer must refuse it");
    panic
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_else(|| panic.downcast_ref::<&str>().unwrap().to_string())
}

#[test]
fn unusable_configuration_stops_the_service_at_startup() {
    let ok = || JwtAuth::new("https://auth-api.eliq.com", AUD);
    let ok_issuer = || Issuer::new("https://auth-api.eliq.com").audience(AUD);
    let primary = JwtAuth::from;
    let cases: Vec<(JwtAuth, &str, &str)> = vec![
        (
            JwtAuth::new("http://auth-api.eliq.com", AUD),
            "issuer",
            "https",
        ),
        (
            JwtAuth::new("auth-api.eliq.com", AUD),
            "issuer",
            "not a URL",
        ),
        (
            JwtAuth::new("https://auth-api.eliq.com", ""),
            "audience",
            "empty",
        ),
        (
            ok().require_scopes(["insights read"]),
            "require_scopes",
            "insights read",
        ),
        (ok().require_sub_type(""), "require_sub_type", "empty"),
        (
            primary(ok_issuer().jwks("{\"keys\": 5}")),
            "jwks",
            "not a JWK set",
        ),
        (
            primary(ok_issuer().jwks(r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#)),
            "jwks",
            "symmetric",
        ),
        (
            primary(ok_issuer().pem_key(
                "k1",
                tower_jwt_auth::Algorithm::ES256,
                "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
            )),
            "pem_key",
            "k1",
        ),
        (
            primary(ok_issuer().jwks_uri("http://keys.example/jwks")),
            "jwks_uri",
            "https",
        ),
        (
            ok().token_rules(TokenRules {
                leeway: Duration::from_secs(3600),
                ..TokenRules::default()
            }),
            "leeway",
            "10 minutes",
        ),
        (
            ok().token_rules(TokenRules {
                algorithms: vec![],
                ..TokenRules::default()
            }),
            "algorithms",
            "at least one",
        ),
        (
            ok().caches(Caches {
                jwks_ttl: Duration::from_secs(60),
                jwks_ttl_floor: Duration::from_secs(600),
                jwks_ttl_ceiling: Duration::from_secs(300),
                ..Caches::default()
            }),
            "jwks_ttl_floor",
            "floor",
        ),
    ];
    for (auth, field, problem) in cases {
        let err = auth.validate().map_err(Clone::clone).expect_err(field);
        assert_eq!(err.field(), field);
        let message = startup_panic(auth);
        assert!(
            message.contains(&format!("invalid `{field}`")) && message.contains(problem),
            "{field}: {message}"
        );
    }
    assert_eq!(
        JwtAuth::try_new("http://auth-api.eliq.com", AUD)
            .unwrap_err()
            .field(),
        "issuer"
    );
    assert!(ok().validate().is_ok());
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct TenantClaims {
    tenant: String,
}

#[tokio::test]
async fn a_claims_type_that_does_not_fit_keeps_serdes_message() {
    let issuer = TestIssuer::start().await;
    let auth = JwtAuth::new(issuer.url(), AUD).with_claims::<TenantClaims>();
    let err = auth.verify(&issuer.token().sign()).await.unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::InvalidClaim);
    let source = std::error::Error::source(&err).unwrap().to_string();
    assert!(source.contains("missing field `tenant`"), "{source}");
    assert_eq!(
        err.description(),
        "the token claims do not fit the expected claims type"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn refusal_logs_name_the_expected_and_the_found_values() {
    let logs = Captured::default();
    let _guard = logs.install();
    let issuer = TestIssuer::start().await;
    let served = serve(app(JwtAuth::new(issuer.url(), AUD)
        .require_scopes(["insights.read"])
        .require_sub_type("user")))
    .await;
    let url = format!("{}/usage", served.base);
    let wrong_iss = issuer.token().iss("https://auth-api-uat.eliq.com").sign();
    let wrong_aud = issuer.token().aud("data-management-api").sign();
    let no_scope = issuer
        .token()
        .sub_type("user")
        .scopes(["insights.write"])
        .sign();
    let app_token = issuer
        .token()
        .scopes(["insights.read"])
        .sub_type("app")
        .sign();
    let hostile_iss = issuer
        .token()
        .iss(&format!("evil\n{}", "x".repeat(300)))
        .sign();
    for token in [&wrong_iss, &wrong_aud, &no_scope, &app_token, &hostile_iss] {
        assert_ne!(call(&url, Some(token)).await.status(), 200);
    }
    let text = logs.text();
    let issuer_url = issuer.url();
    for expected in [
        format!(r#"expected issuer "{issuer_url}", found "https://auth-api-uat.eliq.com""#),
        r#"expected audience "insights-api", found ["data-management-api"]"#.to_owned(),
        "missing scopes: insights.read".to_owned(),
        r#"expected sub_type "user", found "app""#.to_owned(),
    ] {
        assert!(text.contains(&expected), "{expected}\n---\n{text}");
    }
    // Values from the token are escaped and cut; the token itself never appears.
    assert!(
        text.contains(&format!(r#"found "evil\n{}"..."#, "x".repeat(123))),
        "{text}"
    );
    assert!(!text.contains(&"x".repeat(129)));
    for token in [&wrong_iss, &wrong_aud, &no_scope, &app_token] {
        let signature = token.rsplit('.').next().unwrap();
        assert!(!text.contains(signature));
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_failed_key_fetch_says_what_failed() {
    let logs = Captured::default();
    let _guard = logs.install();
    let down = closed_port_url().await;
    let served = serve(app(JwtAuth::new(&down, AUD))).await;
    let token = TestIssuer::start().await.token().iss(&down).sign();
    let res = call(&format!("{}/usage", served.base), Some(&token)).await;
    assert_eq!(res.status(), 503);
    let text = logs.text();
    assert!(text.contains("connection refused"), "{text}");
    assert!(
        text.contains(&format!("{down}/.well-known/openid-configuration")),
        "{text}"
    );
}

/// The kind and message of the fetch failure behind `auth.ready()`.
async fn fetch_failure(auth: JwtAuth) -> (KeySourceErrorKind, String) {
    let err = auth.ready().await.unwrap_err();
    let source = std::error::Error::source(&err).unwrap();
    let source = source.downcast_ref::<KeySourceError>().unwrap();
    (source.kind(), source.to_string())
}

#[tokio::test]
async fn each_kind_of_fetch_failure_is_named() {
    let (kind, message) = fetch_failure(JwtAuth::new(closed_port_url().await, AUD)).await;
    assert_eq!(kind, KeySourceErrorKind::ConnectionRefused, "{message}");
    assert!(message.contains("connection refused"), "{message}");

    let issuer = TestIssuer::start().await;
    issuer.fail(Failure::Status(502));
    let (kind, message) = fetch_failure(JwtAuth::new(issuer.url(), AUD)).await;
    assert_eq!(kind, KeySourceErrorKind::Status, "{message}");
    assert!(message.ends_with("HTTP status 502"), "{message}");

    issuer.fail(Failure::Garbage);
    let (kind, message) = fetch_failure(JwtAuth::new(issuer.url(), AUD)).await;
    assert_eq!(kind, KeySourceErrorKind::InvalidDocument, "{message}");
    assert!(message.contains("not valid metadata JSON"), "{message}");

    issuer.fail(Failure::Hang);
    let hanging = JwtAuth::new(issuer.url(), AUD).key_fetching(KeyFetching {
        connect_timeout: Duration::from_millis(200),
        timeout: Duration::from_millis(300),
        ..KeyFetching::default()
    });
    let (kind, message) = fetch_failure(hanging).await;
    assert_eq!(kind, KeySourceErrorKind::Timeout, "{message}");
    assert!(message.contains("timed out"), "{message}");

    // https to a listener that speaks plain HTTP: the TLS handshake fails.
    issuer.recover();
    let tls = JwtAuth::new(format!("https://{}", issuer.addr()), AUD);
    let (kind, message) = fetch_failure(tls).await;
    assert_eq!(kind, KeySourceErrorKind::Tls, "{message}");
    assert!(
        message.contains("TLS handshake failed: received corrupt message"),
        "{message}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_discovery_issuer_mismatch_is_a_configuration_error() {
    let logs = Captured::default();
    let _guard = logs.install();
    let issuer = TestIssuer::start().await;
    let configured = format!("{}/", issuer.url());
    let auth = JwtAuth::new(&configured, AUD);
    let err = auth.ready().await.unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::Misconfigured);
    let source = std::error::Error::source(&err).unwrap().to_string();
    assert!(
        source.contains(&format!(r#"names issuer "{}""#, issuer.url())),
        "{source}"
    );
    assert!(
        source.contains(&format!(r#"configured issuer is "{configured}""#)),
        "{source}"
    );
    assert!(source.contains("trailing slash"), "{source}");
    let text = logs.text();
    let line = text
        .lines()
        .find(|l| l.contains("does not match the provider"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.contains("ERROR") && line.contains("trailing slash"),
        "{line}"
    );
    // Requests are answered 500: retrying cannot help.
    let served = serve(app(auth)).await;
    let token = issuer.token().iss(&configured).sign();
    let res = call(&format!("{}/usage", served.base), Some(&token)).await;
    assert_eq!(res.status(), 500);
}
