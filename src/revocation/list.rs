//! The revocations in force, in memory: what one instance checks on every request, whether
//! they were made here, by a fleet peer or by a security event.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::claims::Grant;
use crate::credential::KeyDigest;
use crate::reject::shown;

/// One revocation, as stored (in memory, and as a member of the Redis sorted set).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Entry {
    /// One token of `iss`, by its `jti`.
    Jti { iss: String, jti: String },
    /// One token without a `jti`, by the SHA-256 of the whole token (hex).
    Token { sha256: String },
    /// Every token of `iss` for `sub` issued before `before` (seconds).
    Subject {
        iss: String,
        sub: String,
        before: u64,
    },
    /// Every token of `iss` for `client` issued before `before` (seconds).
    Client {
        iss: String,
        client: String,
        before: u64,
    },
}

/// A map hashed with foldhash (seeded per process), not SipHash: looked up on every request
/// while anything is revoked.
type Fast<K, V> = HashMap<K, V, quick_cache::DefaultHashBuilder>;

/// The revocations of one issuer: by `jti` (until), by subject and by client (issued
/// before, until).
#[derive(Debug, Default)]
struct OfIssuer {
    jti: Fast<Box<str>, u64>,
    subjects: Fast<Box<str>, (u64, u64)>,
    clients: Fast<Box<str>, (u64, u64)>,
}

impl OfIssuer {
    fn len(&self) -> usize {
        self.jti.len() + self.subjects.len() + self.clients.len()
    }
}

/// The revocations in force, each with the time (seconds) after which it can no longer
/// matter: the newest `exp` it can affect. One look-up of the issuer, then one per name the
/// credential has; no allocation.
#[derive(Debug, Default)]
pub(crate) struct List {
    issuers: Fast<Box<str>, OfIssuer>,
    tokens: Fast<[u8; 32], u64>,
}

impl List {
    pub(super) fn len(&self) -> usize {
        self.issuers.values().map(OfIssuer::len).sum::<usize>() + self.tokens.len()
    }

    pub(super) fn insert(&mut self, entry: &Entry, until: u64) {
        fn of<'l>(issuers: &'l mut Fast<Box<str>, OfIssuer>, iss: &str) -> &'l mut OfIssuer {
            issuers.entry(iss.into()).or_default()
        }
        let later = |slot: &mut (u64, u64), before: u64| {
            *slot = (slot.0.max(before), slot.1.max(until));
        };
        match entry {
            Entry::Jti { iss, jti } => {
                let slot = of(&mut self.issuers, iss)
                    .jti
                    .entry(jti.as_str().into())
                    .or_insert(0);
                *slot = (*slot).max(until);
            }
            Entry::Token { sha256 } => {
                if let Ok(digest) = KeyDigest::from_hex(sha256) {
                    let slot = self.tokens.entry(*digest.as_bytes()).or_insert(0);
                    *slot = (*slot).max(until);
                }
            }
            Entry::Subject { iss, sub, before } => {
                later(
                    of(&mut self.issuers, iss)
                        .subjects
                        .entry(sub.as_str().into())
                        .or_default(),
                    *before,
                );
            }
            Entry::Client {
                iss,
                client,
                before,
            } => {
                later(
                    of(&mut self.issuers, iss)
                        .clients
                        .entry(client.as_str().into())
                        .or_default(),
                    *before,
                );
            }
        }
    }

    /// Drops what can no longer matter.
    pub(super) fn prune(&mut self, now: u64) {
        for of in self.issuers.values_mut() {
            of.jti.retain(|_, until| *until > now);
            of.subjects.retain(|_, (_, until)| *until > now);
            of.clients.retain(|_, (_, until)| *until > now);
        }
        self.issuers.retain(|_, of| of.len() > 0);
        self.tokens.retain(|_, until| *until > now);
    }

    /// Why `grant` is revoked, if it is. `token` is hashed only when the list holds whole
    /// tokens and the grant has no `jti`.
    pub(super) fn revoked(&self, grant: &Grant, token: Option<&[u8]>) -> Option<String> {
        if grant.jti().is_none() && !self.tokens.is_empty() {
            if let Some(token) = token {
                if self
                    .tokens
                    .contains_key(KeyDigest::of_bytes(token).as_bytes())
                {
                    return Some("the token is revoked".to_owned());
                }
            }
        }
        let iss = grant.issuer();
        let of = self.issuers.get(iss)?;
        let issued = grant.issued_at().unwrap_or(0);
        let before = |map: &Fast<Box<str>, (u64, u64)>, who: &str| {
            map.get(who)
                .filter(|(before, _)| issued < *before)
                .map(|(before, _)| *before)
        };
        if let Some(jti) = grant.jti().filter(|_| !of.jti.is_empty()) {
            if of.jti.contains_key(jti) {
                return Some(format!("jti {} of {} is revoked", shown(jti), shown(iss)));
            }
        }
        if !grant.sub().is_empty() && !of.subjects.is_empty() {
            if let Some(before) = before(&of.subjects, grant.sub()) {
                return Some(format!(
                    "tokens of subject {} issued before {before} are revoked",
                    shown(grant.sub())
                ));
            }
        }
        if let Some(client) = grant.client_id().filter(|_| !of.clients.is_empty()) {
            if let Some(before) = before(&of.clients, client) {
                return Some(format!(
                    "tokens of client {} issued before {before} are revoked",
                    shown(client)
                ));
            }
        }
        None
    }
}
