//! What the readers' tests share: a reader that hands its bytes over a few at a time, and
//! damage done to a file at one place.

/// A reader that hands over `step` bytes at a time (the chunks a pipe or a slow disk gives).
pub(crate) struct Steps<'a>(pub &'a [u8], pub usize);

impl std::io::Read for Steps<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.0.len().min(self.1).min(out.len());
        let (head, rest) = self.0.split_at(n);
        if let Some(out) = out.get_mut(..n) {
            out.copy_from_slice(head);
        }
        self.0 = rest;
        Ok(n)
    }
}

/// `bytes` damaged at the fraction `at` of their length: `change` 0 overwrites a byte with
/// `byte`, 1 inserts it, 2 removes one, 3 cuts the rest off, 4 inserts a two-byte character;
/// any other leaves them whole.
pub(crate) fn damage(mut bytes: Vec<u8>, at: f64, change: usize, byte: u8) -> Vec<u8> {
    let pos = (((bytes.len() as f64) * at) as usize).min(bytes.len());
    match change {
        0 => {
            if let Some(b) = bytes.get_mut(pos) {
                *b = byte;
            }
        }
        1 => bytes.insert(pos, byte),
        2 if pos < bytes.len() => {
            bytes.remove(pos);
        }
        3 => bytes.truncate(pos),
        4 => {
            bytes.splice(pos..pos, "\u{e9}".bytes());
        }
        _ => {}
    }
    bytes
}
