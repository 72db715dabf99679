//! A Shared Signals transmitter for tests: Security Event Tokens signed with the test issuer's
//! keys, pushed to a receiver (RFC 8935).

use serde_json::{json, Value};

use super::TokenBuilder;

/// A Security Event Token (RFC 8417) of the test issuer, to sign and push to a receiver:
/// `typ: secevent+jwt`, `iss` the issuer, a fresh `jti` and `iat`, the given events, and an
/// SSF `sub_id`. Made by [`TestIssuer::security_event`](super::TestIssuer::security_event).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use tower_jwt_auth::testing::TestIssuer;
/// let issuer = TestIssuer::start().await;
/// let set = issuer
///     .security_event("https://schemas.openid.net/secevent/risc/event-type/account-disabled")
///     .subject(issuer.url(), "customer-1042")
///     .audience("https://insights.eliq.com/ssf")
///     .sign();
/// assert_eq!(set.split('.').count(), 3);
/// # }
/// ```
#[must_use = "a security event does nothing until signed or pushed"]
#[derive(Clone)]
pub struct SecurityEventBuilder {
    token: TokenBuilder,
    events: serde_json::Map<String, Value>,
}

impl SecurityEventBuilder {
    pub(crate) fn new(token: TokenBuilder, event_type: &str) -> Self {
        let mut token = token;
        for name in ["aud", "sub", "client_id", "exp", "scope"] {
            token = token.without(name);
        }
        let mut events = serde_json::Map::new();
        events.insert(event_type.to_owned(), json!({}));
        Self {
            token: token.header("typ", "secevent+jwt"),
            events,
        }
    }

    /// The SET's audience: the receiver.
    pub fn audience(mut self, aud: &str) -> Self {
        self.token = self.token.claim("aud", aud);
        self
    }

    /// The subject, as an SSF `iss_sub` identifier (`sub_id`).
    pub fn subject(mut self, iss: &str, sub: &str) -> Self {
        self.token = self.token.claim(
            "sub_id",
            json!({"format": "iss_sub", "iss": iss, "sub": sub}),
        );
        self
    }

    /// The subject as any SSF subject identifier (`email`, `opaque`, `complex`, …).
    pub fn subject_id(mut self, sub_id: Value) -> Self {
        self.token = self.token.claim("sub_id", sub_id);
        self
    }

    /// The first event's members (`event_timestamp`, `reason_admin`, …).
    pub fn event_members(mut self, members: Value) -> Self {
        if let (Some((_, Value::Object(event))), Value::Object(members)) =
            (self.events.iter_mut().next(), members)
        {
            event.extend(members);
        }
        self
    }

    /// Another claim (`iat`, `jti`, `iss`, …), or a header member with
    /// [`header`](SecurityEventBuilder::header).
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.token = self.token.claim(name, value);
        self
    }

    /// A JWS header member (`typ`, `kid`, …).
    pub fn header(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.token = self.token.header(name, value);
        self
    }

    /// The signed SET.
    pub fn sign(self) -> String {
        self.token
            .claim("events", Value::Object(self.events))
            .sign()
    }

    /// Signs the SET and pushes it to `url` (RFC 8935: `POST`, `Content-Type:
    /// application/secevent+jwt`), with `Authorization: Bearer <bearer>` when given.
    ///
    /// # Errors
    /// The receiver could not be reached.
    pub async fn push(
        self,
        url: &str,
        bearer: Option<&str>,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let mut request = reqwest::Client::new()
            .post(url)
            .header("content-type", "application/secevent+jwt")
            .header("accept", "application/json")
            .body(self.sign());
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        request.send().await
    }
}
