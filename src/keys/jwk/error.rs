//! Why a key cannot be used.

use std::fmt;

use super::MAX_KEYS;

/// Why a key (a JWK, a PEM document) or a JWK set cannot be used. Its `Display` is the reason
/// a log event or a configuration error gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyError {
    /// The JWK set document is not a JSON object with a `keys` array.
    NotASet(&'static str),
    /// More keys than a set may hold.
    TooManyKeys(usize),
    /// A member of the wrong JSON type, or a required one missing.
    Malformed(String),
    PrivateMaterial,
    Symmetric,
    WrongUse(String),
    NoVerifyOp,
    UnsupportedAlg(String),
    RsaSize(usize),
    RsaExponent,
    /// CVE-2017-15361.
    Roca,
    UnsupportedCurve(&'static str, String),
    NoCurve(&'static str),
    AlgCurve(String),
    EcCoordinates(usize),
    Ed25519Length,
    Ed25519NonCanonical,
    Ed25519SmallOrder,
    UnsupportedKty(String),
    NoAllowedAlgorithm,
    MissingMember(&'static str),
    NotBase64(&'static str),
    /// The crypto backend refused the key.
    Rejected(&'static str, String),
    /// Not a PEM document: no `BEGIN` line.
    NotPem,
    /// A PEM private key where a public one belongs.
    PemPrivate,
    /// A PEM label other than `PUBLIC KEY` or `RSA PUBLIC KEY`.
    PemLabel(String),
    /// A PEM body that is not base64.
    PemBody,
    /// A PEM key that is not a key of the algorithm it was given for.
    PemNotKeyOf(&'static str, String),
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotASet(why) => write!(f, "not a JWK set: {why}"),
            Self::TooManyKeys(n) => write!(
                f,
                "the JWK set has {n} keys, more than the {MAX_KEYS} accepted"
            ),
            Self::Malformed(why) => write!(f, "malformed JWK: {why}"),
            Self::PrivateMaterial => f.write_str("the JWK holds private key material"),
            Self::Symmetric => f.write_str("symmetric keys are not accepted"),
            Self::WrongUse(u) => write!(f, "`use` is {u:?}, not \"sig\""),
            Self::NoVerifyOp => f.write_str("`key_ops` does not include \"verify\""),
            Self::UnsupportedAlg(name) => {
                write!(f, "`alg` {name:?} is not a supported signature algorithm")
            }
            Self::RsaSize(bits) => write!(f, "RSA modulus of {bits} bits is outside 2048..=8192"),
            Self::RsaExponent => f.write_str("RSA exponent is not a usable odd number"),
            Self::Roca => f.write_str(
                "RSA modulus has the ROCA fingerprint (CVE-2017-15361): its private key can be computed",
            ),
            Self::UnsupportedCurve(kty, crv) => write!(f, "{kty} curve {crv:?} is not supported"),
            Self::NoCurve(kty) => write!(f, "{kty} key without `crv`"),
            Self::AlgCurve(crv) => write!(f, "`alg` does not match curve {crv}"),
            Self::EcCoordinates(size) => write!(f, "EC coordinates must be {size} bytes each"),
            Self::Ed25519Length => f.write_str("Ed25519 public key must be 32 bytes"),
            Self::Ed25519NonCanonical => {
                f.write_str("Ed25519 public key is not canonically encoded")
            }
            Self::Ed25519SmallOrder => f.write_str("Ed25519 public key is a point of small order"),
            Self::UnsupportedKty(kty) => write!(f, "key type {kty:?} is not supported"),
            Self::NoAllowedAlgorithm => f.write_str("the key fits no allowed algorithm"),
            Self::MissingMember(name) => write!(f, "missing `{name}`"),
            Self::NotBase64(name) => write!(f, "`{name}` is not base64url"),
            Self::Rejected(kind, why) => write!(f, "{kind} key rejected: {why}"),
            Self::NotPem => f.write_str("not PEM: no BEGIN line"),
            Self::PemPrivate => f.write_str("a private key was given; give the public key"),
            Self::PemLabel(label) => write!(f, "PEM label {label:?} is not a public key"),
            Self::PemBody => f.write_str("PEM body is not base64"),
            Self::PemNotKeyOf(kind, why) if why.is_empty() => write!(f, "not an {kind} public key"),
            Self::PemNotKeyOf(kind, why) => write!(f, "not a {kind} public key: {why}"),
        }
    }
}

impl std::error::Error for KeyError {}
