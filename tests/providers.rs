//! The identity-provider presets, over real HTTP on 127.0.0.1, with tokens in each provider's
//! documented shape (the claims are copied in structure from the provider's documentation,
//! named above each test). Every refusal is beside a control that differs only in the property
//! under test. Keys come from the embedded test issuer (`.jwks_uri(..)` overrides the
//! provider's key location), or from loopback stand-ins of the provider's own key endpoint.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::Path;
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use common::{serve, www_authenticate, Captured};
use serde_json::{json, Value};
use tower_jwt_auth::testing::{SigningKey, TestIssuer, TokenBuilder};
use tower_jwt_auth::{Algorithm, Claims, Issuer, JwtAuth, ManualClock};

/// What the handler saw: the grant, provider-neutral.
async fn grant(claims: Claims) -> axum::Json<Value> {
    let g = claims.grant();
    axum::Json(json!({
        "sub": g.sub(),
        "client_id": g.client_id(),
        "client_only": g.is_client_only(),
        "scopes": g.scopes().collect::<Vec<_>>(),
        "roles": g.roles().collect::<Vec<_>>(),
        "issuer": g.issuer(),
    }))
}

/// An app whose `/` answers with the grant, behind `auth`; `/user` also needs a user.
fn app(auth: JwtAuth) -> Router {
    Router::new()
        .route("/", get(grant))
        .route(
            "/user",
            get(grant).layer(auth.clone().require_sub_type("user")),
        )
        .layer(auth)
}

async fn call(base: &str, path: &str, header: (&str, &str)) -> (u16, Value, String) {
    let res = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .header(header.0, header.1)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let challenge = www_authenticate(&res);
    let body = res.json().await.unwrap_or(Value::Null);
    (status, body, challenge)
}

async fn bearer(base: &str, token: &str) -> (u16, Value, String) {
    call(base, "/", ("authorization", &format!("Bearer {token}"))).await
}

