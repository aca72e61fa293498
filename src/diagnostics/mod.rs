//! Diagnostics carry facts: a stable code, a severity, a primary span with its message,
//! secondary labels and a `help:` line. Rendering (terminal, JSON, SARIF, and the language
//! server's) lives in [`render`]; the explanations of the codes in [`explain`].

pub mod explain;
pub mod render;

use crate::db::SourceFile;
use crate::syntax::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
    Note,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }

    /// The severity a code has: `E…` errors, `W…` warnings, `N…` notes.
    pub fn of_code(code: &str) -> Severity {
        match code.as_bytes().first() {
            Some(b'W') => Severity::Warning,
            Some(b'N') => Severity::Note,
            _ => Severity::Error,
        }
    }
}

/// A place in a file with what to say about it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Label {
    pub file: SourceFile,
    pub span: Span,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    pub primary: Label,
    pub labels: Vec<Label>,
    pub help: Option<String>,
    pub notes: Vec<String>,
    /// A machine-applicable fix: replace this span of the primary file with this text
    /// (offered by the language server as a quick fix).
    pub fix: Option<(Span, String)>,
}

impl Diagnostic {
    /// A diagnostic whose severity follows from its code.
    pub fn new(
        code: &'static str,
        message: impl Into<String>,
        file: SourceFile,
        span: Span,
        label: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            code,
            severity: Severity::of_code(code),
            message: message.into(),
            primary: Label {
                file,
                span,
                message: label.into(),
            },
            labels: Vec::new(),
            help: None,
            notes: Vec::new(),
            fix: None,
        }
    }

    pub fn with_fix(mut self, span: Span, replacement: impl Into<String>) -> Diagnostic {
        self.fix = Some((span, replacement.into()));
        self
    }

    pub fn with_label(
        mut self,
        file: SourceFile,
        span: Span,
        message: impl Into<String>,
    ) -> Diagnostic {
        self.labels.push(Label {
            file,
            span,
            message: message.into(),
        });
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn with_help_opt(mut self, help: Option<String>) -> Diagnostic {
        self.help = help;
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Counts by severity.
pub fn count(diags: &[Diagnostic]) -> (usize, usize) {
    let errors = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diags
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .count();
    (errors, warnings)
}

/// "did you mean" from one shared fuzzy matcher: the closest candidate, if close enough.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let lower = name.to_lowercase();
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        if c == name {
            continue;
        }
        let score = if c.to_lowercase() == lower {
            1.0
        } else {
            strsim::jaro_winkler(&lower, &c.to_lowercase())
        };
        let close = score >= 0.85
            || strsim::levenshtein(&lower, &c.to_lowercase()) <= (name.len() / 4).max(1);
        if close && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c.to_string())
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[test]
    fn suggests_close_names_only() {
        let c = [
            "Sales Team Access",
            "Base Employee Access",
            "Engineering Team Access",
        ];
        assert_eq!(
            did_you_mean("Sales Team Acess", c).as_deref(),
            Some("Sales Team Access")
        );
        assert_eq!(
            did_you_mean("sales team access", c).as_deref(),
            Some("Sales Team Access")
        );
        assert_eq!(did_you_mean("Completely Different", c), None);
        assert_eq!(
            did_you_mean("job_titel", ["job_title", "department"]).as_deref(),
            Some("job_title")
        );
    }
}
