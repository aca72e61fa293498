//! Raw input values and their conversion to [`ir::Value`]s by schema type.
//!
//! A [`Cell`] is a JSON value parsed from a users file, borrowing its strings from the text
//! when it can (no allocation per field). A [`View`] is a cheap, copyable look at one input
//! value, whatever its source: a JSON cell, a CSV cell (text whose type only the schema
//! knows) or a value that a mapping file already typed. [`convert`] applies docs/language.md §4's
//! types to a view; its error messages are the `…` of `field `x`: …`.

#![allow(
    clippy::indexing_slicing,
    reason = "field slots and column indices index the schema and the header they were computed from"
)]

use std::borrow::Cow;
use std::fmt;

use chrono::format::{Item, Parsed, StrftimeItems};
use chrono::NaiveDate;
use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::unique::{repeated_key, UniqueKeys};
use crate::ir::{Type, Value};

/// A JSON value of a users file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Cow<'a, str>),
    List(Vec<Cell<'a>>),
    /// Entries in the order written.
    Object(Vec<(Cow<'a, str>, Cell<'a>)>),
}

impl<'a> Cell<'a> {
    /// A borrowed copy of a `serde_json::Value` (for records handed over already parsed).
    pub(crate) fn from_json(v: &'a serde_json::Value) -> Cell<'a> {
        use serde_json::Value as J;
        match v {
            J::Null => Cell::Null,
            J::Bool(b) => Cell::Bool(*b),
            J::Number(n) => n
                .as_i64()
                .map(Cell::Int)
                .unwrap_or_else(|| Cell::Float(n.as_f64().unwrap_or(f64::NAN))),
            J::String(s) => Cell::Str(Cow::Borrowed(s)),
            J::Array(a) => Cell::List(a.iter().map(Cell::from_json).collect()),
            J::Object(m) => Cell::Object(
                m.iter()
                    .map(|(k, v)| (Cow::Borrowed(k.as_str()), Cell::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// A cell of a TOML value (mapping replacements); a date-only datetime becomes its text.
    pub(crate) fn from_toml(v: &'a toml::Value) -> Cell<'a> {
        match v {
            toml::Value::String(s) => Cell::Str(Cow::Borrowed(s)),
            toml::Value::Integer(n) => Cell::Int(*n),
            toml::Value::Float(f) => Cell::Float(*f),
            toml::Value::Boolean(b) => Cell::Bool(*b),
            toml::Value::Datetime(d) => Cell::Str(Cow::Owned(d.to_string())),
            toml::Value::Array(a) => Cell::List(a.iter().map(Cell::from_toml).collect()),
            toml::Value::Table(t) => Cell::Object(
                t.iter()
                    .map(|(k, v)| (Cow::Borrowed(k.as_str()), Cell::from_toml(v)))
                    .collect(),
            ),
        }
    }
}

/// One input value as the typing sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum View<'r> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A JSON string.
    Str(&'r str),
    /// A CSV cell: text whose type only the schema says (a list is split on `;`).
    Text(&'r str),
    List(&'r [Cell<'r>]),
    Object,
    /// Already typed (a mapping's replacement or `set` value).
    Value(&'r Value),
}

impl<'r> View<'r> {
    pub(crate) fn of(c: &'r Cell<'_>) -> View<'r> {
        match c {
            Cell::Null => View::Null,
            Cell::Bool(b) => View::Bool(*b),
            Cell::Int(n) => View::Int(*n),
            Cell::Float(f) => View::Float(*f),
            Cell::Str(s) => View::Str(s),
            Cell::List(v) => View::List(v),
            Cell::Object(_) => View::Object,
        }
    }

    /// The value as text, for mapping lookups and `when` conditions; `None` for null,
    /// lists and objects.
    pub(crate) fn text(self) -> Option<Cow<'r, str>> {
        Some(match self {
            View::Str(s) | View::Text(s) => Cow::Borrowed(s),
            View::Value(Value::Str(s)) => Cow::Borrowed(s),
            View::Bool(b) => Cow::Borrowed(if b { "true" } else { "false" }),
            View::Int(n) => Cow::Owned(n.to_string()),
            View::Float(f) => Cow::Owned(f.to_string()),
            View::Value(v @ (Value::Int(_) | Value::Bool(_) | Value::Date(_))) => {
                Cow::Owned(v.to_string())
            }
            View::Null | View::List(_) | View::Object | View::Value(Value::List(_)) => return None,
        })
    }
}

/// How dates are written: ISO `YYYY-MM-DD`, or a mapping's chrono `date_format`.
#[derive(Debug, Default)]
pub(crate) struct Dates<'f> {
    format: Option<(&'f str, Vec<Item<'f>>)>,
}

impl<'f> Dates<'f> {
    pub(crate) fn new(format: Option<&'f str>) -> Dates<'f> {
        Dates {
            format: format.map(|f| (f, StrftimeItems::new(f).collect())),
        }
    }

    pub(crate) fn parse(&self, s: &str) -> Option<NaiveDate> {
        match &self.format {
            None => parse_iso(s),
            Some((_, items)) => {
                let mut p = Parsed::new();
                chrono::format::parse(&mut p, s, items.iter()).ok()?;
                // Any format, but only the dates Pol can print (years 0001–9999).
                p.to_naive_date().ok().filter(|d| crate::dates::is_iso(*d))
            }
        }
    }

    fn expected(&self) -> String {
        match &self.format {
            None => "a date".into(),
            Some((f, _)) => format!("a date written `{f}` (the mapping's date_format)"),
        }
    }
}

/// `YYYY-MM-DD`, strictly (a fast path: no format parsing).
pub(crate) fn parse_iso(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)
        .filter(|d| crate::dates::is_iso(*d))
}

/// Converts one present value to the field's type. `Ok(None)` for `null`.
pub(crate) fn convert(v: View, ty: &Type, dates: &Dates) -> Result<Option<Value>, ValueError> {
    use View as V;
    let value = match (ty, v) {
        (_, V::Null) => return Ok(None),
        (_, V::Value(x)) => x.clone(),
        (Type::Any, _) => natural(v, dates)?,
        (Type::String, V::Str(s) | V::Text(s)) => Value::Str(s.to_owned()),
        // Lenient: an id or a cost centre written as a number is still its text.
        (Type::String, V::Int(_) | V::Float(_)) => Value::Str(v.text().unwrap_or_default().into()),
        (Type::Int, V::Int(n)) => Value::Int(n),
        (Type::Int, V::Str(s) | V::Text(s)) => match s.trim().parse() {
            Ok(n) => Value::Int(n),
            Err(_) => return Err(expected(ty, v)),
        },
        (Type::Bool, V::Bool(b)) => Value::Bool(b),
        (Type::Bool, V::Str(s) | V::Text(s)) if s.eq_ignore_ascii_case("true") => Value::Bool(true),
        (Type::Bool, V::Str(s) | V::Text(s)) if s.eq_ignore_ascii_case("false") => {
            Value::Bool(false)
        }
        (Type::Date, V::Str(s) | V::Text(s)) => match dates.parse(s) {
            Some(d) => Value::Date(d),
            None => {
                return Err(ValueError::Expected {
                    expected: dates.expected(),
                    found: found(v),
                })
            }
        },
        (Type::Enum(members), V::Str(s) | V::Text(s)) => {
            if members.iter().any(|m| m == s) {
                Value::Str(s.to_owned())
            } else {
                return Err(enum_error(members, v, s));
            }
        }
        (Type::List(inner), V::List(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                match convert(View::of(item), inner, dates) {
                    Ok(Some(x)) => out.push(x),
                    Ok(None) => return Err(ValueError::NullElement { index: i + 1 }),
                    Err(m) => {
                        return Err(ValueError::Element {
                            index: i + 1,
                            problem: Box::new(m),
                        })
                    }
                }
            }
            Value::List(out)
        }
        (Type::List(inner), V::Text(s)) => {
            let mut out = Vec::new();
            for piece in s.split(';').map(str::trim).filter(|p| !p.is_empty()) {
                match convert(View::Text(piece), inner, dates) {
                    Ok(Some(x)) => out.push(x),
                    Ok(None) => {}
                    Err(m) => {
                        return Err(ValueError::Piece {
                            piece: piece.to_string(),
                            problem: Box::new(m),
                        })
                    }
                }
            }
            Value::List(out)
        }
        (Type::Duration, _) => return Err(ValueError::Duration),
        _ => return Err(expected(ty, v)),
    };
    Ok(Some(value))
}

/// The untyped reading: JSON's own types; a CSV cell stays text.
fn natural(v: View, dates: &Dates) -> Result<Value, ValueError> {
    Ok(match v {
        View::Str(s) | View::Text(s) => match (&dates.format, dates.parse(s)) {
            (Some(_), Some(d)) => Value::Str(d.to_string()),
            _ => Value::Str(s.to_owned()),
        },
        View::Int(n) => Value::Int(n),
        View::Bool(b) => Value::Bool(b),
        View::Float(f) => Value::Str(f.to_string()),
        View::List(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                match View::of(item) {
                    View::Null => return Err(ValueError::NullElement { index: i + 1 }),
                    x => out.push(natural(x, dates).map_err(|m| ValueError::Element {
                        index: i + 1,
                        problem: Box::new(m),
                    })?),
                }
            }
            Value::List(out)
        }
        View::Value(x) => x.clone(),
        View::Null | View::Object => {
            return Err(ValueError::Expected {
                expected: "a string, number, true/false or list".into(),
                found: found(v),
            })
        }
    })
}

fn expected(ty: &Type, v: View) -> ValueError {
    let what = match ty {
        Type::String => "a string".to_string(),
        Type::Int => "an integer".into(),
        Type::Bool => "true or false".into(),
        Type::Date => "a date".into(),
        Type::Enum(m) => format!("one of {}", m.join(", ")),
        Type::List(t) => format!("a list (list<{t}>)"),
        Type::Duration | Type::Any => ty.to_string(),
    };
    ValueError::Expected {
        expected: what,
        found: found(v),
    }
}

fn enum_error(members: &[String], v: View, s: &str) -> ValueError {
    ValueError::NotAMember {
        members: members.to_vec(),
        found: found(v),
        suggestion: members
            .iter()
            .find(|m| m.eq_ignore_ascii_case(s.trim()))
            .cloned(),
    }
}

/// Why a value of a record (or a mapping, or an event's change) does not have its field's
/// type. Shown after the field it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// `expected a date, found "soon"`: what the type takes, and the value as shown.
    #[error("expected {expected}, found {found}")]
    Expected { expected: String, found: String },
    #[error("expected one of {}, found {found}{}", members.join(", "), did_you_mean(suggestion))]
    NotAMember {
        members: Vec<String>,
        found: String,
        /// A member equal but for case.
        suggestion: Option<String>,
    },
    /// 1-based.
    #[error("list element {index}: null")]
    NullElement { index: usize },
    #[error("list element {index}: {problem}")]
    Element {
        index: usize,
        problem: Box<ValueError>,
    },
    /// An element of a list written as text (`a; b`).
    #[error("list element \"{piece}\": {problem}")]
    Piece {
        piece: String,
        problem: Box<ValueError>,
    },
    #[error("a duration attribute cannot be read from a user record")]
    Duration,
}

fn did_you_mean(suggestion: &Option<String>) -> String {
    suggestion
        .as_ref()
        .map(|m| format!(" (did you mean \"{m}\"?)"))
        .unwrap_or_default()
}

/// How a value is shown in a message: strings quoted (long ones cut), lists and objects named.
pub(crate) fn found(v: View) -> String {
    match v {
        View::Null => "null".into(),
        View::Bool(b) => b.to_string(),
        View::Int(n) => n.to_string(),
        View::Float(f) => f.to_string(),
        View::Str(s) | View::Text(s) => {
            let cut: String = s.chars().take(60).collect();
            let dots = if cut.len() < s.len() { "…" } else { "" };
            format!("{}{dots}", serde_json::Value::String(cut))
        }
        View::List(_) => "a list".into(),
        View::Object => "an object".into(),
        View::Value(x) => x.to_string(),
    }
}

/// Deserializes any JSON value, borrowing strings from the input when they have no escapes.
impl<'de> Deserialize<'de> for Cell<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CellVisitor)
    }
}

