//! Several issuers behind one layer, over real HTTP on 127.0.0.1: environments and a legacy
//! issuer with settings of its own, tenant templates sharing one JWKS, and a resolver; each
//! token verified only with the keys of the issuer its `iss` names.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::{Json, Router};
use common::{get as call, serve, www_authenticate};
use serde_json::{json, Value};
use tower_jwt_auth::testing::{Failure, TestIssuer};
use tower_jwt_auth::{Algorithm, AuthErrorKind, Claims, Issuer, JwtAuth};

const AUD: &str = "insights-api";

async fn whoami(claims: Claims) -> Json<Value> {
    Json(json!({
        "iss": claims.grant().issuer(),
        "tenant": claims.grant().tenant(),
        "sub": claims.sub,
    }))
}

fn app(auth: JwtAuth) -> Router {
    Router::new().route("/whoami", get(whoami)).layer(auth)
}

#[tokio::test]
async fn each_issuer_is_accepted_with_its_own_settings() {
    let production = TestIssuer::start().await;
    let uat = TestIssuer::start().await;
    let legacy = TestIssuer::builder().audience("insights").start().await;
    let auth = JwtAuth::new(production.url(), AUD)
        .add_issuer(uat.url())
        .add_issuer(
            Issuer::new(legacy.url())
                .audience("insights")
                .jwks_uri(legacy.jwks_uri())
                .algorithms([Algorithm::RS256]),
        );
    let served = serve(app(auth)).await;
    let url = format!("{}/whoami", served.base);
    for (issuer, sub) in [(&production, "p"), (&uat, "u"), (&legacy, "l")] {
        let res = call(&url, Some(&issuer.token().sub(sub).sign())).await;
        assert_eq!(res.status(), 200, "{}", issuer.url());
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["iss"], issuer.url());
        assert_eq!(body["sub"], sub);
    }
    // The legacy issuer's own audience and algorithms, and no discovery for it.
    let wrong_aud = legacy.token().aud(AUD).sign();
    assert_eq!(call(&url, Some(&wrong_aud)).await.status(), 401);
    let es = legacy.token().alg(Algorithm::ES256).sign();
    let res = call(&url, Some(&es)).await;
    assert!(www_authenticate(&res).contains("signing algorithm is not accepted"));
    assert_eq!(legacy.discovery_requests(), 0);
    // The others keep the layer's audience.
    let other_aud = uat.token().aud("insights").sign();
    assert_eq!(call(&url, Some(&other_aud)).await.status(), 401);
}

