//! The claim rules of one trusted issuer (chosen by its `iss` before any key lookup): once the
//! signature holds, `aud`, `exp`, `nbf`, `iat`, the lifetime, `sub`, strict RFC 9068. (`cnf` is
//! the binding step's: crate::binding.)

use std::sync::Arc;

use crate::algorithm::AlgorithmSet;
use crate::issuer::profile::{ClientClaim, Profile};
use crate::jwt::registered::Registered;
use crate::policy::roles::RoleClaims;
use crate::reject::{shown, AuthError, AuthErrorKind};

/// What the verifier checks, fixed when the authenticator is built.
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    pub(crate) issuer: Arc<str>,
    /// Any of which `aud` must name; never empty (the first is "the" audience).
    pub(crate) audiences: Arc<[Box<str>]>,
    pub(crate) leeway: u64,
    pub(crate) max_lifetime: Option<u64>,
    pub(crate) strict_rfc9068: bool,
    pub(crate) algorithms: AlgorithmSet,
    /// Where roles are read from.
    pub(crate) roles: Arc<RoleClaims>,
    /// The provider's rules beyond the RFC's (claim names, `aud` and `sub` optional, …).
    pub(crate) profile: Arc<Profile>,
}

impl Rules {
    /// The rules on the other registered claims, once the signature holds. Returns `sub` and
    /// `exp`.
    pub(crate) fn check_claims<'r>(
        &self,
        reg: &'r Registered<'_>,
        now: u64,
    ) -> Result<(&'r str, u64), AuthError> {
        if let Some(claim) = reg.foreign {
            return Err(not_an_access_token(claim));
        }
        let profile = &*self.profile;
        if let Some(wanted) = profile.token_use {
            self.check_token_use(reg, wanted)?;
        }
        if profile.audience_checked {
            self.check_audience(reg)?;
        }
        if let Some(client) = &profile.client {
            self.check_client(reg, client)?;
        }
        let exp = reg
            .exp
            .ok_or_else(|| missing("the token has no `exp` claim"))?
            .0;
        if now >= exp.saturating_add(self.leeway) {
            return Err(AuthError::new(AuthErrorKind::Expired).with_context(format!(
                "exp {exp} is {} s before now ({now}), beyond the leeway of {} s",
                now - exp,
                self.leeway
            )));
        }
        if let Some(nbf) = reg
            .nbf
            .filter(|nbf| nbf.0 > now.saturating_add(self.leeway))
        {
            return Err(
                AuthError::new(AuthErrorKind::NotYetValid).with_context(format!(
                    "nbf {} is after now ({now}) plus the leeway",
                    nbf.0
                )),
            );
        }
        if let Some(iat) = reg.iat {
            if iat.0 > now.saturating_add(self.leeway) {
                return Err(
                    AuthError::new(AuthErrorKind::IssuedInFuture).with_context(format!(
                        "iat {} is after now ({now}) plus the leeway",
                        iat.0
                    )),
                );
            }
        }
        self.check_lifetime(exp, reg.iat.map(|iat| iat.0), now)?;
        let sub = match &reg.sub {
            // The provider issues client tokens without a subject: the grant names the client
            // alone (an empty subject), never another claim as a user's.
            None if profile.sub_optional => "",
            Some(s) if s.0.is_empty() && profile.sub_optional => "",
            None => return Err(missing("the token has no `sub` claim")),
            Some(s) if s.0.is_empty() => {
                return Err(AuthError::new(AuthErrorKind::InvalidClaim)
                    .with_detail("the `sub` claim is empty"))
            }
            Some(s) => &*s.0,
        };
        if self.strict_rfc9068 {
            if reg.client_id.is_none() {
                return Err(missing("the token has no `client_id` claim"));
            }
            if reg.iat.is_none() {
                return Err(missing("the token has no `iat` claim"));
            }
            if reg.jti.is_none() {
                return Err(missing("the token has no `jti` claim"));
            }
        }
        Ok((sub, exp))
    }

    /// The lifetime cap: `exp - iat` when the token says when it was issued; without `iat`,
    /// what is left of it, `exp - now`, which must fit the cap just the same (plus the leeway
    /// for a clock behind the issuer's).
    fn check_lifetime(&self, exp: u64, iat: Option<u64>, now: u64) -> Result<(), AuthError> {
        let Some(max) = self.max_lifetime else {
            return Ok(());
        };
        let (lifetime, limit, what) = match iat {
            Some(iat) => (exp.saturating_sub(iat), max, "lifetime"),
            None => (
                exp.saturating_sub(now),
                max.saturating_add(self.leeway),
                "without `iat`, the remaining lifetime",
            ),
        };
        if lifetime > limit {
            return Err(AuthError::new(AuthErrorKind::LifetimeTooLong)
                .with_context(format!("{what} {lifetime} s, at most {limit} s")));
        }
        Ok(())
    }

    /// The client the token was issued to, from the provider's client claim.
    pub(crate) fn client<'r>(&self, reg: &'r Registered<'_>) -> Option<&'r str> {
        self.profile.client_claims.iter().find_map(|claim| {
            let found = match claim {
                ClientClaim::ClientId => &reg.client_id,
                ClientClaim::Azp => &reg.azp,
                ClientClaim::Appid => &reg.appid,
                ClientClaim::Cid => &reg.cid,
                ClientClaim::CommonName => &reg.common_name,
            };
            found.as_ref().map(|s| &*s.0).filter(|s| !s.is_empty())
        })
    }

    /// Cognito: `token_use` names the kind of token; only access tokens pass.
    fn check_token_use(&self, reg: &Registered<'_>, wanted: &str) -> Result<(), AuthError> {
        match &reg.token_use {
            Some(t) if *t.0 == *wanted => Ok(()),
            found => {
                let found = found.as_ref().map_or_else(
                    || "no `token_use` claim".to_owned(),
                    |t| format!("token_use is {}", shown(&t.0)),
                );
                Err(
                    AuthError::new(AuthErrorKind::NotAnAccessToken).with_context(format!(
                        "{} ({}): {found}, not {wanted:?}",
                        self.profile.provider,
                        shown(&self.issuer)
                    )),
                )
            }
        }
    }

    /// Cognito: tokens without `aud` must name the configured client instead.
    fn check_client(&self, reg: &Registered<'_>, client: &str) -> Result<(), AuthError> {
        match self.client(reg) {
            Some(found) if found == client => Ok(()),
            found => Err(
                AuthError::new(AuthErrorKind::InvalidAudience).with_context(format!(
                    "{}: the token was issued to client {}, expected {}",
                    self.profile.provider,
                    found.map_or_else(|| "(none)".to_owned(), shown),
                    shown(client)
                )),
            ),
        }
    }

    fn check_audience(&self, reg: &Registered<'_>) -> Result<(), AuthError> {
        let found = reg.aud.as_ref().map(|aud| &aud.0[..]);
        if found.is_some_and(|aud| {
            aud.iter()
                .any(|a| self.audiences.iter().any(|e| **e == **a))
        }) {
            return Ok(());
        }
        let found = match found {
            None => "no `aud` claim".to_owned(),
            Some(aud) => {
                let shown: Vec<String> = aud.iter().take(8).map(|a| shown(a)).collect();
                let more = if aud.len() > 8 { ", ..." } else { "" };
                format!("[{}{more}]", shown.join(", "))
            }
        };
        let expected: Vec<String> = self.audiences.iter().map(|a| shown(a)).collect();
        let expected = match &expected[..] {
            [one] => format!("audience {one}"),
            many => format!("one of the audiences [{}]", many.join(", ")),
        };
        Err(AuthError::new(AuthErrorKind::InvalidAudience)
            .with_context(format!("expected {expected}, found {found}")))
    }

    /// The audience where one is meant (roles under `resource_access.{audience}`).
    pub(crate) fn audience(&self) -> &str {
        self.audiences.first().map_or("", |a| a)
    }
}

/// A signed JWT of another kind: an ID token or a security-event token.
pub(crate) fn not_an_access_token(claim: &str) -> AuthError {
    let kind = if claim == "events" {
        "a security-event token (RFC 8417)"
    } else {
        "an OpenID Connect ID token"
    };
    AuthError::new(AuthErrorKind::NotAnAccessToken).with_context(format!(
        "the token carries `{claim}`: it is {kind}, not an access token"
    ))
}

fn missing(detail: &'static str) -> AuthError {
    AuthError::new(AuthErrorKind::MissingClaim).with_detail(detail)
}
