//! JWK → ready verification keys (RSA, EC P-256/P-384, OKP Ed25519), parsed once per key-set
//! load, with the key policy applied to each key on its own.

use std::fmt;

use aws_lc_rs::signature::{self, ParsedPublicKey, RsaParameters, RsaPublicKeyComponents};
use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::algorithm::{Algorithm, AlgorithmSet};
use crate::jose::b64;

mod error;

pub(crate) use error::KeyError;

/// Most keys a JWK set may hold.
pub(crate) const MAX_KEYS: usize = 100;

/// A verification key from a JWK set, parsed for every algorithm it may verify.
pub(crate) struct Key {
    pub(crate) kid: Option<Box<str>>,
    kind: KeyKind,
    /// The public parameters, to tell whether a refreshed set still holds this key.
    material: Box<[u8]>,
    /// Indexed by [`Algorithm::index`]; `None` where this key cannot verify that algorithm.
    verifiers: [Option<ParsedPublicKey>; Algorithm::COUNT],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Rsa { bits: usize },
    P256,
    P384,
    Ed25519,
}

impl Key {
    /// The parsed key for `alg`, if this key may verify it.
    pub(crate) fn verifier(&self, alg: Algorithm) -> Option<&ParsedPublicKey> {
        self.verifiers[alg.index()].as_ref()
    }

    pub(crate) fn fits(&self, alg: Algorithm) -> bool {
        self.verifier(alg).is_some()
    }

    /// Same `kid`, same public key.
    pub(crate) fn same_as(&self, other: &Key) -> bool {
        self.kid == other.kid && self.material == other.material
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let algs: Vec<&str> = Algorithm::ALL
            .into_iter()
            .filter(|a| self.fits(*a))
            .map(Algorithm::as_str)
            .collect();
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("kind", &self.kind)
            .field("algorithms", &algs)
            .finish()
    }
}

/// A JWK that was left out of the set, and why (for a warn event naming the `kid`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Skipped {
    pub(crate) kid: Option<String>,
    pub(crate) reason: KeyError,
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
pub(crate) struct RawJwk {
    pub(crate) kty: String,
    #[serde(default)]
    pub(crate) kid: Option<String>,
    #[serde(default)]
    pub(crate) alg: Option<String>,
    #[serde(default, rename = "use")]
    use_: Option<String>,
    #[serde(default)]
    key_ops: Option<Vec<String>>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
    // Private or symmetric members: their presence refuses the key.
    #[serde(default)]
    d: Option<IgnoredAny>,
    #[serde(default)]
    p: Option<IgnoredAny>,
    #[serde(default)]
    q: Option<IgnoredAny>,
    #[serde(default)]
    dp: Option<IgnoredAny>,
    #[serde(default)]
    dq: Option<IgnoredAny>,
    #[serde(default)]
    qi: Option<IgnoredAny>,
    #[serde(default)]
    oth: Option<IgnoredAny>,
    #[serde(default)]
    k: Option<IgnoredAny>,
}

impl RawJwk {
    /// The RFC 7638 thumbprint: base64url(SHA-256) of the required public members in
    /// lexicographic order, without whitespace. `None` for a key type or member set this crate
    /// does not verify with.
    pub(crate) fn thumbprint(&self) -> Option<String> {
        let q = |v: &str| serde_json::Value::from(v).to_string();
        let canonical = match self.kty.as_str() {
            "EC" => format!(
                r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#,
                q(self.crv.as_deref()?),
                q(self.x.as_deref()?),
                q(self.y.as_deref()?)
            ),
            "RSA" => format!(
                r#"{{"e":{},"kty":"RSA","n":{}}}"#,
                q(self.e.as_deref()?),
                q(self.n.as_deref()?)
            ),
            "OKP" => format!(
                r#"{{"crv":{},"kty":"OKP","x":{}}}"#,
                q(self.crv.as_deref()?),
                q(self.x.as_deref()?)
            ),
            _ => return None,
        };
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
        Some(b64::encode(digest.as_ref()))
    }
}

/// The small primes of the ROCA fingerprint test (Nemec et al., "The Return of Coppersmith's
/// Attack", CCS 2017).
const ROCA_PRIMES: [u32; 38] = [
    3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97,
    101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167,
];

/// Whether an RSA modulus (big-endian, no leading zeros) was made by the Infineon library of
/// CVE-2017-15361: its primes are `k·M + (65537^a mod M)` for a primorial `M`, so the modulus
/// is, modulo each small prime `p` dividing `M`, a power of 65537. A random modulus passes all
/// 38 residue tests with negligible probability. Run once per key, when the key is read.
fn has_roca_fingerprint(n: &[u8]) -> bool {
    ROCA_PRIMES.iter().all(|&p| {
        let residue = n
            .iter()
            .fold(0u32, |r, &byte| (r * 256 + u32::from(byte)) % p);
        // The subgroup 65537 generates modulo p.
        let generator = 65537 % p;
        let mut power = 1 % p;
        loop {
            if power == residue {
                return true;
            }
            power = power * generator % p;
            if power == 1 % p {
                return false;
            }
        }
    })
}

