//! The client certificate of a mutual-TLS connection, for certificate-bound access tokens
//! (RFC 8705 §3): its SHA-256 thumbprint, compared with the token's `cnf["x5t#S256"]`.

use std::fmt;

use aws_lc_rs::digest;
use http::Extensions;

use crate::jose::b64;

/// The client certificate the TLS acceptor verified, as a request extension.
///
/// Insert it per connection where the TLS handshake ends (for a rustls acceptor,
/// [`ClientCertificate::from_connection`]); the layer then accepts a token bound to that
/// certificate. tonic servers need nothing: with feature `tonic-tls` the layer reads tonic's
/// own `TlsConnectInfo`. Holds only the thumbprint.
///
/// ```
/// use tower_jwt_auth::ClientCertificate;
/// let cert = ClientCertificate::from_der(b"a DER-encoded certificate");
/// assert_eq!(cert.thumbprint().len(), 43); // base64url of a SHA-256 digest
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ClientCertificate {
    sha256: [u8; 32],
}

impl ClientCertificate {
    /// The certificate whose DER encoding is `der`.
    pub fn from_der(der: &[u8]) -> Self {
        let mut sha256 = [0u8; 32];
        sha256.copy_from_slice(digest::digest(&digest::SHA256, der).as_ref());
        Self { sha256 }
    }

    /// The end-entity certificate the client presented on this rustls connection, once the
    /// handshake is done (`None` without one). With tokio-rustls:
    /// `ClientCertificate::from_connection(tls_stream.get_ref().1)`.
    pub fn from_connection(connection: &rustls::ServerConnection) -> Option<Self> {
        let first = connection.peer_certificates()?.first()?;
        Some(Self::from_der(first.as_ref()))
    }

    /// The thumbprint as `cnf["x5t#S256"]` carries it: base64url of the SHA-256 digest of the
    /// DER encoding.
    pub fn thumbprint(&self) -> String {
        b64::encode(&self.sha256)
    }

    /// Whether a token's `x5t#S256` names this certificate.
    pub(crate) fn matches(&self, x5t_s256: &str) -> bool {
        b64::decode(x5t_s256).is_ok_and(|d| d == self.sha256)
    }
}

impl fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ClientCertificate")
            .field(&self.thumbprint())
            .finish()
    }
}

/// The request's client certificate: the extension an acceptor inserted, else (feature
/// `tonic-tls`) the first peer certificate tonic's TLS server recorded.
pub(crate) fn of_request(extensions: &Extensions) -> Option<ClientCertificate> {
    if let Some(cert) = extensions.get::<ClientCertificate>() {
        return Some(*cert);
    }
    #[cfg(feature = "tonic-tls")]
    {
        use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
        if let Some(info) = extensions.get::<TlsConnectInfo<TcpConnectInfo>>() {
            let certs = info.peer_certs()?;
            return certs
                .first()
                .map(|c| ClientCertificate::from_der(c.as_ref()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thumbprint_is_base64url_of_sha256() {
        // SHA-256("abc") = ba7816bf…f20015ad (FIPS 180-2 example).
        let cert = ClientCertificate::from_der(b"abc");
        assert_eq!(
            cert.thumbprint(),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
        assert!(cert.matches("ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"));
        assert!(!cert.matches("ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa1"));
        assert!(!cert.matches("not base64!"));
        let mut ext = Extensions::new();
        assert_eq!(of_request(&ext), None);
        ext.insert(cert);
        assert_eq!(of_request(&ext), Some(cert));
    }
}
