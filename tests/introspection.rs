//! Opaque tokens judged by an RFC 7662 introspection endpoint: a stand-in endpoint on loopback
//! that counts its calls, and the layer's cache, single flight and failure handling around it.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tower_jwt_auth::KeyFetching;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use common::{closed_port_url, serve, www_authenticate, Captured, Served};
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tower_jwt_auth::testing::TestIssuer;
use tower_jwt_auth::{
    AuthErrorKind, Claims, Credential, Grant, Introspection, JwtAuth, ManualClock,
};

const CLIENT_ID: &str = "rs-client";
const CLIENT_SECRET: &str = "rs-secret:with/odd&chars";

/// What the stand-in endpoint answers, and what it saw.
#[derive(Default)]
struct Script {
    /// token → introspection response; unknown tokens are `{"active": false}`.
    tokens: HashMap<String, Value>,
    /// Answer with this status instead.
    status: Option<u16>,
    /// The Authorization header and form of the last call.
    last_authorization: Option<String>,
    last_form: Vec<(String, String)>,
}

#[derive(Clone)]
struct Endpoint {
    script: Arc<Mutex<Script>>,
    calls: Arc<AtomicUsize>,
    /// Calls wait for a permit when set, so that a test can hold them in flight.
    gate: Arc<Mutex<Option<Arc<Semaphore>>>>,
    issuer: Arc<Mutex<String>>,
}

struct StandIn {
    endpoint: Endpoint,
    served: Served,
}

impl StandIn {
    async fn start() -> Self {
        let endpoint = Endpoint {
            script: Arc::default(),
            calls: Arc::default(),
            gate: Arc::default(),
            issuer: Arc::default(),
        };
        let app = Router::new()
            .route("/introspect", post(introspect))
            .route("/.well-known/openid-configuration", get(metadata))
            .with_state(endpoint.clone());
        let served = serve(app).await;
        *endpoint.issuer.lock().unwrap() = served.base.clone();
        Self { endpoint, served }
    }

    fn issuer(&self) -> &str {
        &self.served.base
    }

    fn url(&self) -> String {
        format!("{}/introspect", self.served.base)
    }

    fn calls(&self) -> usize {
        self.endpoint.calls.load(Ordering::SeqCst)
    }

    fn set(&self, token: &str, response: Value) {
        let mut script = self.endpoint.script.lock().unwrap();
        script.tokens.insert(token.to_owned(), response);
    }

    fn fail(&self, status: Option<u16>) {
        self.endpoint.script.lock().unwrap().status = status;
    }

    fn last_call(&self) -> (Option<String>, Vec<(String, String)>) {
        let s = self.endpoint.script.lock().unwrap();
        (s.last_authorization.clone(), s.last_form.clone())
    }
}

async fn introspect(
    State(endpoint): State<Endpoint>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, Json<Value>) {
    endpoint.calls.fetch_add(1, Ordering::SeqCst);
    let gate = endpoint.gate.lock().unwrap().clone();
    if let Some(gate) = gate {
        let _permit = gate.acquire().await.unwrap();
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let mut script = endpoint.script.lock().unwrap();
    script.last_authorization = headers
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_owned());
    script.last_form = form.clone();
    if let Some(status) = script.status {
        return (
            StatusCode::from_u16(status).unwrap(),
            Json(json!({"error": "server_error"})),
        );
    }
    let token = form
        .iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let answer = script
        .tokens
        .get(&token)
        .cloned()
        .unwrap_or(json!({"active": false}));
    (StatusCode::OK, Json(answer))
}

async fn metadata(State(endpoint): State<Endpoint>) -> Json<Value> {
    let issuer = endpoint.issuer.lock().unwrap().clone();
    Json(json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}/token"),
        "introspection_endpoint": format!("{issuer}/introspect"),
    }))
}

/// The error and its sources, joined.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut next = err.source();
    while let Some(e) = next {
        text.push_str(": ");
        text.push_str(&e.to_string());
        next = e.source();
    }
    text
}

/// Who the caller is: the subject, or `client:` and the client when the credential names no
/// subject.
async fn whoami(claims: Claims) -> String {
    let grant = claims.grant();
    let caller = if grant.is_client_only() {
        format!("client:{}", grant.client_id().unwrap_or("?"))
    } else {
        grant.sub().to_owned()
    };
    format!(
        "{caller} {:?} {}",
        grant.credential(),
        grant.scopes().collect::<Vec<_>>().join(",")
    )
}