/// Parses a JWK set document. The document itself must be a JSON object with a `keys` array of
/// at most [`MAX_KEYS`] entries; each entry is then parsed on its own and an unusable one is
/// skipped with its reason.
pub(crate) fn parse_set(
    json: &[u8],
    allowed: AlgorithmSet,
) -> Result<(Vec<Key>, Vec<Skipped>), KeyError> {
    let raw: RawSet =
        serde_json::from_slice(json).map_err(|e| KeyError::NotASet(e.classify_text()))?;
    if raw.keys.len() > MAX_KEYS {
        return Err(KeyError::TooManyKeys(raw.keys.len()));
    }
    let mut keys = Vec::with_capacity(raw.keys.len());
    let mut skipped = Vec::new();
    for value in raw.keys {
        let kid = value.get("kid").and_then(|k| k.as_str()).map(str::to_owned);
        match serde_json::from_value::<RawJwk>(value)
            .map_err(|e| KeyError::Malformed(e.to_string()))
            .and_then(|jwk| parse_key(jwk, allowed))
        {
            Ok(key) => keys.push(key),
            Err(reason) => skipped.push(Skipped { kid, reason }),
        }
    }
    Ok((keys, skipped))
}

trait ClassifyText {
    fn classify_text(&self) -> &'static str;
}

impl ClassifyText for serde_json::Error {
    fn classify_text(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "read error",
            serde_json::error::Category::Syntax => "invalid JSON",
            serde_json::error::Category::Data => "no `keys` array",
            serde_json::error::Category::Eof => "truncated JSON",
        }
    }
}

pub(crate) fn parse_key(jwk: RawJwk, allowed: AlgorithmSet) -> Result<Key, KeyError> {
    let has_private = jwk.d.is_some()
        || jwk.p.is_some()
        || jwk.q.is_some()
        || jwk.dp.is_some()
        || jwk.dq.is_some()
        || jwk.qi.is_some()
        || jwk.oth.is_some();
    if has_private {
        return Err(KeyError::PrivateMaterial);
    }
    if jwk.k.is_some() || jwk.kty == "oct" {
        return Err(KeyError::Symmetric);
    }
    if let Some(u) = &jwk.use_ {
        if u != "sig" {
            return Err(KeyError::WrongUse(u.clone()));
        }
    }
    if let Some(ops) = &jwk.key_ops {
        if !ops.iter().any(|o| o == "verify") {
            return Err(KeyError::NoVerifyOp);
        }
    }
    let named_alg = match jwk.alg.as_deref() {
        None => None,
        Some(name) => Some(
            Algorithm::from_name(name).ok_or_else(|| KeyError::UnsupportedAlg(name.to_owned()))?,
        ),
    };
    // The algorithms this key may verify: what its type admits, narrowed by its own `alg` and by
    // the configured allow-list.
    let admits = |alg: Algorithm| allowed.contains(alg) && named_alg.is_none_or(|n| n == alg);
    let mut verifiers: [Option<ParsedPublicKey>; Algorithm::COUNT] = Default::default();
    let mut material = Vec::new();
    let kind = match jwk.kty.as_str() {
        "RSA" => {
            let n = decode_field(jwk.n.as_deref(), "n")?;
            let e = decode_field(jwk.e.as_deref(), "e")?;
            let (n, e) = (strip_leading_zeros(&n), strip_leading_zeros(&e));
            let bits = bit_len(n);
            if !(2048..=8192).contains(&bits) {
                return Err(KeyError::RsaSize(bits));
            }
            if e.is_empty() || e.len() > 8 || e[e.len() - 1] & 1 == 0 || e == [1] {
                return Err(KeyError::RsaExponent);
            }
            if has_roca_fingerprint(n) {
                return Err(KeyError::Roca);
            }
            material.extend_from_slice(&(n.len() as u32).to_be_bytes());
            material.extend_from_slice(n);
            material.extend_from_slice(e);
            let components = RsaPublicKeyComponents { n, e };
            for (alg, params) in RSA_ALGS {
                if admits(alg) {
                    let parsed = components
                        .to_parsed_public_key(params)
                        .map_err(|e| KeyError::Rejected("RSA", e.to_string()))?;
                    verifiers[alg.index()] = Some(parsed);
                }
            }
            KeyKind::Rsa { bits }
        }
        "EC" => {
            let (kind, alg, size, verification): (
                _,
                _,
                _,
                &'static signature::EcdsaVerificationAlgorithm,
            ) = match jwk.crv.as_deref() {
                Some("P-256") => (
                    KeyKind::P256,
                    Algorithm::ES256,
                    32,
                    &signature::ECDSA_P256_SHA256_FIXED,
                ),
                Some("P-384") => (
                    KeyKind::P384,
                    Algorithm::ES384,
                    48,
                    &signature::ECDSA_P384_SHA384_FIXED,
                ),
                Some(other) => return Err(KeyError::UnsupportedCurve("EC", other.to_owned())),
                None => return Err(KeyError::NoCurve("EC")),
            };
            if named_alg.is_some_and(|n| n != alg) {
                return Err(KeyError::AlgCurve(jwk.crv.unwrap_or_default()));
            }
            let x = decode_field(jwk.x.as_deref(), "x")?;
            let y = decode_field(jwk.y.as_deref(), "y")?;
            if x.len() != size || y.len() != size {
                return Err(KeyError::EcCoordinates(size));
            }
            material.extend_from_slice(&x);
            material.extend_from_slice(&y);
            if admits(alg) {
                let mut point = Vec::with_capacity(1 + 2 * size);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                let parsed = ParsedPublicKey::new(verification, &point)
                    .map_err(|e| KeyError::Rejected("EC", e.to_string()))?;
                verifiers[alg.index()] = Some(parsed);
            }
            kind
        }
        "OKP" => {
            match jwk.crv.as_deref() {
                Some("Ed25519") => {}
                Some(other) => return Err(KeyError::UnsupportedCurve("OKP", other.to_owned())),
                None => return Err(KeyError::NoCurve("OKP")),
            }
            if named_alg.is_some_and(|n| n != Algorithm::EdDSA) {
                return Err(KeyError::AlgCurve("Ed25519".into()));
            }
            let x = decode_field(jwk.x.as_deref(), "x")?;
            if x.len() != 32 {
                return Err(KeyError::Ed25519Length);
            }
            check_ed25519_point(&x)?;
            material.extend_from_slice(&x);
            if admits(Algorithm::EdDSA) {
                let parsed = ParsedPublicKey::new(&signature::ED25519, &x)
                    .map_err(|e| KeyError::Rejected("Ed25519", e.to_string()))?;
                verifiers[Algorithm::EdDSA.index()] = Some(parsed);
            }
            KeyKind::Ed25519
        }
        other => return Err(KeyError::UnsupportedKty(other.to_owned())),
    };
    if verifiers.iter().all(Option::is_none) {
        return Err(KeyError::NoAllowedAlgorithm);
    }
    Ok(Key {
        kid: jwk.kid.map(Into::into),
        kind,
        material: material.into(),
        verifiers,
    })
}

