//! The verify hot path per algorithm, each row a ratio to the baseline in the same run:
//! `jsonwebtoken::decode` with a prebuilt key (baseline), aws-lc-rs verification with a key
//! parsed once (the floor), this crate with the cache off, this crate seeing a token for the
//! first time with the cache on (the default configuration), and this crate on a cache hit.

mod common;

use common::{baseline, floor_inputs, floor_key, jwks, ready, token, ALGS, AUD, ISS};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::time::{Duration, Instant};
use tower_jwt_auth::testing::SigningKey;
use tower_jwt_auth::{AccessClaims, JwtAuth};
use tower_jwt_auth::{Caches, Issuer, Revocations};

/// Distinct tokens for the first-sight row.
const FIRST_SIGHT_POOL: usize = 4096;

fn bench(c: &mut Criterion) {
    for alg in ALGS {
        let key = SigningKey::generate_with_kid(alg, "k1");
        let token = token(&key, "user-1042");
        let set = jwks(&[&key]);

        let (decoding, validation) = baseline(&key);

        let floor = floor_key(&key);
        let (input, sig) = floor_inputs(std::slice::from_ref(&token)).remove(0);

        let uncached =
            JwtAuth::from(Issuer::new(ISS).audience(AUD).jwks(set.clone())).caches(Caches {
                verified_tokens: 0,
                ..Caches::default()
            });
        let cached = JwtAuth::from(Issuer::new(ISS).audience(AUD).jwks(set.clone()));
        ready(cached.verify(&token)).unwrap();
        // First sight in the default configuration (cache on, 10,000 entries): every call a
        // token the cache has not seen, so each pays verification and insertion. A fresh layer
        // for each pass over the pool guarantees that (timing excludes building it).
        let fresh_pool: Vec<String> = (0..FIRST_SIGHT_POOL)
            .map(|i| common::token(&key, &format!("user-{i}")))
            .collect();

        let mut group = c.benchmark_group(format!("verify/{alg}"));
        group.bench_function("jsonwebtoken_decode", |b| {
            b.iter(|| {
                jsonwebtoken::decode::<AccessClaims>(black_box(&token), &decoding, &validation)
                    .unwrap()
            })
        });
        group.bench_function("aws_lc_floor", |b| {
            b.iter(|| {
                floor
                    .verify_sig(black_box(input.as_bytes()), black_box(&sig))
                    .unwrap()
            })
        });
        group.bench_function("ours_uncached", |b| {
            b.iter(|| ready(uncached.verify(black_box(&token))).unwrap())
        });
        // The same distinct tokens with the cache off, and through jsonwebtoken: what a new
        // token costs without any cache, so that first sight is compared like with like.
        let mut at = 0usize;
        group.bench_function("ours_uncached_distinct", |b| {
            b.iter(|| {
                at = (at + 1) % fresh_pool.len();
                ready(uncached.verify(black_box(&fresh_pool[at]))).unwrap()
            })
        });
        // The floor over the same distinct tokens: their signing inputs and signatures split
        // and decoded beforehand, as `aws_lc_floor` has them.
        let floor_pool = floor_inputs(&fresh_pool);
        let mut at = 0usize;
        group.bench_function("aws_lc_floor_distinct", |b| {
            b.iter(|| {
                at = (at + 1) % floor_pool.len();
                let (input, sig) = &floor_pool[at];
                floor
                    .verify_sig(black_box(input.as_bytes()), black_box(sig))
                    .unwrap()
            })
        });
        let mut at = 0usize;
        group.bench_function("jsonwebtoken_decode_distinct", |b| {
            b.iter(|| {
                at = (at + 1) % fresh_pool.len();
                jsonwebtoken::decode::<AccessClaims>(
                    black_box(&fresh_pool[at]),
                    &decoding,
                    &validation,
                )
                .unwrap()
            })
        });
        group.bench_function("ours_first_sight", |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut done = 0u64;
                while done < iters {
                    let layer = JwtAuth::from(Issuer::new(ISS).audience(AUD).jwks(set.clone()));
                    ready(layer.verify(&token)).unwrap();
                    let n = (iters - done).min(fresh_pool.len() as u64) as usize;
                    let start = Instant::now();
                    for t in &fresh_pool[..n] {
                        ready(layer.verify(black_box(t))).unwrap();
                    }
                    total += start.elapsed();
                    done += n as u64;
                }
                total
            })
        });
        group.bench_function("ours_cache_hit", |b| {
            b.iter(|| ready(cached.verify(black_box(&token))).unwrap())
        });
        // The same hit with a revocation list: empty, then holding 2,000 revocations of
        // other subjects and other tokens (the token's own lookups miss, as most do).
        let empty = JwtAuth::from(Issuer::new(ISS).audience(AUD).jwks(set.clone()))
            .revocations(Revocations::new());
        ready(empty.verify(&token)).unwrap();
        group.bench_function("ours_cache_hit_revocations_empty", |b| {
            b.iter(|| ready(empty.verify(black_box(&token))).unwrap())
        });
        let list = Revocations::new();
        for i in 0..1000 {
            ready(list.revoke_subject(ISS, &format!("other-{i}"), None)).unwrap();
            ready(list.revoke_jti(ISS, &format!("jti-{i}"), u64::MAX / 2)).unwrap();
        }
        let held =
            JwtAuth::from(Issuer::new(ISS).audience(AUD).jwks(set.clone())).revocations(list);
        ready(held.verify(&token)).unwrap();
        group.bench_function("ours_cache_hit_revocations_2000", |b| {
            b.iter(|| ready(held.verify(black_box(&token))).unwrap())
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
