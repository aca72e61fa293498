//! Lexer + parser on arbitrary bytes: never panics, spans stay inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(src) = std::str::from_utf8(data) {
        let parsed = polc::syntax::parse(src);
        for e in &parsed.errors {
            assert!(e.span.end as usize <= src.len() && e.span.start <= e.span.end);
        }
    }
});
