//! Verified claims: the typed [`Claims`] handed to handlers, the default [`AccessClaims`], and the
//! type-erased [`Grant`] that per-route policies read.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::response::Responder;

/// Verified claims of the request's access token, of the application's type `C`.
///
/// Put into the request extensions by the layer; an axum extractor (feature `axum`); readable
/// with `request.extensions().get::<Claims>()` anywhere else. Cheap to clone.
///
/// ```
/// # use tower_jwt_auth::Claims;
/// async fn usage(claims: Claims) -> String {
///     format!("{} may {:?}", claims.sub, claims.scopes().collect::<Vec<_>>())
/// }
/// ```
pub struct Claims<C = AccessClaims> {
    claims: Arc<C>,
    grant: Grant,
}

impl<C> Claims<C> {
    pub(crate) fn new(claims: C, grant: Grant) -> Self {
        Self {
            claims: Arc::new(claims),
            grant,
        }
    }

    /// What the token grants, independent of the claims type: subject, scopes, `sub_type`,
    /// expiry.
    pub fn grant(&self) -> &Grant {
        &self.grant
    }

    /// The shared claims value.
    pub fn into_inner(self) -> Arc<C> {
        self.claims
    }
}

impl<C> Clone for Claims<C> {
    fn clone(&self) -> Self {
        Self {
            claims: Arc::clone(&self.claims),
            grant: self.grant.clone(),
        }
    }
}

impl<C> Deref for Claims<C> {
    type Target = C;
    fn deref(&self) -> &C {
        &self.claims
    }
}

impl<C: fmt::Debug> fmt::Debug for Claims<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.claims, f)
    }
}

/// What a verified token grants, whatever the application's claims type. Inserted into the
/// request extensions next to [`Claims`]; [`RequireScopes`](crate::RequireScopes) reads it, and
/// so can middleware that does not know the claims type.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use tower_jwt_auth::{testing::TestIssuer, JwtAuth};
/// let issuer = TestIssuer::start().await;
/// let auth = JwtAuth::new(issuer.url(), "insights-api");
/// let token = issuer.token().sub("u-1").sub_type("user").scopes(["insights.read"]).sign();
/// let grant = auth.verify(&token).await.unwrap().grant().clone();
/// assert_eq!((grant.sub(), grant.sub_type()), ("u-1", Some("user")));
/// assert!(grant.has_scope("insights.read") && !grant.has_scope("insights.write"));
/// # }
/// ```
#[derive(Clone)]
pub struct Grant {
    inner: Arc<GrantInner>,
}

struct GrantInner {
    sub: Box<str>,
    sub_type: Option<Box<str>>,
    /// Space-delimited, as issued; see [`Registered::scopes`].
    scopes: Box<str>,
    exp: u64,
    nbf: Option<u64>,
    responder: Responder,
}

impl Grant {
    pub(crate) fn new(
        sub: &str,
        sub_type: Option<&str>,
        scopes: Box<str>,
        (exp, nbf): (u64, Option<u64>),
        responder: Responder,
    ) -> Self {
        Self {
            inner: Arc::new(GrantInner {
                sub: sub.into(),
                sub_type: sub_type.map(Into::into),
                scopes,
                exp,
                nbf,
                responder,
            }),
        }
    }

    /// The `sub` claim.
    pub fn sub(&self) -> &str {
        &self.inner.sub
    }

    /// The `sub_type` claim, e.g. `"user"` for delegated tokens.
    pub fn sub_type(&self) -> Option<&str> {
        self.inner.sub_type.as_deref()
    }

    /// The granted scopes, from `scope` (space-delimited) and `scp` (array or string).
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.inner.scopes.split(' ').filter(|s| !s.is_empty())
    }

    /// Whether `scope` was granted (exact, case-sensitive comparison).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().any(|s| s == scope)
    }

    /// The `exp` claim, seconds since the Unix epoch.
    pub fn expires_at(&self) -> u64 {
        self.inner.exp
    }

    /// The `nbf` claim, if any, seconds since the Unix epoch.
    pub fn not_before(&self) -> Option<u64> {
        self.inner.nbf
    }

    /// How refusals are answered for this token's layer (realm, custom closure).
    pub(crate) fn responder(&self) -> &Responder {
        &self.inner.responder
    }
}

impl fmt::Debug for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Grant")
            .field("sub", &self.sub())
            .field("sub_type", &self.sub_type())
            .field("scopes", &self.scopes().collect::<Vec<_>>())
            .field("exp", &self.inner.exp)
            .finish()
    }
}

