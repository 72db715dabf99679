//! JWK → ready verification keys (RSA, EC P-256/P-384, OKP Ed25519), parsed once per key-set
//! load, with the key policy applied to each key on its own.

use std::fmt;

use aws_lc_rs::signature::{self, ParsedPublicKey, RsaParameters, RsaPublicKeyComponents};
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine as _};
use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::header::Algorithm;

/// Most keys a JWK set may hold.
pub(crate) const MAX_KEYS: usize = 100;

/// Key material in JWKs is base64url; tolerate padding there (it is not attacker-chosen token
/// input), but nothing else.
const JWK_B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A verification key from a JWK set, parsed for every algorithm it may verify.
pub(crate) struct Key {
    pub(crate) kid: Option<Box<str>>,
    kind: KeyKind,
    /// Indexed by [`Algorithm::index`]; `None` where this key cannot verify that algorithm.
    verifiers: [Option<ParsedPublicKey>; 9],
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
    pub(crate) reason: String,
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawJwk {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    alg: Option<String>,
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

/// Parses a JWK set document. The document itself must be a JSON object with a `keys` array of
/// at most [`MAX_KEYS`] entries; each entry is then parsed on its own and an unusable one is
/// skipped with its reason.
pub(crate) fn parse_set(
    json: &[u8],
    allowed: &[bool; 9],
) -> Result<(Vec<Key>, Vec<Skipped>), String> {
    let raw: RawSet = serde_json::from_slice(json)
        .map_err(|e| format!("not a JWK set: {}", e.classify_text()))?;
    if raw.keys.len() > MAX_KEYS {
        return Err(format!(
            "the JWK set has {} keys, more than the {MAX_KEYS} accepted",
            raw.keys.len()
        ));
    }
    let mut keys = Vec::with_capacity(raw.keys.len());
    let mut skipped = Vec::new();
    for value in raw.keys {
        let kid = value.get("kid").and_then(|k| k.as_str()).map(str::to_owned);
        match serde_json::from_value::<RawJwk>(value)
            .map_err(|e| format!("malformed JWK: {e}"))
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

fn parse_key(jwk: RawJwk, allowed: &[bool; 9]) -> Result<Key, String> {
    let has_private = jwk.d.is_some()
        || jwk.p.is_some()
        || jwk.q.is_some()
        || jwk.dp.is_some()
        || jwk.dq.is_some()
        || jwk.qi.is_some()
        || jwk.oth.is_some();
    if has_private {
        return Err("the JWK holds private key material".into());
    }
    if jwk.k.is_some() || jwk.kty == "oct" {
        return Err("symmetric keys are not accepted".into());
    }
    if let Some(u) = &jwk.use_ {
        if u != "sig" {
            return Err(format!("`use` is {u:?}, not \"sig\""));
        }
    }
    if let Some(ops) = &jwk.key_ops {
        if !ops.iter().any(|o| o == "verify") {
            return Err("`key_ops` does not include \"verify\"".into());
        }
    }
    let named_alg = match jwk.alg.as_deref() {
        None => None,
        Some(name) => Some(
            Algorithm::from_name(name)
                .ok_or_else(|| format!("`alg` {name:?} is not a supported signature algorithm"))?,
        ),
    };
    // The algorithms this key may verify: what its type admits, narrowed by its own `alg` and by
    // the configured allow-list.
    let admits = |alg: Algorithm| allowed[alg.index()] && named_alg.is_none_or(|n| n == alg);
    let mut verifiers: [Option<ParsedPublicKey>; 9] = Default::default();
    let kind = match jwk.kty.as_str() {
        "RSA" => {
            let n = decode_field(jwk.n.as_deref(), "n")?;
            let e = decode_field(jwk.e.as_deref(), "e")?;
            let (n, e) = (strip_leading_zeros(&n), strip_leading_zeros(&e));
            let bits = bit_len(n);
            if !(2048..=8192).contains(&bits) {
                return Err(format!("RSA modulus of {bits} bits is outside 2048..=8192"));
            }
            if e.is_empty() || e.len() > 8 || e[e.len() - 1] & 1 == 0 || e == [1] {
                return Err("RSA exponent is not a usable odd number".into());
            }
            let components = RsaPublicKeyComponents { n, e };
            for (alg, params) in RSA_ALGS {
                if admits(alg) {
                    let parsed = components
                        .to_parsed_public_key(params)
                        .map_err(|e| format!("RSA key rejected: {e}"))?;
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
                Some(other) => return Err(format!("EC curve {other:?} is not supported")),
                None => return Err("EC key without `crv`".into()),
            };
            if named_alg.is_some_and(|n| n != alg) {
                return Err(format!(
                    "`alg` does not match curve {}",
                    jwk.crv.unwrap_or_default()
                ));
            }
            let x = decode_field(jwk.x.as_deref(), "x")?;
            let y = decode_field(jwk.y.as_deref(), "y")?;
            if x.len() != size || y.len() != size {
                return Err(format!("EC coordinates must be {size} bytes each"));
            }
            if admits(alg) {
                let mut point = Vec::with_capacity(1 + 2 * size);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                let parsed = ParsedPublicKey::new(verification, &point)
                    .map_err(|e| format!("EC key rejected: {e}"))?;
                verifiers[alg.index()] = Some(parsed);
            }
            kind
        }
        "OKP" => {
            match jwk.crv.as_deref() {
                Some("Ed25519") => {}
                Some(other) => return Err(format!("OKP curve {other:?} is not supported")),
                None => return Err("OKP key without `crv`".into()),
            }
            if named_alg.is_some_and(|n| n != Algorithm::EdDSA) {
                return Err("`alg` does not match curve Ed25519".into());
            }
            let x = decode_field(jwk.x.as_deref(), "x")?;
            if x.len() != 32 {
                return Err("Ed25519 public key must be 32 bytes".into());
            }
            if admits(Algorithm::EdDSA) {
                let parsed = ParsedPublicKey::new(&signature::ED25519, &x)
                    .map_err(|e| format!("Ed25519 key rejected: {e}"))?;
                verifiers[Algorithm::EdDSA.index()] = Some(parsed);
            }
            KeyKind::Ed25519
        }
        other => return Err(format!("key type {other:?} is not supported")),
    };
    if verifiers.iter().all(Option::is_none) {
        return Err("the key fits no allowed algorithm".into());
    }
    Ok(Key {
        kid: jwk.kid.map(Into::into),
        kind,
        verifiers,
    })
}

const RSA_ALGS: [(Algorithm, &RsaParameters); 6] = [
    (Algorithm::RS256, &signature::RSA_PKCS1_2048_8192_SHA256),
    (Algorithm::RS384, &signature::RSA_PKCS1_2048_8192_SHA384),
    (Algorithm::RS512, &signature::RSA_PKCS1_2048_8192_SHA512),
    (Algorithm::PS256, &signature::RSA_PSS_2048_8192_SHA256),
    (Algorithm::PS384, &signature::RSA_PSS_2048_8192_SHA384),
    (Algorithm::PS512, &signature::RSA_PSS_2048_8192_SHA512),
];

fn decode_field(value: Option<&str>, name: &str) -> Result<Vec<u8>, String> {
    let value = value.ok_or_else(|| format!("missing `{name}`"))?;
    JWK_B64
        .decode(value)
        .map_err(|_| format!("`{name}` is not base64url"))
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
mod tests {
    use super::*;

    const ALL: [bool; 9] = [true; 9];

    fn skipped_reason(jwk: serde_json::Value) -> String {
        let set = serde_json::json!({ "keys": [jwk] });
        let (keys, skipped) = parse_set(set.to_string().as_bytes(), &ALL).unwrap();
        assert!(keys.is_empty());
        skipped[0].reason.clone()
    }

    #[test]
    fn refuses_unusable_keys_one_by_one() {
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([9u8; 32]);
        let reason = skipped_reason(serde_json::json!({"kty":"oct","k":"AAAA"}));
        assert!(reason.contains("symmetric"), "{reason}");
        let reason = skipped_reason(serde_json::json!({"kty":"OKP","crv":"Ed25519","x":x,"d":x}));
        assert!(reason.contains("private"), "{reason}");
        let reason =
            skipped_reason(serde_json::json!({"kty":"OKP","crv":"Ed25519","x":x,"use":"enc"}));
        assert!(reason.contains("use"), "{reason}");
        let reason = skipped_reason(serde_json::json!({"kty":"OKP","crv":"X25519","x":x}));
        assert!(reason.contains("X25519"), "{reason}");
        let reason =
            skipped_reason(serde_json::json!({"kty":"OKP","crv":"Ed25519","x":x,"alg":"ES256"}));
        assert!(reason.contains("alg"), "{reason}");
        let reason = skipped_reason(serde_json::json!({"kty":"EC","crv":"P-256","x":x,"y":"AA"}));
        assert!(reason.contains("32 bytes"), "{reason}");
        let small_n = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([0xffu8; 128]);
        let reason = skipped_reason(serde_json::json!({"kty":"RSA","n":small_n,"e":"AQAB"}));
        assert!(reason.contains("1024 bits"), "{reason}");
    }

    #[test]
    fn a_set_must_be_an_object_with_a_keys_array() {
        assert!(parse_set(br#"{"keys":{}}"#, &ALL).is_err());
        assert!(parse_set(b"<html>", &ALL).is_err());
        let many = serde_json::json!({ "keys": vec![serde_json::json!({}); 101] });
        assert!(parse_set(many.to_string().as_bytes(), &ALL).is_err());
    }
}
