//! From an input record's columns to a typed [`UserRecord`]: the [`Plan`] of a load (fields,
//! types, key, the compiled mapping, how dates are written) and the [`Builder`] that collects
//! records and per-record errors, catching duplicate user ids.

#![allow(
    clippy::indexing_slicing,
    reason = "field slots and column indices index the schema and the header they were computed from"
)]

use std::borrow::Cow;

use rustc_hash::FxHashMap;

use super::mapping::{Compiled, Mapping};
use super::typing::{convert, found, Cell, Dates, View};
use super::{LoadError, RecordError, UserRecord, Users};
use crate::ir::{Schema, Type, Value};

/// What a load produces and how.
pub(crate) struct Plan<'m> {
    pub fields: Vec<String>,
    types: Vec<Type>,
    optional: Vec<bool>,
    pub key: String,
    key_slot: Option<usize>,
    /// No schema and no mapping: every new input key becomes a field.
    pub open: bool,
    /// Input column → its number in a record's columns (without a mapping, the field slot).
    index: FxHashMap<String, usize>,
    mapping: Option<Compiled<'m>>,
    dates: Dates<'m>,
}

impl<'m> Plan<'m> {
    pub fn new(
        schema: Option<&Schema>,
        mapping: Option<&'m Mapping>,
    ) -> Result<Plan<'m>, LoadError> {
        let compiled = mapping.map(|m| m.compile(schema)).transpose()?;
        let mut plan = match schema {
            Some(s) => {
                let names: Vec<String> = s.fields.iter().map(|f| f.name.clone()).collect();
                Plan::with_fields(&names, Some(s))
            }
            None => Plan::with_fields(compiled.as_ref().map_or(&[][..], |c| &c.fields), None),
        };
        plan.open = schema.is_none() && mapping.is_none();
        if let Some(c) = compiled {
            plan.index = c
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| (c.to_string(), i))
                .collect();
            plan.dates = Dates::new(c.date_format);
            plan.mapping = Some(c);
        }
        Ok(plan)
    }

    /// A plan for exactly these fields (types from the schema, else untyped), no mapping.
    pub fn with_fields(fields: &[String], schema: Option<&Schema>) -> Plan<'m> {
        let key = schema.map_or("user_id", |s| s.key.as_str()).to_string();
        let field = |n: &str| schema.and_then(|s| s.field(n));
        Plan {
            fields: fields.to_vec(),
            types: fields
                .iter()
                .map(|n| field(n).map_or(Type::Any, |f| f.ty.clone()))
                .collect(),
            optional: fields
                .iter()
                .map(|n| *n != key && field(n).is_none_or(|f| f.optional))
                .collect(),
            key_slot: fields.iter().position(|f| *f == key),
            key,
            open: false,
            index: fields
                .iter()
                .enumerate()
                .map(|(i, f)| (f.clone(), i))
                .collect(),
            mapping: None,
            dates: Dates::default(),
        }
    }

    /// How many columns a record has (grows in an open plan).
    pub fn ncols(&self) -> usize {
        self.index.len()
    }

    /// The number of an input column; `None` if the load does not read it. In an open plan a
    /// new column becomes a field.
    pub fn column(&mut self, name: &str) -> Option<usize> {
        if let Some(&i) = self.index.get(name) {
            return Some(i);
        }
        if !self.open {
            return None;
        }
        let i = self.fields.len();
        self.fields.push(name.to_string());
        self.types.push(Type::Any);
        self.optional.push(name != self.key);
        self.index.insert(name.to_string(), i);
        if name == self.key {
            self.key_slot = Some(i);
        }
        Some(i)
    }

    /// The required fields, key first, for checking a CSV header (without a mapping).
    pub fn required(&self) -> impl Iterator<Item = &str> {
        let key = std::iter::once(self.key.as_str());
        let others = self.fields.iter().zip(&self.optional);
        key.chain(
            others
                .filter(|(f, o)| !**o && **f != self.key)
                .map(|(f, _)| f.as_str()),
        )
    }

    /// The columns of an object's entries.
    pub fn object_columns<'r>(
        &mut self,
        entries: &'r [(Cow<'_, str>, Cell<'_>)],
    ) -> Vec<Option<View<'r>>> {
        let mut cols = vec![None; self.ncols()];
        for (k, c) in entries {
            if let Some(i) = self.column(k) {
                if i >= cols.len() {
                    cols.resize(i + 1, None);
                }
                cols[i] = Some(View::of(c));
            }
        }
        cols
    }

    /// Types one record. `cols` are numbered as [`Plan::column`] numbers them; absent: `None`.
    pub fn record(
        &self,
        cols: &[Option<View>],
        index: usize,
        line: usize,
    ) -> Result<UserRecord, RecordError> {
        let mapped;
        let views: &[Option<View>] = match &self.mapping {
            Some(m) => {
                mapped = m.apply(cols);
                &mapped
            }
            None => cols,
        };
        let get = |slot: usize| views.get(slot).copied().flatten();
        let error = |user: Option<&str>, field: &str, msg: String| RecordError {
            user_id: user.map(str::to_string),
            index,
            line,
            field: Some(field.to_string()),
            message: format!("field `{field}`: {msg}"),
        };
        let key = self.key.as_str();
        let id = match self.key_slot.and_then(get) {
            None => {
                return Err(error(
                    None,
                    key,
                    "missing: every record needs its key (the user id)".into(),
                ))
            }
            Some(View::Null) => {
                return Err(error(
                    None,
                    key,
                    "null: every record needs its key (the user id)".into(),
                ))
            }
            Some(View::Str(s) | View::Text(s)) => s,
            Some(View::Value(Value::Str(s))) => s.as_str(),
            Some(v) => {
                return Err(error(
                    None,
                    key,
                    format!("the key must be a string, found {}", found(v)),
                ))
            }
        };
        if id.trim().is_empty() {
            return Err(error(
                None,
                key,
                "empty: every record needs its key (the user id)".into(),
            ));
        }
        let mut values = Vec::with_capacity(self.fields.len());
        for (slot, field) in self.fields.iter().enumerate() {
            let value = match get(slot) {
                None => None,
                Some(v) => convert(v, &self.types[slot], &self.dates)
                    .map_err(|m| error(Some(id), field, m.to_string()))?,
            };
            if value.is_none() && !self.optional[slot] {
                let what = if get(slot).is_some() {
                    "null"
                } else {
                    "missing"
                };
                return Err(error(Some(id), field, format!("required, but {what}")));
            }
            values.push(value);
        }
        Ok(UserRecord {
            id: id.to_string(),
            index,
            line,
            values,
        })
    }
}

