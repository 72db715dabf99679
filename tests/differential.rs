//! Differential testing against two independent validators: over 2,000 tokens, made by
//! mutating valid ones, go through the crate and through panva's `jose` (`jwtVerify`) and
//! `oauth4webapi` (`validateJwtAccessToken`, RFC 9068), both pinned in `tests/interop`. The
//! crate's default (lenient `typ`) mode is held against `jose`, its strict RFC 9068 mode
//! against `oauth4webapi`. Any disagreement fails the test unless an entry of the reviewed
//! allow-list below names the rule that makes the crate stricter; a token the crate accepts and
//! a validator refuses always fails it.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};
use tower_jwt_auth::{Issuer, TokenRules};

use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::{json, Value};
use tower_jwt_auth::testing::SigningKey;
use tower_jwt_auth::{Algorithm, AuthError, AuthErrorKind, JwtAuth};

use AuthErrorKind as K;

const ISSUER: &str = "https://as.example.com";
const AUDIENCE: &str = "https://rs.example.com/";
/// The leeway of every party, in seconds.
const LEEWAY: u64 = 60;

/// Where the crate is stricter than a validator, and why. A disagreement is allowed only when
/// the crate refused, with this kind (and, when given, a description or context containing
/// `detail`), and the validator accepted.
struct Allowed {
    validator: &'static str,
    kind: AuthErrorKind,
    detail: Option<&'static str>,
    rule: &'static str,
}

const fn allow(
    validator: &'static str,
    kind: AuthErrorKind,
    detail: Option<&'static str>,
    rule: &'static str,
) -> Allowed {
    Allowed {
        validator,
        kind,
        detail,
        rule,
    }
}

/// The reviewed allow-list: each entry a rule by which the crate refuses what the validator
/// accepts.
const ALLOWED: &[Allowed] = &[
    allow("jose", K::NotAnAccessToken, None, "SECURITY.md: a JWT with an ID-token claim (nonce, at_hash, c_hash, s_hash) or a SET's events is not an access token (RFC 9068 §2.2, RFC 8417 §2.2); jose verifies any JWT"),
    allow("jose", K::UnsupportedHeader, Some("token type"), "SECURITY.md: typ must be at+jwt, application/at+jwt, JWT or absent (RFC 8725 §3.11, RFC 9068 §4); jose checks typ only when asked"),
    allow("jose", K::UnsupportedHeader, Some("unencoded payloads"), "SECURITY.md: b64 is refused in any form (RFC 7797 only with crit); jose ignores b64 outside crit"),
    allow("jose", K::EncryptedOrNested, None, "SECURITY.md: nested tokens (cty JWT) and JWE members (enc) are refused (RFC 8725 §2.7); jose ignores cty and enc on a JWS"),
    allow("jose", K::MissingClaim, Some("`exp`"), "SECURITY.md and RFC 9068 §2.2: exp is required; jose requires no claim it is not asked for"),
    allow("jose", K::Malformed, Some("header has a member of the wrong type"), "RFC 7515 §4.1: header parameters have their types (alg, kid, typ, cty strings); jose ignores typ unless asked"),
    allow("jose", K::Malformed, Some("not a JSON object"), "the claims must start with `{`: no byte-order mark (RFC 8259 §8.1) and no leading white space, the one canonical start of a JSON object; JSON.parse skips both"),
    allow("oauth4webapi", K::Malformed, Some("not a JSON object"), "the claims must start with `{`: no byte-order mark and no leading white space; JSON.parse skips both"),
    allow("jose", K::MissingClaim, Some("`sub`"), "RFC 9068 §2.2: sub is required; jose requires no claim it is not asked for"),
    allow("jose", K::InvalidClaim, Some("`sub` claim is empty"), "an empty sub names no subject; jose accepts any sub"),
    allow("jose", K::InvalidClaim, Some("wrong type"), "SECURITY.md: registered claims have their JSON types (sub, jti, client_id, scope, sub_type strings; dates non-negative numbers before year 10000; no null); jose checks only the claims it validates"),
    allow("jose", K::LifetimeTooLong, None, "SECURITY.md: a lifetime over 24 h is refused, with or without iat; jose has no cap unless maxTokenAge is set"),
    allow("jose", K::IssuedInFuture, None, "SECURITY.md: iat after now plus the leeway is refused; jose checks iat's type only"),
    allow("jose", K::Malformed, Some("base64url"), "SECURITY.md: strict base64url, without padding, +/ or whitespace, canonical trailing bits (RFC 7515 §2, RFC 4648 §3.5); jose decodes leniently"),
    allow("jose", K::Malformed, Some("duplicate member"), "SECURITY.md: member names given twice are refused (RFC 7515 §5.2, RFC 8725 §3.4); JSON.parse keeps the last"),
    allow("jose", K::BoundToken, None, "SECURITY.md: a cnf-bound token is never a bearer token (RFC 9449 §7.1, RFC 8705 §3); jose does not look at cnf"),
    allow("oauth4webapi", K::NotAnAccessToken, None, "SECURITY.md: a JWT with an ID-token claim or a SET's events is not an access token; oauth4webapi checks typ only"),
    allow("oauth4webapi", K::LifetimeTooLong, None, "SECURITY.md: a lifetime over 24 h is refused; oauth4webapi has no cap"),
    allow("oauth4webapi", K::Malformed, Some("base64url"), "SECURITY.md: strict base64url; oauth4webapi decodes with the platform's lenient decoder"),
    allow("oauth4webapi", K::Malformed, Some("duplicate member"), "SECURITY.md: member names given twice are refused; JSON.parse keeps the last"),
    allow("oauth4webapi", K::InvalidClaim, Some("wrong type"), "SECURITY.md: registered claims have their JSON types (scope, sub_type strings; nbf a number; no null); oauth4webapi checks the types of the claims it requires"),
    allow("oauth4webapi", K::InvalidClaim, Some("`sub` claim is empty"), "an empty sub names no subject; oauth4webapi checks sub's type only"),
    allow("oauth4webapi", K::UnsupportedHeader, Some("unencoded payloads"), "SECURITY.md: b64 is refused in any form"),
    allow("oauth4webapi", K::EncryptedOrNested, None, "SECURITY.md: nested tokens and JWE members are refused (RFC 8725 §2.7)"),
    allow("oauth4webapi", K::IssuedInFuture, None, "SECURITY.md: iat after now plus the leeway is refused"),
];

