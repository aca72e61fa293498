//! Size limits on what polc reads, in one place (docs/inputs.md, "Size limits").
//!
//! Every input file is read through [`read_bytes`] or [`read_text`] with its [`Kind`]: at
//! most the kind's limit plus one byte is ever read (`Read::take`), so a file that is too
//! large, `/dev/zero` or a FIFO that never ends is refused with a message naming the file and
//! the limit instead of eating memory until the system kills polc. Text is checked to be
//! UTF-8 as it arrives, so binary garbage is refused at its first bad byte, not after the
//! whole limit has been read.

#![allow(
    clippy::indexing_slicing,
    reason = "field slots and column indices index the schema and the header they were computed from"
)]

use std::fmt;
use std::io::{BufRead, ErrorKind as IoKind, Read};
use std::path::Path;

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// What is read; each kind has its own limit ([`Kind::limit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One `.pol` file (each file of a bundle's sources separately).
    PolicySource,
    /// A users file (`--users`, including standard input).
    Users,
    /// An access export (`--access`).
    Access,
    /// An events file (`--event`).
    Events,
    /// A mapping file (`--mapping`).
    Mapping,
    /// A key file (`--sign-key`, `--verify-key`).
    KeyFile,
    /// A compiled bundle file (`--bundle`, `polc inspect`, `polc impact`).
    Bundle,
    /// An access snapshot (`polc test --snapshot`): everyone's expected access.
    Snapshot,
}

impl Kind {
    /// Every kind, in the order docs/inputs.md lists them.
    pub const ALL: [Kind; 8] = [
        Kind::PolicySource,
        Kind::Users,
        Kind::Access,
        Kind::Events,
        Kind::Mapping,
        Kind::KeyFile,
        Kind::Bundle,
        Kind::Snapshot,
    ];

    /// The largest input of this kind polc reads, in bytes.
    pub const fn limit(self) -> u64 {
        match self {
            // The largest real bundles are a few hundred KB a file.
            Kind::PolicySource => 16 * MIB,
            // 100,000 users are 20 MB of JSON; an export with many columns of a few million
            // people fits.
            Kind::Users => 2 * GIB,
            // Several entries a user: larger than the users file.
            Kind::Access => 4 * GIB,
            Kind::Events => 256 * MIB,
            Kind::Mapping => MIB,
            // A key file is one comment line and 64 hex digits.
            Kind::KeyFile => 64 * KIB,
            Kind::Bundle => 256 * MIB,
            // Every user's grants: larger than the users file.
            Kind::Snapshot => 4 * GIB,
        }
    }

    /// The kind as messages name it: "a users file".
    pub const fn what(self) -> &'static str {
        match self {
            Kind::PolicySource => "a policy source file",
            Kind::Users => "a users file",
            Kind::Access => "an access export",
            Kind::Events => "an events file",
            Kind::Mapping => "a mapping file",
            Kind::KeyFile => "a key file",
            Kind::Bundle => "a bundle file",
            Kind::Snapshot => "an access snapshot",
        }
    }
}

/// A size as docs and messages write it: `16 MiB`, `64 KiB`, `2 GiB`, else bytes.
pub fn size_text(bytes: u64) -> String {
    for (unit, name) in [(GIB, "GiB"), (MIB, "MiB"), (KIB, "KiB")] {
        if bytes >= unit && bytes % unit == 0 {
            return format!("{} {name}", bytes / unit);
        }
    }
    format!("{bytes} bytes")
}

/// Why an input could not be read.
#[derive(Debug)]
pub enum ReadError {
    Io(std::io::Error),
    /// More than the kind's limit.
    TooLarge {
        kind: Kind,
        limit: u64,
    },
    /// Not UTF-8 text: the first bad byte, its 1-based line and column (in characters).
    NotUtf8 {
        offset: usize,
        line: usize,
        column: usize,
    },
}

