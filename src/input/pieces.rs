//! A large JSON document (an access export, a users file) read from a stream in pieces, each
//! parsed by serde_json from a `&str` with the reader's own visitors, so that the document's
//! text is never held whole and every message is the one the whole text gives.
//!
//! Why pieces of text and not `serde_json::Deserializer::from_reader`: serde_json's stream
//! reader takes its input a byte at a time (5 to 13 times slower than its `&str` reader on a
//! 672 MB export), and it places some errors one column further than the `&str` reader does
//! (a value of the wrong type: it counts the byte it peeked after the value), so messages
//! would change.
//!
//! How: a scan finds the commas between the records (the elements of the top-level array or
//! the members of the top-level object; for a users file, the elements of the array under
//! the top-level key `"users"` too) that follow a record that is an array or an object, and
//! cuts there once a piece is large enough. The first piece is the document's text up to a
//! cut, closed by the brackets still open there (`]`, `}` or `]}`). Each next piece is an
//! opening that puts the parser where it was at the cut (the top-level bracket, for a users
//! object its keys before `"users"` with a stand-in value and `"users":[`), then a stand-in
//! record (`0`, or `"":0` in an object) that the reader skips, a newline, and the text from
//! the comma to the next cut (closed as the first piece) or to the end.
//!
//! Why messages are the same: a cut is made only after a record that closed a bracket and
//! before a comma. If the text up to the cut is a valid start of JSON, the parser of the
//! whole text is, at that comma, after a record and reads the comma as a separator; the
//! piece's parser, after its stand-in, is in the same place and reads the same bytes. If the
//! text up to the cut is not, the whole text's parser stops at the first byte that cannot
//! continue it, which is before the cut (a cut's comma continues any valid start that the
//! scan takes as a record's end), so the piece that holds it stops there too, with the same
//! error. Positions are mapped back by [`Shift::place`]; the pieces after an error are never
//! parsed (the reader stops at its first error).

use std::io::BufRead;

/// Which commas a document may be cut at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Records {
    /// Between the elements of a top-level array or the members of a top-level object (an
    /// access export).
    TopLevel,
    /// Between the elements of a top-level array, or of the array under the top-level key
    /// `"users"` written without escapes (a users file, as [`super::record_lines`] finds them).
    Users,
}

/// The size from which a piece is cut, when the records allow it.
pub(crate) const PIECE: usize = 256 * 1024;

/// Where a piece's text begins in the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shift {
    /// The 1-based line and the column (bytes before it on its line) of the piece's first
    /// byte after its opening.
    line: usize,
    column: usize,
    /// Whether the piece begins with an opening line (every piece but the first).
    opened: bool,
}

impl Shift {
    /// A serde_json position in the piece (1-based line, column: bytes before it on the line)
    /// as the same position in the document. Line 0 (no position) is left as it is.
    pub(crate) fn place(&self, line: usize, column: usize) -> (usize, usize) {
        match line {
            _ if !self.opened => (line, column),
            0 | 1 => (line, column),
            2 => (self.line, self.column + column),
            l => (self.line + l - 2, column),
        }
    }
}

/// One piece to parse.
pub(crate) struct Piece<'a> {
    pub text: &'a str,
    /// Whether the text begins with a stand-in record for the reader to skip.
    pub stand_in: bool,
    pub shift: Shift,
}

/// The scan's state over the whole document, carried from one read to the next.
#[derive(Debug, Default)]
struct Scan {
    /// Brackets open.
    depth: usize,
    in_string: bool,
    /// The previous byte, in a string, was an unfinished `\`.
    escaped: bool,
    /// The first byte of the document (after whitespace) was seen.
    started: bool,
    /// It was not `[` or `{`: nothing to cut.
    plain: bool,
    /// The top-level value ended: what follows can only be whitespace.
    closed: bool,
    /// The depth at which records are (the brackets open around them); 0: none (yet).
    at: usize,
    /// The records' array was closed: no more cuts.
    done: bool,
    /// The last byte that was not whitespace at the records' depth closed a record.
    after_record: bool,
    /// A users object, until its `"users"` array is found: a key is next; the last key was
    /// `users`; where the string being read began; the keys so far, as written.
    key_next: bool,
    users_key: bool,
    string_start: usize,
    keys: Vec<String>,
}