/// The `y` encodings (sign bit cleared) of the Ed25519 points of small order: the identity, the
/// point of order 2, of order 4, and the two of order 8 (each also with the sign bit set).
const ED25519_SMALL_ORDER_Y: [[u8; 32]; 5] = [
    hex32("0100000000000000000000000000000000000000000000000000000000000000"),
    hex32("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    hex32("0000000000000000000000000000000000000000000000000000000000000000"),
    hex32("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
    hex32("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
];

/// p = 2^255 - 19, little-endian.
const ED25519_P: [u8; 32] =
    hex32("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");

const fn hex32(s: &str) -> [u8; 32] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("not hex"),
        }
    }
    let b = s.as_bytes();
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = nibble(b[2 * i]) << 4 | nibble(b[2 * i + 1]);
        i += 1;
    }
    out
}

/// Refuses non-canonical encodings (`y` ≥ p) and points of small order, with either sign.
fn check_ed25519_point(x: &[u8]) -> Result<(), KeyError> {
    let mut y = [0u8; 32];
    y.copy_from_slice(x);
    y[31] &= 0x7f;
    // Little-endian comparison: y >= p?
    let non_canonical = y.iter().rev().cmp(ED25519_P.iter().rev()) != std::cmp::Ordering::Less;
    if non_canonical {
        return Err(KeyError::Ed25519NonCanonical);
    }
    if ED25519_SMALL_ORDER_Y.contains(&y) {
        return Err(KeyError::Ed25519SmallOrder);
    }
    Ok(())
}

const RSA_ALGS: [(Algorithm, &RsaParameters); 6] = [
    (Algorithm::RS256, &signature::RSA_PKCS1_2048_8192_SHA256),
    (Algorithm::RS384, &signature::RSA_PKCS1_2048_8192_SHA384),
    (Algorithm::RS512, &signature::RSA_PKCS1_2048_8192_SHA512),
    (Algorithm::PS256, &signature::RSA_PSS_2048_8192_SHA256),
    (Algorithm::PS384, &signature::RSA_PSS_2048_8192_SHA384),
    (Algorithm::PS512, &signature::RSA_PSS_2048_8192_SHA512),
];

fn decode_field(value: Option<&str>, name: &'static str) -> Result<Vec<u8>, KeyError> {
    let value = value.ok_or(KeyError::MissingMember(name))?;
    b64::decode_padded(value).map_err(|_| KeyError::NotBase64(name))
}

fn strip_leading_zeros(mut b: &[u8]) -> &[u8] {
    while let [0, rest @ ..] = b {
        b = rest;
    }
    b
}

fn bit_len(n: &[u8]) -> usize {
    match n.first() {
        None => 0,
        Some(&top) => n.len() * 8 - top.leading_zeros() as usize,
    }
}

#[cfg(test)]
mod tests;
