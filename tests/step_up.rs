//! Step-up authentication (RFC 9470) over real HTTP and a real tonic client on 127.0.0.1: the
//! exact challenge, `acr` and `max_age` apart and together, an injected clock for `auth_time`,
//! per route and for a whole router, beside RFC 9728 metadata.

mod common;

use std::time::Duration;

use axum::routing::get;
use axum::Router;
use common::health::{self, ask, Probe};
use common::{get as call, serve, www_authenticate};
use tonic::transport::Server;
use tonic::Code;
use tonic_health::pb::health_server::HealthServer;
use tower_jwt_auth::testing::TestIssuer;
use tower_jwt_auth::{Claims, JwtAuth, ManualClock, RequireStepUp, ResourceMetadata};

const MFA: &str = "urn:eliq:acr:mfa";
const PWD: &str = "urn:eliq:acr:pwd";

fn payout_step_up() -> RequireStepUp {
    RequireStepUp::new()
        .acr([MFA, "urn:eliq:acr:passkey"])
        .max_age(Duration::from_secs(300))
}

#[tokio::test]
async fn the_challenge_is_rfc_9470s_and_names_what_would_pass() {
    let issuer = TestIssuer::start().await;
    let clock = ManualClock::starting_now();
    let now = clock_now(&clock);
    let auth = JwtAuth::new(issuer.url(), "insights-api").clock(clock.clone());
    let app = Router::new()
        .route("/usage", get(|| async { "usage" }))
        .route(
            "/payout-account",
            get(|c: Claims| async move { c.grant().acr().unwrap_or("").to_owned() })
                .layer(payout_step_up()),
        )
        .route(
            "/acr-only",
            get(|| async { "ok" }).layer(RequireStepUp::new().acr([MFA])),
        )
        .route(
            "/recent-only",
            get(|| async { "ok" }).layer(RequireStepUp::new().max_age(Duration::from_secs(60))),
        )
        .layer(auth);
    let served = serve(app).await;
    let url = |path: &str| format!("{}{path}", served.base);
    let token = |acr: &str, auth_time: u64| {
        issuer
            .token()
            .sub("customer-1042")
            .claim("acr", acr)
            .claim("auth_time", auth_time)
            .sign()
    };

    // A password session: fine for usage, not for the payout account.
    let password = token(PWD, now - 10);
    assert_eq!(call(&url("/usage"), Some(&password)).await.status(), 200);
    let res = call(&url("/payout-account"), Some(&password)).await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        www_authenticate(&res),
        r#"Bearer realm="insights-api", error="insufficient_user_authentication", error_description="a stronger or more recent authentication is required", acr_values="urn:eliq:acr:mfa urn:eliq:acr:passkey", max_age="300""#
    );
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "insufficient_user_authentication");

    // The second factor, just now: passes.
    let fresh = token(MFA, now - 10);
    let res = call(&url("/payout-account"), Some(&fresh)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), MFA);

    // The same acr, ten minutes on (the clock moves, not the test): too old.
    clock.advance(Duration::from_secs(600));
    let res = call(&url("/payout-account"), Some(&fresh)).await;
    assert_eq!(res.status(), 401);
    // The same challenge: the client learns both what and how recent.
    assert_eq!(
        www_authenticate(&res),
        r#"Bearer realm="insights-api", error="insufficient_user_authentication", error_description="a stronger or more recent authentication is required", acr_values="urn:eliq:acr:mfa urn:eliq:acr:passkey", max_age="300""#
    );

    // No auth_time under a max_age: refused the same way.
    let timeless = issuer.token().claim("acr", MFA).sign();
    let res = call(&url("/payout-account"), Some(&timeless)).await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        www_authenticate(&res),
        r#"Bearer realm="insights-api", error="insufficient_user_authentication", error_description="a stronger or more recent authentication is required", acr_values="urn:eliq:acr:mfa urn:eliq:acr:passkey", max_age="300""#
    );

    // Each attribute alone when the route asks for one thing.
    let now = clock_now(&clock);
    let res = call(&url("/acr-only"), Some(&token(PWD, now))).await;
    assert_eq!(res.status(), 401);
    let challenge = www_authenticate(&res);
    assert!(
        challenge.ends_with(r#", acr_values="urn:eliq:acr:mfa""#),
        "{challenge}"
    );
    assert!(!challenge.contains("max_age"), "{challenge}");
    let res = call(&url("/recent-only"), Some(&token(PWD, now - 120))).await;
    assert_eq!(res.status(), 401);
    let challenge = www_authenticate(&res);
    assert!(challenge.ends_with(r#", max_age="60""#), "{challenge}");
    assert!(!challenge.contains("acr_values"), "{challenge}");
    assert_eq!(
        call(&url("/recent-only"), Some(&token(PWD, now - 30)))
            .await
            .status(),
        200
    );
}

fn clock_now(clock: &ManualClock) -> u64 {
    use tower_jwt_auth::Clock;
    clock.now()
}

#[tokio::test]
async fn a_whole_router_can_need_it_and_the_metadata_url_stays_in_the_challenge() {
    let issuer = TestIssuer::start().await;
    let resource = "https://mcp.example.com/mcp";
    let auth =
        JwtAuth::new(issuer.url(), resource).resource_metadata(ResourceMetadata::new(resource));
    let app = Router::new()
        .route("/a", get(|| async { "a" }))
        .route("/b", get(|| async { "b" }))
        .layer(RequireStepUp::new().acr([MFA]))
        .layer(auth.clone())
        .route_service(auth.metadata_path(), auth.metadata_service());
    let served = serve(app).await;
    let weak = issuer.token().aud(resource).claim("acr", PWD).sign();
    let strong = issuer.token().aud(resource).claim("acr", MFA).sign();
    for path in ["/a", "/b"] {
        let url = format!("{}{path}", served.base);
        let res = call(&url, Some(&weak)).await;
        assert_eq!(res.status(), 401);
        let challenge = www_authenticate(&res);
        assert!(
            challenge.contains(r#"resource_metadata="#)
                && challenge.contains(r#"error="insufficient_user_authentication""#)
                && challenge.contains(r#"acr_values="urn:eliq:acr:mfa""#),
            "{challenge}"
        );
        assert_eq!(call(&url, Some(&strong)).await.status(), 200);
    }
    let doc = reqwest::get(format!("{}{}", served.base, auth.metadata_path()))
        .await
        .unwrap();
    assert_eq!(doc.status(), 200);
}

#[test]
fn an_unusable_acr_value_stops_the_service_naming_it() {
    let panicked = std::panic::catch_unwind(|| {
        Router::<()>::new()
            .route("/", get(|| async { "x" }))
            .layer(RequireStepUp::new().acr(["two words"]))
    });
    let message = *panicked.unwrap_err().downcast::<String>().unwrap();
    assert!(message.contains("RequireStepUp::acr"), "{message}");
}

#[tokio::test]
async fn over_grpc_it_is_unauthenticated_with_the_same_challenge() {
    let issuer = TestIssuer::start().await;
    let clock = ManualClock::starting_now();
    let now = clock_now(&clock);
    let router = Server::builder()
        .layer(JwtAuth::new(issuer.url(), "insights-api").clock(clock))
        .layer(payout_step_up())
        .add_service(HealthServer::new(Probe));
    let (mut client, task) = health::run(|incoming| router.serve_with_incoming(incoming)).await;
    let weak = issuer
        .token()
        .claim("acr", PWD)
        .claim("auth_time", now)
        .sign();
    let status = client.check(ask(&weak)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let challenge = status
        .metadata()
        .get("www-authenticate")
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(
        challenge,
        r#"Bearer realm="insights-api", error="insufficient_user_authentication", error_description="a stronger or more recent authentication is required", acr_values="urn:eliq:acr:mfa urn:eliq:acr:passkey", max_age="300""#
    );
    let strong = issuer
        .token()
        .claim("acr", MFA)
        .claim("auth_time", now)
        .sign();
    assert_eq!(
        client.check(ask(&strong)).await.unwrap().get_ref().status,
        1
    );
    task.abort();
}
