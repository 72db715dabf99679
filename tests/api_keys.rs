//! API keys beside JWTs in the same header (Flip's `Bearer fl_…`): routed by prefix, judged by
//! the in-memory digest store or an application's own asynchronous validator, with the same
//! scopes and answers as tokens.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use common::{serve, www_authenticate, Captured, Served};
use tower::ServiceExt;
use tower_jwt_auth::testing::TestIssuer;
use tower_jwt_auth::{
    api_key::ApiKey, api_key::ApiKeyError, api_key::ApiKeyFn, api_key::ApiKeyGrant,
    api_key::ApiKeyStore, api_key::ApiKeyValidator, api_key::KeyDigest, AuthErrorKind, Claims,
    Credential, JwtAuth, ManualClock,
};

const READER_KEY: &str = "fl_live_3b1f0c9e6a2d4f8b";
const WRITER_KEY: &str = "fl_live_8d2e7a4c1b9f0e3a";

async fn whoami(claims: Claims) -> String {
    let grant = claims.grant();
    format!("{} {:?}", grant.sub(), grant.credential())
}

fn store() -> ApiKeyStore {
    let keys = ApiKeyStore::new();
    keys.insert(
        READER_KEY,
        ApiKeyGrant::new("org-reader")
            .scopes(["insights.read"])
            .sub_type("organisation"),
    );
    keys.insert_digest(
        KeyDigest::of(WRITER_KEY),
        ApiKeyGrant::new("org-writer").scopes(["insights.read", "insights.write"]),
    );
    keys
}

async fn call(served: &Served, path: &str, token: &str) -> reqwest::Response {
    common::get(&format!("{}{path}", served.base), Some(token)).await
}