/// A JSON document read in pieces from `r`.
pub(crate) struct Pieces<R> {
    r: R,
    records: Records,
    size: usize,
    /// Text read and not yet handed over; `buf[..scanned]` is scanned.
    buf: Vec<u8>,
    scanned: usize,
    /// The last cut found in `buf` (the offset of its comma).
    cut: Option<usize>,
    scan: Scan,
    /// The position of `buf[0]` in the document: 1-based line, bytes before it on its line.
    line: usize,
    column: usize,
    /// A piece was handed over already.
    started: bool,
    /// Nothing is left to read (the end, or the first byte after the top-level value).
    ended: bool,
    /// The opening of the pieces after the first, and the brackets that close a piece.
    opening: String,
    closing: &'static str,
    /// The last piece handed over.
    text: String,
}

const WS: [u8; 4] = [b' ', b'\n', b'\r', b'\t'];

impl<R: BufRead> Pieces<R> {
    /// Pieces of about `size` bytes (tests use small ones) of UTF-8 text read from `r`.
    pub(crate) fn new(r: R, records: Records, size: usize) -> Self {
        Pieces {
            r,
            records,
            size: size.max(1),
            buf: Vec::new(),
            scanned: 0,
            cut: None,
            scan: Scan::default(),
            line: 1,
            column: 0,
            started: false,
            ended: false,
            opening: String::new(),
            closing: "",
            text: String::new(),
        }
    }

