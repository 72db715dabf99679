//! Certificate-bound access tokens (RFC 8705 §3) over real mutual TLS on loopback: a rustls
//! acceptor in front of an axum service (the client certificate handed to the layer with
//! `ClientCertificate::from_connection`), and a tonic server with its own TLS (feature
//! `tonic-tls`). Certificates are made here: a CA, a server certificate and two clients.

mod common;

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tower_jwt_auth::testing::TestIssuer;
use tower_jwt_auth::{Claims, ClientCertificate, JwtAuth};

/// A certificate and its key, in DER and PEM.
struct Pem {
    der: Vec<u8>,
    cert: String,
    key: String,
    key_der: Vec<u8>,
}

struct Pki {
    ca: Pem,
    server: Pem,
    alice: Pem,
    mallory: Pem,
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf = |names: Vec<String>| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        Pem {
            der: cert.der().to_vec(),
            cert: cert.pem(),
            key: key.serialize_pem(),
            key_der: key.serialize_der(),
        }
    };
    Pki {
        server: leaf(vec!["localhost".into()]),
        alice: leaf(vec!["alice.client".into()]),
        mallory: leaf(vec!["mallory.client".into()]),
        ca: Pem {
            der: ca_cert.der().to_vec(),
            cert: ca_cert.pem(),
            key: String::new(),
            key_der: Vec::new(),
        },
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A rustls acceptor asking for client certificates of the CA (optional, so that a client
/// without one still reaches the layer and gets its answer).
fn acceptor(pki: &Pki) -> tokio_rustls::TlsAcceptor {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(pki.ca.der.clone())).unwrap();
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
            .allow_unauthenticated()
            .build()
            .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from(pki.server.der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.server.key_der.clone())),
        )
        .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// Serves `app` over TLS: each connection's client certificate goes into its requests'
/// extensions, as a deployment's acceptor would do it.
async fn serve_tls(pki: &Pki, app: Router) -> String {
    let port = common::serve_tls(acceptor(pki), app, |connection, app| {
        match ClientCertificate::from_connection(connection) {
            Some(certificate) => app.layer(axum::Extension(certificate)),
            None => app,
        }
    })
    .await;
    format!("https://localhost:{port}")
}

fn client(pki: &Pki, identity: Option<&Pem>) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(pki.ca.cert.as_bytes()).unwrap();
    let mut builder = reqwest::Client::builder().tls_certs_only([ca]);
    if let Some(id) = identity {
        let pem = format!("{}{}", id.cert, id.key);
        builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

fn app(issuer: &TestIssuer) -> Router {
    Router::new()
        .route("/usage", get(|c: Claims| async move { c.sub.clone() }))
        .layer(JwtAuth::new(issuer.url(), "insights-api").certificate_bound_tokens())
}

async fn status(client: &reqwest::Client, url: &str, token: &str) -> (u16, String) {
    let res = client.get(url).bearer_auth(token).send().await.unwrap();
    let challenge = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (res.status().as_u16(), challenge)
}

#[tokio::test]
async fn a_certificate_bound_token_passes_only_with_its_certificate() {
    let pki = pki();
    let issuer = TestIssuer::start().await;
    let base = serve_tls(&pki, app(&issuer)).await;
    let url = format!("{base}/usage");
    let bound = issuer
        .token()
        .sub("alice")
        .certificate_bound(&pki.alice.der)
        .sign();

    let alice = client(&pki, Some(&pki.alice));
    let res = alice.get(&url).bearer_auth(&bound).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "alice");

    for (who, c) in [
        ("another certificate", client(&pki, Some(&pki.mallory))),
        ("no certificate", client(&pki, None)),
    ] {
        let (code, challenge) = status(&c, &url, &bound).await;
        assert_eq!(code, 401, "{who}");
        assert!(
            challenge.contains(r#"error="invalid_token""#),
            "{who}: {challenge}"
        );
    }
    // Plain tokens still pass with or without a certificate.
    let plain = issuer.token().sign();
    assert_eq!(status(&alice, &url, &plain).await.0, 200);

    // Without TLS at all.
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let plain_url = format!("http://{}/usage", listener.local_addr().unwrap());
    let router = app(&issuer);
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    assert_eq!(
        status(&reqwest::Client::new(), &plain_url, &bound).await.0,
        401
    );

    // A layer without certificate_bound_tokens refuses the bound token even with the
    // certificate.
    let strict = Router::new()
        .route("/usage", get(|| async { "ok" }))
        .layer(JwtAuth::new(issuer.url(), "insights-api"));
    let base = serve_tls(&pki, strict).await;
    assert_eq!(
        status(&alice, &format!("{base}/usage"), &bound).await.0,
        401
    );
}

#[tokio::test]
async fn tonic_reads_the_client_certificate_from_its_own_tls() {
    use tonic::transport::server::TcpIncoming;
    use tonic::transport::{
        Certificate, Channel, ClientTlsConfig, Identity, Server, ServerTlsConfig,
    };
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::HealthCheckRequest;

    let pki = pki();
    let issuer = TestIssuer::start().await;
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let tls = ServerTlsConfig::new()
        .identity(Identity::from_pem(&pki.server.cert, &pki.server.key))
        .client_ca_root(Certificate::from_pem(&pki.ca.cert))
        .client_auth_optional(true);
    let router = Server::builder()
        .tls_config(tls)
        .unwrap()
        .layer(JwtAuth::new(issuer.url(), "insights-api").certificate_bound_tokens())
        .add_service(health);
    let _server = tokio::spawn(router.serve_with_incoming(TcpIncoming::from(listener)));

    let bound = issuer
        .token()
        .sub("alice")
        .certificate_bound(&pki.alice.der)
        .sign();
    let call = |identity: &Pem| {
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&pki.ca.cert))
            .identity(Identity::from_pem(&identity.cert, &identity.key))
            .domain_name("localhost");
        let bound = bound.clone();
        async move {
            let channel = Channel::from_shared(format!("https://localhost:{port}"))
                .unwrap()
                .tls_config(tls)
                .unwrap()
                .connect()
                .await
                .unwrap();
            let mut req = tonic::Request::new(HealthCheckRequest {
                service: String::new(),
            });
            req.metadata_mut()
                .insert("authorization", format!("Bearer {bound}").parse().unwrap());
            HealthClient::new(channel).check(req).await
        }
    };
    assert_eq!(call(&pki.alice).await.unwrap().into_inner().status, 1);
    let refused = call(&pki.mallory).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
}
