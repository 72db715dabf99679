//! Revocation over real HTTP on 127.0.0.1: in one process (cached verdicts included), across
//! three instances sharing a real `redis-server`, and through a Shared Signals receiver fed by
//! the test kit's transmitter.

mod common;

use std::time::{Duration, Instant};

use axum::routing::{get, post};
use axum::{Json, Router};
use common::{get as call, serve, Redis, Served};
use serde_json::{json, Value};
use tower_jwt_auth::testing::{SigningKey, TestIssuer};
use tower_jwt_auth::{
    Algorithm, AuthErrorKind, Introspection, JwtAuth, ManualClock, Revocations, WhenStale,
};

const RECEIVER: &str = "https://insights.eliq.com/ssf";
const ACCOUNT_DISABLED: &str =
    "https://schemas.openid.net/secevent/risc/event-type/account-disabled";
const SESSION_REVOKED: &str = "https://schemas.openid.net/secevent/caep/event-type/session-revoked";

#[tokio::test]
async fn a_revoked_token_is_refused_at_once_though_its_verdict_is_cached() {
    let issuer = TestIssuer::start().await;
    let clock = ManualClock::starting_now();
    let revocations = Revocations::new().clock(clock.clone());
    let auth = JwtAuth::new(issuer.url(), "insights-api")
        .clock(clock.clone())
        .revocations(revocations.clone());
    let alice = issuer.token().sub("customer-1").sign();
    let bob = issuer.token().sub("customer-2").sign();
    // Verified and cached.
    auth.verify(&alice).await.unwrap();
    auth.verify(&bob).await.unwrap();

    // One token, by its jti.
    revocations.revoke_token(&alice).await.unwrap();
    let err = auth.verify(&alice).await.unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::Revoked);
    assert_eq!(err.to_string(), "the token has been revoked");
    auth.verify(&bob).await.unwrap();

    // A token without jti: by the token itself.
    let no_jti = issuer.token().sub("customer-3").without("jti").sign();
    auth.verify(&no_jti).await.unwrap();
    revocations.revoke_token(&no_jti).await.unwrap();
    assert_eq!(
        auth.verify(&no_jti).await.unwrap_err().kind(),
        AuthErrorKind::Revoked
    );

    // A subject: tokens issued before now; a token issued after passes.
    revocations
        .revoke_subject(issuer.url(), "customer-2", None)
        .await
        .unwrap();
    assert_eq!(
        auth.verify(&bob).await.unwrap_err().kind(),
        AuthErrorKind::Revoked
    );
    clock.advance(Duration::from_secs(5));
    let bob_later = issuer
        .token()
        .sub("customer-2")
        .claim("iat", tower_jwt_auth::Clock::now(&clock))
        .sign();
    auth.verify(&bob_later).await.unwrap();

    // A client whose credentials leaked.
    let app_token = issuer
        .token()
        .client_id("leaky-app")
        .sub("leaky-app")
        .sign();
    auth.verify(&app_token).await.unwrap();
    revocations
        .revoke_client(issuer.url(), "leaky-app", None)
        .await
        .unwrap();
    assert_eq!(
        auth.verify(&app_token).await.unwrap_err().kind(),
        AuthErrorKind::Revoked
    );

    // Entries go once nothing they revoke can still be valid: the tokens' hour, the
    // subject's and client's day.
    assert_eq!(revocations.len(), 4);
    clock.advance(Duration::from_secs(2 * 3600));
    revocations
        .revoke_jti(
            issuer.url(),
            "unrelated",
            tower_jwt_auth::Clock::now(&clock) + 60,
        )
        .await
        .unwrap();
    assert_eq!(
        revocations.len(),
        3,
        "the two token entries expired with their tokens"
    );
    clock.advance(Duration::from_secs(25 * 3600));
    revocations
        .revoke_jti(
            issuer.url(),
            "another",
            tower_jwt_auth::Clock::now(&clock) + 60,
        )
        .await
        .unwrap();
    assert_eq!(revocations.len(), 1);
}

