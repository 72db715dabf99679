//! JWT access tokens: from a compact JWS to verified [`Claims`](crate::Claims), knowing nothing
//! of tower.

pub(crate) mod cache;
pub(crate) mod registered;
mod rules;
mod verifier;

pub(crate) use rules::Rules;
pub(crate) use verifier::{Attempt, DirectClaims, Need, Verifier};
