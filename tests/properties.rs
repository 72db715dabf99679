//! Properties of the token front end over generated input (proptest): nothing panics, nothing
//! forged passes, and a valid token changed anywhere is refused.

use std::sync::OnceLock;
use tower_jwt_auth::Issuer;

use proptest::prelude::*;
use serde_json::{json, Value};
use tower_jwt_auth::testing::SigningKey;
use tower_jwt_auth::{Algorithm, AuthErrorKind, JwtAuth};

const ISS: &str = "https://auth-api.eliq.com";

struct Fixture {
    key: SigningKey,
    auth: JwtAuth,
    rt: tokio::runtime::Runtime,
}

/// Fixed keys, so no property ever touches the network.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let key = SigningKey::generate(Algorithm::ES256);
        let jwks = json!({ "keys": [key.public_jwk()] }).to_string();
        Fixture {
            auth: JwtAuth::from(Issuer::new(ISS).audience("insights-api").jwks(jwks)),
            key,
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        }
    })
}

fn verify(token: &str) -> Result<(), AuthErrorKind> {
    let f = fixture();
    f.rt.block_on(f.auth.verify(token))
        .map(|_| ())
        .map_err(|e| e.kind())
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn valid_claims() -> Value {
    json!({"iss": ISS, "aud": "insights-api", "sub": "u-1", "exp": now() + 600, "iat": now()})
}

fn header() -> Value {
    json!({"alg": "ES256", "kid": fixture().key.kid()})
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_strings_are_refused_without_panicking(s in "\\PC{0,300}") {
        prop_assert!(verify(&s).is_err());
    }

    #[test]
    fn three_arbitrary_segments_are_refused(a in "[A-Za-z0-9_-]{0,80}", b in "[A-Za-z0-9_-]{0,80}", c in "[A-Za-z0-9_-]{0,100}") {
        let token = format!("{a}.{b}.{c}");
        prop_assert!(verify(&token).is_err());
    }

    #[test]
    fn any_single_character_change_is_refused(pos in 0usize..10_000, replacement in "[A-Za-z0-9_.=+/-]") {
        let token = fixture().key.sign_json(&header(), &valid_claims());
        let pos = pos % token.len();
        let original = &token[pos..=pos];
        prop_assume!(original != replacement);
        let changed = format!("{}{}{}", &token[..pos], replacement, &token[pos + 1..]);
        prop_assert!(verify(&changed).is_err(), "accepted after changing {original:?} at {pos} to {replacement:?}");
    }

    #[test]
    fn signed_claims_of_any_shape_never_panic(
        extra in proptest::collection::vec(("[a-z_]{1,9}", any::<Option<i32>>(), "\\PC{0,12}"), 0..10),
    ) {
        let mut claims = valid_claims();
        for (name, number, text) in extra {
            let value = match number { Some(n) => json!(n), None => json!(text) };
            claims[name] = value;
        }
        // Signed with the right key: only the claims rules can refuse it now.
        let token = fixture().key.sign_json(&header(), &claims);
        let _ = verify(&token);
    }

    #[test]
    fn signed_payload_bytes_of_any_kind_never_panic(payload in proptest::collection::vec(any::<u8>(), 0..200)) {
        let token = fixture().key.sign_raw(header().to_string().as_bytes(), &payload);
        prop_assert!(verify(&token).is_err());
    }
}

#[test]
fn the_fixture_accepts_a_valid_token() {
    let token = fixture().key.sign_json(&header(), &valid_claims());
    assert_eq!(verify(&token), Ok(()));
}
