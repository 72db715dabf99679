//! The registered claims every token is validated against, read in one pass over the payload.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use crate::claims::context;
use crate::claims::{AccessClaims, Audience, Confirmation, GrantContext};
use crate::jose::json::{NumericDate, ScopeList, Seen, Str, StrList};
use crate::policy::roles::KEPT;
use crate::reject::AuthError;
use serde_json::value::RawValue;

/// Claims that only another kind of signed JWT carries (OpenID Connect Core §2 and §3.3.2.11
/// for ID tokens, RFC 8417 §2.2 for security-event tokens): a token with one is not an access
/// token, whatever its `typ` says. `auth_time`, `acr`, `amr` and `azp` are not among them: RFC
/// 9068 §2.2 lets access tokens carry those.
pub(crate) const NOT_ACCESS_TOKEN: [&str; 5] = ["nonce", "at_hash", "c_hash", "s_hash", "events"];

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
    /// `scp`: a space-delimited string (Microsoft Entra) or an array of scopes (Okta).
    pub(crate) scp: Option<ScopeList<'a>>,
    pub(crate) sub_type: Option<Str<'a>>,
    /// The tenant, as multi-tenant providers (Microsoft Entra) issue it.
    pub(crate) tid: Option<Str<'a>>,
    /// The client, where a provider names it elsewhere than `client_id`: `azp` (OpenID
    /// Connect, Entra v2, Keycloak, Auth0), `appid` (Entra v1), `cid` (Okta), `common_name`
    /// (Cloudflare Access service tokens).
    pub(crate) azp: Option<Str<'a>>,
    pub(crate) appid: Option<Str<'a>>,
    pub(crate) cid: Option<Str<'a>>,
    pub(crate) common_name: Option<Str<'a>>,
    /// Amazon Cognito's token kind: `access` or `id`.
    pub(crate) token_use: Option<Str<'a>>,
    /// How the user authenticated (RFC 9470).
    pub(crate) acr: Option<Str<'a>>,
    pub(crate) auth_time: Option<NumericDate>,
    /// Who acts for whom (RFC 8693), and for what exactly (RFC 9396): read only once the
    /// credential is verified.
    pub(crate) act: Option<&'a RawValue>,
    pub(crate) may_act: Option<&'a RawValue>,
    pub(crate) authorization_details: Option<&'a RawValue>,
    /// The token's confirmation (`cnf`, RFC 7800): what it is bound to, if anything.
    pub(crate) cnf: Confirmation,
    /// The claims roles are commonly read from, unparsed.
    pub(crate) kept: Vec<(&'static str, &'a RawValue)>,
    /// The first claim found that only another kind of JWT carries: an OpenID Connect ID
    /// token's `nonce`, `at_hash`, `c_hash` or `s_hash`, or a security-event token's `events`.
    pub(crate) foreign: Option<&'static str>,
}

impl<'a> Registered<'a> {
    /// The authentication, delegation and authorization details, for the grant; a claim of
    /// the wrong shape is refused.
    pub(crate) fn context(&self) -> Result<GrantContext, AuthError> {
        Ok(GrantContext {
            acr: self.acr.as_ref().map(|a| Box::from(&*a.0)),
            auth_time: self.auth_time.map(|t| t.0),
            actors: match self.act {
                Some(act) => context::actor_chain(act)?,
                None => Box::default(),
            },
            may_act: self.may_act.map(context::may_act).transpose()?,
            authorization_details: self
                .authorization_details
                .map(context::authorization_details)
                .transpose()?,
        })
    }

    /// A kept top-level claim, parsed.
    pub(crate) fn kept(&self, name: &str) -> Option<serde_json::Value> {
        let (_, raw) = self.kept.iter().find(|(n, _)| *n == name)?;
        serde_json::from_str(raw.get()).ok()
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
                        "tid" => r.tid = Some(map.next_value()?),
                        "azp" => r.azp = Some(map.next_value()?),
                        "appid" => r.appid = Some(map.next_value()?),
                        "cid" => r.cid = Some(map.next_value()?),
                        "common_name" => r.common_name = Some(map.next_value()?),
                        "token_use" => r.token_use = Some(map.next_value()?),
                        "acr" => r.acr = Some(map.next_value()?),
                        "auth_time" => r.auth_time = Some(map.next_value()?),
                        "act" => r.act = Some(map.next_value()?),
                        "may_act" => r.may_act = Some(map.next_value()?),
                        "authorization_details" => {
                            r.authorization_details = Some(map.next_value()?);
                        }
                        "cnf" => r.cnf = map.next_value::<Cnf>()?.0,
                        name if KEPT.contains(&name) => {
                            let kept = KEPT.iter().find(|k| **k == name).copied().unwrap_or("");
                            r.kept.push((kept, map.next_value()?));
                        }
                        other => {
                            map.next_value::<de::IgnoredAny>()?;
                            if r.foreign.is_none() {
                                r.foreign = NOT_ACCESS_TOKEN.iter().find(|n| **n == other).copied();
                            }
                        }
                    }
                }
                Ok(r)
            }
        }
        d.deserialize_map(V(PhantomData))
    }
}

/// A `cnf` claim of any JSON shape: `{"jkt": "…"}` or `{"x5t#S256": "…"}` alone are
/// understood; every other shape is [`Confirmation::Unsupported`] (and still bound).
struct Cnf(Confirmation);

