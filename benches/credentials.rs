//! What a repeated credential costs by kind, each row a ratio to a verified-JWT cache hit in the
//! same run: an API key found in the in-memory digest store, and an opaque token whose
//! introspection verdict is remembered. Two levels: `verify` (the authenticator alone) and
//! `router` (the whole axum call, in memory, with a scope check).

mod common;

use axum::routing::{get, post};
use axum::{Json, Router};
use common::{get_usage, jwks, ready, token, AUD, ISS};
use criterion::{criterion_group, criterion_main, Criterion};
use http::HeaderValue;
use serde_json::json;
use std::hint::black_box;
use tower_jwt_auth::testing::SigningKey;
use tower_jwt_auth::Issuer;
use tower_jwt_auth::{
    api_key::ApiKeyGrant, api_key::ApiKeyStore, Algorithm, Introspection, JwtAuth,
};

const API_KEY: &str = "fl_live_3b1f0c9e6a2d4f8b7c6d5e4f3a2b1c0d";
const OPAQUE: &str = "Nsk18jZjvOqD8CYRuyYqsNoP9_3s6_-LuqGSSAi9XLa";

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // A stand-in introspection endpoint on loopback, asked once: every measured call is a hit.
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(("127.0.0.1", 0)))
        .unwrap();
    let endpoint = format!("http://{}/introspect", listener.local_addr().unwrap());
    let exp = common::now() + 3600;
    let app = Router::new().route(
        "/introspect",
        post(move || async move {
            Json(json!({
                "active": true, "iss": ISS, "aud": AUD, "sub": "user-1042", "sub_type": "user",
                "client_id": "utility-acme-frontend", "scope": "insights.read insights.write",
                "exp": exp, "token_type": "Bearer",
            }))
        }),
    );
    let server = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async { axum::serve(listener, app).await.unwrap() });
    });
    let _ = &server;

    let key = SigningKey::generate_with_kid(Algorithm::ES256, "k1");
    let jwt = token(&key, "user-1042");
    let keys = ApiKeyStore::new();
    keys.insert(
        API_KEY,
        ApiKeyGrant::new("org-42")
            .scopes(["insights.read", "insights.write"])
            .sub_type("organisation"),
    );
    let auth = JwtAuth::from(Issuer::new(ISS).audience(AUD).jwks(jwks(&[&key])))
        .api_keys("fl_", keys)
        .introspection(Introspection::new(endpoint, "rs-client", "rs-secret"));
    // Warm every cache: the JWT verdict, the grant's claims, the introspection verdict.
    rt.block_on(async {
        auth.verify(&jwt).await.unwrap();
        auth.verify(API_KEY).await.unwrap();
        auth.verify(OPAQUE).await.unwrap();
    });

    let mut group = c.benchmark_group("credentials/verify");
    for (name, credential) in [
        ("jwt_cache_hit", jwt.as_str()),
        ("api_key_hit", API_KEY),
        ("introspection_cache_hit", OPAQUE),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| ready(auth.verify(black_box(credential))).unwrap())
        });
    }
    group.finish();

    let router = Router::new()
        .route("/usage", get(|| async { "ok" }))
        .layer(auth.require_scopes(["insights.read"]));
    let mut group = c.benchmark_group("credentials/router");
    for (name, credential) in [
        ("jwt_cache_hit", jwt.as_str()),
        ("api_key_hit", API_KEY),
        ("introspection_cache_hit", OPAQUE),
    ] {
        let bearer = HeaderValue::try_from(format!("Bearer {credential}")).unwrap();
        group.bench_function(name, |b| b.iter(|| get_usage(&rt, &router, &bearer)));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
