//! The attack catalogue: one row per hostile token, each with the exact status and error kind
//! the layer must answer with. Keys come from a real identity provider on loopback.

use std::convert::Infallible;
use tower_jwt_auth::TokenRules;

use axum::body::Body;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use http::{Request, Response};
use serde::{Deserialize, Deserializer};
use serde_json::{json, Map, Value};
use tower::{service_fn, Layer, ServiceExt};
use tower_jwt_auth::testing::{SigningKey, TestIssuer};
use tower_jwt_auth::{Algorithm, AuthError, AuthErrorKind, JwtAuth};

use AuthErrorKind as K;

struct Row {
    name: String,
    token: String,
    status: u16,
    kind: AuthErrorKind,
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Everything a row needs to forge tokens.
struct Kit {
    issuer: TestIssuer,
    claims: Map<String, Value>,
    rs: std::sync::Arc<SigningKey>,
    es: std::sync::Arc<SigningKey>,
}

impl Kit {
    fn header(&self) -> Value {
        json!({"alg": "ES256", "kid": self.es.kid(), "typ": "at+jwt"})
    }

    /// A token signed by the issuer's ES256 key over exactly these header and payload bytes.
    fn raw(&self, header: &str, payload: &str) -> String {
        self.es.sign_raw(header.as_bytes(), payload.as_bytes())
    }

    fn with_header(&self, edit: impl FnOnce(&mut Map<String, Value>)) -> String {
        let mut h = self.header().as_object().unwrap().clone();
        edit(&mut h);
        let alg = h.get("alg").and_then(Value::as_str).unwrap_or("ES256");
        let key = if alg.starts_with("RS") {
            &self.rs
        } else {
            &self.es
        };
        key.sign_json(&Value::Object(h), &Value::Object(self.claims.clone()))
    }

    fn with_claims(&self, edit: impl FnOnce(&mut Map<String, Value>)) -> String {
        let mut c = self.claims.clone();
        edit(&mut c);
        self.es.sign_json(&self.header(), &Value::Object(c))
    }

    fn sign_edited(
        &self,
        header: impl FnOnce(&mut Map<String, Value>),
        claims: impl FnOnce(&mut Map<String, Value>),
    ) -> String {
        let mut h = self.header().as_object().unwrap().clone();
        header(&mut h);
        let mut c = self.claims.clone();
        claims(&mut c);
        self.es.sign_json(&Value::Object(h), &Value::Object(c))
    }

