//! JSON objects parsed strictly: a member name may appear once, at every depth
//! (RFC 7515 §4 / RFC 7519 §4: duplicate names must be rejected or the last one
//! used; rejecting is the only choice that cannot disagree with another parser).

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

thread_local! {
    /// Set when a strict reader refuses a repeated member name, so that
    /// [`read_strict`] tells that refusal apart from the others by a flag,
    /// not by the text of an error (serde errors carry no typed payload).
    static DUPLICATE_SEEN: Cell<bool> = const { Cell::new(false) };
}

/// The refusal of a repeated member name; marks it for [`read_strict`].
fn duplicate<E: de::Error>() -> E {
    DUPLICATE_SEEN.set(true);
    E::custom("duplicate member name")
}

/// Why [`read_strict`] failed.
#[derive(Debug)]
pub(crate) enum StrictError {
    /// A member name appeared twice in one object, at some depth.
    Duplicate,
    /// Any other failure (syntax, types, trailing characters …).
    Other(serde_json::Error),
}

/// Runs the (synchronous) strict read `read`, telling a refused duplicate
/// member name apart from any other error.
pub(crate) fn read_strict<T>(read: impl FnOnce() -> Result<T, serde_json::Error>) -> Result<T, StrictError> {
    DUPLICATE_SEEN.set(false);
    let result = read();
    let seen = DUPLICATE_SEEN.replace(false);
    result.map_err(|error| {
        if seen {
            StrictError::Duplicate
        } else {
            StrictError::Other(error)
        }
    })
}

/// The bit of `name` in a table of the member names a visitor acts on, for
/// [`Members::known`]. Meant for constant evaluation (`const { bit(&NAMES,
/// "iss") }`), where a table of more than 32 names, a name listed twice or a
/// name missing from the table fails to compile.
pub(crate) const fn bit(names: &[&str], name: &str) -> u32 {
    assert!(names.len() <= 32, "at most 32 known member names");
    let mut found = None;
    let mut i = 0;
    while i < names.len() {
        let mut j = i + 1;
        while j < names.len() {
            assert!(
                !same(names[i].as_bytes(), names[j].as_bytes()),
                "a known member name is listed twice"
            );
            j += 1;
        }
        if same(names[i].as_bytes(), name.as_bytes()) {
            found = Some(i as u32);
        }
        i += 1;
    }
    match found {
        Some(bit) => bit,
        None => panic!("not in the table of known member names"),
    }
}

/// `json::bit(&$names, $name)`, evaluated at compile time.
macro_rules! member_bit {
    ($names:expr, $name:literal) => {
        const { $crate::jwt::json::bit(&$names, $name) }
    };
}
pub(crate) use member_bit;

const fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The member names of one JSON object, checked for repeats. A visitor tells
/// the names it acts on apart by a bit each (no allocation; see [`bit`]);
/// any other name is kept, and those are sorted and compared at the end.
#[derive(Default)]
pub(crate) struct Members<'de> {
    known: u32,
    others: Vec<Name<'de>>,
}

impl<'de> Members<'de> {
    /// Records the known name whose [`bit`] is `bit`; fails if it came before.
    pub(crate) fn known<E: de::Error>(&mut self, bit: u32) -> Result<(), E> {
        let mask = 1 << bit;
        if self.known & mask != 0 {
            return Err(duplicate());
        }
        self.known |= mask;
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
            return Err(duplicate());
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
                return Err(duplicate());
            }
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_positions_in_the_table() {
        const NAMES: [&str; 3] = ["a", "ab", "b"];
        assert_eq!(NAMES.map(|n| bit(&NAMES, n)), [0, 1, 2]);
        assert_eq!(const { bit(&NAMES, "ab") }, 1);
    }

    #[test]
    #[should_panic(expected = "listed twice")]
    fn a_name_listed_twice_has_no_bit() {
        bit(&["a", "b", "a"], "b");
    }

    #[test]
    #[should_panic(expected = "at most 32")]
    fn a_table_of_more_than_32_names_has_no_bits() {
        bit(&["x"; 33], "y");
    }

    #[test]
    fn read_strict_tells_duplicates_apart_by_a_flag() {
        let read = |bytes: &'static [u8]| read_strict(|| serde_json::from_slice::<Strict>(bytes));
        assert!(matches!(
            read(br#"{"a":{"b":1,"b":2}}"#),
            Err(StrictError::Duplicate)
        ));
        assert!(matches!(read(br#"{"a":1,"b":"#), Err(StrictError::Other(_))));
        assert!(read(br#"{"a":1}"#).is_ok());
        // The flag of a refused read does not leak into the next one.
        assert!(matches!(read(br#"{"a":1,"a":2}"#), Err(StrictError::Duplicate)));
        assert!(matches!(read(b"[1,"), Err(StrictError::Other(_))));
    }

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