#[tokio::test]
async fn a_token_naming_one_issuer_signed_with_anothers_key_is_refused() {
    let a = TestIssuer::start().await;
    let b = TestIssuer::start().await;
    let auth = JwtAuth::new(a.url(), AUD).add_issuer(b.url());
    auth.ready().await.unwrap();
    let a_key = a.key(Algorithm::RS256);
    let claims_b = serde_json::to_value(b.token().claims()).unwrap();
    // The same kid as one of B's keys, and A's own kid: both refused.
    for kid in [
        b.key(Algorithm::RS256).kid().to_owned(),
        a_key.kid().to_owned(),
    ] {
        let forged = a_key.sign_json(&json!({"alg": "RS256", "kid": kid}), &claims_b);
        let err = auth.verify(&forged).await.unwrap_err();
        assert!(
            matches!(
                err.kind(),
                AuthErrorKind::InvalidSignature | AuthErrorKind::UnknownKey
            ),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn an_untrusted_issuer_costs_no_fetch() {
    let a = TestIssuer::start().await;
    let b = TestIssuer::start().await;
    let stranger = TestIssuer::start().await;
    let served = serve(app(JwtAuth::new(a.url(), AUD).add_issuer(b.url()))).await;
    let url = format!("{}/whoami", served.base);
    let res = call(&url, Some(&stranger.token().sign())).await;
    assert_eq!(res.status(), 401);
    assert!(www_authenticate(&res).contains("the token issuer is not accepted"));
    for issuer in [&a, &b, &stranger] {
        assert_eq!(
            (issuer.discovery_requests(), issuer.jwks_requests()),
            (0, 0)
        );
    }
}

#[tokio::test]
async fn tenants_share_one_jwks_fetch_and_each_discovery_is_checked() {
    let entra = TestIssuer::builder()
        .tenants(["tenant-a", "tenant-b", "tenant-c"])
        .start()
        .await;
    let auth = JwtAuth::new("https://auth-api.eliq.com", AUD).add_issuer(Issuer::tenants(
        entra.tenant_template(),
        ["tenant-a", "tenant-b"],
    ));
    let served = serve(app(auth.clone())).await;
    let url = format!("{}/whoami", served.base);
    for tenant in ["tenant-a", "tenant-b"] {
        let res = call(&url, Some(&entra.tenant_token(tenant).sign())).await;
        assert_eq!(res.status(), 200, "{tenant}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["tenant"], tenant);
        assert_eq!(body["iss"], entra.tenant_url(tenant));
    }
    // Two discoveries (one per tenant), one shared JWKS fetch.
    assert_eq!((entra.discovery_requests(), entra.jwks_requests()), (2, 1));
    assert_eq!(
        auth.key_set_of(&entra.tenant_url("tenant-a")),
        auth.key_set_of(&entra.tenant_url("tenant-b"))
    );
    // A tenant off the allow-list, and a tid that names another tenant, are refused.
    let off_list = entra.tenant_token("tenant-c").sign();
    assert_eq!(call(&url, Some(&off_list)).await.status(), 401);
    let mixed = entra
        .tenant_token("tenant-a")
        .claim("tid", "tenant-b")
        .sign();
    assert_eq!(call(&url, Some(&mixed)).await.status(), 401);
    assert_eq!(entra.discovery_requests(), 2);
}

#[tokio::test]
async fn one_issuers_outage_never_delays_another() {
    let clock = tower_jwt_auth::ManualClock::starting_now();
    let healthy = TestIssuer::builder().clock(clock.clone()).start().await;
    let down = TestIssuer::builder().clock(clock.clone()).start().await;
    let auth = JwtAuth::new(healthy.url(), AUD)
        .add_issuer(down.url())
        .clock(clock.clone());
    auth.ready().await.unwrap();
    down.fail(Failure::Hang);
    // The hanging issuer rotates: its tokens wait (about a second) for a refetch that hangs…
    down.add_key(Algorithm::ES256);
    let stuck = {
        let auth = auth.clone();
        let token = down.token().alg(Algorithm::ES256).sign();
        tokio::spawn(async move { auth.verify(&token).await.unwrap_err().kind() })
    };
    // …while the healthy issuer's tokens, old key or new, pass at once.
    let fresh = healthy.add_key(Algorithm::EdDSA);
    for token in [
        healthy.token().sign(),
        healthy.token().alg(Algorithm::EdDSA).sign(),
    ] {
        let started = Instant::now();
        auth.verify(&token)
            .await
            .unwrap_or_else(|e| panic!("{e:?} {}", fresh.kid()));
        assert!(started.elapsed() < Duration::from_millis(500));
    }
    assert_eq!(stuck.await.unwrap(), AuthErrorKind::UnknownKey);
}

#[tokio::test]
async fn a_resolver_is_asked_once_per_issuer_and_a_flood_stays_bounded() {
    let tenant = TestIssuer::start().await;
    let asked = Arc::new(AtomicUsize::new(0));
    let trusted = tenant.url().to_owned();
    let counter = Arc::clone(&asked);
    let auth = JwtAuth::new("https://auth-api.eliq.com", AUD).issuer_resolver(move |iss: &str| {
        counter.fetch_add(1, Ordering::SeqCst);
        (iss == trusted).then(|| Issuer::new(iss))
    });
    let served = serve(app(auth.clone())).await;
    let url = format!("{}/whoami", served.base);
    for _ in 0..5 {
        assert_eq!(call(&url, Some(&tenant.token().sign())).await.status(), 200);
    }
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    assert_eq!(tenant.jwks_requests(), 1);

    // Invented issuers: each asked about once, all refused, none fetched from.
    let before = asked.load(Ordering::SeqCst);
    for i in 0..2_000 {
        let forged = tenant
            .token()
            .iss(&format!("https://idp.example/t-{}", i % 500))
            .sign();
        assert_eq!(
            auth.verify(&forged).await.unwrap_err().kind(),
            AuthErrorKind::InvalidIssuer
        );
    }
    assert_eq!(asked.load(Ordering::SeqCst) - before, 500);
    assert_eq!(tenant.jwks_requests(), 1);
}

#[tokio::test]
async fn a_resolver_answer_is_remembered_ten_minutes_on_the_layer_clock() {
    let clock = tower_jwt_auth::ManualClock::starting_now();
    let tenant = TestIssuer::builder().clock(clock.clone()).start().await;
    let asked = Arc::new(AtomicUsize::new(0));
    let trusted = tenant.url().to_owned();
    let counter = Arc::clone(&asked);
    let auth = JwtAuth::new("https://auth-api.eliq.com", AUD)
        .issuer_resolver(move |iss: &str| {
            counter.fetch_add(1, Ordering::SeqCst);
            (iss == trusted).then(|| Issuer::new(iss))
        })
        .clock(clock.clone());
    // Distinct tokens each time: the verified-token cache is not what answers.
    let fresh = |n: u32| tenant.token().sub(&format!("u-{n}")).sign();
    assert!(auth.verify(&fresh(1)).await.is_ok());
    clock.advance(Duration::from_secs(9 * 60));
    assert!(auth.verify(&fresh(2)).await.is_ok());
    assert_eq!(
        asked.load(Ordering::SeqCst),
        1,
        "remembered within 10 minutes"
    );
    clock.advance(Duration::from_secs(2 * 60));
    assert!(auth.verify(&fresh(3)).await.is_ok());
    assert_eq!(
        asked.load(Ordering::SeqCst),
        2,
        "asked again after 10 minutes"
    );
    // A refusal is remembered as long.
    let forged = tenant.token().iss("https://idp.example/other").sign();
    for _ in 0..3 {
        assert_eq!(
            auth.verify(&forged).await.unwrap_err().kind(),
            AuthErrorKind::InvalidIssuer
        );
    }
    assert_eq!(asked.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn issuer_settings_that_cannot_work_stop_the_service_at_startup() {
    let ok = || JwtAuth::new("https://auth-api.eliq.com", AUD);
    for (auth, problem) in [
        (ok().add_issuer("http://uat.example"), "https"),
        (
            ok().add_issuer("https://auth-api.eliq.com"),
            "configured twice",
        ),
        (
            ok().add_issuer(Issuer::new("https://a.example").audience("")),
            "audience",
        ),
        (
            ok().add_issuer(Issuer::new("https://a.example").jwks("{}")),
            "JWK set",
        ),
        (
            ok().add_issuer(Issuer::tenants("https://login.example/common/v2.0", ["t"])),
            "placeholder",
        ),
        (
            ok().add_issuer(Issuer::tenants(
                "https://login.example/x{tenant}/v2.0",
                ["t"],
            )),
            "whole path segment",
        ),
        (
            ok().add_issuer(Issuer::tenants(
                "https://login.example/{tenant}/v2.0",
                Vec::<String>::new(),
            )),
            "allow-list is empty",
        ),
        (
            ok().add_issuer(Issuer::tenants(
                "https://login.example/{tenant}/v2.0",
                ["a/b"],
            )),
            "not a path segment",
        ),
    ] {
        let err = auth.validate().map_err(Clone::clone).expect_err(problem);
        assert_eq!(err.field(), "add_issuer", "{problem}");
        assert!(err.to_string().contains(problem), "{err}");
    }
}
