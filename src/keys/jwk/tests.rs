//! JWK import: the RFC 7638 thumbprint, each key rule, and the ROCA fingerprint.

#[test]
fn the_rfc_7638_thumbprint_example() {
    let jwk: RawJwk = serde_json::from_str(
        r#"{"kty":"RSA","e":"AQAB","alg":"RS256","kid":"2011-04-29","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"}"#,
    )
    .unwrap();
    assert_eq!(
        jwk.thumbprint().as_deref(),
        Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
    );
    let oct: RawJwk = serde_json::from_str(r#"{"kty":"oct","k":"AAAA"}"#).unwrap();
    assert_eq!(oct.thumbprint(), None);
}

use super::*;

const ALL: AlgorithmSet = AlgorithmSet::ALL;

/// `65537^k`, big-endian: a number every ROCA residue test passes.
fn power_of_65537(k: u32) -> Vec<u8> {
    let mut limbs: Vec<u32> = vec![1];
    for _ in 0..k {
        let mut carry = 0u64;
        for limb in &mut limbs {
            let v = u64::from(*limb) * 65537 + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            limbs.push(carry as u32);
        }
    }
    let mut bytes: Vec<u8> = limbs.iter().rev().flat_map(|l| l.to_be_bytes()).collect();
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(0);
    bytes.drain(..first);
    bytes
}

#[test]
fn roca_moduli_are_recognised_and_others_are_not() {
    let roca = power_of_65537(130);
    assert!(has_roca_fingerprint(&roca));
    let mut off_by_two = roca.clone();
    *off_by_two.last_mut().unwrap() ^= 2;
    assert!(!has_roca_fingerprint(&off_by_two));
    for alg in [Algorithm::RS256, Algorithm::PS256] {
        let key = crate::testing::SigningKey::generate(alg);
        let n = b64::decode(key.public_jwk()["n"].as_str().unwrap()).unwrap();
        assert!(!has_roca_fingerprint(strip_leading_zeros(&n)));
    }
    // Read as a JWK: refused before any use, naming the reason.
    let jwk = serde_json::json!({"kty": "RSA", "n": b64::encode(&roca), "e": "AQAB"});
    assert!(skipped_reason(jwk).contains("ROCA"));
}

fn skipped_reason(jwk: serde_json::Value) -> String {
    let set = serde_json::json!({ "keys": [jwk] });
    let (keys, skipped) = parse_set(set.to_string().as_bytes(), ALL).unwrap();
    assert!(keys.is_empty());
    skipped[0].reason.to_string()
}

#[test]
fn refuses_unusable_keys_one_by_one() {
    let x = b64::encode(&[9u8; 32]);
    let reason = skipped_reason(serde_json::json!({"kty":"oct","k":"AAAA"}));
    assert!(reason.contains("symmetric"), "{reason}");
    let reason = skipped_reason(serde_json::json!({"kty":"OKP","crv":"Ed25519","x":x,"d":x}));
    assert!(reason.contains("private"), "{reason}");
    let reason = skipped_reason(serde_json::json!({"kty":"OKP","crv":"Ed25519","x":x,"use":"enc"}));
    assert!(reason.contains("use"), "{reason}");
    let reason = skipped_reason(serde_json::json!({"kty":"OKP","crv":"X25519","x":x}));
    assert!(reason.contains("X25519"), "{reason}");
    let reason =
        skipped_reason(serde_json::json!({"kty":"OKP","crv":"Ed25519","x":x,"alg":"ES256"}));
    assert!(reason.contains("alg"), "{reason}");
    let reason = skipped_reason(serde_json::json!({"kty":"EC","crv":"P-256","x":x,"y":"AA"}));
    assert!(reason.contains("32 bytes"), "{reason}");
    let small_n = b64::encode(&[0xffu8; 128]);
    let reason = skipped_reason(serde_json::json!({"kty":"RSA","n":small_n,"e":"AQAB"}));
    assert!(reason.contains("1024 bits"), "{reason}");
}

fn b64(b: &[u8]) -> String {
    super::b64::encode(b)
}

fn parse_one(jwk: serde_json::Value) -> Result<Key, String> {
    parse_key(serde_json::from_value(jwk).unwrap(), ALL).map_err(|e| e.to_string())
}

fn rsa_components() -> (Vec<u8>, Vec<u8>) {
    use aws_lc_rs::signature::KeyPair as _;
    let kp = aws_lc_rs::signature::RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let c = aws_lc_rs::rsa::PublicKeyComponents::<Vec<u8>>::from(kp.public_key());
    (c.n, c.e)
}

#[test]
fn rsa_policy() {
    let (n, e) = rsa_components();
    let key = parse_one(serde_json::json!({"kty": "RSA", "n": b64(&n), "e": b64(&e)})).unwrap();
    assert!(
        key.fits(Algorithm::RS256) && key.fits(Algorithm::PS512) && !key.fits(Algorithm::ES256)
    );
    // Leading zero bytes of n and e are normalised away.
    let (mut n0, mut e0) = (vec![0, 0], vec![0]);
    n0.extend_from_slice(&n);
    e0.extend_from_slice(&e);
    assert!(parse_one(serde_json::json!({"kty": "RSA", "n": b64(&n0), "e": b64(&e0)})).is_ok());
    // A JWK `alg` narrows the key to that algorithm.
    let only =
        parse_one(serde_json::json!({"kty": "RSA", "n": b64(&n), "e": b64(&e), "alg": "PS256"}))
            .unwrap();
    assert!(only.fits(Algorithm::PS256) && !only.fits(Algorithm::RS256));
    let big = vec![0xffu8; 8192 / 8 + 1];
    let err =
        parse_one(serde_json::json!({"kty": "RSA", "n": b64(&big), "e": "AQAB"})).unwrap_err();
    assert!(err.contains("8200 bits"), "{err}");
    let err =
        parse_one(serde_json::json!({"kty": "RSA", "n": b64(&n), "e": b64(&[1, 0])})).unwrap_err();
    assert!(err.contains("exponent"), "{err}");
    let err = parse_one(serde_json::json!({"kty": "RSA", "n": b64(&n)})).unwrap_err();
    assert!(err.contains("missing `e`"), "{err}");
}

#[test]
fn ec_curve_must_match_the_algorithm() {
    use aws_lc_rs::signature::KeyPair as _;
    let kp = aws_lc_rs::signature::EcdsaKeyPair::generate(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
    )
    .unwrap();
    let p = kp.public_key().as_ref();
    let jwk = |extra: serde_json::Value| {
        let mut j = serde_json::json!({"kty": "EC", "crv": "P-256", "x": b64(&p[1..33]), "y": b64(&p[33..])});
        j.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        j
    };
    let key = parse_one(jwk(serde_json::json!({}))).unwrap();
    assert!(key.fits(Algorithm::ES256) && !key.fits(Algorithm::ES384));
    let err = parse_one(jwk(serde_json::json!({"alg": "ES384"}))).unwrap_err();
    assert!(err.contains("does not match curve"), "{err}");
    let err = parse_one(jwk(serde_json::json!({"crv": "P-384"}))).unwrap_err();
    assert!(err.contains("48 bytes"), "{err}");
    // A point not on the curve.
    let err = parse_one(jwk(serde_json::json!({"y": b64(&[7u8; 32])}))).unwrap_err();
    assert!(err.contains("rejected"), "{err}");
}

#[test]
fn key_ops_must_allow_verify() {
    let x = b64(&[9u8; 32]);
    let err =
        parse_one(serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": x, "key_ops": ["sign"]}))
            .unwrap_err();
    assert!(err.contains("key_ops"), "{err}");
    assert!(parse_one(
        serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": x, "key_ops": ["verify"]})
    )
    .is_ok());
}

#[test]
fn ed25519_points_must_be_32_canonical_bytes_of_large_order() {
    let err = parse_one(serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&[9u8; 31])}))
        .unwrap_err();
    assert!(err.contains("32 bytes"), "{err}");
    for y in ED25519_SMALL_ORDER_Y {
        for sign in [0u8, 0x80] {
            let mut x = y;
            x[31] |= sign;
            let err = parse_one(serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&x)}))
                .unwrap_err();
            assert!(err.contains("small order"), "{err}");
        }
    }
    // y = p and y = p + 1: the non-canonical encodings of small-order points.
    for low in [0xed, 0xee] {
        let mut x = ED25519_P;
        x[0] = low;
        let err = parse_one(serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&x)}))
            .unwrap_err();
        assert!(err.contains("canonical"), "{err}");
    }
}

#[test]
fn a_set_must_be_an_object_with_a_keys_array() {
    assert!(parse_set(br#"{"keys":{}}"#, ALL).is_err());
    assert!(parse_set(b"<html>", ALL).is_err());
    let many = serde_json::json!({ "keys": vec![serde_json::json!({}); 101] });
    assert!(parse_set(many.to_string().as_bytes(), ALL).is_err());
}