impl ReadError {
    /// The whole message, naming the input: `users.json: larger than …`,
    /// `users.json:3:7: not UTF-8 text (…)`.
    pub fn describe(&self, name: &str) -> String {
        match self {
            ReadError::NotUtf8 { line, column, .. } => format!("{name}:{line}:{column}: {self}"),
            ReadError::Io(e) => crate::text::cannot_read(name, e),
            _ => format!("{name}: {self}"),
        }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "cannot read: {e}"),
            ReadError::TooLarge { kind, limit } => write!(
                f,
                "larger than {}, the limit for {} (docs/inputs.md, \"Size limits\")",
                size_text(*limit),
                kind.what()
            ),
            ReadError::NotUtf8 { offset, .. } => {
                write!(f, "not UTF-8 text (invalid byte at offset {offset})")
            }
        }
    }
}

impl std::error::Error for ReadError {}

/// Reads a file of this kind, at most its limit.
pub fn read_bytes(path: &Path, kind: Kind) -> Result<Vec<u8>, ReadError> {
    let (file, hint) = open(path)?;
    read_limited(file, kind, kind.limit(), hint, false)
}

/// Reads a UTF-8 text file of this kind, at most its limit.
pub fn read_text(path: &Path, kind: Kind) -> Result<String, ReadError> {
    let (file, hint) = open(path)?;
    text(read_limited(file, kind, kind.limit(), hint, true)?)
}

/// [`read_text`] with an error that names the file.
pub fn read_text_or_message(path: &Path, kind: Kind) -> Result<String, NamedReadError> {
    read_text(path, kind).map_err(|error| NamedReadError {
        name: path.display().to_string(),
        error,
    })
}

/// A [`ReadError`] with the input's name, shown as [`ReadError::describe`] says.
#[derive(Debug, thiserror::Error)]
#[error("{}", error.describe(name))]
pub struct NamedReadError {
    pub name: String,
    pub error: ReadError,
}

/// Reads standard input as UTF-8 text of this kind, at most its limit.
pub fn read_stdin_text(kind: Kind) -> Result<String, ReadError> {
    text(read_limited(
        std::io::stdin().lock(),
        kind,
        kind.limit(),
        0,
        true,
    )?)
}

/// Reads UTF-8 text of this kind from any reader, at most `limit` bytes (tests use small
/// limits; everything else passes [`Kind::limit`]).
pub fn read_text_from(r: impl Read, kind: Kind, limit: u64) -> Result<String, ReadError> {
    text(read_limited(r, kind, limit, 0, true)?)
}

/// A text input read as a stream, with [`read_text`]'s limit and checks made in the same
/// order on the same reads (so the same file gives the same error), without holding the
/// whole file: for inputs that can be large and are read record by record.
///
/// It is a [`BufRead`] of checked UTF-8: a read that fails hands over an
/// [`std::io::Error`] and keeps the [`ReadError`] for [`TextStream::error`].
pub struct TextStream<R> {
    inner: std::io::Take<R>,
    kind: Kind,
    limit: u64,
    /// The last read's bytes, after the end of a character the read before cut.
    buf: Vec<u8>,
    /// `buf[pos..valid]` is checked and not yet handed over; `buf[valid..]` is the start of
    /// a character cut by the end of the read.
    pos: usize,
    valid: usize,
    /// Bytes read so far, and where the checked text ends (1-based line, characters on it).
    total: u64,
    line: usize,
    column: usize,
    error: Option<ReadError>,
}

/// The size of each read, as [`read_text`] reads.
const CHUNK: usize = 64 * 1024;

impl TextStream<std::fs::File> {
    /// Opens a file of this kind as a stream.
    pub fn open(path: &Path, kind: Kind) -> Result<Self, ReadError> {
        let (file, _) = open(path)?;
        Ok(Self::new(file, kind, kind.limit()))
    }
}

impl<R: Read> TextStream<R> {
    /// A stream of at most `limit` bytes (tests use small limits; files use [`Kind::limit`]).
    pub fn new(r: R, kind: Kind, limit: u64) -> Self {
        TextStream {
            inner: r.take(limit.saturating_add(1)),
            kind,
            limit,
            buf: Vec::with_capacity(CHUNK + 4),
            pos: 0,
            valid: 0,
            total: 0,
            line: 1,
            column: 0,
            error: None,
        }
    }

