//! Who acts for whom (RFC 8693 delegation), for exactly what (RFC 9396 authorization details),
//! and rules that must ask a service first, over real HTTP on 127.0.0.1.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use common::{get as call, serve, Captured};
use serde::Deserialize;
use serde_json::{json, Value};
use tower_jwt_auth::testing::TestIssuer;
use tower_jwt_auth::{
    AccessClaims, ActorRule, Claims, JwtAuth, ManualClock, RequireActors, RequireAsync,
    RequireAuthorizationDetails,
};

const PARTNER: &str = "energyzero-partner-portal";

/// EnergyZero's impersonation endpoint, as a loopback stand-in: a partner's client-credentials
/// token (checked by the crate itself) obtains a customer's token acting as one of its support
/// agents, signed by the test issuer.
fn impersonation_endpoint(issuer: Arc<TestIssuer>) -> Router {
    #[derive(Deserialize)]
    struct Ask {
        user_id: String,
        agent: String,
    }
    Router::new()
        .route(
            "/v1/auth/impersonate",
            get(
                |State(issuer): State<Arc<TestIssuer>>, claims: Claims, Query(ask): Query<Ask>| async move {
                    let partner = claims.grant().client_id().unwrap_or_default().to_owned();
                    let token = issuer
                        .token()
                        .sub(&ask.user_id)
                        .sub_type("user")
                        .client_id(&partner)
                        .claim("act", json!({"sub": ask.agent, "client_id": partner}))
                        .sign();
                    Json(json!({"access_token": token, "token_type": "Bearer"}))
                },
            ),
        )
        .layer(JwtAuth::new(issuer.url(), "insights-api").require_scopes(["impersonate"]))
        .with_state(issuer)
}

