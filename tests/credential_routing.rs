//! A credential goes only to the server that can judge it, and a grant never presents one
//! kind of identifier as another — over real HTTP on 127.0.0.1, with stand-in introspection
//! endpoints that record every token shown to them.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use common::{get as call, serve, www_authenticate};
use serde_json::{json, Value};
use tower_jwt_auth::{
    api_key::ApiKeyGrant, api_key::ApiKeyStore, api_key::KeyDigest, Claims, Introspection, Issuer,
    JwtAuth,
};

/// An authorization server's introspection endpoint: knows its own tokens, records every
/// token it is shown.
#[derive(Clone, Default)]
struct Server {
    known: Arc<Mutex<Vec<(String, Value)>>>,
    shown: Arc<Mutex<Vec<String>>>,
}

struct Running {
    server: Server,
    served: common::Served,
}

impl Running {
    async fn start() -> Self {
        let server = Server::default();
        let app = Router::new()
            .route("/introspect", post(introspect))
            .with_state(server.clone());
        Self {
            server,
            served: serve(app).await,
        }
    }

    fn issuer(&self) -> &str {
        &self.served.base
    }

    fn endpoint(&self) -> Introspection {
        Introspection::new(format!("{}/introspect", self.served.base), "rs", "secret")
    }

    fn knows(&self, token: &str, answer: Value) {
        self.server
            .known
            .lock()
            .unwrap()
            .push((token.to_owned(), answer));
    }

    fn shown(&self) -> Vec<String> {
        self.server.shown.lock().unwrap().clone()
    }
}

async fn introspect(State(server): State<Server>, body: String) -> Json<Value> {
    let token = url::form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    server.shown.lock().unwrap().push(token.clone());
    let known = server.known.lock().unwrap();
    let answer = known.iter().find(|(t, _)| *t == token).map(|(_, a)| a);
    Json(answer.cloned().unwrap_or_else(|| json!({"active": false})))
}

fn active(scope: &str) -> Value {
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    json!({"active": true, "scope": scope, "exp": exp, "client_id": "partner-app"})
}

/// `/usage` answering who the caller is, as the grant says.
async fn app(auth: JwtAuth) -> common::Served {
    serve(
        Router::new()
            .route(
                "/usage",
                get(|c: Claims| async move {
                    let g = c.grant();
                    Json(json!({
                        "issuer": g.issuer(),
                        "sub": g.sub(),
                        "client_only": g.is_client_only(),
                        "client_id": g.client_id(),
                        "claims_sub": c.sub,
                        "claims_iss": c.iss,
                    }))
                }),
            )
            .layer(auth),
    )
    .await
}

#[tokio::test]
async fn an_opaque_token_goes_only_to_the_default_endpoint() {
    let primary = Running::start().await;
    let tenant = Running::start().await;
    // The tenant's server knows this token; the primary's does not. It must never be shown to
    // the tenant's server: the primary's endpoint is the default.
    tenant.knows("tenant-token", active("insights.read"));
    primary.knows("primary-token", active("insights.read"));
    let auth = JwtAuth::new(primary.issuer(), "insights-api")
        .introspection(primary.endpoint())
        .add_issuer(Issuer::new(tenant.issuer()).introspection(tenant.endpoint()));
    let served = app(auth).await;
    let url = format!("{}/usage", served.base);

    assert_eq!(call(&url, Some("primary-token")).await.status(), 200);
    let res = call(&url, Some("tenant-token")).await;
    assert_eq!(res.status(), 401, "{}", www_authenticate(&res));
    assert_eq!(primary.shown(), ["primary-token", "tenant-token"]);
    assert!(
        tenant.shown().is_empty(),
        "the tenant's server saw {:?}",
        tenant.shown()
    );
}

