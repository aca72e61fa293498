//! Users files read as streams ([`super::load_users`]: JSON in pieces, JSONL a line at a
//! time, CSV a record at a time) against the whole text read first and parsed
//! ([`super::parse_users`], as polc read them before): the same records, the same record
//! errors, the same message for a file that is refused, whatever the pieces and the reads.

use proptest::prelude::*;

use super::limits::{read_text_from, Kind, TextStream};
use super::tests::schema;
use super::*;

use super::testing::{damage, Steps};

type Loaded = Result<Users, LoadError>;

fn streamed(
    bytes: &[u8],
    format: Format,
    typed: bool,
    limit: u64,
    size: usize,
    step: usize,
) -> Loaded {
    let s = schema();
    let stream = TextStream::new(Steps(bytes, step), Kind::Users, limit);
    stream_users(stream, "u", format, typed.then_some(&s), None, size)
}

fn whole(bytes: &[u8], format: Format, typed: bool, limit: u64) -> Loaded {
    let s = schema();
    let text = read_text_from(bytes, Kind::Users, limit).map_err(|e| LoadError(e.describe("u")))?;
    parse_users(&text, "u", format, typed.then_some(&s), None)
}

/// Reads of a few bytes for small texts, of a few KiB for large ones.
fn steps(bytes: &[u8]) -> &'static [usize] {
    if bytes.len() > 10_000 {
        &[4099, 1 << 16]
    } else {
        &[1, 3, 1 << 16]
    }
}

/// Asserts that every way of streaming `bytes` gives what the whole text gives.
fn agree(bytes: &[u8], format: Format, sizes: &[usize], steps: &[usize], limits: &[u64]) {
    for typed in [true, false] {
        for &limit in limits {
            let whole = whole(bytes, format, typed, limit);
            for &size in sizes {
                for &step in steps {
                    assert_eq!(
                        streamed(bytes, format, typed, limit, size, step),
                        whole,
                        "{format:?}, typed {typed}, limit {limit}, pieces of {size}, reads of {step}: {:?}",
                        String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
                    );
                }
            }
        }
    }
}

const R: &str = r#""user_id": "a", "employment_status": "Active""#;

fn many(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            format!(
                "{{\"user_id\": \"u{i}\", \"employment_status\": \"{}\", \"level\": {}, \"job_title\": \"T \\\"{i}\\\"\"}}",
                ["Active", "Leave", "Inactive"][i % 3],
                i % 9
            )
        })
        .collect()
}

/// A change that must be made, or the case tests nothing.
fn swap(t: &str, a: &str, b: &str) -> String {
    assert!(t.contains(a), "{a}");
    t.replacen(a, b, 1)
}

