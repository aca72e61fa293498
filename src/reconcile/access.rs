//! Current access, as exported from the systems (docs/commands.md, "Common ground"; docs/reconcile.md): JSON (`{"user": ["grant
//! (level)", …]}` or `[{"user_id", "grant", "level"}]`), JSONL of the latter, or CSV with
//! columns `user_id,grant,level`. Each entry is resolved against the bundle's systems; one
//! naming an undeclared system, type or level is an input error naming the entry.

#![allow(
    clippy::indexing_slicing,
    reason = "user, entry, group and plan ids index the tables built with them; to become typed vectors"
)]

use std::borrow::Cow;
use std::fmt;
use std::path::Path;

use rustc_hash::FxHashMap;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::eval::{EntId, Plan, RefError};
use crate::input::limits::{NamedReadError, ReadError};
use crate::input::StrSeed;

/// Why an access export cannot be read, or why a reader of its entries refused one. Its
/// `Display` is the message users see: the file, and the entry (its number, its user) or
/// the line and column.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The file cannot be read, is larger than the limit, or is not UTF-8 text.
    #[error(transparent)]
    Read(#[from] NamedReadError),
    #[error("{name}: unknown access format `.{format}`: use .json, .jsonl or .csv")]
    UnknownFormat { name: String, format: String },
    /// Not JSON: serde_json's message at its line and column.
    #[error("{name}:{line}:{column}: invalid JSON: {message}")]
    Syntax {
        name: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// JSON, but not an export's shape: what was being read (`entry 3, field `level``) and
    /// what serde_json says of it.
    #[error("{name}:{line}:{column}: {}{message}", context.as_deref().map(|c| format!("{c}: ")).unwrap_or_default())]
    Shape {
        name: String,
        line: usize,
        column: usize,
        context: Option<String>,
        message: String,
    },
    /// A CSV header the csv reader cannot read (its message).
    #[error("{name}: {message}")]
    Header { name: String, message: String },
    #[error("{name}:1: column `{column}` appears twice in the header (which one holds would be a guess)")]
    ColumnTwice { name: String, column: &'static str },
    #[error(
        "{name}:1: the header must name the columns `user_id`, `grant` and optionally `level`"
    )]
    Columns { name: String },
    /// A CSV record the csv reader cannot read (its message); `at` is `file:line`.
    #[error("{at}: {message}")]
    Record { at: String, message: String },
    #[error("{at}: empty user_id")]
    EmptyUser { at: String },
    #[error("{at}: an entry without a string `user_id`")]
    NoUser { at: String },
    #[error("{at}: user `{user}`: an entry without a string `grant`")]
    NoGrant { at: String, user: String },
    /// An entry that does not name what it should: `text` is the grant as read, with its
    /// separate level.
    #[error("{at}: user `{user}`, entry `{text}`: {problem}")]
    Entry {
        at: String,
        user: String,
        text: String,
        problem: Box<EntryProblem>,
    },
}

/// What is wrong with one entry of an export.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryProblem {
    /// It names a system, type or level the bundle does not declare.
    #[error(transparent)]
    Unresolved(#[from] RefError),
    /// A level for a type that has none.
    #[error("this type has no levels")]
    NoLevels,
    /// Not `system:type[:name] (level)` (mining against the standard library).
    #[error("not a grant reference (`system:type[:name] (level)`)")]
    NotAReference,
    /// A system, type or level that cannot be declared in Pol (mining against the standard
    /// library): `what` is `system name`, `resource type` or `level`.
    #[error(
        "`{value}` is not a valid {what} (a name such as `deploy`: letters, digits, `_` and `-`)"
    )]
    NotAName { what: &'static str, value: String },
}

impl AccessError {
    /// An entry's problem, where it is.
    pub fn entry(at: &dyn fmt::Display, user: &str, text: &str, problem: EntryProblem) -> Self {
        AccessError::Entry {
            at: at.to_string(),
            user: user.to_string(),
            text: text.to_string(),
            problem: Box::new(problem),
        }
    }

    /// A failed read of `name`.
    fn io(name: &str, error: std::io::Error) -> Self {
        AccessError::Read(NamedReadError {
            name: name.to_string(),
            error: ReadError::Io(error),
        })
    }
}

/// One user holding one entitlement (listed twice, it counts once at the highest level).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessEntry {
    /// The holder: an index into [`Access::users`].
    pub user: u32,
    pub ent: EntId,
    pub level: Option<u8>,
}

/// An entry resolved: the entitlement and its level.
type Resolved = (EntId, Option<u8>);

/// Entries in first-seen order, one per (user, entitlement).
#[derive(Debug, Default)]
pub struct Access {
    pub entries: Vec<AccessEntry>,
    /// Users in first-seen order.
    pub users: Vec<String>,
    user_index: FxHashMap<String, u32>,
    /// Per user: its entries (indices into `entries`), in first-seen order.
    by_user: Vec<Vec<u32>>,
    /// Resolved grant texts, so a large export parses each distinct grant once.
    cache: FxHashMap<String, Vec<(Option<String>, Resolved)>>,
}

fn resolve(
    plan: &mut Plan,
    user: &str,
    grant: &str,
    level: Option<&str>,
    at: &dyn std::fmt::Display,
) -> Result<(EntId, Option<u8>), AccessError> {
    let text = match level {
        Some(l) if !l.trim().is_empty() && !grant.trim_end().ends_with(')') => {
            format!("{grant} ({l})")
        }
        _ => grant.to_string(),
    };
    let (ent, rank) = plan
        .resolve_ref(&text)
        .map_err(|e| AccessError::entry(at, user, &text, e.into()))?;
    // no level: the type's default
    let rank = rank.or(plan.bundle.rtype(plan.ent(ent)).default);
    if rank.is_some() && plan.bundle.rtype(plan.ent(ent)).levels.is_empty() {
        return Err(AccessError::entry(at, user, &text, EntryProblem::NoLevels));
    }
    Ok((ent, rank))
}

impl Access {
    /// The id of the user holding an entry.
    pub fn user_id(&self, e: &AccessEntry) -> &str {
        &self.users[e.user as usize]
    }

    /// The index of a user in [`Access::users`], if the export lists them.
    pub fn user(&self, id: &str) -> Option<u32> {
        self.user_index.get(id).copied()
    }