/// An app protected by `auth`, served on loopback; `GET /` answers who the caller is.
async fn app(auth: JwtAuth) -> Served {
    serve(Router::new().route("/", get(whoami)).layer(auth)).await
}

/// `GET /` with the token, over one kept-alive client (thousands of requests per test).
async fn call(served: &Served, token: &str) -> reqwest::Response {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    let client = CLIENT.get_or_init(reqwest::Client::new);
    let url = format!("{}/", served.base);
    client.get(url).bearer_auth(token).send().await.unwrap()
}

fn active(clock: &ManualClock, scope: &str) -> Value {
    use tower_jwt_auth::Clock;
    json!({
        "active": true,
        "client_id": "flip-integration",
        "scope": scope,
        "exp": clock.now() + 3600,
        "iat": clock.now(),
        "token_type": "Bearer",
    })
}

fn auth_for(stand_in: &StandIn, clock: &ManualClock) -> JwtAuth {
    JwtAuth::new(stand_in.issuer(), "utility-api")
        .introspection(Introspection::new(stand_in.url(), CLIENT_ID, CLIENT_SECRET))
        .clock(clock.clone())
}

#[tokio::test]
async fn one_token_costs_one_call_however_many_requests_carry_it() {
    let stand_in = StandIn::start().await;
    let clock = ManualClock::starting_now();
    stand_in.set("opaque-1", active(&clock, "insights.read"));
    let served = app(auth_for(&stand_in, &clock)).await;

    for _ in 0..1000 {
        let res = call(&served, "opaque-1").await;
        assert_eq!(res.status(), 200);
    }
    assert_eq!(
        stand_in.calls(),
        1,
        "1,000 requests, one introspection call"
    );
    let body = call(&served, "opaque-1").await.text().await.unwrap();
    assert_eq!(body, "client:flip-integration Introspected insights.read");

    // The call was an RFC 7662 request with client_secret_basic, credentials form-encoded.
    let (authorization, form) = stand_in.last_call();
    use base64::Engine as _;
    let expected = base64::engine::general_purpose::STANDARD
        .encode("rs-client:rs-secret%3Awith%2Fodd%26chars");
    assert_eq!(authorization.unwrap(), format!("Basic {expected}"));
    assert!(form.contains(&("token".into(), "opaque-1".into())));
    assert!(form.contains(&("token_type_hint".into(), "access_token".into())));
    assert!(!form.iter().any(|(k, _)| k == "client_secret"));

    // An accepted token is remembered 5 minutes (the default bound), then asked again.
    clock.advance(Duration::from_secs(299));
    assert_eq!(call(&served, "opaque-1").await.status(), 200);
    assert_eq!(stand_in.calls(), 1);
    clock.advance(Duration::from_secs(2));
    assert_eq!(call(&served, "opaque-1").await.status(), 200);
    assert_eq!(stand_in.calls(), 2);
}

#[tokio::test]
async fn concurrent_requests_with_one_token_share_one_call() {
    let stand_in = StandIn::start().await;
    let clock = ManualClock::starting_now();
    stand_in.set("opaque-1", active(&clock, "insights.read"));
    // Without a cache, only the single flight can keep this to one call.
    let auth = JwtAuth::new(stand_in.issuer(), "utility-api")
        .introspection(
            Introspection::new(stand_in.url(), CLIENT_ID, CLIENT_SECRET).cache_capacity(0),
        )
        .clock(clock.clone());
    let entered = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&entered);
    let app = Router::new()
        .route("/", get(whoami))
        .layer(auth)
        .layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                counter.fetch_add(1, Ordering::SeqCst);
                next.run(req)
            },
        ));
    let served = serve(app).await;
    // The endpoint holds its answer until every request has reached the layer. On this
    // single-threaded runtime a request that reached it has also joined the call in flight.
    let gate = Arc::new(Semaphore::new(0));
    *stand_in.endpoint.gate.lock().unwrap() = Some(Arc::clone(&gate));
    let url = format!("{}/", served.base);
    let requests: Vec<_> = (0..50)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { common::get(&url, Some("opaque-1")).await.status() })
        })
        .collect();
    for _ in 0..5000 {
        if entered.load(Ordering::SeqCst) == 50 && stand_in.calls() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(entered.load(Ordering::SeqCst), 50);
    gate.add_permits(1000);
    for r in requests {
        assert_eq!(r.await.unwrap(), 200);
    }
    assert_eq!(stand_in.calls(), 1, "50 concurrent requests, one call");
    // Once it is over, the next request asks again: nothing was remembered.
    *stand_in.endpoint.gate.lock().unwrap() = None;
    assert_eq!(call(&served, "opaque-1").await.status(), 200);
    assert_eq!(stand_in.calls(), 2);
}

