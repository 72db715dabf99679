//! A Shared Signals receiver (OpenID SSF 1.0): push delivery (RFC 8935) of Security Event
//! Tokens (RFC 8417) signed by a trusted issuer, whose CAEP and RISC events become revocations.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use http_body::Body;
use serde_json::{json, Map, Value};

use super::{Entry, Revocations};
use crate::issuer::Registry;
use crate::jose::{b64, compact, header};
use crate::keys::Why;
use crate::metadata::FixedBody;
use crate::reject::shown;

/// The largest SET read.
const MAX_SET: usize = 64 * 1024;
/// SETs seen, for replay detection.
const SEEN: usize = 100_000;

/// The events that revoke the subject's tokens issued before them.
const REVOKING: [&str; 7] = [
    "https://schemas.openid.net/secevent/caep/event-type/session-revoked",
    "https://schemas.openid.net/secevent/caep/event-type/credential-change",
    "https://schemas.openid.net/secevent/caep/event-type/token-claims-change",
    "https://schemas.openid.net/secevent/risc/event-type/account-disabled",
    "https://schemas.openid.net/secevent/risc/event-type/account-purged",
    "https://schemas.openid.net/secevent/risc/event-type/credential-compromise",
    "https://schemas.openid.net/secevent/risc/event-type/sessions-revoked",
];

/// Receives Security Event Tokens pushed by a transmitter (RFC 8935) and revokes as their
/// events say: a tower service to mount (outside the `JwtAuth` layer, like the RFC 9728
/// document), built by [`JwtAuth::security_event_receiver`](crate::JwtAuth::security_event_receiver).
///
/// A SET is accepted (202) when its `typ` is `secevent+jwt`, it is signed by a trusted
/// issuer's keys (found as for access tokens), its `aud` names this receiver, its `iat` is
/// fresh (5 minutes, and the layer's leeway ahead), and its `jti` was never seen. Otherwise 400
/// with `{"err": …, "description": …}` and RFC 8935's codes: `invalid_request` (not a SET, a
/// replay, a stale `iat`), `invalid_key` (no key verifies it), `invalid_issuer`,
/// `invalid_audience`; and, with a [transmitter token](SecurityEventReceiver::transmitter_token),
/// 401 `authentication_failed` without it.
///
/// Events: CAEP `session-revoked`, `credential-change`, `token-claims-change` and RISC
/// `account-disabled`, `account-purged`, `credential-compromise`, `sessions-revoked` revoke
/// the subject's tokens issued before the event (`event_timestamp`, else the SET's `iat`). The
/// subject is the SET's `sub_id` or the event's `subject`, in the SSF formats `iss_sub`,
/// `email`, `opaque` and `complex` (its `user`). Other events are acknowledged and ignored.
/// With `Revocations::redis` (feature `redis`), one receiving instance revokes for every instance.
#[derive(Clone)]
pub struct SecurityEventReceiver {
    inner: Arc<Inner>,
}

struct Inner {
    keys: Arc<dyn SetKeys>,
    revocations: Revocations,
    audience: String,
    transmitter_token: Option<String>,
    max_age: u64,
    leeway: u64,
    seen: quick_cache::sync::Cache<String, u64>,
}

impl fmt::Debug for SecurityEventReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecurityEventReceiver")
            .field("audience", &self.inner.audience)
            .field("authenticated", &self.inner.transmitter_token.is_some())
            .finish_non_exhaustive()
    }
}

/// What the receiver needs of the authenticator: the trusted issuers and their keys.
pub(crate) trait SetKeys: Send + Sync + 'static {
    fn registry(&self) -> &Registry;
}

