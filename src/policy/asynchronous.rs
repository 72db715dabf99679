//! Rules that must ask something — a database of entitlements, a feature flag, a tenant's
//! status — as a tower layer inside a [`JwtAuth`](crate::JwtAuth) layer: bounded by a timeout,
//! failing closed (503), optionally remembering verdicts per token.

use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::request::Parts;
use http::{Extensions, Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::claims::{claims_around, AccessClaims, Claims, Grant};
use crate::credential::token::Scheme;
use crate::layer::body::ResponseBody;
use crate::layer::future::{ResponseFuture, Verdict};
use crate::reject::{log_refusal, AuthError, AuthErrorKind, Reply, Responder};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Answer = Pin<Box<dyn Future<Output = Result<bool, BoxError>> + Send>>;
type RuleFn<C> = dyn Fn(&Claims<C>, &Parts) -> Answer + Send + Sync;

/// The verdicts remembered: by grant (the same token's cached verdict shares one), the grant
/// itself kept so that its address is not reused while remembered, the verdict, and until when
/// (seconds on the layer's clock).
type Memo = quick_cache::sync::Cache<usize, (Grant, bool, u64)>;

/// The default time an asynchronous rule may take.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// A rule that asks something before the request goes on: your async function gets the
/// claims and the request (method, path, headers) and answers whether the caller may pass.
///
/// - `Ok(true)`: the request goes on; `Ok(false)`: 403 `insufficient_scope` (gRPC
///   PERMISSION_DENIED), as the synchronous rules answer.
/// - An error, or no answer within the [timeout](RequireAsync::timeout) (2 s unless set): 503
///   (gRPC UNAVAILABLE), failing closed; a hung lookup never holds a request longer than the
///   timeout. A panic: 500.
/// - With [`remember`](RequireAsync::remember), a token's verdict is kept for a bounded time
///   (never past the token's `exp`) and the rule is not asked again for it; failures are never
///   kept.
/// - Nothing runs outside the request: a request given up (the client gone) drops the lookup
///   with it.
///
/// Place it inside the `JwtAuth` layer, on a route or on a whole router (tonic: after the
/// `JwtAuth` layer in the server's layers).
///
/// ```
/// use std::time::Duration;
/// use axum::{routing::get, Router};
/// use tower_jwt_auth::{AccessClaims, JwtAuth, RequireAsync};
///
/// async fn is_active(customer: String) -> Result<bool, std::io::Error> {
///     Ok(!customer.is_empty()) // a database lookup in a real service
/// }
///
/// let entitled = RequireAsync::new(|claims: &tower_jwt_auth::Claims<AccessClaims>, _request: &http::request::Parts| {
///     let customer = claims.sub.clone();
///     async move { is_active(customer).await }
/// })
/// .timeout(Duration::from_millis(300))
/// .remember(Duration::from_secs(60), 10_000);
///
/// let app: Router = Router::new()
///     .route("/usage", get(|| async { "usage" }))
///     .layer(entitled)
///     .layer(JwtAuth::new("https://auth-api.eliq.com", "insights-api"));
/// ```
#[must_use = "a layer does nothing until applied with `.layer(..)`"]
pub struct RequireAsync<C = AccessClaims> {
    rule: Arc<RuleFn<C>>,
    timeout: Duration,
    memo: Option<(Duration, Arc<Memo>)>,
}

impl<C> Clone for RequireAsync<C> {
    fn clone(&self) -> Self {
        Self {
            rule: Arc::clone(&self.rule),
            timeout: self.timeout,
            memo: self.memo.clone(),
        }
    }
}

impl<C> fmt::Debug for RequireAsync<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireAsync")
            .field("timeout", &self.timeout)
            .field("remember", &self.memo.as_ref().map(|(ttl, _)| ttl))
            .finish_non_exhaustive()
    }
}

impl<C: Send + Sync + 'static> RequireAsync<C> {
    /// The rule: from the claims and the request, a future answering whether the caller may
    /// pass (take what it needs from them before the future: it must be `'static`).
    pub fn new<F, Fut, E>(rule: F) -> Self
    where
        F: Fn(&Claims<C>, &Parts) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<bool, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        Self {
            rule: Arc::new(move |claims, request| {
                let answer = rule(claims, request);
                Box::pin(async move { answer.await.map_err(Into::into) })
            }),
            timeout: DEFAULT_TIMEOUT,
            memo: None,
        }
    }

    /// The longest the rule may take before the request is answered 503. Defaults to 2 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Remembers each token's verdict for `ttl` (never past its `exp`), for at most
    /// `max_entries` tokens. Defaults to off: the rule is asked on every request.
    pub fn remember(mut self, ttl: Duration, max_entries: usize) -> Self {
        self.memo = Some((ttl, Arc::new(Memo::new(max_entries.max(1)))));
        self
    }
}

impl<S, C> Layer<S> for RequireAsync<C> {
    type Service = RequireAsyncService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireAsyncService {
            inner,
            rule: self.clone(),
        }
    }
}

