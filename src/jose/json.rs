//! Strict JSON helpers for token headers and claims: borrowed strings, string-or-array lists,
//! NumericDate, and refusal of repeated member names.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

/// A JSON string or array of strings, borrowed from the input where it has no escapes.
pub(crate) struct StrOrSeq<'a>(pub(crate) PhantomData<&'a ()>);

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

/// The `scp` claim: a space-delimited string (split here into its scopes), or an array of
/// scopes (kept entry by entry: an entry with a space in it is no scope).
#[derive(Debug, Default)]
pub(crate) struct ScopeList<'a>(pub(crate) Vec<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for ScopeList<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = ScopeList<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a space-delimited string or an array of strings")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<ScopeList<'a>, E> {
                Ok(ScopeList(
                    v.split(' ')
                        .filter(|s| !s.is_empty())
                        .map(Cow::Borrowed)
                        .collect(),
                ))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ScopeList<'a>, E> {
                Ok(ScopeList(
                    v.split(' ')
                        .filter(|s| !s.is_empty())
                        .map(|s| Cow::Owned(s.to_owned()))
                        .collect(),
                ))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<ScopeList<'a>, A::Error> {
                StrOrSeq(PhantomData).visit_seq(seq).map(ScopeList)
            }
        }
        d.deserialize_any(V(PhantomData))
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

/// The message of the error for a repeated member name, recognised by [`is_duplicate`].
pub(crate) const DUPLICATE_MEMBER: &str = "duplicate member name";

pub(crate) fn is_duplicate(e: &serde_json::Error) -> bool {
    e.to_string().starts_with(DUPLICATE_MEMBER)
}

/// Member names seen so far in one JSON object.
pub(crate) struct Seen<'a> {
    /// The first names, without an allocation (a token's header and claims have a dozen).
    inline: [Cow<'a, str>; INLINE_NAMES],
    len: usize,
    more: Vec<Cow<'a, str>>,
}

const INLINE_NAMES: usize = 16;

impl<'a> Seen<'a> {
    pub(crate) fn new() -> Self {
        Self {
            inline: std::array::from_fn(|_| Cow::Borrowed("")),
            len: 0,
            more: Vec::new(),
        }
    }

    pub(crate) fn insert<E: de::Error>(&mut self, name: Cow<'a, str>) -> Result<(), E> {
        if self.inline[..self.len].contains(&name) || self.more.contains(&name) {
            return Err(E::custom(DUPLICATE_MEMBER));
        }
        if self.len < INLINE_NAMES {
            self.inline[self.len] = name;
            self.len += 1;
        } else {
            self.more.push(name);
        }
        Ok(())
    }
}

/// A JSON object whose member names are all distinct (serde_json keeps the last of a repeated
/// name silently; a JOSE object with a repeated name is refused, RFC 7515 §4).
pub(crate) struct StrictObject(pub(crate) serde_json::Map<String, serde_json::Value>);

impl<'de> Deserialize<'de> for StrictObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StrictObject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<StrictObject, A::Error> {
                let mut out = serde_json::Map::new();
                while let Some(name) = map.next_key::<String>()? {
                    let value = map.next_value()?;
                    if out.insert(name, value).is_some() {
                        return Err(de::Error::custom(DUPLICATE_MEMBER));
                    }
                }
                Ok(StrictObject(out))
            }
        }
        d.deserialize_map(V)
    }
}