#[tokio::test]
async fn a_prefix_routes_a_token_to_its_endpoint_and_nowhere_else() {
    let production = Running::start().await;
    let sandbox = Running::start().await;
    production.knows("at_live", active("insights.read"));
    sandbox.knows("sbx_test", active("insights.read"));
    // The sandbox's server would even call a production token active: it is never asked.
    sandbox.knows("at_live", active("insights.read"));
    let auth = JwtAuth::new(production.issuer(), "insights-api")
        .introspection(production.endpoint().token_prefix("at_"))
        .add_issuer(
            Issuer::new(sandbox.issuer()).introspection(sandbox.endpoint().token_prefix("sbx_")),
        );
    let served = app(auth).await;
    let url = format!("{}/usage", served.base);

    let res = call(&url, Some("at_live")).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["issuer"], production.issuer());
    let res = call(&url, Some("sbx_test")).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["issuer"], sandbox.issuer());
    // No prefix, no default: refused without being shown to anyone.
    let res = call(&url, Some("other-token")).await;
    assert_eq!(res.status(), 401);
    assert!(www_authenticate(&res).contains(r#"error="invalid_token""#));
    assert_eq!(production.shown(), ["at_live"]);
    assert_eq!(sandbox.shown(), ["sbx_test"]);
}

#[tokio::test]
async fn several_candidates_without_a_default_are_a_startup_error() {
    let a = Running::start().await;
    let b = Running::start().await;
    let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api")
        .add_issuer(Issuer::new(a.issuer()).introspection(a.endpoint()))
        .add_issuer(Issuer::new(b.issuer()).introspection(b.endpoint()));
    let error = auth.validate().expect_err("a startup error");
    assert_eq!(error.field(), "introspection");
    let text = error.to_string();
    for hint in [
        "token_prefix",
        "JwtAuth::introspection",
        "introspection_in_turn",
    ] {
        assert!(text.contains(hint), "{text}");
    }
    // Building the layer refuses it, naming the field, before any token is shown to anyone.
    let built = std::panic::catch_unwind(|| {
        tower::Layer::layer(
            &auth,
            tower::service_fn(|_: http::Request<()>| async {
                Ok::<_, std::convert::Infallible>(http::Response::new(()))
            }),
        )
    });
    let message = built
        .err()
        .and_then(|p| p.downcast::<String>().ok())
        .unwrap();
    assert!(message.contains("introspection"), "{message}");
    assert!(a.shown().is_empty() && b.shown().is_empty());
    // Either way of choosing is accepted.
    assert!(auth.clone().introspection_in_turn().validate().is_ok());
    let prefixed = JwtAuth::new("https://auth-api.eliq.com", "insights-api")
        .add_issuer(Issuer::new(a.issuer()).introspection(a.endpoint()))
        .add_issuer(Issuer::new(b.issuer()).introspection(b.endpoint().token_prefix("b_")));
    assert!(prefixed.validate().is_ok());
    // Prefixes that overlap each other, or an API key's, are refused too.
    let overlapping = JwtAuth::new(a.issuer(), "insights-api")
        .introspection(a.endpoint().token_prefix("tok_"))
        .add_issuer(Issuer::new(b.issuer()).introspection(b.endpoint().token_prefix("tok_b")));
    assert_eq!(overlapping.validate().unwrap_err().field(), "introspection");
    let with_keys = JwtAuth::new(a.issuer(), "insights-api")
        .introspection(a.endpoint().token_prefix("fl_"))
        .api_keys("fl_", ApiKeyStore::new());
    assert_eq!(with_keys.validate().unwrap_err().field(), "introspection");
}

#[tokio::test]
async fn asking_in_turn_is_an_explicit_choice() {
    let primary = Running::start().await;
    let tenant = Running::start().await;
    tenant.knows("tenant-token", active("insights.read"));
    let auth = JwtAuth::new(primary.issuer(), "insights-api")
        .introspection(primary.endpoint())
        .add_issuer(Issuer::new(tenant.issuer()).introspection(tenant.endpoint()))
        .introspection_in_turn();
    let served = app(auth).await;
    let res = call(&format!("{}/usage", served.base), Some("tenant-token")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(primary.shown(), ["tenant-token"]);
    assert_eq!(tenant.shown(), ["tenant-token"]);
}

#[tokio::test]
async fn a_client_is_never_shown_as_a_subject() {
    let server = Running::start().await;
    // A client-credentials token: the answer names the client, and no subject.
    server.knows("client-token", active("insights.read"));
    let mut delegated = active("insights.read");
    delegated["sub"] = json!("customer-42");
    delegated["sub_type"] = json!("user");
    server.knows("user-token", delegated);
    let auth = JwtAuth::new(server.issuer(), "insights-api").introspection(server.endpoint());

    let served = app(auth.clone()).await;
    let url = format!("{}/usage", served.base);
    let body: Value = call(&url, Some("client-token")).await.json().await.unwrap();
    assert_eq!(body["sub"], "", "{body}");
    assert_eq!(body["claims_sub"], "", "{body}");
    assert_eq!(body["client_only"], true);
    assert_eq!(body["client_id"], "partner-app");
    let body: Value = call(&url, Some("user-token")).await.json().await.unwrap();
    assert_eq!(body["sub"], "customer-42");
    assert_eq!(body["client_only"], false);

    // A rule for users refuses the client alone, even one claiming `sub_type: user`.
    let mut claims_user = active("insights.read");
    claims_user["sub_type"] = json!("user");
    server.knows("client-claiming-user", claims_user);
    let users_only = app(auth.require_sub_type("user")).await;
    let url = format!("{}/usage", users_only.base);
    for token in ["client-token", "client-claiming-user"] {
        let res = call(&url, Some(token)).await;
        assert_eq!(res.status(), 403, "{token}");
        assert!(www_authenticate(&res).contains(r#"error="insufficient_scope""#));
    }
    assert_eq!(call(&url, Some("user-token")).await.status(), 200);
}

#[tokio::test]
async fn an_api_key_never_claims_an_oauth_issuer() {
    let keys = ApiKeyStore::new();
    keys.insert_digest(
        KeyDigest::of("fl_live_0123456789"),
        ApiKeyGrant::new("org-7").scopes(["insights.read"]),
    );
    let auth = JwtAuth::new("https://oauth.flip.energy", "utility-api").api_keys("fl_", keys);
    let served = app(auth).await;
    let res = call(
        &format!("{}/usage", served.base),
        Some("fl_live_0123456789"),
    )
    .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["issuer"], "api-key:fl_");
    assert_eq!(body["claims_iss"], "api-key:fl_");
    assert_eq!(body["sub"], "org-7");
}
