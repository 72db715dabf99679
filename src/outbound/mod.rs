//! Calls the crate makes to other servers: the one HTTP client (timeouts, size caps, redirect
//! rules, loopback-only plain HTTP) and the single-flight that shares a call among waiters.

mod flight;
mod http;

pub(crate) use flight::SingleFlight;
pub(crate) use http::*;
