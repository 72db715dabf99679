//! DPoP (RFC 9449) over real HTTP on loopback: a bound token with its proof passes; each rule of
//! §4.3 broken alone is refused with `invalid_dpop_proof`; bound tokens are never bearer
//! tokens; `required()`; server nonces; the proof is checked on every request, cache hit or not.

mod common;

use std::time::Duration;

use axum::routing::get;
use axum::Router;
use common::challenges;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tower_jwt_auth::testing::{DpopKey, TestIssuer};
use tower_jwt_auth::{Algorithm, Claims, Dpop, JwtAuth, ManualClock, ResourceMetadata};

/// A service behind `auth` on its own loopback port, and the `/usage` URL clients call.
struct Api {
    base: String,
    usage: String,
    _task: tokio::task::JoinHandle<()>,
}

async fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    (listener, base)
}

fn serve(listener: TcpListener, auth: JwtAuth) -> Api {
    let base = format!("http://{}", listener.local_addr().unwrap());
    let usage = format!("{base}/usage");
    let app = Router::new()
        .route(
            "/usage",
            get(|c: Claims| async move { c.sub.clone() })
                .post(|c: Claims| async move { c.sub.clone() }),
        )
        .layer(auth);
    let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Api {
        base,
        usage,
        _task: task,
    }
}

/// The service behind `auth(base)`, where `base` is the URL of the loopback port it gets.
async fn start(auth: impl FnOnce(&str) -> JwtAuth) -> Api {
    let (listener, base) = listener().await;
    serve(listener, auth(&base))
}

async fn send(url: &str, authorization: Option<String>, proofs: &[&str]) -> reqwest::Response {
    let mut req = reqwest::Client::new().get(url);
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    for p in proofs {
        req = req.header("dpop", *p);
    }
    req.send().await.unwrap()
}

fn dpop_error(res: &reqwest::Response) -> String {
    let all = challenges(res);
    let dpop = all
        .iter()
        .find(|c| c.starts_with("DPoP "))
        .unwrap_or_else(|| panic!("no DPoP challenge in {all:?}"));
    let start = dpop.find("error=\"").map(|i| i + 7).unwrap_or(0);
    let end = dpop[start..].find('"').map_or(start, |e| start + e);
    dpop[start..end].to_owned()
}

