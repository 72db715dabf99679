//! Per-request cost with 1, 100 and 10,000 configured issuers (exact) and tenants (one
//! template): a full verification (RS256, verified-token cache off) and the refusal of a token
//! whose issuer is not trusted (parse + issuer selection, no signature). Each row's ratio is
//! against the one-issuer row of the same run.

mod common;

use common::{claims, jwks, ready, AUD, ISS};
use std::hint::black_box;
use tower_jwt_auth::Caches;

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::json;
use tower_jwt_auth::testing::SigningKey;
use tower_jwt_auth::{Algorithm, Issuer, JwtAuth};

fn signed(key: &SigningKey, iss: &str) -> String {
    let mut c = claims("user-1042");
    c["iss"] = json!(iss);
    key.sign_json(&json!({"alg": "RS256", "kid": key.kid()}), &c)
}

fn bench(c: &mut Criterion) {
    let key = SigningKey::generate_with_kid(Algorithm::RS256, "k1");
    let set = jwks(&[&key]);
    let untrusted = signed(&key, "https://unknown.example");
    let mut group = c.benchmark_group("issuers");
    for n in [1usize, 100, 10_000] {
        // n exact issuers, each with its own (fixed) keys; the token names the last.
        let mut exact =
            JwtAuth::from(Issuer::new(ISS).audience(AUD).jwks(set.clone())).caches(Caches {
                verified_tokens: 0,
                ..Caches::default()
            });
        for i in 1..n {
            exact =
                exact.add_issuer(Issuer::new(format!("https://idp-{i}.example")).jwks(set.clone()));
        }
        let last = if n == 1 {
            ISS.to_owned()
        } else {
            format!("https://idp-{}.example", n - 1)
        };
        let token = signed(&key, &last);
        ready(exact.verify(&token)).unwrap();
        group.bench_function(format!("exact/{n}/verify"), |b| {
            b.iter(|| ready(exact.verify(black_box(&token))).unwrap())
        });
        group.bench_function(format!("exact/{n}/untrusted"), |b| {
            b.iter(|| ready(exact.verify(black_box(&untrusted))).unwrap_err())
        });

        // One template with n tenants sharing one key set; the token names the last tenant.
        let tenants: Vec<String> = (0..n).map(|i| format!("t-{i}")).collect();
        let templated = JwtAuth::from(Issuer::new(ISS).audience(AUD).jwks(set.clone()))
            .add_issuer(
                Issuer::tenants("https://login.example/{tenant}/v2.0", tenants).jwks(set.clone()),
            )
            .caches(Caches {
                verified_tokens: 0,
                ..Caches::default()
            });
        let token = signed(&key, &format!("https://login.example/t-{}/v2.0", n - 1));
        ready(templated.verify(&token)).unwrap();
        group.bench_function(format!("tenants/{n}/verify"), |b| {
            b.iter(|| ready(templated.verify(black_box(&token))).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