/// The claims of an OAuth 2.0 JWT access token (RFC 9068 and the seeds' delegated tokens).
///
/// The default claims type. For more claims, use your own `T: DeserializeOwned` with
/// [`JwtAuth::with_claims`](crate::JwtAuth::with_claims); the registered claims are still
/// validated.
///
/// ```
/// use tower_jwt_auth::AccessClaims;
/// let claims: AccessClaims = serde_json::from_str(r#"{
///     "iss": "https://auth-api.eliq.com", "sub": "user-1042", "sub_type": "user",
///     "aud": "insights-api", "exp": 1800000000, "scope": "insights.read insights.write"
/// }"#).unwrap();
/// assert!(claims.aud.contains("insights-api"));
/// assert_eq!(claims.scopes().collect::<Vec<_>>(), ["insights.read", "insights.write"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// Subject: the end user for delegated tokens, the client for app tokens.
    pub sub: String,
    /// Audience(s).
    pub aud: Audience,
    /// Expiry, seconds since the Unix epoch.
    #[serde(deserialize_with = "numeric_date")]
    pub exp: u64,
    /// Not before, seconds since the Unix epoch.
    #[serde(
        default,
        deserialize_with = "opt_numeric_date",
        skip_serializing_if = "Option::is_none"
    )]
    pub nbf: Option<u64>,
    /// Issued at, seconds since the Unix epoch.
    #[serde(
        default,
        deserialize_with = "opt_numeric_date",
        skip_serializing_if = "Option::is_none"
    )]
    pub iat: Option<u64>,
    /// Token id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// The OAuth client the token was issued to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Space-delimited scopes, as issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Scopes as an array (`scp`), as some providers issue them.
    #[serde(
        default,
        deserialize_with = "opt_string_list",
        skip_serializing_if = "Option::is_none"
    )]
    pub scp: Option<Vec<String>>,
    /// Subject type, e.g. `"user"` for delegated tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_type: Option<String>,
}

impl AccessClaims {
    /// The granted scopes, from `scope` and `scp`.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope
            .as_deref()
            .into_iter()
            .flat_map(|s| s.split(' ').filter(|s| !s.is_empty()))
            .chain(self.scp.iter().flatten().map(String::as_str))
    }
}

/// The `aud` claim: one audience or several. Serialises back as it is most commonly written: a
/// string when there is one.
///
/// ```
/// use tower_jwt_auth::Audience;
/// let aud: Audience = serde_json::from_str(r#"["insights-api", "data-management-api"]"#).unwrap();
/// assert!(aud.contains("data-management-api"));
/// assert_eq!(serde_json::to_string(&Audience::from("insights-api")).unwrap(), r#""insights-api""#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Audience(pub Vec<String>);

impl Audience {
    /// Whether `aud` names this audience.
    pub fn contains(&self, audience: &str) -> bool {
        self.0.iter().any(|a| a == audience)
    }

    /// The audiences.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl Deref for Audience {
    type Target = [String];
    fn deref(&self) -> &[String] {
        &self.0
    }
}

impl From<&str> for Audience {
    fn from(a: &str) -> Self {
        Self(vec![a.to_owned()])
    }
}

impl Serialize for Audience {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => s.serialize_str(one),
            many => many.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let list = d.deserialize_any(StrOrSeq(PhantomData))?;
        Ok(Audience(list.into_iter().map(Cow::into_owned).collect()))
    }
}

fn opt_string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    let list = d.deserialize_any(StrOrSeq(PhantomData))?;
    Ok(Some(list.into_iter().map(Cow::into_owned).collect()))
}

/// A JSON string or array of strings, borrowed from the input where it has no escapes.
pub(crate) struct StrOrSeq<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for StrOrSeq<'a> {
    type Value = Vec<Cow<'a, str>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or an array of strings")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(vec![Cow::Borrowed(v)])
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(vec![Cow::Owned(v.to_owned())])
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(1).min(16));
        while let Some(item) = seq.next_element::<Str<'a>>()? {
            out.push(item.0);
        }
        Ok(out)
    }
}

/// A borrowed string: `Cow<str>` alone does not borrow through serde's derive.
#[derive(Debug)]
pub(crate) struct Str<'a>(pub(crate) Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Str<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Str<'a>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Str<'a>, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V(PhantomData))
    }
}

/// A list of strings given as a string or an array (`aud`, `scp`).
#[derive(Debug)]
pub(crate) struct StrList<'a>(pub(crate) Vec<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for StrList<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrOrSeq(PhantomData)).map(StrList)
    }
}

