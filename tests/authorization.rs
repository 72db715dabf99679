//! Authorization beyond "all of these scopes", over real HTTP on 127.0.0.1: roles in the
//! layouts of Microsoft Entra, Keycloak and Auth0; the application's own rule (true, false,
//! panicking); any-of scopes; token sources (cookie, header, header wins, never the query);
//! the realm; and `Cache-Control: no-store` on every refusal.

mod common;

use axum::routing::get;
use axum::Router;
use common::{get as call, serve, www_authenticate, Captured};
use serde_json::json;
use tower_jwt_auth::testing::TestIssuer;
use tower_jwt_auth::{AccessClaims, Claims, JwtAuth, RequireClaims, RequireRoles, RequireScopes};
use tower_jwt_auth::{Issuer, TokenSources};

const AUD: &str = "insights-api";

/// The token's roles as the handler sees them, and the grant's.
async fn roles(claims: Claims) -> String {
    let mut seen = claims.roles().join(",");
    seen.push('|');
    seen.push_str(&claims.grant().roles().collect::<Vec<_>>().join(","));
    seen
}

#[tokio::test]
async fn roles_are_read_from_the_layouts_of_the_big_providers() {
    let issuer = TestIssuer::start().await;
    let base = JwtAuth::new(issuer.url(), AUD);
    let app = Router::new()
        .route(
            "/admin",
            get(roles).layer(base.clone().require_roles(["insights-admin"])),
        )
        .route(
            "/groups",
            get(|| async { "ok" }).layer(
                JwtAuth::from(
                    Issuer::new(issuer.url())
                        .audience(AUD)
                        .role_claims(["groups", "https://eliq.com/roles"]),
                )
                .require_roles(["insights-admin"]),
            ),
        )
        .merge(
            Router::new()
                .route(
                    "/delete",
                    get(roles).layer(RequireRoles::new(["insights-admin", "deleter"])),
                )
                .route(
                    "/either",
                    get(roles).layer(RequireRoles::any(["deleter", "insights-admin"])),
                )
                .layer(base.clone()),
        );
    let served = serve(app).await;
    let url = |p: &str| format!("{}{p}", served.base);

    let entra = issuer
        .token()
        .claim("roles", json!(["insights-admin"]))
        .sign();
    let realm = issuer
        .token()
        .claim("realm_access", json!({"roles": ["insights-admin"]}))
        .sign();
    let client = issuer
        .token()
        .claim(
            "resource_access",
            json!({AUD: {"roles": ["insights-admin"]}, "other-api": {"roles": ["deleter"]}}),
        )
        .sign();
    let auth0 = issuer
        .token()
        .claim("permissions", json!(["insights-admin"]))
        .sign();
    for (layout, token) in [
        ("entra", &entra),
        ("keycloak realm", &realm),
        ("keycloak client", &client),
        ("auth0", &auth0),
    ] {
        let res = call(&url("/admin"), Some(token)).await;
        assert_eq!(res.status(), 200, "{layout}");
        let body = res.text().await.unwrap();
        assert!(body.ends_with("|insights-admin"), "{layout}: {body}");
    }
    // What the handler sees is what the layer checked: this audience's client roles only,
    // even when the token names another audience too.
    let two_audiences = issuer
        .token()
        .audiences([AUD, "other-api"])
        .claim(
            "resource_access",
            json!({AUD: {"roles": ["insights-admin"]}, "other-api": {"roles": ["deleter"]}}),
        )
        .sign();
    let body = call(&url("/admin"), Some(&two_audiences))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(body, "insights-admin|insights-admin");
    // Another client's roles are not this audience's.
    let other_client = issuer
        .token()
        .claim(
            "resource_access",
            json!({"other-api": {"roles": ["insights-admin"]}}),
        )
        .sign();
    // Groups are roles only when asked for.
    let groups = issuer
        .token()
        .claim("groups", json!(["insights-admin"]))
        .sign();
    for (what, token) in [
        ("no role", issuer.token().sign()),
        (
            "another role",
            issuer.token().claim("roles", json!(["reader"])).sign(),
        ),
        ("another client's role", other_client),
        ("groups by default", groups.clone()),
        (
            "a string, not a role list",
            issuer.token().claim("roles", json!({"x": 1})).sign(),
        ),
    ] {
        let log = Captured::default();
        let guard = log.install();
        let res = call(&url("/admin"), Some(&token)).await;
        drop(guard);
        assert_eq!(res.status(), 403, "{what}");
        let www = www_authenticate(&res);
        assert!(
            www.contains(r#"error="insufficient_scope""#),
            "{what}: {www}"
        );
        // The description names no role, neither required nor granted.
        assert!(
            www.contains(r#"error_description="the token lacks a required role""#),
            "{what}: {www}"
        );
        assert!(
            !www.contains("insights-admin") && !www.contains("reader"),
            "{www}"
        );
        // The log says which role was missing.
        assert!(
            log.text().contains("missing roles: insights-admin"),
            "{}",
            log.text()
        );
    }
    assert_eq!(call(&url("/groups"), Some(&groups)).await.status(), 200);
    let dotted = issuer
        .token()
        .claim("https://eliq.com/roles", json!("insights-admin"))
        .sign();
    assert_eq!(call(&url("/groups"), Some(&dotted)).await.status(), 200);
    assert_eq!(call(&url("/groups"), Some(&entra)).await.status(), 403);

    // Per route: every role, or any of them; layouts combine.
    let both = issuer
        .token()
        .claim("roles", json!(["insights-admin"]))
        .claim("realm_access", json!({"roles": ["deleter"]}))
        .sign();
    assert_eq!(call(&url("/delete"), Some(&entra)).await.status(), 403);
    let res = call(&url("/delete"), Some(&both)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.text().await.unwrap(),
        "insights-admin,deleter|insights-admin,deleter"
    );
    assert_eq!(call(&url("/either"), Some(&entra)).await.status(), 200);
    assert_eq!(call(&url("/either"), Some(&auth0)).await.status(), 200);
    assert_eq!(
        call(&url("/either"), Some(&issuer.token().sign()))
            .await
            .status(),
        403
    );
}

#[test]
fn unusable_role_settings_are_refused_at_startup_naming_the_field() {
    let auth = || JwtAuth::new("https://auth-api.eliq.com", AUD);
    let field = |a: JwtAuth| a.validate().err().map(|e| e.field().to_owned());
    assert_eq!(
        field(auth().require_roles(["has space"])).as_deref(),
        Some("require_roles")
    );
    assert_eq!(
        field(JwtAuth::from(
            Issuer::new("https://auth-api.eliq.com")
                .audience(AUD)
                .role_claims(["realm_access..roles"])
        ))
        .as_deref(),
        Some("role_claims")
    );
    assert_eq!(
        field(auth().token_sources(TokenSources {
            cookie: Some("bad;name".into()),
            ..TokenSources::default()
        }))
        .as_deref(),
        Some("cookie")
    );
    assert_eq!(
        field(auth().token_sources(TokenSources {
            header: Some("bad header".into()),
            ..TokenSources::default()
        }))
        .as_deref(),
        Some("header")
    );
    assert_eq!(field(auth().realm("a\"b")).as_deref(), Some("realm"));
    assert_eq!(
        field(auth().require_any_scope(Vec::<String>::new())).as_deref(),
        Some("require_any_scope")
    );
    let panicked = std::panic::catch_unwind(|| {
        Router::<()>::new()
            .route("/", get(|| async { "x" }))
            .layer(RequireRoles::new(["a b"]))
    });
    let message = panicked.unwrap_err();
    let message = message.downcast_ref::<String>().unwrap();
    assert!(message.contains("RequireRoles::new"), "{message}");
}

#[tokio::test]
async fn the_applications_own_rule_decides_and_a_panic_is_contained() {
    let issuer = TestIssuer::start().await;
    let base = JwtAuth::new(issuer.url(), AUD);
    let app = Router::new()
        .route(
            "/utility",
            get(|| async { "ok" }).layer(base.clone().require(|c: &AccessClaims| {
                c.client_id
                    .as_deref()
                    .is_some_and(|id| id.starts_with("utility-"))
            })),
        )
        .route(
            "/panics",
            get(|| async { "never" }).layer(base.clone().require(|c: &AccessClaims| {
                if c.sub == "boom" {
                    panic!("a bug in the application's rule");
                }
                true
            })),
        )
        .merge(
            Router::new()
                .route(
                    "/orgs/42",
                    get(|| async { "org 42" })
                        .layer(RequireClaims::new(|c: &AccessClaims| c.sub == "org-42")),
                )
                .route(
                    "/route-panics",
                    get(|| async { "never" }).layer(RequireClaims::new(
                        |_: &AccessClaims| -> bool { panic!("a bug in a per-route rule") },
                    )),
                )
                .layer(base.clone()),
        );
    let served = serve(app).await;
    let url = |p: &str| format!("{}{p}", served.base);

    let utility = issuer.token().client_id("utility-7").sign();
    let other = issuer.token().client_id("crm").sign();
    assert_eq!(call(&url("/utility"), Some(&utility)).await.status(), 200);
    let res = call(&url("/utility"), Some(&other)).await;
    assert_eq!(res.status(), 403);
    assert!(www_authenticate(&res).contains(r#"error="insufficient_scope""#));

    let org = issuer.token().sub("org-42").sign();
    assert_eq!(call(&url("/orgs/42"), Some(&org)).await.status(), 200);
    let res = call(&url("/orgs/42"), Some(&other)).await;
    assert_eq!(res.status(), 403);
    assert!(www_authenticate(&res).contains(r#"error="insufficient_scope""#));

    // One connection for all three calls: a panic answers 500 and keeps the connection.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .unwrap();
    let boom = issuer.token().sub("boom").sign();
    let log = Captured::default();
    let guard = log.install();
    for path in ["/panics", "/route-panics"] {
        let res = client
            .get(url(path))
            .bearer_auth(&boom)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 500, "{path}");
        let body = res.text().await.unwrap();
        assert!(body.contains("server_error"), "{body}");
    }
    let res = client
        .get(url("/panics"))
        .bearer_auth(issuer.token().sign())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    drop(guard);
    let text = log.text();
    assert!(text.contains("ERROR"), "{text}");
    assert!(
        text.contains("an application rule (require) panicked"),
        "{text}"
    );
}

#[tokio::test]
async fn a_rule_given_before_with_claims_is_a_configuration_error() {
    #[derive(serde::Deserialize)]
    struct Mine {
        #[allow(dead_code)]
        sub: String,
    }
    let auth = JwtAuth::new("https://auth-api.eliq.com", AUD)
        .require(|_: &AccessClaims| true)
        .with_claims::<Mine>();
    assert_eq!(auth.validate().unwrap_err().field(), "require");
    let fine = JwtAuth::new("https://auth-api.eliq.com", AUD)
        .with_claims::<Mine>()
        .require(|m: &Mine| !m.sub.is_empty());
    assert!(fine.validate().is_ok());
}

#[tokio::test]
async fn any_of_scopes_on_the_layer_and_on_routes() {
    let issuer = TestIssuer::start().await;
    let base = JwtAuth::new(issuer.url(), AUD);
    let app = Router::new()
        .merge(
            Router::new()
                .route(
                    "/route",
                    get(|| async { "ok" })
                        .layer(RequireScopes::any(["insights.read", "insights.admin"])),
                )
                .layer(base.clone()),
        )
        .route(
            "/layer",
            get(|| async { "ok" }).layer(
                base.clone()
                    .require_scopes(["usage"])
                    .require_any_scope(["insights.read", "insights.admin"]),
            ),
        );
    let served = serve(app).await;
    let url = |p: &str| format!("{}{p}", served.base);
    for scopes in [
        vec!["insights.read"],
        vec!["insights.admin"],
        vec!["x", "insights.admin"],
    ] {
        let token = issuer.token().scopes(scopes.clone()).sign();
        assert_eq!(
            call(&url("/route"), Some(&token)).await.status(),
            200,
            "{scopes:?}"
        );
        let token = issuer
            .token()
            .scopes([&["usage"][..], &scopes].concat())
            .sign();
        assert_eq!(
            call(&url("/layer"), Some(&token)).await.status(),
            200,
            "{scopes:?}"
        );
    }
    let none = issuer.token().scopes(["insights.write"]).sign();
    let res = call(&url("/route"), Some(&none)).await;
    assert_eq!(res.status(), 403);
    let www = www_authenticate(&res);
    assert!(
        www.contains(r#"error="insufficient_scope""#)
            && www.ends_with(r#"scope="insights.read insights.admin""#),
        "{www}"
    );
    let res = call(&url("/layer"), Some(&none)).await;
    assert_eq!(res.status(), 403);
    // The all-of scope is missing too: the challenge names it.
    let www = www_authenticate(&res);
    assert!(www.contains("usage"), "{www}");
    let only_usage = issuer.token().scopes(["usage"]).sign();
    let res = call(&url("/layer"), Some(&only_usage)).await;
    assert_eq!(res.status(), 403);
    let www = www_authenticate(&res);
    assert!(
        www.ends_with(r#"scope="insights.read insights.admin""#),
        "{www}"
    );
}

#[tokio::test]
async fn tokens_from_a_cookie_or_a_header_and_the_authorization_header_wins() {
    let issuer = TestIssuer::start().await;
    let base = JwtAuth::new(issuer.url(), AUD);
    let whoami = |claims: Claims| async move { claims.sub.clone() };
    let app = Router::new()
        .route(
            "/browser",
            get(whoami).layer(base.clone().token_sources(TokenSources {
                cookie: Some("__Host-at".into()),
                ..TokenSources::default()
            })),
        )
        .route(
            "/gateway",
            get(whoami).layer(base.clone().token_sources(TokenSources {
                header: Some("x-access-token".into()),
                ..TokenSources::default()
            })),
        )
        .route("/default", get(whoami).layer(base.clone()));
    let served = serve(app).await;
    let url = |p: &str| format!("{}{p}", served.base);
    let client = reqwest::Client::new();
    let cookie_user = issuer.token().sub("from-cookie").sign();
    let header_user = issuer.token().sub("from-header").sign();

    let res = client
        .get(url("/browser"))
        .header("cookie", format!("theme=dark; __Host-at={cookie_user}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "from-cookie");

    // Both present: the Authorization header wins, whatever the cookie holds.
    let res = client
        .get(url("/browser"))
        .header("cookie", "__Host-at=not-a-token")
        .bearer_auth(&header_user)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "from-header");
    let res = client
        .get(url("/browser"))
        .header("cookie", format!("__Host-at={cookie_user}"))
        .bearer_auth(
            issuer
                .token()
                .expired_for(std::time::Duration::from_secs(600))
                .sign(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(www_authenticate(&res).contains(r#"error="invalid_token""#));

    let res = client
        .get(url("/gateway"))
        .header("x-access-token", &header_user)
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "from-header");

    // Without a configured source, a cookie or another header is no credential.
    for req in [
        client
            .get(url("/default"))
            .header("cookie", format!("__Host-at={cookie_user}")),
        client
            .get(url("/default"))
            .header("x-access-token", &header_user),
        client
            .get(url("/browser"))
            .header("x-access-token", &header_user),
    ] {
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 401);
        assert_eq!(www_authenticate(&res), r#"Bearer realm="insights-api""#);
    }
    // The query string is never read.
    for path in ["/default", "/browser", "/gateway"] {
        let res = client
            .get(format!("{}?access_token={cookie_user}", url(path)))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{path}");
        assert_eq!(www_authenticate(&res), r#"Bearer realm="insights-api""#);
    }
    // A malformed cookie value is a bad request, as a malformed header is.
    let res = client
        .get(url("/browser"))
        .header("cookie", "__Host-at=a\"b")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn the_realm_is_configurable_and_refusals_are_never_cached() {
    let issuer = TestIssuer::start().await;
    let base = JwtAuth::new(issuer.url(), AUD);
    let app = Router::new()
        .route(
            "/named",
            get(|| async { "ok" }).layer(base.clone().realm("Eliq insights")),
        )
        .route(
            "/scoped",
            get(|| async { "ok" }).layer(base.clone().require_scopes(["insights.read"])),
        );
    let served = serve(app).await;
    let url = |p: &str| format!("{}{p}", served.base);
    let res = call(&url("/named"), None).await;
    assert_eq!(res.status(), 401);
    assert_eq!(www_authenticate(&res), r#"Bearer realm="Eliq insights""#);
    assert_eq!(res.headers()["cache-control"], "no-store");

    let weak = issuer.token().scopes(["other"]).sign();
    let res = call(&url("/scoped"), Some(&weak)).await;
    assert_eq!(res.status(), 403);
    assert!(www_authenticate(&res).starts_with(r#"Bearer realm="insights-api""#));
    assert_eq!(res.headers()["cache-control"], "no-store");
    let res = call(&url("/scoped"), Some("a.b")).await;
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["cache-control"], "no-store");

    let ok = issuer.token().scopes(["insights.read"]).sign();
    let res = call(&url("/scoped"), Some(&ok)).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("cache-control").is_none());
}

#[tokio::test]
async fn a_per_route_refusal_answers_in_the_admitting_layers_realm_first_time_and_cached() {
    // The realm reaches `RequireScopes` and `RequireRoles` with the request's grant, whether
    // the token was just verified or came from the verified-token cache.
    let issuer = TestIssuer::start().await;
    let app = Router::new()
        .route(
            "/write",
            get(|| async { "ok" }).layer(RequireScopes::new(["insights.write"])),
        )
        .route(
            "/admin",
            get(|| async { "ok" }).layer(RequireRoles::new(["insights-admin"])),
        )
        .layer(JwtAuth::new(issuer.url(), AUD).realm("Eliq insights"));
    let served = serve(app).await;
    let token = issuer.token().scopes(["insights.read"]).sign();
    for attempt in ["first", "cached"] {
        let res = call(&format!("{}/write", served.base), Some(&token)).await;
        assert_eq!(res.status(), 403, "{attempt}");
        let challenge = www_authenticate(&res);
        assert!(
            challenge.starts_with(r#"Bearer realm="Eliq insights", error="insufficient_scope""#),
            "{attempt}: {challenge}"
        );
        let res = call(&format!("{}/admin", served.base), Some(&token)).await;
        assert_eq!(res.status(), 403, "{attempt}");
        let challenge = www_authenticate(&res);
        assert!(
            challenge.starts_with(r#"Bearer realm="Eliq insights""#),
            "{attempt}: {challenge}"
        );
    }
}
