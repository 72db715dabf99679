//! [`JwtAuthService`]: extracts the credential, asks the authenticator, and forwards or
//! answers. No verification logic lives here.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Extensions, HeaderValue, Request, Response};
use serde::de::DeserializeOwned;
use tower_service::Service;

use super::gate::Gate;
use crate::authenticator::Step;
use crate::binding::ProofRequest;
use crate::claims::Claims;
use crate::credential::token::{dpop_proof, repeated_bearer};
use crate::credential::token::{Found, Scheme};
use crate::layer::body::ResponseBody;
use crate::layer::future::{NextNonce, ResponseFuture, Verdict};
use crate::reject::Reply;
use crate::reject::{AuthError, AuthErrorKind};

/// The service of [`JwtAuth`](crate::JwtAuth).
///
/// A refusal is an `Ok` response; the inner service's errors pass through untouched.
pub struct JwtAuthService<S, C> {
    inner: S,
    gate: Arc<Gate<C>>,
}

impl<S, C> JwtAuthService<S, C> {
    pub(crate) fn new(inner: S, gate: Arc<Gate<C>>) -> Self {
        Self { inner, gate }
    }
}

impl<S: Clone, C> Clone for JwtAuthService<S, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            gate: Arc::clone(&self.gate),
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

/// Puts the verdict where handlers and per-route layers find it: the claims, and the
/// type-erased grant carrying how this layer answers refusals (for
/// [`RequireScopes`](crate::RequireScopes) and the extractor).
fn admit<C: Send + Sync + 'static>(extensions: &mut Extensions, gate: &Gate<C>, claims: Claims<C>) {
    extensions.insert(claims.grant().admitted_by(&gate.responder));
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
        let gate = &*self.gate;
        // Whether to answer gRPC-style is only looked up when refusing.
        let refuse = |e: &AuthError, req: &Request<ReqBody>| {
            ResponseFuture::rejected(gate.refuse(e, Reply::to(req.headers(), Scheme::Bearer)))
        };
        // A token verified before: one cache look-up on the header's bytes, no other parsing.
        let repeated = repeated_bearer(req.headers()).filter(|_| !gate.sources.skip_authorization);
        if let Some(claims) = repeated.and_then(|token| gate.auth.cached_bearer(token)) {
            let certificate = gate.certificate(req.extensions());
            let token = repeated.unwrap_or_default();
            return match gate.admit(Ok(claims), certificate, (Found::Authorization, token)) {
                Ok(claims) => {
                    admit(req.extensions_mut(), gate, claims);
                    ResponseFuture::inner(self.inner.call(req))
                }
                Err(e) => refuse(&e, &req),
            };
        }
        let probed = repeated.is_some();
        let (token, scheme, found) = match gate.credential(req.headers()) {
            Ok(Some(presented)) => presented,
            Ok(None) if gate.optional => {
                // Anonymous: no claims, but per-route layers still know how to answer.
                req.extensions_mut().insert(gate.responder.clone());
                return ResponseFuture::inner(self.inner.call(req));
            }
            Ok(None) => return refuse(&AuthErrorKind::MissingToken.into(), &req),
            Err(e) => return refuse(&e, &req),
        };
        if scheme == Scheme::Dpop {
            return self.call_dpop(token.to_owned(), req);
        }
        let certificate = gate.certificate(req.extensions());
        let wait = match gate.auth.try_authenticate(token, probed) {
            Step::Done(verified) => {
                return match gate.admit(verified, certificate, (found, token.as_bytes())) {
                    Ok(claims) => {
                        admit(req.extensions_mut(), gate, claims);
                        ResponseFuture::inner(self.inner.call(req))
                    }
                    Err(e) => refuse(&e, &req),
                }
            }
            Step::Wait(wait) => wait,
        };
        let reply = Reply::to(req.headers(), Scheme::Bearer);
        let ready_soon = wait.may_be_ready();
        let token = token.to_owned();
        let gate = Arc::clone(&self.gate);
        let mut verdict: Verdict = Box::pin(async move {
            match gate.admit(
                gate.auth.authenticate_after(&token, wait).await,
                certificate,
                (found, token.as_bytes()),
            ) {
                Ok(claims) => {
                    let mut extensions = Extensions::new();
                    admit(&mut extensions, &gate, claims);
                    Ok(extensions)
                }
                Err(e) => Err(gate.refuse(&e, reply)),
            }
        });
        if ready_soon {
            // An in-memory validator answers at once: no detour through the waiting state.
            let mut cx = Context::from_waker(std::task::Waker::noop());
            if let Poll::Ready(verdict) = verdict.as_mut().poll(&mut cx) {
                return match verdict {
                    Ok(extensions) => {
                        req.extensions_mut().extend(extensions);
                        ResponseFuture::inner(self.inner.call(req))
                    }
                    Err(response) => ResponseFuture::rejected(response),
                };
            }
        }
        // The readied service goes with the future; a fresh clone stays for the next call.
        let clone = self.inner.clone();
        let svc = std::mem::replace(&mut self.inner, clone);
        ResponseFuture::verifying(verdict, svc, req)
    }
}

impl<S, C> JwtAuthService<S, C>
where
    C: DeserializeOwned + Send + Sync + 'static,
{
    /// `Authorization: DPoP`: the token, then its proof (on every request, cache hit or
    /// not), then the policy.
    fn call_dpop<ReqBody, ResBody>(
        &mut self,
        token: String,
        req: Request<ReqBody>,
    ) -> ResponseFuture<S, Request<ReqBody>>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    {
        let reply = Reply::to(req.headers(), Scheme::Dpop);
        let proof = match dpop_proof(req.headers(), self.gate.max_proof_size()) {
            Ok(proof) => proof.to_owned(),
            Err(e) => return ResponseFuture::rejected(self.gate.refuse(&e, reply)),
        };
        let request = ProofRequest {
            proof,
            method: req.method().clone(),
            path: req.uri().path().to_owned(),
        };
        let gate = Arc::clone(&self.gate);
        let verdict: Verdict = Box::pin(async move {
            let checked = async {
                let claims = gate.auth.authenticate(&token).await?;
                gate.check_presented(&claims, (Found::Authorization, token.as_bytes()))?;
                let bindings = gate.auth.bindings();
                let nonce = bindings
                    .check_dpop(claims.grant(), &token, &request)
                    .await
                    .map_err(|e| claims.grant().tie(e))?;
                Ok::<_, AuthError>((gate.admit_policy(claims)?, nonce))
            };
            match checked.await {
                Ok((claims, nonce)) => {
                    let mut extensions = Extensions::new();
                    admit(&mut extensions, &gate, claims);
                    if let Some(value) = nonce.and_then(|n| HeaderValue::try_from(&*n).ok()) {
                        extensions.insert(NextNonce(value));
                    }
                    Ok(extensions)
                }
                Err(e) => Err(gate.refuse(&e, reply)),
            }
        });
        let clone = self.inner.clone();
        let svc = std::mem::replace(&mut self.inner, clone);
        ResponseFuture::verifying(verdict, svc, req)
    }
}

#[cfg(feature = "tonic")]
impl<S: tonic::server::NamedService, C> tonic::server::NamedService for JwtAuthService<S, C> {
    const NAME: &'static str = S::NAME;
}
