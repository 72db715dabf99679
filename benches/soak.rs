//! A bounded soak run against a flaky provider, on loopback: 16 clients send valid tokens back
//! to back through an axum service with the layer in its default configuration, while the
//! provider rotates keys and fails on a schedule. Prints, per phase: requests, refusals of valid
//! tokens, p50 / p99 / max latency, and the provider's discovery + JWKS requests.
//!
//!   cargo bench --bench soak                 # the 60 s schedule
//!   SOAK_SECONDS=30 cargo bench --bench soak # the same schedule, compressed
//!
//! Schedule (at 60 s): healthy; at 10 s a new key, used at once; 20–35 s HTTP 500; at 30 s a new
//! key, used at once (no healthy answer can carry it until 45 s); 35–45 s the provider hangs;
//! at 45 s healthy again and another new key; 50–55 s an HTML page; 55–60 s healthy.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use tower_jwt_auth::testing::{Failure, TestIssuer};
use tower_jwt_auth::{Algorithm, Claims, JwtAuth};

const CLIENTS: usize = 16;

struct Phase {
    name: &'static str,
    from: f64,
    to: f64,
}

const PHASES: [Phase; 8] = [
    Phase {
        name: "healthy",
        from: 0.0,
        to: 10.0,
    },
    Phase {
        name: "new key at 10 s",
        from: 10.0,
        to: 20.0,
    },
    Phase {
        name: "HTTP 500",
        from: 20.0,
        to: 30.0,
    },
    Phase {
        name: "HTTP 500, new key at 30 s",
        from: 30.0,
        to: 35.0,
    },
    Phase {
        name: "hang",
        from: 35.0,
        to: 45.0,
    },
    Phase {
        name: "healthy, new key at 45 s",
        from: 45.0,
        to: 50.0,
    },
    Phase {
        name: "HTML page",
        from: 50.0,
        to: 55.0,
    },
    Phase {
        name: "healthy",
        from: 55.0,
        to: 60.0,
    },
];

#[derive(Default, Clone)]
struct Tally {
    latencies: Vec<Duration>,
    refused: usize,
    fetches: usize,
}

fn main() {
    let seconds: f64 = std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60.0_f64)
        .clamp(6.0, 600.0);
    let scale = seconds / 60.0;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(scale));
}

async fn run(scale: f64) {
    let issuer = Arc::new(
        TestIssuer::builder()
            .algorithms([Algorithm::ES256])
            .start()
            .await,
    );
    let auth = JwtAuth::new(issuer.url(), "insights-api");
    let app = Router::new()
        .route("/usage", get(|c: Claims| async move { c.sub.clone() }))
        .layer(auth);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let url = format!("http://{}/usage", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let token = Arc::new(RwLock::new(issuer.token().alg(Algorithm::ES256).sign()));
    let tallies = Arc::new(Mutex::new(vec![Tally::default(); PHASES.len()]));
    let start = Instant::now();
    let end = Duration::from_secs_f64(60.0 * scale);
    let phase_of = move |at: Duration| {
        let t = at.as_secs_f64() / scale;
        PHASES.iter().position(|p| t >= p.from && t < p.to)
    };

    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (token, tallies, url) = (Arc::clone(&token), Arc::clone(&tallies), url.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                while start.elapsed() < end {
                    let bearer = token.read().unwrap().clone();
                    let sent = Instant::now();
                    let ok = http
                        .get(&url)
                        .bearer_auth(bearer)
                        .send()
                        .await
                        .is_ok_and(|r| r.status() == 200);
                    let latency = sent.elapsed();
                    if let Some(i) = phase_of(sent - start) {
                        let mut t = tallies.lock().unwrap();
                        t[i].latencies.push(latency);
                        t[i].refused += usize::from(!ok);
                    }
                }
            })
        })
        .collect();

    // The provider's schedule.
    let at = |secs: f64| start + Duration::from_secs_f64(secs * scale);
    let rotate = |token: &RwLock<String>| {
        issuer.add_key(Algorithm::ES256);
        *token.write().unwrap() = issuer.token().alg(Algorithm::ES256).sign();
    };
    let fetches = || issuer.discovery_requests() + issuer.jwks_requests();
    let mut phase_start_fetches = fetches();
    for (ended, (secs, action)) in [
        (10.0, 1),
        (20.0, 2),
        (30.0, 3),
        (35.0, 4),
        (45.0, 5),
        (50.0, 6),
        (55.0, 7),
        (60.0, 0),
    ]
    .into_iter()
    .enumerate()
    {
        tokio::time::sleep_until(at(secs).into()).await;
        let now_fetches = fetches();
        tallies.lock().unwrap()[ended].fetches = now_fetches - phase_start_fetches;
        phase_start_fetches = now_fetches;
        match action {
            1 => rotate(&token),
            2 => issuer.fail(Failure::Status(500)),
            3 => rotate(&token),
            4 => issuer.fail(Failure::Hang),
            5 => {
                issuer.recover();
                rotate(&token);
            }
            6 => issuer.fail(Failure::Status(200)),
            7 => issuer.recover(),
            _ => {}
        }
    }
    for c in clients {
        c.await.unwrap();
    }

    println!("| phase (s at 60 s scale) | requests | valid tokens refused | p50 | p99 | max | provider fetches |");
    println!("|---|---|---|---|---|---|---|");
    let mut total = (0, 0);
    for (p, t) in PHASES.iter().zip(tallies.lock().unwrap().iter_mut()) {
        t.latencies.sort();
        let pct = |q: f64| {
            t.latencies
                .get(
                    ((t.latencies.len() as f64 * q) as usize)
                        .min(t.latencies.len().saturating_sub(1)),
                )
                .copied()
                .unwrap_or_default()
        };
        total.0 += t.latencies.len();
        total.1 += t.refused;
        println!(
            "| {}–{}: {} | {} | {} ({:.1} %) | {:?} | {:?} | {:?} | {} |",
            p.from,
            p.to,
            p.name,
            t.latencies.len(),
            t.refused,
            100.0 * t.refused as f64 / t.latencies.len().max(1) as f64,
            pct(0.5),
            pct(0.99),
            t.latencies.last().copied().unwrap_or_default(),
            t.fetches,
        );
    }
    println!(
        "\n{} requests, {} valid tokens refused ({:.2} %), schedule scaled to {:.0} s",
        total.0,
        total.1,
        100.0 * total.1 as f64 / total.0.max(1) as f64,
        60.0 * scale
    );
}
