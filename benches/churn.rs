//! A flood of never-repeated valid tokens against the default verified-token cache (10,000
//! verdicts), while 1,000 clients keep sending their own token: do the clients keep their hits?
//! Admission, not recency alone, decides: a cache that let every new token in at the front
//! would evict the clients' tokens after 10,000 flood tokens.
//!
//!   cargo bench --bench churn
//!
//! A call is counted as a hit when it takes under 10 µs (a cache hit costs well under 1 µs; an
//! Ed25519 verification about 40 µs).

mod common;

use std::time::{Duration, Instant};
use tower_jwt_auth::Issuer;

use common::{jwks, ready, rs256_sized, AUD, ISS};
use tower_jwt_auth::testing::SigningKey;
use tower_jwt_auth::{Algorithm, JwtAuth};

const CLIENTS: usize = 1_000;
const FLOOD: usize = 40_000;
/// Flood tokens between two client requests.
const FLOOD_PER_CLIENT_CALL: usize = 2;

fn main() {
    let key = SigningKey::generate_with_kid(Algorithm::EdDSA, "k1");
    let clients: Vec<String> = (0..CLIENTS).map(|i| rs256_sized(&key, i)).collect();
    let flood: Vec<String> = (0..FLOOD).map(|i| rs256_sized(&key, CLIENTS + i)).collect();
    let auth = JwtAuth::from(Issuer::new(ISS).audience(AUD).jwks(jwks(&[&key])));
    for t in &clients {
        ready(auth.verify(t)).unwrap();
    }
    let hit = |t: &str| {
        let start = Instant::now();
        ready(auth.verify(t)).unwrap();
        start.elapsed() < Duration::from_micros(10)
    };

    // Clients alone.
    let calls = FLOOD / FLOOD_PER_CLIENT_CALL;
    let start = Instant::now();
    let quiet_hits = (0..calls).filter(|i| hit(&clients[i % CLIENTS])).count();
    let quiet = start.elapsed();

    // Clients during the flood.
    let mut hits = 0;
    let start = Instant::now();
    for (i, chunk) in flood.chunks(FLOOD_PER_CLIENT_CALL).enumerate() {
        for t in chunk {
            ready(auth.verify(t)).unwrap();
        }
        hits += usize::from(hit(&clients[i % CLIENTS]));
    }
    let flooded = start.elapsed();
    let total = calls + FLOOD;
    println!("| phase | client calls | client hit rate | verifications/s |");
    println!("|---|---|---|---|");
    println!(
        "| {CLIENTS} clients alone | {calls} | {:.1} % | {:.0} |",
        100.0 * quiet_hits as f64 / calls as f64,
        calls as f64 / quiet.as_secs_f64()
    );
    println!(
        "| with {FLOOD} one-off tokens ({FLOOD_PER_CLIENT_CALL} per client call) | {calls} | {:.1} % | {:.0} |",
        100.0 * hits as f64 / calls as f64,
        total as f64 / flooded.as_secs_f64()
    );
}
