//! The FAPI 2.0 resource-server profile, and DPoP under load from one client, over real HTTP
//! on 127.0.0.1.

mod common;

use axum::routing::get;
use axum::Router;
use common::challenges;
use rcgen::{CertificateParams, KeyPair};
use serde_json::Value;
use tower_jwt_auth::testing::{DpopKey, TestIssuer};
use tower_jwt_auth::{
    replay::MemoryReplayStore, Algorithm, Claims, ClientCertificate, Dpop, JwtAuth,
};

struct Api {
    usage: String,
    _task: tokio::task::JoinHandle<()>,
}

/// `/usage` behind `auth(base)`; a request may carry a client certificate as the extension a
/// TLS acceptor would insert (the header `x-test-cert` holds its DER in hex).
async fn start(auth: impl FnOnce(&str) -> JwtAuth) -> Api {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/usage", get(|c: Claims| async move { c.sub.clone() }))
        .layer(auth(&base))
        .layer(axum::middleware::from_fn(
            |mut req: axum::extract::Request, next: axum::middleware::Next| async move {
                if let Some(hex) = req.headers().get("x-test-cert") {
                    let der = decode_hex(hex.to_str().unwrap());
                    req.extensions_mut()
                        .insert(ClientCertificate::from_der(&der));
                }
                next.run(req).await
            },
        ));
    let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Api {
        usage: format!("{base}/usage"),
        _task: task,
    }
}

fn decode_hex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

async fn send(url: &str, headers: &[(&str, String)]) -> reqwest::Response {
    let mut req = reqwest::Client::new().get(url);
    for (name, value) in headers {
        req = req.header(*name, value);
    }
    req.send().await.unwrap()
}

async fn error_of(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or_default();
    (
        status,
        body["error_description"].as_str().unwrap_or("").to_owned(),
    )
}

#[tokio::test]
async fn fapi2_accepts_only_sender_constrained_tokens_of_its_algorithms() {
    let issuer = TestIssuer::builder()
        .algorithms([Algorithm::ES256, Algorithm::PS256, Algorithm::RS256])
        .start()
        .await;
    let api = start(|base| {
        JwtAuth::new(issuer.url(), "insights-api")
            .fapi2()
            .dpop(Dpop::new(base))
            .certificate_bound_tokens()
    })
    .await;
    // Strict RFC 9068: `at+jwt`, client_id, iat and jti (the test kit's tokens have them).
    let strict = |alg: Algorithm| {
        issuer
            .token()
            .alg(alg)
            .client_id("partner-app")
            .claim("jti", format!("j-{alg}-{}", rand_suffix()))
    };

    // A DPoP-bound token with its proof: accepted, for each FAPI algorithm.
    for alg in [Algorithm::ES256, Algorithm::PS256] {
        let key = DpopKey::generate(alg);
        let token = strict(alg).dpop_bound(&key).sign();
        let proof = key.proof("GET", &api.usage).access_token(&token).sign();
        let res = send(
            &api.usage,
            &[("authorization", format!("DPoP {token}")), ("dpop", proof)],
        )
        .await;
        assert_eq!(res.status(), 200, "{alg}: {:?}", challenges(&res));
    }
    // A certificate-bound token with its certificate: accepted.
    let cert = CertificateParams::new(vec!["partner.example".to_owned()])
        .unwrap()
        .self_signed(&KeyPair::generate().unwrap())
        .unwrap();
    let der = cert.der().to_vec();
    let hex: String = der.iter().map(|b| format!("{b:02x}")).collect();
    let token = strict(Algorithm::ES256).certificate_bound(&der).sign();
    let res = send(
        &api.usage,
        &[
            ("authorization", format!("Bearer {token}")),
            ("x-test-cert", hex.clone()),
        ],
    )
    .await;
    assert_eq!(res.status(), 200, "{:?}", challenges(&res));

    // The control of each: the same token unbound is refused, a bearer token is not enough.
    let plain = strict(Algorithm::ES256).sign();
    let (status, description) =
        error_of(send(&api.usage, &[("authorization", format!("Bearer {plain}"))]).await).await;
    assert_eq!(
        (status, description.as_str()),
        (401, "a sender-constrained token is required")
    );
    // RS256 is not a FAPI algorithm, bound or not.
    let key = DpopKey::generate(Algorithm::ES256);
    let rs256 = strict(Algorithm::RS256).dpop_bound(&key).sign();
    let proof = key.proof("GET", &api.usage).access_token(&rs256).sign();
    let (status, description) = error_of(
        send(
            &api.usage,
            &[("authorization", format!("DPoP {rs256}")), ("dpop", proof)],
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, description.as_str()),
        (401, "the token's signing algorithm is not accepted")
    );
    // Nor is an RS256 proof.
    let rsa_key = DpopKey::generate(Algorithm::RS256);
    let token = strict(Algorithm::ES256).dpop_bound(&rsa_key).sign();
    let proof = rsa_key.proof("GET", &api.usage).access_token(&token).sign();
    let res = send(
        &api.usage,
        &[("authorization", format!("DPoP {token}")), ("dpop", proof)],
    )
    .await;
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["error"], "invalid_dpop_proof",
        "an RS256 proof: {body}"
    );
    // Strict RFC 9068: `typ: JWT` is refused even when bound.
    let key = DpopKey::generate(Algorithm::ES256);
    let jwt_typ = strict(Algorithm::ES256)
        .header("typ", "JWT")
        .dpop_bound(&key)
        .sign();
    let proof = key.proof("GET", &api.usage).access_token(&jwt_typ).sign();
    let res = send(
        &api.usage,
        &[
            ("authorization", format!("DPoP {jwt_typ}")),
            ("dpop", proof),
        ],
    )
    .await;
    let (status, description) = error_of(res).await;
    assert_eq!(
        (status, description.as_str()),
        (401, "the token type is not an access token")
    );
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

