//! The layer in front of a tonic gRPC server, with one command:
//!
//! ```text
//! cargo run --example tonic
//! ```
//!
//! Starts the embedded identity provider and a gRPC health service behind
//! `JwtAuth`, then calls it with a tonic client: refusals arrive as gRPC statuses
//! (UNAUTHENTICATED, PERMISSION_DENIED), and the service reads the verified claims from
//! `request.extensions()`.

use tonic::codegen::tokio_stream;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Server};
use tonic::{Request, Response, Status};
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use tower_jwt_auth::testing::TestIssuer;
use tower_jwt_auth::{AccessClaims, Claims, JwtAuth};

struct Probe;

#[tonic::async_trait]
impl Health for Probe {
    async fn check(
        &self,
        req: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        // The layer put the verified claims here. Asking for another claims type than the
        // layer's (`with_claims::<T>()`) is an error that says so, never a silent `None`.
        let claims = Claims::<AccessClaims>::from_extensions(req.extensions())?;
        println!(
            "    (service sees sub={}, scopes={:?})",
            claims.sub,
            claims.scopes().collect::<Vec<_>>()
        );
        Ok(Response::new(HealthCheckResponse { status: 1 }))
    }

    type WatchStream = tokio_stream::Empty<Result<HealthCheckResponse, Status>>;

    async fn watch(
        &self,
        _req: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        Ok(Response::new(tokio_stream::empty()))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let issuer = TestIssuer::start().await;
    let auth = JwtAuth::new(issuer.url(), "insights-api").require_scopes(["insights.read"]);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(
        Server::builder()
            .layer(auth)
            .add_service(HealthServer::new(Probe))
            .serve_with_incoming(TcpIncoming::from(listener)),
    );
    println!(
        "gRPC service on {addr}, identity provider on {}\n",
        issuer.url()
    );

    let channel = Channel::from_shared(format!("http://{addr}"))?
        .connect()
        .await?;
    let reader = issuer
        .token()
        .sub("user-1042")
        .sub_type("user")
        .scopes(["insights.read"])
        .sign();
    let writer = issuer
        .token()
        .sub("user-1042")
        .scopes(["insights.write"])
        .sign();
    for (what, token) in [
        ("token with insights.read", Some(reader.as_str())),
        ("no token", None),
        ("token without insights.read", Some(writer.as_str())),
    ] {
        let mut req = Request::new(HealthCheckRequest {
            service: String::new(),
        });
        if let Some(t) = token {
            req.metadata_mut()
                .insert("authorization", format!("Bearer {t}").parse()?);
        }
        match HealthClient::new(channel.clone()).check(req).await {
            Ok(res) => println!("{what:<30} -> OK (status {})\n", res.get_ref().status),
            Err(status) => println!("{what:<30} -> {:?}: {}\n", status.code(), status.message()),
        }
    }
    server.abort();
    Ok(())
}
