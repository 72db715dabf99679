//! OpenID Connect discovery (and RFC 8414 authorization-server metadata as a fallback): from the
//! issuer to its `jwks_uri` (and its `introspection_endpoint`).

use reqwest::Url;
use serde::Deserialize;

use crate::outbound::{parse_url, Fetcher};
use crate::reject::{KeySourceError, KeySourceErrorKind};

/// The members of the metadata document this crate reads.
#[derive(Deserialize)]
pub(crate) struct Metadata {
    issuer: String,
    jwks_uri: Option<String>,
    introspection_endpoint: Option<String>,
    token_endpoint: Option<String>,
}

/// `{issuer}/.well-known/openid-configuration`, and on 404 the RFC 8414 location
/// `{origin}/.well-known/oauth-authorization-server{path}`.
pub(crate) fn metadata_urls(issuer: &Url) -> [Url; 2] {
    let mut oidc = issuer.clone();
    let path = issuer.path().trim_end_matches('/');
    oidc.set_path(&format!("{path}/.well-known/openid-configuration"));
    let mut rfc8414 = issuer.clone();
    rfc8414.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
    [oidc, rfc8414]
}

/// Finds the issuer's `jwks_uri`. The document's `issuer` must equal the configured issuer
/// byte for byte, and the `jwks_uri` must be https (or loopback).
pub(crate) async fn discover(
    fetcher: &Fetcher,
    issuer: &str,
    issuer_url: &Url,
) -> Result<Url, KeySourceError> {
    let (url, meta) = metadata(fetcher, issuer, issuer_url).await?;
    endpoint(&url, "jwks_uri", meta.jwks_uri)
}

/// Finds the issuer's `introspection_endpoint` (RFC 8414 §2), with the same rules.
pub(crate) async fn introspection_endpoint(
    fetcher: &Fetcher,
    issuer: &str,
    issuer_url: &Url,
) -> Result<Url, KeySourceError> {
    let (url, meta) = metadata(fetcher, issuer, issuer_url).await?;
    endpoint(&url, "introspection_endpoint", meta.introspection_endpoint)
}

/// Finds the issuer's `token_endpoint` (RFC 8414 §2), with the same rules.
#[cfg_attr(not(feature = "client"), allow(dead_code))]
pub(crate) async fn token_endpoint(
    fetcher: &Fetcher,
    issuer: &str,
    issuer_url: &Url,
) -> Result<Url, KeySourceError> {
    let (url, meta) = metadata(fetcher, issuer, issuer_url).await?;
    endpoint(&url, "token_endpoint", meta.token_endpoint)
}

fn endpoint(url: &Url, member: &str, value: Option<String>) -> Result<Url, KeySourceError> {
    let invalid = |why: String| {
        KeySourceError::new(KeySourceErrorKind::InvalidDocument, format!("{url}: {why}"))
    };
    let value = value.ok_or_else(|| invalid(format!("the discovery document has no {member}")))?;
    parse_url(&value).map_err(|e| invalid(format!("{member}: {e}")))
}

/// The issuer's metadata document and where it was found.
async fn metadata(
    fetcher: &Fetcher,
    issuer: &str,
    issuer_url: &Url,
) -> Result<(Url, Metadata), KeySourceError> {
    let [oidc, rfc8414] = metadata_urls(issuer_url);
    let (url, doc) = match fetcher.get(&oidc).await {
        Ok(doc) => (oidc, doc),
        Err(e) if e.status() == Some(404) => {
            let doc = fetcher.get(&rfc8414).await?;
            (rfc8414, doc)
        }
        Err(e) => return Err(e),
    };
    let invalid = |why: &str| {
        KeySourceError::new(KeySourceErrorKind::InvalidDocument, format!("{url}: {why}"))
    };
    let meta: Metadata = serde_json::from_slice(&doc.body)
        .map_err(|_| invalid("the discovery document is not valid metadata JSON"))?;
    if meta.issuer != issuer {
        return Err(KeySourceError::new(
            KeySourceErrorKind::IssuerMismatch,
            issuer_mismatch(&url, issuer, &meta.issuer),
        ));
    }
    Ok((url, meta))
}

/// Both spellings, and the likely fix when they differ only by a trailing slash.
fn issuer_mismatch(url: &Url, configured: &str, published: &str) -> String {
    let mut message = format!(
        "{url}: the discovery document names issuer {}, but the configured issuer is {}; \
         tokens name the issuer the provider publishes, so the two must be equal byte for byte",
        crate::reject::shown(published),
        crate::reject::shown(configured),
    );
    if configured.trim_end_matches('/') == published.trim_end_matches('/') {
        message.push_str(&format!(
            " (they differ only by a trailing slash: configure {})",
            crate::reject::shown(published)
        ));
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trailing_slash_gets_a_hint() {
        let url = Url::parse("https://a.example/.well-known/openid-configuration").unwrap();
        let m = issuer_mismatch(&url, "https://a.example/", "https://a.example");
        assert!(m.contains(r#"names issuer "https://a.example", but the configured issuer is "https://a.example/""#), "{m}");
        assert!(m.contains("trailing slash"), "{m}");
        let m = issuer_mismatch(&url, "https://a.example", "https://b.example");
        assert!(!m.contains("trailing slash"), "{m}");
    }

    #[test]
    fn well_known_locations() {
        let [a, b] = metadata_urls(&Url::parse("https://auth-api.eliq.com").unwrap());
        assert_eq!(
            a.as_str(),
            "https://auth-api.eliq.com/.well-known/openid-configuration"
        );
        assert_eq!(
            b.as_str(),
            "https://auth-api.eliq.com/.well-known/oauth-authorization-server"
        );
        let [a, b] = metadata_urls(&Url::parse("https://idp.example/tenant-1/").unwrap());
        assert_eq!(
            a.as_str(),
            "https://idp.example/tenant-1/.well-known/openid-configuration"
        );
        assert_eq!(
            b.as_str(),
            "https://idp.example/.well-known/oauth-authorization-server/tenant-1"
        );
    }
}
