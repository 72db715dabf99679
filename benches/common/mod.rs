//! Shared by the benchmarks: keys, tokens, and polling a future that completes at once.
#![allow(dead_code)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use serde_json::{json, Value};
use tower_jwt_auth::testing::SigningKey;
use tower_jwt_auth::Algorithm;

pub const ISS: &str = "https://auth-api.eliq.com";
pub const AUD: &str = "insights-api";

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The claims of a delegated token as the seeds describe it.
pub fn claims(sub: &str) -> Value {
    let now = now();
    json!({
        "iss": ISS, "aud": AUD, "sub": sub, "sub_type": "user",
        "client_id": "utility-acme-frontend", "scope": "insights.read insights.write",
        "iat": now, "exp": now + 3600, "jti": format!("jti-{sub}"),
    })
}

pub fn token(key: &SigningKey, sub: &str) -> String {
    key.sign_json(
        &json!({"alg": key.alg().as_str(), "kid": key.kid(), "typ": "at+jwt"}),
        &claims(sub),
    )
}

pub fn jwks(keys: &[&SigningKey]) -> String {
    json!({ "keys": keys.iter().map(|k| k.public_jwk()).collect::<Vec<_>>() }).to_string()
}

pub const ALGS: [Algorithm; 4] = [
    Algorithm::RS256,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::EdDSA,
];

/// Polls once: the verify path with keys at hand never waits.
pub fn ready<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the benchmarked path waited"),
    }
}

/// A token of `key` whose payload is padded (with a claim the verifier skips) so that the
/// whole token is about `bytes` long.
pub fn sized_token(key: &SigningKey, sub: &str, bytes: usize) -> String {
    let header = json!({"alg": key.alg().as_str(), "kid": key.kid(), "typ": "at+jwt"});
    let bare = key.sign_json(&header, &claims(sub));
    let mut body = claims(sub);
    // base64url turns 3 bytes into 4.
    let pad = bytes.saturating_sub(bare.len() + 12) * 3 / 4;
    body["pad"] = json!("x".repeat(pad));
    key.sign_json(&header, &body)
}

/// RS256-sized tokens (about 702 bytes) signed with Ed25519, so that a million distinct ones
/// can be minted and verified in about a minute.
pub fn rs256_sized(key: &SigningKey, i: usize) -> String {
    sized_token(key, &format!("user-{i:07}"), 702)
}
