//! Witnesses: a user record (every required field of the schema filled with a valid
//! value) and an evaluation date that make something happen. A model of the solver
//! becomes a witness only after the interpreter has agreed with it, so a witness shown to
//! a user is never a guess.

use chrono::NaiveDate;

use super::atoms::AttrId;
use super::normal::Analyzer;
use super::solve::Model;
use crate::eval::expr::{CExpr, Env};
use crate::index_vec::{Idx, IndexVec};
use crate::ir::{Expr, Value};

/// A user record and a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Witness {
    /// The key field first, then the attributes the conditions read, then the other
    /// required fields; absent attributes are left out.
    pub values: Vec<(String, Value)>,
    pub date: NaiveDate,
}

impl Witness {
    /// The value of an attribute, if present.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The record laid out for `fields` (the interpreter's columns).
    pub fn record(&self, fields: &[String]) -> Vec<Option<Value>> {
        fields.iter().map(|f| self.get(f).cloned()).collect()
    }

    /// The record as a JSON object, as a users file holds it.
    pub fn json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.values
                .iter()
                .map(|(n, v)| (n.clone(), value_json(v)))
                .collect(),
        )
    }

    /// `{"user_id": "w", "department": "Finance", …}`, in the witness's order.
    pub fn record_text(&self) -> String {
        let parts: Vec<String> = self
            .values
            .iter()
            .map(|(n, v)| format!("{}: {}", serde_json::Value::from(n.as_str()), value_json(v)))
            .collect();
        format!("{{{}}}", parts.join(", "))
    }
}

impl std::fmt::Display for Witness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} on {}", self.record_text(), self.date)
    }
}

/// A value as a users file writes it (dates as `"YYYY-MM-DD"`).
pub fn value_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Bool(b) => (*b).into(),
        Value::Int(n) => (*n).into(),
        Value::Date(d) => d.to_string().into(),
        Value::Str(s) => s.as_str().into(),
        Value::List(items) => serde_json::Value::Array(items.iter().map(value_json).collect()),
    }
}

impl Analyzer {
    /// Compiles a condition against the analyzer's attribute table.
    pub fn compile(&self, e: &Expr) -> CExpr {
        CExpr::compile(e, &|a| self.attr_id(a).map(Idx::index))
    }

    /// Whether a compiled condition holds for a model, as the interpreter says.
    pub fn holds(&self, c: &CExpr, m: &Model) -> bool {
        Env {
            values: &m.values,
            today: m.today,
        }
        .test(c)
    }

    /// The witness of a model.
    pub fn witness(&self, m: &Model) -> Witness {
        let mut order: Vec<AttrId> = Vec::new();
        if let Some(k) = self.attr_id(&self.key) {
            order.push(k);
        }
        order.extend(m.read.iter().copied());
        order.extend(self.attrs.indices());
        let mut seen: IndexVec<AttrId, bool> = IndexVec::from_elem_n(false, self.attrs.len());
        let mut values = Vec::new();
        for a in order {
            if seen.get_mut(a).is_none_or(|s| std::mem::replace(s, true)) {
                continue;
            }
            // A model has a value (or `None`) for each attribute, at its id.
            if let (Some(Some(v)), Some(info)) = (m.values.get(a.index()), self.attrs.get(a)) {
                values.push((info.name.clone(), v.clone()));
            }
        }
        Witness {
            values,
            date: m.today,
        }
    }
}