/// A token of `issuer`'s keys with exactly these claims (the test issuer's defaults removed).
fn shaped(issuer: &TestIssuer, claims: Value) -> TokenBuilder {
    let mut token = issuer.token();
    for name in ["iss", "aud", "sub", "client_id", "jti", "iat", "exp"] {
        token = token.without(name);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    token = token.claim("iat", now).claim("exp", now + 3600);
    for (name, value) in claims.as_object().unwrap() {
        token = token.claim(name, value.clone());
    }
    token
}

// Amazon Cognito: "Understanding the access token" (Amazon Cognito developer guide): `sub`,
// `cognito:groups`, `token_use: access`, `scope`, `auth_time`, `iss`, `exp`, `iat`, `jti`,
// `client_id`, `username`; no `aud`. The ID token has `aud` (the client), `token_use: id`.
#[tokio::test]
async fn cognito_access_tokens_pass_and_its_id_tokens_and_other_clients_do_not() {
    let idp = TestIssuer::start().await;
    let iss = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123";
    let auth = JwtAuth::from(
        Issuer::cognito("eu-west-1", "eu-west-1_AbCdEf123", "3k8tq0example")
            .jwks_uri(idp.jwks_uri()),
    );
    let served = serve(app(auth)).await;
    let access = |client: &str, token_use: &str| {
        shaped(
            &idp,
            json!({
                "sub": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
                "cognito:groups": ["insights-admin"],
                "token_use": token_use,
                "scope": "insights/read aws.cognito.signin.user.admin",
                "auth_time": 1_700_000_000u64,
                "iss": iss,
                "client_id": client,
                "username": "alice",
                "origin_jti": "0f6c3e1a-0000-4000-8000-000000000001",
                "jti": "4b2e8a0c-0000-4000-8000-000000000002",
                "version": 2,
            }),
        )
        .header("typ", "JWT")
        .sign()
    };
    let (status, body, _) = bearer(&served.base, &access("3k8tq0example", "access")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["client_id"], "3k8tq0example");
    assert_eq!(body["roles"], json!(["insights-admin"]));
    assert_eq!(
        body["scopes"],
        json!(["insights/read", "aws.cognito.signin.user.admin"])
    );
    assert_eq!(body["issuer"], iss);

    let logs = Captured::default();
    let _guard = logs.install();
    // The same token with `token_use: id`.
    let (status, _, challenge) = bearer(&served.base, &access("3k8tq0example", "id")).await;
    assert_eq!(status, 401);
    assert!(
        challenge.contains("the token is not an access token"),
        "{challenge}"
    );
    assert!(
        logs.text().contains(r#"token_use is "id", not "access""#),
        "{}",
        logs.text()
    );
    // The ID token as Cognito issues it: `aud` is the client, `token_use: id`.
    let id_token = shaped(
        &idp,
        json!({"sub": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "aud": "3k8tq0example",
               "token_use": "id", "iss": iss, "cognito:username": "alice",
               "email": "alice@example.com", "auth_time": 1_700_000_000u64}),
    )
    .sign();
    assert_eq!(bearer(&served.base, &id_token).await.0, 401);
    // Another app client of the same pool.
    let (status, _, challenge) = bearer(&served.base, &access("9zz9otherclient", "access")).await;
    assert_eq!(status, 401);
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    assert!(
        logs.text().contains(
            r#"the token was issued to client "9zz9otherclient", expected "3k8tq0example""#
        ),
        "{}",
        logs.text()
    );
}

// Microsoft Entra ID: "Access token claims reference" (Microsoft identity platform): v2.0
// tokens (`ver: 2.0`, `iss` …/{tid}/v2.0, `aud` the application id, `azp`, `azpacr`, `scp`
// space-delimited, `roles`, `oid`, `tid`, `uti`, `rh`) and v1.0 tokens (`ver: 1.0`, `iss`
// https://sts.windows.net/{tid}/, `aud` the api:// URI, `appid`, `appidacr`).
#[tokio::test]
async fn entra_v2_and_v1_tokens_of_the_tenant_and_application_pass_others_do_not() {
    let idp = TestIssuer::start().await;
    let tid = "6f1c2a9e-0000-4000-8000-000000000001";
    let app_id = "0c1d2e3f-0000-4000-8000-00000000abcd";
    let auth = JwtAuth::from(Issuer::entra(tid, app_id).jwks_uri(idp.jwks_uri()));
    let served = serve(app(auth)).await;
    let v2 = |tid: &str, aud: &str| {
        shaped(
            &idp,
            json!({
                "aud": aud, "iss": format!("https://login.microsoftonline.com/{tid}/v2.0"),
                "azp": "5e6f7a8b-0000-4000-8000-0000000c11e7", "azpacr": "1",
                "name": "Alice", "oid": "11111111-0000-4000-8000-000000000001",
                "preferred_username": "alice@eliq.com", "rh": "0.AAAA", "roles": ["Insights.Read.All"],
                "scp": "Usage.Read Usage.Write", "sub": "s7bN0example", "tid": tid,
                "uti": "AbCdEf", "ver": "2.0",
            }),
        )
        .header("typ", "JWT")
        .sign()
    };
    let (status, body, _) = bearer(&served.base, &v2(tid, app_id)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["client_id"], "5e6f7a8b-0000-4000-8000-0000000c11e7");
    assert_eq!(body["scopes"], json!(["Usage.Read", "Usage.Write"]));
    assert_eq!(body["roles"], json!(["Insights.Read.All"]));
    let v1 = shaped(
        &idp,
        json!({
            "aud": format!("api://{app_id}"), "iss": format!("https://sts.windows.net/{tid}/"),
            "appid": "5e6f7a8b-0000-4000-8000-0000000c11e7", "appidacr": "1",
            "oid": "11111111-0000-4000-8000-000000000001", "roles": ["Insights.Read.All"],
            "scp": "Usage.Read", "sub": "s7bN0example", "tid": tid, "ver": "1.0",
        }),
    )
    .header("typ", "JWT")
    .sign();
    let (status, body, _) = bearer(&served.base, &v1).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["client_id"], "5e6f7a8b-0000-4000-8000-0000000c11e7");
    assert_eq!(body["issuer"], format!("https://sts.windows.net/{tid}/"));
    // Another tenant; another application.
    let other_tenant = "9a2e7b31-0000-4000-8000-000000000002";
    assert_eq!(bearer(&served.base, &v2(other_tenant, app_id)).await.0, 401);
    let (status, _, challenge) = bearer(
        &served.base,
        &v2(tid, "ffffffff-0000-4000-8000-00000000ffff"),
    )
    .await;
    assert_eq!(status, 401);
    assert!(
        challenge.contains("not intended for this audience"),
        "{challenge}"
    );
}

// Keycloak: access tokens of a realm ("Server Administration Guide", client scopes; since
// Keycloak 25 `sub` comes from the `basic` client scope): `iss` {base}/realms/{realm}, `azp`,
// `realm_access.roles`, `resource_access.{client}.roles`, `scope`, `typ: Bearer`.
#[tokio::test]
async fn keycloak_tokens_without_sub_name_the_client_alone() {
    let idp = TestIssuer::start().await;
    let auth = JwtAuth::from(
        Issuer::keycloak("https://sso.eliq.com/", "customers", "insights-api")
            .jwks_uri(idp.jwks_uri()),
    )
    .require_roles(["reader"]);
    let served = serve(app(auth)).await;
    let token = |sub: Option<&str>| {
        let mut claims = json!({
            "iss": "https://sso.eliq.com/realms/customers", "aud": ["insights-api", "account"],
            "typ": "Bearer", "azp": "billing-service", "scope": "profile email",
            "realm_access": {"roles": ["offline_access"]},
            "resource_access": {"insights-api": {"roles": ["reader"]}, "account": {"roles": ["manage-account"]}},
        });
        if let Some(sub) = sub {
            claims["sub"] = json!(sub);
        }
        shaped(&idp, claims).header("typ", "JWT").sign()
    };
    let (status, body, _) = bearer(&served.base, &token(None)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["sub"], "");
    assert_eq!(body["client_only"], true);
    assert_eq!(body["client_id"], "billing-service");
    assert_eq!(body["roles"], json!(["offline_access", "reader"]));
    // A user-only route refuses the client alone, and takes the same token with a `sub`.
    let no_sub = token(None);
    let (status, _, _) = call(
        &served.base,
        "/user",
        ("authorization", &format!("Bearer {no_sub}")),
    )
    .await;
    assert_eq!(status, 403);
    let (status, body, _) = bearer(&served.base, &token(Some("f:0a1b:alice"))).await;
    assert_eq!(status, 200);
    assert_eq!(body["client_only"], false);
    // `aud` without the audience: refused, though the client and roles match.
    let other = shaped(
        &idp,
        json!({"iss": "https://sso.eliq.com/realms/customers", "aud": "account", "azp": "billing-service",
               "resource_access": {"insights-api": {"roles": ["reader"]}}}),
    )
    .sign();
    assert_eq!(bearer(&served.base, &other).await.0, 401);
}

// Auth0: "Access Token Profiles" (Auth0 docs): the default profile has `iss`
// https://{domain}/, `aud` [API, https://{domain}/userinfo], `azp`, `scope`, `permissions`;
// machine-to-machine tokens have `sub` {client}@clients and `gty: client-credentials`.
#[tokio::test]
async fn auth0_user_and_machine_tokens_pass_with_the_exact_issuer() {
    let idp = TestIssuer::start().await;
    let auth = JwtAuth::from(
        Issuer::auth0("eliq.eu.auth0.com", "https://api.eliq.com/insights")
            .jwks_uri(idp.jwks_uri()),
    )
    .require_scopes(["read:usage"]);
    let served = serve(app(auth)).await;
    let user = |iss: &str| {
        shaped(
            &idp,
            json!({"iss": iss, "sub": "auth0|64a1b2c3", "aud": ["https://api.eliq.com/insights", "https://eliq.eu.auth0.com/userinfo"],
                   "azp": "Xy9AbCdEfGhIjKlMnOp", "scope": "openid profile read:usage", "permissions": ["read:usage"]}),
        )
        .header("typ", "JWT")
        .sign()
    };
    let (status, body, _) = bearer(&served.base, &user("https://eliq.eu.auth0.com/")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["client_id"], "Xy9AbCdEfGhIjKlMnOp");
    assert_eq!(body["roles"], json!(["read:usage"]));
    // Without the trailing slash, the issuer is another one.
    assert_eq!(
        bearer(&served.base, &user("https://eliq.eu.auth0.com"))
            .await
            .0,
        401
    );
    let m2m = shaped(
        &idp,
        json!({"iss": "https://eliq.eu.auth0.com/", "sub": "Xy9AbCdEfGhIjKlMnOp@clients",
               "aud": "https://api.eliq.com/insights", "azp": "Xy9AbCdEfGhIjKlMnOp",
               "scope": "read:usage", "gty": "client-credentials"}),
    )
    .sign();
    let (status, body, _) = bearer(&served.base, &m2m).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["sub"], "Xy9AbCdEfGhIjKlMnOp@clients");
}

