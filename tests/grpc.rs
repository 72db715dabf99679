//! The layer in front of a real tonic server, called by a real tonic client over loopback:
//! refusals arrive as gRPC statuses, claims reach the services, and `RequireScopes` applies to
//! the one service it wraps.

mod common;

use std::convert::Infallible;
use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::uri::PathAndQuery;
use tonic::codegen::tokio_stream;
use tonic::metadata::MetadataValue;
use tonic::server::NamedService;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Server};
use tonic::{Code, Request, Response, Status};
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use tonic_prost::ProstCodec;
use tower::Layer;
use tower_jwt_auth::testing::TestIssuer;
use tower_jwt_auth::{Claims, JwtAuth, MethodScopes, RequireScopes};

/// tonic-health's generated service, answering with the verified subject in `x-subject`.
struct Probe;

#[tonic::async_trait]
impl Health for Probe {
    async fn check(
        &self,
        req: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        respond(&req)
    }

    type WatchStream = tokio_stream::Empty<Result<HealthCheckResponse, Status>>;

    async fn watch(
        &self,
        _req: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        Ok(Response::new(tokio_stream::empty()))
    }
}

fn respond<T>(req: &Request<T>) -> Result<Response<HealthCheckResponse>, Status> {
    let claims = req
        .extensions()
        .get::<Claims>()
        .ok_or_else(|| Status::internal("no claims"))?;
    let mut res = Response::new(HealthCheckResponse { status: 1 });
    let subject =
        MetadataValue::try_from(claims.sub.as_str()).map_err(|_| Status::internal("subject"))?;
    res.metadata_mut().insert("x-subject", subject);
    Ok(res)
}

/// A second gRPC service, `insights.v1.Usage/Read`, written against tonic's server machinery
/// (what generated code does) so that no protoc is needed.
#[derive(Clone)]
struct Usage;

impl NamedService for Usage {
    const NAME: &'static str = "insights.v1.Usage";
}

#[derive(Clone)]
struct Read;

impl tonic::server::UnaryService<HealthCheckRequest> for Read {
    type Response = HealthCheckResponse;
    type Future = Ready<Result<Response<HealthCheckResponse>, Status>>;
    fn call(&mut self, req: Request<HealthCheckRequest>) -> Self::Future {
        ready(respond(&req))
    }
}

impl tower::Service<http::Request<tonic::body::Body>> for Usage {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        Box::pin(async move {
            let codec = ProstCodec::<HealthCheckResponse, HealthCheckRequest>::default();
            Ok(tonic::server::Grpc::new(codec).unary(Read, req).await)
        })
    }
}

