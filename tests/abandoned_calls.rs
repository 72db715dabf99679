//! A call shared by waiting requests is gone when the last of them is: 10,000 unauthenticated
//! requests with random opaque tokens against an introspection endpoint that never answers,
//! each abandoned (an outer timeout on the server, or the client hanging up), leave no call
//! in flight behind. Read through the `tower_jwt_auth_calls_in_flight` gauge, as a Prometheus
//! scrape renders it, over real HTTP on 127.0.0.1; one test, as the recorder is global to this
//! binary.

mod common;

use std::time::{Duration, Instant};

use axum::error_handling::HandleErrorLayer;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use common::serve;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tower::ServiceBuilder;
use tower_jwt_auth::{Claims, Introspection, JwtAuth};

/// The gauge's value in a scrape, if it was ever set.
fn in_flight(prometheus: &PrometheusHandle) -> Option<f64> {
    let scrape = prometheus.render();
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(r#"tower_jwt_auth_calls_in_flight{call="introspection"} "#))
        .map(|v| v.trim().parse().unwrap())
}

/// Polls the gauge until it reads 0, within a deadline; returns the last reading.
async fn settled(prometheus: &PrometheusHandle) -> Option<f64> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = in_flight(prometheus);
        if now == Some(0.0) || Instant::now() > deadline {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn random_token(i: usize) -> String {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).unwrap();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("opaque-{i}-{hex}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_introspection_calls_leave_nothing_behind() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let prometheus = recorder.handle();
    metrics::set_global_recorder(recorder).unwrap();

    // An introspection endpoint that never answers.
    let hanging =
        serve(Router::new().route("/introspect", post(std::future::pending::<&'static str>))).await;
    let auth = JwtAuth::new(&hanging.base, "insights-api").introspection(Introspection::new(
        format!("{}/introspect", hanging.base),
        "rs",
        "secret",
    ));
    // The service's own outer timeout, as many deployments have.
    let app = Router::new()
        .route("/usage", get(|c: Claims| async move { c.sub.clone() }))
        .layer(auth)
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(|_| async {
                    StatusCode::SERVICE_UNAVAILABLE
                }))
                .timeout(Duration::from_millis(50)),
        );
    let served = serve(app).await;
    let url = format!("{}/usage", served.base);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();

    // What the gauge reads while the flood is on.
    let watcher = {
        let prometheus = prometheus.clone();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let mut highest = 0.0f64;
            loop {
                let now = in_flight(&prometheus).unwrap_or(0.0);
                highest = highest.max(now);
                tokio::select! {
                    _ = &mut stopped => return highest,
                    _ = tokio::time::sleep(Duration::from_millis(5)) => {}
                }
            }
        });
        (stop, task)
    };
    let mut timed_out = 0;
    for batch in 0..50 {
        let calls = (0..200).map(|i| {
            let (client, url) = (client.clone(), url.clone());
            let token = random_token(batch * 200 + i);
            tokio::spawn(async move {
                let res = client.get(&url).bearer_auth(token).send().await.unwrap();
                res.status()
            })
        });
        let statuses = futures_all(calls.collect()).await;
        timed_out += statuses
            .iter()
            .filter(|s| **s == StatusCode::SERVICE_UNAVAILABLE)
            .count();
    }
    let (stop, task) = watcher;
    stop.send(()).unwrap();
    let highest = task.await.unwrap();
    assert_eq!(timed_out, 10_000, "every request waited for the endpoint");
    assert!(
        highest >= 50.0,
        "the gauge saw the calls while they were out: {highest}"
    );
    assert_eq!(
        settled(&prometheus).await,
        Some(0.0),
        "no introspection call is left in flight"
    );

    // The client hanging up instead: the server drops the request, and with it the call.
    let stuck = random_token(10_000);
    let hang_up = reqwest::Client::builder()
        .timeout(Duration::from_millis(20))
        .build()
        .unwrap();
    let direct =
        serve(
            Router::new()
                .route("/usage", get(|c: Claims| async move { c.sub.clone() }))
                .layer(JwtAuth::new(&hanging.base, "insights-api").introspection(
                    Introspection::new(format!("{}/introspect", hanging.base), "rs", "secret"),
                )),
        )
        .await;
    let direct_url = format!("{}/usage", direct.base);
    for _ in 0..50 {
        assert!(hang_up
            .get(&direct_url)
            .bearer_auth(&stuck)
            .send()
            .await
            .is_err());
    }
    assert_eq!(settled(&prometheus).await, Some(0.0));
}

async fn futures_all(handles: Vec<tokio::task::JoinHandle<StatusCode>>) -> Vec<StatusCode> {
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}