#[tokio::test]
async fn over_http_a_revoked_opaque_token_is_refused_despite_the_introspection_cache() {
    let issuer = TestIssuer::start().await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let answer = json!({"active": true, "sub": "customer-1", "client_id": "app", "exp": now + 600,
                        "iat": now - 5, "iss": issuer.url()});
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let endpoint = {
        let calls = calls.clone();
        serve(Router::new().route(
            "/introspect",
            post(move || {
                calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let answer = answer.clone();
                async move { Json(answer) }
            }),
        ))
        .await
    };
    let revocations = Revocations::new();
    let auth = JwtAuth::new(issuer.url(), "insights-api")
        .introspection(Introspection::new(
            format!("{}/introspect", endpoint.base),
            "rs",
            "s",
        ))
        .revocations(revocations.clone());
    let app = Router::new()
        .route("/usage", get(|| async { "usage" }))
        .layer(auth);
    let served = serve(app).await;
    let url = format!("{}/usage", served.base);
    assert_eq!(call(&url, Some("opaque-1")).await.status(), 200);
    assert_eq!(call(&url, Some("opaque-1")).await.status(), 200);
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1, "cached");
    revocations
        .revoke_subject(issuer.url(), "customer-1", None)
        .await
        .unwrap();
    let res = call(&url, Some("opaque-1")).await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        common::www_authenticate(&res),
        r#"Bearer realm="insights-api", error="invalid_token", error_description="the token has been revoked""#
    );
}

/// One instance of the API with its own connection to the fleet's list.
async fn instance(issuer: &TestIssuer, redis: &str, prefix: &str) -> (Served, Revocations) {
    let revocations = Revocations::redis(redis, prefix)
        .await
        .unwrap()
        .when_stale(Duration::from_millis(500), WhenStale::FailClosed);
    let auth = JwtAuth::new(issuer.url(), "insights-api").revocations(revocations.clone());
    let app = Router::new()
        .route("/usage", get(|| async { "usage" }))
        .layer(auth.clone())
        .route_service("/ssf", auth.security_event_receiver(RECEIVER));
    (serve(app).await, revocations)
}

