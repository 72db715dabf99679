//! The client side (feature `client`): `ClientCredentials` against the test issuer's real token
//! endpoint on loopback, its lifecycle under an injected clock, and `AddAccessToken` calling an
//! axum service and a tonic service that this crate's own layer protects, through a key rotation.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_jwt_auth::client::{AccessToken, AddAccessToken, ClientCredentials, TokenErrorKind};
use tower_jwt_auth::testing::{Failure, TestIssuer};
use tower_jwt_auth::{client::TokenSource, Algorithm, Claims, JwtAuth, ManualClock};

use common::serve;

const ID: &str = "utility-acme-backend";
const SECRET: &str = "s3cr3t-p4ss:word";

async fn issuer_with(clock: Option<ManualClock>) -> TestIssuer {
    let mut b = TestIssuer::builder()
        .client(ID, SECRET)
        .algorithms([Algorithm::ES256]);
    if let Some(c) = clock {
        b = b.clock(c);
    }
    b.start().await
}

/// The claims of a token as a layer in front of `issuer` sees them.
async fn verified(issuer: &TestIssuer, audience: &str, token: &AccessToken) -> Claims {
    verified_at(issuer, audience, token, tower_jwt_auth::SystemClock).await
}

async fn verified_at(
    issuer: &TestIssuer,
    audience: &str,
    token: &AccessToken,
    clock: impl tower_jwt_auth::Clock,
) -> Claims {
    JwtAuth::new(issuer.url(), audience)
        .clock(clock)
        .verify(token.secret())
        .await
        .unwrap()
}

#[tokio::test]
async fn form_body_with_basic_authentication_by_default() {
    let issuer = issuer_with(None).await;
    let source = ClientCredentials::new(issuer.token_endpoint(), ID, SECRET)
        .scopes(["insights.read", "insights.write"])
        .audience("insights-api");
    let token = source.token().await.unwrap();
    let seen = issuer.last_token_request().unwrap();
    assert_eq!(seen.content_type, "application/x-www-form-urlencoded");
    assert_eq!(seen.basic_client_id.as_deref(), Some(ID));
    assert_eq!(seen.params["grant_type"], "client_credentials");
    assert_eq!(seen.params["scope"], "insights.read insights.write");
    assert_eq!(seen.params["aud"], "insights-api");
    assert!(!seen.params.contains_key("client_secret"));
    let claims = verified(&issuer, "insights-api", &token).await;
    assert_eq!(claims.client_id.as_deref(), Some(ID));
    assert_eq!(
        claims.scopes().collect::<Vec<_>>(),
        ["insights.read", "insights.write"]
    );
    assert!(token.expires_at().is_some());
}

#[tokio::test]
async fn json_body_as_eliq_takes_it_and_client_secret_post() {
    let issuer = issuer_with(None).await;
    let eliq = ClientCredentials::new(issuer.token_endpoint(), ID, SECRET)
        .json_body()
        .audience("insights-api")
        .scopes(["insights.read"]);
    let token = eliq.token().await.unwrap();
    let seen = issuer.last_token_request().unwrap();
    assert_eq!(seen.content_type, "application/json");
    assert_eq!(seen.basic_client_id, None);
    assert_eq!(seen.params["client_id"], ID);
    assert_eq!(seen.params["client_secret"], "…"); // sent, and masked by the test issuer
    assert_eq!(seen.params["aud"], "insights-api");
    assert!(verified(&issuer, "insights-api", &token)
        .await
        .scopes()
        .any(|s| s == "insights.read"));

    let post = ClientCredentials::new(issuer.token_endpoint(), ID, SECRET).client_secret_post();
    post.token().await.unwrap();
    let seen = issuer.last_token_request().unwrap();
    assert_eq!(seen.content_type, "application/x-www-form-urlencoded");
    assert_eq!(seen.basic_client_id, None);
    assert_eq!(seen.params["client_id"], ID);
}

#[tokio::test]
async fn an_absolute_audience_is_sent_as_the_rfc_8707_resource() {
    let issuer = issuer_with(None).await;
    let resource = "https://mcp.example.com/mcp";
    let source = ClientCredentials::new(issuer.token_endpoint(), ID, SECRET).audience(resource);
    let token = source.token().await.unwrap();
    let seen = issuer.last_token_request().unwrap();
    assert_eq!(seen.params["resource"], resource);
    assert!(!seen.params.contains_key("aud"));
    assert!(verified(&issuer, resource, &token)
        .await
        .aud
        .contains(resource));
}

#[tokio::test]
async fn the_token_endpoint_is_discovered_from_the_issuers_metadata() {
    let issuer = issuer_with(None).await;
    let source = ClientCredentials::discover(issuer.url(), ID, SECRET).audience("insights-api");
    source.token().await.unwrap();
    source.invalidate(&source.token().await.unwrap());
    source.token().await.unwrap();
    assert_eq!(issuer.discovery_requests(), 1, "the document is read once");
    assert_eq!(issuer.token_requests(), 2);
}

