//! Interoperability with a real, certified third-party authorization server: panva's
//! `oidc-provider` (npm, pinned by `tests/interop/package-lock.json`, installed with
//! `npm ci --prefix tests/interop`), run by Node on 127.0.0.1. Tokens it issues through the
//! client-credentials grant, for every algorithm it signs that this crate supports, must pass the
//! layer in front of a real axum service; a token for another resource must not.

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;
use tower_jwt_auth::TokenRules;

use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tower_jwt_auth::{Claims, Credential, Introspection, JwtAuth, ManualClock};

struct Provider {
    issuer: String,
    client_id: String,
    client_secret: String,
    /// The resource server's client, for introspection.
    rs_client_id: String,
    rs_client_secret: String,
}

/// How long Node may take to load oidc-provider and listen, on a loaded 2-core machine.
const PROVIDER_START: Duration = Duration::from_secs(120);

/// The oidc-provider every test of this file talks to, started by the first test that asks for
/// it. One server for all: each test uses its own tokens and clients of the server, and one
/// process start per run is one chance less for a loaded machine to be slow. The server exits
/// when this test process does (its standard input, held here, closes).
fn provider() -> &'static Provider {
    static PROVIDER: OnceLock<Provider> = OnceLock::new();
    PROVIDER.get_or_init(start_provider)
}

fn start_provider() -> Provider {
    use std::io::{BufRead as _, Read as _};

    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop");
    assert!(
        dir.join("node_modules/oidc-provider").is_dir(),
        "oidc-provider is not installed: run `bash tests/setup.sh` (the README's test command does)"
    );
    let mut child = std::process::Command::new("node")
        .arg(dir.join("provider.mjs"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start node (Node.js is needed for the interoperability test)");
    // Both streams are read to their end on threads of their own: a full pipe would stall
    // Node, a closed one would make it exit (EPIPE). The first line of standard output says
    // where it listens; standard error is kept for the message if it never does.
    let (first_line, listening) = std::sync::mpsc::channel();
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    std::thread::spawn(move || {
        let mut lines = stdout.lines();
        let _ = first_line.send(lines.next());
        lines.for_each(drop);
    });
    let mut stderr = child.stderr.take().unwrap();
    let stderr_text = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stderr.read_to_end(&mut text);
        String::from_utf8_lossy(&text).into_owned()
    });
    let said = |mut child: std::process::Child, what: &str| -> String {
        // Once Node is gone its standard error ends, and all of it is here.
        let _ = child.kill();
        let _ = child.wait();
        let text = stderr_text.join().unwrap_or_default();
        format!("oidc-provider {what}; Node's standard error:\n{text}")
    };
    let line = match listening.recv_timeout(PROVIDER_START) {
        Ok(Some(Ok(line))) => line,
        Ok(_) => panic!("{}", said(child, "exited before listening")),
        Err(_) => panic!(
            "{}",
            said(child, &format!("did not listen within {PROVIDER_START:?}"))
        ),
    };
    let info: Value = serde_json::from_str(&line).unwrap();
    // Held for the life of the test process: when it closes, the server exits.
    std::mem::forget(child);
    Provider {
        issuer: info["issuer"].as_str().unwrap().to_owned(),
        client_id: info["client_id"].as_str().unwrap().to_owned(),
        client_secret: info["client_secret"].as_str().unwrap().to_owned(),
        rs_client_id: info["rs_client_id"].as_str().unwrap().to_owned(),
        rs_client_secret: info["rs_client_secret"].as_str().unwrap().to_owned(),
    }
}

impl Provider {
    /// A client-credentials access token for `resource` (RFC 8707).
    async fn token(&self, resource: &str) -> String {
        let res = reqwest::Client::new()
            .post(format!("{}/token", self.issuer))
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .form(&[
                ("grant_type", "client_credentials"),
                ("resource", resource),
                ("scope", "insights.read"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["token_type"], "Bearer");
        body["access_token"].as_str().unwrap().to_owned()
    }
}

impl Provider {
    /// Revokes `token` (RFC 7009) as the client it was issued to.
    async fn revoke(&self, token: &str) {
        let res = reqwest::Client::new()
            .post(format!("{}/token/revocation", self.issuer))
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    }
}

fn header_of(token: &str) -> Value {
    let head = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(head).unwrap()).unwrap()
}

#[tokio::test]
async fn tokens_from_oidc_provider_pass_for_every_shared_algorithm() {
    let provider = provider();
    let auth = JwtAuth::new(&provider.issuer, "insights-api")
        .require_scopes(["insights.read"])
        .token_rules(TokenRules {
            strict_rfc9068: true,
            ..TokenRules::default()
        });
    // Discovery against the real provider: its `issuer` must equal ours byte for byte.
    auth.ready().await.unwrap();
    let app = Router::new()
        .route(
            "/usage",
            get(|c: Claims| async move {
                Json(json!({"sub": c.sub, "client_id": c.client_id, "scopes": c.scopes().collect::<Vec<_>>()}))
            }),
        )
        .layer(auth);
    let served = common::serve(app).await;

    for alg in ["RS256", "PS256", "ES256", "ES384", "EdDSA"] {
        let token = provider
            .token(&format!("urn:interop:insights-api:{alg}"))
            .await;
        let header = header_of(&token);
        assert_eq!(header["alg"], alg);
        assert_eq!(header["typ"], "at+jwt");
        let res = common::get(&format!("{}/usage", served.base), Some(&token)).await;
        assert_eq!(
            res.status(),
            200,
            "{alg}: {}",
            common::www_authenticate(&res)
        );
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["sub"], provider.client_id, "{alg}");
        assert_eq!(body["client_id"], provider.client_id);
        assert_eq!(body["scopes"], json!(["insights.read"]));
        println!("oidc-provider {alg} token accepted");
    }

