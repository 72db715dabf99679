//! Shared by the benchmarks: keys, tokens, and polling a future that completes at once.
#![allow(dead_code)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
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

/// The baseline: `jsonwebtoken::decode`'s prebuilt key and validation for `key`'s tokens.
pub fn baseline(key: &SigningKey) -> (jsonwebtoken::DecodingKey, jsonwebtoken::Validation) {
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(key.public_jwk()).unwrap();
    let alg = match key.alg() {
        Algorithm::RS256 => jsonwebtoken::Algorithm::RS256,
        Algorithm::PS256 => jsonwebtoken::Algorithm::PS256,
        Algorithm::ES256 => jsonwebtoken::Algorithm::ES256,
        _ => jsonwebtoken::Algorithm::EdDSA,
    };
    let mut validation = jsonwebtoken::Validation::new(alg);
    validation.set_audience(&[AUD]);
    validation.set_issuer(&[ISS]);
    (
        jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap(),
        validation,
    )
}

/// The floor: `key` parsed once into an aws-lc-rs public key, as a verifier that knew its
/// key in advance would hold it.
pub fn floor_key(key: &SigningKey) -> aws_lc_rs::signature::ParsedPublicKey {
    use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents};
    let jwk = key.public_jwk();
    let field = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap();
    match key.alg() {
        Algorithm::RS256 | Algorithm::PS256 => {
            let params = if key.alg() == Algorithm::RS256 {
                &signature::RSA_PKCS1_2048_8192_SHA256
            } else {
                &signature::RSA_PSS_2048_8192_SHA256
            };
            let (n, e) = (field("n"), field("e"));
            RsaPublicKeyComponents {
                n: &n[..],
                e: &e[..],
            }
            .to_parsed_public_key(params)
            .unwrap()
        }
        Algorithm::ES256 => {
            let mut point = vec![4];
            point.extend(field("x"));
            point.extend(field("y"));
            ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).unwrap()
        }
        _ => ParsedPublicKey::new(&signature::ED25519, field("x")).unwrap(),
    }
}

/// What the floor verifies: each token's signing input, and its signature decoded beforehand.
pub fn floor_inputs(tokens: &[String]) -> Vec<(&str, Vec<u8>)> {
    tokens
        .iter()
        .map(|t| {
            let (input, sig) = t.rsplit_once('.').unwrap();
            (input, URL_SAFE_NO_PAD.decode(sig).unwrap())
        })
        .collect()
}

/// The lower quartile, median and upper quartile of `values`.
pub fn quartiles(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    (at(0.25), at(0.5), at(0.75))
}

/// Per-round ratios of two variants' times, as quartiles: `median× [low–high]`.
pub fn ratio_cell(num: &[f64], den: &[f64]) -> String {
    let (low, mid, high) = quartiles(num.iter().zip(den).map(|(n, d)| n / d).collect());
    format!("{mid:.3}× [{low:.3}–{high:.3}]")
}

/// One `GET /usage` with `bearer` through `router`, in memory, on `rt`; asserts a 200.
pub fn get_usage(rt: &tokio::runtime::Runtime, router: &axum::Router, bearer: &http::HeaderValue) {
    use tower::ServiceExt;
    let req = http::Request::builder()
        .uri("/usage")
        .header(http::header::AUTHORIZATION, bearer.clone())
        .body(axum::body::Body::empty())
        .unwrap();
    let res = rt.block_on(router.clone().oneshot(req)).unwrap();
    assert_eq!(res.status(), 200);
}
