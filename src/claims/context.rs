//! What a grant says beyond who and which scopes: how the user authenticated (`acr`,
//! `auth_time`; RFC 9470), who acts for whom (`act`, `may_act`; RFC 8693 §4.1, §4.4), and for
//! exactly what (`authorization_details`; RFC 9396). Read from a JWT's claims or an
//! introspection answer alike, once the credential is verified.

use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::reject::{shown, AuthError, AuthErrorKind};

/// The deepest `act` chain read; a deeper one is refused as malformed (a chain that long is
/// an attack on the parser, not a delegation).
const MAX_CHAIN: usize = 16;

/// A party acting for the token's subject (RFC 8693 §4.1), or one allowed to (`may_act`,
/// §4.4): identified by `sub`, and by `iss` and `client_id` where the token says.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use serde_json::json;
/// use tower_jwt_auth::{testing::TestIssuer, JwtAuth};
/// let issuer = TestIssuer::start().await;
/// let token = issuer.token().sub("customer-1042")
///     .claim("act", json!({"sub": "agent-17", "client_id": "partner-portal"}))
///     .sign();
/// let claims = JwtAuth::new(issuer.url(), "insights-api").verify(&token).await.unwrap();
/// let actor = &claims.grant().actors()[0];
/// assert_eq!((actor.sub(), actor.client_id()), (Some("agent-17"), Some("partner-portal")));
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    sub: Option<Box<str>>,
    iss: Option<Box<str>>,
    client_id: Option<Box<str>>,
}

impl Actor {
    /// The acting party's subject.
    pub fn sub(&self) -> Option<&str> {
        self.sub.as_deref()
    }

    /// The issuer of the acting party's subject, when given.
    pub fn issuer(&self) -> Option<&str> {
        self.iss.as_deref()
    }

    /// The client the acting party used, when given.
    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    /// Reads one actor object; its own nested `act` is returned beside it.
    fn read(value: &Value) -> Result<(Self, Option<&Value>), AuthError> {
        let Value::Object(members) = value else {
            return Err(malformed("an actor is not a JSON object"));
        };
        let text = |name: &str| match members.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(Box::from(s.as_str()))),
            Some(_) => Err(malformed("an actor's member is not a string")),
        };
        let actor = Self {
            sub: text("sub")?,
            iss: text("iss")?,
            client_id: text("client_id")?,
        };
        if actor.sub.is_none() && actor.client_id.is_none() {
            return Err(malformed("an actor names neither a subject nor a client"));
        }
        Ok((actor, members.get("act")))
    }

    /// Whether `self` is the party `allowed` names: each member `allowed` gives must match.
    pub(crate) fn is_permitted_by(&self, allowed: &Actor) -> bool {
        let fits = |want: &Option<Box<str>>, have: &Option<Box<str>>| {
            want.as_ref().is_none_or(|w| have.as_ref() == Some(w))
        };
        fits(&allowed.sub, &self.sub)
            && fits(&allowed.iss, &self.iss)
            && fits(&allowed.client_id, &self.client_id)
    }
}

impl fmt::Display for Actor {
    /// `sub (client c, issuer i)`, values escaped and cut as every log value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            &self
                .sub
                .as_deref()
                .map_or_else(|| "(no sub)".to_owned(), shown),
        )?;
        if let Some(client) = &self.client_id {
            write!(f, " (client {})", shown(client))?;
        }
        if let Some(iss) = &self.iss {
            write!(f, " (issuer {})", shown(iss))?;
        }
        Ok(())
    }
}

/// The actor chain of an `act` claim, current actor first.
pub(crate) fn actor_chain(act: &RawValue) -> Result<Box<[Actor]>, AuthError> {
    let value: Value =
        serde_json::from_str(act.get()).map_err(|_| malformed("`act` is not JSON"))?;
    let mut chain = Vec::new();
    let mut next = Some(&value);
    while let Some(value) = next {
        if chain.len() == MAX_CHAIN {
            return Err(malformed("the `act` chain is too deep"));
        }
        let (actor, deeper) = Actor::read(value)?;
        chain.push(actor);
        next = deeper;
    }
    Ok(chain.into())
}

/// The party `may_act` allows.
pub(crate) fn may_act(raw: &RawValue) -> Result<Actor, AuthError> {
    let value: Value =
        serde_json::from_str(raw.get()).map_err(|_| malformed("`may_act` is not JSON"))?;
    Actor::read(&value).map(|(actor, _)| actor)
}

/// The chain for a log line: `agent-17 (client partner-portal) → …`.
pub(crate) fn describe_chain(chain: &[Actor]) -> String {
    chain
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" → ")
}

/// One entry of `authorization_details` (RFC 9396 §2): an object with a `type` and members
/// that type defines, such as a payment's `instructedAmount`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use serde::Deserialize;
/// use serde_json::json;
/// use tower_jwt_auth::{testing::TestIssuer, JwtAuth};
///
/// #[derive(Deserialize)]
/// #[serde(rename_all = "camelCase")]
/// struct PaymentInitiation { instructed_amount: Amount }
/// #[derive(Deserialize)]
/// struct Amount { currency: String, amount: String }
///
/// let issuer = TestIssuer::start().await;
/// let token = issuer.token().claim("authorization_details", json!([{
///     "type": "payment_initiation",
///     "instructedAmount": {"currency": "EUR", "amount": "123.50"},
/// }])).sign();
/// let claims = JwtAuth::new(issuer.url(), "insights-api").verify(&token).await.unwrap();
/// let detail = &claims.grant().authorization_details()[0];
/// assert_eq!(detail.kind(), "payment_initiation");
/// let payment: PaymentInitiation = detail.parse().unwrap();
/// assert_eq!(payment.instructed_amount.amount, "123.50");
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct AuthorizationDetail {
    kind: Box<str>,
    value: Value,
}

impl AuthorizationDetail {
    /// Its `type`.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The whole entry, `type` included.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The entry as the application's own type for it.
    ///
    /// # Errors
    /// The entry does not fit `T`.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.value)
    }
}

/// The entries of an `authorization_details` claim: an array of objects, each with a string
/// `type`; anything else is a malformed claim.
pub(crate) fn authorization_details(
    raw: &RawValue,
) -> Result<Arc<[AuthorizationDetail]>, AuthError> {
    let value: Value = serde_json::from_str(raw.get())
        .map_err(|_| malformed("`authorization_details` is not JSON"))?;
    let Value::Array(entries) = value else {
        return Err(malformed("`authorization_details` is not an array"));
    };
    entries
        .into_iter()
        .map(|entry| match entry.get("type") {
            Some(Value::String(kind)) => Ok(AuthorizationDetail {
                kind: kind.as_str().into(),
                value: entry,
            }),
            _ => Err(malformed(
                "an `authorization_details` entry has no string `type`",
            )),
        })
        .collect()
}

fn malformed(detail: &'static str) -> AuthError {
    AuthError::new(AuthErrorKind::InvalidClaim).with_detail(detail)
}