    /// The next piece, `None` after the last. A failed read is the reader's error (a
    /// [`super::limits::TextStream`] keeps why).
    pub(crate) fn next_piece(&mut self) -> std::io::Result<Option<Piece<'_>>> {
        if self.ended && self.buf.is_empty() && self.started {
            return Ok(None);
        }
        // Read until a piece may be cut or the input ends.
        loop {
            if self.cut.is_none() && self.scanned < self.buf.len() {
                if let Some(stop) = self.scan_new() {
                    // a byte no JSON value starts with, or one after the top-level value:
                    // the parser stops at that character, nothing after it is needed
                    let len = match self.buf.get(stop) {
                        Some(0..0x80) => 1,
                        Some(0xc0..0xe0) => 2,
                        Some(0xe0..0xf0) => 3,
                        _ => 4,
                    };
                    self.buf.truncate(stop + len);
                    self.scanned = self.buf.len();
                    self.ended = true;
                }
            }
            if self.cut.is_some() || self.ended {
                break;
            }
            let chunk = self.r.fill_buf()?;
            if chunk.is_empty() {
                self.ended = true;
                break;
            }
            let n = chunk.len();
            self.buf.extend_from_slice(chunk);
            self.r.consume(n);
        }
        let (end, last) = match self.cut {
            Some(c) => (c, false),
            None => (self.buf.len(), true),
        };
        let opened = self.started;
        self.text.clear();
        if opened {
            self.text.push_str(&self.opening);
            self.text.push('\n');
        }
        let body = self
            .buf
            .get(..end)
            .and_then(|b| std::str::from_utf8(b).ok())
            .ok_or_else(|| std::io::Error::other("a piece of text is not UTF-8 (a polc bug)"))?;
        self.text.push_str(body);
        if !last {
            self.text.push_str(self.closing);
        }
        let shift = Shift {
            line: self.line,
            column: self.column,
            opened,
        };
        self.advance(end);
        self.started = true;
        Ok(Some(Piece {
            text: &self.text,
            stand_in: opened,
            shift,
        }))
    }

    /// Drops `buf[..end]`, handed over, keeping the position of what follows.
    fn advance(&mut self, end: usize) {
        let gone = self.buf.get(..end).unwrap_or_default();
        match memchr::memrchr(b'\n', gone) {
            Some(last) => {
                self.line += memchr::memchr_iter(b'\n', gone).count();
                self.column = end - last - 1;
            }
            None => self.column += end,
        }
        self.buf.drain(..end);
        self.scanned -= end;
        self.cut = None;
        self.scan.string_start = self.scan.string_start.saturating_sub(end);
    }

    /// Scans the bytes read since the last scan until a cut past the piece's size (noted in
    /// `cut`, the scan stopping after its comma); the offset of a byte that follows the
    /// top-level value, if one does.
    fn scan_new(&mut self) -> Option<usize> {
        let b = &self.buf;
        let s = &mut self.scan;
        let mut i = self.scanned;
        if s.plain {
            self.scanned = b.len();
            return None;
        }
        while i < b.len() {
            if s.in_string {
                if s.escaped {
                    s.escaped = false;
                    i += 1;
                    continue;
                }
                match memchr::memchr2(b'"', b'\\', b.get(i..).unwrap_or_default()) {
                    None => i = b.len(),
                    Some(k) if b.get(i + k) == Some(&b'\\') => {
                        s.escaped = true;
                        i += k + 1;
                    }
                    Some(k) => {
                        i += k;
                        s.in_string = false;
                        if s.key_next && s.depth == 1 {
                            // a key of a users object
                            let key = b.get(s.string_start..i).unwrap_or_default();
                            let key = String::from_utf8_lossy(key).into_owned();
                            s.users_key = key == "users";
                            s.keys.push(key);
                            s.key_next = false;
                        }
                        i += 1;
                    }
                }
                continue;
            }
            let Some(&c) = b.get(i) else {
                break;
            };
            if WS.contains(&c) {
                i += 1;
                continue;
            }
            if s.closed {
                return Some(i);
            }
            if !s.started {
                s.started = true;
                match (c, self.records) {
                    (b'[', _) => (s.at, self.opening, self.closing) = (1, "[0".into(), "]"),
                    (b'{', Records::TopLevel) => {
                        (s.at, self.opening, self.closing) = (1, "{\"\":0".into(), "}")
                    }
                    (b'{', Records::Users) => s.key_next = true,
                    (b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n', _) => {
                        // a value that is not a file's shape (the parser says so once it has
                        // read it): read whole
                        s.plain = true;
                        self.scanned = b.len();
                        return None;
                    }
                    // not JSON: the parser refuses this first character
                    _ => return Some(i),
                }
                s.depth = 1;
                i += 1;
                continue;
            }
            // at the records' depth, only a comma after a record that closed is a cut
            let at_records = s.at > 0 && !s.done && s.depth == s.at;
            match c {
                b'"' => {
                    s.in_string = true;
                    s.string_start = i + 1;
                    s.after_record &= !at_records;
                }
                b'[' | b'{' => {
                    s.after_record &= !at_records;
                    s.depth += 1;
                    if s.depth == 2 && s.at == 0 && s.users_key && c == b'[' {
                        // a users object's records: the pieces after the first open as the
                        // object did up to here
                        s.at = 2;
                        self.opening.push('{');
                        // the keys before `users`
                        for k in s.keys.iter().take(s.keys.len().saturating_sub(1)) {
                            self.opening.push('"');
                            self.opening.push_str(k);
                            self.opening.push_str("\":0,");
                        }
                        self.opening.push_str("\"users\":[0");
                        self.closing = "]}";
                    }
                }
                b']' | b'}' => {
                    s.depth = s.depth.saturating_sub(1);
                    if s.at > 0 && !s.done {
                        if s.depth == s.at {
                            s.after_record = true;
                        } else if s.depth < s.at {
                            // the records' array closed
                            s.done = true;
                        }
                    }
                    s.closed = s.depth == 0;
                }
                b',' => {
                    let cut = at_records && s.after_record && i >= self.size;
                    s.after_record = false;
                    if s.depth == 1 && s.at == 0 {
                        s.key_next = true;
                        s.users_key = false;
                    }
                    if cut {
                        self.cut = Some(i);
                        self.scanned = i + 1;
                        return None;
                    }
                }
                _ => s.after_record &= !at_records,
            }
            i += 1;
        }
        self.scanned = b.len();
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every piece of `text` cut at `size`, with its stand-in flag and shift.
    fn pieces(text: &str, records: Records, size: usize) -> Vec<(String, bool, Shift)> {
        let mut p = Pieces::new(text.as_bytes(), records, size);
        let mut out = Vec::new();
        while let Some(piece) = p.next_piece().unwrap() {
            out.push((piece.text.to_string(), piece.stand_in, piece.shift));
        }
        out
    }

    fn texts(text: &str, records: Records, size: usize) -> Vec<String> {
        pieces(text, records, size)
            .into_iter()
            .map(|(t, _, _)| t)
            .collect()
    }

    #[test]
    fn arrays_and_objects_are_cut_after_records() {
        assert_eq!(
            texts(
                "[{\"a\": 1}, {\"b\": \"],\\\"\"} ,{}]",
                Records::TopLevel,
                1
            ),
            ["[{\"a\": 1}]", "[0\n, {\"b\": \"],\\\"\"} ]", "[0\n,{}]"]
        );
        assert_eq!(
            texts("{\"u\": [\"x\"],\n\"v\": []}\n", Records::TopLevel, 1),
            ["{\"u\": [\"x\"]}", "{\"\":0\n,\n\"v\": []}\n"]
        );
        // scalars are not cut after (the parser refuses them where they are)
        assert_eq!(
            texts("[1, 2, {}, 3]", Records::TopLevel, 1),
            ["[1, 2, {}]", "[0\n, 3]"]
        );
        // large pieces: one
        let t = "[{}, {}, {}]";
        assert_eq!(texts(t, Records::TopLevel, 1 << 20), [t]);
        // cut at the first comma past the size
        assert_eq!(texts(t, Records::TopLevel, 5), ["[{}, {}]", "[0\n, {}]"]);
        assert_eq!(texts("[{},", Records::TopLevel, 1), ["[{}]", "[0\n,"]);
        // nothing to cut
        for t in ["", "  ", "5", "\"a,b\"", "[", "[{}", "{\"a\" , 1}"] {
            assert_eq!(texts(t, Records::TopLevel, 1), [t], "{t:?}");
        }
    }

    #[test]
    fn a_users_object_is_cut_in_its_records_array() {
        let t = "{\"meta\": {\"users\": [{}, {}]}, \"n\": [{}, {}], \"users\": [{\"a\": 1},\n {\"b\": 2}, {}], \"after\": [{}, {}]}";
        assert_eq!(
            texts(t, Records::Users, 1),
            [
                "{\"meta\": {\"users\": [{}, {}]}, \"n\": [{}, {}], \"users\": [{\"a\": 1}]}",
                "{\"meta\":0,\"n\":0,\"users\":[0\n,\n {\"b\": 2}]}",
                "{\"meta\":0,\"n\":0,\"users\":[0\n, {}], \"after\": [{}, {}]}",
            ]
        );
        // an escaped key is not found (as record_lines does not): no cuts
        let t = "{\"us\\u0065rs\": [{}, {}]}";
        assert_eq!(texts(t, Records::Users, 1), [t]);
        // a top-level array of records
        assert_eq!(texts("[{}, {}]", Records::Users, 1), ["[{}]", "[0\n, {}]"]);
    }

    #[test]
    fn reading_stops_after_the_top_level_value() {
        let t = format!("[{{}}, {{}}]  x{}", "y".repeat(100));
        assert_eq!(texts(&t, Records::TopLevel, 1), ["[{}]", "[0\n, {}]  x"]);
        assert_eq!(texts("[{}] \n ", Records::TopLevel, 1), ["[{}] \n "]);
        // a bracket too many closes the top level: the parser stops there
        assert_eq!(texts("[{}}, {}]", Records::TopLevel, 1), ["[{}},"]);
        // a first character no value starts with: the parser stops there too (a character,
        // not a byte)
        for (t, piece) in [
            (" x[1, 2]", " x"),
            ("\u{feff}[{}, {}]", "\u{feff}"),
            ("\u{e9}\u{e9}", "\u{e9}"),
            ("\u{1F600}]", "\u{1F600}"),
            ("[{}, {}] \u{e9}\u{e9}", "[0\n, {}] \u{e9}"),
        ] {
            assert_eq!(
                texts(t, Records::TopLevel, 1).last().unwrap(),
                piece,
                "{t:?}"
            );
        }
    }

    #[test]
    fn positions_map_back_to_the_document() {
        let t = "[{\"a\": 1},\n {\"b\": 2}, {\"c\": 3}\n, {}]";
        let p = pieces(t, Records::TopLevel, 1);
        assert_eq!(p.len(), 4);
        // the second piece starts at the comma on line 1, column 9
        let s = p[1].2;
        assert_eq!((s.line, s.column), (1, 9));
        assert_eq!(s.place(2, 1), (1, 10));
        assert_eq!(s.place(3, 4), (2, 4));
        assert_eq!(s.place(0, 5), (0, 5));
        // the third at `, {"c"` on line 2, column 9; the fourth on line 3, column 0
        assert_eq!((p[2].2.line, p[2].2.column), (2, 9));
        assert_eq!((p[3].2.line, p[3].2.column), (3, 0));
        assert!(!p[0].1 && p[1].1);
        assert_eq!(p[0].2.place(3, 4), (3, 4));
    }

    #[test]
    fn a_piece_is_its_size_and_one_record_at_most() {
        let record = "{\"user_id\": \"u\", \"grants\": [\"a\", \"b\"]}";
        let text = format!("[{}]", vec![record; 100_000].join(",\n"));
        let size = 10_000;
        let r = std::io::BufReader::with_capacity(64 << 10, text.as_bytes());
        let mut p = Pieces::new(r, Records::TopLevel, size);
        let (mut n, mut total) = (0, 0);
        while let Some(piece) = p.next_piece().unwrap() {
            assert!(
                piece.text.len() <= size + record.len() + 8,
                "{}",
                piece.text.len()
            );
            n += 1;
            total += piece.text.len();
        }
        assert!(n > text.len() / (size + record.len()), "{n} pieces");
        assert!(total > text.len());
        // the buffer keeps a piece and what one read brought after it (its capacity doubles
        // as it grows): far from the document's size
        let most = size + record.len() + (64 << 10) + 8;
        assert!(p.buf.capacity() <= 2 * most, "{}", p.buf.capacity());
        assert!(text.len() > 10 * most);
    }

    #[test]
    fn reads_cut_anywhere_give_the_same_pieces() {
        use crate::input::testing::Steps;
        let t =
            "{\"x\": \"\\\\\", \"users\": [{\"a\": \"\\\"]\"}, {\"b\": [1, {}]},\n{}], \"z\": 1}";
        let whole = texts(t, Records::Users, 1);
        for step in 1..8 {
            let r = std::io::BufReader::with_capacity(step, Steps(t.as_bytes(), step));
            let mut p = Pieces::new(r, Records::Users, 1);
            let mut got = Vec::new();
            while let Some(piece) = p.next_piece().unwrap() {
                got.push(piece.text.to_string());
            }
            assert_eq!(got, whole, "step {step}");
        }
    }
}
