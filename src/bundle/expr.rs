//! The interchange form of expressions, values, attribute types, dates and durations, with
//! their conversions to and from the IR. Dates are ISO strings (`"2025-01-31"`), durations
//! their source text (`"30d"`, `"2w"`, `"12h"`), operators and functions their Pol names.
//!
//! Every enum is externally tagged in snake case: `{"attr": "department"}`, `"today"`,
//! `{"cmp": {"op": "==", "lhs": …, "rhs": …}}`, `{"lit": {"str": "Sales"}}`.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::ContentError;
use crate::ir::{self, DurationUnit};

/// An expression: mirrors [`ir::Expr`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Expr {
    Lit(Value),
    Attr(String),
    Today,
    Call {
        func: String,
        args: Vec<Expr>,
    },
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Cmp {
        op: String,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    In {
        lhs: Box<Expr>,
        rhs: Box<Expr>,
        negated: bool,
    },
    Matches {
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    List(Vec<Expr>),
}

/// A value: mirrors [`ir::Value`]; a date is an ISO string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Date(String),
    Str(String),
    List(Vec<Value>),
}

/// An attribute type: mirrors [`ir::Type`]. Plain types are strings (`"int"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Type {
    String,
    Int,
    Bool,
    Date,
    Duration,
    Enum(Vec<String>),
    List(Box<Type>),
    Any,
}

impl Expr {
    pub fn from_ir(e: &ir::Expr) -> Expr {
        let b = |e: &ir::Expr| Box::new(Expr::from_ir(e));
        let all = |v: &[ir::Expr]| v.iter().map(Expr::from_ir).collect();
        match e {
            ir::Expr::Lit(v) => Expr::Lit(Value::from_ir(v)),
            ir::Expr::Attr(a) => Expr::Attr(a.clone()),
            ir::Expr::Today => Expr::Today,
            ir::Expr::Call(f, args) => Expr::Call {
                func: f.name().to_string(),
                args: all(args),
            },
            ir::Expr::Not(x) => Expr::Not(b(x)),
            ir::Expr::And(v) => Expr::And(all(v)),
            ir::Expr::Or(v) => Expr::Or(all(v)),
            ir::Expr::Cmp(op, l, r) => Expr::Cmp {
                op: op.text().to_string(),
                lhs: b(l),
                rhs: b(r),
            },
            ir::Expr::In { lhs, rhs, negated } => Expr::In {
                lhs: b(lhs),
                rhs: b(rhs),
                negated: *negated,
            },
            ir::Expr::Matches(l, r) => Expr::Matches {
                lhs: b(l),
                rhs: b(r),
            },
            ir::Expr::List(v) => Expr::List(all(v)),
        }
    }

    pub fn to_ir(&self) -> Result<ir::Expr, ContentError> {
        let b = |e: &Expr| e.to_ir().map(Box::new);
        let all = |v: &[Expr]| v.iter().map(Expr::to_ir).collect::<Result<Vec<_>, _>>();
        Ok(match self {
            Expr::Lit(v) => ir::Expr::Lit(v.to_ir()?),
            Expr::Attr(a) => ir::Expr::Attr(a.clone()),
            Expr::Today => ir::Expr::Today,
            Expr::Call { func, args } => ir::Expr::Call(parse_func(func)?, all(args)?),
            Expr::Not(x) => ir::Expr::Not(b(x)?),
            Expr::And(v) => ir::Expr::And(all(v)?),
            Expr::Or(v) => ir::Expr::Or(all(v)?),
            Expr::Cmp { op, lhs, rhs } => ir::Expr::Cmp(parse_op(op)?, b(lhs)?, b(rhs)?),
            Expr::In { lhs, rhs, negated } => ir::Expr::In {
                lhs: b(lhs)?,
                rhs: b(rhs)?,
                negated: *negated,
            },
            Expr::Matches { lhs, rhs } => ir::Expr::Matches(b(lhs)?, b(rhs)?),
            Expr::List(v) => ir::Expr::List(all(v)?),
        })
    }
}

