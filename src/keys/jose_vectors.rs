//! Wycheproof's JOSE vectors (`json_web_signature_test.json`, `json_web_key_test.json`, from
//! the C2SP Wycheproof repository, Apache-2.0) through this crate's own JWS header parsing,
//! strict base64url, JWK import and key selection, and signature verification: every vector's
//! expected verdict matched.
//!
//! Where a valid vector uses what this crate refuses by rule — a symmetric key or an `HS*`
//! algorithm (SECURITY.md: never for JWKS-backed keys), ES512 (not an algorithm this crate
//! verifies), a key whose JWK `alg` names another algorithm than the JWS's (SECURITY.md: a
//! JWK's `alg` binds the key), or a character outside the base64url alphabet (strict
//! decoding) — the expected verdict is that refusal, and the rule is counted apart.
//!
//! The vectors are data read at test time from `$WYCHEPROOF_DIR`, or else from
//! `../shared/wycheproof/testvectors_v1` beside the repository.

use std::path::PathBuf;

use serde_json::{json, Map, Value};

use super::jwk::parse_set;
use super::KeySet;
use crate::algorithm::AlgorithmSet;
use crate::jose::{b64, header};

/// Where the vectors are, if they are here at all.
fn vectors_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("WYCHEPROOF_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/wycheproof/testvectors_v1"),
        PathBuf::from,
    );
    dir.join("json_web_signature_test.json")
        .is_file()
        .then_some(dir)
}

/// The public half of a JWK or a JWK set, as a resource server is given it: private members
/// (and a symmetric key's secret) removed.
fn public_half(jwk: &Value) -> Value {
    const PRIVATE: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
    let strip = |key: &Value| -> Value {
        let public: Map<String, Value> = key
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| !PRIVATE.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Value::Object(public)
    };
    match jwk.get("keys").and_then(Value::as_array) {
        Some(keys) => json!({ "keys": keys.iter().map(strip).collect::<Vec<_>>() }),
        None => json!({ "keys": [strip(jwk)] }),
    }
}

/// Whether this crate accepts `jws` under the keys `set`: compact form, strict base64url,
/// the header rules, the key named by `kid` (or the only one that fits), the signature.
fn accepts(set: &Value, jws: &str) -> Result<(), String> {
    let mut parts = jws.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("not a compact JWS".into());
    };
    if h.is_empty() || s.is_empty() {
        return Err("an empty segment".into());
    }
    let header_json = b64::decode(h).map_err(|_| "header not base64url")?;
    let header = header::parse(&header_json, header::TypPolicy::Lenient)
        .map_err(|e| format!("header: {}", e.description()))?;
    b64::decode(p).map_err(|_| "payload not base64url")?;
    let signature = b64::decode(s).map_err(|_| "signature not base64url")?;
    let (keys, skipped) =
        parse_set(set.to_string().as_bytes(), AlgorithmSet::ALL).map_err(|e| e.to_string())?;
    let set = KeySet::fixed(keys);
    let key = set.find(header.kid.as_deref(), header.alg).map_err(|e| {
        let reasons: Vec<String> = skipped.iter().map(|s| s.reason.to_string()).collect();
        format!("{} (skipped keys: {reasons:?})", e.description())
    })?;
    let verifier = key
        .verifier(header.alg)
        .ok_or("the key does not fit the algorithm")?;
    verifier
        .verify_sig(format!("{h}.{p}").as_bytes(), &signature)
        .map_err(|_| "the signature does not verify".to_owned())
}

/// A valid vector this crate refuses by rule: the rule, if any.
fn refused_by_rule(keys: &Value, jws: &str) -> Option<&'static str> {
    let h = jws.split('.').next()?;
    if !h
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Some("base64url is strict: a character outside its alphabet is refused");
    }
    let header: Value = serde_json::from_slice(&b64::decode(h).ok()?).ok()?;
    let alg = header.get("alg")?.as_str()?;
    if alg.starts_with("HS") {
        return Some("symmetric algorithms are refused");
    }
    if alg == "ES512" {
        return Some("ES512 is not an algorithm this crate verifies");
    }
    let kid = header.get("kid").and_then(Value::as_str);
    let named = keys["keys"]
        .as_array()?
        .iter()
        .find(|k| kid.is_none_or(|kid| k["kid"] == kid))?;
    named["alg"]
        .as_str()
        .filter(|key_alg| *key_alg != alg)
        .map(|_| "a JWK's alg binds the key to that algorithm")
}

#[test]
fn wycheproof_jose_vectors_get_their_expected_verdicts() {
    let Some(dir) = vectors_dir() else {
        eprintln!(
            "Wycheproof JOSE vectors not found: set WYCHEPROOF_DIR, or place testvectors_v1 at \
             ../shared/wycheproof/ (see src/keys/jose_vectors.rs)"
        );
        return;
    };
    let (mut matched, mut by_rule, mut failures) = (0usize, 0usize, Vec::new());
    for file in ["json_web_signature_test.json", "json_web_key_test.json"] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let doc: Value = serde_json::from_str(&text).unwrap();
        for group in doc["testGroups"].as_array().unwrap() {
            let keys = public_half(group.get("public").unwrap_or(&group["private"]));
            for test in group["tests"].as_array().unwrap() {
                let id = &test["tcId"];
                let Some(jws) = test["jws"].as_str() else {
                    // A JWS in the JSON serialization: this crate reads the compact form only.
                    matched += usize::from(test["result"] == "invalid");
                    if test["result"] != "invalid" {
                        failures.push(format!("{file} #{id}: a valid JSON-serialized JWS"));
                    }
                    continue;
                };
                let verdict = accepts(&keys, jws);
                let expected_valid = test["result"] == "valid";
                match (expected_valid, &verdict) {
                    (true, Ok(())) | (false, Err(_)) => matched += 1,
                    (true, Err(_)) if refused_by_rule(&keys, jws).is_some() => by_rule += 1,
                    (true, Err(why)) => failures.push(format!(
                        "{file} #{id} ({}): valid, refused: {why}",
                        test["comment"]
                    )),
                    (false, Ok(())) => failures.push(format!(
                        "{file} #{id} ({}): invalid, accepted",
                        test["comment"]
                    )),
                }
            }
        }
    }
    println!("Wycheproof JOSE: {matched} matched, {by_rule} refused by rule");
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(matched > 300, "{matched}");
}