#[tokio::test]
async fn delegated_tokens_and_the_refresh_token_grant() {
    let clock = ManualClock::starting_now();
    let issuer = issuer_with(Some(clock.clone())).await;
    let source = ClientCredentials::new(issuer.token_endpoint(), ID, SECRET)
        .json_body()
        .audience("insights-api")
        .subject("user-42", "user")
        .issue_refresh_token()
        .clock(clock.clone());
    let first = source.token().await.unwrap();
    let seen = issuer.last_token_request().unwrap();
    assert_eq!(seen.params["sub"], "user-42");
    assert_eq!(seen.params["sub_type"], "user");
    assert_eq!(seen.params["issue_refresh_token"], "true");
    let claims = verified_at(&issuer, "insights-api", &first, clock.clone()).await;
    assert_eq!(claims.sub, "user-42");
    assert_eq!(claims.sub_type.as_deref(), Some("user"));

    // Past its lifetime, the token is renewed with the refresh token it came with.
    clock.advance(Duration::from_secs(3601));
    let second = source.token().await.unwrap();
    assert_ne!(second, first);
    let seen = issuer.last_token_request().unwrap();
    assert_eq!(seen.params["grant_type"], "refresh_token");
    assert!(seen.params["refresh_token"].starts_with("rt_"));
    let claims = verified_at(&issuer, "insights-api", &second, clock.clone()).await;
    assert_eq!(claims.sub, "user-42");
}

