//! The log event of a refusal.

use super::{outcome, AuthError, AuthErrorKind};

/// The log event of a refusal: its kind, and what a person needs to fix it (the expected and
/// found values, the whole chain of a fetch failure). Never the token or a signature.
pub(crate) fn log_refusal(error: &AuthError) {
    let kind = error.kind();
    let context = error.context().map(tracing::field::display);
    let source = error.source_chain();
    let source = source.as_deref().map(tracing::field::display);
    let actors = error.actors().map(tracing::field::display);
    match kind {
        AuthErrorKind::MissingToken => {
            tracing::debug!(?kind, "request refused: no bearer token");
        }
        AuthErrorKind::KeysUnavailable => {
            tracing::warn!(?kind, context, source, "request refused: no signing keys");
        }
        AuthErrorKind::ValidationUnavailable => {
            tracing::warn!(
                ?kind,
                context,
                source,
                "request refused: the credential could not be checked"
            );
        }
        AuthErrorKind::RuleUnavailable => {
            tracing::warn!(
                ?kind,
                context,
                source,
                actors,
                "request refused: the authorization check did not answer"
            );
        }
        _ if outcome(kind).status.is_server_error() => {
            tracing::error!(?kind, context, source, "request refused: misconfigured");
        }
        _ => {
            let reason = error.description();
            tracing::info!(
                ?kind,
                reason,
                context,
                source,
                actors,
                "bearer token refused"
            );
        }
    }
}
