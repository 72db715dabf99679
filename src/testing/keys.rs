//! Signing keys of the test issuer: generation, public JWK, JWS signing.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
    ECDSA_P384_SHA384_FIXED_SIGNING,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

use crate::Algorithm;

enum Pair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A private signing key of the test issuer, with its `kid` and algorithm. Also useful alone,
/// to build fixed key sets or hand-crafted tokens.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use serde_json::json;
/// use tower_jwt_auth::{testing::SigningKey, Algorithm, Issuer, JwtAuth, TokenRules};
/// let key = SigningKey::generate(Algorithm::EdDSA);
/// let auth = JwtAuth::from(
///     Issuer::new("https://auth-api.eliq.com")
///         .audience("insights-api")
///         .jwks(json!({ "keys": [key.public_jwk()] }).to_string()),
/// );
/// let token = key.sign_json(
///     &json!({"alg": "EdDSA", "kid": key.kid()}),
///     &json!({"iss": "https://auth-api.eliq.com", "aud": "insights-api", "sub": "u-1", "exp": 4_000_000_000u64}),
/// );
/// // exp is years away: refused for its lifetime unless that limit is lifted.
/// let unlimited = TokenRules { max_lifetime: None, ..TokenRules::default() };
/// assert!(auth.clone().token_rules(unlimited).verify(&token).await.is_ok());
/// # }
/// ```
pub struct SigningKey {
    kid: String,
    alg: Algorithm,
    pair: Pair,
}

static NEXT_KID: AtomicU64 = AtomicU64::new(1);

impl SigningKey {
    /// Generates a key for `alg` with a fresh `kid` (e.g. `"es256-3"`).
    ///
    /// # Panics
    /// Only if the system's random source fails, which leaves no key to test with.
    pub fn generate(alg: Algorithm) -> Self {
        let n = NEXT_KID.fetch_add(1, Ordering::Relaxed);
        Self::generate_with_kid(alg, format!("{}-{n}", alg.as_str().to_ascii_lowercase()))
    }

    /// Generates a key for `alg` with the given `kid`.
    ///
    /// # Panics
    /// Only if the system's random source fails.
    pub fn generate_with_kid(alg: Algorithm, kid: impl Into<String>) -> Self {
        use Algorithm as A;
        let pair = match alg {
            A::RS256 | A::RS384 | A::RS512 | A::PS256 | A::PS384 | A::PS512 => {
                Pair::Rsa(RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key generation"))
            }
            A::ES256 => Pair::Ec(
                EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                    .expect("P-256 key generation"),
            ),
            A::ES384 => Pair::Ec(
                EcdsaKeyPair::generate(&ECDSA_P384_SHA384_FIXED_SIGNING)
                    .expect("P-384 key generation"),
            ),
            A::EdDSA => Pair::Ed(Ed25519KeyPair::generate().expect("Ed25519 key generation")),
        };
        Self {
            kid: kid.into(),
            alg,
            pair,
        }
    }

    /// The key id published in the JWK set and put in token headers.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm this key signs with.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The public JWK (`kty`, `kid`, `alg`, `use: "sig"` and the public parameters).
    pub fn public_jwk(&self) -> Value {
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let mut jwk = match &self.pair {
            Pair::Rsa(kp) => {
                let c = PublicKeyComponents::<Vec<u8>>::from(kp.public_key());
                json!({ "kty": "RSA", "n": b64(&c.n), "e": b64(&c.e) })
            }
            Pair::Ec(kp) => {
                let point = kp.public_key().as_ref();
                let size = (point.len() - 1) / 2;
                let crv = if size == 32 { "P-256" } else { "P-384" };
                json!({ "kty": "EC", "crv": crv, "x": b64(&point[1..=size]), "y": b64(&point[1 + size..]) })
            }
            Pair::Ed(kp) => {
                json!({ "kty": "OKP", "crv": "Ed25519", "x": b64(kp.public_key().as_ref()) })
            }
        };
        jwk["kid"] = json!(self.kid);
        jwk["alg"] = json!(self.alg.as_str());
        jwk["use"] = json!("sig");
        jwk
    }

    /// The public key as PEM (`PUBLIC KEY`, SubjectPublicKeyInfo).
    ///
    /// # Panics
    /// Only if the crypto backend cannot encode a key it generated.
    pub fn public_pem(&self) -> String {
        use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
        let der: PublicKeyX509Der<'static> = match &self.pair {
            Pair::Rsa(kp) => kp.public_key().as_der(),
            Pair::Ec(kp) => kp.public_key().as_der(),
            Pair::Ed(kp) => kp.public_key().as_der(),
        }
        .expect("public key encoding");
        let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).unwrap_or_default());
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        pem
    }

    /// Signs `signing_input` (`b64(header).b64(payload)`) and returns the raw signature.
    ///
    /// # Panics
    /// Only if the crypto backend fails to sign with a key it generated.
    pub fn sign_bytes(&self, signing_input: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &self.pair {
            Pair::Rsa(kp) => {
                use Algorithm as A;
                let padding: &'static dyn signature::RsaEncoding = match self.alg {
                    A::RS256 => &signature::RSA_PKCS1_SHA256,
                    A::RS384 => &signature::RSA_PKCS1_SHA384,
                    A::RS512 => &signature::RSA_PKCS1_SHA512,
                    A::PS256 => &signature::RSA_PSS_SHA256,
                    A::PS384 => &signature::RSA_PSS_SHA384,
                    _ => &signature::RSA_PSS_SHA512,
                };
                let mut sig = vec![0; kp.public_modulus_len()];
                kp.sign(padding, &rng, signing_input, &mut sig)
                    .expect("RSA signing");
                sig
            }
            Pair::Ec(kp) => kp
                .sign(&rng, signing_input)
                .expect("ECDSA signing")
                .as_ref()
                .to_vec(),
            Pair::Ed(kp) => kp.sign(signing_input).as_ref().to_vec(),
        }
    }

    /// A compact JWS of these exact header and claims JSON values.
    pub fn sign_json(&self, header: &Value, claims: &Value) -> String {
        self.sign_raw(header.to_string().as_bytes(), claims.to_string().as_bytes())
    }

    /// A compact JWS of these exact header and payload bytes (for hostile-input tests).
    pub fn sign_raw(&self, header: &[u8], payload: &[u8]) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let sig = self.sign_bytes(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}