/// A refusal: status, RFC 8935 code, description.
type Refusal = (StatusCode, &'static str, String);

impl SecurityEventReceiver {
    pub(crate) fn new(
        keys: Arc<dyn SetKeys>,
        revocations: Revocations,
        audience: String,
        leeway: u64,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                keys,
                revocations,
                audience,
                transmitter_token: None,
                max_age: 300,
                leeway,
                seen: quick_cache::sync::Cache::new(SEEN),
            }),
        }
    }

    fn with(self, f: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| Inner {
            keys: Arc::clone(&shared.keys),
            revocations: shared.revocations.clone(),
            audience: shared.audience.clone(),
            transmitter_token: shared.transmitter_token.clone(),
            max_age: shared.max_age,
            leeway: shared.leeway,
            seen: quick_cache::sync::Cache::new(SEEN),
        });
        f(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Requires the transmitter to authenticate with `Authorization: Bearer <token>` (the
    /// token the stream was configured with). Defaults to none.
    pub fn transmitter_token(self, token: impl Into<String>) -> Self {
        let token = token.into();
        self.with(|i| i.transmitter_token = Some(token))
    }

    /// How old a SET's `iat` may be. Defaults to 5 minutes.
    pub fn max_age(self, max_age: Duration) -> Self {
        self.with(|i| i.max_age = max_age.as_secs())
    }

    async fn receive(&self, token: &str) -> Result<(), Refusal> {
        let inner = &*self.inner;
        let bad = |code: &'static str, why: String| (StatusCode::BAD_REQUEST, code, why);
        let invalid = |why: &str| bad("invalid_request", why.to_owned());
        let (h, p, s, signing_input) =
            compact::split(token.trim()).map_err(|_| invalid("the body is not a compact JWS"))?;
        let header_json = b64::decode(h).map_err(|_| invalid("the header is not base64url"))?;
        let header = header::parse(&header_json, header::TypPolicy::SecurityEvent)
            .map_err(|e| invalid(&format!("{} (a SET has typ secevent+jwt)", e.description())))?;
        let payload = b64::decode(p).map_err(|_| invalid("the payload is not base64url"))?;
        let claims: Map<String, Value> = serde_json::from_slice(&payload)
            .map_err(|_| invalid("the claims are not a JSON object"))?;
        let text = |name: &str| claims.get(name).and_then(Value::as_str);
        let Some(events) = claims.get("events").and_then(Value::as_object) else {
            return Err(invalid("the SET has no events object"));
        };
        let iss = text("iss").ok_or_else(|| invalid("the SET has no iss"))?;
        let trusted = inner.keys.registry().select(iss).ok_or_else(|| {
            bad(
                "invalid_issuer",
                format!("{} is not a trusted issuer", shown(iss)),
            )
        })?;
        header::check_allowed(header.alg, trusted.rules.algorithms)
            .map_err(|_| bad("invalid_key", format!("alg {} is not allowed", header.alg)))?;
        let signature = b64::decode(s).map_err(|_| invalid("the signature is not base64url"))?;
        let mut set = trusted.keys.load_now().await.map_err(|e| {
            bad(
                "invalid_key",
                format!("the issuer's keys are unavailable: {e}"),
            )
        })?;
        if set.find(header.kid.as_deref(), header.alg).is_err() {
            let kid = header.kid.as_deref().map(Box::from);
            set = trusted
                .keys
                .obtain(Why::UnknownKid(kid))
                .await
                .map_err(|e| bad("invalid_key", format!("no key: {e}")))?;
        }
        let key = set
            .find(header.kid.as_deref(), header.alg)
            .map_err(|_| bad("invalid_key", "no key of the issuer has this kid".into()))?;
        let verifier = key
            .verifier(header.alg)
            .ok_or_else(|| bad("invalid_key", "the key does not fit the algorithm".into()))?;
        verifier
            .verify_sig(signing_input.as_bytes(), &signature)
            .map_err(|_| bad("invalid_key", "the signature does not verify".into()))?;
        let aud_ok = match claims.get("aud") {
            Some(Value::String(a)) => *a == inner.audience,
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(&inner.audience)),
            _ => false,
        };
        if !aud_ok {
            return Err(bad(
                "invalid_audience",
                format!("aud does not name {}", shown(&inner.audience)),
            ));
        }
        let now = inner.revocations.state.clock.now();
        let iat = claims
            .get("iat")
            .and_then(Value::as_u64)
            .ok_or_else(|| invalid("the SET has no iat"))?;
        if iat > now + inner.leeway || now.saturating_sub(iat) > inner.max_age {
            return Err(invalid(&format!("iat {iat} is not fresh (now {now})")));
        }
        let jti = text("jti").ok_or_else(|| invalid("the SET has no jti"))?;
        let seen_key = format!("{iss}\u{0}{jti}");
        if inner.seen.get(&seen_key).is_some_and(|until| until > now) {
            return Err(invalid(&format!("jti {} was received before", shown(jti))));
        }
        inner
            .seen
            .insert(seen_key, iat + inner.max_age + inner.leeway);

        let horizon = inner.revocations.state.horizon;
        let mut revocations = Vec::new();
        for (kind, event) in events {
            if !REVOKING.contains(&kind.as_str()) {
                tracing::debug!(event = %shown(kind), "security event ignored");
                continue;
            }
            let subject = claims
                .get("sub_id")
                .or_else(|| event.get("subject"))
                .and_then(|s| subject_of(s, iss));
            let Some((subject_iss, sub)) = subject else {
                return Err(invalid(&format!(
                    "event {} has no subject this receiver understands",
                    shown(kind)
                )));
            };
            let at = event
                .get("event_timestamp")
                .and_then(Value::as_u64)
                .unwrap_or(iat);
            tracing::info!(event = %shown(kind), issuer = %shown(&subject_iss), sub = %shown(&sub), before = at + 1, "security event: revoking the subject's tokens");
            let before = at + 1;
            let entry = Entry::Subject {
                iss: subject_iss,
                sub,
                before,
            };
            revocations.push((entry, before + horizon));
        }
        if let Err(e) = inner.revocations.record(revocations).await {
            tracing::error!(error = %e, "security event applied here, not shared with the fleet");
        }
        Ok(())
    }
}

