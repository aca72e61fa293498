//! Byte offsets ↔ LSP positions (line, UTF-16 code unit), the protocol's default encoding.

use tower_lsp_server::ls_types::Position;

/// Line starts of one text, for conversions in both directions.
pub struct LineIndex<'t> {
    text: &'t str,
    starts: Vec<usize>,
}

impl<'t> LineIndex<'t> {
    pub fn new(text: &'t str) -> LineIndex<'t> {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { text, starts }
    }

    pub fn position(&self, offset: usize) -> Position {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let mut start = self.starts[line];
        let mut end = offset;
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        start = start.min(end);
        let character = self.text[start..end].encode_utf16().count() as u32;
        Position {
            line: line as u32,
            character,
        }
    }

    /// The byte offset of a position; positions past a line's end clamp to it.
    pub fn offset(&self, p: Position) -> usize {
        let line = p.line as usize;
        if line >= self.starts.len() {
            return self.text.len();
        }
        let start = self.starts[line];
        let end = self.starts.get(line + 1).map_or(self.text.len(), |e| e - 1);
        let mut units = 0u32;
        for (i, c) in self.text[start..end].char_indices() {
            if units >= p.character {
                return start + i;
            }
            units += c.len_utf16() as u32;
        }
        end
    }

    pub fn range(&self, r: &std::ops::Range<usize>) -> tower_lsp_server::ls_types::Range {
        tower_lsp_server::ls_types::Range {
            start: self.position(r.start),
            end: self.position(r.end),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_round_trip() {
        let t = "ab\nc😀d\n";
        let ix = LineIndex::new(t);
        assert_eq!(
            ix.position(0),
            Position {
                line: 0,
                character: 0
            }
        );
        assert_eq!(
            ix.position(3),
            Position {
                line: 1,
                character: 0
            }
        );
        // 😀 is 4 bytes, 2 UTF-16 units
        assert_eq!(
            ix.position(8),
            Position {
                line: 1,
                character: 3
            }
        );
        assert_eq!(
            ix.offset(Position {
                line: 1,
                character: 3
            }),
            8
        );
        assert_eq!(
            ix.offset(Position {
                line: 1,
                character: 99
            }),
            9
        );
        assert_eq!(
            ix.offset(Position {
                line: 9,
                character: 0
            }),
            t.len()
        );
    }
}