/// The service of [`RequireAsync`].
pub struct RequireAsyncService<S, C> {
    inner: S,
    rule: RequireAsync<C>,
}

impl<S: Clone, C> Clone for RequireAsyncService<S, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            rule: self.rule.clone(),
        }
    }
}

impl<S: fmt::Debug, C> fmt::Debug for RequireAsyncService<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireAsyncService")
            .field("inner", &self.inner)
            .field("rule", &self.rule)
            .finish()
    }
}

impl<S, C, ReqBody, ResBody> Service<Request<ReqBody>> for RequireAsyncService<S, C>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    C: Send + Sync + 'static,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, Request<ReqBody>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let (parts, body) = req.into_parts();
        let asked = ask(&self.rule, &parts);
        let req = Request::from_parts(parts, body);
        let (answer, grant, responder, now) = match asked {
            Ok(Asked::Pending(answer, grant, responder, now)) => (answer, grant, responder, now),
            Ok(Asked::Allowed) => return ResponseFuture::route(&mut self.inner, req, Ok(())),
            Err(refusal) => return ResponseFuture::route(&mut self.inner, req, Err(refusal)),
        };
        let reply = Reply::to(req.headers(), Scheme::Bearer);
        let (timeout, memo) = (self.rule.timeout, self.rule.memo.clone());
        let verdict: Verdict = Box::pin(async move {
            let answer = tokio::time::timeout(timeout, CatchUnwind(answer)).await;
            let refusal = match answer {
                Ok(Ok(Ok(allowed))) => {
                    if let Some((ttl, memo)) = &memo {
                        let until = now.saturating_add(ttl.as_secs()).min(grant.expires_at());
                        memo.insert(grant.key(), (grant.clone(), allowed, until));
                    }
                    if allowed {
                        return Ok(Extensions::new());
                    }
                    AuthError::new(AuthErrorKind::RuleRejected)
                        .with_context("the asynchronous rule refused the request")
                }
                Ok(Ok(Err(e))) => AuthError::new(AuthErrorKind::RuleUnavailable)
                    .with_context("the asynchronous rule failed")
                    .with_source(SourceError(e)),
                Ok(Err(())) => AuthError::new(AuthErrorKind::RulePanicked)
                    .with_context("the asynchronous rule panicked"),
                Err(_) => AuthError::new(AuthErrorKind::RuleUnavailable).with_context(format!(
                    "the asynchronous rule did not answer within {timeout:?}"
                )),
            };
            let refusal = grant.tie(refusal);
            log_refusal(&refusal);
            crate::metrics::route_refused(&refusal);
            Err(responder.respond(&refusal, reply))
        });
        let clone = self.inner.clone();
        let svc = std::mem::replace(&mut self.inner, clone);
        ResponseFuture::verifying(verdict, svc, req)
    }
}

#[cfg(feature = "tonic")]
impl<S: tonic::server::NamedService, C> tonic::server::NamedService for RequireAsyncService<S, C> {
    const NAME: &'static str = S::NAME;
}

/// What asking the rule gave before any waiting.
enum Asked {
    /// A remembered permission (a remembered refusal is an `Err` of [`ask`]).
    Allowed,
    /// The rule's answer to wait for, with the grant, the layer's responder and the time.
    Pending(Answer, Grant, Responder, u64),
}

fn ask<C: Send + Sync + 'static>(
    rule: &RequireAsync<C>,
    parts: &Parts,
) -> Result<Asked, (AuthError, Responder)> {
    let (claims, responder) = claims_around::<C>(&parts.extensions, "RequireAsync")?;
    let now = responder.now();
    if let Some((_, memo)) = &rule.memo {
        let grant = claims.grant();
        if let Some((kept, allowed, until)) = memo.get(&grant.key()) {
            if kept.is_same(grant) && now < until {
                if allowed {
                    return Ok(Asked::Allowed);
                }
                let err = AuthError::new(AuthErrorKind::RuleRejected)
                    .with_context("the asynchronous rule refused the request (remembered)");
                return Err((grant.tie(err), responder.clone()));
            }
        }
    }
    // The rule's synchronous part may panic too: a refusal, not a dropped connection.
    let answer = catch_unwind(AssertUnwindSafe(|| (rule.rule)(claims, parts))).map_err(|_| {
        let err = AuthError::new(AuthErrorKind::RulePanicked)
            .with_context("the asynchronous rule panicked");
        (claims.grant().tie(err), responder.clone())
    })?;
    Ok(Asked::Pending(
        answer,
        claims.grant().clone(),
        responder.clone(),
        now,
    ))
}

/// A future whose panic becomes `Err(())`.
struct CatchUnwind(Answer);

impl Future for CatchUnwind {
    type Output = Result<Result<bool, BoxError>, ()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.0;
        match catch_unwind(AssertUnwindSafe(|| inner.as_mut().poll(cx))) {
            Ok(Poll::Ready(answer)) => Poll::Ready(Ok(answer)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(Err(())),
        }
    }
}

/// The rule's error as an error source (a boxed error is not itself `Error`).
#[derive(Debug)]
struct SourceError(BoxError);

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SourceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}