#[tokio::test]
async fn one_route_takes_jwts_and_keys_and_enforces_the_same_scopes() {
    let issuer = TestIssuer::start().await;
    let keys = store();
    let auth = JwtAuth::new(issuer.url(), "insights-api").api_keys("fl_", keys.clone());
    let app = Router::new()
        .route(
            "/read",
            get(whoami).layer(auth.clone().require_scopes(["insights.read"])),
        )
        .route(
            "/write",
            get(whoami).layer(auth.clone().require_scopes(["insights.write"])),
        );
    let served = serve(app).await;

    let reader_jwt = issuer
        .token()
        .sub("client-1")
        .scopes(["insights.read"])
        .sign();
    let res = call(&served, "/read", &reader_jwt).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "client-1 Jwt");
    let res = call(&served, "/read", READER_KEY).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "org-reader ApiKey");

    for token in [reader_jwt.as_str(), READER_KEY] {
        let res = call(&served, "/write", token).await;
        assert_eq!(res.status(), 403);
        let challenge = www_authenticate(&res);
        assert!(
            challenge.contains(r#"error="insufficient_scope""#),
            "{challenge}"
        );
        assert!(
            challenge.contains(r#"scope="insights.write""#),
            "{challenge}"
        );
    }
    assert_eq!(call(&served, "/write", WRITER_KEY).await.status(), 200);

    // Unknown keys: 401 invalid_token, whatever their shape after the prefix.
    for unknown in ["fl_live_0000000000000000", "fl_", "fl_eyJhbGciOi.x.y"] {
        let res = call(&served, "/read", unknown).await;
        assert_eq!(res.status(), 401, "{unknown}");
        let challenge = www_authenticate(&res);
        assert!(
            challenge.contains(r#"error="invalid_token""#),
            "{challenge}"
        );
        assert!(
            challenge.contains(r#"error_description="the API key is not known""#),
            "{challenge}"
        );
    }

    // Revoked while running: refused on the next request.
    assert!(keys.remove(READER_KEY));
    assert_eq!(call(&served, "/read", READER_KEY).await.status(), 401);
    keys.insert(
        READER_KEY,
        ApiKeyGrant::new("org-reader-2").scopes(["insights.read"]),
    );
    let res = call(&served, "/read", READER_KEY).await;
    assert_eq!(res.text().await.unwrap(), "org-reader-2 ApiKey");
}

#[tokio::test]
async fn the_longest_prefix_wins_and_sub_type_and_optional_apply() {
    let live = ApiKeyStore::new();
    live.insert(
        READER_KEY,
        ApiKeyGrant::new("live").sub_type("organisation"),
    );
    let any = ApiKeyStore::new();
    any.insert("fl_test_1", ApiKeyGrant::new("test"));
    any.insert(READER_KEY, ApiKeyGrant::new("shadowed"));
    let auth = JwtAuth::new("https://oauth.flip.energy", "utility-api")
        .api_keys("fl_", any)
        .api_keys("fl_live_", live);
    assert_eq!(auth.verify(READER_KEY).await.unwrap().sub, "live");
    assert_eq!(auth.verify("fl_test_1").await.unwrap().sub, "test");
    let org = auth.clone().require_sub_type("organisation");
    assert_eq!(org.verify(READER_KEY).await.unwrap().sub, "live");
    assert_eq!(
        org.verify("fl_test_1").await.unwrap_err().kind(),
        AuthErrorKind::SubTypeMismatch
    );

    let app = Router::new()
        .route(
            "/",
            get(|claims: Option<axum::Extension<Claims>>| async move {
                claims.map_or("anonymous".into(), |c| c.sub.clone())
            }),
        )
        .layer(auth.optional());
    let served = serve(app).await;
    let res = common::get(&format!("{}/", served.base), None).await;
    assert_eq!(res.text().await.unwrap(), "anonymous");
    assert_eq!(
        call(&served, "/", READER_KEY).await.text().await.unwrap(),
        "live"
    );
    assert_eq!(call(&served, "/", "fl_nope").await.status(), 401);
}

/// A validator backed by "a database": asynchronous, counting, and failing on demand.
#[derive(Clone, Default)]
struct Database {
    calls: Arc<AtomicUsize>,
    down: Arc<std::sync::atomic::AtomicBool>,
}

impl ApiKeyValidator for Database {
    async fn validate(&self, key: &ApiKey) -> Result<Option<ApiKeyGrant>, ApiKeyError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        // A real round trip would suspend here; so does this.
        tokio::task::yield_now().await;
        if self.down.load(Ordering::SeqCst) {
            return Err(ApiKeyError::with_source(
                "the key database is unreachable",
                std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused"),
            ));
        }
        let known = key.digest() == KeyDigest::of(WRITER_KEY);
        assert_eq!(key.prefix(), "fl_");
        Ok(known.then(|| ApiKeyGrant::new("org-db").scopes(["insights.read"])))
    }
}

#[tokio::test]
async fn an_asynchronous_validator_is_asked_once_per_request_and_its_failure_is_503() {
    let db = Database::default();
    let auth = JwtAuth::new("https://oauth.flip.energy", "utility-api")
        .api_keys("fl_", db.clone())
        .require_scopes(["insights.read"]);
    let served = serve(Router::new().route("/", get(whoami)).layer(auth)).await;
    let res = call(&served, "/", WRITER_KEY).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "org-db ApiKey");
    assert_eq!(call(&served, "/", READER_KEY).await.status(), 401);
    assert_eq!(db.calls.load(Ordering::SeqCst), 2);

    db.down.store(true, Ordering::SeqCst);
    let res = call(&served, "/", WRITER_KEY).await;
    assert_eq!(
        res.status(),
        503,
        "the validator's failure is not the key's fault"
    );
    assert!(res.headers().contains_key("retry-after"));
    db.down.store(false, Ordering::SeqCst);
    assert_eq!(
        call(&served, "/", WRITER_KEY).await.status(),
        200,
        "not cached"
    );
    assert_eq!(db.calls.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn keys_expire_on_the_injected_clock_and_closures_validate() {
    use tower_jwt_auth::Clock;
    let clock = ManualClock::starting_now();
    let expires = clock.now() + 3600;
    let keys = ApiKeyStore::new();
    keys.insert(READER_KEY, ApiKeyGrant::new("org").expires_at(expires));
    let auth = JwtAuth::new("https://oauth.flip.energy", "utility-api")
        .api_keys("fl_", keys)
        .api_keys(
            "sk-",
            ApiKeyFn::new(|key: ApiKey| async move {
                Ok(match key.expose() {
                    "sk-valid" => Some(
                        ApiKeyGrant::new("svc")
                            .client_id("svc-client")
                            .claim("team", "metering"),
                    ),
                    "sk-plain" => Some(ApiKeyGrant::new("plain")),
                    _ => None,
                })
            }),
        )
        .clock(clock.clone());
    let claims = auth.verify(READER_KEY).await.unwrap();
    assert_eq!(claims.grant().credential(), Credential::ApiKey);
    assert_eq!(claims.exp, expires);
    assert_eq!(claims.grant().expires_at(), expires);
    clock.advance(Duration::from_secs(3600 + 61));
    assert_eq!(
        auth.verify(READER_KEY).await.unwrap_err().kind(),
        AuthErrorKind::Expired
    );
    let svc = auth.verify("sk-valid").await.unwrap();
    assert_eq!(svc.grant().client_id(), Some("svc-client"));
    assert_eq!(svc.client_id.as_deref(), Some("svc-client"));
    assert_eq!(svc.aud.0, ["utility-api"]);
    // No OAuth issuer vouches for an API key: the grant says which validator did.
    assert_eq!(svc.iss, "api-key:sk-");
    assert_eq!(svc.grant().issuer(), "api-key:sk-");
    assert_eq!(
        auth.verify("sk-other").await.unwrap_err().kind(),
        AuthErrorKind::UnknownApiKey
    );

    // Claims of the application's own type, from the grant's own claims.
    #[derive(Debug, serde::Deserialize)]
    struct Mine {
        sub: String,
        team: String,
    }
    let mine = auth.clone().with_claims::<Mine>();
    let claims = mine.verify("sk-valid").await.unwrap();
    assert_eq!(
        (claims.sub.as_str(), claims.team.as_str()),
        ("svc", "metering")
    );
    // A grant that does not fit the claims type is refused, not a panic.
    assert_eq!(
        mine.verify("sk-plain").await.unwrap_err().kind(),
        AuthErrorKind::InvalidClaim
    );
}

#[test]
fn keys_never_appear_in_logs_debug_or_responses() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let captured = Captured::default();
    let _guard = captured.install();
    let secret_tail = "9f8e7d6c5b4a3210";
    let key = format!("fl_live_{secret_tail}");
    let keys = ApiKeyStore::new();
    keys.insert(&key, ApiKeyGrant::new("org"));
    let failing = ApiKeyFn::new(|_key: ApiKey| async { Err(ApiKeyError::new("database down")) });
    let auth = JwtAuth::new("https://oauth.flip.energy", "utility-api")
        .api_keys("fl_", keys.clone())
        .api_keys("zz_", failing)
        .require_scopes(["insights.read"]);
    let debug = format!("{auth:?} {keys:?} {:?}", ApiKey::new(key.as_str()));
    assert!(!debug.contains(secret_tail), "{debug}");
    rt.block_on(async {
        let app = Router::new().route("/", get(whoami)).layer(auth);
        let mut bodies = String::new();
        for token in [
            key.clone(),
            format!("fl_live_x{secret_tail}"),
            format!("zz_{secret_tail}"),
        ] {
            let req = http::Request::get("/")
                .header("authorization", format!("Bearer {token}"))
                .body(axum::body::Body::empty())
                .unwrap();
            let res = app.clone().oneshot(req).await.unwrap();
            bodies.push_str(&format!("{:?}", res.headers()));
            let body = axum::body::to_bytes(res.into_body(), 1 << 16)
                .await
                .unwrap();
            bodies.push_str(&String::from_utf8_lossy(&body));
        }
        assert!(!bodies.contains(secret_tail), "{bodies}");
        assert!(bodies.contains("insufficient_scope"), "{bodies}");
        assert!(bodies.contains("invalid_token"), "{bodies}");
        assert!(bodies.contains("temporarily_unavailable"), "{bodies}");
    });
    let logs = captured.text();
    assert!(logs.contains("prefix \"fl_\""), "{logs}");
    assert!(logs.contains("database down"), "{logs}");
    assert!(!logs.contains(secret_tail), "{logs}");
}

#[test]
fn unusable_prefixes_stop_the_service_at_startup() {
    let base = || JwtAuth::new("https://oauth.flip.energy", "utility-api");
    for (auth, needle) in [
        (
            base().api_keys("fl_", store()).api_keys("fl_", store()),
            "twice",
        ),
        (base().api_keys("", store()), "empty"),
        (base().api_keys("ey", store()), "JWT"),
        (base().api_keys("fl key", store()), "characters"),
    ] {
        let err = auth.validate().expect_err("refused").clone();
        assert_eq!(err.field(), "api_keys");
        assert!(err.reason().contains(needle), "{err}");
        let panic = std::panic::catch_unwind(|| Router::<()>::new().layer(auth)).unwrap_err();
        let message = panic.downcast_ref::<String>().unwrap();
        assert!(message.contains("`api_keys`"), "{message}");
    }
    assert!(KeyDigest::from_hex("zz").is_err());
}

/// Claims of the application's own type, counting how often they are built.
#[derive(Debug)]
struct Counted {
    sub: String,
}

static BUILT: AtomicUsize = AtomicUsize::new(0);

impl<'de> serde::Deserialize<'de> for Counted {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        struct Raw {
            sub: String,
        }
        BUILT.fetch_add(1, Ordering::SeqCst);
        Raw::deserialize(d).map(|r| Counted { sub: r.sub })
    }
}

#[tokio::test]
async fn a_stored_grant_becomes_claims_once_and_again_when_replaced() {
    let keys = ApiKeyStore::new();
    keys.insert("fl_live_counted_0001", ApiKeyGrant::new("org-1"));
    let auth = JwtAuth::new("https://oauth.flip.energy", "utility-api")
        .with_claims::<Counted>()
        .api_keys("fl_", keys.clone());
    for _ in 0..100 {
        let claims = auth.verify("fl_live_counted_0001").await.unwrap();
        assert_eq!(claims.sub, "org-1");
    }
    assert_eq!(
        BUILT.load(Ordering::SeqCst),
        1,
        "built once for 100 requests"
    );
    // The key's grant replaced at run time: the next request sees the new grant.
    keys.insert("fl_live_counted_0001", ApiKeyGrant::new("org-2"));
    for _ in 0..10 {
        let claims = auth.verify("fl_live_counted_0001").await.unwrap();
        assert_eq!(claims.sub, "org-2");
    }
    assert_eq!(BUILT.load(Ordering::SeqCst), 2);
}