/// The latest NumericDate accepted: 9999-12-31T23:59:59Z.
pub(crate) const MAX_NUMERIC_DATE: u64 = 253_402_300_799;

/// A NumericDate (RFC 7519 §2): a JSON number of seconds, integral or not, non-negative and
/// before year 10000. Fractions are truncated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NumericDate(pub(crate) u64);

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = NumericDate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative number of seconds before year 10000")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NumericDate, E> {
                if v <= MAX_NUMERIC_DATE {
                    Ok(NumericDate(v))
                } else {
                    Err(E::custom("date out of range"))
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NumericDate, E> {
                u64::try_from(v)
                    .map_err(|_| E::custom("negative date"))
                    .and_then(|v| self.visit_u64(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<NumericDate, E> {
                if v.is_finite() && (0.0..=MAX_NUMERIC_DATE as f64).contains(&v) {
                    Ok(NumericDate(v as u64))
                } else {
                    Err(E::custom("date out of range"))
                }
            }
        }
        d.deserialize_any(V)
    }
}

fn numeric_date<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    NumericDate::deserialize(d).map(|n| n.0)
}

fn opt_numeric_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    NumericDate::deserialize(d).map(|n| Some(n.0))
}

/// The registered claims every token is validated against, whatever the application's claims
/// type. Borrows from the decoded payload. A claim of the wrong JSON type (`null` included) is an
/// error, and so is any member name that appears twice.
#[derive(Debug, Default)]
pub(crate) struct Registered<'a> {
    pub(crate) iss: Option<Str<'a>>,
    pub(crate) sub: Option<Str<'a>>,
    pub(crate) aud: Option<StrList<'a>>,
    pub(crate) exp: Option<NumericDate>,
    pub(crate) nbf: Option<NumericDate>,
    pub(crate) iat: Option<NumericDate>,
    pub(crate) jti: Option<Str<'a>>,
    pub(crate) client_id: Option<Str<'a>>,
    pub(crate) scope: Option<Str<'a>>,
    pub(crate) scp: Option<StrList<'a>>,
    pub(crate) sub_type: Option<Str<'a>>,
}

/// The message of the error for a repeated member name, recognised by [`is_duplicate`].
pub(crate) const DUPLICATE_MEMBER: &str = "duplicate member name";

pub(crate) fn is_duplicate(e: &serde_json::Error) -> bool {
    e.to_string().starts_with(DUPLICATE_MEMBER)
}

/// Member names seen so far in one JSON object.
pub(crate) struct Seen<'a>(Vec<Cow<'a, str>>);

impl<'a> Seen<'a> {
    pub(crate) fn new() -> Self {
        Self(Vec::with_capacity(16))
    }

    pub(crate) fn insert<E: de::Error>(&mut self, name: Cow<'a, str>) -> Result<(), E> {
        if self.0.contains(&name) {
            return Err(E::custom(DUPLICATE_MEMBER));
        }
        self.0.push(name);
        Ok(())
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Registered<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Registered<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object of claims")
            }
            fn visit_map<A: de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Registered<'a>, A::Error> {
                let mut r = Registered::default();
                let mut seen = Seen::new();
                while let Some(Str(name)) = map.next_key::<Str<'a>>()? {
                    seen.insert(name.clone())?;
                    match &*name {
                        "iss" => r.iss = Some(map.next_value()?),
                        "sub" => r.sub = Some(map.next_value()?),
                        "aud" => r.aud = Some(map.next_value()?),
                        "exp" => r.exp = Some(map.next_value()?),
                        "nbf" => r.nbf = Some(map.next_value()?),
                        "iat" => r.iat = Some(map.next_value()?),
                        "jti" => r.jti = Some(map.next_value()?),
                        "client_id" => r.client_id = Some(map.next_value()?),
                        "scope" => r.scope = Some(map.next_value()?),
                        "scp" => r.scp = Some(map.next_value()?),
                        "sub_type" => r.sub_type = Some(map.next_value()?),
                        _ => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(r)
            }
        }
        d.deserialize_map(V(PhantomData))
    }
}