/// Collects a load's records and errors, in input order.
pub(crate) struct Builder<'m> {
    pub plan: Plan<'m>,
    records: Vec<UserRecord>,
    errors: Vec<RecordError>,
    /// Each user id seen, with the line of its first record.
    seen: FxHashMap<String, usize>,
    count: usize,
}

impl<'m> Builder<'m> {
    pub fn new(plan: Plan<'m>) -> Builder<'m> {
        Builder {
            plan,
            records: Vec::new(),
            errors: Vec::new(),
            seen: FxHashMap::default(),
            count: 0,
        }
    }

    /// Adds the next input record: to the records, or (bad or a duplicate) to the errors.
    pub fn push(&mut self, cols: &[Option<View>], line: usize) {
        let index = self.count;
        self.count += 1;
        match self.plan.record(cols, index, line) {
            Ok(r) => match self.seen.get(&r.id) {
                Some(first) => self.errors.push(RecordError {
                    message: format!(
                        "field `{}`: duplicate user id {} (its first record is at line {first})",
                        self.plan.key,
                        found(View::Str(&r.id))
                    ),
                    field: Some(self.plan.key.clone()),
                    user_id: Some(r.id),
                    index,
                    line,
                }),
                None => {
                    self.seen.insert(r.id.clone(), line);
                    self.records.push(r);
                }
            },
            Err(e) => {
                // A bad record still claims its id: a second record for it is a duplicate.
                if let Some(id) = &e.user_id {
                    self.seen.entry(id.clone()).or_insert(line);
                }
                self.errors.push(e);
            }
        }
    }

    pub fn push_object(&mut self, entries: &[(Cow<'_, str>, Cell<'_>)], line: usize) {
        let cols = self.plan.object_columns(entries);
        self.push(&cols, line);
    }

    pub fn finish(self) -> Users {
        let n = self.plan.fields.len();
        let mut records = self.records;
        for r in &mut records {
            r.values.resize(n, None);
        }
        Users {
            fields: self.plan.fields,
            key: self.plan.key,
            records,
            errors: self.errors,
        }
    }
}