    /// What one user holds, in first-seen order.
    pub fn held(&self, user: u32) -> impl ExactSizeIterator<Item = &AccessEntry> {
        self.by_user[user as usize]
            .iter()
            .map(|&i| &self.entries[i as usize])
    }

    /// What the user with this id holds (nothing when the export does not list them).
    pub fn held_by(&self, id: &str) -> Vec<&AccessEntry> {
        match self.user(id) {
            Some(u) => self.held(u).collect(),
            None => Vec::new(),
        }
    }

    fn add(&mut self, user: &str, ent: EntId, level: Option<u8>) {
        // Exports list a user's entries together: the previous entry's user is checked first.
        let last = self.entries.last().map(|e| e.user);
        let uid = match last.filter(|&u| self.users[u as usize] == user) {
            Some(u) => u,
            None => match self.user_index.get(user) {
                Some(&u) => u,
                None => {
                    let u = self.users.len() as u32;
                    self.users.push(user.to_string());
                    self.user_index.insert(user.to_string(), u);
                    self.by_user.push(Vec::new());
                    u
                }
            },
        };
        self.by_user[uid as usize].push(self.entries.len() as u32);
        self.entries.push(AccessEntry {
            user: uid,
            ent,
            level,
        });
    }

    /// Merges an entitlement listed twice for one user into its first entry, at the
    /// highest level. Done once after reading: sorting each user's few entries is cheaper
    /// than a map probe per entry of a large export.
    fn merge_duplicates(&mut self) {
        let mut removed = vec![false; self.entries.len()];
        let mut any = false;
        let mut scratch: Vec<(EntId, u32)> = Vec::new();
        for list in &self.by_user {
            if list.len() < 2 {
                continue;
            }
            scratch.clear();
            scratch.extend(list.iter().map(|&i| (self.entries[i as usize].ent, i)));
            scratch.sort_unstable();
            let mut keep = 0;
            for k in 1..scratch.len() {
                if scratch[k].0 != scratch[keep].0 {
                    keep = k;
                    continue;
                }
                let (first, dup) = (scratch[keep].1 as usize, scratch[k].1 as usize);
                let level = self.entries[dup].level;
                let e = &mut self.entries[first];
                e.level = e.level.max(level);
                removed[dup] = true;
                any = true;
            }
        }
        if !any {
            return;
        }
        let mut new_index = vec![u32::MAX; self.entries.len()];
        let mut kept = Vec::with_capacity(self.entries.len());
        for (i, e) in self.entries.drain(..).enumerate() {
            if !removed[i] {
                new_index[i] = kept.len() as u32;
                kept.push(e);
            }
        }
        self.entries = kept;
        for list in &mut self.by_user {
            list.retain(|&i| !removed[i as usize]);
            for i in list.iter_mut() {
                *i = new_index[*i as usize];
            }
        }
    }

    fn resolve(
        &mut self,
        plan: &mut Plan,
        user: &str,
        grant: &str,
        level: Option<&str>,
        at: &dyn std::fmt::Display,
    ) -> Result<(EntId, Option<u8>), AccessError> {
        if let Some(r) = self
            .cache
            .get(grant)
            .and_then(|v| v.iter().find(|(l, _)| l.as_deref() == level))
        {
            return Ok(r.1);
        }
        let r = resolve(plan, user, grant, level, at)?;
        self.cache
            .entry(grant.to_string())
            .or_default()
            .push((level.map(str::to_string), r));
        Ok(r)
    }
}

/// Reads an access export. Errors name the file and the entry. JSONL and CSV are read
/// record by record ([`load_entries`]).
pub fn load_access(path: &Path, plan: &mut Plan) -> Result<Access, AccessError> {
    let mut access = Access::default();
    load_entries(path, &mut |user, grant, level, at| {
        let (ent, rank) = access.resolve(plan, user, grant, level, at)?;
        access.add(user, ent, rank);
        Ok(())
    })?;
    access.merge_duplicates();
    Ok(access)
}

/// [`read_entries`] on a file, its format named by its extension. Every format is read as a
/// stream, never whole: JSONL one line at a time, CSV one record at a time, a JSON document
/// in pieces of whole entries ([`crate::input::pieces`]). Errors are the same as for the
/// whole text: an export that is too large or not UTF-8 is refused for that, even after a
/// bad entry.
pub fn load_entries(path: &Path, visit: &mut EntryVisitor<'_>) -> Result<(), AccessError> {
    use crate::input::limits::{Kind, TextStream};
    let name = path.display().to_string();
    let format = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut stream = TextStream::open(path, Kind::Access).map_err(|error| NamedReadError {
        name: name.clone(),
        error,
    })?;
    stream_entries(&mut stream, &name, &format, visit)
}

/// [`read_entries`] read from a stream.
fn stream_entries<R: std::io::Read>(
    stream: &mut crate::input::limits::TextStream<R>,
    name: &str,
    format: &str,
    visit: &mut EntryVisitor<'_>,
) -> Result<(), AccessError> {
    stream_pieces(stream, name, format, visit, crate::input::pieces::PIECE)
}

/// [`stream_entries`] with JSON read in pieces of `size` bytes or so (tests use small ones).
fn stream_pieces<R: std::io::Read>(
    stream: &mut crate::input::limits::TextStream<R>,
    name: &str,
    format: &str,
    visit: &mut EntryVisitor<'_>,
    size: usize,
) -> Result<(), AccessError> {
    let r = match format {
        "json" => read_json(&mut *stream, name, visit, size),
        "jsonl" | "ndjson" => read_jsonl(&mut *stream, name, visit),
        "csv" => read_csv(&mut *stream, name, visit),
        _ => Err(unknown_format(name, format)),
    };
    r.map_err(|e| match stream.take_refusal() {
        Some(error) => AccessError::Read(NamedReadError {
            name: name.to_string(),
            error,
        }),
        None => e,
    })
}

fn unknown_format(name: &str, format: &str) -> AccessError {
    AccessError::UnknownFormat {
        name: name.to_string(),
        format: format.to_string(),
    }
}

/// Parses an access export given its format (`json`, `jsonl`, `csv`).
pub fn parse_access(
    text: &str,
    name: &str,
    format: &str,
    plan: &mut Plan,
) -> Result<Access, AccessError> {
    let mut access = Access::default();
    read_entries(text, name, format, &mut |user, grant, level, at| {
        let (ent, rank) = access.resolve(plan, user, grant, level, at)?;
        access.add(user, ent, rank);
        Ok(())
    })?;
    access.merge_duplicates();
    Ok(access)
}

