//! Stateless DPoP server nonces (RFC 9449 §8): a nonce is a time step and a MAC over it, so
//! that every instance sharing the secret issues and accepts the same nonces without sharing
//! state. A nonce is good for its own step and the next one.

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::hmac;

use crate::jose::b64;

/// Bytes of the MAC kept in a nonce.
const TAG: usize = 16;

pub(crate) struct Nonces {
    key: hmac::Key,
    step_ms: u64,
}

/// How a proof's nonce stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Standing {
    /// Issued in the current step.
    Current,
    /// Issued in the previous step: still accepted, and the response hands out the next one.
    Previous,
}

impl Nonces {
    pub(crate) fn new(secret: &[u8], step_ms: u64) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
            step_ms: step_ms.max(1),
        }
    }

    fn step(&self, now_ms: u64) -> u64 {
        now_ms / self.step_ms
    }

    fn make(&self, step: u64) -> String {
        let counter = step.to_be_bytes();
        let tag = hmac::sign(&self.key, &counter);
        let mut raw = [0u8; 8 + TAG];
        raw[..8].copy_from_slice(&counter);
        raw[8..].copy_from_slice(&tag.as_ref()[..TAG]);
        b64::encode(&raw)
    }

    /// The nonce to hand out now.
    pub(crate) fn current(&self, now_ms: u64) -> String {
        self.make(self.step(now_ms))
    }

    /// How `nonce` stands now, or `None` when it is not one of ours or too old.
    pub(crate) fn check(&self, nonce: &str, now_ms: u64) -> Option<Standing> {
        let raw = b64::decode(nonce).ok()?;
        if raw.len() != 8 + TAG {
            return None;
        }
        let mut counter = [0u8; 8];
        counter.copy_from_slice(&raw[..8]);
        let tag = hmac::sign(&self.key, &counter);
        verify_slices_are_equal(&raw[8..], &tag.as_ref()[..TAG]).ok()?;
        let step = u64::from_be_bytes(counter);
        let now = self.step(now_ms);
        if step == now {
            Some(Standing::Current)
        } else if step.checked_add(1) == Some(now) {
            Some(Standing::Previous)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_is_good_for_its_step_and_the_next() {
        let nonces = Nonces::new(&[7; 32], 60_000);
        let other = Nonces::new(&[8; 32], 60_000);
        let n = nonces.current(120_000);
        assert_eq!(nonces.check(&n, 150_000), Some(Standing::Current));
        assert_eq!(nonces.check(&n, 180_000), Some(Standing::Previous));
        assert_eq!(nonces.check(&n, 240_000), None, "two steps old");
        assert_eq!(nonces.check(&n, 60_000), None, "from the future");
        assert_eq!(other.check(&n, 150_000), None, "another secret");
        assert_eq!(nonces.check("not-a-nonce", 150_000), None);
        let mut forged = b64::decode(&n).unwrap();
        forged[3] ^= 1;
        assert_eq!(nonces.check(&b64::encode(&forged), 150_000), None);
        // Two instances with one secret agree.
        assert_eq!(Nonces::new(&[7; 32], 60_000).current(130_000), n);
    }
}