#[tokio::test]
async fn a_bound_token_with_its_proof_passes_and_the_proof_is_used_once() {
    let issuer = TestIssuer::start().await;
    let api = start(|base| JwtAuth::new(issuer.url(), "insights-api").dpop(Dpop::new(base))).await;
    for alg in [
        Algorithm::ES256,
        Algorithm::RS256,
        Algorithm::EdDSA,
        Algorithm::PS256,
    ] {
        let key = DpopKey::generate(alg);
        let token = issuer.token().sub("u-1").dpop_bound(&key).sign();
        let proof = key.proof("GET", &api.usage).access_token(&token).sign();
        let res = send(&api.usage, Some(format!("DPoP {token}")), &[&proof]).await;
        assert_eq!(res.status(), 200, "{alg}: {:?}", challenges(&res));
        assert_eq!(res.text().await.unwrap(), "u-1");

        // The same proof again: a replay.
        let res = send(&api.usage, Some(format!("DPoP {token}")), &[&proof]).await;
        assert_eq!(res.status(), 401);
        assert_eq!(dpop_error(&res), "invalid_dpop_proof");
        // The DPoP challenge, with the error and the algorithms, comes first; Bearer stays
        // offered, without the error.
        let all = challenges(&res);
        assert!(all[0].starts_with(r#"DPoP algs="RS256 RS384"#), "{all:?}");
        assert!(all[0].contains(r#"error="invalid_dpop_proof""#), "{all:?}");
        assert_eq!(all[1], r#"Bearer realm="insights-api""#, "{all:?}");
        assert_eq!(res.headers()["www-authenticate"], all[0].as_str());

        // A fresh proof for the same token: the token is a cache hit, the proof is checked.
        let again = key.proof("GET", &api.usage).access_token(&token).sign();
        let res = send(&api.usage, Some(format!("DPoP {token}")), &[&again]).await;
        assert_eq!(res.status(), 200);
        let res = send(&api.usage, Some(format!("DPoP {token}")), &[]).await;
        assert_eq!(res.status(), 401, "a cache hit without a proof");
        assert_eq!(dpop_error(&res), "invalid_dpop_proof");
    }
}

#[tokio::test]
async fn each_proof_rule_broken_alone_is_refused() {
    let issuer = TestIssuer::start().await;
    let api = start(|base| JwtAuth::new(issuer.url(), "insights-api").dpop(Dpop::new(base))).await;
    let key = DpopKey::generate(Algorithm::ES256);
    let other = DpopKey::generate(Algorithm::ES256);
    let token = issuer.token().dpop_bound(&key).sign();
    let proof = || key.proof("GET", &api.usage).access_token(&token);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let private = {
        let mut jwk = key.public_jwk();
        jwk["d"] = json!("AAAA");
        jwk
    };
    let cases: Vec<(&str, String)> = vec![
        ("typ JWT", proof().header("typ", "JWT").sign()),
        ("no typ", proof().without("typ").sign()),
        ("alg none", proof().header("alg", "none").sign()),
        ("alg HS256", proof().header("alg", "HS256").sign()),
        (
            "alg of another key type",
            proof().header("alg", "RS256").sign(),
        ),
        ("private jwk", proof().header("jwk", private).sign()),
        ("no jwk", proof().without("jwk").sign()),
        ("crit", proof().header("crit", json!(["exp"])).sign()),
        (
            "jwk of another key",
            proof().header("jwk", other.public_jwk()).sign(),
        ),
        ("signed by another key, bound key unchanged", {
            other.proof("GET", &api.usage).access_token(&token).sign()
        }),
        (
            "htm POST",
            key.proof("POST", &api.usage).access_token(&token).sign(),
        ),
        (
            "htu another path",
            key.proof("GET", &format!("{}/other", api.base))
                .access_token(&token)
                .sign(),
        ),
        (
            "htu another host",
            key.proof("GET", "http://127.0.0.2:1/usage")
                .access_token(&token)
                .sign(),
        ),
        ("iat 2 min old", proof().iat(now - 120).sign()),
        ("iat 2 min ahead", proof().iat(now + 120).sign()),
        ("iat a string", proof().claim("iat", "now").sign()),
        ("no jti", proof().without("jti").sign()),
        ("no ath", key.proof("GET", &api.usage).sign()),
        (
            "ath of another token",
            key.proof("GET", &api.usage).access_token("x.y.z").sign(),
        ),
        ("no htu", proof().without("htu").sign()),
        (
            "kid instead of jwk",
            proof()
                .without("jwk")
                .header("kid", key.thumbprint())
                .sign(),
        ),
        (
            "jku instead of jwk",
            proof()
                .without("jwk")
                .header("jku", format!("{}/jwks", api.base))
                .sign(),
        ),
        (
            "x5c instead of jwk",
            proof().without("jwk").header("x5c", json!(["MIIB"])).sign(),
        ),
        (
            "x5c beside jwk",
            proof().header("x5c", json!(["MIIB"])).sign(),
        ),
        (
            "jku beside jwk",
            proof().header("jku", api.base.clone()).sign(),
        ),
        (
            "jti over 256 bytes",
            proof().claim("jti", "j".repeat(257)).sign(),
        ),
        (
            "proof over the size cap",
            proof().claim("pad", "p".repeat(9 * 1024)).sign(),
        ),
        ("RSA proof key over 8,192 bits", {
            // A modulus of 8,200 bits: refused when the key is read, before any signature
            // work (the signature here is the ES256 key's, never looked at).
            let mut n = vec![0xc5u8; 1025];
            n[0] = 0xff;
            let jwk = json!({"kty": "RSA", "n": b64url(&n), "e": "AQAB"});
            proof().header("alg", "RS256").header("jwk", jwk).sign()
        }),
        (
            "htu with user information",
            key.proof("GET", &api.usage.replace("http://", "http://user@"))
                .access_token(&token)
                .sign(),
        ),
        (
            "htu with a trailing slash",
            key.proof("GET", &format!("{}/", api.usage))
                .access_token(&token)
                .sign(),
        ),
        (
            "htu of another scheme",
            key.proof("GET", &api.usage.replace("http://", "https://"))
                .access_token(&token)
                .sign(),
        ),
        (
            "htu with an encoded slash",
            key.proof("GET", &format!("{}%2F", api.usage))
                .access_token(&token)
                .sign(),
        ),
        ("not a JWS", "a.b".to_owned()),
        ("garbage", "!!".to_owned()),
    ];
    for (case, p) in cases {
        let res = send(&api.usage, Some(format!("DPoP {token}")), &[&p]).await;
        assert_eq!(res.status(), 401, "{case}");
        assert_eq!(dpop_error(&res), "invalid_dpop_proof", "{case}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "invalid_dpop_proof", "{case}");
    }
    // Two proof headers; none.
    let (a, b) = (proof().sign(), proof().sign());
    let res = send(&api.usage, Some(format!("DPoP {token}")), &[&a, &b]).await;
    assert_eq!(dpop_error(&res), "invalid_dpop_proof");
    // The query and fragment are not part of htu; the same proof is still good once.
    let fine = key
        .proof("GET", &format!("{}?from=2026-01-01#x", api.usage))
        .access_token(&token)
        .sign();
    let res = send(
        &format!("{}?from=2026-01-01", api.usage),
        Some(format!("DPoP {token}")),
        &[&fine],
    )
    .await;
    assert_eq!(res.status(), 200, "{:?}", challenges(&res));
    // RFC 3986 §6 normalization: the scheme and host in any case, dot segments, percent-
    // encoded unreserved characters in any case: the same target, each once.
    let port = api.base.rsplit(':').next().unwrap();
    for htu in [
        format!("HTTP://127.0.0.1:{port}/usage"),
        format!("http://127.0.0.1:{port}/a/../usage"),
        format!("http://127.0.0.1:{port}/./usage"),
        format!("http://127.0.0.1:{port}/%75sage"),
        format!("http://127.0.0.1:{port}/us%61ge"),
        format!("http://127.0.0.1:{port}/usag%65?x#y"),
    ] {
        let p = key.proof("GET", &htu).access_token(&token).sign();
        let res = send(&api.usage, Some(format!("DPoP {token}")), &[&p]).await;
        assert_eq!(res.status(), 200, "{htu}: {:?}", challenges(&res));
    }
}

/// Unpadded base64url.
fn b64url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
async fn htu_names_the_default_port_either_way() {
    let issuer = TestIssuer::start().await;
    // The public URL has no port (80); the proof may name it or not.
    let (listener, _) = listener().await;
    let api = serve(
        listener,
        JwtAuth::new(issuer.url(), "insights-api").dpop(Dpop::new("http://localhost")),
    );
    let key = DpopKey::generate(Algorithm::ES256);
    let token = issuer.token().dpop_bound(&key).sign();
    for (htu, status) in [
        ("http://localhost/usage", 200),
        ("http://LocalHost:80/usage", 200),
        ("http://localhost:8080/usage", 401),
    ] {
        let p = key.proof("GET", htu).access_token(&token).sign();
        let res = send(&api.usage, Some(format!("DPoP {token}")), &[&p]).await;
        assert_eq!(res.status(), status, "{htu}: {:?}", challenges(&res));
    }
}

#[tokio::test]
async fn a_dpop_proof_is_never_an_access_token() {
    let issuer = TestIssuer::start().await;
    let api = start(|base| JwtAuth::new(issuer.url(), "insights-api").dpop(Dpop::new(base))).await;
    let key = DpopKey::generate(Algorithm::ES256);
    let token = issuer.token().dpop_bound(&key).sign();
    let proof = key.proof("GET", &api.usage).access_token(&token).sign();
    for authorization in [format!("Bearer {proof}"), format!("DPoP {proof}")] {
        let res = send(&api.usage, Some(authorization.clone()), &[&proof]).await;
        assert_eq!(res.status(), 401, "{authorization}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "invalid_token", "{authorization}");
    }
}

#[tokio::test]
async fn bound_tokens_are_no_bearer_tokens_and_bearer_tokens_no_dpop_tokens() {
    let issuer = TestIssuer::start().await;
    let api = start(|base| JwtAuth::new(issuer.url(), "insights-api").dpop(Dpop::new(base))).await;
    let key = DpopKey::generate(Algorithm::ES256);
    let bound = issuer.token().dpop_bound(&key).sign();
    let res = send(&api.usage, Some(format!("Bearer {bound}")), &[]).await;
    assert_eq!(res.status(), 401);
    let all = challenges(&res);
    assert!(
        all[0].starts_with("Bearer ") && all[0].contains(r#"error="invalid_token""#),
        "{all:?}"
    );
    assert!(
        all[1].starts_with("DPoP algs=") && !all[1].contains("error="),
        "{all:?}"
    );

    let plain = issuer.token().sign();
    assert_eq!(
        send(&api.usage, Some(format!("Bearer {plain}")), &[])
            .await
            .status(),
        200
    );
    let proof = key.proof("GET", &api.usage).access_token(&plain).sign();
    let res = send(&api.usage, Some(format!("DPoP {plain}")), &[&proof]).await;
    assert_eq!(res.status(), 401);
    assert_eq!(dpop_error(&res), "invalid_token");
    // Another client's proof for a token bound to this key.
    let thief = DpopKey::generate(Algorithm::ES256);
    let stolen = thief.proof("GET", &api.usage).access_token(&bound).sign();
    let res = send(&api.usage, Some(format!("DPoP {bound}")), &[&stolen]).await;
    assert_eq!(dpop_error(&res), "invalid_dpop_proof");

    // Without DPoP configured, the DPoP scheme is another scheme: 401 with no error.
    let (second, _) = self::listener().await;
    let plain_api = serve(second, JwtAuth::new(issuer.url(), "insights-api"));
    let res = send(&plain_api.usage, Some(format!("DPoP {bound}")), &[]).await;
    assert_eq!(res.status(), 401);
    assert_eq!(challenges(&res), [r#"Bearer realm="insights-api""#]);
}

#[tokio::test]
async fn required_refuses_every_bearer_token_with_a_dpop_challenge() {
    let issuer = TestIssuer::start().await;
    let api = start(|base| {
        JwtAuth::new(issuer.url(), "insights-api")
            .dpop(Dpop::new(base).required().algorithms([Algorithm::ES256]))
    })
    .await;
    let res = send(
        &api.usage,
        Some(format!("Bearer {}", issuer.token().sign())),
        &[],
    )
    .await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        challenges(&res),
        [
            r#"DPoP algs="ES256", error="invalid_token", error_description="a DPoP-bound token and its proof are required""#
        ]
    );
    let res = send(&api.usage, None, &[]).await;
    assert_eq!(challenges(&res), [r#"DPoP algs="ES256""#]);
    let key = DpopKey::generate(Algorithm::ES256);
    let token = issuer.token().dpop_bound(&key).sign();
    let proof = key.proof("GET", &api.usage).access_token(&token).sign();
    assert_eq!(
        send(&api.usage, Some(format!("DPoP {token}")), &[&proof])
            .await
            .status(),
        200
    );
    // An algorithm outside the allow-list.
    let rsa = DpopKey::generate(Algorithm::RS256);
    let token = issuer.token().dpop_bound(&rsa).sign();
    let proof = rsa.proof("GET", &api.usage).access_token(&token).sign();
    let res = send(&api.usage, Some(format!("DPoP {token}")), &[&proof]).await;
    assert_eq!(dpop_error(&res), "invalid_dpop_proof");
}

#[tokio::test]
async fn server_nonces_are_demanded_accepted_and_rotated() {
    let clock = ManualClock::starting_now();
    let issuer = TestIssuer::builder().clock(clock.clone()).start().await;
    let api = start(|base| {
        JwtAuth::new(issuer.url(), "insights-api")
            .clock(clock.clone())
            .dpop(
                Dpop::new(base)
                    .nonces([42u8; 32])
                    .nonce_lifetime(Duration::from_secs(60)),
            )
    })
    .await;
    let key = DpopKey::generate(Algorithm::ES256);
    let token = issuer
        .token()
        .dpop_bound(&key)
        .expires_in(Duration::from_secs(3600))
        .sign();
    let call = |nonce: Option<String>| {
        let mut p = key
            .proof("GET", &api.usage)
            .access_token(&token)
            .iat(clock_now(&clock));
        if let Some(n) = &nonce {
            p = p.nonce(n);
        }
        let proof = p.sign();
        let url = api.usage.clone();
        let token = token.clone();
        async move { send(&url, Some(format!("DPoP {token}")), &[&proof]).await }
    };
    let res = call(None).await;
    assert_eq!(res.status(), 401);
    assert_eq!(dpop_error(&res), "use_dpop_nonce");
    let nonce = res.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    let res = call(Some(nonce.clone())).await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers().get("dpop-nonce").is_none(),
        "the nonce is current"
    );
    // The next step: still accepted, and the answer hands out the next nonce.
    clock.advance(Duration::from_secs(60));
    let res = call(Some(nonce.clone())).await;
    assert_eq!(res.status(), 200);
    let next = res.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    assert_ne!(next, nonce);
    // Two steps on: refused, with a fresh nonce.
    clock.advance(Duration::from_secs(60));
    let res = call(Some(nonce)).await;
    assert_eq!(dpop_error(&res), "use_dpop_nonce");
    assert!(res.headers().contains_key("dpop-nonce"));
    assert_eq!(call(Some(next)).await.status(), 200);
    // A forged nonce (the right shape, no valid MAC) is not ours.
    let res = call(Some("AAAAAAAAAAEAAAAAAAAAAAAAAAAAAAAA".into())).await;
    assert_eq!(dpop_error(&res), "use_dpop_nonce");
}

fn clock_now(clock: &ManualClock) -> u64 {
    use tower_jwt_auth::Clock;
    clock.now()
}

#[tokio::test]
async fn the_metadata_document_announces_dpop_and_certificate_binding() {
    let issuer = TestIssuer::start().await;
    let (listener, base) = listener().await;
    let resource = format!("{base}/usage");
    let auth = JwtAuth::new(issuer.url(), &resource)
        .dpop(
            Dpop::new(&base)
                .required()
                .algorithms([Algorithm::ES256, Algorithm::EdDSA]),
        )
        .certificate_bound_tokens()
        .resource_metadata(ResourceMetadata::new(&resource));
    let app = Router::new()
        .route("/usage", get(|| async { "ok" }))
        .layer(auth.clone())
        .route_service(auth.metadata_path(), auth.metadata_service());
    let _task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let doc: Value = reqwest::get(format!("{base}{}", auth.metadata_path()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["dpop_signing_alg_values_supported"],
        json!(["ES256", "EdDSA"])
    );
    assert_eq!(doc["dpop_bound_access_tokens_required"], json!(true));
    assert_eq!(
        doc["tls_client_certificate_bound_access_tokens"],
        json!(true)
    );
    let res = send(&resource, None, &[]).await;
    let all = challenges(&res);
    assert_eq!(all.len(), 1);
    assert!(
        all[0].starts_with(r#"DPoP algs="ES256 EdDSA", resource_metadata=""#),
        "{all:?}"
    );
}

#[tokio::test]
async fn unusable_dpop_settings_are_startup_errors_naming_dpop() {
    for (dpop, reason) in [
        (Dpop::new("http://api.example.com"), "https"),
        (Dpop::new("https://api.example.com/?x=1"), "query"),
        (
            Dpop::new("https://api.example.com").nonces([1u8; 16]),
            "32 bytes",
        ),
        (
            Dpop::new("https://api.example.com").iat_window(Duration::ZERO),
            "iat_window",
        ),
        (
            Dpop::new("https://api.example.com").algorithms([]),
            "algorithm",
        ),
    ] {
        let err = JwtAuth::new("https://auth.example.com", "insights-api")
            .dpop(dpop)
            .validate()
            .map_err(Clone::clone)
            .unwrap_err();
        assert_eq!(err.field(), "dpop");
        assert!(err.to_string().contains(reason), "{err}");
    }
}

#[tokio::test]
async fn grpc_calls_with_dpop_through_a_real_tonic_client() {
    use tonic::transport::server::TcpIncoming;
    use tonic::transport::{Channel, Server};
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::HealthCheckRequest;

    let issuer = TestIssuer::start().await;
    let (listener, base) = listener().await;
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let router = Server::builder()
        .layer(JwtAuth::new(issuer.url(), "insights-api").dpop(Dpop::new(&base)))
        .add_service(health);
    let _server = tokio::spawn(router.serve_with_incoming(TcpIncoming::from(listener)));
    let channel = Channel::from_shared(base.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let key = DpopKey::generate(Algorithm::ES256);
    let token = issuer.token().dpop_bound(&key).sign();
    let htu = format!("{base}/grpc.health.v1.Health/Check");
    let request = |proof: Option<String>| {
        let mut req = tonic::Request::new(HealthCheckRequest {
            service: String::new(),
        });
        let md = req.metadata_mut();
        md.insert("authorization", format!("DPoP {token}").parse().unwrap());
        if let Some(p) = proof {
            md.insert("dpop", p.parse().unwrap());
        }
        req
    };
    let mut client = HealthClient::new(channel);
    let proof = key.proof("POST", &htu).access_token(&token).sign();
    let ok = client.check(request(Some(proof.clone()))).await.unwrap();
    assert_eq!(ok.into_inner().status, 1);

    for refused in [request(Some(proof)), request(None)] {
        let status = client.check(refused).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
        let challenge = status
            .metadata()
            .get_all("www-authenticate")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect::<Vec<_>>();
        assert!(
            challenge
                .iter()
                .any(|c| c.starts_with("DPoP ") && c.contains(r#"error="invalid_dpop_proof""#)),
            "{challenge:?}"
        );
    }
}

#[tokio::test]
async fn instances_sharing_a_nonce_secret_agree_without_sharing_state() {
    const PUBLIC: &str = "https://api.example.com";
    let issuer = TestIssuer::start().await;
    let (a, b, other) = (
        nonce_instance(&issuer, PUBLIC, 1).await,
        nonce_instance(&issuer, PUBLIC, 1).await,
        nonce_instance(&issuer, PUBLIC, 2).await,
    );
    let key = DpopKey::generate(Algorithm::ES256);
    let token = issuer.token().dpop_bound(&key).sign();
    let call = |api: &Api, nonce: Option<&str>| {
        let mut p = key
            .proof("GET", &format!("{PUBLIC}/usage"))
            .access_token(&token);
        if let Some(n) = nonce {
            p = p.nonce(n);
        }
        let proof = p.sign();
        let (url, token) = (api.usage.clone(), token.clone());
        async move { send(&url, Some(format!("DPoP {token}")), &[&proof]).await }
    };
    let res = call(&a, None).await;
    assert_eq!(dpop_error(&res), "use_dpop_nonce");
    let nonce = res.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    // The nonce instance a handed out is good at instance b, which never saw it …
    assert_eq!(call(&b, Some(&nonce)).await.status(), 200);
    assert_eq!(call(&a, Some(&nonce)).await.status(), 200);
    // … and not at an instance with another secret (another deployment).
    let res = call(&other, Some(&nonce)).await;
    assert_eq!(dpop_error(&res), "use_dpop_nonce");
}

/// A service instance behind the public URL `public`, with nonces keyed by `[secret; 32]`.
async fn nonce_instance(issuer: &TestIssuer, public: &str, secret: u8) -> Api {
    let (listener, _) = listener().await;
    serve(
        listener,
        JwtAuth::new(issuer.url(), "insights-api").dpop(Dpop::new(public).nonces([secret; 32])),
    )
}