#[tokio::test]
async fn a_remembered_token_is_asked_again_at_its_exp() {
    use tower_jwt_auth::Clock;
    let stand_in = StandIn::start().await;
    let clock = ManualClock::starting_now();
    let mut answer = active(&clock, "insights.read");
    answer["exp"] = json!(clock.now() + 30);
    stand_in.set("short-lived", answer);
    let served = app(auth_for(&stand_in, &clock)).await;
    assert_eq!(call(&served, "short-lived").await.status(), 200);
    clock.advance(Duration::from_secs(29));
    assert_eq!(call(&served, "short-lived").await.status(), 200);
    assert_eq!(stand_in.calls(), 1);
    // Past its exp (within the leeway the endpoint still says active): a new call.
    clock.advance(Duration::from_secs(2));
    assert_eq!(call(&served, "short-lived").await.status(), 200);
    assert_eq!(stand_in.calls(), 2);
    // Past exp plus the leeway, an endpoint that still says active is not believed.
    clock.advance(Duration::from_secs(120));
    let res = call(&served, "short-lived").await;
    assert_eq!(res.status(), 401);
    assert!(www_authenticate(&res).contains(r#"error="invalid_token""#));
}

#[tokio::test]
async fn a_revoked_token_is_refused_once_its_remembered_verdict_ends() {
    let stand_in = StandIn::start().await;
    let clock = ManualClock::starting_now();
    stand_in.set("revocable", active(&clock, "insights.read"));
    let auth = auth_for(&stand_in, &clock);
    let auth = auth.introspection(
        Introspection::new(stand_in.url(), CLIENT_ID, CLIENT_SECRET)
            .cache_ttl(Duration::from_secs(10)),
    );
    let served = app(auth).await;
    assert_eq!(call(&served, "revocable").await.status(), 200);
    stand_in.set("revocable", json!({"active": false}));
    assert_eq!(
        call(&served, "revocable").await.status(),
        200,
        "still cached"
    );
    clock.advance(Duration::from_secs(11));
    let res = call(&served, "revocable").await;
    assert_eq!(res.status(), 401);
    let challenge = www_authenticate(&res);
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    assert!(
        challenge.contains(r#"error_description="the token is not active""#),
        "{challenge}"
    );
    assert_eq!(stand_in.calls(), 2);

    // A dead token replayed: one call per inactive window (30 s by default), not per request.
    for _ in 0..100 {
        assert_eq!(call(&served, "revocable").await.status(), 401);
    }
    assert_eq!(stand_in.calls(), 2);
    clock.advance(Duration::from_secs(31));
    assert_eq!(call(&served, "revocable").await.status(), 401);
    assert_eq!(stand_in.calls(), 3);
}

#[tokio::test]
async fn a_flood_of_invented_tokens_costs_one_call_each_and_bounded_memory() {
    let stand_in = StandIn::start().await;
    let clock = ManualClock::starting_now();
    let auth = JwtAuth::new(stand_in.issuer(), "utility-api")
        .introspection(Introspection::new(stand_in.url(), CLIENT_ID, CLIENT_SECRET))
        .clock(clock.clone());
    let served = app(auth).await;
    let tokens: Vec<String> = (0..300).map(|i| format!("invented-{i:04}-x")).collect();
    for _ in 0..3 {
        for token in &tokens {
            assert_eq!(call(&served, token).await.status(), 401);
        }
    }
    assert_eq!(
        stand_in.calls(),
        300,
        "one call per distinct token per window"
    );

    // With a bound of 50 remembered verdicts, 300 invented tokens cannot all stay: replaying
    // them costs calls again (the memory is bounded, the verdicts are not all kept).
    let bounded = JwtAuth::new(stand_in.issuer(), "utility-api")
        .introspection(
            Introspection::new(stand_in.url(), CLIENT_ID, CLIENT_SECRET).cache_capacity(50),
        )
        .clock(clock.clone());
    let served = app(bounded).await;
    let before = stand_in.calls();
    for _ in 0..2 {
        for token in &tokens {
            assert_eq!(call(&served, token).await.status(), 401);
        }
    }
    let made = stand_in.calls() - before;
    assert!(
        made >= 300 + 200,
        "{made} calls: at most 50 of 300 verdicts may be remembered"
    );
}

#[tokio::test]
async fn the_endpoint_failing_is_503_with_retry_after_and_never_cached() {
    let stand_in = StandIn::start().await;
    let clock = ManualClock::starting_now();
    stand_in.set("opaque-2", active(&clock, "insights.read"));
    let served = app(auth_for(&stand_in, &clock)).await;
    for status in [500, 502, 503, 401] {
        stand_in.fail(Some(status));
        let res = call(&served, "opaque-2").await;
        assert_eq!(res.status(), 503, "endpoint status {status}");
        assert!(res.headers().contains_key("retry-after"));
        assert!(!res.headers().contains_key("www-authenticate"));
    }
    stand_in.fail(None);
    assert_eq!(
        call(&served, "opaque-2").await.status(),
        200,
        "nothing cached"
    );
    assert_eq!(stand_in.calls(), 5);

    // Nothing listening at all.
    let down = JwtAuth::new(stand_in.issuer(), "utility-api")
        .introspection(Introspection::new(
            format!("{}/introspect", closed_port_url().await),
            CLIENT_ID,
            CLIENT_SECRET,
        ))
        .clock(clock.clone());
    let err = down.verify("opaque-2").await.unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::ValidationUnavailable);
    let text = chain(&err);
    assert!(text.contains("connection refused"), "{text}");
    assert!(err.retry_after().is_some());
}

#[tokio::test]
async fn a_hanging_endpoint_is_bounded_by_the_fetch_timeout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/introspect", listener.local_addr().unwrap());
    let clock = ManualClock::starting_now();
    let auth = JwtAuth::new("https://oauth.flip.energy", "utility-api")
        .introspection(Introspection::new(url, CLIENT_ID, CLIENT_SECRET))
        .key_fetching(KeyFetching {
            connect_timeout: Duration::from_millis(200),
            timeout: Duration::from_millis(300),
            ..KeyFetching::default()
        })
        .clock(clock);
    let started = std::time::Instant::now();
    let err = auth.verify("opaque-3").await.unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::ValidationUnavailable);
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(listener);
}

