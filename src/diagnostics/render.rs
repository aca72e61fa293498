//! The one place diagnostics are turned into text: the terminal (codespan-reporting), the
//! JSON of docs/commands.md (`check`), and SARIF 2.1.0 for code-scanning uploads.

use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term;
use serde_json::{json, Value};

use super::{count, Diagnostic, Severity};
use crate::db::{Db, SourceFile};

/// 1-based line and column (columns count characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

struct FileMap {
    files: SimpleFiles<String, String>,
    ids: Vec<(SourceFile, usize)>,
}

impl FileMap {
    fn new() -> FileMap {
        FileMap {
            files: SimpleFiles::new(),
            ids: Vec::new(),
        }
    }
    fn id(&mut self, db: &dyn Db, f: SourceFile) -> usize {
        if let Some((_, id)) = self.ids.iter().find(|(g, _)| *g == f) {
            return *id;
        }
        // Hidden characters (bidi controls, zero-width) shown, at the same offsets: an
        // excerpt must not be reordered by the terminal it is printed on.
        let text = crate::syntax::confusables::visible(f.text(db)).into_owned();
        let id = self.files.add(f.path(db).clone(), text);
        self.ids.push((f, id));
        id
    }
}

fn to_codespan(db: &dyn Db, map: &mut FileMap, d: &Diagnostic) -> cs::Diagnostic<usize> {
    let severity = match d.severity {
        Severity::Error => cs::Severity::Error,
        Severity::Warning => cs::Severity::Warning,
        Severity::Note => cs::Severity::Note,
    };
    let clamp = |db: &dyn Db, f: SourceFile, r: std::ops::Range<usize>| {
        let len = f.text(db).len();
        r.start.min(len)..r.end.min(len)
    };
    // Names quoted in messages are shown with their hidden characters escaped.
    let shown = |s: &str| crate::syntax::confusables::escape(s).into_owned();
    let pid = map.id(db, d.primary.file);
    let mut labels =
        vec![
            cs::Label::primary(pid, clamp(db, d.primary.file, d.primary.span.range()))
                .with_message(shown(&d.primary.message)),
        ];
    for l in &d.labels {
        let id = map.id(db, l.file);
        labels.push(
            cs::Label::secondary(id, clamp(db, l.file, l.span.range()))
                .with_message(shown(&l.message)),
        );
    }
    let mut notes: Vec<String> = d.notes.iter().map(|n| shown(n)).collect();
    if let Some(h) = &d.help {
        notes.push(format!("help: {}", shown(h)));
    }
    cs::Diagnostic::new(severity)
        .with_code(d.code)
        .with_message(shown(&d.message))
        .with_labels(labels)
        .with_notes(notes)
}

/// Renders diagnostics as the terminal shows them, without colour (for snapshots and pipes).
pub fn render_plain(db: &dyn Db, diags: &[Diagnostic]) -> String {
    let mut map = FileMap::new();
    let config = term::Config::default();
    let mut out = String::new();
    for d in diags {
        let cd = to_codespan(db, &mut map, d);
        match term::emit_into_string(&config, &map.files, &cd) {
            Ok(s) => out.push_str(&s),
            Err(e) => out.push_str(&format!(
                "{}[{}]: {} ({e})\n",
                d.severity.as_str(),
                d.code,
                d.message
            )),
        }
    }
    out
}

/// Writes diagnostics to stderr, in colour when stderr is a terminal.
pub fn emit_stderr(db: &dyn Db, diags: &[Diagnostic]) {
    use term::termcolor::{ColorChoice, StandardStream};
    let choice = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        ColorChoice::Auto
    } else {
        ColorChoice::Never
    };
    let mut stream = StandardStream::stderr(choice);
    let mut map = FileMap::new();
    let config = term::Config::default();
    for d in diags {
        let cd = to_codespan(db, &mut map, d);
        if term::emit_to_write_style(&mut stream, &config, &map.files, &cd).is_err() {
            eprintln!("{}[{}]: {}", d.severity.as_str(), d.code, d.message);
        }
    }
}

fn location(db: &dyn Db, f: SourceFile, span: crate::syntax::Span) -> (usize, usize, usize, usize) {
    let text = f.text(db);
    let (l, c) = line_col(text, span.start as usize);
    let (el, ec) = line_col(text, span.end as usize);
    (l, c, el, ec)
}

/// One diagnostic as the JSON object of docs/commands.md (`polc check --format json`).
pub fn diagnostic_json(db: &dyn Db, d: &Diagnostic) -> Value {
    let (line, column, end_line, end_column) = location(db, d.primary.file, d.primary.span);
    let labels: Vec<Value> = d
        .labels
        .iter()
        .map(|l| {
            let (line, column, end_line, end_column) = location(db, l.file, l.span);
            json!({"file": l.file.path(db), "line": line, "column": column, "end_line": end_line,
                   "end_column": end_column, "message": l.message})
        })
        .collect();
    json!({
        "code": d.code,
        "severity": d.severity.as_str(),
        "message": d.message,
        "file": d.primary.file.path(db),
        "line": line, "column": column, "end_line": end_line, "end_column": end_column,
        "label": d.primary.message,
        "labels": labels,
        "help": d.help,
        "notes": d.notes,
    })
}