struct Running {
    channel: Channel,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves with `serve` on a free loopback port and connects a channel to it.
async fn run<F, Fut>(serve: F) -> Running
where
    F: FnOnce(TcpIncoming) -> Fut,
    Fut: Future<Output = Result<(), tonic::transport::Error>> + Send + 'static,
{
    let (channel, task) = common::health::channel(serve).await;
    Running { channel, task }
}

/// Health behind the layer's `insights.read`; Usage also behind `insights.admin`.
async fn start(auth: JwtAuth) -> Running {
    let router = Server::builder()
        .layer(auth)
        .add_service(HealthServer::new(Probe))
        .add_service(RequireScopes::new(["insights.admin"]).layer(Usage));
    run(|incoming| router.serve_with_incoming(incoming)).await
}

/// Health and Usage behind the layer, with scopes per method from `scopes`.
async fn start_with_methods(auth: JwtAuth, scopes: MethodScopes) -> Running {
    let router = Server::builder()
        .layer(auth)
        .layer(scopes)
        .add_service(HealthServer::new(Probe))
        .add_service(Usage);
    run(|incoming| router.serve_with_incoming(incoming)).await
}

fn with_token<T>(msg: T, token: Option<&str>) -> Request<T> {
    let mut req = Request::new(msg);
    if let Some(t) = token {
        req.metadata_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    req
}

async fn check(
    run: &Running,
    token: Option<&str>,
) -> Result<Response<HealthCheckResponse>, Status> {
    let msg = HealthCheckRequest {
        service: String::new(),
    };
    HealthClient::new(run.channel.clone())
        .check(with_token(msg, token))
        .await
}

async fn read_usage(
    run: &Running,
    token: Option<&str>,
) -> Result<Response<HealthCheckResponse>, Status> {
    let mut grpc = tonic::client::Grpc::new(run.channel.clone());
    grpc.ready().await.unwrap();
    let msg = HealthCheckRequest {
        service: String::new(),
    };
    let codec = ProstCodec::<HealthCheckRequest, HealthCheckResponse>::default();
    grpc.unary(
        with_token(msg, token),
        PathAndQuery::from_static("/insights.v1.Usage/Read"),
        codec,
    )
    .await
}

/// The `www-authenticate` metadata of a refusal.
fn challenge(status: &Status) -> &str {
    status
        .metadata()
        .get("www-authenticate")
        .unwrap()
        .to_str()
        .unwrap()
}

fn auth(issuer: &TestIssuer) -> JwtAuth {
    JwtAuth::new(issuer.url(), "insights-api").require_scopes(["insights.read"])
}

#[tokio::test]
async fn valid_tokens_reach_the_service_with_their_claims() {
    let issuer = TestIssuer::start().await;
    let run = start(auth(&issuer)).await;
    let token = issuer
        .token()
        .sub("u-5")
        .sub_type("user")
        .scopes(["insights.read"])
        .sign();
    let res = check(&run, Some(&token)).await.unwrap();
    assert_eq!(res.get_ref().status, 1);
    assert_eq!(res.metadata().get("x-subject").unwrap(), "u-5");
}

#[tokio::test]
async fn refusals_are_grpc_statuses() {
    let issuer = TestIssuer::start().await;
    let run = start(auth(&issuer)).await;

    let status = check(&run, None).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(status.message(), "a bearer token is required");
    assert_eq!(
        status.metadata().get("www-authenticate").unwrap(),
        r#"Bearer realm="insights-api""#
    );

    let expired = issuer
        .token()
        .scopes(["insights.read"])
        .expired_for(Duration::from_secs(300))
        .sign();
    let status = check(&run, Some(&expired)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(status.message(), "the token has expired");

    let no_scope = issuer.token().scopes(["insights.write"]).sign();
    let status = check(&run, Some(&no_scope)).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(status.message(), "the token lacks a required scope");
    let www = challenge(&status);
    assert!(
        www.contains(r#"error="insufficient_scope""#) && www.ends_with(r#"scope="insights.read""#),
        "{www}"
    );

    // Another scheme carries no bearer credentials (RFC 6750 §3.1): as if there were no token.
    let status = check_with_authorization(&run, "Basic dTpw").await;
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(challenge(&status), r#"Bearer realm="insights-api""#);
    let status = check_with_authorization(&run, "Bearer a\"b").await;
    assert_eq!(status.code(), Code::InvalidArgument);
}

/// The refusal of a health check sent with this `authorization` value.
async fn check_with_authorization(run: &Running, value: &str) -> Status {
    let mut req = Request::new(HealthCheckRequest {
        service: String::new(),
    });
    req.metadata_mut()
        .insert("authorization", value.parse().unwrap());
    HealthClient::new(run.channel.clone())
        .check(req)
        .await
        .unwrap_err()
}

#[tokio::test]
async fn unreachable_keys_are_unavailable() {
    let down = common::closed_port_url().await;
    let run = start(JwtAuth::new(&down, "insights-api")).await;
    let token = TestIssuer::start().await.token().claim("iss", down).sign();
    let status = check(&run, Some(&token)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(status.message(), "signing keys are temporarily unavailable");
}

#[tokio::test]
async fn require_scopes_applies_to_the_service_it_wraps_only() {
    let issuer = TestIssuer::start().await;
    let run = start(auth(&issuer)).await;
    let reader = issuer.token().sub("u-6").scopes(["insights.read"]).sign();
    assert!(check(&run, Some(&reader)).await.is_ok());
    let status = read_usage(&run, Some(&reader)).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let www = challenge(&status);
    assert!(www.ends_with(r#"scope="insights.admin""#), "{www}");

    let admin = issuer
        .token()
        .sub("u-6")
        .scopes(["insights.read", "insights.admin"])
        .sign();
    let res = read_usage(&run, Some(&admin)).await.unwrap();
    assert_eq!(res.metadata().get("x-subject").unwrap(), "u-6");
}

#[tokio::test]
async fn api_keys_and_opaque_tokens_get_the_same_grpc_statuses() {
    use tower_jwt_auth::{
        api_key::ApiKeyError, api_key::ApiKeyFn, api_key::ApiKeyGrant, api_key::ApiKeyStore,
        Introspection,
    };
    let issuer = TestIssuer::start().await;
    let keys = ApiKeyStore::new();
    keys.insert(
        "fl_reader_0123456789",
        ApiKeyGrant::new("org-7").scopes(["insights.read"]),
    );
    keys.insert(
        "fl_writer_0123456789",
        ApiKeyGrant::new("org-8").scopes(["insights.write"]),
    );
    keys.insert(
        "fl_admin_0123456789",
        ApiKeyGrant::new("org-9").scopes(["insights.read", "insights.admin"]),
    );
    let down = common::closed_port_url().await;
    let run = start(
        auth(&issuer)
            .api_keys("fl_", keys)
            .api_keys(
                "zz_",
                ApiKeyFn::new(|_| async { Err(ApiKeyError::new("down")) }),
            )
            .introspection(Introspection::new(format!("{down}/introspect"), "rs", "s")),
    )
    .await;
    let res = check(&run, Some("fl_reader_0123456789")).await.unwrap();
    assert_eq!(res.metadata().get("x-subject").unwrap(), "org-7");
    let status = check(&run, Some("fl_writer_0123456789")).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(challenge(&status).ends_with(r#"scope="insights.read""#));
    // The per-service requirement applies to keys as to tokens.
    let status = read_usage(&run, Some("fl_reader_0123456789"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(read_usage(&run, Some("fl_admin_0123456789")).await.is_ok());
    let status = check(&run, Some("fl_unknown_0123456789"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(status.message(), "the API key is not known");
    let status = check(&run, Some("zz_any")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    // An opaque token while the introspection endpoint is unreachable.
    let status = check(&run, Some("opaque-token")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(
        status.message(),
        "the credential cannot be checked right now"
    );
}

#[tokio::test]
async fn grpc_challenges_point_at_the_resource_metadata() {
    use tower_jwt_auth::ResourceMetadata;
    let issuer = TestIssuer::start().await;
    let resource = "http://127.0.0.1:50051/insights";
    let run = start(
        JwtAuth::new(issuer.url(), resource)
            .resource_metadata(ResourceMetadata::new(resource))
            .require_scopes(["insights.read"]),
    )
    .await;
    let status = check(&run, None).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(
        challenge(&status),
        r#"Bearer realm="http://127.0.0.1:50051/insights", resource_metadata="http://127.0.0.1:50051/.well-known/oauth-protected-resource/insights""#
    );
    let weak = issuer.token().aud(resource).scopes(["other"]).sign();
    let status = check(&run, Some(&weak)).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let www = challenge(&status);
    assert!(
        www.contains("resource_metadata=") && www.ends_with(r#"scope="insights.read""#),
        "{www}"
    );
}

#[tokio::test]
async fn scopes_per_grpc_method_with_services_and_a_default() {
    let issuer = TestIssuer::start().await;
    let auth = JwtAuth::new(issuer.url(), "insights-api");
    let reader = issuer.token().sub("u-8").scopes(["usage.read"]).sign();
    let checker = issuer.token().sub("u-9").scopes(["health.check"]).sign();

    // A method's own entry, and a default for every other method.
    let run = start_with_methods(
        auth.clone(),
        MethodScopes::new()
            .method("/insights.v1.Usage/Read", ["usage.read"])
            .otherwise(["health.check"]),
    )
    .await;
    let res = read_usage(&run, Some(&reader)).await.unwrap();
    assert_eq!(res.metadata().get("x-subject").unwrap(), "u-8");
    let status = check(&run, Some(&reader)).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let www = challenge(&status);
    assert!(
        www.contains(r#"error="insufficient_scope""#) && www.ends_with(r#"scope="health.check""#),
        "{www}"
    );
    assert!(check(&run, Some(&checker)).await.is_ok());
    let status = read_usage(&run, Some(&checker)).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(challenge(&status).ends_with(r#"scope="usage.read""#));
    // The main layer still answers first: no token is 16, not 7.
    let status = read_usage(&run, None).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    drop(run);

    // A whole service; methods of other services need nothing more than the layer's.
    let run = start_with_methods(
        auth,
        MethodScopes::new().service("grpc.health.v1.Health", ["health.check"]),
    )
    .await;
    assert!(check(&run, Some(&checker)).await.is_ok());
    let status = check(&run, Some(&reader)).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(challenge(&status).ends_with(r#"scope="health.check""#));
    assert!(read_usage(&run, Some(&reader)).await.is_ok());
    assert!(read_usage(&run, Some(&checker)).await.is_ok());
}

#[test]
fn an_unusable_method_table_is_refused_naming_the_entry() {
    let field = |m: MethodScopes| m.validate().err().map(|e| e.field().to_owned());
    assert_eq!(
        field(MethodScopes::new().method("Usage/Read", ["a"])).as_deref(),
        Some("MethodScopes::method")
    );
    assert_eq!(
        field(
            MethodScopes::new()
                .method("/a.B/C", ["a"])
                .method("/a.B/C", ["b"])
        )
        .as_deref(),
        Some("MethodScopes::method")
    );
    assert_eq!(
        field(MethodScopes::new().service("a.B/C", ["a"])).as_deref(),
        Some("MethodScopes::service")
    );
    let twice = MethodScopes::new()
        .service("a.B", ["a"])
        .service("a.B", ["b"]);
    let error = twice.validate().expect_err("a service named twice");
    assert_eq!(error.field(), "MethodScopes::service");
    assert!(
        error.to_string().contains("\"a.B\" is named twice"),
        "{error}"
    );
    assert_eq!(
        field(MethodScopes::new().otherwise(["two words"])).as_deref(),
        Some("MethodScopes::otherwise")
    );
    let panic = std::panic::catch_unwind(|| {
        tower::Layer::layer(&MethodScopes::new().method("bad", ["a"]), ())
    });
    let message = panic.unwrap_err();
    let message = message.downcast_ref::<String>().unwrap();
    assert!(message.contains("MethodScopes::method"), "{message}");
}

/// The application's own claims type.
#[derive(Debug, serde::Deserialize)]
struct Portal {
    sub: String,
    tenant: String,
}

/// Health, reading the claims as `Claims<C>` with `?`.
struct Typed<C>(std::marker::PhantomData<fn() -> C>);

#[tonic::async_trait]
impl<C: Send + Sync + 'static + std::fmt::Debug> Health for Typed<C> {
    async fn check(
        &self,
        req: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        let claims = Claims::<C>::from_extensions(req.extensions())?;
        tracing::debug!(claims = ?*claims, "checked");
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

/// A server whose layer verifies into `Portal`, serving Health as `Typed<S>`.
async fn start_typed<S: Send + Sync + 'static + std::fmt::Debug>(auth: JwtAuth<Portal>) -> Running {
    let router = Server::builder()
        .layer(auth)
        .add_service(HealthServer::new(Typed::<S>(std::marker::PhantomData)));
    run(|incoming| router.serve_with_incoming(incoming)).await
}

#[tokio::test]
async fn asking_for_another_claims_type_is_loud_not_none() {
    let issuer = TestIssuer::start().await;
    let token = issuer.token().sub("u-9").claim("tenant", "acme").sign();
    let auth = JwtAuth::new(issuer.url(), "insights-api").with_claims::<Portal>();

    // The layer's own type: the claims are there.
    let right = start_typed::<Portal>(auth.clone()).await;
    assert_eq!(
        check(&right, Some(&token)).await.unwrap().get_ref().status,
        1
    );

    // The default type under a layer built with another: INTERNAL, and the log names both.
    let wrong = start_typed::<tower_jwt_auth::AccessClaims>(auth).await;
    let status = check(&wrong, Some(&token)).await.unwrap_err();
    assert_eq!(status.code(), Code::Internal);
    assert_eq!(
        status.message(),
        "the service's authentication is not configured"
    );
    let missing = Claims::<tower_jwt_auth::AccessClaims>::from_extensions(&{
        // What the layer leaves in a request it verified into another type: the grant.
        let mut ext = http::Extensions::new();
        let claims = JwtAuth::new(issuer.url(), "insights-api")
            .with_claims::<Portal>()
            .verify(&token)
            .await
            .unwrap();
        assert_eq!(
            (claims.sub.as_str(), claims.tenant.as_str()),
            ("u-9", "acme")
        );
        ext.insert(claims.grant().clone());
        ext
    })
    .unwrap_err();
    assert!(!missing.is_anonymous());
    assert!(
        missing
            .to_string()
            .contains("another claims type than `tower_jwt_auth::claims::Claims`"),
        "{missing}"
    );
}
