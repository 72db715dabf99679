//! A fixed key set and layer shared by the fuzz targets: no network, a fixed clock.
#![allow(dead_code)] // each target uses part of the fixture

use std::sync::OnceLock;

use tower_jwt_auth::testing::SigningKey;
use tower_jwt_auth::{Algorithm, JwtAuth, ManualClock};

pub const ISS: &str = "https://auth-api.eliq.com";
pub const NOW: u64 = 1_800_000_000;

pub struct Fixture {
    pub keys: Vec<SigningKey>,
    pub auth: JwtAuth,
    pub rt: tokio::runtime::Runtime,
}

pub fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let keys: Vec<SigningKey> = [Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256]
            .into_iter()
            .map(|alg| SigningKey::generate_with_kid(alg, alg.as_str()))
            .collect();
        let jwks =
            serde_json::json!({ "keys": keys.iter().map(|k| k.public_jwk()).collect::<Vec<_>>() });
        let auth = JwtAuth::new(ISS, "insights-api")
            .jwks(jwks.to_string())
            .clock(ManualClock::new(NOW))
            .require_scopes(["insights.read"]);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        Fixture { keys, auth, rt }
    })
}