impl Value {
    pub fn from_ir(v: &ir::Value) -> Value {
        match v {
            ir::Value::Bool(b) => Value::Bool(*b),
            ir::Value::Int(n) => Value::Int(*n),
            ir::Value::Date(d) => Value::Date(date_text(*d)),
            ir::Value::Str(s) => Value::Str(s.clone()),
            ir::Value::List(v) => Value::List(v.iter().map(Value::from_ir).collect()),
        }
    }

    pub fn to_ir(&self) -> Result<ir::Value, ContentError> {
        Ok(match self {
            Value::Bool(b) => ir::Value::Bool(*b),
            Value::Int(n) => ir::Value::Int(*n),
            Value::Date(d) => ir::Value::Date(parse_date(d)?),
            Value::Str(s) => ir::Value::Str(s.clone()),
            Value::List(v) => {
                ir::Value::List(v.iter().map(Value::to_ir).collect::<Result<_, _>>()?)
            }
        })
    }
}

impl Type {
    pub fn from_ir(t: &ir::Type) -> Type {
        match t {
            ir::Type::String => Type::String,
            ir::Type::Int => Type::Int,
            ir::Type::Bool => Type::Bool,
            ir::Type::Date => Type::Date,
            ir::Type::Duration => Type::Duration,
            ir::Type::Enum(m) => Type::Enum(m.clone()),
            ir::Type::List(t) => Type::List(Box::new(Type::from_ir(t))),
            ir::Type::Any => Type::Any,
        }
    }

    pub fn to_ir(&self) -> ir::Type {
        match self {
            Type::String => ir::Type::String,
            Type::Int => ir::Type::Int,
            Type::Bool => ir::Type::Bool,
            Type::Date => ir::Type::Date,
            Type::Duration => ir::Type::Duration,
            Type::Enum(m) => ir::Type::Enum(m.clone()),
            Type::List(t) => ir::Type::List(Box::new(t.to_ir())),
            Type::Any => ir::Type::Any,
        }
    }
}

fn parse_func(name: &str) -> Result<ir::Func, ContentError> {
    ir::Func::ALL
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, f)| *f)
        .ok_or_else(|| ContentError::UnknownFunction(name.to_string()))
}

fn parse_op(text: &str) -> Result<ir::CmpOp, ContentError> {
    use ir::CmpOp::*;
    [Eq, Ne, Lt, Le, Gt, Ge]
        .into_iter()
        .find(|op| op.text() == text)
        .ok_or_else(|| ContentError::UnknownOperator(text.to_string()))
}

/// The ISO text of a date (`2025-01-31`).
pub fn date_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// Parses an ISO date as [`date_text`] writes it.
pub fn parse_date(s: &str) -> Result<NaiveDate, ContentError> {
    crate::dates::parse(s).ok_or_else(|| ContentError::Date(s.to_string()))
}

pub fn opt_date(d: Option<NaiveDate>) -> Option<String> {
    d.map(date_text)
}

pub fn parse_opt_date(s: &Option<String>) -> Result<Option<NaiveDate>, ContentError> {
    s.as_deref().map(parse_date).transpose()
}

/// The source text of a duration (`30d`).
pub fn duration_text(d: ir::Duration) -> String {
    d.to_string()
}

/// Parses `<digits><h|d|w>` as [`duration_text`] writes it.
pub fn parse_duration(s: &str) -> Result<ir::Duration, ContentError> {
    let bad = || ContentError::Duration(s.to_string());
    let unit = match s.chars().last() {
        Some('h') => DurationUnit::Hours,
        Some('d') => DurationUnit::Days,
        Some('w') => DurationUnit::Weeks,
        _ => return Err(bad()),
    };
    let digits = &s[..s.len() - 1];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let amount = digits.parse().map_err(|_| bad())?;
    Ok(ir::Duration { amount, unit })
}

pub fn opt_duration(d: Option<ir::Duration>) -> Option<String> {
    d.map(duration_text)
}

pub fn parse_opt_duration(s: &Option<String>) -> Result<Option<ir::Duration>, ContentError> {
    s.as_deref().map(parse_duration).transpose()
}