#[tokio::test]
async fn responses_for_another_audience_or_issuer_or_already_expired_are_refused() {
    use tower_jwt_auth::Clock;
    let stand_in = StandIn::start().await;
    let clock = ManualClock::starting_now();
    let base = active(&clock, "insights.read");
    let with = |member: &str, value: Value| {
        let mut v = base.clone();
        v[member] = value;
        v
    };
    stand_in.set("other-aud", with("aud", json!(["billing-api"])));
    stand_in.set(
        "our-aud",
        with("aud", json!(["billing-api", "utility-api"])),
    );
    stand_in.set("other-iss", with("iss", json!("https://evil.example")));
    stand_in.set("our-iss", with("iss", json!(stand_in.issuer())));
    stand_in.set("expired", with("exp", json!(clock.now() - 3600)));
    stand_in.set(
        "bound",
        with(
            "cnf",
            json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}),
        ),
    );
    stand_in.set("delegated", with("sub", json!("user-1042")));
    let auth = auth_for(&stand_in, &clock);
    let served = app(auth.clone()).await;
    for (token, status) in [
        ("other-aud", 401),
        ("our-aud", 200),
        ("other-iss", 401),
        ("our-iss", 200),
        ("expired", 401),
        ("bound", 401),
        ("delegated", 200),
    ] {
        assert_eq!(call(&served, token).await.status(), status, "{token}");
    }
    let kind = |token: &'static str| {
        let auth = auth.clone();
        async move { auth.verify(token).await.unwrap_err().kind() }
    };
    assert_eq!(kind("other-aud").await, AuthErrorKind::InvalidAudience);
    assert_eq!(kind("other-iss").await, AuthErrorKind::InvalidIssuer);
    assert_eq!(kind("expired").await, AuthErrorKind::Expired);
    assert_eq!(kind("bound").await, AuthErrorKind::BoundToken);
    let claims = auth.verify("delegated").await.unwrap();
    assert_eq!(claims.sub, "user-1042");
    assert_eq!(claims.grant().client_id(), Some("flip-integration"));
    assert_eq!(claims.iss, stand_in.issuer());
}