/// Polls `url` with `token` until it answers `status`, within `deadline`; returns the time
/// it took (measured, never slept for).
async fn until_status(url: &str, token: &str, status: u16, deadline: Duration) -> Duration {
    let started = Instant::now();
    loop {
        if call(url, Some(token)).await.status() == status {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < deadline,
            "{url} did not answer {status} within {deadline:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn three_instances_on_one_redis_refuse_within_a_second_and_survive_its_outage() {
    let issuer = TestIssuer::start().await;
    let mut redis = Redis::start().await;
    let prefix = "insights";
    let mut fleet = Vec::new();
    for _ in 0..3 {
        fleet.push(instance(&issuer, &redis.url, prefix).await);
    }
    let alice = issuer.token().sub("customer-1").sign();
    let bob = issuer.token().sub("customer-2").sign();
    let usage = |(served, _): &(Served, Revocations)| format!("{}/usage", served.base);
    for member in &fleet {
        until_status(&usage(member), &alice, 200, Duration::from_secs(5)).await;
    }

    // A SET pushed to one instance: every instance refuses alice within a second.
    let res = issuer
        .security_event(ACCOUNT_DISABLED)
        .subject(issuer.url(), "customer-1")
        .audience(RECEIVER)
        .push(&format!("{}/ssf", fleet[0].0.base), None)
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    for (i, member) in fleet.iter().enumerate() {
        let took = until_status(&usage(member), &alice, 401, Duration::from_secs(1)).await;
        assert!(took < Duration::from_secs(1), "{took:?}");
        eprintln!(
            "instance {}: refused {took:?} after the push was answered",
            i + 1
        );
        assert_eq!(call(&usage(member), Some(&bob)).await.status(), 200);
    }

    // Redis stops: past the 500 ms bound, the instances fail closed (503), as configured.
    redis.stop().await;
    for member in &fleet {
        until_status(&usage(member), &bob, 503, Duration::from_secs(5)).await;
    }
    // A revocation written while they were cut off (by another system, with the documented
    // layout, once Redis is back) is applied when they reconnect; and they serve again.
    let mut redis = Redis::start_on(redis.port).await;
    let client = redis_client(&redis.url).await;
    let mut conn = client;
    let member =
        json!({"kind": "subject", "iss": issuer.url(), "sub": "customer-2", "before": now() + 1})
            .to_string();
    let _: () = redis_cmd(
        &mut conn,
        &[
            "ZADD",
            &format!("{prefix}:revocations"),
            &(now() + 3600).to_string(),
            &member,
        ],
    )
    .await;
    for member in &fleet {
        // On reconnecting (or, had one reconnected first, at its next reconciliation).
        until_status(&usage(member), &bob, 401, Duration::from_secs(15)).await;
    }
    let carol = issuer.token().sub("customer-3").sign();
    for member in &fleet {
        until_status(&usage(member), &carol, 200, Duration::from_secs(5)).await;
    }
    // A revocation made through one instance's handle reaches the others.
    fleet[2].1.revoke_token(&carol).await.unwrap();
    for member in &fleet {
        until_status(&usage(member), &carol, 401, Duration::from_secs(1)).await;
    }
    redis.stop().await;
}

#[tokio::test]
async fn serving_on_the_last_known_list_is_the_default_when_redis_is_gone() {
    let issuer = TestIssuer::start().await;
    let mut redis = Redis::start().await;
    let revocations = Revocations::redis(&redis.url, "default").await.unwrap();
    let auth = JwtAuth::new(issuer.url(), "insights-api").revocations(revocations.clone());
    let alice = issuer.token().sub("customer-1").sign();
    let bob = issuer.token().sub("customer-2").sign();
    revocations
        .revoke_subject(issuer.url(), "customer-1", None)
        .await
        .unwrap();
    redis.stop().await;
    // Whatever the staleness, the known revocation holds and others pass.
    assert_eq!(
        auth.verify(&alice).await.unwrap_err().kind(),
        AuthErrorKind::Revoked
    );
    auth.verify(&bob).await.unwrap();
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A plain RESP connection (no client library needed by the test): one command at a time.
async fn redis_client(url: &str) -> tokio::net::TcpStream {
    let addr = url.trim_start_matches("redis://");
    tokio::net::TcpStream::connect(addr).await.unwrap()
}

async fn redis_cmd(conn: &mut tokio::net::TcpStream, args: &[&str]) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut cmd = format!("*{}\r\n", args.len());
    for a in args {
        cmd.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    conn.write_all(cmd.as_bytes()).await.unwrap();
    let mut reply = [0u8; 64];
    let n = conn.read(&mut reply).await.unwrap();
    assert!(
        reply[..n].starts_with(b":"),
        "{}",
        String::from_utf8_lossy(&reply[..n])
    );
}

async fn receiver_app(issuer: &TestIssuer, revocations: Revocations) -> Served {
    let auth = JwtAuth::new(issuer.url(), "insights-api").revocations(revocations);
    serve(
        Router::new()
            .route("/usage", get(|| async { "usage" }))
            .layer(auth.clone())
            .route_service(
                "/ssf",
                auth.security_event_receiver(RECEIVER)
                    .transmitter_token("transmitter-secret"),
            ),
    )
    .await
}

async fn push(url: &str, set: String, bearer: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/secevent+jwt")
        .body(set);
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_receiver_answers_each_bad_set_with_rfc_8935s_code() {
    let issuer = TestIssuer::start().await;
    let revocations = Revocations::new();
    let served = receiver_app(&issuer, revocations.clone()).await;
    let url = format!("{}/ssf", served.base);
    let secret = Some("transmitter-secret");
    let event = || {
        issuer
            .security_event(SESSION_REVOKED)
            .subject(issuer.url(), "customer-1")
            .audience(RECEIVER)
    };

    // The control: a good SET is accepted and revokes.
    let good = event().claim("jti", "set-1").sign();
    assert_eq!(push(&url, good.clone(), secret).await.0, 202);
    assert_eq!(revocations.len(), 1);
    // Replayed jti.
    let (status, body) = push(&url, good, secret).await;
    assert_eq!(
        (status, body["err"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    // Without the transmitter's token.
    let (status, body) = push(&url, event().sign(), None).await;
    assert_eq!(
        (status, body["err"].as_str()),
        (401, Some("authentication_failed"))
    );
    // Signed by a key the issuer never published.
    let stranger = SigningKey::generate(Algorithm::ES256);
    let forged = stranger.sign_json(
        &json!({"alg": "ES256", "kid": stranger.kid(), "typ": "secevent+jwt"}),
        &json!({"iss": issuer.url(), "aud": RECEIVER, "iat": now(), "jti": "forged-1",
                "events": {SESSION_REVOKED: {}},
                "sub_id": {"format": "iss_sub", "iss": issuer.url(), "sub": "customer-9"}}),
    );
    let (status, body) = push(&url, forged, secret).await;
    assert_eq!(
        (status, body["err"].as_str()),
        (400, Some("invalid_key")),
        "{body}"
    );
    // Another audience.
    let other = event().audience("https://billing.eliq.com/ssf").sign();
    let (status, body) = push(&url, other, secret).await;
    assert_eq!(
        (status, body["err"].as_str()),
        (400, Some("invalid_audience"))
    );
    // A stale iat.
    let stale = event().claim("iat", now() - 3600).sign();
    let (status, body) = push(&url, stale, secret).await;
    assert_eq!(
        (status, body["err"].as_str()),
        (400, Some("invalid_request"))
    );
    // An untrusted issuer.
    let elsewhere = event().claim("iss", "https://evil.example").sign();
    let (status, body) = push(&url, elsewhere, secret).await;
    assert_eq!(
        (status, body["err"].as_str()),
        (400, Some("invalid_issuer"))
    );
    // An access token posted as a SET.
    let access = issuer.token().sign();
    let (status, body) = push(&url, access, secret).await;
    assert_eq!(
        (status, body["err"].as_str()),
        (400, Some("invalid_request"))
    );
    // An ID token posted as a SET.
    let id_token = issuer
        .token()
        .header("typ", "JWT")
        .claim("nonce", "n-1")
        .claim("aud", RECEIVER)
        .sign();
    let (status, body) = push(&url, id_token, secret).await;
    assert_eq!(
        (status, body["err"].as_str()),
        (400, Some("invalid_request"))
    );
    // Unknown events are acknowledged and ignored.
    let unknown = issuer
        .security_event("https://schemas.openid.net/secevent/ssf/event-type/verification")
        .audience(RECEIVER)
        .sign();
    assert_eq!(push(&url, unknown, secret).await.0, 202);
    assert_eq!(revocations.len(), 1);
}

#[tokio::test]
async fn every_ssf_subject_format_revokes_its_subject() {
    let issuer = TestIssuer::start().await;
    let revocations = Revocations::new();
    let served = receiver_app(&issuer, revocations.clone()).await;
    let url = format!("{}/ssf", served.base);
    let usage = format!("{}/usage", served.base);
    let cases = [
        json!({"format": "iss_sub", "iss": issuer.url(), "sub": "u-iss-sub"}),
        json!({"format": "email", "email": "u-email@eliq.com"}),
        json!({"format": "opaque", "id": "u-opaque"}),
        json!({"format": "complex", "user": {"format": "opaque", "id": "u-complex"},
               "session": {"format": "opaque", "id": "s-1"}, "tenant": {"format": "opaque", "id": "t-1"}}),
    ];
    let subs = ["u-iss-sub", "u-email@eliq.com", "u-opaque", "u-complex"];
    for (sub_id, sub) in cases.into_iter().zip(subs) {
        let token = issuer.token().sub(sub).sign();
        assert_eq!(call(&usage, Some(&token)).await.status(), 200);
        let set = issuer
            .security_event(ACCOUNT_DISABLED)
            .subject_id(sub_id)
            .audience(RECEIVER)
            .sign();
        assert_eq!(push(&url, set, Some("transmitter-secret")).await.0, 202);
        assert_eq!(call(&usage, Some(&token)).await.status(), 401, "{sub}");
    }
}

#[tokio::test]
async fn a_revoked_dpop_bound_token_is_refused_with_a_valid_proof() {
    use tower_jwt_auth::testing::DpopKey;
    use tower_jwt_auth::Dpop;
    let issuer = TestIssuer::start().await;
    let revocations = Revocations::new();
    // The public URL is the served base, known once listening: build the app inside.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let auth = JwtAuth::new(issuer.url(), "insights-api")
        .dpop(Dpop::new(&base))
        .revocations(revocations.clone());
    let app = Router::new()
        .route("/usage", get(|| async { "usage" }))
        .layer(auth);
    let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let url = format!("{base}/usage");
    let key = DpopKey::generate(Algorithm::ES256);
    let token = issuer.token().sub("customer-1").dpop_bound(&key).sign();
    let send = |proof: String| {
        reqwest::Client::new()
            .get(&url)
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", proof)
            .send()
    };
    let res = send(key.proof("GET", &url).access_token(&token).sign())
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    revocations
        .revoke_subject(issuer.url(), "customer-1", None)
        .await
        .unwrap();
    let res = send(key.proof("GET", &url).access_token(&token).sign())
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let challenge = common::challenges(&res).join(" | ");
    assert!(
        challenge.contains("the token has been revoked"),
        "{challenge}"
    );
    task.abort();
}
