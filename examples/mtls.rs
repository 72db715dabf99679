//! Certificate-bound access tokens (RFC 8705) behind a rustls acceptor, with one command:
//!
//! ```text
//! cargo run --example mtls
//! ```
//!
//! Makes a CA, a server certificate and a client certificate, serves an axum API over mutual
//! TLS on 127.0.0.1, and hands each connection's client certificate to the layer with
//! `ClientCertificate::from_connection`: the one piece a rustls (tokio-rustls) acceptor needs.
//! A token bound to the client's certificate passes with it and is refused without it.

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tower::ServiceExt;
use tower_jwt_auth::testing::TestIssuer;
use tower_jwt_auth::{Claims, ClientCertificate, JwtAuth};

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    // Certificates: a CA, the server, one client.
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key)?;
    let issuer_ca = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate()?;
    let server =
        CertificateParams::new(vec!["localhost".to_owned()])?.signed_by(&server_key, &issuer_ca)?;
    let client_key = KeyPair::generate()?;
    let client_cert = CertificateParams::new(vec!["acme-backend".to_owned()])?
        .signed_by(&client_key, &issuer_ca)?;

    // The API: certificate-bound tokens accepted with their certificate.
    let issuer = TestIssuer::start().await;
    let app = Router::new()
        .route(
            "/usage",
            get(|c: Claims| async move { format!("usage for {}", c.sub) }),
        )
        .layer(JwtAuth::new(issuer.url(), "insights-api").certificate_bound_tokens());

    // The acceptor: TLS asking for (optional) client certificates of our CA.
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der().clone())?;
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .allow_unauthenticated()
    .build()?;
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from(server.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
        )?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("https://localhost:{}/usage", listener.local_addr()?.port());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, app) = (acceptor.clone(), app.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                // The piece that matters: the verified client certificate, per connection.
                let certificate = ClientCertificate::from_connection(tls.get_ref().1);
                let app = app.map_request(move |mut req: http::Request<_>| {
                    if let Some(c) = certificate {
                        req.extensions_mut().insert(c);
                    }
                    req
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), TowerToHyperService::new(app))
                    .await;
            });
        }
    });

    // A token bound to the client's certificate (cnf.x5t#S256).
    let token = issuer
        .token()
        .sub("acme-backend")
        .certificate_bound(client_cert.der())
        .sign();
    let ca_pem = reqwest::Certificate::from_pem(ca.pem().as_bytes())?;
    let identity = format!("{}{}", client_cert.pem(), client_key.serialize_pem());
    let with_cert = reqwest::Client::builder()
        .tls_certs_only([ca_pem.clone()])
        .identity(reqwest::Identity::from_pem(identity.as_bytes())?)
        .build()?;
    let without_cert = reqwest::Client::builder()
        .tls_certs_only([ca_pem])
        .build()?;

    let res = with_cert.get(&url).bearer_auth(&token).send().await?;
    println!(
        "with the client certificate:    {} {}",
        res.status(),
        res.text().await?
    );
    let res = without_cert.get(&url).bearer_auth(&token).send().await?;
    println!(
        "without the client certificate: {} {}",
        res.status(),
        res.headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    );
    Ok(())
}
