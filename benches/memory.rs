//! Memory per cached token, measured with a counting allocator: the live bytes the
//! verified-token cache holds after verifying N distinct tokens, divided by N.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use tower_jwt_auth::{Caches, Issuer};

use common::{jwks, ready, rs256_sized, token, AUD, ISS};
use tower_jwt_auth::testing::SigningKey;
use tower_jwt_auth::{Algorithm, JwtAuth};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator and only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Bytes per cached verdict with `n` RS256-sized tokens in the cache.
fn at_scale(n: usize) {
    let key = SigningKey::generate_with_kid(Algorithm::EdDSA, "k1");
    let tokens: Vec<String> = (0..n).map(|i| rs256_sized(&key, i)).collect();
    let empty = LIVE.load(Ordering::SeqCst);
    let auth = JwtAuth::from(Issuer::new(ISS).audience(AUD).jwks(jwks(&[&key]))).caches(Caches {
        verified_tokens: n as u64,
        ..Caches::default()
    });
    ready(auth.verify(&rs256_sized(&key, n))).unwrap();
    let before = LIVE.load(Ordering::SeqCst);
    for t in &tokens {
        ready(auth.verify(t)).unwrap();
    }
    let growth = LIVE.load(Ordering::SeqCst) - before;
    let whole = LIVE.load(Ordering::SeqCst) - empty;
    let token_len = tokens.iter().map(String::len).sum::<usize>() / n;
    println!(
        "{n} cached {token_len}-byte tokens: {} bytes per cached token ({} with the layer and its empty cache counted)",
        growth / n as isize,
        whole / n as isize
    );
}

/// Bytes per revocation in force, `n` of each kind.
fn revocations(n: usize) {
    let before = LIVE.load(Ordering::SeqCst);
    let list = tower_jwt_auth::Revocations::new();
    for i in 0..n {
        ready(list.revoke_subject(ISS, &format!("customer-{i:06}"), None)).unwrap();
    }
    let subjects = LIVE.load(Ordering::SeqCst) - before;
    let before = LIVE.load(Ordering::SeqCst);
    for i in 0..n {
        ready(list.revoke_jti(
            ISS,
            &format!("0b6c0e4a-0000-4000-8000-{i:012}"),
            u64::MAX / 2,
        ))
        .unwrap();
    }
    let jtis = LIVE.load(Ordering::SeqCst) - before;
    println!(
        "{n} revocations: {} bytes per subject revocation (15-byte sub), {} bytes per token revocation (36-byte jti)",
        subjects / n as isize,
        jtis / n as isize
    );
}

fn main() {
    revocations(100_000);
    let mut scales = vec![10_000, 100_000];
    if std::env::var_os("SCALING_MILLION").is_some() {
        scales.push(1_000_000);
    }
    for n in scales {
        at_scale(n);
    }
    const N: usize = 2_000;
    for alg in [Algorithm::RS256, Algorithm::ES256] {
        let key = SigningKey::generate_with_kid(alg, "k1");
        let tokens: Vec<String> = (0..N)
            .map(|i| token(&key, &format!("user-{i:06}")))
            .collect();
        let auth = JwtAuth::from(Issuer::new(ISS).audience(AUD).jwks(jwks(&[&key])));
        let uncached =
            JwtAuth::from(Issuer::new(ISS).audience(AUD).jwks(jwks(&[&key]))).caches(Caches {
                verified_tokens: 0,
                ..Caches::default()
            });
        // Warm both, so one-off allocations are not counted.
        ready(auth.verify(&token(&key, "warm"))).unwrap();
        ready(uncached.verify(&token(&key, "warm"))).unwrap();

        let before = LIVE.load(Ordering::SeqCst);
        for t in &tokens {
            ready(uncached.verify(t)).unwrap();
        }
        let uncached_growth = LIVE.load(Ordering::SeqCst) - before;

        let before = LIVE.load(Ordering::SeqCst);
        for t in &tokens {
            ready(auth.verify(t)).unwrap();
        }
        let growth = LIVE.load(Ordering::SeqCst) - before;
        let token_len = tokens.iter().map(String::len).sum::<usize>() / N;
        println!(
            "{alg}: {} bytes per cached token ({} tokens, {token_len}-byte tokens; without the cache the same run keeps {} bytes per token)",
            growth / N as isize,
            N,
            uncached_growth / N as isize,
        );
    }
}
