//! A gRPC health service behind the layers under test, a client for it, and a request with a
//! bearer token: what the gRPC cases of several test files share.

use std::future::Future;

use tonic::transport::server::TcpIncoming;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::health_server::Health;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

/// Answers every check `SERVING`.
pub struct Probe;

#[tonic::async_trait]
impl Health for Probe {
    async fn check(
        &self,
        _req: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        Ok(Response::new(HealthCheckResponse { status: 1 }))
    }

    type WatchStream = tonic::codegen::tokio_stream::Empty<Result<HealthCheckResponse, Status>>;

    async fn watch(
        &self,
        _req: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        Ok(Response::new(tonic::codegen::tokio_stream::empty()))
    }
}

/// Runs `serve` on a free loopback port and connects a channel to it; the server stops when
/// the handle is aborted or dropped with the runtime.
pub async fn channel<F, Fut>(serve: F) -> (Channel, tokio::task::JoinHandle<()>)
where
    F: FnOnce(TcpIncoming) -> Fut,
    Fut: Future<Output = Result<(), tonic::transport::Error>> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let served = serve(TcpIncoming::from(listener));
    let task = tokio::spawn(async move { served.await.unwrap() });
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    (channel, task)
}

/// [`channel`], with a health client on it.
pub async fn run<F, Fut>(serve: F) -> (HealthClient<Channel>, tokio::task::JoinHandle<()>)
where
    F: FnOnce(TcpIncoming) -> Fut,
    Fut: Future<Output = Result<(), tonic::transport::Error>> + Send + 'static,
{
    let (channel, task) = channel(serve).await;
    (HealthClient::new(channel), task)
}

/// A health check carrying `Authorization: Bearer <token>`.
pub fn ask(token: &str) -> Request<HealthCheckRequest> {
    let mut req = Request::new(HealthCheckRequest::default());
    req.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    req
}