impl Registered<'_> {
    /// All granted scopes, space-delimited: `scope` as issued, then the `scp` entries. An
    /// `scp` entry with a space in it is not a scope token and is left out, so that it can never
    /// turn into several scopes.
    pub(crate) fn scopes(&self) -> Box<str> {
        let scp = self
            .scp
            .iter()
            .flat_map(|l| l.0.iter())
            .filter(|s| !s.is_empty() && !s.contains(' '));
        match (&self.scope, self.scp.is_some()) {
            (Some(scope), false) => Box::from(&*scope.0),
            (None, false) => Box::default(),
            (scope, true) => {
                let mut all = scope.as_ref().map(|s| s.0.to_string()).unwrap_or_default();
                for entry in scp {
                    if !all.is_empty() {
                        all.push(' ');
                    }
                    all.push_str(entry);
                }
                all.into_boxed_str()
            }
        }
    }

    /// The registered claims as [`AccessClaims`], when that is the application's claims type:
    /// the payload was parsed once already, so it is not parsed again. `None` for other types.
    /// Call only after validation (`iss`, `sub`, `aud`, `exp` present).
    pub(crate) fn into_claims<C: 'static>(self) -> Option<C> {
        if std::any::TypeId::of::<C>() != std::any::TypeId::of::<AccessClaims>() {
            return None;
        }
        let owned = |s: Option<Str<'_>>| s.map(|s| s.0.into_owned());
        let list = |l: Option<StrList<'_>>| {
            l.map(|l| l.0.into_iter().map(Cow::into_owned).collect::<Vec<_>>())
        };
        let access = AccessClaims {
            iss: owned(self.iss)?,
            sub: owned(self.sub)?,
            aud: Audience(list(self.aud)?),
            exp: self.exp?.0,
            nbf: self.nbf.map(|n| n.0),
            iat: self.iat.map(|n| n.0),
            jti: owned(self.jti),
            client_id: owned(self.client_id),
            scope: owned(self.scope),
            scp: list(self.scp),
            sub_type: owned(self.sub_type),
        };
        let mut slot: Option<C> = None;
        if let Some(s) =
            (&mut slot as &mut dyn std::any::Any).downcast_mut::<Option<AccessClaims>>()
        {
            *s = Some(access);
        }
        slot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_claims_read_scope_and_scp() {
        let c: AccessClaims = serde_json::from_str(
            r#"{"iss":"i","sub":"u-1","aud":["a","b"],"exp":1.5,"scope":"x.read  x.write","scp":"y"}"#,
        )
        .unwrap();
        assert_eq!(c.exp, 1);
        assert!(c.aud.contains("b"));
        assert_eq!(c.scopes().collect::<Vec<_>>(), ["x.read", "x.write", "y"]);
        let back = serde_json::to_value(&c).unwrap();
        assert_eq!(back["aud"], serde_json::json!(["a", "b"]));
    }

    #[test]
    fn registered_claims_become_the_same_access_claims_serde_gives() {
        for json in [
            r#"{"iss":"i","sub":"u","aud":"a","exp":5,"scope":"x y","sub_type":"user","jti":"j","client_id":"c","iat":1.5,"nbf":2}"#,
            r#"{"iss":"i\/x","sub":"u","aud":["a","b"],"exp":5,"scp":["x","y z",""],"extra":{"k":[1]}}"#,
            r#"{"iss":"i","sub":"u","aud":[],"exp":5,"scp":"one"}"#,
        ] {
            let reg: Registered<'_> = serde_json::from_str(json).unwrap();
            let fast: AccessClaims = reg.into_claims().unwrap();
            let serde: AccessClaims = serde_json::from_str(json).unwrap();
            assert_eq!(fast, serde, "{json}");
        }
        let reg: Registered<'_> = serde_json::from_str(r#"{"iss":"i"}"#).unwrap();
        assert!(reg.into_claims::<serde_json::Value>().is_none());
    }

    #[test]
    fn scp_entries_with_spaces_never_become_scopes() {
        let reg: Registered<'_> =
            serde_json::from_str(r#"{"scope":"a  b","scp":["c","d admin",""]}"#).unwrap();
        assert_eq!(&*reg.scopes(), "a  b c");
    }

    #[test]
    fn registered_rejects_wrong_types_and_duplicates() {
        for bad in [
            r#"{"iss":5}"#,
            r#"{"aud":{}}"#,
            r#"{"aud":[1]}"#,
            r#"{"exp":"1"}"#,
            r#"{"exp":-1}"#,
            r#"{"exp":1e300}"#,
            r#"{"iss":"a","iss":"b"}"#,
            r#"{"tenant":"a","tenant":"b"}"#,
            r#"{"nbf":null}"#,
            r#"["iss","a"]"#,
        ] {
            assert!(
                serde_json::from_str::<Registered<'_>>(bad).is_err(),
                "{bad}"
            );
        }
        let r: Registered<'_> = serde_json::from_str(r#"{"iss":"a\/b","aud":"x"}"#).unwrap();
        assert_eq!(r.iss.unwrap().0, "a/b");
        assert_eq!(r.aud.unwrap().0, ["x"]);
    }
}
