//! OpenID Connect discovery (and RFC 8414 authorization-server metadata as a fallback): from the
//! issuer to its `jwks_uri`.

use reqwest::Url;
use serde::Deserialize;

use super::fetch::{parse_url, Fetcher};

#[derive(Deserialize)]
struct Metadata {
    issuer: String,
    jwks_uri: Option<String>,
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
) -> Result<Url, String> {
    let [oidc, rfc8414] = metadata_urls(issuer_url);
    let doc = match fetcher.get(&oidc).await {
        Ok(doc) => doc,
        Err(e) if e.status == Some(404) => fetcher.get(&rfc8414).await.map_err(|e| e.message)?,
        Err(e) => return Err(e.message),
    };
    let meta: Metadata = serde_json::from_slice(&doc.body)
        .map_err(|_| "the discovery document is not valid metadata JSON".to_owned())?;
    if meta.issuer != issuer {
        return Err(format!(
            "the discovery document names issuer {:?}, not the configured {issuer:?}",
            meta.issuer
        ));
    }
    let jwks_uri = meta
        .jwks_uri
        .ok_or_else(|| "the discovery document has no jwks_uri".to_owned())?;
    parse_url(&jwks_uri).map_err(|e| format!("jwks_uri: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

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