    let other = provider.token("urn:interop:data-management-api").await;
    let res = common::get(&format!("{}/usage", served.base), Some(&other)).await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        common::www_authenticate(&res),
        r#"Bearer realm="insights-api", error="invalid_token", error_description="the token is not intended for this audience""#
    );
}

#[tokio::test]
async fn oidc_provider_and_a_second_issuer_share_one_layer() {
    let provider = provider();
    let second = tower_jwt_auth::testing::TestIssuer::start().await;
    let auth = JwtAuth::new(&provider.issuer, "insights-api")
        .add_issuer(second.url())
        .require_scopes(["insights.read"]);
    auth.ready().await.unwrap();
    let app = Router::new()
        .route(
            "/usage",
            get(|c: Claims| async move { c.grant().issuer().to_owned() }),
        )
        .layer(auth);
    let served = common::serve(app).await;
    let url = format!("{}/usage", served.base);
    let from_provider = provider.token("urn:interop:insights-api:ES256").await;
    let from_second = second.token().scopes(["insights.read"]).sign();
    for (token, issuer) in [
        (&from_provider, provider.issuer.as_str()),
        (&from_second, second.url()),
    ] {
        let res = common::get(&url, Some(token)).await;
        assert_eq!(
            res.status(),
            200,
            "{issuer}: {}",
            common::www_authenticate(&res)
        );
        assert_eq!(res.text().await.unwrap(), issuer);
    }
    // A token of the second issuer re-signed under the provider's name is refused.
    let forged = second
        .token()
        .iss(&provider.issuer)
        .scopes(["insights.read"])
        .sign();
    assert_eq!(common::get(&url, Some(&forged)).await.status(), 401);
}

#[tokio::test]
async fn opaque_tokens_from_oidc_provider_are_introspected_and_revocation_is_honoured() {
    let provider = provider();
    let clock = ManualClock::starting_now();
    // The endpoint from the provider's own discovery document; a short bound on remembered
    // verdicts so that revocation shows within the test.
    let auth = JwtAuth::new(&provider.issuer, "insights-api")
        .introspection(
            Introspection::from_metadata(&provider.rs_client_id, &provider.rs_client_secret)
                .cache_ttl(Duration::from_secs(5)),
        )
        .require_scopes(["insights.read"])
        .clock(clock.clone());
    let app = Router::new()
        .route(
            "/usage",
            get(|c: Claims| async move {
                let g = c.grant();
                Json(json!({
                    "sub": g.sub(),
                    "client_only": g.is_client_only(),
                    "client_id": g.client_id(),
                    "credential": format!("{:?}", g.credential()),
                    "scopes": g.scopes().collect::<Vec<_>>(),
                    "aud": c.aud.0,
                }))
            }),
        )
        .layer(auth.clone());
    let served = common::serve(app).await;
    let url = format!("{}/usage", served.base);

    let opaque = provider.token("urn:interop:insights-api:opaque").await;
    assert_eq!(
        opaque.matches('.').count(),
        0,
        "oidc-provider issued an opaque token"
    );
    let res = common::get(&url, Some(&opaque)).await;
    assert_eq!(res.status(), 200, "{}", common::www_authenticate(&res));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["credential"], "Introspected");
    assert_eq!(body["client_id"], provider.client_id);
    // oidc-provider's answer for a client-credentials token has no `sub`: the grant names
    // the client as the client, never as a subject.
    assert_eq!(body["sub"], "");
    assert_eq!(body["client_only"], true);
    assert_eq!(body["scopes"], json!(["insights.read"]));
    assert_eq!(body["aud"], json!(["insights-api"]));
    println!("oidc-provider opaque token accepted after introspection");

    // A JWT from the same provider is still verified locally.
    let jwt = provider.token("urn:interop:insights-api:ES256").await;
    let claims = auth.verify(&jwt).await.unwrap();
    assert_eq!(claims.grant().credential(), Credential::Jwt);

    // An opaque token for another resource: active, but not for this audience.
    let other = provider
        .token("urn:interop:data-management-api:opaque")
        .await;
    let res = common::get(&url, Some(&other)).await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        common::www_authenticate(&res),
        r#"Bearer realm="insights-api", error="invalid_token", error_description="the token is not intended for this audience""#
    );

    // Revoked at the provider: accepted while its verdict is remembered, refused after.
    provider.revoke(&opaque).await;
    assert_eq!(common::get(&url, Some(&opaque)).await.status(), 200);
    clock.advance(Duration::from_secs(6));
    let res = common::get(&url, Some(&opaque)).await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        common::www_authenticate(&res),
        r#"Bearer realm="insights-api", error="invalid_token", error_description="the token is not active""#
    );
    println!("revoked oidc-provider opaque token refused once its remembered verdict ended");

    // The wrong resource-server secret: the provider refuses the call, which is 503, not 401.
    let wrong = JwtAuth::new(&provider.issuer, "insights-api").introspection(
        Introspection::from_metadata(&provider.rs_client_id, "not-the-secret"),
    );
    let err = wrong
        .verify(&provider.token("urn:interop:insights-api:opaque").await)
        .await;
    assert_eq!(
        err.unwrap_err().kind(),
        tower_jwt_auth::AuthErrorKind::ValidationUnavailable
    );
}