#[test]
fn json_users_in_pieces_are_the_whole_texts() {
    let recs = many(3000);
    let array = format!("[\n{}\n]\n", recs.join(",\n"));
    let object = format!(
        "{{\"source\": \"hr\", \"n\": [{{}}, {{}}],\n \"users\": [{}], \"after\": [{{}}, 1]}}",
        recs.join(", ")
    );
    let cases: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"[]".to_vec(),
        b"{\"users\": []}".to_vec(),
        b"{\"people\": [{}, {}]}".to_vec(),
        b"5".to_vec(),
        b"x[]".to_vec(),
        "\u{feff}\u{feff}[]".as_bytes().to_vec(),
        "[] \u{e9}".as_bytes().to_vec(),
        format!("\u{feff}[{{{R}}},\n {{{R}}}]").into_bytes(),
        format!("[{{{R}}}, {{\"user_id\": 5}}, {{\"user_id\": \"b\", \"level\": \"x\"}}, {{{R}}}]")
            .into_bytes(),
        format!("[{{{R}}}, \"b\", {{{R}}}]").into_bytes(),
        format!("[{{{R}}}, [1], {{{R}}}]").into_bytes(),
        format!("[{{{R}}},\n  {{{R}}} {{{R}}}]").into_bytes(),
        format!("[{{{R}}}, {{{R}}},]").into_bytes(),
        format!("[{{{R}}}, {{{R}}}] x").into_bytes(),
        format!("[{{{R}}}, {{\"user_id\": \"b\", \"user_id\": \"c\"}}]").into_bytes(),
        format!("{{\"users\": [{{{R}}}, {{{R}}}],\n \"users\": []}}").into_bytes(),
        format!("{{\"a\": 1, \"users\": [{{{R}}}, {{{R}}}],\n \"a\": 2}}").into_bytes(),
        format!("{{\"us\\u0065rs\": [{{{R}}}, {{{R}}}]}}").into_bytes(),
        format!("{{\"users\": 5, \"users\": [{{{R}}}, {{{R}}}]}}").into_bytes(),
        array.clone().into_bytes(),
        object.clone().into_bytes(),
        // late: a bad record, a record that is not an object, bad JSON, a repeated key,
        // bad text
        swap(&array, "\"u2900\"", "2900").into_bytes(),
        swap(&array, "\"level\": 5,", "\"level\": \"five\",").into_bytes(),
        swap(
            &array,
            "{\"user_id\": \"u2950\"",
            "7, {\"user_id\": \"u2950\"",
        )
        .into_bytes(),
        swap(&array, "\"u2999\", ", "\"u2999\" ").into_bytes(),
        swap(&array, "\"level\": 3,", "\"level\": 3, \"level\": 4,").into_bytes(),
        swap(&object, "\"u2222\"", "\"u7\"").into_bytes(),
        swap(
            &object,
            "\"after\": [{}, 1]",
            "\"after\": [{}, 1], \"source\": 2",
        )
        .into_bytes(),
        swap(&object, "\"u2500\", ", "\"u2500\", \n").into_bytes(),
        format!("{array},").into_bytes(),
        [
            &array.as_bytes()[..200_000],
            b"\xff",
            &array.as_bytes()[200_000..],
        ]
        .concat(),
        [swap(&array, "\"u100\"", "100").as_bytes(), b"\xe2"].concat(),
    ];
    for bytes in &cases {
        agree(
            bytes,
            Format::Json,
            &[1, 7, 300, pieces::PIECE],
            steps(bytes),
            &[1 << 30],
        );
        agree(
            bytes,
            Format::Json,
            &[pieces::PIECE],
            &[1 << 16],
            &[20, 65_536],
        );
    }
}

#[test]
fn jsonl_and_csv_users_streamed_are_the_whole_texts() {
    let recs = many(3000);
    let jsonl = recs.join("\r\n") + "\n\n";
    let csv = std::iter::once("user_id,employment_status,level,job_title".to_string())
        .chain((0..3000).map(|i| format!("u{i},Active,{},\"T, {i}\"", i % 9)))
        .collect::<Vec<_>>()
        .join("\n");
    let jsonl_cases: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"\n \n".to_vec(),
        format!("\u{feff}{{{R}}}\n").into_bytes(),
        format!("{{{R}}}\r").into_bytes(),
        jsonl.clone().into_bytes(),
        swap(&jsonl, "\"u2900\"", "2900").into_bytes(),
        swap(
            &jsonl,
            "{\"user_id\": \"u2950\"",
            "[1]\n{\"user_id\": \"u2950\"",
        )
        .into_bytes(),
        swap(&jsonl, "\"u2999\", ", "\"u2999\" ").into_bytes(),
        [
            &jsonl.as_bytes()[..200_000],
            b"\xff",
            &jsonl.as_bytes()[200_000..],
        ]
        .concat(),
    ];
    let csv_cases: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"user_id,employment_status\n".to_vec(),
        b"\xef\xbb\xbfuser_id,employment_status\r\na,Active\r\n".to_vec(),
        b"userid,employment_status\na,Active\n".to_vec(),
        csv.clone().into_bytes(),
        swap(&csv, "u2900,Active", "u2900,Active,extra").into_bytes(),
        swap(&csv, "u2950,Active,", "u2950,Nope,").into_bytes(),
        swap(&csv, "u2990,Active,", "u7,Active,").into_bytes(),
        swap(&csv, "\"T, 2999\"", "\"T, 2999").into_bytes(),
        [csv.as_bytes(), b"\na,\xff"].concat(),
    ];
    for (format, cases) in [(Format::Jsonl, &jsonl_cases), (Format::Csv, &csv_cases)] {
        for bytes in cases {
            agree(
                bytes,
                format,
                &[pieces::PIECE],
                steps(bytes),
                &[20, 65_536, 1 << 30],
            );
        }
    }
}