/// Waits (bounded) until the issuer has answered `n` token requests: a background renewal
/// runs on the runtime, not on the test's clock.
async fn until_token_requests(issuer: &TestIssuer, n: usize) {
    for _ in 0..500 {
        if issuer.token_requests() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{} token requests, expected {n}", issuer.token_requests());
}

#[tokio::test]
async fn renewed_in_the_background_after_80_percent_of_its_lifetime() {
    let clock = ManualClock::starting_now();
    let issuer = issuer_with(Some(clock.clone())).await;
    let source = ClientCredentials::new(issuer.token_endpoint(), ID, SECRET).clock(clock.clone());
    let first = source.token().await.unwrap();
    clock.advance(Duration::from_secs(2879)); // 79.97 % of 3600 s
    assert_eq!(source.token().await.unwrap(), first);
    assert_eq!(issuer.token_requests(), 1);

    clock.advance(Duration::from_secs(2)); // past 80 %: the caller is not kept waiting
    assert_eq!(source.token().await.unwrap(), first);
    until_token_requests(&issuer, 2).await;
    let mut renewed = source.token().await.unwrap();
    for _ in 0..100 {
        if renewed != first {
            break;
        }
        tokio::task::yield_now().await;
        renewed = source.token().await.unwrap();
    }
    assert_ne!(renewed, first);
    assert_eq!(issuer.token_requests(), 2);
}

#[tokio::test]
async fn or_a_fixed_margin_before_expiry() {
    let clock = ManualClock::starting_now();
    let issuer = issuer_with(Some(clock.clone())).await;
    let source = ClientCredentials::new(issuer.token_endpoint(), ID, SECRET)
        .renew_before_expiry(Duration::from_secs(60))
        .clock(clock.clone());
    let first = source.token().await.unwrap();
    clock.advance(Duration::from_secs(3539));
    assert_eq!(source.token().await.unwrap(), first);
    tokio::task::yield_now().await;
    assert_eq!(issuer.token_requests(), 1, "not yet 60 s before expiry");
    clock.advance(Duration::from_secs(2));
    source.token().await.unwrap();
    until_token_requests(&issuer, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_first_calls_make_one_token_request() {
    let issuer = issuer_with(None).await;
    let source = ClientCredentials::new(issuer.token_endpoint(), ID, SECRET);
    let calls: Vec<_> = (0..100)
        .map(|_| {
            let s = source.clone();
            tokio::spawn(async move { s.token().await.unwrap() })
        })
        .collect();
    let mut tokens = Vec::new();
    for c in calls {
        tokens.push(c.await.unwrap());
    }
    assert_eq!(issuer.token_requests(), 1);
    assert!(tokens.iter().all(|t| *t == tokens[0]));
}

#[tokio::test]
async fn a_wrong_secret_is_a_configuration_error_not_a_retry_loop() {
    let issuer = issuer_with(None).await;
    let source = ClientCredentials::new(issuer.token_endpoint(), ID, "not-the-secret");
    let err = source.token().await.unwrap_err();
    assert_eq!(err.kind(), TokenErrorKind::Configuration);
    assert!(err.is_configuration());
    assert_eq!(err.oauth_error(), Some("invalid_client"));
    let text = err.to_string();
    assert!(text.contains("check the client_id and secret"), "{text}");
    for shown in [text, format!("{err:?}"), format!("{source:?}")] {
        assert!(!shown.contains("not-the-secret"), "{shown}");
    }
    // Asked again at once: the same answer, and no second request.
    assert_eq!(
        source.token().await.unwrap_err().oauth_error(),
        Some("invalid_client")
    );
    assert_eq!(issuer.token_requests(), 1);

    let unknown = ClientCredentials::new(issuer.token_endpoint(), "nobody", SECRET);
    assert!(unknown.token().await.unwrap_err().is_configuration());
    let bad = ClientCredentials::new("http://auth.example.com/token", ID, SECRET);
    let err = bad.validate().unwrap_err();
    assert!(err.to_string().contains("https"), "{err}");
    let two_words =
        ClientCredentials::new(issuer.token_endpoint(), ID, SECRET).scopes(["two words"]);
    let err = two_words.validate().unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"scopes: "two words" is not a scope token"#
    );
}

#[tokio::test]
async fn failures_of_the_token_endpoint_back_off_then_recover() {
    let clock = ManualClock::starting_now();
    let issuer = issuer_with(Some(clock.clone())).await;
    let source = ClientCredentials::new(issuer.token_endpoint(), ID, SECRET).clock(clock.clone());
    issuer.fail_token_endpoint(Failure::Status(503));
    let err = source.token().await.unwrap_err();
    assert_eq!(err.kind(), TokenErrorKind::Unavailable);
    assert_eq!(
        source.token().await.unwrap_err().kind(),
        TokenErrorKind::Unavailable
    );
    assert_eq!(
        issuer.token_requests(),
        1,
        "within the backoff, no new request"
    );
    clock.advance(Duration::from_millis(1300)); // past 1 s ± 20 %
    source.token().await.unwrap_err();
    assert_eq!(issuer.token_requests(), 2);
    clock.advance(Duration::from_millis(1500)); // the second wait is 2 s ± 20 %
    source.token().await.unwrap_err();
    assert_eq!(issuer.token_requests(), 2, "the wait doubled");
    issuer.recover();
    clock.advance(Duration::from_millis(1000));
    source.token().await.unwrap();
    assert_eq!(issuer.token_requests(), 3);

    let garbage = ClientCredentials::new(issuer.token_endpoint(), ID, SECRET);
    issuer.fail_token_endpoint(Failure::Garbage);
    assert_eq!(
        garbage.token().await.unwrap_err().kind(),
        TokenErrorKind::InvalidResponse
    );
}

/// An axum service behind `JwtAuth`, counting the requests that reach the server; and the
/// layer, whose clones share its keys.
async fn protected_api(issuer: &TestIssuer) -> (common::Served, Arc<AtomicUsize>, JwtAuth) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&hits);
    let auth = JwtAuth::new(issuer.url(), "insights-api");
    let app = Router::new()
        .route(
            "/usage",
            get(|c: Claims| async move { c.sub.clone() })
                .post(|c: Claims, body: String| async move { format!("{} {body}", c.sub) }),
        )
        .layer(auth.clone().require_scopes(["insights.read"]))
        .layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                counted.fetch_add(1, Ordering::SeqCst);
                next.run(req)
            },
        ));
    (serve(app).await, hits, auth)
}

/// Rotates every key and makes `auth` load the new set, so that tokens signed before are
/// refused with `invalid_token`.
async fn rotate_and_load(issuer: &TestIssuer, auth: &JwtAuth) {
    issuer.rotate();
    let fresh = issuer.token().sign();
    auth.verify(&fresh).await.unwrap();
}

#[tokio::test]
async fn add_access_token_retries_once_with_a_fresh_token_through_a_rotation() {
    let issuer = issuer_with(None).await;
    let (api, hits, auth) = protected_api(&issuer).await;
    let source = ClientCredentials::new(issuer.token_endpoint(), ID, SECRET)
        .audience("insights-api")
        .scopes(["insights.read"]);
    let client = HyperClient::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let mut svc = ServiceBuilder::new()
        .layer(AddAccessToken::new(source.clone()))
        .service(client);
    let get = |uri: String| http::Request::get(uri).body(Empty::<Bytes>::new()).unwrap();

    let res = svc
        .ready()
        .await
        .unwrap()
        .call(get(format!("{}/usage", api.base)))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, ID);
    assert_eq!(
        (issuer.token_requests(), hits.load(Ordering::SeqCst)),
        (1, 1)
    );

    // The provider rotates; the API's layer has the new keys; the cached token is now refused.
    rotate_and_load(&issuer, &auth).await;
    let res = svc
        .ready()
        .await
        .unwrap()
        .call(get(format!("{}/usage", api.base)))
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "retried with a fresh token");
    assert_eq!(issuer.token_requests(), 2, "one refresh");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        3,
        "one refused call, one retry"
    );

    // A 403 is not the token's fault: no refresh, no retry.
    let narrow =
        ClientCredentials::new(issuer.token_endpoint(), ID, SECRET).audience("insights-api");
    let client = HyperClient::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let mut svc = AddAccessToken::new(narrow).layer_service(client);
    let res = svc
        .ready()
        .await
        .unwrap()
        .call(get(format!("{}/usage", api.base)))
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(issuer.token_requests(), 3);
    assert_eq!(hits.load(Ordering::SeqCst), 4);
}