#[tokio::test]
async fn scopes_sub_type_and_optional_apply_to_introspected_tokens() {
    let stand_in = StandIn::start().await;
    let clock = ManualClock::starting_now();
    stand_in.set("reader", active(&clock, "insights.read"));
    let mut user = active(&clock, "insights.read insights.write");
    user["sub"] = json!("user-1042");
    user["sub_type"] = json!("user");
    stand_in.set("user", user);
    let auth = auth_for(&stand_in, &clock);
    let app = Router::new()
        .route(
            "/write",
            get(whoami).layer(auth.clone().require_scopes(["insights.write"])),
        )
        .route(
            "/user",
            get(whoami).layer(auth.clone().require_sub_type("user")),
        )
        .route(
            "/maybe",
            get(|grant: Option<axum::Extension<Grant>>| async move {
                grant.map_or("anonymous".to_owned(), |g| g.sub().to_owned())
            })
            .layer(auth.clone().optional()),
        );
    let served = serve(app).await;
    let at = |path: &str| format!("{}{path}", served.base);
    let res = common::get(&at("/write"), Some("reader")).await;
    assert_eq!(res.status(), 403);
    assert!(www_authenticate(&res).contains(r#"scope="insights.write""#));
    assert_eq!(common::get(&at("/write"), Some("user")).await.status(), 200);
    assert_eq!(
        common::get(&at("/user"), Some("reader")).await.status(),
        403
    );
    assert_eq!(common::get(&at("/user"), Some("user")).await.status(), 200);
    let res = common::get(&at("/maybe"), None).await;
    assert_eq!(res.text().await.unwrap(), "anonymous");
    let res = common::get(&at("/maybe"), Some("user")).await;
    assert_eq!(res.text().await.unwrap(), "user-1042");
    assert_eq!(common::get(&at("/maybe"), Some("nope")).await.status(), 401);
    // Three derived layers, one authenticator: one call per token.
    assert_eq!(stand_in.calls(), 3);
}

#[tokio::test]
async fn client_secret_post_and_an_endpoint_from_metadata() {
    let stand_in = StandIn::start().await;
    let clock = ManualClock::starting_now();
    stand_in.set("opaque-4", active(&clock, "insights.read"));
    let auth = JwtAuth::new(stand_in.issuer(), "utility-api")
        .introspection(Introspection::from_metadata(CLIENT_ID, CLIENT_SECRET).client_secret_post())
        .clock(clock.clone());
    let claims = auth.verify("opaque-4").await.unwrap();
    assert_eq!(claims.grant().credential(), Credential::Introspected);
    let (authorization, form) = stand_in.last_call();
    assert_eq!(authorization, None);
    assert!(form.contains(&("client_id".into(), CLIENT_ID.into())));
    assert!(form.contains(&("client_secret".into(), CLIENT_SECRET.into())));

    // Metadata without an introspection_endpoint: 503 that says what is missing.
    let issuer = TestIssuer::start().await;
    let auth = JwtAuth::new(issuer.url(), "utility-api")
        .introspection(Introspection::from_metadata(CLIENT_ID, CLIENT_SECRET));
    let err = auth.verify("opaque-5").await.unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::ValidationUnavailable);
    assert!(
        chain(&err).contains("introspection_endpoint"),
        "{}",
        chain(&err)
    );
}

#[tokio::test]
async fn jwts_are_still_verified_locally_beside_introspection() {
    let issuer = TestIssuer::start().await;
    let stand_in = StandIn::start().await;
    let clock = ManualClock::starting_now();
    let mut opaque = active(&clock, "insights.read");
    opaque["iss"] = json!(issuer.url());
    stand_in.set("opaque-6", opaque);
    let auth = JwtAuth::new(issuer.url(), "insights-api").introspection(Introspection::new(
        stand_in.url(),
        CLIENT_ID,
        CLIENT_SECRET,
    ));
    let served = app(auth).await;
    let jwt = issuer.token().scopes(["insights.read"]).sign();
    let res = call(&served, &jwt).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Jwt"));
    assert_eq!(stand_in.calls(), 0, "a JWT never goes to the endpoint");
    // A JWT with a bad signature is refused locally, not introspected.
    let mut forged = jwt.clone();
    forged.truncate(forged.len() - 4);
    forged.push_str("AAAA");
    assert_eq!(call(&served, &forged).await.status(), 401);
    assert_eq!(stand_in.calls(), 0);
    let res = call(&served, "opaque-6").await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Introspected"));
    assert_eq!(stand_in.calls(), 1);
}

#[test]
fn opaque_tokens_without_introspection_are_invalid_and_the_secret_never_shows() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let captured = Captured::default();
    let _guard = captured.install();
    rt.block_on(async {
        let auth = JwtAuth::new("https://oauth.flip.energy", "utility-api");
        let err = auth.verify("opaque-token").await.unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::Malformed);
        let auth = auth.introspection(Introspection::new(
            "http://127.0.0.1:1/introspect",
            CLIENT_ID,
            CLIENT_SECRET,
        ));
        assert!(!format!("{auth:?}").contains(CLIENT_SECRET));
        let err = auth.verify("opaque-token").await.unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::ValidationUnavailable);
        let bad = JwtAuth::new("https://oauth.flip.energy", "utility-api").introspection(
            Introspection::new("http://oauth.flip.energy/introspect", CLIENT_ID, "s"),
        );
        assert_eq!(bad.validate().unwrap_err().field(), "introspection");
        let bad = JwtAuth::new("https://oauth.flip.energy", "utility-api")
            .introspection(Introspection::new("https://oauth.flip.energy/i", "", "s"));
        assert_eq!(bad.validate().unwrap_err().field(), "introspection");
    });
    let logs = captured.text();
    assert!(!logs.contains(CLIENT_SECRET), "{logs}");
    assert!(!logs.contains("opaque-token"), "{logs}");
}

