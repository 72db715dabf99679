//! The test issuer's HTTP endpoints: discovery, JWKS, token.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};

use super::token::TokenBuilder;
use super::{Failure, Inner};

pub(super) async fn serve(listener: tokio::net::TcpListener, inner: Arc<Inner>) {
    let app = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/.well-known/jwks.json", get(jwks))
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(tenant_discovery),
        )
        .route("/common/discovery/v2.0/keys", get(jwks))
        .route("/oauth/token", post(token))
        .route("/oauth/authorize", get(authorize))
        .with_state(inner);
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!(error = %e, "test issuer stopped");
    }
}

/// The misbehaviour in force, if any, as a response.
async fn misbehave(inner: &Inner, jwks: bool) -> Option<Response> {
    match inner.failure()? {
        Failure::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Some(
                (
                    status,
                    [(CONTENT_TYPE, "text/html")],
                    "<html><body>error</body></html>",
                )
                    .into_response(),
            )
        }
        Failure::Hang => {
            std::future::pending::<()>().await;
            None
        }
        Failure::Garbage => {
            Some(([(CONTENT_TYPE, "application/json")], "<html>not json").into_response())
        }
        Failure::InvalidJwks if jwks => Some(Json(json!({ "keys": {} })).into_response()),
        Failure::InvalidJwks => None,
        Failure::JwksBody(body) if jwks => {
            Some(([(CONTENT_TYPE, "application/json")], body).into_response())
        }
        Failure::JwksBody(_) => None,
    }
}

async fn discovery(State(inner): State<Arc<Inner>>) -> Response {
    inner.discovery_hits.fetch_add(1, Ordering::SeqCst);
    if let Some(res) = misbehave(&inner, false).await {
        return res;
    }
    let url = &inner.url;
    Json(json!({
        "issuer": url,
        "jwks_uri": format!("{url}/.well-known/jwks.json"),
        "authorization_endpoint": format!("{url}/oauth/authorize"),
        "token_endpoint": format!("{url}/oauth/token"),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "id_token_signing_alg_values_supported": ["RS256", "PS256", "ES256", "ES384", "EdDSA"],
        "response_types_supported": ["token"],
        "subject_types_supported": ["public"],
    }))
    .into_response()
}

/// A tenant's discovery document, Entra-style: its own issuer, the JWKS every tenant shares.
async fn tenant_discovery(
    State(inner): State<Arc<Inner>>,
    axum::extract::Path(tenant): axum::extract::Path<String>,
) -> Response {
    inner.discovery_hits.fetch_add(1, Ordering::SeqCst);
    if let Some(res) = misbehave(&inner, false).await {
        return res;
    }
    if !inner.tenants.contains(&tenant) {
        return (StatusCode::NOT_FOUND, "no such tenant").into_response();
    }
    let url = &inner.url;
    Json(json!({
        "issuer": format!("{url}/{tenant}/v2.0"),
        "jwks_uri": format!("{url}/common/discovery/v2.0/keys"),
        "token_endpoint": format!("{url}/{tenant}/oauth2/v2.0/token"),
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["token"],
        "subject_types_supported": ["pairwise"],
    }))
    .into_response()
}

/// Published because discovery requires an authorization endpoint; tokens come from the
/// client-credentials grant only.
async fn authorize() -> Response {
    oauth_error(
        StatusCode::BAD_REQUEST,
        "unsupported_response_type",
        "this issuer grants tokens by client credentials only",
    )
}

async fn jwks(State(inner): State<Arc<Inner>>) -> Response {
    inner.jwks_hits.fetch_add(1, Ordering::SeqCst);
    if let Some(res) = misbehave(&inner, true).await {
        return res;
    }
    let max_age = *inner.max_age.lock().unwrap_or_else(|p| p.into_inner());
    let mut res = Json(inner.jwks()).into_response();
    if let Some(age) = max_age {
        if let Ok(v) = format!("public, max-age={age}").parse() {
            res.headers_mut().insert(CACHE_CONTROL, v);
        }
    }
    res
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        [(CACHE_CONTROL, "no-store")],
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

/// `POST /oauth/token`, client credentials only, as the seeds describe: JSON or form body,
/// client authentication in the body or by HTTP Basic.
async fn token(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    inner.token_hits.fetch_add(1, Ordering::SeqCst);
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let params = if content_type.starts_with("application/json") {
        match json_params(&body) {
            Some(p) => p,
            None => {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "the body must be a JSON object of strings",
                )
            }
        }
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        url::form_urlencoded::parse(&body).into_owned().collect()
    } else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "send JSON or a form",
        );
    };
    let basic = match headers.get(AUTHORIZATION).map(basic_credentials) {
        None => None,
        Some(Some(pair)) => Some(pair),
        Some(None) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "malformed Basic credentials",
            )
        }
    };
    match params.get("grant_type").map(String::as_str) {
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is required",
            )
        }
        Some("client_credentials") => {}
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only client_credentials is supported",
            )
        }
    }
    let (client_id, secret) = match (&basic, params.get("client_id"), params.get("client_secret")) {
        (Some(_), _, Some(_)) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "use one client authentication method",
            )
        }
        (Some((id, secret)), body_id, None) => {
            if body_id.is_some_and(|b| b != id) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "client_id differs from the Basic credentials",
                );
            }
            (id.clone(), secret.clone())
        }
        (None, Some(id), Some(secret)) => (id.clone(), secret.clone()),
        (None, _, _) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "client credentials are required",
            )
        }
    };
    if inner.clients.get(&client_id) != Some(&secret) {
        let mut res = oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
        if basic.is_some() {
            res.headers_mut().insert(
                WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Basic realm=\"test-issuer\""),
            );
        }
        return res;
    }
    // `resource` is the RFC 8707 resource indicator MCP clients send.
    let audience = params
        .get("aud")
        .or_else(|| params.get("audience"))
        .or_else(|| params.get("resource"))
        .cloned()
        .unwrap_or_else(|| inner.audience.clone());
    let mut builder = TokenBuilder::new(Arc::clone(&inner))
        .aud(&audience)
        .client_id(&client_id)
        .sub(params.get("sub").unwrap_or(&client_id));
    if let Some(scope) = params.get("scope") {
        builder = builder.claim("scope", scope.as_str());
    }
    if let Some(sub_type) = params.get("sub_type") {
        builder = builder.sub_type(sub_type);
    }
    (
        [(CACHE_CONTROL, "no-store")],
        Json(json!({
            "access_token": builder.sign(),
            "token_type": "Bearer",
            "expires_in": 3600,
        })),
    )
        .into_response()
}

fn json_params(body: &[u8]) -> Option<HashMap<String, String>> {
    let Value::Object(map) = serde_json::from_slice(body).ok()? else {
        return None;
    };
    map.into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Some((k, s)),
            Value::Bool(b) => Some((k, b.to_string())),
            _ => None,
        })
        .collect()
}

/// `Basic base64(urlencoded(id):urlencoded(secret))` (RFC 6749 §2.3.1).
fn basic_credentials(value: &axum::http::HeaderValue) -> Option<(String, String)> {
    let value = value.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| -> String {
        url::form_urlencoded::parse(format!("v={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((unescape(id), unescape(secret)))
}