    fn valid(&self) -> String {
        self.with_claims(|_| {})
    }
}

fn row(name: impl Into<String>, token: String, status: u16, kind: AuthErrorKind) -> Row {
    Row {
        name: name.into(),
        token,
        status,
        kind,
    }
}

fn rows(k: &Kit) -> Vec<Row> {
    let now = k.claims["iat"].as_u64().unwrap();
    let claims_json = Value::Object(k.claims.clone()).to_string();
    let valid = k.valid();
    let (h, rest) = valid.split_once('.').unwrap();
    let (p, sig) = rest.split_once('.').unwrap();
    let attacker = SigningKey::generate(Algorithm::ES256);
    let attacker_jwk = attacker.public_jwk();
    // HMAC over the signing input keyed with the issuer's public RSA key: the classic confusion.
    let hs256 = {
        let input = format!(
            "{}.{}",
            b64(json!({"alg": "HS256", "kid": k.rs.kid()}).to_string()),
            b64(&claims_json)
        );
        let key =
            aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, k.rs.public_pem().as_bytes());
        format!(
            "{input}.{}",
            b64(aws_lc_rs::hmac::sign(&key, input.as_bytes()))
        )
    };
    let unsigned = |alg: &str| {
        format!(
            "{}.{}.",
            b64(json!({"alg": alg}).to_string()),
            b64(&claims_json)
        )
    };
    let mut rows = vec![
        // Algorithms.
        row(
            "alg none, empty signature",
            unsigned("none"),
            401,
            K::Malformed,
        ),
        row(
            "alg none, some signature",
            format!("{}c2ln", unsigned("none")),
            401,
            K::UnsupportedAlgorithm,
        ),
        row(
            "alg None",
            format!("{}c2ln", unsigned("None")),
            401,
            K::UnsupportedAlgorithm,
        ),
        row(
            "alg NONE",
            format!("{}c2ln", unsigned("NONE")),
            401,
            K::UnsupportedAlgorithm,
        ),
        row(
            "alg HS256 keyed with the RSA public key",
            hs256,
            401,
            K::UnsupportedAlgorithm,
        ),
        row(
            "alg HS512",
            k.with_header(|h| {
                h.insert("alg".into(), json!("HS512"));
            }),
            401,
            K::UnsupportedAlgorithm,
        ),
        row(
            "alg unknown",
            k.with_header(|h| {
                h.insert("alg".into(), json!("ES256K"));
            }),
            401,
            K::UnsupportedAlgorithm,
        ),
        row(
            "alg lower case",
            k.with_header(|h| {
                h.insert("alg".into(), json!("es256"));
            }),
            401,
            K::UnsupportedAlgorithm,
        ),
        row(
            "alg missing",
            k.with_header(|h| {
                h.remove("alg");
            }),
            401,
            K::UnsupportedAlgorithm,
        ),
        row(
            "alg a number",
            k.with_header(|h| {
                h.insert("alg".into(), json!(256));
            }),
            401,
            K::Malformed,
        ),
        row(
            "kid names a key of another type",
            k.with_header(|h| {
                h.insert("kid".into(), json!(k.rs.kid()));
            }),
            401,
            K::KeyMismatch,
        ),
        // Encrypted, nested, extensions.
        row(
            "JWE compact form",
            format!("{h}.{p}.AAAA.{sig}.AAAA"),
            401,
            K::EncryptedOrNested,
        ),
        row(
            "enc header",
            k.with_header(|h| {
                h.insert("enc".into(), json!("A256GCM"));
            }),
            401,
            K::EncryptedOrNested,
        ),
        row(
            "nested JWT (cty)",
            k.with_header(|h| {
                h.insert("cty".into(), json!("JWT"));
            }),
            401,
            K::EncryptedOrNested,
        ),
        row(
            "crit names a claim",
            k.with_header(|h| {
                h.insert("crit".into(), json!(["exp"]));
            }),
            401,
            K::UnsupportedHeader,
        ),
        row(
            "crit empty",
            k.with_header(|h| {
                h.insert("crit".into(), json!([]));
            }),
            401,
            K::UnsupportedHeader,
        ),
        row(
            "crit b64 with b64 false",
            k.with_header(|h| {
                h.insert("crit".into(), json!(["b64"]));
                h.insert("b64".into(), json!(false));
            }),
            401,
            K::UnsupportedHeader,
        ),
        row(
            "b64 false without crit",
            k.with_header(|h| {
                h.insert("b64".into(), json!(false));
            }),
            401,
            K::UnsupportedHeader,
        ),
        row(
            "typ JOSE",
            k.with_header(|h| {
                h.insert("typ".into(), json!("JOSE"));
            }),
            401,
            K::UnsupportedHeader,
        ),
        // Other kinds of signed JWT: never access tokens, whatever their `typ`.
        row(
            "typ logout+jwt (a back-channel logout token)",
            k.with_header(|h| {
                h.insert("typ".into(), json!("logout+jwt"));
            }),
            401,
            K::UnsupportedHeader,
        ),
        row(
            "typ secevent+jwt (a security-event token)",
            k.with_header(|h| {
                h.insert("typ".into(), json!("secevent+jwt"));
            }),
            401,
            K::UnsupportedHeader,
        ),
        row(
            "typ dpop+jwt (a DPoP proof)",
            k.with_header(|h| {
                h.insert("typ".into(), json!("dpop+jwt"));
            }),
            401,
            K::UnsupportedHeader,
        ),
        row(
            "ID token claims with a null value",
            k.with_claims(|c| {
                c.insert("nonce".into(), Value::Null);
            }),
            401,
            K::NotAnAccessToken,
        ),
        // Keys the token points at or carries: never used.
        row(
            "embedded jwk that signed it",
            attacker.sign_json(
                &json!({"alg": "ES256", "jwk": attacker_jwk}),
                &Value::Object(k.claims.clone()),
            ),
            401,
            K::InvalidSignature,
        ),
        row(
            "embedded jwk with its own kid",
            attacker.sign_json(
                &json!({"alg": "ES256", "kid": attacker.kid(), "jwk": attacker.public_jwk()}),
                &Value::Object(k.claims.clone()),
            ),
            401,
            K::UnknownKey,
        ),
        row(
            "jku to the attacker",
            attacker.sign_json(
                &json!({"alg": "ES256", "kid": "att", "jku": "https://attacker.example/jwks"}),
                &Value::Object(k.claims.clone()),
            ),
            401,
            K::UnknownKey,
        ),
        row(
            "x5u to the attacker",
            attacker.sign_json(
                &json!({"alg": "ES256", "x5u": "https://attacker.example/cert"}),
                &Value::Object(k.claims.clone()),
            ),
            401,
            K::InvalidSignature,
        ),
        row(
            "x5c chain",
            attacker.sign_json(
                &json!({"alg": "ES256", "kid": k.es.kid(), "x5c": ["MIIB"]}),
                &Value::Object(k.claims.clone()),
            ),
            401,
            K::InvalidSignature,
        ),
        // Signatures.
        row(
            "signature over another payload",
            format!(
                "{h}.{}.{sig}",
                b64(json!({"iss": k.issuer.url(), "sub": "admin"}).to_string())
            ),
            401,
            K::InvalidSignature,
        ),
        row(
            "psychic signature r = s = 0",
            format!("{h}.{p}.{}", b64([0u8; 64])),
            401,
            K::InvalidSignature,
        ),
        row(
            "signature truncated",
            format!("{h}.{p}.{}", &sig[..40]),
            401,
            K::InvalidSignature,
        ),
        row("signature missing", format!("{h}.{p}"), 401, K::Malformed),
        row("empty signature", format!("{h}.{p}."), 401, K::Malformed),
        // base64url.
        row(
            "padding at the end",
            format!("{h}.{p}.{sig}=="),
            401,
            K::Malformed,
        ),
        row(
            "padding inside (not a b64token)",
            format!("{h}=.{p}.{sig}"),
            400,
            K::InvalidRequest,
        ),
        row(
            "standard alphabet",
            k.raw(
                &json!({"alg": "ES256", "kid": k.es.kid()}).to_string(),
                &claims_json,
            )
            .replace('-', "+")
            .replace('_', "/")
                + "+/",
            401,
            K::Malformed,
        ),
        row(
            "non-canonical trailing bits",
            format!("{h}.{p}.{}", non_canonical(sig)),
            401,
            K::Malformed,
        ),
        row(
            "whitespace inside the token",
            format!("{h}.{p}\t.{sig}"),
            400,
            K::InvalidRequest,
        ),
        row("not a JWS at all", "abc.def".into(), 401, K::Malformed),
        // Payload shape.
        row(
            "payload an array",
            k.raw(&k.header().to_string(), r#"["iss","sub"]"#),
            401,
            K::Malformed,
        ),
        row(
            "payload a string",
            k.raw(&k.header().to_string(), r#""claims""#),
            401,
            K::Malformed,
        ),
        row(
            "payload not JSON",
            k.raw(&k.header().to_string(), "{not json"),
            401,
            K::Malformed,
        ),
        row(
            "header an array",
            k.raw(r#"["ES256"]"#, &claims_json),
            401,
            K::Malformed,
        ),
        row(
            "duplicate alg in the header",
            k.raw(
                &format!(r#"{{"alg":"ES256","kid":"{}","alg":"ES256"}}"#, k.es.kid()),
                &claims_json,
            ),
            401,
            K::Malformed,
        ),
        row(
            "duplicate sub in the claims",
            k.raw(
                &k.header().to_string(),
                &claims_json.replacen('{', r#"{"sub":"admin","#, 1),
            ),
            401,
            K::Malformed,
        ),
        row(
            "duplicate custom claim",
            k.raw(
                &k.header().to_string(),
                &claims_json.replacen('{', r#"{"role":"a","role":"admin","#, 1),
            ),
            401,
            K::Malformed,
        ),
        // Claim types and values.
        row(
            "iss a number",
            k.with_claims(|c| {
                c.insert("iss".into(), json!(1));
            }),
            401,
            K::InvalidClaim,
        ),
        row(
            "iss an array",
            k.with_claims(|c| {
                c.insert("iss".into(), json!([k.issuer.url()]));
            }),
            401,
            K::InvalidClaim,
        ),
        row(
            "iss missing",
            k.with_claims(|c| {
                c.remove("iss");
            }),
            401,
            K::InvalidIssuer,
        ),
        row(
            "iss another issuer",
            k.with_claims(|c| {
                c.insert("iss".into(), json!("https://auth-api.eliq.com"));
            }),
            401,
            K::InvalidIssuer,
        ),
        row(
            "iss with a trailing slash",
            k.with_claims(|c| {
                c.insert("iss".into(), json!(format!("{}/", k.issuer.url())));
            }),
            401,
            K::InvalidIssuer,
        ),
        row(
            "aud a number",
            k.with_claims(|c| {
                c.insert("aud".into(), json!(7));
            }),
            401,
            K::InvalidClaim,
        ),
        row(
            "aud an object",
            k.with_claims(|c| {
                c.insert("aud".into(), json!({"aud": "insights-api"}));
            }),
            401,
            K::InvalidClaim,
        ),
        row(
            "aud array of numbers",
            k.with_claims(|c| {
                c.insert("aud".into(), json!([1]));
            }),
            401,
            K::InvalidClaim,
        ),
        row(
            "aud empty array",
            k.with_claims(|c| {
                c.insert("aud".into(), json!([]));
            }),
            401,
            K::InvalidAudience,
        ),
        row(
            "aud empty string",
            k.with_claims(|c| {
                c.insert("aud".into(), json!(""));
            }),
            401,
            K::InvalidAudience,
        ),
        row(
            "aud another API",
            k.with_claims(|c| {
                c.insert("aud".into(), json!("data-management-api"));
            }),
            401,
            K::InvalidAudience,
        ),
        row(
            "aud missing",
            k.with_claims(|c| {
                c.remove("aud");
            }),
            401,
            K::InvalidAudience,
        ),
        row(
            "exp a string",
            k.with_claims(|c| {
                c.insert("exp".into(), json!((now + 600).to_string()));
            }),
            401,
            K::InvalidClaim,
        ),
        row(
            "exp negative",
            k.with_claims(|c| {
                c.insert("exp".into(), json!(-1));
            }),
            401,
            K::InvalidClaim,
        ),
        row(
            "exp absurd",
            k.with_claims(|c| {
                c.insert("exp".into(), json!(1e300));
            }),
            401,
            K::InvalidClaim,
        ),
        row(
            "exp null",
            k.with_claims(|c| {
                c.insert("exp".into(), Value::Null);
            }),
            401,
            K::InvalidClaim,
        ),
        row(
            "exp missing",
            k.with_claims(|c| {
                c.remove("exp");
            }),
            401,
            K::MissingClaim,
        ),
        row(
            "exp passed",
            k.with_claims(|c| {
                c.insert("exp".into(), json!(now - 61));
                c.insert("iat".into(), json!(now - 600));
            }),
            401,
            K::Expired,
        ),
        row(
            "nbf a bool",
            k.with_claims(|c| {
                c.insert("nbf".into(), json!(true));
            }),
            401,
            K::InvalidClaim,
        ),
        row(
            "nbf in the future",
            k.with_claims(|c| {
                c.insert("nbf".into(), json!(now + 120));
            }),
            401,
            K::NotYetValid,
        ),
        row(
            "iat in the future",
            k.with_claims(|c| {
                c.insert("iat".into(), json!(now + 120));
            }),
            401,
            K::IssuedInFuture,
        ),
        row(
            "iat a string",
            k.with_claims(|c| {
                c.insert("iat".into(), json!("now"));
            }),
            401,
            K::InvalidClaim,
        ),
        row(
            "lifetime over 24 h",
            k.with_claims(|c| {
                c.insert("exp".into(), json!(now + 25 * 3600));
            }),
            401,
            K::LifetimeTooLong,
        ),
        row(
            "no iat and exp ten years away",
            k.with_claims(|c| {
                c.remove("iat");
                c.insert("exp".into(), json!(now + 10 * 365 * 24 * 3600));
            }),
            401,
            K::LifetimeTooLong,
        ),
        row(
            "no iat and 25 h left",
            k.with_claims(|c| {
                c.remove("iat");
                c.insert("exp".into(), json!(now + 25 * 3600));
            }),
            401,
            K::LifetimeTooLong,
        ),
        row(
            "sub empty",
            k.with_claims(|c| {
                c.insert("sub".into(), json!(""));
            }),
            401,
            K::InvalidClaim,
        ),
        row(
            "sub a number",
            k.with_claims(|c| {
                c.insert("sub".into(), json!(42));
            }),
            401,
            K::InvalidClaim,
        ),
        row(
            "sub missing",
            k.with_claims(|c| {
                c.remove("sub");
            }),
            401,
            K::MissingClaim,
        ),
        row(
            "scope an array",
            k.with_claims(|c| {
                c.insert("scope".into(), json!(["insights.read"]));
            }),
            401,
            K::InvalidClaim,
        ),
        row(
            "sub_type a number",
            k.with_claims(|c| {
                c.insert("sub_type".into(), json!(1));
            }),
            401,
            K::InvalidClaim,
        ),
        // Size.
        row(
            "token over 8 KiB",
            k.with_claims(|c| {
                c.insert("pad".into(), json!("x".repeat(8 * 1024)));
            }),
            401,
            K::TokenTooLarge,
        ),
    ];
    // ID tokens and security-event tokens under every lenient `typ`: never access tokens.
    let events = json!({"http://schemas.openid.net/event/backchannel-logout": {}});
    let foreign = [
        ("ID token: nonce", "nonce", json!("n-0S6_WzA2Mj")),
        (
            "ID token: at_hash",
            "at_hash",
            json!("77QmUPtjPfzWtF2AnpK9RQ"),
        ),
        (
            "ID token: c_hash",
            "c_hash",
            json!("LDktKdoQak3Pk0cnXxCltA"),
        ),
        (
            "ID token: s_hash",
            "s_hash",
            json!("xvGuXbX8vBc5nPpNZFZGIg"),
        ),
        ("security-event token: events", "events", events),
    ];
    for (what, claim, value) in foreign {
        for typ in [Some("JWT"), None, Some("at+jwt")] {
            let token = k.sign_edited(
                |h| match typ {
                    Some(t) => {
                        h.insert("typ".into(), json!(t));
                    }
                    None => {
                        h.remove("typ");
                    }
                },
                |c| {
                    c.insert(claim.into(), value.clone());
                },
            );
            let name = format!("{what}, typ {}", typ.unwrap_or("absent"));
            rows.push(row(name, token, 401, K::NotAnAccessToken));
        }
    }
    rows.push(row("the valid token", valid, 200, K::Internal));
    // What RFC 9068 §2.2 lets an access token carry besides: accepted.
    rows.push(row(
        "auth_time, acr, amr and azp (RFC 9068 §2.2)",
        k.with_claims(|c| {
            c.insert("auth_time".into(), json!(now - 30));
            c.insert("acr".into(), json!("urn:mace:incommon:iap:silver"));
            c.insert("amr".into(), json!(["pwd", "otp"]));
            c.insert("azp".into(), json!("portal"));
        }),
        200,
        K::Internal,
    ));
    rows.push(row(
        "no iat, 23 h left",
        k.with_claims(|c| {
            c.remove("iat");
            c.insert("exp".into(), json!(now + 23 * 3600));
        }),
        200,
        K::Internal,
    ));
    rows
}

/// Flips a trailing bit that base64 decoding must not ignore.
fn non_canonical(sig: &str) -> String {
    // 64 bytes encode to 86 characters; the last one carries 4 unused bits.
    let mut chars: Vec<char> = sig.chars().collect();
    let last = chars.pop().unwrap();
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let idx = alphabet.find(last).unwrap();
    chars.push(alphabet.chars().nth(idx | 1).unwrap());
    chars.into_iter().collect()
}

async fn answer(
    auth: &JwtAuth,
    token: &str,
) -> (
    u16,
    Option<AuthError>,
    Response<tower_jwt_auth::service::ResponseBody<Body>>,
) {
    let svc = auth.layer(service_fn(|_req: Request<Body>| async {
        Ok::<_, Infallible>(Response::new(Body::empty()))
    }));
    let req = Request::builder()
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let res = svc.oneshot(req).await.unwrap();
    (
        res.status().as_u16(),
        res.extensions().get::<AuthError>().cloned(),
        res,
    )
}

#[tokio::test]
async fn every_hostile_token_gets_its_exact_status_and_kind() {
    let issuer = TestIssuer::start().await;
    let kit = Kit {
        claims: issuer.token().scopes(["insights.read"]).claims().clone(),
        rs: issuer.key(Algorithm::RS256),
        es: issuer.key(Algorithm::ES256),
        issuer,
    };
    let auth = JwtAuth::new(kit.issuer.url(), "insights-api");
    let rows = rows(&kit);
    assert!(rows.len() >= 40, "{} rows", rows.len());
    let mut wrong = Vec::new();
    for r in &rows {
        let (status, err, res) = answer(&auth, &r.token).await;
        let kind = err.as_ref().map(AuthError::kind);
        let expected_kind = (r.status != 200).then_some(r.kind);
        if status != r.status || kind != expected_kind {
            wrong.push(format!(
                "{}: got {status} {kind:?}, want {} {expected_kind:?}",
                r.name, r.status
            ));
        }
        if let Some(www) = res.headers().get("www-authenticate") {
            let www = www.to_str().unwrap();
            let description = err.as_ref().unwrap().description();
            assert!(
                www.contains(&format!("error_description=\"{description}\"")),
                "{}: {www}",
                r.name
            );
        }
    }
    println!("{} hostile rows checked", rows.len());
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[tokio::test]
async fn nothing_from_the_token_reaches_the_response() {
    let issuer = TestIssuer::start().await;
    let es = issuer.key(Algorithm::ES256);
    let evil = "\"\r\nX-Injected: 1\r\n\u{0}<script>";
    let claims = issuer.token().iss(evil).claim("aud", evil).claims().clone();
    let token = es.sign_json(
        &json!({"alg": "ES256", "kid": es.kid(), "typ": evil}),
        &Value::Object(claims.clone()),
    );
    let token2 = es.sign_json(
        &json!({"alg": "ES256", "kid": evil}),
        &Value::Object(claims),
    );
    let auth = JwtAuth::new(issuer.url(), "insights-api");
    for t in [token, token2] {
        let (status, _err, res) = answer(&auth, &t).await;
        assert_eq!(status, 401);
        assert!(res.headers().get("x-injected").is_none());
        let mut seen = String::new();
        for (name, value) in res.headers() {
            seen.push_str(&format!("{name}: {}\n", value.to_str().unwrap()));
        }
        let body = axum::body::to_bytes(Body::new(res.into_body()), 4096)
            .await
            .unwrap();
        seen.push_str(std::str::from_utf8(&body).unwrap());
        for fragment in ["Injected", "<script>", "\r"] {
            assert!(!seen.contains(fragment), "{fragment:?} leaked: {seen}");
        }
    }
}

#[tokio::test]
async fn strict_rfc9068_requires_at_jwt_and_its_claims() {
    let issuer = TestIssuer::start().await;
    let strict = JwtAuth::new(issuer.url(), "insights-api").token_rules(TokenRules {
        strict_rfc9068: true,
        ..TokenRules::default()
    });
    let lenient = JwtAuth::new(issuer.url(), "insights-api");
    let ok = issuer.token().sign();
    assert_eq!(answer(&strict, &ok).await.0, 200);
    let app_typ = issuer.token().header("typ", "application/at+jwt").sign();
    assert_eq!(answer(&strict, &app_typ).await.0, 200);
    for (token, kind) in [
        (
            issuer.token().header("typ", "JWT").sign(),
            K::UnsupportedHeader,
        ),
        (
            issuer.token().header("typ", Value::Null).sign(),
            K::Malformed,
        ),
        (issuer.token().without("jti").sign(), K::MissingClaim),
        (issuer.token().without("client_id").sign(), K::MissingClaim),
        (issuer.token().without("iat").sign(), K::MissingClaim),
    ] {
        let (status, err, _) = answer(&strict, &token).await;
        assert_eq!((status, err.map(|e| e.kind())), (401, Some(kind)));
    }
    // The default accepts what common providers issue: `JWT` or no `typ`, no jti / client_id.
    for token in [
        issuer.token().header("typ", "JWT").sign(),
        issuer
            .token()
            .header("typ", "jwt")
            .without("jti")
            .without("client_id")
            .sign(),
    ] {
        assert_eq!(answer(&lenient, &token).await.0, 200);
    }
    let no_typ = {
        let es = issuer.key(Algorithm::ES256);
        es.sign_json(
            &json!({"alg": "ES256", "kid": es.kid()}),
            &Value::Object(issuer.token().claims().clone()),
        )
    };
    assert_eq!(answer(&lenient, &no_typ).await.0, 200);
    assert_eq!(
        answer(&strict, &no_typ).await.1.unwrap().kind(),
        K::UnsupportedHeader
    );
}

/// A claims type whose deserialisation panics on a hostile value.
#[derive(Debug)]
struct Fragile;

impl<'de> Deserialize<'de> for Fragile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        assert!(v.get("boom").is_none(), "claims type bug");
        Ok(Fragile)
    }
}

#[tokio::test]
async fn a_panic_inside_verification_is_a_401() {
    let issuer = TestIssuer::start().await;
    let auth = JwtAuth::new(issuer.url(), "insights-api").with_claims::<Fragile>();
    let svc = auth.layer(service_fn(|_req: Request<Body>| async {
        Ok::<_, Infallible>(Response::new(Body::empty()))
    }));
    let token = issuer.token().claim("boom", 1).sign();
    let req = Request::builder()
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let res = svc.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.extensions().get::<AuthError>().unwrap().kind(),
        K::Internal
    );
    // The service is still there for the next request.
    let token = issuer.token().sign();
    let req = Request::builder()
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(svc.oneshot(req).await.unwrap().status(), 200);
}