#[tokio::test]
async fn one_client_flooding_dpop_proofs_locks_out_only_itself() {
    let issuer = TestIssuer::start().await;
    // A small store, so that a flood could fill it: room for 8 proofs, 5 per key.
    let api = start(|base| {
        JwtAuth::new(issuer.url(), "insights-api").dpop(
            Dpop::new(base)
                .replay_store(MemoryReplayStore::with_capacity(8))
                .proofs_per_key(5),
        )
    })
    .await;
    let flooder = DpopKey::generate(Algorithm::ES256);
    let flood_token = issuer.token().sub("flooder").dpop_bound(&flooder).sign();
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..20 {
        let proof = flooder
            .proof("GET", &api.usage)
            .access_token(&flood_token)
            .sign();
        let res = send(
            &api.usage,
            &[
                ("authorization", format!("DPoP {flood_token}")),
                ("dpop", proof),
            ],
        )
        .await;
        statuses.push(res.status().as_u16());
        if res.status() == 429 {
            retry_after = res.headers().get("retry-after").cloned();
        }
    }
    assert_eq!(statuses[..5], [200; 5], "{statuses:?}");
    assert_eq!(statuses[5..], [429; 15], "{statuses:?}");
    let retry_after: u64 = retry_after.unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=120).contains(&retry_after), "{retry_after}");

    // Everyone else is still served.
    for n in 0..3 {
        let key = DpopKey::generate(Algorithm::ES256);
        let token = issuer
            .token()
            .sub(&format!("client-{n}"))
            .dpop_bound(&key)
            .sign();
        let proof = key.proof("GET", &api.usage).access_token(&token).sign();
        let res = send(
            &api.usage,
            &[("authorization", format!("DPoP {token}")), ("dpop", proof)],
        )
        .await;
        assert_eq!(res.status(), 200, "client {n}: {:?}", challenges(&res));
    }
}
