//! Helpers shared by the integration tests: serve an axum app on 127.0.0.1:0 and call it.
#![allow(dead_code)]

pub mod health;

use std::io::Write;
use std::sync::{Arc, Mutex};
use tower_jwt_auth::KeyFetching;

use axum::Router;
use tokio::task::JoinHandle;
use tower_jwt_auth::testing::{Failure, TestIssuer};
use tower_jwt_auth::{JwtAuth, ManualClock};

/// An app served on loopback; stops when dropped.
pub struct Served {
    pub base: String,
    task: JoinHandle<()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn serve(app: Router) -> Served {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Served {
        base: format!("http://{addr}"),
        task,
    }
}

/// Serves `app` over TLS with `acceptor` on 127.0.0.1 and returns its port; `per_connection`
/// gives each connection's app what its TLS session knows (a client certificate).
pub async fn serve_tls<F>(
    acceptor: tokio_rustls::TlsAcceptor,
    app: Router,
    per_connection: F,
) -> u16
where
    F: Fn(&rustls::ServerConnection, Router) -> Router + Clone + Send + Sync + 'static,
{
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::service::TowerToHyperService;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, app, per_connection) =
                (acceptor.clone(), app.clone(), per_connection.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let app = per_connection(tls.get_ref().1, app);
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), TowerToHyperService::new(app))
                    .await;
            });
        }
    });
    port
}

/// GET `url` with `Authorization: Bearer <token>` when a token is given.
pub async fn get(url: &str, token: Option<&str>) -> reqwest::Response {
    let mut req = reqwest::Client::new().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

pub fn www_authenticate(res: &reqwest::Response) -> String {
    res.headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// Every `WWW-Authenticate` value, in order.
pub fn challenges(res: &reqwest::Response) -> Vec<String> {
    res.headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// An address on loopback where nothing listens.
pub async fn closed_port_url() -> String {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// Log events of the current thread, as the default formatter writes them.
///
/// One global subscriber (installed once) writes each event to the capture of the thread that
/// emitted it, if any. A per-test `set_default` subscriber would be racy: tracing caches each
/// call site's interest globally, so a test dropping its subscriber while another test's event
/// is being registered can switch that call site off for everyone.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

thread_local! {
    static CAPTURE: std::cell::RefCell<Option<Captured>> = const { std::cell::RefCell::new(None) };
}

/// Writes to the current thread's capture; drops the bytes when there is none.
struct ToCurrent;

impl Write for ToCurrent {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURE.with(|c| {
            if let Some(captured) = &*c.borrow() {
                captured.0.lock().unwrap().extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Stops capturing on this thread when dropped.
pub struct CaptureGuard(());

impl Drop for CaptureGuard {
    fn drop(&mut self) {
        CAPTURE.with(|c| *c.borrow_mut() = None);
    }
}

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }

    pub fn install(&self) -> CaptureGuard {
        static GLOBAL: std::sync::Once = std::sync::Once::new();
        GLOBAL.call_once(|| {
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::DEBUG)
                .with_ansi(false)
                .with_writer(|| ToCurrent)
                .finish();
            tracing::subscriber::set_global_default(subscriber)
                .expect("no other global subscriber in the tests");
        });
        CAPTURE.with(|c| *c.borrow_mut() = Some(self.clone()));
        CaptureGuard(())
    }
}

/// Every way the provider can fail; `None` is "connection refused".
pub fn outages() -> Vec<Option<Failure>> {
    vec![
        Some(Failure::Status(500)),
        Some(Failure::Hang),
        Some(Failure::Garbage),
        Some(Failure::InvalidJwks),
        Some(Failure::JwksBody(r#"{"keys":[]}"#.into())),
        None,
    ]
}

/// Starts `outage`.
pub fn break_provider(issuer: &TestIssuer, outage: &Option<Failure>) {
    match outage {
        Some(f) => issuer.fail(f.clone()),
        None => issuer.stop(),
    }
}

/// Ends `outage`.
pub async fn mend_provider(issuer: &TestIssuer, outage: &Option<Failure>) {
    match outage {
        Some(_) => issuer.recover(),
        None => issuer.resume().await,
    }
}

/// An issuer and a layer sharing one manual clock, keys loaded; the layer waits at most
/// `key_wait_budget` for keys it does not have.
pub async fn warm(
    max_age: Option<u64>,
    key_wait_budget: std::time::Duration,
) -> (TestIssuer, JwtAuth, ManualClock) {
    let clock = ManualClock::starting_now();
    let issuer = TestIssuer::builder()
        .clock(clock.clone())
        .jwks_max_age(max_age)
        .start()
        .await;
    let auth = JwtAuth::new(issuer.url(), "insights-api")
        .clock(clock.clone())
        .key_fetching(KeyFetching {
            key_wait_budget,
            ..KeyFetching::default()
        });
    auth.ready().await.unwrap();
    (issuer, auth, clock)
}

/// A real `redis-server` on a free loopback port (installed by `tests/setup.sh`), stopped when
/// dropped.
pub struct Redis {
    pub url: String,
    pub port: u16,
    child: tokio::process::Child,
}

impl Redis {
    pub async fn start() -> Self {
        let probe = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let port = probe.local_addr().unwrap().port();
        drop(probe);
        Self::start_on(port).await
    }

    /// A server on `port` (again, after [`Redis::stop`]: the same address).
    pub async fn start_on(port: u16) -> Self {
        let child = tokio::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect(
                "start redis-server (`bash tests/setup.sh` installs Debian's redis-server package)",
            );
        // Wait (bounded, generously for a loaded machine) until it accepts connections.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Self {
                    url: format!("redis://127.0.0.1:{port}"),
                    port,
                    child,
                };
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("redis-server did not listen on port {port} within 30 s");
    }

    pub async fn stop(&mut self) {
        self.child.kill().await.unwrap();
        let _ = self.child.wait().await;
    }
}
