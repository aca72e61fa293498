//! Mapping files: how the columns of an HR export become the schema's attributes.
//!
//! A mapping is a TOML file (docs/inputs.md is its reference; examples/hr-sample has one):
//! `date_format` (chrono, for the export's dates), `[columns]` (`attribute = "Column"`),
//! `[values.ATTR]` (raw value → value) and `[[rules]]` (`when` raw columns hold these
//! values, `set` attributes), applied in that order.
//!
//! On load, each record is built from its columns (unmapped columns are dropped, unmapped
//! attributes are absent), then `[values.X]` replaces raw values, then the rules override,
//! then the schema types everything (with `date_format` for dates). Replacements and `set`
//! values are written as the attribute's final value and typed once, when the mapping is
//! checked against the schema, so a wrong enum member there fails the load, not each record.

#![allow(
    clippy::indexing_slicing,
    reason = "field slots and column indices index the schema and the header they were computed from"
)]

use std::marker::PhantomData;
use std::path::Path;

use chrono::format::{Item, StrftimeItems};
use chrono::NaiveDate;
use rustc_hash::FxHashMap;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

use super::typing::{convert, Cell, Dates, View};
use super::{line_col, LoadError};
use crate::ir::{Schema, Type, Value};

/// A parsed mapping file.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    /// The file, as messages name it.
    pub name: String,
    /// A chrono format (`%m/%d/%Y`) for the export's dates; `None`: ISO `YYYY-MM-DD`.
    pub date_format: Option<String>,
    /// `attribute = "Column"`, in file order.
    pub columns: Vec<(Key, String)>,
    /// `[values.ATTR]`: raw value → the attribute's value.
    pub values: Vec<(Key, Vec<(Key, toml::Value)>)>,
    pub rules: Vec<Rule>,
}

/// `[[rules]]`: when every listed column has one of the listed raw values, set attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Column → accepted raw values (`""` also matches an empty or absent cell).
    pub when: Vec<(Key, Vec<String>)>,
    pub set: Vec<(Key, toml::Value)>,
}

/// A key as written in the mapping file, with its 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub name: String,
    pub line: usize,
    pub column: usize,
}

impl Mapping {
    /// Reads and parses a mapping file.
    pub fn load(path: &Path) -> Result<Mapping, LoadError> {
        let name = path.display().to_string();
        let text = super::limits::read_text(path, super::limits::Kind::Mapping).map_err(|e| {
            LoadError(match e {
                super::limits::ReadError::Io(e) => {
                    format!("{name}: cannot read the mapping file: {e}")
                }
                e => e.describe(&name),
            })
        })?;
        Mapping::parse(&text, &name)
    }

    /// Parses a mapping's text; `name` is the file as messages name it. Checks what needs
    /// no schema (structure, `date_format`); [`Mapping::validate`] checks the rest.
    pub fn parse(text: &str, name: &str) -> Result<Mapping, LoadError> {
        let raw: RawMapping = toml::from_str(text).map_err(|e| {
            let msg = e.message().trim_end().to_string();
            match e.span() {
                Some(s) => {
                    let (l, c) = line_col(text, s.start);
                    LoadError(format!("{name}:{l}:{c}: {msg}"))
                }
                None => LoadError(format!("{name}: {msg}")),
            }
        })?;
        let mut m = Mapping {
            name: name.to_string(),
            date_format: None,
            columns: raw.columns.keyed(text),
            values: Vec::new(),
            rules: Vec::new(),
        };
        if let Some(f) = raw.date_format {
            let (line, column) = line_col(text, f.span().start);
            check_date_format(f.get_ref())
                .map_err(|msg| LoadError(format!("{name}:{line}:{column}: {msg}")))?;
            m.date_format = Some(f.into_inner());
        }
        for (attr, table) in raw.values.keyed(text) {
            m.values.push((attr, table.keyed(text)));
        }
        for r in raw.rules {
            let mut when = Vec::new();
            for (col, v) in r.when.keyed(text) {
                let Some(texts) = when_values(&v) else {
                    let msg = format!(
                        "`when`: the value of column `{}` must be a string or a list of strings",
                        col.name
                    );
                    return Err(m.error(&col, msg));
                };
                when.push((col, texts));
            }
            let set = r.set.keyed(text);
            m.rules.push(Rule { when, set });
        }
        Ok(m)
    }

    /// Checks the mapping against the schema (or, without one, for an untyped bundle): every
    /// attribute exists, the key has a column, replacements and `set` values have the
    /// attribute's type. [`super::load_users`] does this too.
    pub fn validate(&self, schema: Option<&Schema>) -> Result<(), LoadError> {
        self.compile(schema).map(|_| ())
    }

    fn error(&self, k: &Key, msg: String) -> LoadError {
        LoadError(format!("{}:{}:{}: {msg}", self.name, k.line, k.column))
    }

