//! OAuth 2.0 Protected Resource Metadata (RFC 9728): the document that tells a client which
//! authorization servers issue tokens for this resource and which scopes it knows, served at
//! the resource's well-known path and pointed to from every challenge (`resource_metadata=`,
//! RFC 9728 §5.1). The Model Context Protocol requires it of every protected MCP server.

use std::convert::Infallible;
use std::fmt;
use std::future::{ready, Ready};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use reqwest::Url;
use serde_json::{json, Map, Value};
use tower_service::Service;

use crate::outbound::parse_url;
use crate::reject::{shown, ConfigError};

/// The well-known prefix (RFC 9728 §3).
const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";
/// How long clients may cache the document.
const MAX_AGE: &str = "public, max-age=3600";

/// What this resource publishes about itself (RFC 9728 §2), given to
/// [`JwtAuth::resource_metadata`](crate::JwtAuth::resource_metadata).
///
/// `authorization_servers` is filled in with every trusted issuer, and
/// `bearer_methods_supported` with `["header"]`. The `resource` must be an https URL (http
/// only to a loopback host) with neither query nor fragment, and must equal the layer's
/// audience: clients ask for tokens minted for this resource (RFC 8707), and only those are
/// accepted.
///
/// ```
/// use tower_jwt_auth::{JwtAuth, ResourceMetadata};
/// let auth = JwtAuth::new("https://auth.example.com", "https://mcp.example.com/mcp")
///     .resource_metadata(ResourceMetadata::new("https://mcp.example.com/mcp")
///         .scopes_supported(["mcp.tools", "mcp.resources"])
///         .resource_name("Usage insights"));
/// assert_eq!(auth.metadata_path(), "/.well-known/oauth-protected-resource/mcp");
/// ```
#[derive(Debug, Clone)]
#[must_use = "a `ResourceMetadata` does nothing until given to `JwtAuth::resource_metadata`"]
pub struct ResourceMetadata {
    resource: String,
    scopes_supported: Option<Vec<String>>,
    resource_name: Option<String>,
    resource_documentation: Option<String>,
}

impl ResourceMetadata {
    /// The metadata of the resource identified by `resource` (its URL, the audience of its
    /// tokens).
    pub fn new(resource: impl Into<String>) -> Self {
        Self {
            resource: resource.into(),
            scopes_supported: None,
            resource_name: None,
            resource_documentation: None,
        }
    }

    /// The scopes clients may request for this resource (`scopes_supported`).
    pub fn scopes_supported<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes_supported = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// A human-readable name (`resource_name`).
    pub fn resource_name(mut self, name: impl Into<String>) -> Self {
        self.resource_name = Some(name.into());
        self
    }

    /// A page of documentation for developers (`resource_documentation`, a URL).
    pub fn resource_documentation(mut self, url: impl Into<String>) -> Self {
        self.resource_documentation = Some(url.into());
        self
    }

    /// The resource identifier, as configured.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The resource as a URL, checked; `audience` must equal it.
    pub(crate) fn validate(&self, audience: &str) -> Result<Url, ConfigError> {
        let error = |why: String| ConfigError::new("resource_metadata", why);
        let url = parse_url(&self.resource).map_err(|e| error(format!("resource: {e}")))?;
        if url.fragment().is_some() || url.query().is_some() {
            return Err(error(format!(
                "resource {} must have no query or fragment (RFC 9728 §2)",
                shown(&self.resource)
            )));
        }
        if self.resource != audience {
            return Err(error(format!(
                "resource {} is not the audience {}: clients request tokens for the resource \
                 (RFC 8707) and only tokens for the audience are accepted, so the two must be \
                 equal",
                shown(&self.resource),
                shown(audience)
            )));
        }
        if let Some(doc) = &self.resource_documentation {
            Url::parse(doc).map_err(|e| {
                error(format!(
                    "resource_documentation {} is not a URL: {e}",
                    shown(doc)
                ))
            })?;
        }
        if let Some(scope) = self.scopes_supported.iter().flatten().find(|s| {
            s.is_empty()
                || s.bytes()
                    .any(|b| b == b' ' || b == b'"' || b == b'\\' || b < 0x21)
        }) {
            return Err(error(format!("{} is not a scope token", shown(scope))));
        }
        Ok(url)
    }
}

/// The well-known path of `resource`'s metadata: the prefix, then the resource's path without a
/// trailing slash (RFC 9728 §3.1).
pub(crate) fn well_known_path(resource: &str) -> String {
    let path = Url::parse(resource)
        .ok()
        .filter(|u| u.has_host())
        .map(|u| u.path().trim_end_matches('/').to_owned())
        .unwrap_or_default();
    format!("{WELL_KNOWN}{path}")
}

/// The built document and where it is.
pub(crate) struct Published {
    /// The absolute URL of the document, for challenges.
    pub(crate) url: Arc<str>,
    document: Bytes,
}

