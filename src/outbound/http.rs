//! The one outbound HTTP client: every fetch has a connect timeout, a total timeout, a body size
//! cap, at most two redirects and the https-or-loopback rule on every hop. A failure says what
//! went wrong in the terms a person fixes it in: refused, not resolved, TLS (with the certificate
//! problem), timed out, or the status or body was wrong.

use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use reqwest::{redirect, Client, Url};

use crate::reject::{KeySourceError, KeySourceErrorKind as Kind};

/// Limits for one fetch.
#[derive(Debug, Clone)]
pub(crate) struct FetchLimits {
    pub(crate) connect_timeout: Duration,
    pub(crate) total_timeout: Duration,
    pub(crate) max_bytes: usize,
}

impl Default for FetchLimits {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            total_timeout: Duration::from_secs(10),
            max_bytes: 256 * 1024,
        }
    }
}

/// A fetched document and its `Cache-Control: max-age`, if any.
pub(crate) struct Fetched {
    pub(crate) body: Vec<u8>,
    pub(crate) max_age: Option<u64>,
}

/// The HTTP client, built on first use (building one loads the platform's trust roots) unless
/// the application supplied its own.
pub(crate) struct Fetcher {
    limits: FetchLimits,
    supplied: Option<Client>,
    built: OnceLock<Result<Client, KeySourceError>>,
    /// Whether idle connections are kept: not for key fetches minutes apart, but for an
    /// introspection endpoint called on every cache miss.
    keep_alive: bool,
    /// CA certificates trusted besides the platform's (a private identity provider).
    roots: Vec<reqwest::Certificate>,
    /// A file whose content goes with every GET as a bearer token, read each time.
    bearer_file: Option<std::path::PathBuf>,
}

/// A POST body and its client authentication.
pub(crate) struct Form<'a> {
    pub(crate) body: String,
    pub(crate) authorization: Option<&'a str>,
}

/// An answer of any status: an OAuth endpoint explains its refusals in a JSON body.
#[cfg_attr(not(feature = "client"), allow(dead_code))]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

