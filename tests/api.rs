//! The crate's API outside HTTP plumbing: `JwtAuth::verify`, `ready`, custom claims types, the
//! rejection hook, error pass-through, extractors, and tokens from an independent signer.

mod common;

use std::convert::Infallible;
use std::time::Duration;
use tower_jwt_auth::Issuer;

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use common::{closed_port_url, serve};
use http::{Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::json;
use tower::{service_fn, Layer, ServiceExt};
use tower_jwt_auth::testing::TestIssuer;
use tower_jwt_auth::{AuthError, AuthErrorKind, Claims, Grant, JwtAuth};

const AUD: &str = "insights-api";

#[tokio::test]
async fn verify_applies_the_same_rules_as_the_layer() {
    let issuer = TestIssuer::start().await;
    let auth = JwtAuth::new(issuer.url(), AUD).require_scopes(["insights.read"]);
    let token = issuer.token().sub("u-1").scopes(["insights.read"]).sign();
    let claims = auth.verify(&token).await.unwrap();
    assert_eq!(claims.sub, "u-1");
    assert_eq!(claims.iss, issuer.url());
    assert!(claims.aud.contains(AUD));
    assert!(claims.grant().has_scope("insights.read"));

    let no_scope = issuer.token().sign();
    let err = auth.verify(&no_scope).await.unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::InsufficientScope);
    assert_eq!(err.required_scope(), Some("insights.read"));
    let err = auth.verify("not-a-token").await.unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::Malformed);
}

#[tokio::test]
async fn ready_prefetches_keys_or_reports_why_not() {
    let issuer = TestIssuer::start().await;
    let auth = JwtAuth::new(issuer.url(), AUD);
    auth.ready().await.unwrap();
    assert_eq!(
        (issuer.discovery_requests(), issuer.jwks_requests()),
        (1, 1)
    );
    // Verifying afterwards needs no further fetch.
    auth.verify(&issuer.token().sign()).await.unwrap();
    assert_eq!(issuer.jwks_requests(), 1);

    let down = JwtAuth::new(closed_port_url().await, AUD);
    let err = down.ready().await.unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::KeysUnavailable);
    let source = std::error::Error::source(&err).unwrap().to_string();
    assert!(source.contains("connection failed"), "{source}");
}

#[tokio::test]
async fn discovery_must_name_the_configured_issuer_exactly() {
    let issuer = TestIssuer::start().await;
    // Same server, issuer spelled with a trailing slash: the document says otherwise.
    let auth = JwtAuth::new(format!("{}/", issuer.url()), AUD);
    let err = auth.ready().await.unwrap_err();
    // Not an outage: the configuration does not match the provider.
    assert_eq!(err.kind(), AuthErrorKind::Misconfigured);
    let source = std::error::Error::source(&err).unwrap().to_string();
    assert!(source.contains("names issuer"), "{source}");
    assert!(source.contains("trailing slash"), "{source}");
}

#[tokio::test]
async fn explicit_jwks_uri_and_fixed_keys_skip_discovery() {
    let issuer = TestIssuer::start().await;
    let token = issuer.token().sign();
    let by_uri = JwtAuth::from(
        Issuer::new(issuer.url())
            .audience(AUD)
            .jwks_uri(issuer.jwks_uri()),
    );
    by_uri.verify(&token).await.unwrap();
    assert_eq!(
        (issuer.discovery_requests(), issuer.jwks_requests()),
        (0, 1)
    );
    let fixed = JwtAuth::from(
        Issuer::new(issuer.url())
            .audience(AUD)
            .jwks(issuer.jwks().to_string()),
    );
    fixed.verify(&token).await.unwrap();
    assert_eq!(issuer.jwks_requests(), 1);
    assert_eq!(
        JwtAuth::from(Issuer::new(issuer.url()).audience(AUD).jwks("{}"))
            .validate()
            .unwrap_err()
            .field(),
        "jwks"
    );
    assert_eq!(
        JwtAuth::from(
            Issuer::new(issuer.url())
                .audience(AUD)
                .jwks_uri("http://example.com/jwks")
        )
        .validate()
        .unwrap_err()
        .field(),
        "jwks_uri"
    );
}

#[derive(Debug, Deserialize)]
struct MeterClaims {
    sub: String,
    meter_ids: Vec<String>,
}

#[tokio::test]
async fn custom_claims_types_are_validated_and_typed() {
    let issuer = TestIssuer::start().await;
    let auth = JwtAuth::new(issuer.url(), AUD).with_claims::<MeterClaims>();
    let token = issuer
        .token()
        .sub("u-9")
        .claim("meter_ids", json!(["m-1", "m-2"]))
        .sign();
    let claims: Claims<MeterClaims> = auth.verify(&token).await.unwrap();
    assert_eq!(claims.sub, "u-9");
    assert_eq!(claims.meter_ids, ["m-1", "m-2"]);
    // Registered claims are still checked.
    let expired = issuer
        .token()
        .claim("meter_ids", json!([]))
        .expired_for(Duration::from_secs(300))
        .sign();
    assert_eq!(
        auth.verify(&expired).await.unwrap_err().kind(),
        AuthErrorKind::Expired
    );
    // Claims that do not fit the type are refused.
    let err = auth.verify(&issuer.token().sign()).await.unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::InvalidClaim);

    let app = Router::new()
        .route(
            "/meters",
            get(|c: Claims<MeterClaims>| async move { c.meter_ids.join(",") }),
        )
        .layer(auth);
    let served = serve(app).await;
    let res = common::get(&format!("{}/meters", served.base), Some(&token)).await;
    assert_eq!(res.text().await.unwrap(), "m-1,m-2");
}

