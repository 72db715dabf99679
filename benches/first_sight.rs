//! First sight of a token, measured in interleaved rounds: what a token the layer has never
//! seen costs in the default configuration (verified-token cache on), beside what the same
//! tokens cost through `jsonwebtoken::decode` (baseline), through aws-lc-rs with the key parsed
//! once (the floor), and through this crate with the cache off.
//!
//! The criterion rows in `benches/verify.rs` run one after another, so the machine's drift
//! between rows (a shared, noisy host) lands in their ratios. Here every round runs all four
//! on the same 256 distinct tokens, in an order that rotates from round to round, with the
//! tokens read into the CPU's caches before each timing; each round gives its own ratios, and
//! the table shows their median and quartiles. A new layer is built (outside the timing) for
//! each pass over the 4,096-token pool, so the cached layer never sees a token twice: it pays
//! verification and insertion, and its cache grows as a fresh server's does ("growing").
//!
//! A server that has run a while has a full cache instead: each new token evicts one seen
//! long ago, and its memory is reused rather than freshly mapped. The fifth variant ("full")
//! measures that: a layer whose cache (default capacity, 10,000) is first filled with 10,000
//! other tokens of the same size, signed by a second key of the same set.
//!
//!   taskset -c 1 cargo bench --bench first_sight          # ROUNDS=… to change the default 160

mod common;

use common::{
    baseline, floor_inputs, floor_key, jwks, quartiles, ratio_cell, ready, sized_token, token,
    ALGS, AUD, ISS,
};
use std::hint::black_box;
use std::time::Instant;
use tower_jwt_auth::testing::SigningKey;
use tower_jwt_auth::{AccessClaims, Algorithm, JwtAuth};
use tower_jwt_auth::{Caches, Issuer};

const POOL: usize = 4096;
const ROUND: usize = 256;
/// The verified-token cache's default capacity.
const CAPACITY: usize = 10_000;
const VARIANTS: usize = 5;

/// Reads every byte, so that each variant starts with the round's tokens in the CPU's caches.
fn touch(tokens: &[String]) -> u64 {
    tokens
        .iter()
        .flat_map(|t| t.bytes())
        .fold(0u64, |acc, b| acc.wrapping_add(u64::from(b)))
}

fn main() {
    // `cargo bench` passes `--bench`; a filter, if any, picks algorithms by name.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(160);
    println!(
        "First sight, interleaved: {rounds} rounds of {ROUND} distinct tokens per algorithm; \
         ratio per round, median [quartiles]"
    );
    println!(
        "| alg | decode | floor | ours, cache off | first sight, growing | first sight, full | growing / decode | growing / floor | full / decode | full / floor | cache off / decode |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    // Ed25519 signs fast: the tokens that fill the "full" layer's cache.
    let filler = SigningKey::generate_with_kid(Algorithm::EdDSA, "filler");
    for alg in ALGS {
        if !filter.is_empty() && !filter.iter().any(|f| alg.as_str().contains(f.as_str())) {
            continue;
        }
        let key = SigningKey::generate_with_kid(alg, "k1");
        let set = jwks(&[&key, &filler]);
        let (decoding, validation) = baseline(&key);
        let floor = floor_key(&key);
        let pool: Vec<String> = (0..POOL)
            .map(|i| token(&key, &format!("user-{i}")))
            .collect();
        let split = floor_inputs(&pool);
        // Keys are parsed on a layer's first verification: a token outside the pool does it.
        let primer = token(&key, "primer");
        let uncached =
            JwtAuth::from(Issuer::new(ISS).audience(AUD).jwks(set.clone())).caches(Caches {
                verified_tokens: 0,
                ..Caches::default()
            });
        ready(uncached.verify(&primer)).unwrap();
        let mut cached = JwtAuth::from(Issuer::new(ISS).audience(AUD).jwks(set.clone()));
        // As long as the pool's tokens, so that an evicted entry's memory fits a new one.
        let fillers: Vec<String> = (0..CAPACITY)
            .map(|i| sized_token(&filler, &format!("filler-{i}"), pool[i % POOL].len()))
            .collect();
        let mut full = JwtAuth::from(Issuer::new(ISS).audience(AUD).jwks(set.clone()));

        // ns per token: decode, floor, cache off, first sight growing, first sight full.
        let mut times: [Vec<f64>; VARIANTS] = Default::default();
        let mut sink = 0u64;
        for round in 0..rounds {
            let start = round * ROUND % POOL;
            if start == 0 {
                cached = JwtAuth::from(Issuer::new(ISS).audience(AUD).jwks(set.clone()));
                ready(cached.verify(&primer)).unwrap();
                drop(std::mem::replace(
                    &mut full,
                    JwtAuth::from(Issuer::new(ISS).audience(AUD).jwks(set.clone())),
                ));
                for t in &fillers {
                    ready(full.verify(t)).unwrap();
                }
            }
            let tokens = &pool[start..start + ROUND];
            let pairs = &split[start..start + ROUND];
            for step in 0..VARIANTS {
                let variant = (round + step) % VARIANTS;
                sink = sink.wrapping_add(touch(tokens));
                let began = Instant::now();
                match variant {
                    0 => {
                        for t in tokens {
                            jsonwebtoken::decode::<AccessClaims>(
                                black_box(t),
                                &decoding,
                                &validation,
                            )
                            .unwrap();
                        }
                    }
                    1 => {
                        for (input, sig) in pairs {
                            floor
                                .verify_sig(black_box(input.as_bytes()), black_box(sig))
                                .unwrap();
                        }
                    }
                    2 => {
                        for t in tokens {
                            ready(uncached.verify(black_box(t))).unwrap();
                        }
                    }
                    3 => {
                        for t in tokens {
                            ready(cached.verify(black_box(t))).unwrap();
                        }
                    }
                    _ => {
                        for t in tokens {
                            ready(full.verify(black_box(t))).unwrap();
                        }
                    }
                }
                times[variant].push(began.elapsed().as_nanos() as f64 / ROUND as f64);
            }
        }
        black_box(sink);
        let ratio = |num: usize, den: usize| ratio_cell(&times[num], &times[den]);
        let us = |v: usize| quartiles(times[v].clone()).1 / 1000.0;
        println!(
            "| {} | {:.2} µs | {:.2} µs | {:.2} µs | {:.2} µs | {:.2} µs | {} | {} | {} | {} | {} |",
            alg.as_str(),
            us(0),
            us(1),
            us(2),
            us(3),
            us(4),
            ratio(3, 0),
            ratio(3, 1),
            ratio(4, 0),
            ratio(4, 1),
            ratio(2, 0),
        );
    }
}