// Okta: "OpenID Connect & OAuth 2.0 API" (Okta developer docs), access token payload of a
// custom authorization server: `ver`, `jti`, `iss` https://{org}.okta.com/oauth2/{id}, `aud`,
// `cid`, `uid`, `scp` (array), `sub`.
#[tokio::test]
async fn okta_custom_server_tokens_pass_and_org_server_tokens_do_not() {
    let idp = TestIssuer::start().await;
    let auth = JwtAuth::from(
        Issuer::okta("https://eliq.okta.com/oauth2/default", "api://insights")
            .jwks_uri(idp.jwks_uri()),
    )
    .require_scopes(["insights.read"]);
    let served = serve(app(auth)).await;
    let token = |iss: &str| {
        shaped(
            &idp,
            json!({"ver": 1, "jti": "AT.abc", "iss": iss, "aud": "api://insights",
                   "cid": "0oa1b2c3d4EXAMPLE", "uid": "00u1a2b3EXAMPLE",
                   "scp": ["openid", "insights.read"], "sub": "alice@eliq.com"}),
        )
        .sign()
    };
    let (status, body, _) =
        bearer(&served.base, &token("https://eliq.okta.com/oauth2/default")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["client_id"], "0oa1b2c3d4EXAMPLE");
    assert_eq!(body["scopes"], json!(["openid", "insights.read"]));
    assert_eq!(
        bearer(&served.base, &token("https://eliq.okta.com"))
            .await
            .0,
        401
    );
}

