//! JSON objects parsed strictly: a member name may appear once, at every depth
//! (RFC 7515 §4 / RFC 7519 §4: duplicate names must be rejected or the last one
//! used; rejecting is the only choice that cannot disagree with another parser).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// The error message for a repeated member name (see [`is_duplicate_error`]).
pub(crate) const DUPLICATE: &str = "duplicate member name";

/// Whether a parse failed on a repeated member name.
pub(crate) fn is_duplicate_error(e: &serde_json::Error) -> bool {
    e.to_string().starts_with(DUPLICATE)
}

/// The member names of one JSON object, checked for repeats. A visitor tells
/// the names it acts on apart by an index each (a bit, no allocation); any
/// other name is kept, and those are sorted and compared at the end.
#[derive(Default)]
pub(crate) struct Members<'de> {
    known: u32,
    others: Vec<Name<'de>>,
}

impl<'de> Members<'de> {
    /// Records the known name number `index` (below 32); fails if it came before.
    pub(crate) fn known<E: de::Error>(&mut self, index: u32) -> Result<(), E> {
        let bit = 1 << index;
        if self.known & bit != 0 {
            return Err(E::custom(DUPLICATE));
        }
        self.known |= bit;
        Ok(())
    }

    /// Records a name the visitor does not act on.
    pub(crate) fn other(&mut self, name: Name<'de>) {
        self.others.push(name);
    }

    /// Fails when two of the other names are equal (sorting keeps it O(n log n));
    /// a known name cannot equal another one, as the visitor told them apart.
    pub(crate) fn finish<E: de::Error>(mut self) -> Result<(), E> {
        self.others.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        if self.others.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(E::custom(DUPLICATE));
        }
        Ok(())
    }
}

/// Visits a JSON value, failing on a duplicate member name; with `top`, only an
/// object is accepted.
#[derive(Clone, Copy)]
pub(crate) struct Unique {
    pub(crate) top: bool,
}

impl<'de> DeserializeSeed<'de> for Unique {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Unique {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.top { "a JSON object" } else { "a JSON value" })
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.leaf()
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.leaf()
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.leaf()
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        if !v.is_finite() {
            return Err(E::custom("non-finite number"));
        }
        self.leaf()
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.leaf()
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.leaf()
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.top {
            return Err(de::Error::custom("not an object"));
        }
        while seq.next_element_seed(Unique { top: false })?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<(), A::Error> {
        let mut members = Members::default();
        while let Some(name) = access.next_key::<Name<'de>>()? {
            access.next_value_seed(Unique { top: false })?;
            members.other(name);
        }
        members.finish()
    }
}

impl Unique {
    fn leaf<E: de::Error>(self) -> Result<(), E> {
        if self.top {
            Err(E::custom("not an object"))
        } else {
            Ok(())
        }
    }
}

/// A JSON string (a member name or a value), borrowed from the input unless it
/// had escapes.
pub(crate) struct Name<'de>(pub(crate) Cow<'de, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Name<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Borrowed(v)))
            }

            fn visit_str<E>(self, v: &str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// Parses `bytes` as a JSON object with no duplicate member names at any depth.
pub(crate) fn object(bytes: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice::<Strict>(bytes) {
        Ok(Strict(Value::Object(map))) => Some(map),
        _ => None,
    }
}

struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("non-finite number"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            let Strict(value) = access.next_value()?;
            if map.insert(key, value).is_some() {
                return Err(de::Error::custom(DUPLICATE));
            }
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_refused_at_any_depth() {
        assert!(object(br#"{"a":1,"b":{"c":[1,{"d":2}]}}"#).is_some());
        assert!(object(br#"{"a":1,"a":1}"#).is_none());
        assert!(object(br#"{"a":{"b":1,"b":2}}"#).is_none());
        assert!(object(br#"{"a":[{"b":1,"b":2}]}"#).is_none());
        // Escapes that decode to the same name are the same name.
        assert!(object(br#"{"a":1,"\u0061":2}"#).is_none());
    }

    #[test]
    fn unique_seed_agrees_with_the_strict_parser() {
        let unique = |bytes: &[u8]| {
            let mut de = serde_json::Deserializer::from_slice(bytes);
            de.deserialize_any(Unique { top: true }).is_ok() && de.end().is_ok()
        };
        for case in [
            &br#"{"a":1,"b":{"c":[1,{"d":2}]}}"#[..],
            br#"{"a":1,"a":1}"#,
            br#"{"a":{"b":1,"b":2}}"#,
            br#"{"a":[{"b":1,"b":2}]}"#,
            br#"{"a":1,"\u0061":2}"#,
            b"[1]",
            b"1",
            br#"{"exp":1e400}"#,
            br#"{"a":1} x"#,
            b"{}",
        ] {
            assert_eq!(
                unique(case),
                object(case).is_some(),
                "{}",
                String::from_utf8_lossy(case)
            );
        }
    }

    #[test]
    fn only_objects_and_finite_numbers() {
        assert!(object(b"[1]").is_none());
        assert!(object(b"\"x\"").is_none());
        assert!(object(br#"{"exp":1e400}"#).is_none());
        assert!(object(br#"{"a":1} x"#).is_none());
    }
}