    /// The mapping as the loader applies it.
    pub(crate) fn compile(&self, schema: Option<&Schema>) -> Result<Compiled<'_>, LoadError> {
        let mut fields: Vec<String> = Vec::new();
        let mut types: Vec<Type> = Vec::new();
        match schema {
            Some(s) => {
                for f in &s.fields {
                    fields.push(f.name.clone());
                    types.push(f.ty.clone());
                }
            }
            None => {
                let set_keys = self.rules.iter().flat_map(|r| r.set.iter().map(|(k, _)| k));
                for k in self.columns.iter().map(|(k, _)| k).chain(set_keys) {
                    if !fields.contains(&k.name) {
                        fields.push(k.name.clone());
                        types.push(Type::Any);
                    }
                }
            }
        }
        let slot = |k: &Key, section: &str| -> Result<usize, LoadError> {
            fields.iter().position(|f| *f == k.name).ok_or_else(|| {
                let hint =
                    crate::diagnostics::did_you_mean(&k.name, fields.iter().map(String::as_str))
                        .map(|s| format!(" (did you mean `{s}`?)"))
                        .unwrap_or_default();
                self.error(
                    k,
                    format!(
                        "{section}: `{}` is not an attribute of the schema{hint}",
                        k.name
                    ),
                )
            })
        };
        let mut c = Compiled {
            columns: Vec::new(),
            field_col: vec![None; fields.len()],
            values: (0..fields.len()).map(|_| FxHashMap::default()).collect(),
            rules: Vec::new(),
            date_format: self.date_format.as_deref(),
            fields: Vec::new(),
        };
        for (k, col) in &self.columns {
            let i = slot(k, "[columns]")?;
            c.field_col[i] = Some(c.column(col));
        }
        let key = schema.map_or("user_id", |s| s.key.as_str());
        if fields
            .iter()
            .position(|f| f == key)
            .is_none_or(|i| c.field_col[i].is_none())
        {
            return Err(LoadError(format!(
                "{}: [columns] maps no column to the key `{key}`: add `{key} = \"<column>\"`",
                self.name
            )));
        }
        let typed = |k: &Key, what: &str, v: &toml::Value, ty: &Type| -> Result<Value, LoadError> {
            match convert(View::of(&Cell::from_toml(v)), ty, &Dates::default()) {
                Ok(Some(x)) => Ok(x),
                Ok(None) => unreachable!("TOML has no null"),
                Err(m) => Err(self.error(k, format!("{what}: {m}"))),
            }
        };
        for (attr, entries) in &self.values {
            let section = format!("[values.{}]", attr.name);
            let i = slot(attr, &section)?;
            if c.field_col[i].is_none() {
                return Err(self.error(
                    attr,
                    format!("{section}: `{}` has no column in [columns]", attr.name),
                ));
            }
            for (raw, v) in entries {
                let x = typed(raw, &format!("{section} `{}`", raw.name), v, &types[i])?;
                c.values[i].insert(raw.name.as_str(), x);
            }
        }
        for r in &self.rules {
            let when = r
                .when
                .iter()
                .map(|(k, texts)| (c.column(&k.name), texts.as_slice()))
                .collect();
            let mut set = Vec::new();
            for (k, v) in &r.set {
                let i = slot(k, "rule `set`")?;
                set.push((
                    i,
                    typed(k, &format!("rule `set` `{}`", k.name), v, &types[i])?,
                ));
            }
            c.rules.push(CompiledRule { when, set });
        }
        if schema.is_none() {
            c.fields = fields;
        }
        Ok(c)
    }

    /// `(column, attribute or "a rule")` for every column the mapping reads, to check them
    /// against a CSV header.
    pub(crate) fn column_uses(&self) -> Vec<(&Key, &str, String)> {
        let mut out: Vec<(&Key, &str, String)> = Vec::new();
        for (k, col) in &self.columns {
            out.push((k, col.as_str(), format!("the column of `{}`", k.name)));
        }
        for r in &self.rules {
            for (k, _) in &r.when {
                out.push((k, k.name.as_str(), "a rule's `when`".into()));
            }
        }
        out
    }
}

/// A mapping ready to apply: columns numbered, values typed.
pub(crate) struct Compiled<'m> {
    /// The input columns it reads, numbered by position.
    pub columns: Vec<&'m str>,
    /// For each field slot, the column it comes from.
    pub field_col: Vec<Option<usize>>,
    /// For each field slot, raw text → value.
    pub values: Vec<FxHashMap<&'m str, Value>>,
    pub rules: Vec<CompiledRule<'m>>,
    pub date_format: Option<&'m str>,
    /// Without a schema: the attributes, in mapping order (else empty).
    pub fields: Vec<String>,
}

pub(crate) struct CompiledRule<'m> {
    when: Vec<(usize, &'m [String])>,
    set: Vec<(usize, Value)>,
}

impl<'m> Compiled<'m> {
    fn column(&mut self, name: &'m str) -> usize {
        match self.columns.iter().position(|c| *c == name) {
            Some(i) => i,
            None => {
                self.columns.push(name);
                self.columns.len() - 1
            }
        }
    }

