//! The signature algorithms this crate verifies, and a set of them.

use std::fmt;

/// A JWS signature algorithm this crate verifies. Symmetric algorithms and `none` are not
/// representable: they are refused before a key is looked up.
///
/// ```
/// use tower_jwt_auth::{Algorithm, JwtAuth, TokenRules};
/// assert_eq!(Algorithm::from_name("ES256"), Some(Algorithm::ES256));
/// assert_eq!(Algorithm::from_name("HS256"), None);
/// let auth = JwtAuth::new("https://auth-api.eliq.com", "insights-api").token_rules(TokenRules {
///     algorithms: vec![Algorithm::RS256, Algorithm::ES256],
///     ..TokenRules::default()
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// EdDSA on Ed25519.
    EdDSA,
}

impl Algorithm {
    /// Every supported algorithm: the default allow-list.
    pub const ALL: [Algorithm; 9] = [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ];

    /// How many algorithms there are: the size of a per-algorithm table.
    pub(crate) const COUNT: usize = Self::ALL.len();

    /// The JOSE name, e.g. `"RS256"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
        }
    }

    /// Parses a JOSE name (exact, case-sensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// The position in [`Algorithm::ALL`]: the index of a per-algorithm table.
    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of algorithms: an allow-list, or the algorithms one key may verify.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(crate) struct AlgorithmSet(u16);

impl AlgorithmSet {
    /// Every supported algorithm.
    pub(crate) const ALL: Self = Self((1 << Algorithm::COUNT) - 1);

    /// No algorithm.
    #[cfg(test)]
    pub(crate) const EMPTY: Self = Self(0);

    /// Exactly these.
    pub(crate) const fn of(algorithms: &[Algorithm]) -> Self {
        let mut bits = 0;
        let mut i = 0;
        while i < algorithms.len() {
            bits |= 1 << algorithms[i].index();
            i += 1;
        }
        Self(bits)
    }

    /// The algorithms in both sets.
    pub(crate) fn and(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    /// Just `alg`.
    pub(crate) fn only(alg: Algorithm) -> Self {
        Self(1 << alg.index())
    }

    pub(crate) fn contains(self, alg: Algorithm) -> bool {
        self.0 & (1 << alg.index()) != 0
    }

    pub(crate) fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The algorithms in the set, in [`Algorithm::ALL`] order.
    pub(crate) fn iter(self) -> impl Iterator<Item = Algorithm> {
        Algorithm::ALL
            .into_iter()
            .filter(move |a| self.contains(*a))
    }

    /// The JOSE names, space-separated, for log events and configuration errors.
    pub(crate) fn names(self) -> String {
        self.iter()
            .map(Algorithm::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl FromIterator<Algorithm> for AlgorithmSet {
    fn from_iter<I: IntoIterator<Item = Algorithm>>(iter: I) -> Self {
        Self(iter.into_iter().fold(0, |bits, a| bits | 1 << a.index()))
    }
}

impl fmt::Debug for AlgorithmSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_holds_exactly_what_was_put_in() {
        let set: AlgorithmSet = [Algorithm::ES256, Algorithm::EdDSA].into_iter().collect();
        assert!(set.contains(Algorithm::ES256) && set.contains(Algorithm::EdDSA));
        assert!(!set.contains(Algorithm::RS256));
        assert_eq!(set.names(), "ES256 EdDSA");
        assert_eq!(AlgorithmSet::ALL.iter().collect::<Vec<_>>(), Algorithm::ALL);
        assert!(AlgorithmSet::EMPTY.is_empty() && !AlgorithmSet::only(Algorithm::PS512).is_empty());
        for a in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(a.as_str()), Some(a));
            assert_eq!(AlgorithmSet::only(a).iter().collect::<Vec<_>>(), [a]);
        }
    }
}