#[tokio::test]
async fn energyzero_partner_support_reads_usage_for_a_customer_but_never_changes_the_payout() {
    let issuer = Arc::new(TestIssuer::start().await);
    let auth = JwtAuth::new(issuer.url(), "insights-api");
    let api = Router::new()
        .route(
            "/usage",
            get(|c: Claims| async move {
                let g = c.grant();
                Json(json!({
                    "customer": g.sub(),
                    "actors": g.actors().iter().map(|a| json!({"sub": a.sub(), "client_id": a.client_id()})).collect::<Vec<_>>(),
                }))
            })
            .layer(RequireActors::allow([ActorRule::client(PARTNER)]).max_depth(1)),
        )
        .route(
            "/payout-account",
            put(|| async { "changed" }).layer(RequireActors::none()),
        )
        .layer(auth);
    let api = serve(api).await;
    let auth_server = serve(impersonation_endpoint(Arc::clone(&issuer))).await;

    // The partner's client-credentials token, then the customer's token acting as agent-7.
    let partner_token = issuer
        .token()
        .client_id(PARTNER)
        .sub(PARTNER)
        .scopes(["impersonate"])
        .sign();
    let res = call(
        &format!(
            "{}/v1/auth/impersonate?user_id=customer-1042&agent=support-agent-7",
            auth_server.base
        ),
        Some(&partner_token),
    )
    .await;
    assert_eq!(res.status(), 200);
    let customer_token = res.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // /usage accepts it; the handler sees both identities, and so does the log.
    let logs = Captured::default();
    let _guard = logs.install();
    let res = call(&format!("{}/usage", api.base), Some(&customer_token)).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["customer"], "customer-1042");
    assert_eq!(
        body["actors"],
        json!([{"sub": "support-agent-7", "client_id": PARTNER}])
    );
    let text = logs.text();
    let admitted = text
        .lines()
        .find(|l| l.contains("delegated request admitted"))
        .unwrap_or_else(|| panic!("no admission event: {text}"));
    assert!(
        admitted.contains(r#"sub="customer-1042""#)
            && admitted
                .contains(r#"actors="support-agent-7" (client "energyzero-partner-portal")"#),
        "{admitted}"
    );

    // /payout-account refuses it; the customer's own token passes.
    let res = reqwest::Client::new()
        .put(format!("{}/payout-account", api.base))
        .bearer_auth(&customer_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(
        logs.text().contains("the route refuses delegated tokens"),
        "{}",
        logs.text()
    );
    let own = issuer.token().sub("customer-1042").sub_type("user").sign();
    let res = reqwest::Client::new()
        .put(format!("{}/payout-account", api.base))
        .bearer_auth(&own)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // An actor through another partner's client: refused, the log naming the chain.
    let stranger = issuer
        .token()
        .sub("customer-1042")
        .claim(
            "act",
            json!({"sub": "agent-99", "client_id": "other-partner"}),
        )
        .sign();
    let res = call(&format!("{}/usage", api.base), Some(&stranger)).await;
    assert_eq!(res.status(), 403);
    assert!(
        logs.text()
            .contains(r#"actor chain: "agent-99" (client "other-partner")"#),
        "{}",
        logs.text()
    );

    // A chain deeper than the cap: an automation acting for the agent acting for the customer.
    let deep = issuer
        .token()
        .sub("customer-1042")
        .claim(
            "act",
            json!({"sub": "support-agent-7", "client_id": PARTNER,
                   "act": {"sub": "ticket-bot", "client_id": PARTNER}}),
        )
        .sign();
    let res = call(&format!("{}/usage", api.base), Some(&deep)).await;
    assert_eq!(res.status(), 403);
    assert!(
        logs.text()
            .contains("the actor chain is 2 deep, the route accepts 1"),
        "{}",
        logs.text()
    );
}

#[tokio::test]
async fn may_act_must_permit_the_actor_and_a_malformed_act_is_refused() {
    let issuer = TestIssuer::start().await;
    let app = Router::new()
        .route("/", get(|| async { "ok" }))
        .layer(RequireActors::allow([
            ActorRule::sub("agent-7").for_issuer(issuer.url())
        ]))
        .layer(JwtAuth::new(issuer.url(), "insights-api"));
    let served = serve(app).await;
    let url = format!("{}/", served.base);
    let token = |may: Value| {
        issuer
            .token()
            .sub("customer-1")
            .claim("act", json!({"sub": "agent-7"}))
            .claim("may_act", may)
            .sign()
    };
    assert_eq!(
        call(&url, Some(&token(json!({"sub": "agent-7"}))))
            .await
            .status(),
        200
    );
    assert_eq!(
        call(&url, Some(&token(json!({"sub": "agent-8"}))))
            .await
            .status(),
        403
    );
    // Not delegated: the rules do not apply.
    assert_eq!(
        call(&url, Some(&issuer.token().sub("customer-1").sign()))
            .await
            .status(),
        200
    );
    // `act` that is not an actor object: a malformed claim, 401.
    let malformed = issuer.token().claim("act", "agent-7").sign();
    assert_eq!(call(&url, Some(&malformed)).await.status(), 401);
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PaymentInitiation {
    instructed_amount: Amount,
    creditor_account: Account,
}

#[derive(Deserialize)]
struct Amount {
    currency: String,
    amount: String,
}

#[derive(Deserialize)]
struct Account {
    iban: String,
}

/// The payment the request asks for, from the API's own headers.
fn asked(request: &http::request::Parts) -> Option<(&str, &str)> {
    let header = |name| request.headers.get(name).and_then(|v| v.to_str().ok());
    Some((header("x-amount")?, header("x-creditor-iban")?))
}

#[tokio::test]
async fn an_aelix_payment_needs_authorization_details_covering_the_amount() {
    let issuer = TestIssuer::start().await;
    let payments = RequireAuthorizationDetails::new(
        "payment_initiation",
        |p: &PaymentInitiation, request: &http::request::Parts| {
            let Some((amount, iban)) = asked(request) else {
                return false;
            };
            let cents = |s: &str| {
                let (euros, cents) = s.split_once('.').unwrap_or((s, "0"));
                euros
                    .parse::<u64>()
                    .ok()?
                    .checked_mul(100)?
                    .checked_add(cents.parse().ok()?)
            };
            p.instructed_amount.currency == "EUR"
                && p.creditor_account.iban == iban
                && matches!((cents(amount), cents(&p.instructed_amount.amount)), (Some(a), Some(g)) if a <= g)
        },
    );
    let app = Router::new()
        .route("/payments", post(|| async { "initiated" }).layer(payments))
        .layer(JwtAuth::new(issuer.url(), "payments-api"));
    let served = serve(app).await;
    let pay = |token: &str, amount: &str| {
        reqwest::Client::new()
            .post(format!("{}/payments", served.base))
            .bearer_auth(token)
            .header("x-amount", amount)
            .header("x-creditor-iban", "NL91ABNA0417164300")
    };
    let detailed = issuer
        .token()
        .aud("payments-api")
        .scopes(["payments:write"])
        .claim(
            "authorization_details",
            json!([{"type": "payment_initiation",
                    "instructedAmount": {"currency": "EUR", "amount": "123.50"},
                    "creditorName": "Merchant A",
                    "creditorAccount": {"iban": "NL91ABNA0417164300"}}]),
        )
        .sign();
    assert_eq!(pay(&detailed, "123.50").send().await.unwrap().status(), 200);
    let res = pay(&detailed, "200.00").send().await.unwrap();
    assert_eq!(res.status(), 403);
    let challenge = common::www_authenticate(&res);
    assert!(
        challenge.contains(r#"error="insufficient_scope""#)
            && challenge.contains(
                "no authorization_details entry of type payment_initiation permits this request"
            )
            && !challenge.contains("123.50"),
        "{challenge}"
    );
    // Aelix's coarse scope alone permits no payment.
    let coarse = issuer
        .token()
        .aud("payments-api")
        .scopes(["payments:write"])
        .sign();
    assert_eq!(pay(&coarse, "1.00").send().await.unwrap().status(), 403);
    // An entry of another type does not count either.
    let other = issuer
        .token()
        .aud("payments-api")
        .claim(
            "authorization_details",
            json!([{"type": "account_information", "actions": ["read"]}]),
        )
        .sign();
    assert_eq!(pay(&other, "1.00").send().await.unwrap().status(), 403);
    // Entries without a string `type` are a malformed claim: 401.
    let malformed = issuer
        .token()
        .aud("payments-api")
        .claim("authorization_details", json!([{"instructedAmount": {}}]))
        .sign();
    assert_eq!(pay(&malformed, "1.00").send().await.unwrap().status(), 401);
}

/// A stand-in entitlement service: how it answers, and how often it was asked.
#[derive(Clone)]
struct Entitlements {
    asked: Arc<AtomicUsize>,
    /// Lookups whose request went away before an answer (the caller dropped it).
    dropped: Arc<AtomicUsize>,
    base: String,
}

/// Counts a lookup that ends without answering.
struct Unanswered(Arc<AtomicUsize>);

impl Drop for Unanswered {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

async fn entitlement_service(hang: bool) -> (Entitlements, common::Served) {
    let asked = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(AtomicUsize::new(0));
    let (counter, gone) = (Arc::clone(&asked), Arc::clone(&dropped));
    let app = Router::new().route(
        "/entitled/{customer}",
        get(
            move |axum::extract::Path(customer): axum::extract::Path<String>| {
                let (counter, gone) = (Arc::clone(&counter), Arc::clone(&gone));
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    if hang {
                        let _unanswered = Unanswered(gone);
                        std::future::pending::<()>().await;
                    }
                    Json(json!({"entitled": customer != "customer-0"}))
                }
            },
        ),
    );
    let served = serve(app).await;
    (
        Entitlements {
            asked,
            dropped,
            base: served.base.clone(),
        },
        served,
    )
}

fn entitled_rule(base: String) -> RequireAsync<AccessClaims> {
    RequireAsync::new(
        move |claims: &Claims<AccessClaims>, _: &http::request::Parts| {
            let url = format!("{base}/entitled/{}", claims.sub);
            async move {
                let answer: Value = reqwest::get(url).await?.error_for_status()?.json().await?;
                Ok::<_, reqwest::Error>(answer["entitled"].as_bool().unwrap_or(false))
            }
        },
    )
    .timeout(Duration::from_millis(400))
}

#[tokio::test]
async fn an_async_rule_asks_once_per_token_while_remembered_and_fails_closed() {
    let issuer = TestIssuer::start().await;
    let (service, _running) = entitlement_service(false).await;
    let clock = ManualClock::starting_now();
    let auth = JwtAuth::new(issuer.url(), "insights-api").clock(clock.clone());
    let app = Router::new()
        .route("/usage", get(|| async { "usage" }))
        .layer(entitled_rule(service.base.clone()).remember(Duration::from_secs(60), 1000))
        .layer(auth);
    let served = serve(app).await;
    let url = format!("{}/usage", served.base);
    let token = issuer.token().sub("customer-1042").sign();
    for _ in 0..3 {
        assert_eq!(call(&url, Some(&token)).await.status(), 200);
    }
    assert_eq!(
        service.asked.load(Ordering::SeqCst),
        1,
        "one lookup while remembered"
    );
    clock.advance(Duration::from_secs(61));
    assert_eq!(call(&url, Some(&token)).await.status(), 200);
    assert_eq!(
        service.asked.load(Ordering::SeqCst),
        2,
        "asked again once forgotten"
    );
    // A refusal is 403, remembered too.
    let refused = issuer.token().sub("customer-0").sign();
    let res = call(&url, Some(&refused)).await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        common::www_authenticate(&res),
        r#"Bearer realm="insights-api", error="insufficient_scope", error_description="the token does not satisfy this route's rule""#
    );
    assert_eq!(call(&url, Some(&refused)).await.status(), 403);
    assert_eq!(service.asked.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_hung_or_absent_service_is_503_within_the_timeout_and_leaves_nothing_behind() {
    let issuer = TestIssuer::start().await;
    let (hung, _running) = entitlement_service(true).await;
    let app = |base: String| {
        Router::new()
            .route("/usage", get(|| async { "usage" }))
            .layer(entitled_rule(base))
            .layer(JwtAuth::new(issuer.url(), "insights-api"))
    };
    let hanging = serve(app(hung.base.clone())).await;
    let token = issuer.token().sub("customer-1042").sign();
    let started = std::time::Instant::now();
    let res = call(&format!("{}/usage", hanging.base), Some(&token)).await;
    assert_eq!(res.status(), 503);
    // Bounded by the 400 ms timeout, with room for a slow machine, never the service's hang.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    let down = serve(app(common::closed_port_url().await)).await;
    let res = call(&format!("{}/usage", down.base), Some(&token)).await;
    assert_eq!(res.status(), 503);

    // The timed-out lookup was dropped, not left running: the stand-in saw its caller go.
    wait_for(|| hung.dropped.load(Ordering::SeqCst) == 1).await;

    // A client that gives up: its lookup is dropped with it, nothing keeps running.
    let before = hung.asked.load(Ordering::SeqCst);
    let abandoned = tokio::spawn({
        let url = format!("{}/usage", hanging.base);
        let token = token.clone();
        async move { call(&url, Some(&token)).await }
    });
    while hung.asked.load(Ordering::SeqCst) == before {
        tokio::task::yield_now().await;
    }
    abandoned.abort();
    let _ = abandoned.await;
    // The service saw one lookup, and saw it abandoned: no task of the layer holds it.
    wait_for(|| hung.dropped.load(Ordering::SeqCst) == 2).await;
    assert_eq!(hung.asked.load(Ordering::SeqCst), before + 1);
}

/// Polls `done` until it holds, failing after a generous deadline (not a sleep: the loop
/// yields and returns as soon as the condition is met).
async fn wait_for(done: impl Fn() -> bool) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the condition within the deadline");
}

#[tokio::test]
async fn introspected_tokens_carry_actors_authentication_and_details_too() {
    let issuer = TestIssuer::start().await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // An RFC 7662 endpoint stand-in whose answer carries `act`, `acr`, `auth_time` and
    // `authorization_details`.
    let answer = json!({
        "active": true, "sub": "customer-1042", "client_id": PARTNER, "scope": "usage.read",
        "exp": now + 600, "iss": issuer.url(),
        "act": {"sub": "support-agent-7", "client_id": PARTNER},
        "acr": "urn:eliq:acr:mfa", "auth_time": now - 30,
        "authorization_details": [{"type": "account_information", "actions": ["read"]}],
    });
    let endpoint = serve(Router::new().route(
        "/introspect",
        post(move || {
            let answer = answer.clone();
            async move { Json(answer) }
        }),
    ))
    .await;
    let auth = JwtAuth::new(issuer.url(), "insights-api").introspection(
        tower_jwt_auth::Introspection::new(format!("{}/introspect", endpoint.base), "rs", "secret"),
    );
    let app = Router::new()
        .route(
            "/usage",
            get(|c: Claims| async move {
                let g = c.grant();
                Json(json!({
                    "actor": g.actors().first().and_then(|a| a.sub()),
                    "acr": g.acr(),
                    "auth_time": g.auth_time(),
                    "details": g.authorization_details().iter().map(|d| d.kind()).collect::<Vec<_>>(),
                }))
            })
            .layer(RequireActors::allow([ActorRule::client(PARTNER)])),
        )
        .route(
            "/payout-account",
            put(|| async { "changed" }).layer(RequireActors::none()),
        )
        .layer(auth);
    let served = serve(app).await;
    let res = call(&format!("{}/usage", served.base), Some("opaque-token-1")).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body,
        json!({"actor": "support-agent-7", "acr": "urn:eliq:acr:mfa", "auth_time": now - 30,
               "details": ["account_information"]})
    );
    let res = reqwest::Client::new()
        .put(format!("{}/payout-account", served.base))
        .bearer_auth("opaque-token-1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

mod grpc {
    use super::*;
    use common::health::{self, ask, Probe};
    use tonic::transport::Server;
    use tonic::Code;
    use tonic_health::pb::health_server::HealthServer;

    #[tokio::test]
    async fn async_rules_and_actor_rules_answer_grpc_calls_with_their_codes() {
        let issuer = TestIssuer::start().await;
        let (service, _running) = entitlement_service(false).await;
        let router = Server::builder()
            .layer(JwtAuth::new(issuer.url(), "insights-api"))
            .layer(entitled_rule(service.base.clone()))
            .layer(RequireActors::none())
            .add_service(HealthServer::new(Probe));
        let (mut client, task) = health::run(|incoming| router.serve_with_incoming(incoming)).await;
        let entitled = issuer.token().sub("customer-1042").sign();
        assert_eq!(
            client.check(ask(&entitled)).await.unwrap().get_ref().status,
            1
        );
        let refused = issuer.token().sub("customer-0").sign();
        let status = client.check(ask(&refused)).await.unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied);
        let delegated = issuer
            .token()
            .sub("customer-1042")
            .claim("act", json!({"sub": "agent-7"}))
            .sign();
        let status = client.check(ask(&delegated)).await.unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied);
        task.abort();

        let (hung, _running) = entitlement_service(true).await;
        let router = Server::builder()
            .layer(JwtAuth::new(issuer.url(), "insights-api"))
            .layer(entitled_rule(hung.base.clone()))
            .add_service(HealthServer::new(Probe));
        let (mut client, task) = health::run(|incoming| router.serve_with_incoming(incoming)).await;
        let status = client
            .check(ask(&issuer.token().sub("customer-1042").sign()))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unavailable);
        task.abort();
    }
}