/// The (issuer, subject) of an SSF subject identifier.
fn subject_of(subject: &Value, set_issuer: &str) -> Option<(String, String)> {
    let text = |name: &str| subject.get(name)?.as_str().map(str::to_owned);
    match subject.get("format")?.as_str()? {
        "iss_sub" => Some((text("iss")?, text("sub")?)),
        "email" => Some((set_issuer.to_owned(), text("email")?)),
        "opaque" => Some((set_issuer.to_owned(), text("id")?)),
        "complex" => subject_of(subject.get("user")?, set_issuer),
        _ => None,
    }
}

fn answer(status: StatusCode, body: Option<Value>) -> Response<FixedBody> {
    let Some(body) = body else {
        let mut res = Response::new(FixedBody::empty());
        *res.status_mut() = status;
        return res;
    };
    let mut res = Response::new(FixedBody::new(Bytes::from(body.to_string())));
    *res.status_mut() = status;
    res.headers_mut().insert(
        CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    res
}

/// Reads at most `MAX_SET` bytes of a body.
async fn read<B: Body + Unpin>(mut body: B) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        match frame {
            None => return Some(out),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    use bytes::Buf;
                    if out.len() + data.remaining() > MAX_SET {
                        return None;
                    }
                    out.extend_from_slice(data.chunk());
                }
            }
            Some(Err(_)) => return None,
        }
    }
}

impl<B> tower_service::Service<Request<B>> for SecurityEventReceiver
where
    B: Body + Send + Unpin + 'static,
    B::Data: Send,
{
    type Response = Response<FixedBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<FixedBody>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let receiver = self.clone();
        Box::pin(async move {
            if req.method() != Method::POST {
                return Ok(answer(StatusCode::METHOD_NOT_ALLOWED, None));
            }
            if let Some(expected) = &receiver.inner.transmitter_token {
                let presented = req
                    .headers()
                    .get(AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "));
                let fits = presented.is_some_and(|p| {
                    aws_lc_rs::constant_time::verify_slices_are_equal(
                        p.as_bytes(),
                        expected.as_bytes(),
                    )
                    .is_ok()
                });
                if !fits {
                    tracing::info!("security event refused: the transmitter did not authenticate");
                    return Ok(answer(
                        StatusCode::UNAUTHORIZED,
                        Some(
                            json!({"err": "authentication_failed", "description": "the transmitter's bearer token is missing or wrong"}),
                        ),
                    ));
                }
            }
            let Some(body) = read(req.into_body()).await else {
                return Ok(answer(
                    StatusCode::BAD_REQUEST,
                    Some(
                        json!({"err": "invalid_request", "description": "the body is unreadable or too large"}),
                    ),
                ));
            };
            let token = String::from_utf8_lossy(&body);
            Ok(match receiver.receive(&token).await {
                Ok(()) => answer(StatusCode::ACCEPTED, None),
                Err((status, code, why)) => {
                    tracing::info!(err = code, reason = %why, "security event refused");
                    answer(status, Some(json!({"err": code, "description": why})))
                }
            })
        })
    }
}