struct CellVisitor;

impl<'de> Visitor<'de> for CellVisitor {
    type Value = Cell<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Cell<'de>, E> {
        Ok(Cell::Null)
    }
    fn visit_none<E>(self) -> Result<Cell<'de>, E> {
        Ok(Cell::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Cell<'de>, D::Error> {
        Cell::deserialize(d)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Cell<'de>, E> {
        Ok(Cell::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Cell<'de>, E> {
        Ok(Cell::Int(n))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Cell<'de>, E> {
        Ok(i64::try_from(n).map_or(Cell::Float(n as f64), Cell::Int))
    }
    fn visit_f64<E>(self, f: f64) -> Result<Cell<'de>, E> {
        Ok(Cell::Float(f))
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Cell<'de>, E> {
        Ok(Cell::Str(Cow::Borrowed(s)))
    }
    fn visit_str<E>(self, s: &str) -> Result<Cell<'de>, E> {
        Ok(Cell::Str(Cow::Owned(s.to_owned())))
    }
    fn visit_string<E>(self, s: String) -> Result<Cell<'de>, E> {
        Ok(Cell::Str(Cow::Owned(s)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Cell<'de>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(c) = seq.next_element()? {
            out.push(c);
        }
        Ok(Cell::List(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Cell<'de>, A::Error> {
        let mut out: Vec<(Cow<'de, str>, Cell<'de>)> = Vec::with_capacity(16);
        let mut keys = UniqueKeys::default();
        while let Some(Key(k)) = map.next_key()? {
            if keys.repeated(&k, out.iter().map(|(x, _)| &**x)) {
                return Err(de::Error::custom(repeated_key(&k)));
            }
            out.push((k, map.next_value()?));
        }
        Ok(Cell::Object(out))
    }
}

/// A JSON object key, borrowed when it can be.
pub(crate) struct Key<'a>(pub Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        StrSeed("a string").deserialize(d).map(Key)
    }
}

/// Reads a JSON string, borrowed from the input unless it holds escapes; anything else is
/// refused with a message saying what was expected (the `&str`).
pub(crate) struct StrSeed(pub &'static str);

impl<'de> DeserializeSeed<'de> for StrSeed {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for StrSeed {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.0)
    }
    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(s))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(s.to_owned()))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(s))
    }
}