/// An access export to read, as many times as a caller needs: a file (read as a stream
/// each time, [`load_entries`], never held whole) or a text already in memory
/// ([`read_entries`]).
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    File(&'a Path),
    /// The text, its name for messages, its format (`json`, `jsonl`, `csv`).
    Text {
        text: &'a str,
        name: &'a str,
        format: &'a str,
    },
}

impl Source<'_> {
    /// Reads its entries as written, in file order.
    pub fn entries(&self, visit: &mut EntryVisitor<'_>) -> Result<(), AccessError> {
        match *self {
            Source::File(path) => load_entries(path, visit),
            Source::Text { text, name, format } => read_entries(text, name, format, visit),
        }
    }

    /// Reads it against a plan's bundle ([`load_access`], [`parse_access`]).
    pub fn load(&self, plan: &mut Plan) -> Result<Access, AccessError> {
        match *self {
            Source::File(path) => load_access(path, plan),
            Source::Text { text, name, format } => parse_access(text, name, format, plan),
        }
    }

    /// Checks that it can be read (a file not too large, UTF-8 text) without parsing it,
    /// holding a read's worth of it at a time.
    pub fn check_readable(&self) -> Result<(), AccessError> {
        use crate::input::limits::{Kind, TextStream};
        let Source::File(path) = *self else {
            return Ok(());
        };
        let name = || path.display().to_string();
        let mut stream = TextStream::open(path, Kind::Access).map_err(|error| NamedReadError {
            name: name(),
            error,
        })?;
        match stream.take_refusal() {
            Some(error) => Err(NamedReadError {
                name: name(),
                error,
            }
            .into()),
            None => Ok(()),
        }
    }
}

/// What [`read_entries`] hands over for each entry: the user, the grant as written, its
/// separate level (`level` field or column) if any, and where it is, for messages.
pub type EntryVisitor<'v> =
    dyn FnMut(&str, &str, Option<&str>, &dyn std::fmt::Display) -> Result<(), AccessError> + 'v;

/// Where an entry is, for messages: formatted only when a message needs it (a large export
/// has millions of entries).
pub enum At<'a> {
    Nth {
        name: &'a str,
        n: usize,
        user: Option<&'a str>,
    },
    Line {
        name: &'a str,
        line: usize,
    },
}

impl std::fmt::Display for At<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            At::Nth {
                name,
                n,
                user: Some(u),
            } => write!(f, "{name}: entry {n} of `{u}`"),
            At::Nth {
                name,
                n,
                user: None,
            } => write!(f, "{name}: entry {n}"),
            At::Line { name, line } => write!(f, "{name}:{line}"),
        }
    }
}

/// Reads the entries of an access export as written, in file order, without resolving
/// them: `visit` gets each one (and may refuse it). Errors name the file and the entry.
/// JSON is read as a stream: strings are borrowed from the text, no tree is built.
pub fn read_entries(
    text: &str,
    name: &str,
    format: &str,
    visit: &mut EntryVisitor<'_>,
) -> Result<(), AccessError> {
    match format {
        "json" => {
            let mut ctx = Ctx::new(name, visit);
            let mut de = serde_json::Deserializer::from_str(text);
            let r = Export(&mut ctx)
                .deserialize(&mut de)
                .and_then(|()| de.end());
            ctx.finish(r, Place::Text)?;
        }
        "jsonl" | "ndjson" => read_jsonl(text.as_bytes(), name, visit)?,
        "csv" => read_csv(text.as_bytes(), name, visit)?,
        other => return Err(unknown_format(name, other)),
    }
    Ok(())
}

/// The entries of a JSON document read in pieces of `size` bytes or so, each parsed as
/// [`read_entries`] parses the whole text, with the same messages. A reader's own failure
/// ends the read with its message, which the caller replaces with the stream's.
fn read_json(
    r: impl std::io::BufRead,
    name: &str,
    visit: &mut EntryVisitor<'_>,
    size: usize,
) -> Result<(), AccessError> {
    use crate::input::pieces::{Pieces, Records};
    let mut pieces = Pieces::new(r, Records::TopLevel, size);
    let mut ctx = Ctx::new(name, visit);
    while let Some(piece) = pieces.next_piece().map_err(|e| AccessError::io(name, e))? {
        ctx.stand_in = piece.stand_in;
        let mut de = serde_json::Deserializer::from_str(piece.text);
        let r = Export(&mut ctx)
            .deserialize(&mut de)
            .and_then(|()| de.end());
        ctx.finish(r, Place::Piece(piece.shift))?;
    }
    Ok(())
}

/// JSONL entries, one line at a time. A reader's own failure (a [`TextStream`]'s) ends the
/// read with its message, which the caller replaces with the stream's.
///
/// [`TextStream`]: crate::input::limits::TextStream
fn read_jsonl(
    mut r: impl std::io::BufRead,
    name: &str,
    visit: &mut EntryVisitor<'_>,
) -> Result<(), AccessError> {
    let mut ctx = Ctx::new(name, visit);
    let mut buf = Vec::new();
    for i in 0.. {
        buf.clear();
        if r.read_until(b'\n', &mut buf)
            .map_err(|e| AccessError::io(name, e))?
            == 0
        {
            break;
        }
        // Checked UTF-8 (a stream checks as it reads, a text is a `str`).
        let piece = std::str::from_utf8(&buf).map_err(|e| {
            AccessError::io(
                name,
                std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            )
        })?;
        // As `str::lines` cuts a whole text: without its `\n` or `\r\n`.
        let line = piece.lines().next().unwrap_or("");
        if line.trim().is_empty() {
            continue;
        }
        let at = At::Line { name, line: i + 1 };
        let mut de = serde_json::Deserializer::from_str(line);
        let r = EntrySeed {
            ctx: &mut ctx,
            at: &at,
        }
        .deserialize(&mut de)
        .and_then(|()| de.end());
        ctx.finish(r, Place::Line(i + 1))?;
    }
    Ok(())
}