    /// Why the stream stopped, if it did: too large, not UTF-8, or the system's error.
    pub fn error(&self) -> Option<&ReadError> {
        self.error.as_ref()
    }

    /// Reads the rest without keeping it, and says why the input is refused if it is: for a
    /// reader that stopped at a bad record, so that an input that is too large or not text is
    /// refused for that first, as when it is read whole.
    pub fn finish(&mut self) -> Option<&ReadError> {
        while self.error.is_none() {
            match self.fill_buf() {
                Ok([]) => break,
                Ok(b) => {
                    let n = b.len();
                    self.consume(n);
                }
                Err(_) => break,
            }
        }
        self.error()
    }

    /// [`TextStream::finish`], handing over why the input is refused.
    pub fn take_refusal(&mut self) -> Option<ReadError> {
        self.finish();
        self.error.take()
    }

    fn fail(&mut self, e: ReadError) -> std::io::Error {
        let io = std::io::Error::other(e.to_string());
        self.error = Some(e);
        io
    }

    /// Counts the lines and columns of newly checked text, for the place of a bad byte.
    fn advance(&mut self, from: usize, to: usize) {
        let s = &self.buf[from..to];
        let chars = |b: &[u8]| b.iter().filter(|&&c| c & 0xC0 != 0x80).count();
        match s.iter().rposition(|&c| c == b'\n') {
            Some(last) => {
                self.line += s.iter().filter(|&&c| c == b'\n').count();
                self.column = chars(&s[last + 1..]);
            }
            None => self.column += chars(s),
        }
    }

    /// Reads the next chunk after the checked text is handed over.
    fn refill(&mut self) -> std::io::Result<()> {
        // keep the start of a cut character
        self.buf.drain(..self.valid);
        self.pos = 0;
        self.valid = 0;
        loop {
            let start = self.buf.len();
            self.buf.resize(start + CHUNK, 0);
            let n = loop {
                match self.inner.read(&mut self.buf[start..]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == IoKind::Interrupted => continue,
                    Err(e) => {
                        self.buf.truncate(start);
                        let io = std::io::Error::new(e.kind(), e.to_string());
                        self.error = Some(ReadError::Io(e));
                        return Err(io);
                    }
                }
            };
            self.buf.truncate(start + n);
            if n == 0 {
                if !self.buf.is_empty() {
                    // the input ends inside a character
                    let offset = self.total as usize - self.buf.len();
                    let e = self.not_utf8_here(offset);
                    return Err(self.fail(e));
                }
                return Ok(());
            }
            if self.total + n as u64 > self.limit {
                let e = ReadError::TooLarge {
                    kind: self.kind,
                    limit: self.limit,
                };
                return Err(self.fail(e));
            }
            self.total += n as u64;
            match std::str::from_utf8(&self.buf) {
                Ok(_) => self.valid = self.buf.len(),
                Err(e) if e.error_len().is_none() => self.valid = e.valid_up_to(),
                Err(e) => {
                    let bad = e.valid_up_to();
                    self.advance(0, bad);
                    let offset = self.total as usize - self.buf.len() + bad;
                    let e = self.not_utf8_here(offset);
                    return Err(self.fail(e));
                }
            }
            self.advance(0, self.valid);
            if self.valid > 0 {
                return Ok(());
            }
        }
    }

    fn not_utf8_here(&self, offset: usize) -> ReadError {
        ReadError::NotUtf8 {
            offset,
            line: self.line,
            column: self.column + 1,
        }
    }
}

impl<R: Read> Read for TextStream<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let b = self.fill_buf()?;
        let n = b.len().min(out.len());
        out[..n].copy_from_slice(&b[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for TextStream<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if let Some(e) = &self.error {
            return Err(std::io::Error::other(e.to_string()));
        }
        if self.pos == self.valid {
            self.refill()?;
        }
        Ok(&self.buf[self.pos..self.valid])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.valid);
    }
}

fn open(path: &Path) -> Result<(std::fs::File, u64), ReadError> {
    let file = std::fs::File::open(path).map_err(ReadError::Io)?;
    // A regular file's size sizes the buffer; devices and FIFOs say 0.
    let hint = file.metadata().map_or(0, |m| m.len());
    Ok((file, hint))
}

