//! Each middleware configured as its README recommends, in front of one axum route, against
//! the same stand-in provider. Scopes are not checked by any of them (not every peer has a
//! scope check), so every row measures the same work: take the bearer token, verify it
//! against the provider's keys and claims, pass the claims on.

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use tower_jwt_auth::testing::TestIssuer;
use tower_jwt_auth::JwtAuth;

pub const AUDIENCE: &str = "insights-api";

/// The peers, by the name their rows carry.
pub const PEERS: [&str; 7] = [
    "no_auth",
    "tower_jwt_auth",
    "tower_jwt_auth_uncached",
    "tower_oauth2_resource_server",
    "huskarl_axum",
    "no_auth_axum07",
    "jwt_authorizer",
];

/// A router of either axum version.
#[derive(Clone)]
pub enum App {
    Axum08(Router),
    Axum07(axum07::Router),
}

impl App {
    /// Serves on `listener` until the process ends.
    pub async fn serve(self, listener: tokio::net::TcpListener) {
        match self {
            App::Axum08(r) => axum::serve(listener, r).await.unwrap(),
            App::Axum07(r) => axum07::serve(listener, r).await.unwrap(),
        }
    }

    /// Waits (at most 5 s) until the token is accepted: some peers load their keys in the
    /// background after being built.
    pub async fn warm(&self, authorization: &http::HeaderValue) {
        for _ in 0..250 {
            if self.call(authorization).await == 200 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("the token was not accepted within 5 s");
    }

    /// One `GET /usage` with this `Authorization` value: the status.
    pub async fn call(&self, authorization: &http::HeaderValue) -> u16 {
        use tower::ServiceExt;
        match self {
            App::Axum08(r) => {
                let req = http::Request::get("/usage")
                    .header(http::header::AUTHORIZATION, authorization.clone())
                    .body(axum::body::Body::empty())
                    .unwrap();
                r.clone().oneshot(req).await.unwrap().status().as_u16()
            }
            App::Axum07(r) => {
                let req = http::Request::get("/usage")
                    .header(http::header::AUTHORIZATION, authorization.clone())
                    .body(axum07::body::Body::empty())
                    .unwrap();
                r.clone().oneshot(req).await.unwrap().status().as_u16()
            }
        }
    }
}

/// The claims every peer hands on (the subject).
#[derive(Clone, Debug, Deserialize)]
pub struct Claims {
    pub sub: String,
}

fn route() -> Router {
    Router::new().route("/usage", get(|| async { "ok" }))
}

fn route07() -> axum07::Router {
    axum07::Router::new().route("/usage", axum07::routing::get(|| async { "ok" }))
}

/// The route behind `peer`, its keys found through `issuer`'s discovery document.
pub async fn app(peer: &str, issuer: &TestIssuer) -> App {
    let url = issuer.url().to_owned();
    let app = match peer {
        "no_auth_axum07" => return App::Axum07(route07().with_state(())),
        "no_auth" => route(),
        "tower_jwt_auth" => route().layer(JwtAuth::new(&url, AUDIENCE)),
        // Every token verified in full, as the peers without a cache do.
        "tower_jwt_auth_uncached" => {
            route().layer(JwtAuth::new(&url, AUDIENCE).verified_token_cache(0))
        }
        "jwt_authorizer" => {
            use jwt_authorizer::{Authorizer, IntoLayer, JwtAuthorizer, Validation};
            let auth: Authorizer<Claims> = JwtAuthorizer::from_oidc(&url)
                .validation(Validation::new().iss(&[&url]).aud(&[AUDIENCE]))
                .build()
                .await
                .expect("jwt-authorizer");
            return App::Axum07(route07().layer(auth.into_layer()).with_state(()));
        }
        "tower_oauth2_resource_server" => {
            use tower_oauth2_resource_server::server::OAuth2ResourceServer;
            use tower_oauth2_resource_server::tenant::TenantConfiguration;
            let tenant = TenantConfiguration::builder(&url)
                .audiences(&[AUDIENCE])
                .build()
                .await
                .expect("tower-oauth2-resource-server tenant");
            let server = OAuth2ResourceServer::<Claims>::builder()
                .add_tenant(tenant)
                .build()
                .await
                .expect("tower-oauth2-resource-server");
            route().layer(server.into_layer())
        }
        "huskarl_axum" => {
            use huskarl_axum::layers::ValidatorLayer;
            use huskarl_axum::resource_server::core::jwk::JwksSource;
            use huskarl_axum::resource_server::core::server_metadata::AuthorizationServerMetadata;
            use huskarl_axum::resource_server::validator::rfc9068::Rfc9068Validator;
            let client = huskarl_reqwest::ReqwestClient::builder()
                .mtls(huskarl_reqwest::mtls::NoMtls)
                .build()
                .await
                .expect("HTTP client");
            let metadata = AuthorizationServerMetadata::fetch()
                .http_client(&client)
                .issuer(&url)
                .call()
                .await
                .expect("authorization server discovery");
            let validator = Rfc9068Validator::builder_from_metadata(&metadata)
                .audience(AUDIENCE)
                .jws_verifier_factory(Arc::new(JwksSource::builder().http_client(client).build()))
                .build()
                .await
                .expect("huskarl validator");
            let layer = ValidatorLayer::builder().validator(validator).build();
            route().layer(layer.authenticated())
        }
        other => panic!("unknown peer {other}"),
    };
    App::Axum08(app.with_state(()))
}