#[tokio::test]
async fn client_credentials_obtains_tokens_from_oidc_provider_for_an_axum_service() {
    use tower_jwt_auth::client::{AddAccessToken, ClientCredentials, TokenSource};

    let provider = provider();
    let auth = JwtAuth::new(&provider.issuer, "insights-api").require_scopes(["insights.read"]);
    let app = Router::new()
        .route("/usage", get(|c: Claims| async move { c.sub.clone() }))
        .layer(auth);
    let served = common::serve(app).await;

    // The token endpoint from the provider's discovery, HTTP Basic client authentication, the
    // API named as an RFC 8707 resource indicator.
    let source = ClientCredentials::discover(
        &provider.issuer,
        &provider.client_id,
        provider.client_secret.as_str(),
    )
    .resource("urn:interop:insights-api:ES256")
    .scopes(["insights.read"]);
    let token = source.token().await.unwrap();
    assert_eq!(header_of(token.secret())["alg"], "ES256");
    assert_eq!(source.token().await.unwrap(), token, "cached");
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(AddAccessToken::new(source))
        .build();
    let res = http
        .get(format!("{}/usage", served.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), provider.client_id);

    // A resource the provider does not know, and the wrong secret: configuration errors, each
    // with the provider's own code.
    let unknown = ClientCredentials::discover(
        &provider.issuer,
        &provider.client_id,
        provider.client_secret.as_str(),
    )
    .resource("urn:interop:billing-api");
    let err = unknown.token().await.unwrap_err();
    assert!(err.is_configuration(), "{err}");
    assert_eq!(err.oauth_error(), Some("invalid_target"));
    let wrong = ClientCredentials::discover(&provider.issuer, &provider.client_id, "not-it")
        .resource("urn:interop:insights-api:ES256");
    let err = wrong.token().await.unwrap_err();
    assert!(err.is_configuration(), "{err}");
    assert_eq!(err.oauth_error(), Some("invalid_client"));
    assert!(!format!("{err} {err:?}").contains("not-it"));
}

/// panva's `jose` as an independent DPoP client: its token from oidc-provider, its proofs.
struct DpopClient {
    token: String,
    jkt: String,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    stdin: tokio::process::ChildStdin,
    _child: Child,
}