// Google Cloud IAP: "Securing your app with signed headers" (Google Cloud docs): header
// `x-goog-iap-jwt-assertion`, ES256, `iss` https://cloud.google.com/iap, `aud`
// /projects/{number}/global/backendServices/{id}, `sub` accounts.google.com:{id}, `email`,
// `hd`, `google`.
#[tokio::test]
async fn google_iap_assertions_are_read_from_their_header_only() {
    let idp = TestIssuer::start().await;
    let aud = "/projects/1234/global/backendServices/5678";
    let auth = JwtAuth::from(Issuer::google_iap(aud).jwks_uri(idp.jwks_uri()));
    let served = serve(app(auth)).await;
    let assertion = shaped(
        &idp,
        json!({"iss": "https://cloud.google.com/iap", "aud": aud,
               "sub": "accounts.google.com:118234567890", "email": "alice@eliq.com", "hd": "eliq.com"}),
    )
    .alg(Algorithm::ES256)
    .header("typ", "JWT")
    .sign();
    let (status, body, _) = call(&served.base, "/", ("x-goog-iap-jwt-assertion", &assertion)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["sub"], "accounts.google.com:118234567890");
    // The same assertion in `Authorization`: the header belongs to the application and is
    // not read, so the request carries no token (a bare challenge, no `error`).
    let (status, _, challenge) = bearer(&served.base, &assertion).await;
    assert_eq!(status, 401, "{challenge}");
    assert_eq!(challenge, format!(r#"Bearer realm="{aud}""#));
    // Nor is an `Authorization` header beside the assertion a problem.
    let res = reqwest::Client::new()
        .get(format!("{}/", served.base))
        .header("x-goog-iap-jwt-assertion", &assertion)
        .header("authorization", "Bearer the-applications-own-session")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // RS256 is not IAP's algorithm.
    let rs256 = shaped(
        &idp,
        json!({"iss": "https://cloud.google.com/iap", "aud": aud, "sub": "accounts.google.com:1"}),
    )
    .alg(Algorithm::RS256)
    .sign();
    assert_eq!(
        call(&served.base, "/", ("x-goog-iap-jwt-assertion", &rs256))
            .await
            .0,
        401
    );
}

#[tokio::test]
async fn a_proxy_issuers_token_in_authorization_is_refused_naming_the_header() {
    let idp = TestIssuer::start().await;
    let aud = "/projects/1234/global/backendServices/5678";
    // The layer's own issuer reads Authorization; the IAP issuer beside it, its header.
    let auth = JwtAuth::new(idp.url(), "insights-api")
        .add_issuer(Issuer::google_iap(aud).jwks_uri(idp.jwks_uri()));
    let served = serve(app(auth)).await;
    let assertion = shaped(
        &idp,
        json!({"iss": "https://cloud.google.com/iap", "aud": aud, "sub": "accounts.google.com:1"}),
    )
    .alg(Algorithm::ES256)
    .sign();
    assert_eq!(
        call(&served.base, "/", ("x-goog-iap-jwt-assertion", &assertion))
            .await
            .0,
        200
    );
    let logs = Captured::default();
    let _guard = logs.install();
    let (status, _, challenge) = bearer(&served.base, &assertion).await;
    assert_eq!(status, 401);
    assert!(
        challenge.contains("not sent where its issuer delivers it"),
        "{challenge}"
    );
    assert!(
        logs.text()
            .contains("token found in Authorization, this issuer reads x-goog-iap-jwt-assertion"),
        "{}",
        logs.text()
    );
    // The other way round: the layer's own token in the IAP header.
    let own = idp.token().sign();
    assert_eq!(bearer(&served.base, &own).await.0, 200);
    assert_eq!(
        call(&served.base, "/", ("x-goog-iap-jwt-assertion", &own))
            .await
            .0,
        401
    );
}

/// base64url with `=` padding, as AWS load balancers encode each segment.
fn padded(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE.encode(bytes)
}

/// A token in the shape of `x-amzn-oidc-data`: a JWS header with `signer`, `iss`, `client`,
/// `exp`; every segment padded; the ES256 signature over the padded segments.
fn alb_token(key: &SigningKey, signer: &str, claims: &Value) -> String {
    let header = json!({"alg": "ES256", "kid": key.kid(), "signer": signer,
                        "iss": "https://accounts.google.com", "client": "alb-client-1",
                        "exp": claims["exp"]});
    let input = format!(
        "{}.{}",
        padded(header.to_string().as_bytes()),
        padded(claims.to_string().as_bytes())
    );
    let signature = key.sign_bytes(input.as_bytes());
    format!("{input}.{}", padded(&signature))
}

// AWS Application Load Balancer: "Authenticate users using an Application Load Balancer",
// user claims encoding and signature verification (ELB user guide): header `x-amzn-oidc-data`,
// JWS header `alg` ES256, `kid`, `signer` (the load balancer's ARN), `iss`, `client`, `exp`;
// payload `sub`, `email`, `exp`, `iss` of the IdP; base64url **with** padding; the public key
// as PEM at https://public-keys.auth.elb.{region}.amazonaws.com/{kid}.
#[tokio::test]
async fn aws_alb_user_claims_verify_with_keys_fetched_per_kid() {
    let arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/insights/50dc6c495c0c9188";
    let key = Arc::new(SigningKey::generate_with_kid(
        Algorithm::ES256,
        "8f1c0b2e-0000-4000-8000-00000000a1b1",
    ));
    let fetches = Arc::new(AtomicUsize::new(0));
    let keys = {
        let (key, fetches) = (Arc::clone(&key), Arc::clone(&fetches));
        Router::new().route(
            "/{kid}",
            get(move |Path(kid): Path<String>| {
                let (key, fetches) = (Arc::clone(&key), Arc::clone(&fetches));
                async move {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    if kid == key.kid() {
                        Ok(key.public_pem())
                    } else {
                        Err(axum::http::StatusCode::NOT_FOUND)
                    }
                }
            }),
        )
    };
    let key_server = serve(keys).await;
    let clock = ManualClock::starting_now();
    let auth = JwtAuth::from(
        Issuer::aws_alb("eu-west-1", arn).key_url_per_kid(format!("{}/{{kid}}", key_server.base)),
    )
    .clock(clock.clone());
    let served = serve(app(auth)).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({"sub": "118234567890", "email": "alice@eliq.com", "exp": now + 120,
                        "iss": "https://accounts.google.com"});
    let token = alb_token(&key, arn, &claims);
    assert!(
        token.contains('='),
        "the test token must be padded: {token}"
    );
    let (status, body, _) = call(&served.base, "/", ("x-amzn-oidc-data", &token)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["sub"], "118234567890");
    assert_eq!(body["issuer"], arn);
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    // The key is kept: no second fetch.
    assert_eq!(
        call(&served.base, "/", ("x-amzn-oidc-data", &token))
            .await
            .0,
        200
    );
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    // Another load balancer's signer.
    let other = alb_token(&key, &arn.replace("insights", "billing"), &claims);
    assert_eq!(
        call(&served.base, "/", ("x-amzn-oidc-data", &other))
            .await
            .0,
        401
    );
    // Expired.
    let expired = alb_token(&key, arn, &json!({"sub": "118234567890", "exp": now - 600}));
    assert_eq!(
        call(&served.base, "/", ("x-amzn-oidc-data", &expired))
            .await
            .0,
        401
    );
    // A kid the endpoint does not know: one fetch (once the refetch allowance of one per
    // second permits it), then refused; asked again, no fetch.
    clock.advance(std::time::Duration::from_secs(2));
    let stranger =
        SigningKey::generate_with_kid(Algorithm::ES256, "00000000-0000-4000-8000-000000000bad");
    let unknown = alb_token(&stranger, arn, &claims);
    assert_eq!(
        call(&served.base, "/", ("x-amzn-oidc-data", &unknown))
            .await
            .0,
        401
    );
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
    assert_eq!(
        call(&served.base, "/", ("x-amzn-oidc-data", &unknown))
            .await
            .0,
        401
    );
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
    // In `Authorization`, the load balancer's token is refused.
    assert_eq!(bearer(&served.base, &token).await.0, 401);
    // A `jwks_uri` with `{kid}` in it is the same per-kid URL.
    let by_uri = JwtAuth::from(
        Issuer::aws_alb("eu-west-1", arn).jwks_uri(format!("{}/{{kid}}", key_server.base)),
    );
    let by_uri = serve(app(by_uri)).await;
    assert_eq!(
        call(&by_uri.base, "/", ("x-amzn-oidc-data", &token))
            .await
            .0,
        200
    );
    assert_eq!(fetches.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn padded_base64url_stays_refused_for_every_other_issuer() {
    let idp = TestIssuer::start().await;
    let arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/insights/50dc6c495c0c9188";
    // A layer that also trusts a load balancer: padding is looked at, and refused for others.
    let auth = JwtAuth::new(idp.url(), "insights-api")
        .add_issuer(Issuer::aws_alb("eu-west-1", arn).key_url_per_kid("http://127.0.0.1:9/{kid}"));
    let served = serve(app(auth)).await;
    let token = idp.token().sign();
    let key = idp.key(Algorithm::RS256);
    let mut segments = token.split('.');
    let (h, p) = (segments.next().unwrap(), segments.next().unwrap());
    let decode = |s: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .unwrap()
    };
    let input = format!("{}.{}", padded(&decode(h)), padded(&decode(p)));
    let repadded = format!("{input}.{}", padded(&key.sign_bytes(input.as_bytes())));
    assert!(repadded.contains('='));
    assert_eq!(bearer(&served.base, &token).await.0, 200);
    // Refused as it is by a layer that trusts no load balancer, and the same way.
    let control = serve(app(JwtAuth::new(idp.url(), "insights-api"))).await;
    let refused = bearer(&served.base, &repadded).await;
    assert_ne!(refused.0, 200);
    let (status, _, challenge) = bearer(&control.base, &repadded).await;
    assert_eq!((refused.0, refused.2), (status, challenge));
    // In the load balancer's own header, the same padded token of another issuer is refused.
    let (status, _, _) = call(&served.base, "/", ("x-amzn-oidc-data", &repadded)).await;
    assert_eq!(status, 401);
}

// Cloudflare Access: "Validate JWTs" and "Application token" (Cloudflare One docs): header
// `Cf-Access-Jwt-Assertion` (and the `CF_Authorization` cookie), RS256, `iss`
// https://{team}.cloudflareaccess.com, keys at {iss}/cdn-cgi/access/certs (`keys`,
// `public_cert`, `public_certs`), `aud` [tag], `type: app`; identity tokens carry `email`,
// `sub`, `identity_nonce`, `country`; service tokens an empty `sub` and `common_name`.
#[tokio::test]
async fn cloudflare_access_tokens_from_header_or_cookie_and_service_tokens_as_clients() {
    let idp = TestIssuer::start().await;
    let certs_fetches = Arc::new(AtomicUsize::new(0));
    let certs = {
        let (jwks, fetches) = (idp.jwks(), Arc::clone(&certs_fetches));
        Router::new().route(
            "/cdn-cgi/access/certs",
            get(move || {
                let (jwks, fetches) = (jwks.clone(), Arc::clone(&fetches));
                async move {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    let mut doc = jwks.clone();
                    doc["public_cert"] =
                        json!({"kid": "x", "cert": "-----BEGIN CERTIFICATE-----\n..."});
                    doc["public_certs"] = json!([]);
                    axum::Json(doc)
                }
            }),
        )
    };
    let team = serve(certs).await;
    let tag = "32eafc7626e974616deaf0dc3ce63d7bcbed58a2731e84d06bc3cdf1b53c4228";
    let auth = JwtAuth::from(
        Issuer::cloudflare_access("eliq.cloudflareaccess.com", tag)
            .jwks_uri(format!("{}/cdn-cgi/access/certs", team.base)),
    );
    let served = serve(app(auth)).await;
    let identity = |aud: &str| {
        shaped(
            &idp,
            json!({"aud": [aud], "email": "alice@eliq.com", "iss": "https://eliq.cloudflareaccess.com",
                   "type": "app", "identity_nonce": "6ei69kawdKzMIAPF", "sub": "7335d417-61da-459d-899c-0a01c76a2f94",
                   "country": "NL"}),
        )
        .header("typ", "JWT")
        .sign()
    };
    let (status, body, _) = call(
        &served.base,
        "/",
        ("cf-access-jwt-assertion", &identity(tag)),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["client_only"], false);
    assert_eq!(certs_fetches.load(Ordering::SeqCst), 1);
    let cookie = format!("theme=dark; CF_Authorization={}", identity(tag));
    assert_eq!(call(&served.base, "/", ("cookie", &cookie)).await.0, 200);
    assert_eq!(
        call(
            &served.base,
            "/",
            ("cf-access-jwt-assertion", &identity("another-app-tag"))
        )
        .await
        .0,
        401
    );
    let service = shaped(
        &idp,
        json!({"aud": [tag], "iss": "https://eliq.cloudflareaccess.com", "type": "app",
               "sub": "", "common_name": "4d2e1c0b5a69.access"}),
    )
    .sign();
    let (status, body, _) = call(&served.base, "/", ("cf-access-jwt-assertion", &service)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["client_only"], true);
    assert_eq!(body["client_id"], "4d2e1c0b5a69.access");
    assert_eq!(body["sub"], "");
    let (status, _, _) = call(&served.base, "/user", ("cf-access-jwt-assertion", &service)).await;
    assert_eq!(status, 403);
}

#[derive(serde::Deserialize)]
struct Workflow {
    repository: String,
    environment: Option<String>,
    job_workflow_ref: String,
}

// GitHub Actions: "About security hardening with OpenID Connect" (GitHub docs), token
// claims: `jti`, `sub` repo:{owner}/{repo}:environment:{name}, `aud`, `ref`, `sha`,
// `repository`, `repository_owner`, `run_id`, `environment`, `job_workflow_ref`, `iss`
// https://token.actions.githubusercontent.com, `nbf`, `exp`, `iat`.
#[tokio::test]
async fn github_actions_workflow_claims_are_usable_in_rules() {
    let idp = TestIssuer::start().await;
    let auth =
        JwtAuth::from(Issuer::github_actions("https://deploy.eliq.com").jwks_uri(idp.jwks_uri()))
            .with_claims::<Workflow>()
            .require(|w: &Workflow| {
                w.repository == "eliq/insights"
                    && w.environment.as_deref() == Some("production")
                    && w.job_workflow_ref
                        .starts_with("eliq/insights/.github/workflows/deploy.yml@")
            });
    let app = Router::new()
        .route(
            "/deploy",
            get(|c: Claims<Workflow>| async move { c.repository.clone() }),
        )
        .layer(auth);
    let served = serve(app).await;
    let token = |environment: &str| {
        shaped(
            &idp,
            json!({"jti": "example-id", "sub": format!("repo:eliq/insights:environment:{environment}"),
                   "aud": "https://deploy.eliq.com", "ref": "refs/heads/main", "sha": "example-sha",
                   "repository": "eliq/insights", "repository_owner": "eliq", "run_id": "5",
                   "environment": environment,
                   "job_workflow_ref": "eliq/insights/.github/workflows/deploy.yml@refs/heads/main",
                   "iss": "https://token.actions.githubusercontent.com"}),
        )
        .header("typ", "JWT")
        .sign()
    };
    let ok = reqwest::Client::new()
        .get(format!("{}/deploy", served.base))
        .bearer_auth(token("production"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "eliq/insights");
    let staging = reqwest::Client::new()
        .get(format!("{}/deploy", served.base))
        .bearer_auth(token("staging"))
        .send()
        .await
        .unwrap();
    assert_eq!(staging.status(), 403);
}

#[test]
fn every_preset_is_a_usable_layer_on_its_own_and_beside_others() {
    let presets = [
        Issuer::cognito("eu-west-1", "eu-west-1_AbCdEf123", "3k8tq0example"),
        Issuer::entra(
            "6f1c2a9e-0000-4000-8000-000000000001",
            "0c1d2e3f-0000-4000-8000-00000000abcd",
        ),
        Issuer::keycloak("https://sso.eliq.com", "customers", "insights-api"),
        Issuer::auth0("eliq.eu.auth0.com", "https://api.eliq.com/insights"),
        Issuer::okta("https://eliq.okta.com/oauth2/default", "api://insights"),
        Issuer::google_iap("/projects/1/global/backendServices/2"),
        Issuer::aws_alb(
            "eu-west-1",
            "arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/a/b",
        ),
        Issuer::cloudflare_access("eliq.cloudflareaccess.com", "tag"),
        Issuer::github_actions("https://deploy.eliq.com"),
        Issuer::kubernetes("https://kubernetes.default.svc", "insights-api"),
    ];
    let mut all = JwtAuth::new("https://auth-api.eliq.com", "insights-api");
    for preset in presets {
        let alone = JwtAuth::from(preset.clone());
        assert!(
            alone.validate().is_ok(),
            "{preset:?}: {:?}",
            alone.validate()
        );
        all = all.add_issuer(preset);
    }
    let all = all.add_issuer(Issuer::entra_tenants(
        ["6f1c2a9e-0000-4000-8000-000000000001"],
        "0c1d2e3f-0000-4000-8000-00000000abcd",
    ));
    assert!(all.validate().is_ok(), "{:?}", all.validate());
    // A template of tenants is no layer's own issuer.
    let template = JwtAuth::from(Issuer::entra_tenants(["t"], "app"));
    assert_eq!(template.validate().unwrap_err().field(), "issuer");
}

/// A private CA and a `localhost` server certificate issued by it.
struct PrivateCa {
    ca_pem: String,
    server_der: Vec<u8>,
    server_key_der: Vec<u8>,
}

fn private_ca() -> PrivateCa {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let ca = rcgen::Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["localhost".into()])
        .unwrap()
        .signed_by(&server_key, &ca)
        .unwrap();
    PrivateCa {
        ca_pem: ca_cert.pem(),
        server_der: server.der().to_vec(),
        server_key_der: server_key.serialize_der(),
    }
}

/// Serves `app` over TLS with the private CA's certificate; returns its `https://localhost`
/// base URL (loopback).
async fn serve_tls(pki: &PrivateCa, app: Router) -> String {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(pki.server_der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.server_key_der.clone())),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let port = common::serve_tls(acceptor, app, |_, app| app).await;
    format!("https://localhost:{port}")
}

#[derive(serde::Deserialize)]
struct ServiceAccount {
    sub: String,
    #[serde(rename = "kubernetes.io")]
    kubernetes: KubernetesClaim,
}

#[derive(serde::Deserialize)]
struct KubernetesClaim {
    namespace: String,
    serviceaccount: Named,
}

#[derive(serde::Deserialize)]
struct Named {
    name: String,
}

// Kubernetes: "Managing Service Accounts" / bound service account tokens (Kubernetes docs): a
// projected token has `aud`, `exp`, `iat`, `nbf`, `iss` (the API server's issuer), `sub`
// system:serviceaccount:{namespace}:{name}, and `kubernetes.io` {namespace, pod {name, uid},
// serviceaccount {name, uid}}; the API server serves discovery and the JWK set at
// /.well-known/openid-configuration and /openid/v1/jwks, by default only to authenticated
// callers, over TLS with the cluster's own CA.
#[tokio::test]
async fn kubernetes_discovery_over_a_private_ca_with_the_pods_token() {
    use axum::http::{HeaderMap, StatusCode};
    let idp = TestIssuer::start().await;
    let pki = private_ca();
    let seen = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let base = Arc::new(std::sync::OnceLock::<String>::new());
    let api_server = {
        let (seen, base, jwks) = (Arc::clone(&seen), Arc::clone(&base), idp.jwks());
        let authorized = move |headers: &HeaderMap| {
            let bearer = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            seen.lock().unwrap().push(bearer.clone());
            bearer == "Bearer pod-token-1"
        };
        let authorized2 = authorized.clone();
        let base2 = Arc::clone(&base);
        Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move |headers: HeaderMap| {
                    let (ok, base) = (authorized(&headers), base2.get().cloned().unwrap_or_default());
                    async move {
                        if !ok {
                            return Err(StatusCode::UNAUTHORIZED);
                        }
                        Ok(axum::Json(json!({
                            "issuer": base, "jwks_uri": format!("{base}/openid/v1/jwks"),
                            "response_types_supported": ["id_token"], "subject_types_supported": ["public"],
                            "id_token_signing_alg_values_supported": ["RS256"],
                        })))
                    }
                }),
            )
            .route(
                "/openid/v1/jwks",
                get(move |headers: HeaderMap| {
                    let (ok, jwks) = (authorized2(&headers), jwks.clone());
                    async move {
                        if ok {
                            Ok(axum::Json(jwks))
                        } else {
                            Err(StatusCode::UNAUTHORIZED)
                        }
                    }
                }),
            )
    };
    let url = serve_tls(&pki, api_server).await;
    base.set(url.clone()).unwrap();
    let dir = std::env::temp_dir().join(format!("k8s-sa-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let token_file = dir.join("token");
    std::fs::write(&token_file, "pod-token-1\n").unwrap();

    let layer = |issuer: Issuer| {
        let auth = JwtAuth::from(issuer)
            .with_claims::<ServiceAccount>()
            .require(|sa: &ServiceAccount| sa.kubernetes.namespace == "billing");
        Router::new()
            .route(
                "/",
                get(|c: Claims<ServiceAccount>| async move {
                    format!("{} {}", c.sub, c.kubernetes.serviceaccount.name)
                }),
            )
            .layer(auth)
    };
    let token = shaped(
        &idp,
        json!({"aud": ["insights-api"], "iss": url, "nbf": 1_700_000_000u64,
               "sub": "system:serviceaccount:billing:billing-worker",
               "kubernetes.io": {"namespace": "billing",
                                 "pod": {"name": "billing-worker-7d9f", "uid": "0b6c0e4a-0000-4000-8000-000000000001"},
                                 "serviceaccount": {"name": "billing-worker", "uid": "5a4b3c2d-0000-4000-8000-000000000002"}}}),
    )
    .sign();
    let full = serve(layer(
        Issuer::kubernetes(&url, "insights-api")
            .key_fetch_ca(pki.ca_pem.clone())
            .key_fetch_token_file(&token_file),
    ))
    .await;
    let res = reqwest::Client::new()
        .get(format!("{}/", full.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.text().await.unwrap(),
        "system:serviceaccount:billing:billing-worker billing-worker"
    );
    assert_eq!(
        *seen.lock().unwrap(),
        ["Bearer pod-token-1", "Bearer pod-token-1"]
    );

    // Without the cluster's CA: no TLS, no keys (503). Without the pod's token: refused by the
    // API server, no keys (503).
    let untrusted = serve(layer(
        Issuer::kubernetes(&url, "insights-api").key_fetch_token_file(&token_file),
    ))
    .await;
    let tokenless = serve(layer(
        Issuer::kubernetes(&url, "insights-api")
            .key_fetch_ca(pki.ca_pem.clone())
            .key_fetch_token_file(dir.join("absent")),
    ))
    .await;
    for control in [&untrusted, &tokenless] {
        let res = reqwest::Client::new()
            .get(format!("{}/", control.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 503);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