/// The layer as a plain function call, for brevity.
trait LayerService<S> {
    type Service;
    fn layer_service(&self, inner: S) -> Self::Service;
}

impl<L: tower::Layer<S>, S> LayerService<S> for L {
    type Service = L::Service;
    fn layer_service(&self, inner: S) -> L::Service {
        self.layer(inner)
    }
}

#[tokio::test]
async fn a_request_whose_body_was_sent_gets_the_refusal_and_the_next_one_a_fresh_token() {
    let issuer = issuer_with(None).await;
    let (api, hits, auth) = protected_api(&issuer).await;
    let source = ClientCredentials::new(issuer.token_endpoint(), ID, SECRET)
        .audience("insights-api")
        .scopes(["insights.read"]);
    let client = HyperClient::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut svc = AddAccessToken::new(source).layer_service(client);
    let post = |uri: String| {
        http::Request::post(uri)
            .body(Full::new(Bytes::from_static(b"reading")))
            .unwrap()
    };
    let url = format!("{}/usage", api.base);
    assert_eq!(
        svc.ready()
            .await
            .unwrap()
            .call(post(url.clone()))
            .await
            .unwrap()
            .status(),
        200
    );
    rotate_and_load(&issuer, &auth).await;
    let refused = svc
        .ready()
        .await
        .unwrap()
        .call(post(url.clone()))
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(hits.load(Ordering::SeqCst), 2, "not sent again");
    let res = svc.ready().await.unwrap().call(post(url)).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.into_body().collect().await.unwrap().to_bytes(),
        format!("{ID} reading")
    );
    assert_eq!(issuer.token_requests(), 2);
}

#[tokio::test]
async fn reqwest_middleware_adds_the_token_and_retries_once() {
    let issuer = issuer_with(None).await;
    let (api, hits, auth) = protected_api(&issuer).await;
    let source = ClientCredentials::new(issuer.token_endpoint(), ID, SECRET)
        .audience("insights-api")
        .scopes(["insights.read"]);
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(AddAccessToken::new(source))
        .build();
    let url = format!("{}/usage", api.base);
    assert_eq!(
        http.get(&url).send().await.unwrap().text().await.unwrap(),
        ID
    );
    rotate_and_load(&issuer, &auth).await;
    let res = http.post(&url).body("again").send().await.unwrap();
    assert_eq!(res.status(), 200, "a buffered body is sent again");
    assert_eq!(res.text().await.unwrap(), format!("{ID} again"));
    assert_eq!(
        (issuer.token_requests(), hits.load(Ordering::SeqCst)),
        (2, 3)
    );
}

#[tokio::test]
async fn a_tonic_channel_with_add_access_token_through_a_rotation() {
    use tonic::transport::server::TcpIncoming;
    use tonic::transport::{Channel, Server};
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::HealthCheckRequest;

    let issuer = issuer_with(None).await;
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let auth = JwtAuth::new(issuer.url(), "insights-api");
    let router = Server::builder()
        .layer(auth.clone().require_scopes(["insights.read"]))
        .add_service(health);
    let server = tokio::spawn(router.serve_with_incoming(TcpIncoming::from(listener)));
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let source = ClientCredentials::new(issuer.token_endpoint(), ID, SECRET)
        .audience("insights-api")
        .scopes(["insights.read"]);
    let channel = ServiceBuilder::new()
        .layer(AddAccessToken::new(source))
        .service(channel);
    let mut client = HealthClient::new(channel);
    let check = || HealthCheckRequest {
        service: String::new(),
    };
    assert_eq!(client.check(check()).await.unwrap().into_inner().status, 1);

    rotate_and_load(&issuer, &auth).await;
    // A gRPC body is a stream, not sent twice: this call is refused and drops the token …
    let refused = client.check(check()).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    // … and the next one carries a fresh token.
    assert_eq!(client.check(check()).await.unwrap().into_inner().status, 1);
    assert_eq!(issuer.token_requests(), 2);
    server.abort();
}