#[tokio::test]
async fn each_issuer_may_have_its_own_introspection_endpoint_asked_in_turn() {
    use tower_jwt_auth::Issuer;
    let production = StandIn::start().await;
    let legacy = StandIn::start().await;
    let clock = ManualClock::starting_now();
    production.set("prod-token", active(&clock, "insights.read"));
    let mut legacy_answer = active(&clock, "insights.read");
    legacy_answer["iss"] = json!(legacy.issuer());
    legacy_answer["aud"] = json!("legacy-api");
    legacy.set("legacy-token", legacy_answer);
    let auth = auth_for(&production, &clock)
        .add_issuer(
            Issuer::new(legacy.issuer())
                .audience("legacy-api")
                .introspection(Introspection::from_metadata("legacy-rs", "legacy-secret")),
        )
        .introspection_in_turn();
    let claims = auth.verify("prod-token").await.unwrap();
    assert_eq!(claims.grant().issuer(), production.issuer());
    assert_eq!(
        (production.calls(), legacy.calls()),
        (1, 0),
        "the primary's first"
    );
    // Inactive at the primary, active at the legacy issuer, checked with its own audience.
    let claims = auth.verify("legacy-token").await.unwrap();
    assert_eq!(claims.grant().issuer(), legacy.issuer());
    assert_eq!((production.calls(), legacy.calls()), (2, 1));
    // Unknown everywhere: each asked once, then the refusal is remembered for both.
    for _ in 0..3 {
        let err = auth.verify("nobody").await.unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::InactiveToken);
    }
    assert_eq!((production.calls(), legacy.calls()), (3, 2));
    // The primary down: a token the legacy issuer knows still passes; one it does not know
    // is 503 (it might have been the primary's), and is not remembered.
    production.fail(Some(503));
    legacy.set("legacy-2", {
        let mut v = active(&clock, "insights.read");
        v["aud"] = json!("legacy-api");
        v
    });
    assert!(auth.verify("legacy-2").await.is_ok());
    let err = auth.verify("nobody-2").await.unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::ValidationUnavailable);
    production.fail(None);
    assert_eq!(
        auth.verify("nobody-2").await.unwrap_err().kind(),
        AuthErrorKind::InactiveToken
    );

    let template = JwtAuth::new(production.issuer(), "utility-api").add_issuer(
        Issuer::tenants("https://login.example/{tenant}/v2.0", ["t-1"])
            .introspection(Introspection::from_metadata("rs", "s")),
    );
    assert_eq!(template.validate().unwrap_err().field(), "add_issuer");
}
