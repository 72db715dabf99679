//! Step 8: sender-constrained tokens. A token bound to a key (`cnf`, RFC 7800) is accepted only
//! with its proof: a DPoP proof (RFC 9449) or the client certificate it names (RFC 8705); never
//! as a bearer token.

mod certificate;
mod dpop;
mod nonce;
mod quota;
#[cfg(feature = "redis")]
mod redis;
mod replay;

use std::sync::Arc;

pub use certificate::ClientCertificate;
pub use dpop::Dpop;
#[cfg(feature = "redis")]
pub use redis::RedisReplayStore;
pub use replay::{MemoryReplayStore, ReplayFuture, ReplayStore, ReplayStoreError};

pub(crate) use certificate::of_request as client_certificate;
pub(crate) use dpop::ProofRequest;

use crate::algorithm::AlgorithmSet;
use crate::claims::{Confirmation, Grant};
use crate::clock::Clock;
use crate::reject::DpopChallenge;
use crate::reject::{AuthError, AuthErrorKind, ConfigError};
use dpop::DpopVerifier;

/// What the binding rules are built from.
pub(crate) struct Setup<'a> {
    pub(crate) dpop: Option<&'a Dpop>,
    /// The proof algorithms the layer's profile permits at all.
    pub(crate) proof_algorithms: AlgorithmSet,
    /// Certificate-bound tokens are accepted with their certificate.
    pub(crate) certificates: bool,
    /// Unbound credentials are refused (FAPI 2.0).
    pub(crate) sender_constrained: bool,
}

/// The binding rules of one configuration.
#[derive(Debug)]
pub(crate) struct Bindings {
    dpop: Option<DpopVerifier>,
    certificates: bool,
    /// Unbound credentials are refused (FAPI 2.0).
    sender_constrained: bool,
}

impl Bindings {
    pub(crate) fn build(setup: Setup<'_>, clock: Arc<dyn Clock>) -> Result<Self, ConfigError> {
        Ok(Self {
            dpop: setup
                .dpop
                .map(|d| DpopVerifier::new(d, setup.proof_algorithms, clock))
                .transpose()?,
            certificates: setup.certificates,
            sender_constrained: setup.sender_constrained,
        })
    }

    /// Whether the `DPoP` scheme is read at all.
    pub(crate) fn dpop_enabled(&self) -> bool {
        self.dpop.is_some()
    }

    /// Whether requests' client certificates are looked at.
    pub(crate) fn wants_certificate(&self) -> bool {
        self.certificates
    }

    /// The `DPoP` challenge, when DPoP is configured.
    pub(crate) fn challenge(&self) -> Option<DpopChallenge> {
        self.dpop.as_ref().map(|d| d.challenge().clone())
    }

    /// A credential presented as a bearer token (`Authorization: Bearer`, a configured header
    /// or cookie, or `JwtAuth::verify`): unbound, or bound to the request's client certificate.
    pub(crate) fn check_bearer(
        &self,
        grant: &Grant,
        certificate: Option<ClientCertificate>,
    ) -> Result<(), AuthError> {
        let bound = |context: &'static str| {
            Err(AuthError::new(AuthErrorKind::BoundToken).with_context(context))
        };
        match grant.confirmation() {
            Confirmation::None => match &self.dpop {
                Some(d) if d.required() => Err(AuthError::new(AuthErrorKind::DpopRequired)
                    .with_context("DPoP is required and a bearer credential was presented")),
                _ if self.sender_constrained => {
                    Err(AuthError::new(AuthErrorKind::NotSenderConstrained).with_context(
                        "FAPI 2.0: the credential is not bound to a DPoP key or a client certificate",
                    ))
                }
                _ => Ok(()),
            },
            Confirmation::Jkt(_) => {
                bound("the token is bound to a DPoP key (cnf.jkt) and was presented as Bearer")
            }
            Confirmation::X5tS256(x5t) => match certificate {
                _ if !self.certificates => bound(
                    "the token is bound to a client certificate (cnf.x5t#S256) and certificate-bound tokens are not enabled",
                ),
                None => bound("the token is bound to a client certificate and the request has none"),
                Some(cert) if cert.matches(x5t) => Ok(()),
                Some(_) => bound(
                    "the token is bound to another client certificate than the request's",
                ),
            },
            Confirmation::Unsupported => {
                bound("the token has a `cnf` confirmation of a kind this crate cannot check")
            }
        }
    }

    /// A credential presented with the `DPoP` scheme and its proof: the nonce to hand out
    /// next, if any.
    pub(crate) async fn check_dpop(
        &self,
        grant: &Grant,
        token: &str,
        request: &ProofRequest,
    ) -> Result<Option<Arc<str>>, AuthError> {
        match &self.dpop {
            Some(d) => d.check(grant, token, request).await,
            None => Err(AuthErrorKind::Internal.into()),
        }
    }
}
