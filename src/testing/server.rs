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
        // RFC 8414 authorization server metadata: the same document.
        .route("/.well-known/oauth-authorization-server", get(discovery))
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
async fn misbehave(failure: Option<Failure>, jwks: bool) -> Option<Response> {
    match failure? {
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
    if let Some(res) = misbehave(inner.failure(), false).await {
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
    if let Some(res) = misbehave(inner.failure(), false).await {
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
    if let Some(res) = misbehave(inner.failure(), true).await {
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

/// `POST /oauth/token`, as the seeds describe: the client-credentials grant (with Eliq's
/// delegated `sub` / `sub_type` and `issue_refresh_token`) and the refresh-token grant; JSON or
/// form body; client authentication in the body or by HTTP Basic.
async fn token(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    inner.token_hits.fetch_add(1, Ordering::SeqCst);
    let failure = inner
        .token_failure
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    if let Some(failure) = failure {
        if let Some(res) = misbehave(Some(failure), false).await {
            return res;
        }
    }
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
    let mut seen = params.clone();
    if let Some(secret) = seen.get_mut("client_secret") {
        *secret = "…".into();
    }
    *inner
        .last_token_request
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = Some(super::TokenRequest {
        content_type: content_type.to_owned(),
        basic_client_id: basic.as_ref().map(|(id, _)| id.clone()),
        params: seen,
    });
    let mut params = params;
    match params.get("grant_type").map(String::as_str) {
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is required",
            )
        }
        Some("client_credentials") => {}
        Some("refresh_token") => {
            let presented = params.get("refresh_token").cloned().unwrap_or_default();
            let granted = inner
                .refresh_tokens
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&presented);
            let Some(granted) = granted else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "the refresh token is not known",
                );
            };
            // Client authentication, when sent, must name the client the token was issued to.
            let sender = basic
                .as_ref()
                .map(|(id, _)| id)
                .or_else(|| params.get("client_id"));
            if sender.is_some_and(|id| Some(id) != granted.get("client_id")) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "the refresh token was issued to another client",
                );
            }
            return issue(&inner, granted);
        }
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only client_credentials and refresh_token are supported",
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
    params.insert("client_id".into(), client_id);
    issue(&inner, params)
}

/// An access token for the grant's parameters, and a refresh token when asked for (and when
/// renewing one).
fn issue(inner: &Arc<Inner>, params: HashMap<String, String>) -> Response {
    let client_id = params.get("client_id").cloned().unwrap_or_default();
    // `resource` is the RFC 8707 resource indicator MCP clients send.
    let audience = params
        .get("aud")
        .or_else(|| params.get("audience"))
        .or_else(|| params.get("resource"))
        .cloned()
        .unwrap_or_else(|| inner.audience.clone());
    let mut builder = TokenBuilder::new(Arc::clone(inner))
        .aud(&audience)
        .client_id(&client_id)
        .sub(params.get("sub").unwrap_or(&client_id));
    if let Some(scope) = params.get("scope") {
        builder = builder.claim("scope", scope.as_str());
    }
    if let Some(sub_type) = params.get("sub_type") {
        builder = builder.sub_type(sub_type);
    }
    let mut answer = json!({
        "access_token": builder.sign(),
        "token_type": "Bearer",
        "expires_in": 3600,
    });
    let wants_refresh = params.get("issue_refresh_token").map(String::as_str) == Some("true");
    if wants_refresh {
        let refresh = format!("rt_{}", inner.next_jti());
        answer["refresh_token"] = json!(refresh);
        answer["refresh_token_expires_in"] = json!(2_592_000);
        let mut kept = params;
        kept.remove("client_secret");
        kept.remove("refresh_token");
        kept.insert("grant_type".into(), "client_credentials".into());
        inner
            .refresh_tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(refresh, kept);
    }
    ([(CACHE_CONTROL, "no-store")], Json(answer)).into_response()
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
