//! Arbitrary bytes as the `Authorization` header, through the whole layer: extraction, header,
//! key lookup, signature, claims, policy, response. Must never panic, never let a request
//! through.
#![no_main]

use std::convert::Infallible;
use std::task::{Context, Poll, Waker};

use libfuzzer_sys::fuzz_target;
use tower_layer::Layer;
use tower_service::Service;

#[path = "common.rs"]
mod common;

/// The protected service: reaching it is a 200.
#[derive(Clone)]
struct Protected;

impl Service<http::Request<()>> for Protected {
    type Response = http::Response<()>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, _: http::Request<()>) -> Self::Future {
        std::future::ready(Ok(http::Response::new(())))
    }
}

fuzz_target!(|data: &[u8]| {
    let f = common::fixture();
    if let Ok(value) = http::HeaderValue::from_bytes(data) {
        let mut svc = f.auth.layer(Protected);
        let mut req = http::Request::new(());
        req.headers_mut().insert(http::header::AUTHORIZATION, value);
        let mut cx = Context::from_waker(Waker::noop());
        assert!(matches!(svc.poll_ready(&mut cx), Poll::Ready(Ok(()))));
        let res = f.rt.block_on(svc.call(req)).unwrap();
        assert_ne!(res.status(), 200, "an unsigned input got through");
    }
    if let Ok(token) = std::str::from_utf8(data) {
        assert!(f.rt.block_on(f.auth.verify(token)).is_err());
    }
});
