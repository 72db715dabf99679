//! Not every signed token is an access token, over real HTTP on 127.0.0.1: an OpenID Connect
//! ID token and a security-event token from the trusted issuer, for this very audience, are
//! refused in every mode; what RFC 9068 lets an access token carry besides stays accepted; the
//! lifetime cap holds without `iat`. Each refusal beside a control that differs only in the
//! property under test.

mod common;

use std::time::Duration;
use tower_jwt_auth::TokenRules;

use axum::routing::get;
use axum::Router;
use common::{get as call, serve, www_authenticate};
use serde_json::{json, Value};
use tower_jwt_auth::testing::{TestIssuer, TokenBuilder};
use tower_jwt_auth::{Claims, JwtAuth};

const NOT_AN_ACCESS_TOKEN: &str = r#"Bearer realm="insights-api", error="invalid_token", error_description="the token is not an access token""#;

/// The app one registration serves as both client and API: its ID tokens' `aud` is the API's.
async fn app(auth: JwtAuth) -> common::Served {
    serve(
        Router::new()
            .route("/usage", get(|c: Claims| async move { c.sub.clone() }))
            .layer(auth),
    )
    .await
}

/// An ID token in the shape OpenID Connect Core §2 gives it, `aud` the API's audience.
fn id_token(issuer: &TestIssuer) -> TokenBuilder {
    issuer
        .token()
        .header("typ", "JWT")
        .sub("248289761001")
        .claim("auth_time", 1_800_000_000u64)
        .claim("nonce", "n-0S6_WzA2Mj")
        .claim("at_hash", "77QmUPtjPfzWtF2AnpK9RQ")
}

#[tokio::test]
async fn an_id_token_for_this_audience_is_refused_in_every_mode() {
    let issuer = TestIssuer::start().await;
    for (mode, auth) in [
        ("lenient", JwtAuth::new(issuer.url(), "insights-api")),
        (
            "strict RFC 9068",
            JwtAuth::new(issuer.url(), "insights-api").token_rules(TokenRules {
                strict_rfc9068: true,
                ..TokenRules::default()
            }),
        ),
    ] {
        let served = app(auth).await;
        let url = format!("{}/usage", served.base);
        // Under strict RFC 9068 the header alone would refuse `typ: JWT`: the ID token claims
        // must refuse an `at+jwt` one just the same.
        let typ = if mode == "lenient" { "JWT" } else { "at+jwt" };
        for claim in ["nonce", "at_hash", "c_hash", "s_hash"] {
            let control = issuer
                .token()
                .header("typ", typ)
                .client_id("portal")
                .claim("jti", format!("j-{claim}"));
            let token = control.clone().claim(claim, "x5dXn0Q4").sign();
            let res = call(&url, Some(&token)).await;
            assert_eq!(res.status(), 401, "{mode}, {claim}");
            assert_eq!(
                www_authenticate(&res),
                NOT_AN_ACCESS_TOKEN,
                "{mode}, {claim}"
            );
            let res = call(&url, Some(&control.sign())).await;
            assert_eq!(res.status(), 200, "{mode}: the control without {claim}");
        }
        let res = call(&url, Some(&id_token(&issuer).sign())).await;
        assert_eq!(res.status(), 401, "{mode}: a whole ID token");
    }
    // Without `typ` as well.
    let served = app(JwtAuth::new(issuer.url(), "insights-api")).await;
    let url = format!("{}/usage", served.base);
    let no_typ = id_token(&issuer).without("typ").sign();
    assert_eq!(
        www_authenticate(&call(&url, Some(&no_typ)).await),
        NOT_AN_ACCESS_TOKEN
    );
}

#[tokio::test]
async fn a_security_event_token_is_refused() {
    let issuer = TestIssuer::start().await;
    let served = app(JwtAuth::new(issuer.url(), "insights-api")).await;
    let url = format!("{}/usage", served.base);
    // A back-channel logout token (OpenID Connect Back-Channel Logout §2.4), typed as a JWT.
    let logout = issuer.token().header("typ", "JWT").claim(
        "events",
        json!({"http://schemas.openid.net/event/backchannel-logout": {}}),
    );
    let res = call(&url, Some(&logout.clone().sign())).await;
    assert_eq!(res.status(), 401);
    assert_eq!(www_authenticate(&res), NOT_AN_ACCESS_TOKEN);
    let control = logout.without("events").sign();
    assert_eq!(call(&url, Some(&control)).await.status(), 200);
    for typ in ["logout+jwt", "secevent+jwt", "dpop+jwt"] {
        let token = issuer.token().header("typ", typ).sign();
        let res = call(&url, Some(&token)).await;
        assert_eq!(res.status(), 401, "{typ}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "invalid_token", "{typ}");
    }
}

#[tokio::test]
async fn what_rfc_9068_lets_an_access_token_carry_is_accepted() {
    let issuer = TestIssuer::start().await;
    let served = app(JwtAuth::new(issuer.url(), "insights-api")).await;
    let url = format!("{}/usage", served.base);
    let token = issuer
        .token()
        .sub("u-7")
        .claim("auth_time", 1_800_000_000u64)
        .claim("acr", "urn:mace:incommon:iap:silver")
        .claim("amr", json!(["pwd", "otp"]))
        .claim("azp", "portal")
        .sign();
    let res = call(&url, Some(&token)).await;
    assert_eq!(res.status(), 200, "{}", www_authenticate(&res));
    assert_eq!(res.text().await.unwrap(), "u-7");
}

#[tokio::test]
async fn the_lifetime_cap_holds_without_iat() {
    let issuer = TestIssuer::start().await;
    let served = app(JwtAuth::new(issuer.url(), "insights-api")).await;
    let url = format!("{}/usage", served.base);
    let ten_years = issuer
        .token()
        .without("iat")
        .expires_in(Duration::from_secs(10 * 365 * 24 * 3600))
        .sign();
    let res = call(&url, Some(&ten_years)).await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        www_authenticate(&res),
        r#"Bearer realm="insights-api", error="invalid_token", error_description="the token's lifetime is too long""#
    );
    // The control: no `iat` either, an hour left.
    let hour = issuer
        .token()
        .without("iat")
        .expires_in(Duration::from_secs(3600))
        .sign();
    assert_eq!(call(&url, Some(&hour)).await.status(), 200);
    // A cap of one hour, no `iat`: two hours left is too long; the cap is configurable.
    let capped = app(
        JwtAuth::new(issuer.url(), "insights-api").token_rules(TokenRules {
            max_lifetime: Some(Duration::from_secs(3600)),
            ..TokenRules::default()
        }),
    )
    .await;
    let two_hours = issuer
        .token()
        .without("iat")
        .expires_in(Duration::from_secs(7200))
        .sign();
    let capped_url = format!("{}/usage", capped.base);
    assert_eq!(call(&capped_url, Some(&two_hours)).await.status(), 401);
    assert_eq!(call(&capped_url, Some(&hour)).await.status(), 200);
}