/// CSV entries with columns `user_id`, `grant` and optionally `level`, one record at a time.
fn read_csv(
    r: impl std::io::Read,
    name: &str,
    visit: &mut EntryVisitor<'_>,
) -> Result<(), AccessError> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(r);
    let headers = rdr
        .headers()
        .map_err(|e| AccessError::Header {
            name: name.to_string(),
            message: e.to_string(),
        })?
        .clone();
    let col = |n: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(n));
    for read in ["user_id", "grant", "level"] {
        if headers
            .iter()
            .filter(|h| h.eq_ignore_ascii_case(read))
            .count()
            > 1
        {
            return Err(AccessError::ColumnTwice {
                name: name.to_string(),
                column: read,
            });
        }
    }
    let (Some(u), Some(g)) = (col("user_id"), col("grant")) else {
        return Err(AccessError::Columns {
            name: name.to_string(),
        });
    };
    let l = col("level");
    let mut rec = csv::StringRecord::new();
    for i in 0.. {
        let at = At::Line { name, line: i + 2 };
        if !rdr.read_record(&mut rec).map_err(|e| AccessError::Record {
            at: at.to_string(),
            message: e.to_string(),
        })? {
            break;
        }
        let user = rec.get(u).unwrap_or("");
        if user.is_empty() {
            return Err(AccessError::EmptyUser { at: at.to_string() });
        }
        let level = l.and_then(|l| rec.get(l)).filter(|s| !s.is_empty());
        visit(user, rec.get(g).unwrap_or(""), level, &at)?;
    }
    Ok(())
}

/// The state of a streamed JSON read: the visitor, the error it gave (if any), and where
/// the reader was when JSON itself was wrong.
struct Ctx<'c, 'v> {
    name: &'c str,
    visit: &'c mut EntryVisitor<'v>,
    /// The visitor's refusal, returned as is.
    failed: Option<AccessError>,
    /// What was being read when the JSON did not have the expected shape.
    context: Option<String>,
    /// A piece of a document: it begins with a stand-in entry to skip.
    stand_in: bool,
    /// The entries of the array form read in the pieces before.
    entries: usize,
}

/// Where a text read by [`Ctx`] is in the export, to place its errors.
enum Place {
    /// The whole export.
    Text,
    /// A JSONL line: its number.
    Line(usize),
    /// A piece of the document.
    Piece(crate::input::pieces::Shift),
}

impl<'c, 'v> Ctx<'c, 'v> {
    fn new(name: &'c str, visit: &'c mut EntryVisitor<'v>) -> Self {
        Ctx {
            name,
            visit,
            failed: None,
            context: None,
            stand_in: false,
            entries: 0,
        }
    }

    fn call(
        &mut self,
        user: &str,
        grant: &str,
        level: Option<&str>,
        at: &dyn fmt::Display,
    ) -> Result<(), AccessError> {
        (self.visit)(user, grant, level, at)
    }

    /// Turns a read's outcome into polc's message: the visitor's own, or the JSON error at
    /// its line and column in the export.
    fn finish(
        &mut self,
        r: Result<(), serde_json::Error>,
        place: Place,
    ) -> Result<(), AccessError> {
        let Err(e) = r else {
            return Ok(());
        };
        if let Some(refused) = self.failed.take() {
            return Err(refused);
        }
        let full = e.to_string();
        let message = match full.rsplit_once(" at line ") {
            Some((m, _)) if e.line() > 0 => m.to_string(),
            _ => full,
        };
        let (line, column) = match place {
            Place::Text => (e.line(), e.column()),
            Place::Line(l) => (l, e.column()),
            Place::Piece(shift) => shift.place(e.line(), e.column()),
        };
        let (name, column) = (self.name.to_string(), column.max(1));
        Err(match e.classify() {
            serde_json::error::Category::Data => AccessError::Shape {
                name,
                line,
                column,
                context: self.context.take(),
                message,
            },
            _ => AccessError::Syntax {
                name,
                line,
                column,
                message,
            },
        })
    }

    /// The error that stops the reader after the visitor refused an entry.
    fn refuse<E: de::Error>(&mut self, refused: AccessError) -> E {
        self.failed = Some(refused);
        E::custom("entry refused")
    }
}

/// `level`: a string or null.
struct LevelSeed;

impl<'de> DeserializeSeed<'de> for LevelSeed {
    type Value = Option<Cow<'de, str>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for LevelSeed {
    type Value = Option<Cow<'de, str>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a level name (a string) or null")
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        StrSeed("a level name (a string) or null")
            .deserialize(d)
            .map(Some)
    }
}

/// The whole export: `{"user": ["grant (level)", …]}` or `[{"user_id", "grant", "level"}]`.
struct Export<'s, 'c, 'v>(&'s mut Ctx<'c, 'v>);

impl<'de> DeserializeSeed<'de> for Export<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Export<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object (user → grants) or an array of entries")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        let ctx = self.0;
        if ctx.stand_in {
            m.next_entry::<IgnoredAny, IgnoredAny>()?;
        }
        while let Some(user) = m.next_key_seed(StrSeed("a user id"))? {
            let user = &*user;
            m.next_value_seed(Grants {
                ctx: &mut *ctx,
                user,
            })
            .inspect_err(|_| {
                if ctx.context.is_none() {
                    ctx.context = Some(format!("user `{user}`"));
                }
            })?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let ctx = self.0;
        let name = ctx.name;
        if ctx.stand_in {
            seq.next_element::<IgnoredAny>()?;
        }
        let mut n = ctx.entries;
        loop {
            let at = At::Nth {
                name,
                n: n + 1,
                user: None,
            };
            let seed = EntrySeed {
                ctx: &mut *ctx,
                at: &at,
            };
            match seq.next_element_seed(seed) {
                Ok(Some(())) => n += 1,
                Ok(None) => {
                    ctx.entries = n;
                    return Ok(());
                }
                Err(e) => {
                    if ctx.context.is_none() {
                        ctx.context = Some(format!("entry {}", n + 1));
                    }
                    return Err(e);
                }
            }
        }
    }
}

/// One user's list of grant texts.
struct Grants<'s, 'c, 'v> {
    ctx: &'s mut Ctx<'c, 'v>,
    user: &'s str,
}

impl<'de> DeserializeSeed<'de> for Grants<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Grants<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of grants")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let (ctx, user) = (self.ctx, self.user);
        let name = ctx.name;
        let mut n = 0usize;
        loop {
            let grant = match seq
                .next_element_seed(StrSeed("a string such as \"gitlab:group:x (reporter)\""))
            {
                Ok(Some(g)) => g,
                Ok(None) => return Ok(()),
                Err(e) => {
                    ctx.context = Some(format!("user `{user}`, entry {}", n + 1));
                    return Err(e);
                }
            };
            n += 1;
            let at = At::Nth {
                name,
                n,
                user: Some(user),
            };
            if let Err(refused) = ctx.call(user, &grant, None, &at) {
                return Err(ctx.refuse(refused));
            }
        }
    }
}