/// `application/x-www-form-urlencoded` of one value (RFC 6749 §2.3.1 encodes the client
/// credentials this way before Basic authentication, too).
pub(crate) fn form_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// `Basic base64(urlencode(id):urlencode(secret))`, as RFC 6749 §2.3.1 asks.
pub(crate) fn basic_authorization(client_id: &str, client_secret: &str) -> String {
    use base64::Engine as _;
    let pair = format!("{}:{}", form_encode(client_id), form_encode(client_secret));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

impl Fetcher {
    pub(crate) fn new(limits: FetchLimits, supplied: Option<Client>) -> Self {
        Self {
            limits,
            supplied,
            built: OnceLock::new(),
            keep_alive: false,
            roots: Vec::new(),
            bearer_file: None,
        }
    }

    /// A fetcher of one issuer's own: trusting these CA certificates (PEM) besides the
    /// platform's, and sending the content of `bearer_file` (when it exists) as a bearer token.
    ///
    /// # Errors
    /// A CA document that holds no certificate.
    pub(crate) fn with_auth(
        limits: FetchLimits,
        supplied: Option<Client>,
        ca_pems: &[String],
        bearer_file: Option<std::path::PathBuf>,
    ) -> Result<Self, String> {
        let mut roots = Vec::new();
        for pem in ca_pems {
            let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
                .map_err(|e| format!("not a PEM certificate: {e}"))?;
            if certs.is_empty() {
                return Err("the PEM document holds no certificate".into());
            }
            roots.extend(certs);
        }
        Ok(Self {
            roots,
            bearer_file,
            ..Self::new(limits, supplied)
        })
    }

    /// A fetcher that keeps idle connections open, for frequent calls to one endpoint.
    pub(crate) fn keep_alive(limits: FetchLimits, supplied: Option<Client>) -> Self {
        Self {
            keep_alive: true,
            ..Self::new(limits, supplied)
        }
    }

    /// The longest a fetch may take.
    pub(crate) fn total_timeout(&self) -> Duration {
        self.limits.total_timeout
    }

    fn client(&self) -> Result<&Client, KeySourceError> {
        if let Some(c) = &self.supplied {
            return Ok(c);
        }
        self.built
            .get_or_init(|| {
                // Key fetches are minutes apart: an idle connection would only go stale.
                let idle = if self.keep_alive { usize::MAX } else { 0 };
                let mut builder = Client::builder();
                for root in &self.roots {
                    builder = builder.add_root_certificate(root.clone());
                }
                builder
                    .connect_timeout(self.limits.connect_timeout)
                    .timeout(self.limits.total_timeout)
                    .pool_max_idle_per_host(idle)
                    .redirect(redirect::Policy::custom(|attempt| {
                        if attempt.previous().len() > 2 {
                            attempt.error("more than 2 redirects")
                        } else if let Err(e) = check_url(attempt.url()) {
                            attempt.error(e)
                        } else {
                            attempt.follow()
                        }
                    }))
                    .build()
                    .map_err(|e| {
                        KeySourceError::new(
                            Kind::Other,
                            format!("cannot build the HTTP client: {e}"),
                        )
                    })
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// GETs `url`, refusing non-2xx answers and bodies over the size cap.
    pub(crate) async fn get(&self, url: &Url) -> Result<Fetched, KeySourceError> {
        let client = self.client()?;
        let mut request = client.get(url.clone());
        if let Some(token) = self.bearer_token() {
            request = request.bearer_auth(token);
        }
        self.within_timeout(url, self.read(url, request)).await
    }

    /// The bearer token of `bearer_file`, read afresh (a rotated service-account token), if
    /// the file exists.
    fn bearer_token(&self) -> Option<String> {
        let path = self.bearer_file.as_ref()?;
        match std::fs::read_to_string(path) {
            Ok(token) => Some(token.trim().to_owned()).filter(|t| !t.is_empty()),
            Err(e) => {
                tracing::debug!(path = %path.display(), error = %e, "no token file for key requests");
                None
            }
        }
    }

    /// POSTs an `application/x-www-form-urlencoded` body to `url`, with the same limits.
    pub(crate) async fn post_form(
        &self,
        url: &Url,
        form: Form<'_>,
    ) -> Result<Fetched, KeySourceError> {
        let client = self.client()?;
        let mut request = client
            .post(url.clone())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form.body);
        if let Some(authorization) = form.authorization {
            request = request.header(AUTHORIZATION, authorization);
        }
        self.within_timeout(url, self.read(url, request)).await
    }

    /// POSTs `body` of `content_type` to `url` with the same limits, and returns the answer
    /// whatever its status.
    #[cfg_attr(not(feature = "client"), allow(dead_code))]
    pub(crate) async fn post_any(
        &self,
        url: &Url,
        content_type: &'static str,
        form: Form<'_>,
    ) -> Result<Answer, KeySourceError> {
        let client = self.client()?;
        let mut request = client
            .post(url.clone())
            .header(CONTENT_TYPE, content_type)
            .body(form.body);
        if let Some(authorization) = form.authorization {
            request = request.header(AUTHORIZATION, authorization);
        }
        self.within_timeout(url, async {
            let mut res = request
                .header(ACCEPT, "application/json")
                .send()
                .await
                .map_err(|e| describe(url, &e))?;
            let status = res.status().as_u16();
            let body = self.body(url, &mut res).await?;
            Ok(Answer { status, body })
        })
        .await
    }

    async fn within_timeout<T>(
        &self,
        url: &Url,
        fetch: impl std::future::Future<Output = Result<T, KeySourceError>>,
    ) -> Result<T, KeySourceError> {
        let total = self.limits.total_timeout;
        match tokio::time::timeout(total, fetch).await {
            Ok(result) => result,
            Err(_) => Err(KeySourceError::new(
                Kind::Timeout,
                format!("{url}: timed out: no complete answer within {total:?}"),
            )),
        }
    }

    async fn read(
        &self,
        url: &Url,
        request: reqwest::RequestBuilder,
    ) -> Result<Fetched, KeySourceError> {
        let mut res = request
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| describe(url, &e))?;
        let status = res.status();
        if !status.is_success() {
            return Err(KeySourceError::http(
                status.as_u16(),
                format!("{url}: HTTP status {}", status.as_u16()),
            ));
        }
        let max_age = res
            .headers()
            .get_all(CACHE_CONTROL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(parse_max_age);
        let body = self.body(url, &mut res).await?;
        Ok(Fetched { body, max_age })
    }

    /// The body, within the size cap.
    async fn body(
        &self,
        url: &Url,
        res: &mut reqwest::Response,
    ) -> Result<Vec<u8>, KeySourceError> {
        let cap = self.limits.max_bytes;
        let declared = res
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let too_large = || {
            KeySourceError::new(
                Kind::InvalidDocument,
                format!("{url}: body larger than {cap} bytes"),
            )
        };
        if declared.is_some_and(|len| len > cap as u64) {
            return Err(too_large());
        }
        let mut body =
            Vec::with_capacity(declared.map_or(8 * 1024, |l| l.min(cap as u64) as usize));
        while let Some(chunk) = res.chunk().await.map_err(|e| describe(url, &e))? {
            if body.len() + chunk.len() > cap {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// Names the failure the way a person fixes it, from the whole error chain: reqwest's own
/// classification is too coarse ("error sending request") to act on.
fn describe(url: &Url, e: &reqwest::Error) -> KeySourceError {
    let mut chain: Vec<&(dyn std::error::Error + 'static)> = Vec::new();
    let mut next = std::error::Error::source(e);
    while let Some(src) = next {
        chain.push(src);
        // An `io::Error`'s own `source` skips the error it wraps (rustls's, for one): follow
        // the wrapped error instead.
        next = match src
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => src.source(),
        };
    }
    let io_kind = chain
        .iter()
        .find_map(|s| s.downcast_ref::<std::io::Error>())
        .map(std::io::Error::kind);
    let tls = chain.iter().find_map(|s| s.downcast_ref::<rustls::Error>());
    let innermost = chain.last().map(ToString::to_string).unwrap_or_default();
    let (kind, what) = if let Some(tls) = tls {
        (
            Kind::Tls,
            format!("connection failed: TLS handshake failed: {tls}"),
        )
    } else if e.is_timeout() || io_kind == Some(std::io::ErrorKind::TimedOut) {
        (Kind::Timeout, format!("timed out ({innermost})"))
    } else if io_kind == Some(std::io::ErrorKind::ConnectionRefused) {
        (
            Kind::ConnectionRefused,
            "connection failed: connection refused".to_owned(),
        )
    } else if chain.iter().any(|s| s.to_string().starts_with("dns error")) {
        (
            Kind::NameNotResolved,
            format!("connection failed: the host name did not resolve ({innermost})"),
        )
    } else if e.is_redirect() {
        (Kind::Redirect, format!("redirect refused ({innermost})"))
    } else if e.is_connect() {
        (Kind::Connect, format!("connection failed ({innermost})"))
    } else if e.is_body() || e.is_decode() {
        (
            Kind::InvalidDocument,
            format!("the body could not be read ({innermost})"),
        )
    } else if innermost.contains("InvalidContentType") || innermost.contains("corrupt message") {
        (
            Kind::Tls,
            format!("connection failed: TLS handshake failed ({innermost})"),
        )
    } else {
        (Kind::Other, format!("request failed ({innermost})"))
    };
    KeySourceError::new(kind, format!("{url}: {what}"))
}

/// `max-age=N` from a `Cache-Control` value; `no-store` / `no-cache` count as 0.
fn parse_max_age(value: &str) -> Option<u64> {
    value.split(',').find_map(|directive| {
        let directive = directive.trim();
        if directive.eq_ignore_ascii_case("no-store") || directive.eq_ignore_ascii_case("no-cache")
        {
            return Some(0);
        }
        let (name, v) = directive.split_once('=')?;
        if name.trim().eq_ignore_ascii_case("max-age") {
            v.trim().trim_matches('"').parse().ok()
        } else {
            None
        }
    })
}

/// `https`, or `http` to a loopback host (127.0.0.0/8, ::1, localhost).
pub(crate) fn check_url(url: &Url) -> Result<(), String> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err(format!(
            "{url}: plain http is only allowed to loopback hosts; use https"
        )),
        other => Err(format!("{url}: unsupported scheme {other:?}")),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Parses and checks a URL from configuration or a discovery document.
pub(crate) fn parse_url(value: &str) -> Result<Url, String> {
    let url = Url::parse(value).map_err(|e| format!("{value:?} is not a URL: {e}"))?;
    if url.host().is_none() {
        return Err(format!("{value:?} has no host"));
    }
    check_url(&url)?;
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(parse_max_age("public, max-age=600"), Some(600));
        assert_eq!(parse_max_age("no-store"), Some(0));
        assert_eq!(parse_max_age("public"), None);
        assert_eq!(parse_max_age("max-age=abc"), None);
    }

    #[test]
    fn https_or_loopback_only() {
        assert!(parse_url("https://auth-api.eliq.com").is_ok());
        assert!(parse_url("http://127.0.0.1:8080").is_ok());
        assert!(parse_url("http://127.9.9.9").is_ok());
        assert!(parse_url("http://[::1]:1").is_ok());
        assert!(parse_url("http://localhost:1").is_ok());
        assert!(parse_url("http://auth-api.eliq.com").is_err());
        assert!(parse_url("http://10.0.0.1").is_err());
        assert!(parse_url("http://localhost.evil.com").is_err());
        assert!(parse_url("ftp://localhost").is_err());
        assert!(parse_url("not a url").is_err());
    }
}