/// A JSON object as ordered members with raw values, so that a mutation can repeat a name or
/// give a value any shape.
#[derive(Clone)]
struct Doc(Vec<(String, String)>);

impl Doc {
    fn of(value: &Value) -> Self {
        let members = value.as_object().unwrap();
        Self(
            members
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect(),
        )
    }

    fn json(&self) -> String {
        let members: Vec<String> = self
            .0
            .iter()
            .map(|(k, v)| format!("{}:{v}", Value::from(k.as_str())))
            .collect();
        format!("{{{}}}", members.join(","))
    }

    fn set(&self, name: &str, raw: &str) -> Self {
        let mut d = self.clone();
        match d.0.iter_mut().find(|(k, _)| k == name) {
            Some(member) => member.1 = raw.to_owned(),
            None => d.0.push((name.to_owned(), raw.to_owned())),
        }
        d
    }

    fn remove(&self, name: &str) -> Self {
        let mut d = self.clone();
        d.0.retain(|(k, _)| k != name);
        d
    }

    /// `name` given twice: first `first`, then its value.
    fn duplicate(&self, name: &str, first: &str) -> Self {
        let mut d = self.clone();
        if let Some(i) = d.0.iter().position(|(k, _)| k == name) {
            d.0.insert(i, (name.to_owned(), first.to_owned()));
        }
        d
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The signing keys of the issuer's set, and one outside it.
struct Keys {
    set: Vec<SigningKey>,
    stranger: SigningKey,
}

impl Keys {
    fn jwks(&self) -> Value {
        json!({"keys": self.set.iter().map(SigningKey::public_jwk).collect::<Vec<_>>()})
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn signed(key: &SigningKey, header: &str, payload: &str) -> String {
    let input = format!("{header}.{payload}");
    format!("{input}.{}", b64(&key.sign_bytes(input.as_bytes())))
}

/// A token over these exact JSON texts.
fn token(key: &SigningKey, header: &Doc, claims: &Doc) -> String {
    signed(
        key,
        &b64(header.json().as_bytes()),
        &b64(claims.json().as_bytes()),
    )
}

/// Flips one bit of the last character's unused bits (a non-canonical encoding of the same
/// bytes), when the segment has unused bits.
fn non_canonical(segment: &str) -> Option<String> {
    if segment.len().is_multiple_of(4) {
        return None;
    }
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut chars: Vec<char> = segment.chars().collect();
    let last = chars.pop()?;
    let index = alphabet.find(last)?;
    chars.push(alphabet.chars().nth(index | 1)?);
    let changed: String = chars.into_iter().collect();
    (changed != segment).then_some(changed)
}

struct Case {
    what: String,
    token: String,
}

fn cases(keys: &Keys, now: u64) -> Vec<Case> {
    let mut out = Vec::new();
    let n = |v: u64| v.to_string();
    for key in &keys.set {
        let header =
            Doc::of(&json!({"alg": key.alg().as_str(), "kid": key.kid(), "typ": "at+jwt"}));
        let full = json!({
            "iss": ISSUER, "sub": "user-42", "aud": AUDIENCE, "exp": now + 600, "iat": now - 30,
            "nbf": now - 30, "jti": "jti-1", "client_id": "portal", "scope": "usage.read",
            "pad": "~~~>>>???"
        });
        let mut bases = vec![("full", Doc::of(&full))];
        let mut aud_list = full.clone();
        aud_list["aud"] = json!(["https://other.example/", AUDIENCE]);
        bases.push(("aud list", Doc::of(&aud_list)));
        bases.push((
            "minimal",
            Doc::of(&json!({"iss": ISSUER, "sub": "user-42", "aud": AUDIENCE, "exp": now + 600})),
        ));
        let other_alg = if key.alg() == Algorithm::ES256 {
            "RS256"
        } else {
            "ES256"
        };
        let other_kid = keys
            .set
            .iter()
            .find(|k| k.alg() != key.alg())
            .unwrap()
            .kid()
            .to_owned();
        for (base_name, claims) in bases {
            let mut add = |what: String, token: String| {
                out.push(Case {
                    what: format!("{} {base_name}: {what}", key.alg()),
                    token,
                })
            };
            add("valid".into(), token(key, &header, &claims));

            // The header: each member changed, removed, given twice; members added.
            let header_values: Vec<(&str, Vec<String>)> = vec![
                (
                    "alg",
                    [
                        "\"none\"",
                        "\"None\"",
                        "\"HS256\"",
                        &format!("\"{other_alg}\""),
                        &format!("\"{}\"", key.alg().as_str().to_lowercase()),
                        "\"\"",
                        "5",
                        "null",
                        &format!("[\"{}\"]", key.alg().as_str()),
                        "{}",
                        &format!("\"{} \"", key.alg().as_str()),
                    ]
                    .map(str::to_owned)
                    .to_vec(),
                ),
                (
                    "kid",
                    [
                        "\"unknown\"",
                        "\"\"",
                        "5",
                        "null",
                        "[\"k\"]",
                        &format!("\"{other_kid}\""),
                        &format!("\"{} \"", key.kid()),
                    ]
                    .map(str::to_owned)
                    .to_vec(),
                ),
                (
                    "typ",
                    [
                        "\"JWT\"",
                        "\"jwt\"",
                        "\"at+JWT\"",
                        "\"AT+JWT\"",
                        "\"application/at+jwt\"",
                        "\"Application/AT+JWT\"",
                        "\"JOSE\"",
                        "\"logout+jwt\"",
                        "\"secevent+jwt\"",
                        "\"dpop+jwt\"",
                        "\"id_token+jwt\"",
                        "\"at+jwt \"",
                        "\"\"",
                        "5",
                        "null",
                        "[\"at+jwt\"]",
                    ]
                    .map(str::to_owned)
                    .to_vec(),
                ),
            ];
            for (name, values) in &header_values {
                for value in values {
                    add(
                        format!("header {name} = {value}"),
                        token(key, &header.set(name, value), &claims),
                    );
                }
                add(
                    format!("header without {name}"),
                    token(key, &header.remove(name), &claims),
                );
                let same = header.get(name).unwrap().to_owned();
                add(
                    format!("header {name} twice, same"),
                    token(key, &header.duplicate(name, &same), &claims),
                );
                add(
                    format!("header {name} twice, first {}", values[0]),
                    token(key, &header.duplicate(name, &values[0]), &claims),
                );
            }
            let stranger_jwk = keys.stranger.public_jwk().to_string();
            for (name, value) in [
                ("crit", "[\"exp\"]"),
                ("crit", "[]"),
                ("crit", "\"exp\""),
                ("b64", "false"),
                ("b64", "true"),
                ("jku", "\"https://attacker.example/jwks\""),
                ("jwk", stranger_jwk.as_str()),
                ("x5u", "\"https://attacker.example/cert\""),
                ("x5c", "[\"MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\"]"),
                ("cty", "\"JWT\""),
                ("cty", "\"json\""),
                ("enc", "\"A128GCM\""),
                ("zip", "\"DEF\""),
                ("x-custom", "1"),
            ] {
                add(
                    format!("header + {name} = {value}"),
                    token(key, &header.set(name, value), &claims),
                );
            }

            // The claims: each changed, removed, given twice; claims added.
            let s = |v: &str| format!("\"{v}\"");
            let claim_values: Vec<(&str, Vec<String>)> = vec![
                (
                    "iss",
                    vec![
                        s("https://other.example.com"),
                        s(&format!("{ISSUER}/")),
                        s(&ISSUER.to_uppercase()),
                        s(""),
                        "5".into(),
                        "null".into(),
                        format!("[\"{ISSUER}\"]"),
                    ],
                ),
                (
                    "sub",
                    vec![
                        s(""),
                        "5".into(),
                        "null".into(),
                        "[\"u\"]".into(),
                        "{}".into(),
                        s("user with space"),
                    ],
                ),
                (
                    "aud",
                    vec![
                        s("https://other.example/"),
                        format!("[\"{AUDIENCE}\"]"),
                        format!("[\"x\",\"{AUDIENCE}\"]"),
                        "[\"x\"]".into(),
                        "[]".into(),
                        s(""),
                        "5".into(),
                        "null".into(),
                        "[5]".into(),
                        s(&format!("{AUDIENCE}x")),
                        s(AUDIENCE.trim_end_matches('/')),
                    ],
                ),
                (
                    "exp",
                    vec![
                        n(now - 3600),
                        n(now - 30),
                        n(now - 120),
                        n(now + 30 * 3600),
                        s(&n(now + 600)),
                        "-1".into(),
                        "1e300".into(),
                        format!("{}.5", now + 600),
                        "null".into(),
                        "true".into(),
                        "0".into(),
                        n(now + 23 * 3600),
                    ],
                ),
                (
                    "nbf",
                    vec![
                        n(now + 3600),
                        n(now + 30),
                        s("x"),
                        "-1".into(),
                        format!("{}.5", now - 30),
                        "null".into(),
                        n(0),
                    ],
                ),
                (
                    "iat",
                    vec![
                        n(now + 3600),
                        n(now + 30),
                        n(now - 48 * 3600),
                        s("x"),
                        "null".into(),
                        format!("{}.5", now - 30),
                        "-1".into(),
                    ],
                ),
                (
                    "jti",
                    vec![s(""), "5".into(), "null".into(), "[\"j\"]".into()],
                ),
                (
                    "client_id",
                    vec![s(""), "5".into(), "null".into(), "[\"c\"]".into()],
                ),
                (
                    "scope",
                    vec!["5".into(), "[\"usage.read\"]".into(), s(""), "null".into()],
                ),
            ];
            for (name, values) in &claim_values {
                for value in values {
                    add(
                        format!("claim {name} = {value}"),
                        token(key, &header, &claims.set(name, value)),
                    );
                }
                if claims.get(name).is_some() {
                    add(
                        format!("claim without {name}"),
                        token(key, &header, &claims.remove(name)),
                    );
                    let same = claims.get(name).unwrap().to_owned();
                    add(
                        format!("claim {name} twice, same"),
                        token(key, &header, &claims.duplicate(name, &same)),
                    );
                    add(
                        format!("claim {name} twice, first {}", values[0]),
                        token(key, &header, &claims.duplicate(name, &values[0])),
                    );
                }
            }
            for (name, value) in [
                ("nonce", s("n-0S6_WzA2Mj")),
                ("at_hash", s("77QmUPtjPfzWtF2AnpK9RQ")),
                ("c_hash", s("LDktKdoQak3Pk0cnXxCltA")),
                ("s_hash", s("xvGuXbX8vBc5nPpNZFZGIg")),
                ("nonce", "null".into()),
                (
                    "events",
                    "{\"http://schemas.openid.net/event/backchannel-logout\":{}}".into(),
                ),
                ("auth_time", n(now - 300)),
                ("acr", s("urn:mace:incommon:iap:silver")),
                ("amr", "[\"pwd\",\"otp\"]".into()),
                ("azp", s("portal")),
                (
                    "cnf",
                    "{\"jkt\":\"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I\"}".into(),
                ),
                (
                    "cnf",
                    "{\"x5t#S256\":\"bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2\"}".into(),
                ),
                ("sub_type", s("user")),
                ("sub_type", "5".into()),
                ("scp", "[\"usage.read\"]".into()),
                ("scp", "5".into()),
                ("tid", s("tenant-1")),
                ("roles", "[\"reader\"]".into()),
                ("act", "{\"sub\":\"agent-7\"}".into()),
                (
                    "authorization_details",
                    "[{\"type\":\"payment_initiation\"}]".into(),
                ),
            ] {
                add(
                    format!("claim + {name} = {value}"),
                    token(key, &header, &claims.set(name, &value)),
                );
            }

            // Encodings of the same header and claims.
            let (h, p) = (header.json(), claims.json());
            let (hb, pb) = (b64(h.as_bytes()), b64(p.as_bytes()));
            let valid = signed(key, &hb, &pb);
            let sig = valid.rsplit('.').next().unwrap().to_owned();
            add(
                "header padded".into(),
                signed(key, &URL_SAFE.encode(&h), &pb),
            );
            add(
                "claims padded".into(),
                signed(key, &hb, &URL_SAFE.encode(&p)),
            );
            add(
                "claims in standard base64".into(),
                signed(key, &hb, &STANDARD.encode(&p)),
            );
            add(
                "signature padded".into(),
                format!(
                    "{hb}.{pb}.{}",
                    URL_SAFE.encode(key.sign_bytes(format!("{hb}.{pb}").as_bytes()))
                ),
            );
            add(
                "signature in standard base64".into(),
                format!("{hb}.{pb}.{}", sig.replace('-', "+").replace('_', "/")),
            );
            add(
                "space inside the claims".into(),
                signed(key, &hb, &format!("{} {}", &pb[..8], &pb[8..])),
            );
            for (what, segment, at) in [
                ("header", hb.as_str(), 0),
                ("claims", pb.as_str(), 1),
                ("signature", sig.as_str(), 2),
            ] {
                if let Some(changed) = non_canonical(segment) {
                    let mut parts: Vec<String> = [hb.as_str(), pb.as_str(), sig.as_str()]
                        .map(str::to_owned)
                        .to_vec();
                    parts[at] = changed;
                    let token = if at == 2 {
                        parts.join(".")
                    } else {
                        signed(key, &parts[0], &parts[1])
                    };
                    add(format!("{what} with non-canonical trailing bits"), token);
                }
            }
            let raw = |header: &[u8], payload: &[u8]| signed(key, &b64(header), &b64(payload));
            add(
                "claims with a byte-order mark".into(),
                raw(h.as_bytes(), format!("\u{feff}{p}").as_bytes()),
            );
            add(
                "claims with white space around".into(),
                raw(h.as_bytes(), format!(" \n{p}\t").as_bytes()),
            );
            add(
                "header a JSON array".into(),
                raw(b"[\"alg\"]", p.as_bytes()),
            );
            add("claims a JSON array".into(), raw(h.as_bytes(), b"[]"));
            add("claims null".into(), raw(h.as_bytes(), b"null"));
            add("claims not JSON".into(), raw(h.as_bytes(), b"iss=x"));
            let mut invalid_utf8 = p.clone().into_bytes();
            invalid_utf8.splice(2..2, [b'\xff']);
            add("claims not UTF-8".into(), raw(h.as_bytes(), &invalid_utf8));
            add(
                "header member name escaped".into(),
                raw(
                    h.replacen("\"alg\"", "\"\\u0061lg\"", 1).as_bytes(),
                    p.as_bytes(),
                ),
            );
            add(
                "claim name escaped".into(),
                raw(
                    h.as_bytes(),
                    p.replacen("\"iss\"", "\"\\u0069ss\"", 1).as_bytes(),
                ),
            );
            add(
                "claim value escaped".into(),
                raw(
                    h.as_bytes(),
                    p.replacen("\"user-42\"", "\"\\u0075ser-42\"", 1).as_bytes(),
                ),
            );
            add(
                "claims with a trailing comma".into(),
                raw(h.as_bytes(), format!("{},}}", &p[..p.len() - 1]).as_bytes()),
            );

            // Signatures and segments.
            let sig_bytes = URL_SAFE_NO_PAD.decode(&sig).unwrap();
            let mut flipped = sig_bytes.clone();
            flipped[0] ^= 1;
            add(
                "signature bit flipped".into(),
                format!("{hb}.{pb}.{}", b64(&flipped)),
            );
            add(
                "signature one byte short".into(),
                format!("{hb}.{pb}.{}", b64(&sig_bytes[..sig_bytes.len() - 1])),
            );
            add(
                "signature one byte long".into(),
                format!("{hb}.{pb}.{}", b64(&[sig_bytes.as_slice(), &[0]].concat())),
            );
            add("signature empty".into(), format!("{hb}.{pb}."));
            add(
                "signature zeros".into(),
                format!("{hb}.{pb}.{}", b64(&vec![0; sig_bytes.len()])),
            );
            add("signed by a key outside the set".into(), {
                let stranger = &keys.stranger;
                let hh = header.set("alg", &format!("\"{}\"", stranger.alg().as_str()));
                token(stranger, &hh, &claims)
            });
            add("signature of other claims".into(), {
                let other = token(key, &header, &claims.set("sub", "\"someone-else\""));
                format!("{hb}.{pb}.{}", other.rsplit('.').next().unwrap())
            });
            add("two segments".into(), format!("{hb}.{pb}"));
            add("four segments".into(), format!("{valid}.{sig}"));
            add(
                "five segments".into(),
                format!("{hb}.{pb}.{sig}.{sig}.{sig}"),
            );
            add("empty header segment".into(), format!(".{pb}.{sig}"));
            add("empty claims segment".into(), format!("{hb}..{sig}"));
            add("leading dot".into(), format!(".{valid}"));
        }
    }
    out
}

/// The crate's verdict: `Ok` or the refusal.
type Verdict = Result<(), AuthError>;

fn allowed(validator: &str, error: &AuthError) -> Option<&'static Allowed> {
    ALLOWED.iter().find(|a| {
        a.validator == validator
            && a.kind == error.kind()
            && a.detail.is_none_or(|d| {
                error.description().contains(d) || error.context().is_some_and(|c| c.contains(d))
            })
    })
}

#[tokio::test]
async fn the_crate_agrees_with_jose_and_oauth4webapi_or_is_stricter_by_a_named_rule() {
    let keys = Keys {
        set: [
            Algorithm::ES256,
            Algorithm::RS256,
            Algorithm::PS256,
            Algorithm::EdDSA,
        ]
        .into_iter()
        .map(|alg| SigningKey::generate_with_kid(alg, format!("k-{alg}")))
        .collect(),
        stranger: SigningKey::generate_with_kid(Algorithm::ES256, "k-ES256"),
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let cases = cases(&keys, now);
    assert!(cases.len() >= 2_000, "{} tokens", cases.len());

    let jwks = keys.jwks().to_string();
    let lenient = JwtAuth::from(Issuer::new(ISSUER).audience(AUDIENCE).jwks(jwks.clone()));
    let strict =
        JwtAuth::from(Issuer::new(ISSUER).audience(AUDIENCE).jwks(jwks)).token_rules(TokenRules {
            strict_rfc9068: true,
            ..TokenRules::default()
        });
    let mut ours: Vec<(Verdict, Verdict)> = Vec::with_capacity(cases.len());
    for case in &cases {
        let judge = |auth: &JwtAuth| {
            let auth = auth.clone();
            let token = case.token.clone();
            async move { auth.verify(&token).await.map(|_| ()) }
        };
        ours.push((judge(&lenient).await, judge(&strict).await));
    }

    // The validators, in one Node process.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop");
    let input = std::env::temp_dir().join(format!("differential-{}.json", std::process::id()));
    let tokens: Vec<Value> = cases
        .iter()
        .enumerate()
        .map(|(id, c)| json!({"id": id.to_string(), "token": c.token}))
        .collect();
    let document = json!({
        "issuer": ISSUER, "audience": AUDIENCE, "jwks": keys.jwks(),
        "clock_tolerance": LEEWAY, "tokens": tokens,
    });
    std::fs::write(&input, document.to_string()).unwrap();
    let output = std::process::Command::new("node")
        .arg(dir.join("differential.mjs"))
        .arg(&input)
        .current_dir(&dir)
        .output()
        .expect("node runs (bash tests/setup.sh installs the packages)");
    let _ = std::fs::remove_file(&input);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let theirs: BTreeMap<String, BTreeMap<String, String>> =
        serde_json::from_slice(&output.stdout).unwrap();

    let mut failures = Vec::new();
    let mut used: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut agreed = 0;
    for (id, (case, (lenient, strict))) in cases.iter().zip(&ours).enumerate() {
        let answers = &theirs[&id.to_string()];
        for (validator, verdict) in [("jose", lenient), ("oauth4webapi", strict)] {
            let their = &answers[validator];
            match (verdict, their == "ok") {
                (Ok(()), true) => agreed += 1,
                (Err(_), false) => agreed += 1,
                (Ok(()), false) => failures.push(format!(
                    "{}: the crate accepts, {validator} refuses ({their})",
                    case.what
                )),
                (Err(e), true) => match allowed(validator, e) {
                    Some(entry) => *used.entry(entry.rule).or_default() += 1,
                    None => failures.push(format!(
                        "{}: the crate refuses ({:?}: {}; {}), {validator} accepts",
                        case.what,
                        e.kind(),
                        e.description(),
                        e.context().unwrap_or("")
                    )),
                },
            }
        }
    }
    println!(
        "{} tokens, {} verdicts compared, {agreed} agreed",
        cases.len(),
        cases.len() * 2
    );
    for (rule, count) in &used {
        println!("  stricter ({count}): {rule}");
    }
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Every entry of the allow-list is still needed: one that no token uses is removed.
    let unused: Vec<_> = ALLOWED
        .iter()
        .filter(|a| !used.contains_key(a.rule))
        .map(|a| format!("{} {:?} {:?}", a.validator, a.kind, a.detail))
        .collect();
    assert!(
        unused.is_empty(),
        "allow-list entries no token needs: {unused:#?}"
    );
    // The valid tokens pass everywhere.
    for (id, case) in cases.iter().enumerate() {
        if case.what.ends_with(": valid") && !case.what.contains("minimal") {
            assert!(ours[id].0.is_ok() && ours[id].1.is_ok(), "{}", case.what);
            assert_eq!(theirs[&id.to_string()]["jose"], "ok", "{}", case.what);
            assert_eq!(
                theirs[&id.to_string()]["oauth4webapi"],
                "ok",
                "{}",
                case.what
            );
        }
    }
}
