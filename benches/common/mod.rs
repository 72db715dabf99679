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