    /// The record's attribute values from its columns (`cols`, numbered as [`Self::columns`]).
    pub(crate) fn apply<'r>(&'r self, cols: &[Option<View<'r>>]) -> Vec<Option<View<'r>>> {
        let mut out: Vec<Option<View<'r>>> = self
            .field_col
            .iter()
            .map(|c| c.and_then(|c| cols[c]))
            .collect();
        for (slot, map) in self.values.iter().enumerate() {
            if map.is_empty() {
                continue;
            }
            if let Some(text) = out[slot].and_then(View::text) {
                if let Some(v) = map.get(&*text) {
                    out[slot] = Some(View::Value(v));
                }
            }
        }
        for r in &self.rules {
            let holds = r.when.iter().all(|(c, accepted)| {
                let text = cols[*c].and_then(View::text);
                let text = text.as_deref().unwrap_or("");
                accepted.iter().any(|a| a == text)
            });
            if holds {
                for (slot, v) in &r.set {
                    out[*slot] = Some(View::Value(v));
                }
            }
        }
        out
    }
}

/// A `date_format` must be a chrono format that writes a whole date and nothing else: a
/// time or time zone field (`%H`, `%T`, `%z`, …) is refused here, once, with its text, so
/// that no chrono formatting of a date can ever fail later (chrono's `to_string` panics on a
/// field a date cannot fill).
fn check_date_format(f: &str) -> Result<(), String> {
    use std::fmt::Write;
    let items: Vec<Item> = StrftimeItems::new(f).collect();
    if items.iter().any(|i| matches!(i, Item::Error)) {
        return Err(format!(
            "date_format `{f}` is not a chrono format (e.g. \"%m/%d/%Y\")"
        ));
    }
    let probe = NaiveDate::from_ymd_opt(2031, 12, 25).expect("a valid date");
    let writes = |items: &[Item]| {
        let mut text = String::new();
        write!(text, "{}", probe.format_with_items(items.iter()))
            .ok()
            .map(|()| text)
    };
    let Some(text) = writes(&items) else {
        let field = specifiers(f)
            .find(|spec| writes(&StrftimeItems::new(spec).collect::<Vec<_>>()).is_none())
            .map(|spec| format!(" `{spec}`"))
            .unwrap_or_default();
        return Err(format!(
            "date_format `{f}` has a time or time zone field{field}: it must describe a date only (e.g. \"%m/%d/%Y\")"
        ));
    };
    if Dates::new(Some(f)).parse(&text) != Some(probe) {
        return Err(format!(
            "date_format `{f}` does not write a whole date (it needs the year, month and day, e.g. \"%m/%d/%Y\")"
        ));
    }
    Ok(())
}

/// The `%` specifiers of a format as written: `%H`, `%-d`, `%:z`, `%.3f`, `%%`.
fn specifiers(f: &str) -> impl Iterator<Item = &str> {
    let b = f.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < b.len() {
            if b[i] != b'%' {
                i += 1;
                continue;
            }
            let start = i;
            i += 1;
            while i < b.len() && !(b[i].is_ascii_alphabetic() || b[i] == b'%' || b[i] == b'+') {
                i += 1;
            }
            i += 1;
            return f.get(start..i.min(b.len()));
        }
        None
    })
}

fn when_values(v: &toml::Value) -> Option<Vec<String>> {
    let one = |v: &toml::Value| match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(n) => Some(n.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    };
    match v {
        toml::Value::Array(a) => a.iter().map(one).collect(),
        v => one(v).map(|s| vec![s]),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMapping {
    date_format: Option<Spanned<String>>,
    #[serde(default)]
    columns: Ordered<String>,
    #[serde(default)]
    values: Ordered<Ordered<toml::Value>>,
    #[serde(default)]
    rules: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    when: Ordered<toml::Value>,
    set: Ordered<toml::Value>,
}

/// A TOML table's entries in file order (sorted by the keys' positions).
struct Ordered<V>(Vec<(Spanned<String>, V)>);

impl<V> Ordered<V> {
    fn keyed(self, text: &str) -> Vec<(Key, V)> {
        let key = |k: Spanned<String>| {
            let (line, column) = line_col(text, k.span().start);
            let name = k.into_inner();
            Key { name, line, column }
        };
        self.0.into_iter().map(|(k, v)| (key(k), v)).collect()
    }
}

impl<V> Default for Ordered<V> {
    fn default() -> Self {
        Ordered(Vec::new())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Ordered<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Vis<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for Vis<V> {
            type Value = Ordered<V>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a table")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Ordered<V>, A::Error> {
                let mut out: Vec<(Spanned<String>, V)> = Vec::new();
                while let Some(e) = m.next_entry()? {
                    out.push(e);
                }
                out.sort_by_key(|(k, _)| k.span().start);
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(Vis(PhantomData))
    }
}
