//! Fuzzer-chosen header and payload bytes, correctly signed by a key of the set: everything
//! behind the signature (header rules, key choice, claims rules, custom claims) is reachable.
//! Must never panic, and must accept only what the rules allow.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let f = common::fixture();
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let split = (usize::from(selector) * rest.len()) / 256;
    let (header, payload) = rest.split_at(split);
    let key = &f.keys[usize::from(selector) % f.keys.len()];
    let token = key.sign_raw(header, payload);
    if let Ok(claims) = f.rt.block_on(f.auth.verify(&token)) {
        // Whatever got through must satisfy the configured rules.
        assert_eq!(claims.iss, common::ISS);
        assert!(claims.aud.contains("insights-api"));
        assert!(claims.exp + 60 > common::NOW);
        assert!(claims.scopes().any(|s| s == "insights.read"));
        assert!(!claims.sub.is_empty());
    }
});