#[test]
fn a_json_users_file_is_read_as_it_arrives() {
    use std::cell::Cell as Count;
    /// A reader that counts what it has handed over.
    struct Counted<'a>(&'a [u8], &'a Count<usize>);
    impl std::io::Read for Counted<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = std::io::Read::read(&mut self.0, out)?;
            self.1.set(self.1.get() + n);
            Ok(n)
        }
    }
    let s = schema();
    let recs = many(20_000);
    let array = format!("[{}]", recs.join(",\n"));
    // refused at JSON that is wrong in the middle: the reader stops there, having read a
    // piece ahead at most (a load then reads the rest to refuse a file too large or not text)
    for (text, at) in [
        (array.clone(), array.len()),
        (
            swap(
                &array,
                "{\"user_id\": \"u10000\"",
                "] {\"user_id\": \"u10000\"",
            ),
            array.find("{\"user_id\": \"u10000\"").unwrap(),
        ),
    ] {
        let read = Count::new(0);
        let stream = TextStream::new(Counted(text.as_bytes(), &read), Kind::Users, 1 << 30);
        let mut b = record::Builder::new(record::Plan::new(Some(&s), None).unwrap());
        let r = users::read_json_pieces(stream, "u", &mut b, pieces::PIECE);
        assert_eq!(r.is_ok(), at == array.len());
        assert!(
            read.get() <= at + pieces::PIECE + (64 << 10) + 64,
            "{} read, the end or the error at {at}",
            read.get()
        );
        assert_eq!(
            b.finish().records.len(),
            if r.is_ok() { 20_000 } else { 10_000 }
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Users files of random records and whitespace, in either JSON form, mangled at one
    /// place or not: read in pieces of any size, they give the whole text's users or message.
    #[test]
    fn json_users_in_pieces_agree_with_the_whole_text(
        object in any::<bool>(),
        records in proptest::collection::vec((0usize..4, 0usize..4, proptest::option::of(0usize..20)), 0..8),
        spaces in proptest::collection::vec(0usize..6, 1..16),
        change in 0usize..7,
        at in 0.0f64..1.0,
        byte in proptest::sample::select(b",]}{[\":1 \nx\\0-tn\xff".to_vec()),
        size in proptest::sample::select(vec![1usize, 3, 16, 100, 1 << 20]),
        step in proptest::sample::select(vec![1usize, 2, 5, 64, 1 << 16]),
    ) {
        const WS: [&str; 6] = ["", " ", "\n", "\r\n", "\t", "  \n "];
        const IDS: [&str; 4] = ["a", "b", "c\\\"d", "\u{e9}"];
        const STATUS: [&str; 4] = ["\"Active\"", "\"Leave\"", "null", "3"];
        let mut k = 0;
        let mut ws = || {
            k += 1;
            WS[spaces[k % spaces.len()]]
        };
        let mut text = String::new();
        text.push_str(ws());
        if object {
            text.push_str(&format!("{{\"x\":{}[1,{{}}],{}\"users\"{}:{}", ws(), ws(), ws(), ws()));
        }
        text.push('[');
        for (i, (id, status, level)) in records.iter().enumerate() {
            if i > 0 {
                text.push_str(ws());
                text.push(',');
            }
            text.push_str(ws());
            let level = level.map(|l| format!(",{}\"level\":{l}", ws())).unwrap_or_default();
            text.push_str(&format!(
                "{{{}\"user_id\":{}\"{}\",\"employment_status\":{}{level}{}}}",
                ws(),
                ws(),
                IDS[*id],
                STATUS[*status],
                ws()
            ));
        }
        text.push_str(ws());
        text.push(']');
        if object {
            text.push_str(&format!(",{}\"y\":{}{{\"users\":[]}}{}}}", ws(), ws(), ws()));
        }
        text.push_str(ws());
        let bytes = damage(text.into_bytes(), at, change, byte);
        for typed in [true, false] {
            prop_assert_eq!(
                streamed(&bytes, Format::Json, typed, 1 << 30, size, step),
                whole(&bytes, Format::Json, typed, 1 << 30),
                "{:?}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }
}
