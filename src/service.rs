//! [`JwtAuthService`]: extracts the token, asks the verifier, and forwards or answers. No
//! verification logic lives here.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Extensions, HeaderMap, Request, Response};
use serde::de::DeserializeOwned;
use tower_service::Service;

use crate::body::ResponseBody;
use crate::claims::Claims;
use crate::error::AuthError;
use crate::future::ResponseFuture;
use crate::layer::Shared;
use crate::response::is_grpc;
use crate::token;
use crate::verifier::Attempt;

/// The service of [`JwtAuth`](crate::JwtAuth).
///
/// A refusal is an `Ok` response; the inner service's errors pass through untouched.
pub struct JwtAuthService<S, C> {
    inner: S,
    shared: Arc<Shared<C>>,
}

impl<S, C> JwtAuthService<S, C> {
    pub(crate) fn new(inner: S, shared: Arc<Shared<C>>) -> Self {
        Self { inner, shared }
    }
}

impl<S: Clone, C> Clone for JwtAuthService<S, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S: fmt::Debug, C> fmt::Debug for JwtAuthService<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuthService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

/// Puts the verdict where handlers and per-route policies find it.
fn insert<C: Send + Sync + 'static>(extensions: &mut Extensions, claims: Claims<C>) {
    extensions.insert(claims.grant().clone());
    extensions.insert(claims);
}

impl<S, C, ReqBody, ResBody> Service<Request<ReqBody>> for JwtAuthService<S, C>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    C: DeserializeOwned + Send + Sync + 'static,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, Request<ReqBody>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let shared = &self.shared;
        // Whether to answer gRPC-style is only looked up when refusing.
        let refuse = |e: &AuthError, headers: &HeaderMap| {
            ResponseFuture::rejected(shared.reject(e, is_grpc(headers)))
        };
        if let Some(e) = shared.config_failure() {
            return refuse(&e, req.headers());
        }
        let token = match token::bearer(req.headers(), shared.max_header_bytes) {
            Ok(token) => token,
            Err(e) => return refuse(&e, req.headers()),
        };
        let attempt = {
            let _span = tracing::debug_span!("jwt_verify").entered();
            shared.verifier.try_verify(token)
        };
        match attempt {
            Attempt::Done(verified) => match shared.admit(verified) {
                Ok(claims) => {
                    insert(req.extensions_mut(), claims);
                    ResponseFuture::inner(self.inner.call(req))
                }
                Err(e) => refuse(&e, req.headers()),
            },
            Attempt::NeedKeys(why) => {
                let grpc = is_grpc(req.headers());
                let token = token.to_owned();
                let shared = Arc::clone(shared);
                let verdict = Box::pin(async move {
                    match shared.admit(shared.verifier.verify_after(&token, why).await) {
                        Ok(claims) => {
                            let mut extensions = Extensions::new();
                            insert(&mut extensions, claims);
                            Ok(extensions)
                        }
                        Err(e) => Err(shared.reject(&e, grpc)),
                    }
                });
                // The readied service goes with the future; a fresh clone stays for the next call.
                let clone = self.inner.clone();
                let svc = std::mem::replace(&mut self.inner, clone);
                ResponseFuture::verifying(verdict, svc, req)
            }
        }
    }
}

#[cfg(feature = "tonic")]
impl<S: tonic::server::NamedService, C> tonic::server::NamedService for JwtAuthService<S, C> {
    const NAME: &'static str = S::NAME;
}