/// One `{"user_id", "grant", "level"}` object (an element of the array form, or a JSONL
/// line); other fields are ignored.
struct EntrySeed<'s, 'c, 'v> {
    ctx: &'s mut Ctx<'c, 'v>,
    at: &'s At<'s>,
}

impl<'de> DeserializeSeed<'de> for EntrySeed<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EntrySeed<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object with user_id, grant, level")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        let (ctx, at) = (self.ctx, self.at);
        let (mut user, mut grant, mut level) = (None, None, None);
        let mut level_null = false;
        let mut wrong = |field: &str| {
            ctx.context = Some(match at {
                At::Nth { n, .. } => format!("entry {n}, field `{field}`"),
                At::Line { .. } => format!("field `{field}`"),
            });
        };
        // The keys not read, to refuse one given twice as the read ones are.
        let mut others: Vec<Cow<'de, str>> = Vec::new();
        while let Some(key) = m.next_key_seed(StrSeed("a field name"))? {
            let again = match &*key {
                "user_id" => user.is_some(),
                "grant" => grant.is_some(),
                "level" => level.is_some() || level_null,
                k => others.iter().any(|o| o == k),
            };
            if again {
                ctx.context = match at {
                    At::Nth { n, .. } => Some(format!("entry {n}")),
                    At::Line { .. } => None,
                };
                return Err(de::Error::custom(crate::input::repeated_key(&key)));
            }
            match &*key {
                "user_id" => {
                    let v = m.next_value_seed(StrSeed("a string"));
                    user = Some(v.inspect_err(|_| wrong("user_id"))?);
                }
                "grant" => {
                    let v = m.next_value_seed(StrSeed("a string"));
                    grant = Some(v.inspect_err(|_| wrong("grant"))?);
                }
                "level" => {
                    let v = m.next_value_seed(LevelSeed);
                    level = v.inspect_err(|_| wrong("level"))?;
                    level_null = level.is_none();
                }
                _ => {
                    others.push(key);
                    m.next_value::<IgnoredAny>()?;
                }
            }
        }
        let Some(user) = user else {
            return Err(ctx.refuse(AccessError::NoUser { at: at.to_string() }));
        };
        let Some(grant) = grant else {
            return Err(ctx.refuse(AccessError::NoGrant {
                at: at.to_string(),
                user: user.to_string(),
            }));
        };
        let level = level.as_deref();
        if let Err(refused) = ctx.call(&user, &grant, level, at) {
            return Err(ctx.refuse(refused));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The entries of an export, or the reader's message.
    fn read(text: &str, format: &str) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        read_entries(text, "a", format, &mut |u, g, l, _| {
            out.push(format!("{u} {g} {l:?}"));
            Ok(())
        })
        .map_err(|e| e.to_string())?;
        Ok(out)
    }

    /// A reader's refusal of an entry, for tests: any problem.
    fn refused(at: &dyn fmt::Display, u: &str, g: &str) -> AccessError {
        AccessError::entry(at, u, g, EntryProblem::NotAReference)
    }

    #[test]
    fn a_key_given_twice_in_an_entry_is_refused_with_the_line() {
        let twice = "given twice in one object (which value holds would be a guess)";
        let e = read(
            "[{\"user_id\": \"a\", \"grant\": \"x\"},\n {\"user_id\": \"a\", \"grant\": \"y\", \"grant\": \"z\"}]",
            "json",
        )
        .unwrap_err();
        assert_eq!(e, format!("a:2:39: entry 2: key \"grant\" {twice}"));
        let e = read(
            "{\"user_id\": \"a\", \"grant\": \"x\"}\n{\"user_id\": \"a\", \"level\": null, \"grant\": \"y\", \"level\": \"admin\"}\n",
            "jsonl",
        )
        .unwrap_err();
        assert_eq!(e, format!("a:2:53: key \"level\" {twice}"));
        let e = read(
            "[{\"user_id\": \"a\", \"note\": 1, \"grant\": \"x\", \"note\": 2}]",
            "json",
        )
        .unwrap_err();
        assert!(e.contains("entry 1: key \"note\" given twice"), "{e}");
        let e = read(
            "[{\"user_id\": \"a\", \"user_id\": \"b\", \"grant\": \"x\"}]",
            "json",
        )
        .unwrap_err();
        assert!(e.contains("key \"user_id\" given twice"), "{e}");
        // a user listed twice in the object form keeps both lists, as before
        assert_eq!(
            read("{\"a\": [\"x\"], \"b\": [], \"a\": [\"y\"]}", "json").unwrap(),
            ["a x None", "a y None"]
        );
    }

    #[test]
    fn errors_say_what_is_wrong_as_a_variant_and_as_before_in_words() {
        let src = "import \"std/hris\"\nimport \"std/saas\"\npolicy \"P\" { when department == \"Eng\" grant gitlab:group:web (reporter) }\n";
        let loaded = crate::db::Loaded::from_sources(&[("t.pol", src)]);
        let bundle = crate::check::check_bundle(&loaded.db, loaded.workspace)
            .bundle
            .clone();
        let fields = vec!["user_id".to_string()];
        let at = chrono::NaiveDate::from_ymd_opt(2025, 6, 1).unwrap();
        let parse = |text: &str, format: &str| {
            let mut plan = Plan::new(std::sync::Arc::clone(&bundle), &fields, at);
            parse_access(text, &format!("a.{format}"), format, &mut plan).unwrap_err()
        };
        let e = parse("{\"amy\": [\"nosuch:x\"]}", "json");
        assert!(
            matches!(&e, AccessError::Entry { user, problem, .. }
                if user == "amy" && matches!(**problem, EntryProblem::Unresolved(RefError::UnknownSystem { .. }))),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "a.json: entry 1 of `amy`: user `amy`, entry `nosuch:x`: unknown system `nosuch` in `nosuch:x`"
        );
        let e = parse("user_id,grant\namy,zoom:account (admin)\n", "csv");
        assert!(
            matches!(&e, AccessError::Entry { problem, .. } if matches!(**problem, EntryProblem::Unresolved(RefError::UnknownLevel { .. }) | EntryProblem::NoLevels)),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .starts_with("a.csv:2: user `amy`, entry `zoom:account (admin)`: "),
            "{e}"
        );
        let e = parse("[{\"grant\": \"x\"}]", "json");
        assert!(matches!(e, AccessError::NoUser { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "a.json: entry 1: an entry without a string `user_id`"
        );
        let e = parse("[{\"user_id\": \"amy\", \"level\": 3}]", "json");
        assert!(
            matches!(
                e,
                AccessError::Shape {
                    line: 1,
                    column: 30,
                    ..
                }
            ),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "a.json:1:30: entry 1, field `level`: invalid type: integer `3`, expected a level name (a string) or null"
        );
        let e = parse("[{]", "json");
        assert!(matches!(e, AccessError::Syntax { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "a.json:1:3: invalid JSON: key must be a string"
        );
        let e = parse("user,grant\n", "csv");
        assert!(matches!(e, AccessError::Columns { .. }), "{e:?}");
        let e = parse("", "xml");
        assert!(matches!(e, AccessError::UnknownFormat { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "a.xml: unknown access format `.xml`: use .json, .jsonl or .csv"
        );
    }

    #[test]
    fn a_column_read_twice_is_refused() {
        let e = read("user_id,grant,level,Grant\na,x,,y\n", "csv").unwrap_err();
        assert_eq!(
            e,
            "a:1: column `grant` appears twice in the header (which one holds would be a guess)"
        );
        // other columns are not read: named twice, they change nothing
        assert_eq!(
            read("user_id,note,grant,note\na,1,x,2\n", "csv").unwrap(),
            ["a x None"]
        );
    }

    /// The entries of an export read as a stream with this limit, or the message.
    fn streamed(bytes: &[u8], format: &str, limit: u64) -> Result<Vec<String>, String> {
        streamed_in(
            bytes,
            format,
            limit,
            crate::input::pieces::PIECE,
            usize::MAX,
        )
    }

    use crate::input::testing::Steps;

    /// [`streamed`] with JSON cut in pieces of `size` bytes or so, read `step` bytes at a
    /// time.
    fn streamed_in(
        bytes: &[u8],
        format: &str,
        limit: u64,
        size: usize,
        step: usize,
    ) -> Result<Vec<String>, String> {
        use crate::input::limits::{Kind, TextStream};
        let mut st = TextStream::new(Steps(bytes, step), Kind::Access, limit);
        let mut out = Vec::new();
        stream_pieces(
            &mut st,
            "a",
            format,
            &mut |u, g, l, at| {
                out.push(format!("{u} {g} {l:?}"));
                if g == "refused" {
                    return Err(refused(at, u, g));
                }
                Ok(())
            },
            size,
        )
        .map_err(|e| e.to_string())?;
        Ok(out)
    }

    /// [`read`] as `polc` read an export before streams: whole, then parsed.
    fn whole(bytes: &[u8], format: &str, limit: u64) -> Result<Vec<String>, String> {
        use crate::input::limits::{read_text_from, Kind};
        let text = read_text_from(bytes, Kind::Access, limit).map_err(|e| e.describe("a"))?;
        let mut out = Vec::new();
        read_entries(&text, "a", format, &mut |u, g, l, at| {
            out.push(format!("{u} {g} {l:?}"));
            if g == "refused" {
                return Err(refused(at, u, g));
            }
            Ok(())
        })
        .map_err(|e| e.to_string())?;
        Ok(out)
    }

    #[test]
    fn a_streamed_export_reads_and_fails_as_the_whole_text() {
        let many_jsonl: String = (0..5000)
            .map(|i| {
                format!(
                    "{{\"user_id\": \"u{i}\", \"grant\": \"g{}\", \"level\": null}}\r\n",
                    i % 7
                )
            })
            .collect();
        let many_csv: String = std::iter::once("user_id,grant,level\n".to_string())
            .chain((0..5000).map(|i| format!("u{i},g{},\n", i % 7)))
            .collect();
        let jsonl: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"\n\n  \n".to_vec(),
            b"{\"user_id\": \"a\", \"grant\": \"x\", \"level\": \"r\"}".to_vec(),
            b"{\"user_id\": \"a\", \"grant\": \"x\"}\r\n\n{\"user_id\": \"b\", \"grant\": \"y\"}\n"
                .to_vec(),
            b"{\"user_id\": \"a\", \"grant\": \"x\"}\n{\"user_id\": 1}\n".to_vec(),
            b"{\"user_id\": \"a\"}\n".to_vec(),
            b"{\"user_id\": \"a\", \"grant\": \"x\"} x\n".to_vec(),
            b"{\"user_id\": \"a\", \"grant\": \"x\"\n".to_vec(),
            b"[1]\n".to_vec(),
            b"{\"user_id\": \"a\", \"grant\": \"refused\"}\n".to_vec(),
            // a bad entry, then bad text: the text is refused first, as when read whole
            b"{\"user_id\": 1}\n{\"user_id\": \"\xff\"}\n".to_vec(),
            b"{\"user_id\": \"a\", \"grant\": \"refused\"}\n\xe2".to_vec(),
            b"{\"user_id\": \"a\", \"grant\": \"x\"}\r".to_vec(),
            "{\"user_id\": \"\u{e9}\u{2028}\", \"grant\": \"x\"}\n"
                .as_bytes()
                .to_vec(),
            many_jsonl.clone().into_bytes(),
            format!("{many_jsonl}{{\"user_id\": 2}}\n").into_bytes(),
            [
                format!("{{\"user_id\": 2}}\n{many_jsonl}").as_bytes(),
                b"\xff",
            ]
            .concat(),
        ];
        let csv: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"user_id,grant\n".to_vec(),
            b"user_id,grant,level\na,x,r\nb,y,\n".to_vec(),
            b"\xef\xbb\xbfUser_ID , Grant\r\n a , x \r\n".to_vec(),
            b"user,grant\na,x\n".to_vec(),
            b"user_id,grant,grant\na,x,y\n".to_vec(),
            b"user_id,grant\n,x\n".to_vec(),
            b"user_id,grant\na,x,extra\n".to_vec(),
            b"user_id,grant\na,\"x\n".to_vec(),
            b"user_id,grant\na,refused\nb,\xff\n".to_vec(),
            b"user_id,grant\n,x\n\xc3".to_vec(),
            many_csv.clone().into_bytes(),
            format!("{many_csv},x\n").into_bytes(),
            [format!("{many_csv}a,x,y,z\n").as_bytes(), b"\xff"].concat(),
        ];
        let many_array: String = format!(
            "[\n{}\n]\n",
            (0..20_000)
                .map(|i| format!(
                    "  {{\"user_id\": \"u{i}\", \"grant\": \"g{}\", \"level\": null}}",
                    i % 7
                ))
                .collect::<Vec<_>>()
                .join(",\n")
        );
        let many_object: String = format!(
            "{{{}}}",
            (0..20_000)
                .map(|i| format!("\"u{i}\": [\"g{}\", \"g{} (r)\"]", i % 7, i % 3))
                .collect::<Vec<_>>()
                .join(", ")
        );
        // a change that must be made, or the case tests nothing
        let swap = |t: &str, a: &str, b: &str| {
            assert!(t.contains(a), "{a}");
            t.replace(a, b)
        };
        let json: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"  \n".to_vec(),
            b"[]".to_vec(),
            b"\xef\xbb\xbf[]".to_vec(),
            "[] \u{e9}".as_bytes().to_vec(),
            "\u{e9}[]".as_bytes().to_vec(),
            b" x".to_vec(),
            b"{}".to_vec(),
            b"5".to_vec(),
            b"\"a\"".to_vec(),
            b"[{\"user_id\": \"a\", \"grant\": \"x\"}, {\"user_id\": 1, \"grant\": \"y\"}]".to_vec(),
            b"[{\"user_id\": \"a\", \"grant\": \"x\"}, {\"user_id\": [1], \"grant\": \"y\"}]".to_vec(),
            b"[{\"user_id\": \"a\", \"grant\": \"x\"}, {\"user_id\": \"b\", \"level\": 5}]".to_vec(),
            b"[{\"user_id\": \"a\", \"grant\": \"x\"},\n {\"user_id\": \"b\"}]".to_vec(),
            b"[{\"user_id\": \"a\", \"grant\": \"x\"}, 1, {}]".to_vec(),
            b"[{\"user_id\": \"a\", \"grant\": \"x\"} {}]".to_vec(),
            b"[{\"user_id\": \"a\", \"grant\": \"x\"},]".to_vec(),
            b"[{\"user_id\": \"a\", \"grant\": \"x\"},".to_vec(),
            b"[{\"user_id\": \"a\", \"grant\": \"x\"}] x".to_vec(),
            b"[{\"user_id\": \"a\", \"grant\": \"x\"}]]".to_vec(),
            b"[{\"user_id\": \"a\", \"grant\": \"refused\"}, {}]".to_vec(),
            b"{\"a\": [\"x\"], \"b\": [\"y\", 2]}".to_vec(),
            b"{\"a\": [\"x\"], \"b\": \"y\"}".to_vec(),
            b"{\"a\": [\"x\"], \"b\" [\"y\"]}".to_vec(),
            b"{\"a\": [\"x\"], 5: []}".to_vec(),
            b"{\"a\": [\"x\"], \"b\": [\"refused\"]}".to_vec(),
            b"{\"a\": [\"x\"], \"a\": [\"y\"]}".to_vec(),
            b"[{\"user_id\": \"a\", \"grant\": \"x\"}, {\"user_id\": \"a\", \"grant\": \"y\", \"grant\": \"z\"}]".to_vec(),
            // a bad entry, then bad text: the text is refused first, as when read whole
            b"[{\"user_id\": 1}, {\"user_id\": \"\xff\"}]".to_vec(),
            b"{\"a\": [\"refused\"]}\xe2".to_vec(),
            many_array.clone().into_bytes(),
            many_object.clone().into_bytes(),
            // late errors, past many pieces
            swap(&many_array, "\"u14321\"", "4321").into_bytes(),
            swap(&many_array, "\"g0\", \"level\": null}\n]", "\"g0\", \"level\": 3}\n]").into_bytes(),
            swap(&many_array, "\"u14000\"", "\"u14000\" \"x\"").into_bytes(),
            swap(&many_object, "\"u14321\": [", "\"u14321\": [3, ").into_bytes(),
            swap(&many_object, "\"u19999\": [\"g0\"", "\"u19999\": [\"refused\"").into_bytes(),
            format!("{many_array}\n,").into_bytes(),
            [many_object.as_bytes(), b" \xff"].concat(),
            [&many_array.as_bytes()[..100_000], b"\xff", &many_array.as_bytes()[100_000..]].concat(),
        ];
        for (format, cases) in [
            ("jsonl", &jsonl),
            ("csv", &csv),
            ("txt", &jsonl),
            ("json", &json),
        ] {
            for bytes in cases {
                for limit in [20, 65_536, 1 << 30] {
                    assert_eq!(
                        streamed(bytes, format, limit),
                        whole(bytes, format, limit),
                        "{format}, limit {limit}: {:?}",
                        String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
                    );
                }
            }
        }
    }

    #[test]
    fn json_in_small_pieces_reads_and_fails_as_the_whole_text() {
        let cases: &[&str] = &[
            "[{\"user_id\": \"a\", \"grant\": \"x\"},\n  {\"user_id\": \"b\", \"grant\": \"y\", \"level\": \"r\"} ,\r\n{\"user_id\": \"c\", \"grant\": \"z\", \"note\": {\"a\": [1, \"]\"]}}]",
            "[{\"user_id\": \"a\", \"grant\": \"x\"}, {\"user_id\": \"b\", \"grant\": 7}]",
            "[{\"user_id\": \"a\", \"grant\": \"x\"},\n {\"user_id\": \"b\", \"grant\": \"y\", \"level\": [1]}]",
            "[{\"user_id\": \"a\", \"grant\": \"x\"}, {\"user_id\": \"b\", \"grant\": \"refused\"}]",
            "[{\"user_id\": \"a\", \"grant\": \"x\"}, {\"grant\": \"y\"}]",
            "[{\"user_id\": \"a\", \"grant\": \"x\"}, {\"user_id\": \"b\"}, {}]",
            "[{\"user_id\": \"a\", \"grant\": \"x\"},\n\n  ,{}]",
            "[{\"user_id\": \"a\", \"grant\": \"x\"}, {\"user_id\": \"b\", \"grant\": \"y\"}\n  x",
            "[{\"user_id\": \"a\", \"grant\": \"x\"}, {\"user_id\": \"b\", \"grant\": \"y\"}] ]",
            "{\"a\": [\"x\"],\n \"b\": [\"y\", \"z (r)\"],\n \"c\": [\"w\", {}]}",
            "{\"a\": [\"x\"],\n \"b\": [\"y\"],\n \"c\": [\"w\"],}",
            "{\"a\": [\"x\"],\n \"b\": [\"y\"]\n \"c\": [\"w\"]}",
            "{\"a\": [\"x\"],\n \"b\": [\"y\"],\n \"c\": [\"refused\"]}",
            "{\"a\": [\"x\"],\n \"b\": [\"y\"],\n \"c\": [\"w\"]",
            "{\"a\": [\"x\"],\n \"b\": [\"y\"],\n \"c\": null}",
            "{\"a\": [\"x\"],\n \"b\": [\"y\"],\n \"\\u0063\\\"\": [\"w\"]}",
        ];
        for text in cases {
            let whole = whole(text.as_bytes(), "json", 1 << 30);
            for size in [1, 2, 5, 17, 64, 1 << 20] {
                for step in [1, 2, 3, 7, 4096] {
                    assert_eq!(
                        streamed_in(text.as_bytes(), "json", 1 << 30, size, step),
                        whole,
                        "size {size}, step {step}: {text}"
                    );
                }
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]

        /// Exports of random entries and whitespace, mangled at one place or not: read in
        /// pieces of any size, they give the entries or the message of the whole text.
        #[test]
        fn json_pieces_agree_with_the_whole_text(
            object in proptest::bool::ANY,
            users in proptest::collection::vec(
                (0usize..6, proptest::collection::vec((0usize..6, proptest::option::of(0usize..3)), 0..4)),
                0..8,
            ),
            spaces in proptest::collection::vec(0usize..6, 1..16),
            change in 0usize..7,
            at in 0.0f64..1.0,
            byte in proptest::sample::select(b",]}{[\":1 \nx\\0-tn\xff".to_vec()),
            size in proptest::sample::select(vec![1usize, 3, 16, 100, 1 << 20]),
            step in proptest::sample::select(vec![1usize, 2, 5, 64, 1 << 16]),
        ) {
            const WS: [&str; 6] = ["", " ", "\n", "\r\n", "\t", "  \n "];
            const GRANTS: [&str; 6] = ["gitlab:group:web", "zoom:account", "refused", "a\"b", "x,]}", "\u{e9}\u{2028}"];
            let mut k = 0;
            let mut ws = || {
                k += 1;
                WS[spaces[k % spaces.len()]]
            };
            let q = |s: &str| serde_json::to_string(s).unwrap();
            let mut text = String::new();
            text.push_str(ws());
            text.push(if object { '{' } else { '[' });
            for (i, (u, grants)) in users.iter().enumerate() {
                if i > 0 {
                    text.push_str(ws());
                    text.push(',');
                }
                text.push_str(ws());
                let user = q(&format!("u{u}"));
                if object {
                    text.push_str(&format!("{user}{}:{}[", ws(), ws()));
                    for (j, (g, l)) in grants.iter().enumerate() {
                        let sep = if j > 0 { "," } else { "" };
                        let grant = match l {
                            Some(l) => format!("{} (l{l})", GRANTS[*g]),
                            None => GRANTS[*g].to_string(),
                        };
                        text.push_str(&format!("{sep}{}{}", ws(), q(&grant)));
                    }
                    text.push_str(&format!("{}]", ws()));
                } else {
                    let (g, l) = grants.first().copied().unwrap_or((0, None));
                    let level = match l {
                        Some(l) => q(&format!("l{l}")),
                        None => "null".into(),
                    };
                    text.push_str(&format!(
                        "{{{}\"user_id\":{user},{}\"grant\":{}{},\"level\":{level}}}",
                        ws(),
                        ws(),
                        ws(),
                        q(GRANTS[g])
                    ));
                }
            }
            text.push_str(ws());
            text.push(if object { '}' } else { ']' });
            text.push_str(ws());
            let bytes = crate::input::testing::damage(text.into_bytes(), at, change, byte);
            let whole = whole(&bytes, "json", 1 << 30);
            proptest::prop_assert_eq!(
                streamed_in(&bytes, "json", 1 << 30, size, step),
                whole,
                "{:?}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }

    #[test]
    fn every_format_is_read_as_it_arrives() {
        use crate::input::limits::{Kind, TextStream};
        use std::cell::Cell;
        /// A reader that counts what it has handed over.
        struct Counted<'a>(&'a [u8], &'a Cell<usize>);
        impl std::io::Read for Counted<'_> {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                let n = std::io::Read::read(&mut self.0, out)?;
                self.1.set(self.1.get() + n);
                Ok(n)
            }
        }
        let jsonl: String = (0..100_000)
            .map(|i| format!("{{\"user_id\": \"u{i}\", \"grant\": \"g\"}}\n"))
            .collect();
        let csv: String = std::iter::once("user_id,grant\n".to_string())
            .chain((0..100_000).map(|i| format!("u{i},g\n")))
            .collect();
        let json = format!("[{}]", jsonl.trim_end().replace('\n', ",\n"));
        let object = format!(
            "{{{}}}",
            (0..100_000)
                .map(|i| format!("\"u{i}\": [\"g\"]"))
                .collect::<Vec<_>>()
                .join(",\n")
        );
        let piece = crate::input::pieces::PIECE;
        for (format, text, ahead) in [
            ("jsonl", jsonl, 0),
            ("csv", csv, 0),
            ("json", json, piece),
            ("json", object, piece),
        ] {
            let read = Cell::new(0);
            let mut st = TextStream::new(Counted(text.as_bytes(), &read), Kind::Access, 1 << 30);
            let mut seen = 0;
            stream_entries(&mut st, "a", format, &mut |_, _, _, _| {
                // at most one read of 64 KiB ahead of the entry (JSON: of its piece)
                assert!(
                    read.get() <= seen * 40 + ahead + (64 << 10) + 64,
                    "{format}: {} read",
                    read.get()
                );
                seen += 1;
                Ok(())
            })
            .unwrap();
            assert_eq!((seen, read.get()), (100_000, text.len()), "{format}");
        }
    }
}