impl DpopClient {
    async fn start(provider: &Provider, resource: &str) -> Self {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop");
        let mut child = Command::new("node")
            .arg(dir.join("dpop_client.mjs"))
            .args([
                &provider.issuer,
                &provider.client_id,
                &provider.client_secret,
                resource,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start node");
        let stdin = child.stdin.take().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(PROVIDER_START, lines.next_line())
            .await
            .expect("the DPoP client did not answer in time")
            .unwrap()
            .expect("the DPoP client exited");
        let info: Value = serde_json::from_str(&first).unwrap();
        assert_eq!(info["status"], 200, "{info}");
        assert_eq!(info["token_type"], "DPoP", "{info}");
        Self {
            token: info["access_token"].as_str().unwrap().to_owned(),
            jkt: info["jkt"].as_str().unwrap().to_owned(),
            lines,
            stdin,
            _child: child,
        }
    }

    async fn proof(&mut self, method: &str, url: &str) -> String {
        use tokio::io::AsyncWriteExt;
        let ask = format!("{}\n", json!({"method": method, "url": url}));
        self.stdin.write_all(ask.as_bytes()).await.unwrap();
        let line = self.lines.next_line().await.unwrap().unwrap();
        let answer: Value = serde_json::from_str(&line).unwrap();
        answer["proof"].as_str().unwrap().to_owned()
    }
}

#[tokio::test]
async fn dpop_bound_tokens_from_oidc_provider_with_proofs_made_by_jose() {
    let provider = provider();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let auth = JwtAuth::new(&provider.issuer, "insights-api")
        .dpop(tower_jwt_auth::Dpop::new(&base))
        .require_scopes(["insights.read"]);
    let app = Router::new()
        .route("/usage", get(|c: Claims| async move { c.sub.clone() }))
        .layer(auth);
    let _server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let mut client = DpopClient::start(provider, "urn:interop:insights-api:ES256").await;
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(client.token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        claims["cnf"]["jkt"],
        client.jkt.as_str(),
        "oidc-provider bound the token"
    );

    let url = format!("{base}/usage");
    let http = reqwest::Client::new();
    let token = client.token.clone();
    let call = |proof: String, url: String, scheme: &'static str| {
        let token = token.clone();
        let http = http.clone();
        async move {
            http.get(url)
                .header("authorization", format!("{scheme} {token}"))
                .header("dpop", proof)
                .send()
                .await
                .unwrap()
        }
    };
    let proof = client.proof("GET", &url).await;
    let res = call(proof.clone(), url.clone(), "DPoP").await;
    assert_eq!(res.status(), 200, "{:?}", res.headers());
    assert_eq!(res.text().await.unwrap(), provider.client_id);
    println!("oidc-provider DPoP-bound token accepted with a jose proof");

    // The same token and proof again: a replay.
    let res = call(proof, url.clone(), "DPoP").await;
    assert_eq!(res.status(), 401);
    let challenges: Vec<_> = res.headers().get_all("www-authenticate").iter().collect();
    assert!(
        challenges.iter().any(|c| c
            .to_str()
            .unwrap()
            .contains(r#"error="invalid_dpop_proof""#)),
        "{challenges:?}"
    );
    // A proof made for another URL.
    let elsewhere = client.proof("GET", &format!("{base}/other")).await;
    assert_eq!(call(elsewhere, url.clone(), "DPoP").await.status(), 401);
    // The token as a bearer token.
    let fresh = client.proof("GET", &url).await;
    assert_eq!(call(fresh, url.clone(), "Bearer").await.status(), 401);
    // And a fresh proof once more.
    let fresh = client.proof("GET", &url).await;
    assert_eq!(call(fresh, url, "DPoP").await.status(), 200);
}

#[tokio::test]
async fn oidc_provider_tokens_with_acr_and_auth_time_are_stepped_up_as_configured() {
    let provider = provider();
    // A payout route: a second factor within the last five minutes. JWTs and opaque tokens
    // (their `acr` and `auth_time` from the introspection answer) alike.
    let auth = JwtAuth::new(&provider.issuer, "payouts-api").introspection(
        Introspection::from_metadata(&provider.rs_client_id, &provider.rs_client_secret),
    );
    let app = Router::new()
        .route(
            "/payout-account",
            get(|c: Claims| async move {
                let g = c.grant();
                Json(json!({"acr": g.acr(), "auth_time": g.auth_time()}))
            })
            .layer(
                tower_jwt_auth::RequireStepUp::new()
                    .acr(["urn:eliq:acr:mfa"])
                    .max_age(Duration::from_secs(300)),
            ),
        )
        .layer(auth);
    let served = common::serve(app).await;
    let url = format!("{}/payout-account", served.base);
    for format in ["", ":opaque"] {
        let strong = provider
            .token(&format!("urn:interop:payouts-api:mfa-recent{format}"))
            .await;
        let res = common::get(&url, Some(&strong)).await;
        assert_eq!(
            res.status(),
            200,
            "{format}: {}",
            common::www_authenticate(&res)
        );
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["acr"], "urn:eliq:acr:mfa", "{format}");
        assert!(body["auth_time"].as_u64().is_some(), "{format}");

        let weak = provider
            .token(&format!("urn:interop:payouts-api:pwd-old{format}"))
            .await;
        let res = common::get(&url, Some(&weak)).await;
        assert_eq!(res.status(), 401, "{format}");
        let challenge = common::www_authenticate(&res);
        assert!(
            challenge.contains(r#"error="insufficient_user_authentication""#)
                && challenge.contains(r#"acr_values="urn:eliq:acr:mfa""#)
                && challenge.contains(r#"max_age="300""#),
            "{format}: {challenge}"
        );
    }
}
