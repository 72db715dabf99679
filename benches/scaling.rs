//! How the per-request cost scales, each row a ratio to the first row of its group in the same
//! run: the number of keys in the issuer's set (1, 10, 100; RS256, cache off), the size of the
//! token (0.5, 2, 8 KiB; ES256, cache off), and the number of verdicts in the verified-token
//! cache (10⁴, 10⁵, and with `SCALING_MILLION=1` 10⁶; a hit on a token spread across them).
//!
//!   taskset -c 1 cargo bench --bench scaling

mod common;

use common::{jwks, ready, rs256_sized, sized_token, AUD, ISS};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use tower_jwt_auth::testing::SigningKey;
use tower_jwt_auth::{Algorithm, JwtAuth};
use tower_jwt_auth::{Caches, Issuer, TokenRules};

fn keys(c: &mut Criterion) {
    let mut group = c.benchmark_group("scaling/keys");
    for n in [1usize, 10, 100] {
        let keys: Vec<SigningKey> = (0..n)
            .map(|i| SigningKey::generate_with_kid(Algorithm::RS256, format!("k{i}")))
            .collect();
        // The token's key is the last one published.
        let signer = &keys[n - 1];
        let token = common::token(signer, "user-1042");
        let refs: Vec<&SigningKey> = keys.iter().collect();
        let auth = JwtAuth::from(Issuer::new(ISS).audience(AUD).jwks(jwks(&refs))).caches(Caches {
            verified_tokens: 0,
            ..Caches::default()
        });
        ready(auth.verify(&token)).unwrap();
        group.bench_function(format!("keys_{n}"), |b| {
            b.iter(|| ready(auth.verify(black_box(&token))).unwrap())
        });
    }
    group.finish();
}

fn sizes(c: &mut Criterion) {
    let mut group = c.benchmark_group("scaling/token_size");
    let key = SigningKey::generate_with_kid(Algorithm::ES256, "k1");
    let auth = JwtAuth::from(Issuer::new(ISS).audience(AUD).jwks(jwks(&[&key])))
        .token_rules(TokenRules {
            max_token_size: 16 * 1024,
            ..TokenRules::default()
        })
        .caches(Caches {
            verified_tokens: 0,
            ..Caches::default()
        });
    for (name, bytes) in [("0.5KiB", 512), ("2KiB", 2048), ("8KiB", 8192)] {
        let token = sized_token(&key, "user-1042", bytes);
        ready(auth.verify(&token)).unwrap();
        group.bench_function(name, |b| {
            b.iter(|| ready(auth.verify(black_box(&token))).unwrap())
        });
    }
    group.finish();
}

fn entries(c: &mut Criterion) {
    let mut group = c.benchmark_group("scaling/cache_entries");
    let key = SigningKey::generate_with_kid(Algorithm::EdDSA, "k1");
    let mut counts = vec![10_000usize, 100_000];
    if std::env::var_os("SCALING_MILLION").is_some() {
        counts.push(1_000_000);
    }
    for n in counts {
        let tokens: Vec<String> = (0..n).map(|i| rs256_sized(&key, i)).collect();
        let auth =
            JwtAuth::from(Issuer::new(ISS).audience(AUD).jwks(jwks(&[&key]))).caches(Caches {
                verified_tokens: n as u64,
                ..Caches::default()
            });
        for t in &tokens {
            ready(auth.verify(t)).unwrap();
        }
        // A stride through the cached tokens, so that each hit lands elsewhere in the table.
        let mut at = 0usize;
        group.bench_function(format!("hit_{n}"), |b| {
            b.iter(|| {
                at = (at + 7_919) % n;
                ready(auth.verify(black_box(&tokens[at]))).unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, keys, sizes, entries);
criterion_main!(benches);
