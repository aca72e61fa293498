//! The abstract syntax tree of one Pol file, as written: names unresolved, spans on every
//! node, error nodes where the parser recovered. Lowering (`crate::check`) turns it into IR.

use chrono::NaiveDate;

use super::lexer::Duration;
use super::span::{Sp, Span};

pub type Name = Sp<String>;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct File {
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Import(Import),
    Require(Require),
    Schema(Schema),
    System(System),
    Policy(Policy),
    Exception(Exception),
    Conflict(Conflict),
    Test(Test),
    /// Where the parser skipped input after a syntax error.
    Error(Span),
}

impl Item {
    pub fn span(&self) -> Span {
        match self {
            Item::Import(i) => i.span,
            Item::Require(i) => i.span,
            Item::Schema(i) => i.span,
            Item::System(i) => i.span,
            Item::Policy(i) => i.span,
            Item::Exception(i) => i.span,
            Item::Conflict(i) => i.span,
            Item::Test(i) => i.span,
            Item::Error(s) => *s,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    pub path: Name,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Require {
    pub expr: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    pub fields: Vec<Field>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: Name,
    pub ty: Sp<TypeExpr>,
    pub optional: bool,
    pub key: bool,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeExpr {
    String,
    Int,
    Bool,
    Date,
    Enum(Vec<Name>),
    List(Box<Sp<TypeExpr>>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct System {
    pub name: Name,
    pub display: Option<Name>,
    pub clauses: Vec<SystemClause>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SystemClause {
    Grace(Sp<Duration>),
    Resource(Resource),
    Error(Span),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub name: Name,
    pub clauses: Vec<ResourceClause>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceClause {
    Levels(Vec<Name>, Span),
    Default(Name, Span),
    Grace(Sp<Duration>),
    Error(Span),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    Policy,
    Template,
}

impl PolicyKind {
    pub fn keyword(self) -> &'static str {
        match self {
            PolicyKind::Policy => "policy",
            PolicyKind::Template => "template",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub kind: PolicyKind,
    pub name: Name,
    pub clauses: Vec<Clause>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetaKey {
    Version,
    Owner,
    Description,
}

impl MetaKey {
    pub fn keyword(&self) -> &'static str {
        match self {
            MetaKey::Version => "version",
            MetaKey::Owner => "owner",
            MetaKey::Description => "description",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clause {
    When(Expr, Span),
    Inherits(Vec<Name>, Span),
    Grant(GrantClause),
    Deny(RefAst, Span),
    Meta(MetaKey, Name, Span),
    Effective(Sp<Option<NaiveDate>>, Span),
    Expires(Sp<Option<NaiveDate>>, Span),
    Error(Span),
}

impl Clause {
    pub fn span(&self) -> Span {
        match self {
            Clause::When(_, s)
            | Clause::Inherits(_, s)
            | Clause::Deny(_, s)
            | Clause::Meta(_, _, s)
            | Clause::Effective(_, s)
            | Clause::Expires(_, s)
            | Clause::Error(s) => *s,
            Clause::Grant(g) => g.span,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantClause {
    pub target: RefAst,
    pub level: Option<Name>,
    pub grace: Option<Sp<Duration>>,
    pub span: Span,
}

/// A grant reference or pattern as written: `system:type[:name]`, any segment may end in `*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RefAst {
    pub system: String,
    pub rtype: String,
    pub name: Option<String>,
    /// The name was written as a quoted string.
    pub quoted: bool,
    pub span: Span,
}

impl RefAst {
    /// Splits the text of a `Ref` token (already validated by the lexer).
    pub fn parse(text: &str, span: Span) -> RefAst {
        let crate::notation::RefParts {
            system,
            rtype,
            name,
            quoted,
        } = crate::notation::RefParts::split(text);
        RefAst {
            system,
            rtype,
            name,
            quoted,
            span,
        }
    }

    pub fn is_pattern(&self) -> bool {
        self.system.ends_with('*')
            || self.rtype.ends_with('*')
            || (!self.quoted && self.name.as_deref().is_some_and(|n| n.contains('*')))
    }

    /// The canonical text `system:type[:name]`, quoting the name when it needs it.
    pub fn canonical(&self) -> String {
        match &self.name {
            None => format!("{}:{}", self.system, self.rtype),
            Some(n) if self.quoted && (n.is_empty() || !n.chars().all(is_bare_name_char)) => {
                format!("{}:{}:{}", self.system, self.rtype, quote(n))
            }
            Some(n) => format!("{}:{}:{}", self.system, self.rtype, n),
        }
    }
}

pub use crate::notation::{is_bare_name_char, quote};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    pub name: Option<Name>,
    pub clauses: Vec<ExceptionClause>,
    pub span: Span,
    /// Span of the `exception` keyword (and name), for diagnostics about the whole item.
    pub head: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExceptionClause {
    User(Name, Span),
    Grant(GrantClause),
    Justification(Name, Span),
    ApprovedBy(Name, Span),
    Expires(Sp<Option<NaiveDate>>, Span),
    Effective(Sp<Option<NaiveDate>>, Span),
    /// `ticket "SEC-1234"` and other free-form metadata.
    Other(Name, Name, Span),
    Error(Span),
}

impl ExceptionClause {
    pub fn span(&self) -> Span {
        match self {
            ExceptionClause::User(_, s)
            | ExceptionClause::Justification(_, s)
            | ExceptionClause::ApprovedBy(_, s)
            | ExceptionClause::Expires(_, s)
            | ExceptionClause::Effective(_, s)
            | ExceptionClause::Other(_, _, s)
            | ExceptionClause::Error(s) => *s,
            ExceptionClause::Grant(g) => g.span,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub name: Name,
    pub patterns: Vec<RefAst>,
    pub reason: Option<Name>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Test {
    pub name: Name,
    pub clauses: Vec<TestClause>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestClause {
    Given(Vec<(Name, Expr)>, Span),
    At(Sp<Option<NaiveDate>>, Span),
    ExpectPolicies(Vec<Name>, Span),
    ExpectGrant {
        target: RefAst,
        level: Option<Name>,
        negated: bool,
        span: Span,
    },
    Error(Span),
}

impl TestClause {
    pub fn span(&self) -> Span {
        match self {
            TestClause::Given(_, s)
            | TestClause::At(_, s)
            | TestClause::ExpectPolicies(_, s)
            | TestClause::Error(s) => *s,
            TestClause::ExpectGrant { span, .. } => *span,
        }
    }
}

pub use crate::notation::CmpOp;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExprKind {
    /// `a or b or c`, flattened.
    Or(Vec<Expr>),
    /// `a and b and c`, flattened.
    And(Vec<Expr>),
    Not(Box<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    In {
        lhs: Box<Expr>,
        rhs: Box<Expr>,
        negated: bool,
    },
    Matches(Box<Expr>, Box<Expr>),
    Call(Name, Vec<Expr>),
    Attr(String),
    Str(String),
    Int(i64),
    Date(Option<NaiveDate>),
    Duration(Duration),
    Bool(bool),
    Today,
    List(Vec<Expr>),
    /// `( e )`, kept so the formatter can reproduce what the author grouped.
    Paren(Box<Expr>),
    Error,
}

impl Expr {
    pub fn new(kind: ExprKind, span: Span) -> Expr {
        Expr { kind, span }
    }

    /// `a or b`, flattening a left operand that is already an `or`.
    pub fn or(a: Expr, b: Expr) -> Expr {
        let span = a.span.to(b.span);
        match a.kind {
            ExprKind::Or(mut v) => {
                v.push(b);
                Expr::new(ExprKind::Or(v), span)
            }
            k => Expr::new(ExprKind::Or(vec![Expr::new(k, a.span), b]), span),
        }
    }

    pub fn and(a: Expr, b: Expr) -> Expr {
        let span = a.span.to(b.span);
        match a.kind {
            ExprKind::And(mut v) => {
                v.push(b);
                Expr::new(ExprKind::And(v), span)
            }
            k => Expr::new(ExprKind::And(vec![Expr::new(k, a.span), b]), span),
        }
    }
}
