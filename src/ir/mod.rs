//! The checked IR of a bundle: names resolved to indices, levels to ranks, expressions
//! typed. It knows nothing of the parser or salsa: evaluation, bundles on disk and analyses
//! depend on this alone.

use chrono::NaiveDate;

use crate::index_vec::{self, IndexVec};

mod glob;
pub use glob::glob_match;

pub use crate::notation::{CmpOp, Duration, DurationUnit};

index_vec::define_id! {
    /// A policy's (or template's) place in [`Bundle::policies`].
    pub struct PolicyId;
}
index_vec::define_id! {
    /// A system's place in [`Bundle::systems`].
    pub struct SystemId;
}
index_vec::define_id! {
    /// A resource type's place in its system's [`System::types`].
    pub struct TypeId;
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bundle {
    /// `None` when the bundle declares no schema: attributes are untyped.
    pub schema: Option<Schema>,
    pub systems: IndexVec<SystemId, System>,
    pub requires: Vec<Expr>,
    pub policies: IndexVec<PolicyId, Policy>,
    pub exceptions: Vec<Exception>,
    pub conflicts: Vec<Conflict>,
    pub tests: Vec<Test>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Schema {
    pub fields: Vec<Field>,
    /// The key field's name (`user_id` unless a field is marked `key`).
    pub key: String,
}

impl Schema {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub ty: Type,
    pub optional: bool,
    pub doc: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Type {
    String,
    Int,
    Bool,
    Date,
    Duration,
    Enum(Vec<String>),
    List(Box<Type>),
    /// Untyped (no schema) or already reported as wrong: checks nothing.
    Any,
}

impl std::fmt::Display for Type {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Type::String => write!(f, "string"),
            Type::Int => write!(f, "int"),
            Type::Bool => write!(f, "bool"),
            Type::Date => write!(f, "date"),
            Type::Duration => write!(f, "duration"),
            Type::Enum(m) => write!(f, "enum {{ {} }}", m.join(", ")),
            Type::List(t) => write!(f, "list<{t}>"),
            Type::Any => write!(f, "any"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct System {
    pub name: String,
    pub display: Option<String>,
    pub grace: Option<Duration>,
    pub types: IndexVec<TypeId, ResourceType>,
    pub doc: Option<String>,
}

impl System {
    /// The resource type of an id of this system.
    #[inline]
    #[allow(
        clippy::indexing_slicing,
        reason = "a type id comes with its system's id (in an entitlement of this bundle): checked when it was lowered or read"
    )]
    pub fn rtype(&self, id: TypeId) -> &ResourceType {
        &self.types[id]
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceType {
    pub name: String,
    /// Lowest first; empty for a type without levels.
    pub levels: Vec<String>,
    /// Rank of the default level (the lowest when none is named); `None` without levels.
    pub default: Option<u8>,
    pub grace: Option<Duration>,
}

/// One entitlement: `system:type[:name]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Entitlement {
    pub system: SystemId,
    pub rtype: TypeId,
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub entitlement: Entitlement,
    /// The level's rank; `None` for a type without levels (a written-less level is the
    /// type's default, already filled in).
    pub level: Option<u8>,
    pub grace: Option<Duration>,
}

/// A `deny` or `conflict` pattern: each segment a glob whose `*` matches any run.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pattern {
    pub system: String,
    pub rtype: String,
    pub name: Option<String>,
    pub text: String,
}

impl Pattern {
    /// Whether the pattern matches an entitlement whose segments are `system`, `rtype`, `name`.
    /// A pattern without a name segment matches every name of the type.
    pub fn matches(&self, system: &str, rtype: &str, name: Option<&str>) -> bool {
        if !glob_match(&self.system, system) || !glob_match(&self.rtype, rtype) {
            return false;
        }
        match (&self.name, name) {
            (None, _) => true,
            (Some(p), Some(n)) => glob_match(p, n),
            (Some(p), None) => p == "*",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub name: String,
    pub template: bool,
    pub doc: Option<String>,
    /// `when` clauses, ANDed.
    pub triggers: Vec<Expr>,
    pub inherits: Vec<PolicyId>,
    pub grants: Vec<Grant>,
    pub denies: Vec<Pattern>,
    pub effective: Option<NaiveDate>,
    pub expires: Option<NaiveDate>,
    pub version: Option<String>,
    pub owner: Option<String>,
    pub description: Option<String>,
}

impl Policy {
    /// A policy (or template) with a name and nothing else yet.
    pub fn named(name: String, template: bool, doc: Option<String>) -> Policy {
        Policy {
            name,
            template,
            doc,
            triggers: Vec::new(),
            inherits: Vec::new(),
            grants: Vec::new(),
            denies: Vec::new(),
            effective: None,
            expires: None,
            version: None,
            owner: None,
            description: None,
        }
    }

    /// In force on `d`: `effective <= d < expires`.
    pub fn in_force(&self, d: NaiveDate) -> bool {
        self.effective.is_none_or(|e| e <= d) && self.expires.is_none_or(|x| d < x)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    pub name: Option<String>,
    pub user: String,
    pub grants: Vec<Grant>,
    pub justification: String,
    pub approved_by: String,
    /// In force on days before this one.
    pub expires: NaiveDate,
    pub effective: Option<NaiveDate>,
    /// Free-form metadata such as `ticket "SEC-1234"`.
    pub meta: Vec<(String, String)>,
}

impl Exception {
    pub fn in_force(&self, d: NaiveDate) -> bool {
        self.effective.is_none_or(|e| e <= d) && d < self.expires
    }

    /// How sources name it: `exception "NAME"` (or `exception for USER` when unnamed).
    pub fn source_label(&self) -> String {
        match &self.name {
            Some(n) => format!("exception \"{n}\""),
            None => format!("exception for {}", self.user),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub name: String,
    pub patterns: Vec<Pattern>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Test {
    pub name: String,
    pub given: Vec<(String, Value)>,
    pub at: Option<NaiveDate>,
    pub expect_policies: Option<Vec<String>>,
    pub expect_grants: Vec<ExpectGrant>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectGrant {
    pub entitlement: Entitlement,
    /// `None`: any level.
    pub level: Option<u8>,
    pub negated: bool,
    /// The reference as written, for messages.
    pub text: String,
}

/// A value of a user attribute or a literal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Date(NaiveDate),
    Str(String),
    List(Vec<Value>),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(n) => write!(f, "{n}"),
            Value::Date(d) => write!(f, "{d}"),
            Value::Str(s) => write!(f, "{}", crate::notation::quote(s)),
            Value::List(v) => {
                write!(f, "[")?;
                for (i, x) in v.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{x}")?;
                }
                write!(f, "]")
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Func {
    DaysSince,
    Lower,
    Has,
    Contains,
}

impl Func {
    pub const ALL: &'static [(&'static str, Func)] = &[
        ("days_since", Func::DaysSince),
        ("lower", Func::Lower),
        ("has", Func::Has),
        ("contains", Func::Contains),
    ];

    pub fn name(self) -> &'static str {
        Func::ALL
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("?", |(n, _)| n)
    }
}

/// A typed, resolved expression.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Expr {
    Lit(Value),
    Attr(String),
    Today,
    Call(Func, Vec<Expr>),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    In {
        lhs: Box<Expr>,
        rhs: Box<Expr>,
        negated: bool,
    },
    Matches(Box<Expr>, Box<Expr>),
    /// A list whose elements are not all literals (`[department, team]`).
    List(Vec<Expr>),
}

impl std::fmt::Display for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        fn prec(e: &Expr) -> u8 {
            match e {
                Expr::Or(_) => 1,
                Expr::And(_) => 2,
                Expr::Not(_) => 3,
                Expr::Cmp(..) | Expr::In { .. } | Expr::Matches(..) => 4,
                _ => 5,
            }
        }
        let sub = |f: &mut std::fmt::Formatter<'_>, e: &Expr, min: u8| {
            if prec(e) < min {
                write!(f, "({e})")
            } else {
                write!(f, "{e}")
            }
        };
        match self {
            Expr::Lit(v) => write!(f, "{v}"),
            Expr::Attr(a) => write!(f, "{a}"),
            Expr::Today => write!(f, "today"),
            Expr::Call(func, args) => {
                write!(f, "{}(", func.name())?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{a}")?;
                }
                write!(f, ")")
            }
            Expr::Not(e) => {
                write!(f, "not ")?;
                sub(f, e, 3)
            }
            Expr::And(v) | Expr::Or(v) => {
                let (kw, p) = if matches!(self, Expr::And(_)) {
                    ("and", 3)
                } else {
                    ("or", 2)
                };
                for (i, e) in v.iter().enumerate() {
                    if i > 0 {
                        write!(f, " {kw} ")?;
                    }
                    sub(f, e, p)?;
                }
                Ok(())
            }
            Expr::Cmp(op, a, b) => {
                sub(f, a, 5)?;
                write!(f, " {} ", op.text())?;
                sub(f, b, 5)
            }
            Expr::In { lhs, rhs, negated } => {
                sub(f, lhs, 5)?;
                write!(f, "{}", if *negated { " not in " } else { " in " })?;
                sub(f, rhs, 5)
            }
            Expr::Matches(a, b) => {
                sub(f, a, 5)?;
                write!(f, " matches ")?;
                sub(f, b, 5)
            }
            Expr::List(items) => {
                write!(f, "[")?;
                for (i, a) in items.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{a}")?;
                }
                write!(f, "]")
            }
        }
    }
}

impl Bundle {
    /// Every policy reachable from `start` through `inherits`, `start` included, each once
    /// (breadth first).
    #[allow(
        clippy::indexing_slicing,
        reason = "policy ids come from this bundle (checked when it was lowered or read); `seen` has a place for each of its policies"
    )]
    pub fn closure(&self, start: PolicyId) -> Vec<PolicyId> {
        let mut seen: IndexVec<PolicyId, bool> = IndexVec::from_elem_n(false, self.policies.len());
        seen[start] = true;
        let mut out = vec![start];
        let mut i = 0;
        while let Some(&v) = out.get(i) {
            for &w in &self.policies[v].inherits {
                if !std::mem::replace(&mut seen[w], true) {
                    out.push(w);
                }
            }
            i += 1;
        }
        out
    }

    #[inline]
    #[allow(
        clippy::indexing_slicing,
        reason = "a system id comes from this bundle: checked when it was lowered or read"
    )]
    pub fn system(&self, id: SystemId) -> &System {
        &self.systems[id]
    }

    /// The policy (or template) of an id.
    #[inline]
    #[allow(
        clippy::indexing_slicing,
        reason = "a policy id comes from this bundle: checked when it was lowered or read"
    )]
    pub fn policy(&self, id: PolicyId) -> &Policy {
        &self.policies[id]
    }

    /// The type of an entitlement (its type id indexes its system's types).
    #[inline]
    pub fn rtype(&self, e: &Entitlement) -> &ResourceType {
        self.system(e.system).rtype(e.rtype)
    }

    /// The canonical text `system:type[:name]` of an entitlement.
    pub fn entitlement_text(&self, e: &Entitlement) -> String {
        let s = self.system(e.system);
        let t = s.rtype(e.rtype);
        match &e.name {
            None => format!("{}:{}", s.name, t.name),
            Some(n) if n.chars().all(crate::notation::is_bare_name_char) && !n.is_empty() => {
                format!("{}:{}:{}", s.name, t.name, n)
            }
            Some(n) => format!("{}:{}:{}", s.name, t.name, crate::notation::quote(n)),
        }
    }

    /// The name of a level rank of an entitlement's type.
    pub fn level_name(&self, e: &Entitlement, level: Option<u8>) -> Option<&str> {
        level
            .and_then(|l| self.rtype(e).levels.get(usize::from(l)))
            .map(String::as_str)
    }

    pub fn policy_id(&self, name: &str) -> Option<PolicyId> {
        self.policies
            .iter_enumerated()
            .find(|(_, p)| p.name == name)
            .map(|(id, _)| id)
    }

    /// Whether a pattern matches an entitlement of this bundle.
    pub fn pattern_matches(&self, p: &Pattern, e: &Entitlement) -> bool {
        let s = self.system(e.system);
        p.matches(&s.name, &s.rtype(e.rtype).name, e.name.as_deref())
    }

    /// The grace of a grant: its own, else its type's, else its system's.
    pub fn grace_of(&self, g: &Grant) -> Option<Duration> {
        g.grace
            .or(self.rtype(&g.entitlement).grace)
            .or(self.system(g.entitlement.system).grace)
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        assert!(glob_match("*", "anything"));
        assert!(glob_match("acme-*", "acme-web"));
        assert!(!glob_match("acme-*", "other"));
        assert!(glob_match("a?c", "abc"));
        assert!(glob_match("*sales*", "#sales-team"));
        assert!(!glob_match("abc", "abcd"));
    }
}
