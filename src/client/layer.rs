//! The tower layer that puts the source's token on outgoing requests, and retries once with a
//! fresh token when the resource server refuses it as invalid.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body::Body;
use tower_layer::Layer;
use tower_service::Service;

use super::TokenSource;

/// The error type of [`AddAccessTokenService`]: the inner service's error, or the
/// [`TokenError`](super::TokenError) that kept a token from being obtained.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Adds `Authorization: Bearer <token>` from a [`TokenSource`] to every outgoing
/// `http::Request` (hyper clients, tonic channels, any tower HTTP client). When the answer is
/// 401 (or gRPC UNAUTHENTICATED) with `error="invalid_token"`, the token is dropped from the
/// source and, when the request's body is empty (so it can be sent again), the request is
/// retried once with a fresh token; a request with a body gets the refusal, and the next one
/// the fresh token. The retried request keeps the method, URI, version and headers, not the
/// extensions.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use tower::ServiceBuilder;
/// use tower_jwt_auth::client::{AddAccessToken, ClientCredentials};
///
/// let source = ClientCredentials::new("https://auth-api.eliq.com/oauth/token", "acme", "s3cr3t")
///     .json_body()
///     .audience("insights-api");
/// let channel = tonic::transport::Channel::from_static("https://insights.eliq.com").connect().await?;
/// let channel = ServiceBuilder::new().layer(AddAccessToken::new(source)).service(channel);
/// // tonic_health::pb::health_client::HealthClient::new(channel) …
/// # let _ = channel;
/// # Ok(())
/// # }
/// ```
#[must_use = "a layer does nothing until applied with `.layer(..)`"]
pub struct AddAccessToken<T> {
    pub(super) source: Arc<T>,
}

impl<T: TokenSource> AddAccessToken<T> {
    /// The layer, with tokens from `source`.
    pub fn new(source: T) -> Self {
        Self {
            source: Arc::new(source),
        }
    }
}

impl<T> Clone for AddAccessToken<T> {
    fn clone(&self) -> Self {
        Self {
            source: Arc::clone(&self.source),
        }
    }
}

impl<T> fmt::Debug for AddAccessToken<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AddAccessToken(..)")
    }
}

impl<T, S> Layer<S> for AddAccessToken<T> {
    type Service = AddAccessTokenService<T, S>;

    fn layer(&self, inner: S) -> Self::Service {
        AddAccessTokenService {
            source: Arc::clone(&self.source),
            inner,
        }
    }
}

/// The service of [`AddAccessToken`].
pub struct AddAccessTokenService<T, S> {
    source: Arc<T>,
    inner: S,
}

impl<T, S: Clone> Clone for AddAccessTokenService<T, S> {
    fn clone(&self) -> Self {
        Self {
            source: Arc::clone(&self.source),
            inner: self.inner.clone(),
        }
    }
}

impl<T, S: fmt::Debug> fmt::Debug for AddAccessTokenService<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AddAccessTokenService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

/// Whether the resource server refused the token as invalid (RFC 6750 §3.1), over HTTP or as
/// a trailers-only gRPC answer.
pub(super) fn refused_as_invalid(status: StatusCode, headers: &HeaderMap) -> bool {
    let unauthenticated =
        status == StatusCode::UNAUTHORIZED || headers.get("grpc-status").is_some_and(|v| v == "16");
    unauthenticated
        && headers.get_all(WWW_AUTHENTICATE).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.contains("error=\"invalid_token\""))
        })
}

/// The parts of a request with an empty body, to send it again.
fn replayable<B: Body>(req: &Request<B>) -> Option<Request<()>> {
    if !(req.body().is_end_stream() || req.body().size_hint().exact() == Some(0)) {
        return None;
    }
    let mut copy = Request::new(());
    *copy.method_mut() = req.method().clone();
    *copy.uri_mut() = req.uri().clone();
    *copy.version_mut() = req.version();
    *copy.headers_mut() = req.headers().clone();
    Some(copy)
}

impl<T, S, B, RB> Service<Request<B>> for AddAccessTokenService<T, S>
where
    T: TokenSource,
    S: Service<Request<B>, Response = Response<RB>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    B: Body + Default + Send + 'static,
    RB: Send + 'static,
{
    type Response = Response<RB>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<RB>, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        // The readied service goes with the future; a fresh clone stays for the next call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let source = Arc::clone(&self.source);
        Box::pin(async move {
            let replay = replayable(&req);
            let token = source.token().await?;
            req.headers_mut()
                .insert(AUTHORIZATION, token.authorization()?);
            let res = inner.call(req).await.map_err(Into::into)?;
            if !refused_as_invalid(res.status(), res.headers()) {
                return Ok(res);
            }
            source.invalidate(&token);
            let Some(replay) = replay else {
                return Ok(res);
            };
            let fresh = source.token().await?;
            let (parts, ()) = replay.into_parts();
            let mut retry = Request::from_parts(parts, B::default());
            retry
                .headers_mut()
                .insert(AUTHORIZATION, fresh.authorization()?);
            std::future::poll_fn(|cx| inner.poll_ready(cx))
                .await
                .map_err(Into::into)?;
            inner.call(retry).await.map_err(Into::into)
        })
    }
}
