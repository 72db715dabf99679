//! The response future shared by the layer's services.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http::{Extensions, HeaderValue, Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::credential::token::Scheme;
use crate::layer::body::ResponseBody;
use crate::reject::log_refusal;
use crate::reject::AuthError;
use crate::reject::{Reply, Responder};

/// The DPoP nonce a successful response hands the client for its next proof (RFC 9449 §8.2).
#[derive(Clone)]
pub(crate) struct NextNonce(pub(crate) HeaderValue);

/// What a request waiting for its verdict holds.
pub(crate) struct Waiting<S, Req> {
    verdict: Verdict,
    svc: S,
    req: Req,
}

/// Verification that had to wait for keys: the extensions to add, or the refusal.
pub(crate) type Verdict = Pin<Box<dyn Future<Output = Result<Extensions, Response<Bytes>>> + Send>>;

pin_project! {
    /// Response future of [`JwtAuthService`](crate::service::JwtAuthService) and
    /// [`RequireScopesService`](crate::service::RequireScopesService).
    pub struct ResponseFuture<S, Req>
    where
        S: Service<Req>,
    {
        #[pin]
        state: State<S, Req>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, Req>
    where
        S: Service<Req>,
    {
        // Waiting for keys; then the request goes to the service. Boxed with the verdict so
        // that the future stays as small as the inner one on the path that does not wait (a
        // future is moved a few times per request).
        Verifying {
            waiting: Option<Box<Waiting<S, Req>>>,
        },
        Inner {
            #[pin]
            fut: S::Future,
            // A DPoP nonce for the client's next proof.
            nonce: Option<HeaderValue>,
        },
        Rejected {
            res: Option<Response<Bytes>>,
        },
    }
}

impl<S: Service<Req>, Req> ResponseFuture<S, Req> {
    pub(crate) fn inner(fut: S::Future) -> Self {
        Self {
            state: State::Inner { fut, nonce: None },
        }
    }

    pub(crate) fn rejected(res: Response<Bytes>) -> Self {
        Self {
            state: State::Rejected { res: Some(res) },
        }
    }

    pub(crate) fn verifying(verdict: Verdict, svc: S, req: Req) -> Self {
        Self {
            state: State::Verifying {
                waiting: Some(Box::new(Waiting { verdict, svc, req })),
            },
        }
    }
}

impl<S: Service<Request<ReqBody>>, ReqBody> ResponseFuture<S, Request<ReqBody>> {
    /// A per-route layer's decision: the request goes on to `inner`, or is refused as the
    /// layer around it answers (the refusal logged and counted).
    pub(crate) fn route(
        inner: &mut S,
        req: Request<ReqBody>,
        verdict: Result<(), (AuthError, Responder)>,
    ) -> Self {
        match verdict {
            Ok(()) => Self::inner(inner.call(req)),
            Err((err, responder)) => {
                log_refusal(&err);
                crate::metrics::route_refused(&err);
                Self::rejected(responder.respond(&err, Reply::to(req.headers(), Scheme::Bearer)))
            }
        }
    }
}

impl<S, ReqBody, ResBody> Future for ResponseFuture<S, Request<ReqBody>>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Output = Result<Response<ResponseBody<ResBody>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            match state.as_mut().project() {
                StateProj::Verifying { waiting } => {
                    let Some(w) = waiting.as_mut() else {
                        unreachable!("the Verifying state is left as soon as its verdict is in")
                    };
                    let extensions = match ready!(w.verdict.as_mut().poll(cx)) {
                        Ok(extensions) => extensions,
                        Err(res) => return Poll::Ready(Ok(res.map(ResponseBody::full))),
                    };
                    let Some(w) = waiting.take() else {
                        unreachable!("checked above")
                    };
                    let Waiting {
                        mut svc, mut req, ..
                    } = *w;
                    let nonce = extensions.get::<NextNonce>().map(|n| n.0.clone());
                    req.extensions_mut().extend(extensions);
                    let fut = svc.call(req);
                    state.set(State::Inner { fut, nonce });
                }
                StateProj::Inner { fut, nonce } => {
                    let res = ready!(fut.poll(cx));
                    return Poll::Ready(res.map(|res| {
                        let mut res = res.map(ResponseBody::inner);
                        if let Some(nonce) = nonce.take() {
                            res.headers_mut().insert("dpop-nonce", nonce);
                        }
                        res
                    }));
                }
                StateProj::Rejected { res } => {
                    let res = res.take().expect("ResponseFuture polled after completion");
                    return Poll::Ready(Ok(res.map(ResponseBody::full)));
                }
            }
        }
    }
}

impl<S: Service<Req>, Req> fmt::Debug for ResponseFuture<S, Req> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
