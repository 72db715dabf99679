//! Fixed public keys given in PEM (`PUBLIC KEY` SubjectPublicKeyInfo, or `RSA PUBLIC KEY`),
//! imported through the same policy as JWKs.

use aws_lc_rs::signature::{self, ParsedPublicKey};
use base64::Engine as _;

use super::jwk::{parse_key, Key, KeyError, RawJwk};
use crate::algorithm::{Algorithm, AlgorithmSet};
use crate::jose::b64;

/// A verification key from PEM (`PUBLIC KEY` SubjectPublicKeyInfo, or `RSA PUBLIC KEY`),
/// for one algorithm, under the same policy as JWKs.
pub(crate) fn from_pem(kid: &str, alg: Algorithm, pem: &str) -> Result<Key, KeyError> {
    let der = pem_body(pem)?;
    let allowed = AlgorithmSet::only(alg);
    let b64 = b64::encode;
    let jwk = match alg {
        Algorithm::ES256 | Algorithm::ES384 => {
            let (verification, crv, size): (&'static signature::EcdsaVerificationAlgorithm, _, _) =
                if alg == Algorithm::ES256 {
                    (&signature::ECDSA_P256_SHA256_FIXED, "P-256", 32)
                } else {
                    (&signature::ECDSA_P384_SHA384_FIXED, "P-384", 48)
                };
            let parsed = ParsedPublicKey::new(verification, &der)
                .map_err(|e| KeyError::PemNotKeyOf(crv, e.to_string()))?;
            // The uncompressed point ends the SubjectPublicKeyInfo.
            let spki = aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::PublicKeyX509Der<'static>>::as_der(&parsed)
                .map_err(|_| KeyError::Rejected("EC", "cannot re-encode the key".into()))?;
            let point = &spki.as_ref()[spki.as_ref().len() - (1 + 2 * size)..];
            serde_json::json!({"kty": "EC", "crv": crv, "x": b64(&point[1..=size]), "y": b64(&point[1 + size..])})
        }
        Algorithm::EdDSA => {
            let raw = match der.len() {
                32 => &der[..],
                44 => &der[12..],
                _ => return Err(KeyError::PemNotKeyOf("Ed25519", String::new())),
            };
            serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": b64(raw)})
        }
        _ => {
            let key = aws_lc_rs::rsa::PublicKey::from_der(&der)
                .map_err(|e| KeyError::PemNotKeyOf("RSA", e.to_string()))?;
            let c = aws_lc_rs::rsa::PublicKeyComponents::<Vec<u8>>::from(&key);
            serde_json::json!({"kty": "RSA", "n": b64(&c.n), "e": b64(&c.e)})
        }
    };
    let mut jwk: RawJwk =
        serde_json::from_value(jwk).map_err(|e| KeyError::Malformed(e.to_string()))?;
    jwk.kid = Some(kid.to_owned());
    jwk.alg = Some(alg.as_str().to_owned());
    parse_key(jwk, allowed)
}

fn pem_body(pem: &str) -> Result<Vec<u8>, KeyError> {
    let pem = pem.trim();
    let first = pem.lines().next().unwrap_or_default().trim();
    let label = first
        .strip_prefix("-----BEGIN ")
        .and_then(|l| l.strip_suffix("-----"))
        .ok_or(KeyError::NotPem)?;
    if label.contains("PRIVATE") {
        return Err(KeyError::PemPrivate);
    }
    if label != "PUBLIC KEY" && label != "RSA PUBLIC KEY" {
        return Err(KeyError::PemLabel(label.to_owned()));
    }
    let end = format!("-----END {label}-----");
    let body: String = pem
        .lines()
        .skip(1)
        .take_while(|l| l.trim() != end)
        .flat_map(|l| l.trim().chars())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| KeyError::PemBody)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_requires_a_public_key() {
        let err = pem_body("-----BEGIN EC PRIVATE KEY-----\nAA==\n-----END EC PRIVATE KEY-----")
            .unwrap_err();
        assert_eq!(err, KeyError::PemPrivate);
        assert!(pem_body("MIIB").is_err());
        assert_eq!(
            pem_body("-----BEGIN PUBLIC KEY-----\nAAEC\nAw==\n-----END PUBLIC KEY-----\n").unwrap(),
            [0, 1, 2, 3]
        );
    }
}
