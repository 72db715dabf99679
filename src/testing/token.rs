//! [`TokenBuilder`]: mints access tokens like the seeds' authorization servers do.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::Inner;
use crate::Algorithm;

/// Builds and signs one access token. Starts as a valid app token of the issuer for its
/// default audience: `iss`, `aud`, `sub`, `client_id`, `iat`, `exp` (1 h), `jti`, signed RS256.
///
/// ```no_run
/// # async fn demo() {
/// use std::time::Duration;
/// use tower_jwt_auth::testing::TestIssuer;
/// let issuer = TestIssuer::start().await;
/// let token = issuer
///     .token()
///     .sub("u-1")
///     .sub_type("user")
///     .scopes(["insights.read"])
///     .expires_in(Duration::from_secs(300))
///     .sign();
/// # }
/// ```
#[must_use = "a token builder does nothing until `sign` is called"]
#[derive(Clone)]
pub struct TokenBuilder {
    issuer: Arc<Inner>,
    header: Map<String, Value>,
    claims: Map<String, Value>,
    alg: Algorithm,
    kid: KidChoice,
}

#[derive(Clone)]
enum KidChoice {
    OfKey,
    None,
    Given(String),
}

impl TokenBuilder {
    pub(crate) fn new(issuer: Arc<Inner>) -> Self {
        let now = issuer.now();
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(issuer.url));
        claims.insert("aud".into(), json!(issuer.audience));
        claims.insert("sub".into(), json!(issuer.default_client_id));
        claims.insert("client_id".into(), json!(issuer.default_client_id));
        claims.insert("iat".into(), json!(now));
        claims.insert("exp".into(), json!(now + 3600));
        claims.insert("jti".into(), json!(issuer.next_jti()));
        let mut header = Map::new();
        header.insert("typ".into(), json!("at+jwt"));
        Self {
            issuer,
            header,
            claims,
            alg: Algorithm::RS256,
            kid: KidChoice::OfKey,
        }
    }

    /// Binds the token to a DPoP key: `cnf.jkt` is its thumbprint (RFC 9449 §6.1).
    pub fn dpop_bound(self, key: &super::DpopKey) -> Self {
        self.claim("cnf", json!({ "jkt": key.thumbprint() }))
    }

    /// Binds the token to a client certificate: `cnf["x5t#S256"]` is the base64url SHA-256
    /// of its DER encoding (RFC 8705 §3.1).
    pub fn certificate_bound(self, der: &[u8]) -> Self {
        use base64::Engine as _;
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
        let x5t = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
        self.claim("cnf", json!({ "x5t#S256": x5t }))
    }

    /// Sets any claim.
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims.insert(name.to_owned(), value.into());
        self
    }

    /// Removes a claim (e.g. `"exp"`, to test that it is required).
    pub fn without(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }

    /// Sets any header member (`alg` and `kid` are set at signing unless given here).
    pub fn header(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.header.insert(name.to_owned(), value.into());
        self
    }

    /// `sub`: the end user of a delegated token, or the client of an app token.
    #[allow(clippy::should_implement_trait)] // named after the claim, not subtraction
    pub fn sub(self, sub: &str) -> Self {
        self.claim("sub", sub)
    }

    /// `sub_type`, e.g. `"user"` for delegated tokens.
    pub fn sub_type(self, sub_type: &str) -> Self {
        self.claim("sub_type", sub_type)
    }

    /// `scope`, space-delimited from these.
    pub fn scopes<I, S>(self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let joined: Vec<String> = scopes.into_iter().map(|s| s.as_ref().to_owned()).collect();
        self.claim("scope", joined.join(" "))
    }

    /// `aud`, one audience (a JSON string).
    pub fn aud(self, aud: &str) -> Self {
        self.claim("aud", aud)
    }

    /// `aud`, several audiences (a JSON array), as a token for a migration or for an API with
    /// a v1 and a v2 identifier carries them.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use tower_jwt_auth::{testing::TestIssuer, JwtAuth};
    /// let issuer = TestIssuer::start().await;
    /// let token = issuer.token().audiences(["legacy-api", "insights-api"]).sign();
    /// let claims = JwtAuth::new(issuer.url(), "insights-api").verify(&token).await.unwrap();
    /// assert_eq!(claims.aud.0, ["legacy-api", "insights-api"]);
    /// # }
    /// ```
    pub fn audiences<I, S>(self, audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let list: Vec<String> = audiences
            .into_iter()
            .map(|a| a.as_ref().to_owned())
            .collect();
        self.claim("aud", list)
    }

    /// `iss`.
    pub fn iss(self, iss: &str) -> Self {
        self.claim("iss", iss)
    }

    /// `client_id`.
    pub fn client_id(self, client_id: &str) -> Self {
        self.claim("client_id", client_id)
    }

    /// `exp` = the issuer's now + `ttl`.
    pub fn expires_in(self, ttl: Duration) -> Self {
        let exp = self.issuer.now() + ttl.as_secs();
        self.claim("exp", exp)
    }

    /// `exp` = the issuer's now − `ago` (an expired token).
    pub fn expired_for(self, ago: Duration) -> Self {
        let exp = self.issuer.now().saturating_sub(ago.as_secs());
        let iat = exp.saturating_sub(3600);
        self.claim("exp", exp).claim("iat", iat)
    }

    /// `nbf` = the issuer's now + `after`.
    pub fn not_before_in(self, after: Duration) -> Self {
        let nbf = self.issuer.now() + after.as_secs();
        self.claim("nbf", nbf)
    }

    /// Signs with the issuer's current key for this algorithm (RS256 by default); the issuer
    /// generates one on first use if it has none.
    pub fn alg(mut self, alg: Algorithm) -> Self {
        self.alg = alg;
        self
    }

    /// Puts this `kid` in the header instead of the signing key's.
    pub fn kid(mut self, kid: &str) -> Self {
        self.kid = KidChoice::Given(kid.to_owned());
        self
    }

    /// Leaves `kid` out of the header.
    pub fn no_kid(mut self) -> Self {
        self.kid = KidChoice::None;
        self
    }

    /// The claims as they stand.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// Signs and returns the compact JWS.
    pub fn sign(mut self) -> String {
        let key = self.issuer.key_for(self.alg);
        self.header
            .entry("alg")
            .or_insert_with(|| json!(key.alg().as_str()));
        match self.kid {
            KidChoice::OfKey => {
                self.header.entry("kid").or_insert_with(|| json!(key.kid()));
            }
            KidChoice::Given(kid) => {
                self.header.insert("kid".into(), json!(kid));
            }
            KidChoice::None => {
                self.header.remove("kid");
            }
        }
        key.sign_json(&Value::Object(self.header), &Value::Object(self.claims))
    }
}