/// The whole `polc check --format json` document.
pub fn check_json(db: &dyn Db, diags: &[Diagnostic]) -> Value {
    let (errors, warnings) = count(diags);
    json!({
        "diagnostics": diags.iter().map(|d| diagnostic_json(db, d)).collect::<Vec<_>>(),
        "errors": errors,
        "warnings": warnings,
    })
}

/// SARIF 2.1.0, as GitHub code scanning and other tools read it.
pub fn sarif(db: &dyn Db, diags: &[Diagnostic]) -> Value {
    let mut codes: Vec<&'static str> = diags.iter().map(|d| d.code).collect();
    codes.sort_unstable();
    codes.dedup();
    let rules: Vec<Value> = codes
        .iter()
        .map(|c| {
            let title = super::explain::title(c).unwrap_or("");
            let name = super::explain::name(c).unwrap_or("Diagnostic");
            json!({"id": c, "name": name, "shortDescription": {"text": title},
                   "helpUri": format!("https://polc.dev/diagnostics#{}", c.to_lowercase()),
                   "defaultConfiguration": {"level": sarif_level(Severity::of_code(c))}})
        })
        .collect();
    let loc = |f: SourceFile, span: crate::syntax::Span, msg: Option<&str>| {
        let (l, c, el, ec) = location(db, f, span);
        let mut v = json!({"physicalLocation": {"artifactLocation": {"uri": sarif_uri(f.path(db))},
            "region": {"startLine": l, "startColumn": c, "endLine": el, "endColumn": ec}}});
        if let (Some(m), Some(o)) = (msg, v.as_object_mut()) {
            o.insert("message".into(), json!({"text": m}));
        }
        v
    };
    let results: Vec<Value> = diags
        .iter()
        .map(|d| {
            let mut text = d.message.clone();
            if let Some(h) = &d.help {
                text.push_str(&format!("\nhelp: {h}"));
            }
            json!({
                "ruleId": d.code,
                "ruleIndex": codes.iter().position(|c| *c == d.code),
                "level": sarif_level(d.severity),
                "message": {"text": text},
                "locations": [loc(d.primary.file, d.primary.span, None)],
                "relatedLocations": d.labels.iter().enumerate().map(|(i, l)| {
                    let mut v = loc(l.file, l.span, Some(&l.message));
                    if let Some(o) = v.as_object_mut() {
                        o.insert("id".into(), json!(i + 1));
                    }
                    v
                }).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "polc", "version": env!("CARGO_PKG_VERSION"),
                                "informationUri": "https://polc.dev", "rules": rules}},
            "results": results,
        }]
    })
}

/// A file path as a SARIF `artifactLocation.uri`: a relative path stays a relative reference
/// (to the folder the check ran in, as GitHub reads it); an absolute path becomes a `file://`
/// URI (a relative reference must not begin with `/`), without `.` or `..` segments.
/// Characters outside a URI path are
/// percent-encoded.
pub fn sarif_uri(path: &str) -> String {
    let mut path = path.replace('\\', "/");
    if path.starts_with('/') {
        // `..` in a `file` URI may mean another file where the log is read (links).
        path = crate::db::lexical_normalize(std::path::Path::new(&path))
            .to_string_lossy()
            .into_owned();
    }
    let b = path.as_bytes();
    let drive = matches!(b, [d, b':', b'/', ..] if d.is_ascii_alphabetic());
    let mut out = String::with_capacity(path.len() + 8);
    if path.starts_with('/') {
        out.push_str("file://");
    } else if drive {
        out.push_str("file:///");
    }
    for (i, b) in path.bytes().enumerate() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'/'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b'@'
            )
            || (b == b':' && drive && i == 1);
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

#[cfg(test)]
mod tests {
    use super::line_col;

    #[test]
    fn sarif_uris() {
        use super::sarif_uri;
        assert_eq!(sarif_uri("policies/base.pol"), "policies/base.pol");
        assert_eq!(sarif_uri("/home/a b/x.pol"), "file:///home/a%20b/x.pol");
        assert_eq!(sarif_uri("/p/cli/../t/./x.pol"), "file:///p/t/x.pol");
        assert_eq!(sarif_uri("C:\\p\\x.pol"), "file:///C:/p/x.pol");
        assert_eq!(sarif_uri("a:b/é#?.pol"), "a%3Ab/%C3%A9%23%3F.pol");
    }

    #[test]
    fn columns_count_characters() {
        assert_eq!(line_col("ab\ncé d", 0), (1, 1));
        assert_eq!(line_col("ab\ncé d", 3), (2, 1));
        // `é` is two bytes but one column
        assert_eq!(line_col("ab\ncé d", 7), (2, 4));
    }
}