impl Published {
    /// Builds the document of `meta` (already validated as `resource`) for the trusted
    /// `issuers`.
    pub(crate) fn new(
        meta: &ResourceMetadata,
        resource: &Url,
        issuers: Vec<String>,
        binding: &Binding,
    ) -> Self {
        let mut doc = Map::new();
        doc.insert("resource".into(), meta.resource.clone().into());
        doc.insert("authorization_servers".into(), issuers.into());
        if let Some(scopes) = &meta.scopes_supported {
            doc.insert("scopes_supported".into(), scopes.clone().into());
        }
        doc.insert("bearer_methods_supported".into(), json!(["header"]));
        if let Some((algs, required)) = &binding.dpop {
            doc.insert("dpop_signing_alg_values_supported".into(), json!(algs));
            doc.insert("dpop_bound_access_tokens_required".into(), json!(required));
        }
        if binding.certificates {
            doc.insert(
                "tls_client_certificate_bound_access_tokens".into(),
                json!(true),
            );
        }
        if let Some(name) = &meta.resource_name {
            doc.insert("resource_name".into(), name.clone().into());
        }
        if let Some(url) = &meta.resource_documentation {
            doc.insert("resource_documentation".into(), url.clone().into());
        }
        let mut url = resource.clone();
        url.set_path(&well_known_path(&meta.resource));
        Self {
            url: url.as_str().into(),
            document: Bytes::from(Value::Object(doc).to_string()),
        }
    }
}

/// What the document says about sender-constrained tokens.
pub(crate) struct Binding {
    /// DPoP's proof algorithms, and whether bearer tokens are refused.
    pub(crate) dpop: Option<(Vec<&'static str>, bool)>,
    /// Whether certificate-bound tokens are accepted.
    pub(crate) certificates: bool,
}

impl fmt::Debug for Published {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Published")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// The metadata document as a tower `Service`, from
/// [`JwtAuth::metadata_service`](crate::JwtAuth::metadata_service): `GET` and `HEAD` answer the
/// JSON (`Cache-Control: public, max-age=3600`), other methods 405; 404 when the layer has no
/// [`ResourceMetadata`]. Public: mount it outside the layer.
#[derive(Clone, Debug)]
pub struct MetadataService {
    published: Option<Arc<Published>>,
}

impl MetadataService {
    pub(crate) fn new(published: Option<Arc<Published>>) -> Self {
        Self { published }
    }

    fn answer(&self, method: &Method) -> Response<FixedBody> {
        let Some(published) = &self.published else {
            let mut res = Response::new(FixedBody::empty());
            *res.status_mut() = StatusCode::NOT_FOUND;
            return res;
        };
        if method != Method::GET && method != Method::HEAD {
            let mut res = Response::new(FixedBody::empty());
            *res.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            res.headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            return res;
        }
        let body = if method == Method::HEAD {
            FixedBody::empty()
        } else {
            FixedBody::new(published.document.clone())
        };
        let mut res = Response::new(body);
        let headers = res.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static(MAX_AGE));
        headers.insert(
            http::header::CONTENT_LENGTH,
            HeaderValue::from(published.document.len()),
        );
        res
    }
}

impl<B> Service<Request<B>> for MetadataService {
    type Response = Response<FixedBody>;
    type Error = Infallible;
    type Future = Ready<Result<Response<FixedBody>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        ready(Ok(self.answer(req.method())))
    }
}

/// The body of the crate's own services' responses ([`MetadataService`],
/// [`SecurityEventReceiver`](crate::service::SecurityEventReceiver)): bytes known in full.
#[derive(Debug)]
pub struct FixedBody {
    data: Option<Bytes>,
}

impl FixedBody {
    pub(crate) fn new(data: Bytes) -> Self {
        Self { data: Some(data) }
    }

    pub(crate) fn empty() -> Self {
        Self { data: None }
    }
}

impl Body for FixedBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.data.take().map(|d| Ok(Frame::data(d))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.as_ref().map_or(0, |d| d.len() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_paths() {
        assert_eq!(
            well_known_path("https://mcp.example.com/mcp"),
            "/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(
            well_known_path("https://mcp.example.com/"),
            "/.well-known/oauth-protected-resource"
        );
        assert_eq!(
            well_known_path("https://mcp.example.com/a/b/"),
            "/.well-known/oauth-protected-resource/a/b"
        );
        assert_eq!(
            well_known_path("insights-api"),
            "/.well-known/oauth-protected-resource"
        );
    }

    #[test]
    fn the_resource_must_be_the_audience_and_a_plain_url() {
        let check = |r: &str, aud: &str| ResourceMetadata::new(r).validate(aud);
        assert!(check("https://mcp.example.com/mcp", "https://mcp.example.com/mcp").is_ok());
        assert!(check("http://127.0.0.1:8080/mcp", "http://127.0.0.1:8080/mcp").is_ok());
        for (resource, audience, needle) in [
            (
                "https://mcp.example.com/mcp",
                "insights-api",
                "not the audience",
            ),
            (
                "http://mcp.example.com/mcp",
                "http://mcp.example.com/mcp",
                "https",
            ),
            (
                "https://mcp.example.com/mcp#x",
                "https://mcp.example.com/mcp#x",
                "fragment",
            ),
            (
                "https://mcp.example.com/mcp?a=1",
                "https://mcp.example.com/mcp?a=1",
                "query",
            ),
            ("mcp", "mcp", "not a URL"),
        ] {
            let err = check(resource, audience).unwrap_err();
            assert_eq!(err.field(), "resource_metadata");
            assert!(err.reason().contains(needle), "{err}");
        }
    }
}