fn text(bytes: Vec<u8>) -> Result<String, ReadError> {
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        not_utf8(e.as_bytes(), offset)
    })
}

fn not_utf8(bytes: &[u8], offset: usize) -> ReadError {
    let before = std::str::from_utf8(&bytes[..offset]).unwrap_or_default();
    let (line, column) = super::line_col(before, before.len());
    ReadError::NotUtf8 {
        offset,
        line,
        column,
    }
}

/// Reads until the end, or fails once more than `limit` bytes have come. `utf8`: also fail
/// at the first byte that cannot be UTF-8.
fn read_limited(
    r: impl Read,
    kind: Kind,
    limit: u64,
    hint: u64,
    utf8: bool,
) -> Result<Vec<u8>, ReadError> {
    let mut r = r.take(limit.saturating_add(1));
    // One more byte than the file holds, so that the read that sees the end does not grow it.
    let cap = usize::try_from(hint.min(limit).saturating_add(1)).unwrap_or(usize::MAX);
    let mut buf: Vec<u8> = Vec::with_capacity(cap);
    let mut chunk = vec![0u8; 64 * 1024];
    // Bytes known to be UTF-8 so far.
    let mut valid = 0;
    loop {
        let n = match r.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == IoKind::Interrupted => continue,
            Err(e) => return Err(ReadError::Io(e)),
        };
        // Refused before it is kept: the buffer never grows past the limit.
        if (buf.len() + n) as u64 > limit {
            return Err(ReadError::TooLarge { kind, limit });
        }
        buf.extend_from_slice(&chunk[..n]);
        if utf8 {
            match std::str::from_utf8(&buf[valid..]) {
                Ok(_) => valid = buf.len(),
                // A character cut by the end of this read: the next read completes it.
                Err(e) if e.error_len().is_none() => valid += e.valid_up_to(),
                Err(e) => return Err(not_utf8(&buf, valid + e.valid_up_to())),
            }
        }
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_named_in_round_units() {
        assert_eq!(size_text(Kind::KeyFile.limit()), "64 KiB");
        assert_eq!(size_text(Kind::Users.limit()), "2 GiB");
        assert_eq!(size_text(Kind::Mapping.limit()), "1 MiB");
        assert_eq!(size_text(1000), "1000 bytes");
        for k in Kind::ALL {
            assert!(k.limit() >= 64 * KIB, "{k:?}");
        }
    }

    #[test]
    fn an_endless_reader_stops_at_the_limit() {
        // `io::repeat` never ends, like /dev/zero.
        let e = read_text_from(std::io::repeat(b'a'), Kind::Users, 100_000).unwrap_err();
        assert!(
            matches!(e, ReadError::TooLarge { limit: 100_000, .. }),
            "{e}"
        );
        assert_eq!(
            e.describe("u.json"),
            "u.json: larger than 100000 bytes, the limit for a users file (docs/inputs.md, \"Size limits\")"
        );
        // exactly the limit is fine
        let ok = read_text_from(std::io::repeat(b'a').take(70_000), Kind::Users, 70_000).unwrap();
        assert_eq!(ok.len(), 70_000);
    }

    #[test]
    fn devices_are_bounded() {
        let p = Path::new("/dev/zero");
        if !p.exists() {
            return;
        }
        let e = read_bytes(p, Kind::KeyFile).unwrap_err();
        assert!(
            matches!(
                e,
                ReadError::TooLarge {
                    kind: Kind::KeyFile,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.describe("/dev/zero").contains("64 KiB"), "{e}");
    }

    #[test]
    fn bad_utf8_stops_the_read_at_once() {
        // Valid text, then a bad byte, then endless input: refused at the bad byte.
        let head = "ok\né\n\u{1F600}x".as_bytes();
        let r = head.chain(&[0xff][..]).chain(std::io::repeat(b'a'));
        let e = read_text_from(r, Kind::Events, GIB).unwrap_err();
        match e {
            ReadError::NotUtf8 {
                offset,
                line,
                column,
            } => assert_eq!((offset, line, column), (head.len(), 3, 3)),
            other => panic!("{other}"),
        }
        assert_eq!(
            not_utf8(b"ab\xff", 2).describe("f"),
            "f:1:3: not UTF-8 text (invalid byte at offset 2)"
        );
    }

    #[test]
    fn characters_cut_by_a_read_are_fine() {
        // A reader that hands over one byte at a time cuts every multi-byte character.
        struct OneByte<'a>(&'a [u8]);
        impl Read for OneByte<'_> {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                match self.0.split_first() {
                    Some((b, rest)) if !out.is_empty() => {
                        out[0] = *b;
                        self.0 = rest;
                        Ok(1)
                    }
                    _ => Ok(0),
                }
            }
        }
        let s = "é→\u{1F600}";
        let got = read_text_from(OneByte(s.as_bytes()), Kind::Mapping, MIB).unwrap();
        assert_eq!(got, s);
        // A character cut by the end of the input is not UTF-8.
        let e = read_text_from(OneByte(&s.as_bytes()[..3]), Kind::Mapping, MIB).unwrap_err();
        assert!(matches!(e, ReadError::NotUtf8 { offset: 2, .. }), "{e}");
    }

    /// Everything a [`TextStream`] hands over, or its error.
    fn streamed(r: impl Read, kind: Kind, limit: u64) -> Result<String, String> {
        let mut st = TextStream::new(r, kind, limit);
        let mut out = String::new();
        match st.read_to_string(&mut out) {
            Ok(_) => Ok(out),
            Err(_) => Err(st.error().expect("the stream's error").describe("f")),
        }
    }

    #[test]
    fn a_stream_refuses_what_a_whole_read_refuses_with_the_same_message() {
        use crate::input::testing::Steps;
        let long = "a\u{e9}\n".repeat(40_000); // 160,000 bytes: several reads
        let mut cases: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"ok\n".to_vec(),
            "\u{e9}\u{2192}\u{1F600}\n".as_bytes().to_vec(),
            long.clone().into_bytes(),
            b"ab\xff".to_vec(),
            b"x\ny\xe2".to_vec(), // ends inside a character
            b"x\ny\xe2\x82".to_vec(),
            b"\xe2a".to_vec(), // a character that never completes
        ];
        for at in [0, 65_535, 65_536, 65_537, 131_071, 150_001] {
            let mut v = long.clone().into_bytes();
            v[at] = 0xff;
            cases.push(v);
            let mut v = long.clone().into_bytes();
            v.insert(at, 0xe2); // cut by a read, then not completed
            cases.push(v);
        }
        for bytes in &cases {
            for step in [1, 3, 4096, 1 << 20] {
                for limit in [5, 65_536, 100_000, GIB] {
                    let whole = read_text_from(Steps(bytes, step), Kind::Access, limit)
                        .map_err(|e| e.describe("f"));
                    let stream = streamed(Steps(bytes, step), Kind::Access, limit);
                    assert_eq!(
                        stream,
                        whole,
                        "{} bytes, step {step}, limit {limit}",
                        bytes.len()
                    );
                }
            }
        }
        // endless: refused at the limit, having kept one read at a time
        let e = streamed(std::io::repeat(b'a'), Kind::Access, 1 << 20).unwrap_err();
        assert!(e.contains("larger than 1 MiB"), "{e}");
    }

    #[test]
    fn a_stream_finishes_what_a_reader_left_and_reports_a_refusal() {
        // the bad byte comes in the second read, after the first line was handed over
        let bytes = [&b"good\n"[..], &[b'x'; 70_000], b"\xff"].concat();
        let mut st = TextStream::new(&bytes[..], Kind::Access, GIB);
        let mut line = String::new();
        st.read_line(&mut line).unwrap();
        assert_eq!(line, "good\n");
        let e = st.finish().expect("refused");
        assert_eq!(
            e.describe("f"),
            "f:2:70001: not UTF-8 text (invalid byte at offset 70005)"
        );
        let mut st = TextStream::new(&b"good\nfine"[..], Kind::Access, GIB);
        st.read_line(&mut line).unwrap();
        assert!(st.finish().is_none());
    }
}