impl<'de> Deserialize<'de> for Cnf {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        let serde_json::Value::Object(members) = value else {
            return Ok(Cnf(Confirmation::Unsupported));
        };
        let only = |name: &str| match (members.len(), members.get(name)) {
            (1, Some(serde_json::Value::String(s))) if !s.is_empty() => Some(s.as_str().into()),
            _ => None,
        };
        Ok(Cnf(if let Some(jkt) = only("jkt") {
            Confirmation::Jkt(jkt)
        } else if let Some(x5t) = only("x5t#S256") {
            Confirmation::X5tS256(x5t)
        } else {
            Confirmation::Unsupported
        }))
    }
}

impl Registered<'_> {
    /// All granted scopes, space-delimited: `scope` as issued, then the `scp` entries. An
    /// `scp` entry with a space in it is not a scope token and is left out, so that it can never
    /// turn into several scopes.
    pub(crate) fn scopes(&self) -> Cow<'_, str> {
        let scp = self
            .scp
            .iter()
            .flat_map(|l| l.0.iter())
            .filter(|s| !s.is_empty() && !s.contains(' '));
        match (&self.scope, self.scp.is_some()) {
            (Some(scope), false) => Cow::Borrowed(&scope.0),
            (None, false) => Cow::Borrowed(""),
            (scope, true) => {
                let mut all = scope.as_ref().map(|s| s.0.to_string()).unwrap_or_default();
                for entry in scp {
                    if !all.is_empty() {
                        all.push(' ');
                    }
                    all.push_str(entry);
                }
                Cow::Owned(all)
            }
        }
    }

    /// The registered claims as [`AccessClaims`]: the payload was parsed once already, so for
    /// layers with that claims type it is not parsed again. `None` when a claim it requires
    /// (`iss`, `exp`) is absent.
    pub(crate) fn into_access_claims(self) -> Option<AccessClaims> {
        let owned = |s: Option<Str<'_>>| s.map(|s| s.0.into_owned());
        let list = |l: Option<StrList<'_>>| {
            l.map(|l| l.0.into_iter().map(Cow::into_owned).collect::<Vec<_>>())
        };
        let (roles, realm_access, resource_access, permissions) = (
            self.kept("roles"),
            self.kept("realm_access"),
            self.kept("resource_access"),
            self.kept("permissions"),
        );
        Some(AccessClaims {
            iss: owned(self.iss)?,
            sub: owned(self.sub).unwrap_or_default(),
            aud: Audience(list(self.aud).unwrap_or_default()),
            exp: self.exp?.0,
            nbf: self.nbf.map(|n| n.0),
            iat: self.iat.map(|n| n.0),
            jti: owned(self.jti),
            client_id: owned(self.client_id),
            scope: owned(self.scope),
            scp: self
                .scp
                .map(|l| l.0.into_iter().map(Cow::into_owned).collect()),
            sub_type: owned(self.sub_type),
            roles,
            realm_access,
            resource_access,
            permissions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_claims_become_the_same_access_claims_serde_gives() {
        for json in [
            r#"{"iss":"i","sub":"u","aud":"a","exp":5,"scope":"x y","sub_type":"user","jti":"j","client_id":"c","iat":1.5,"nbf":2}"#,
            r#"{"iss":"i\/x","sub":"u","aud":["a","b"],"exp":5,"scp":["x","y z",""],"extra":{"k":[1]}}"#,
            r#"{"iss":"i","sub":"u","aud":[],"exp":5,"scp":"one"}"#,
        ] {
            let reg: Registered<'_> = serde_json::from_str(json).unwrap();
            let fast = reg.into_access_claims().unwrap();
            let serde: AccessClaims = serde_json::from_str(json).unwrap();
            assert_eq!(fast, serde, "{json}");
        }
        let reg: Registered<'_> = serde_json::from_str(r#"{"iss":"i"}"#).unwrap();
        assert!(reg.into_access_claims().is_none());
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
        assert_eq!(r.cnf, Confirmation::None);
        assert_eq!(r.iss.unwrap().0, "a/b");
        assert_eq!(r.aud.unwrap().0, ["x"]);
    }
    #[test]
    fn any_cnf_marks_a_bound_token() {
        for cnf in [
            r#"{"jkt":"x"}"#,
            r#"{"x5t#S256":"y"}"#,
            r#"{"kid":"z"}"#,
            "{}",
            "null",
            "1",
        ] {
            let json = format!(r#"{{"iss":"i","cnf":{cnf}}}"#);
            let r: Registered<'_> = serde_json::from_str(&json).unwrap();
            assert_ne!(r.cnf, Confirmation::None, "{cnf}");
        }
        let read = |cnf: &str| {
            let json = format!(r#"{{"cnf":{cnf}}}"#);
            serde_json::from_str::<Registered<'_>>(&json).unwrap().cnf
        };
        assert_eq!(read(r#"{"jkt":"x"}"#), Confirmation::Jkt("x".into()));
        assert_eq!(
            read(r#"{"x5t#S256":"y"}"#),
            Confirmation::X5tS256("y".into())
        );
        for unsupported in [
            r#"{"kid":"z"}"#,
            r#"{"jkt":"x","x5t#S256":"y"}"#,
            r#"{"jkt":1}"#,
            r#"{"jkt":""}"#,
            "{}",
            "null",
            "1",
        ] {
            assert_eq!(
                read(unsupported),
                Confirmation::Unsupported,
                "{unsupported}"
            );
        }
    }
}
