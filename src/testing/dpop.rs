//! [`DpopKey`]: a client's DPoP key pair and the proofs it signs (RFC 9449 §4), for testing a
//! service behind [`JwtAuth::dpop`](crate::JwtAuth::dpop).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::SigningKey;
use crate::Algorithm;

static NEXT_JTI: AtomicU64 = AtomicU64::new(1);

/// A client's DPoP key: its thumbprint binds tokens (`cnf.jkt`), and it signs proofs.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use tower_jwt_auth::testing::{DpopKey, TestIssuer};
/// use tower_jwt_auth::Algorithm;
/// let issuer = TestIssuer::start().await;
/// let key = DpopKey::generate(Algorithm::ES256);
/// let token = issuer.token().dpop_bound(&key).sign();
/// let proof = key.proof("GET", "https://api.example.com/usage").access_token(&token).sign();
/// assert_eq!(proof.split('.').count(), 3);
/// # }
/// ```
pub struct DpopKey {
    key: SigningKey,
}

impl DpopKey {
    /// A fresh key pair for `alg`.
    pub fn generate(alg: Algorithm) -> Self {
        Self {
            key: SigningKey::generate(alg),
        }
    }

    /// The public JWK a proof carries: the key's public members, no `kid`.
    pub fn public_jwk(&self) -> Value {
        let mut jwk = self.key.public_jwk();
        if let Some(o) = jwk.as_object_mut() {
            o.remove("kid");
            o.remove("use");
            o.remove("alg");
        }
        jwk
    }

    /// The RFC 7638 thumbprint, as `cnf.jkt` carries it.
    pub fn thumbprint(&self) -> String {
        let jwk = self.public_jwk();
        let member = |name: &str| jwk[name].as_str().unwrap_or_default().to_owned();
        // RFC 7638 §3.2: the required members in lexicographic order, no whitespace (the
        // values are base64url and curve names: nothing to escape).
        let canonical = match member("kty").as_str() {
            "RSA" => format!(
                r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                member("e"),
                member("n")
            ),
            "EC" => format!(
                r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
                member("crv"),
                member("x"),
                member("y")
            ),
            _ => format!(
                r#"{{"crv":"{}","kty":"OKP","x":"{}"}}"#,
                member("crv"),
                member("x")
            ),
        };
        let digest = digest::digest(&digest::SHA256, canonical.as_bytes());
        URL_SAFE_NO_PAD.encode(digest.as_ref())
    }

    /// A proof for `method` and `url` (the `htu`), issued now with a fresh `jti`.
    pub fn proof(&self, method: &str, url: &str) -> ProofBuilder<'_> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut claims = Map::new();
        let jti = format!("proof-{}", NEXT_JTI.fetch_add(1, Ordering::Relaxed));
        claims.insert("jti".into(), json!(jti));
        claims.insert("htm".into(), json!(method));
        claims.insert("htu".into(), json!(url));
        claims.insert("iat".into(), json!(now));
        let mut header = Map::new();
        header.insert("typ".into(), json!("dpop+jwt"));
        header.insert("alg".into(), json!(self.key.alg().as_str()));
        header.insert("jwk".into(), self.public_jwk());
        ProofBuilder {
            key: &self.key,
            header,
            claims,
        }
    }
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopKey")
            .field("alg", &self.key.alg())
            .field("jkt", &self.thumbprint())
            .finish()
    }
}

/// One DPoP proof, valid unless changed: `typ`, `alg`, `jwk`; `jti`, `htm`, `htu`, `iat`.
#[must_use = "a proof builder does nothing until `sign` is called"]
pub struct ProofBuilder<'k> {
    key: &'k SigningKey,
    header: Map<String, Value>,
    claims: Map<String, Value>,
}

impl ProofBuilder<'_> {
    /// Adds `ath`, the hash of the access token the proof goes with.
    pub fn access_token(self, token: &str) -> Self {
        let hash = digest::digest(&digest::SHA256, token.as_bytes());
        self.claim("ath", URL_SAFE_NO_PAD.encode(hash.as_ref()))
    }

    /// Adds the server's `nonce`.
    pub fn nonce(self, nonce: &str) -> Self {
        self.claim("nonce", nonce)
    }

    /// Sets `iat` (seconds since the epoch), for a service with an injected clock.
    pub fn iat(self, iat: u64) -> Self {
        self.claim("iat", iat)
    }

    /// Sets any claim.
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims.insert(name.into(), value.into());
        self
    }

    /// Sets any header member.
    pub fn header(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.header.insert(name.into(), value.into());
        self
    }

    /// Removes a claim or header member.
    pub fn without(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self.header.remove(name);
        self
    }

    /// The compact JWS.
    pub fn sign(self) -> String {
        self.key
            .sign_json(&Value::Object(self.header), &Value::Object(self.claims))
    }
}