#[tokio::test]
async fn tokens_signed_by_jsonwebtoken_verify() {
    use jsonwebtoken::{encode, EncodingKey, Header};
    let issuer = TestIssuer::start().await;
    use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    use base64::Engine as _;
    // An independent signer with its own key, published through a fixed JWK set.
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
    let point = pair.public_key().as_ref();
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let jwks = json!({"keys": [{
        "kty": "EC", "crv": "P-256", "kid": "jwt-rs", "use": "sig", "alg": "ES256",
        "x": b64(&point[1..33]), "y": b64(&point[33..]),
    }]});
    let auth = JwtAuth::from(
        Issuer::new(issuer.url())
            .audience(AUD)
            .jwks(jwks.to_string()),
    );
    let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some("jwt-rs".into());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims =
        json!({"iss": issuer.url(), "aud": AUD, "sub": "c-1", "exp": now + 600, "iat": now});
    let token = encode(&header, &claims, &EncodingKey::from_ec_der(pkcs8.as_ref())).unwrap();
    assert_eq!(auth.verify(&token).await.unwrap().sub, "c-1");
}

#[tokio::test]
async fn a_custom_rejection_replaces_the_response_and_keeps_the_error() {
    let issuer = TestIssuer::start().await;
    let auth = JwtAuth::new(issuer.url(), AUD).on_reject(|err: &AuthError| {
        let mut res = Response::new(Bytes::from(format!("denied: {:?}", err.kind())));
        *res.status_mut() = StatusCode::IM_A_TEAPOT;
        res
    });
    let svc = auth.layer(service_fn(|_req: Request<Body>| async {
        Ok::<_, Infallible>(Response::new(Body::from("inner")))
    }));
    let res = svc.oneshot(Request::new(Body::empty())).await.unwrap();
    assert_eq!(res.status(), StatusCode::IM_A_TEAPOT);
    assert_eq!(
        res.extensions().get::<AuthError>().unwrap().kind(),
        AuthErrorKind::MissingToken
    );
    let body = axum::body::to_bytes(Body::new(res.into_body()), 1024)
        .await
        .unwrap();
    assert_eq!(&body[..], b"denied: MissingToken");
}

#[derive(Debug)]
struct InnerFailure;
impl std::fmt::Display for InnerFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("inner failure")
    }
}
impl std::error::Error for InnerFailure {}

#[tokio::test]
async fn the_inner_services_error_passes_through_and_claims_reach_it() {
    let issuer = TestIssuer::start().await;
    let auth = JwtAuth::new(issuer.url(), AUD);
    let svc = auth.layer(service_fn(|req: Request<Body>| async move {
        let claims = req
            .extensions()
            .get::<Claims>()
            .expect("claims in extensions");
        let grant = req
            .extensions()
            .get::<Grant>()
            .expect("grant in extensions");
        assert_eq!(claims.sub, grant.sub());
        Err::<Response<Body>, _>(InnerFailure)
    }));
    let token = issuer.token().sign();
    let req = Request::builder()
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let err = svc.oneshot(req).await.unwrap_err();
    assert_eq!(err.to_string(), "inner failure");
    // A refusal is a response, not an error.
    let svc = auth.layer(service_fn(|_: Request<Body>| async {
        Err::<Response<Body>, _>(InnerFailure)
    }));
    let res = svc.oneshot(Request::new(Body::empty())).await.unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn extractors_without_the_layer() {
    let app =
        Router::new()
            .route("/required", get(|c: Claims| async move { c.sub.clone() }))
            .route(
                "/optional",
                get(|c: Option<Claims>| async move {
                    c.map_or("anonymous".to_owned(), |c| c.sub.clone())
                }),
            );
    let served = serve(app).await;
    let res = common::get(&format!("{}/required", served.base), None).await;
    assert_eq!(res.status(), 500);
    assert_eq!(res.headers()["content-type"], "application/json");
    let body = res.text().await.unwrap();
    assert!(
        !body.contains("tower_jwt_auth") && !body.contains("Claims"),
        "{body}"
    );
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"], "server_error");
    let res = common::get(&format!("{}/optional", served.base), None).await;
    assert_eq!(res.text().await.unwrap(), "anonymous");
}

#[tokio::test]
async fn require_scopes_without_the_layer_is_a_500() {
    let svc = tower_jwt_auth::RequireScopes::new(["insights.read"]).layer(service_fn(
        |_: Request<Body>| async { Ok::<_, Infallible>(Response::new(Body::empty())) },
    ));
    let res = svc.oneshot(Request::new(Body::empty())).await.unwrap();
    assert_eq!(res.status(), 500);
    assert!(tower_jwt_auth::RequireScopes::try_new(["a\"b"]).is_err());
}
