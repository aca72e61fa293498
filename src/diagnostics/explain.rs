//! `polc explain CODE`: what each diagnostic code means, with a wrong and a fixed example,
//! like `rustc --explain`. The texts live in `explain/CODE.md` (also the source of
//! docs/diagnostics.md) and are compiled into the binary.

macro_rules! explanations {
    ($($code:literal),* $(,)?) => {
        /// Every code with its explanation, in code order.
        pub const EXPLANATIONS: &[(&str, &str)] = &[
            $(($code, include_str!(concat!("explain/", $code, ".md")))),*
        ];
    };
}

explanations!(
    "E0001", "E0002", "E0003", "E0004", "E0005", "E0101", "E0102", "E0103", "E0104", "E0105",
    "E0201", "E0202", "E0203", "E0204", "E0205", "E0301", "E0302", "E0303", "E0304", "E0305",
    "E0306", "E0401", "E0501", "W0001", "W0101", "W0102", "W0103", "W0104", "W0201", "W0202",
    "W0301", "N0001",
);

/// The explanation text of a code (case-insensitive), if it exists.
pub fn explain(code: &str) -> Option<&'static str> {
    EXPLANATIONS
        .iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(code))
        .map(|(_, t)| *t)
}

/// The one-line title of a code: the text after `# CODE: ` on the first line.
pub fn title(code: &str) -> Option<&'static str> {
    let text = explain(code)?;
    let first = text.lines().next()?;
    Some(first.split_once(": ").map_or(first, |(_, t)| t))
}

/// The `pol` code block under a `## Wrong` or `## Fixed` heading.
pub fn example(code: &str, heading: &str) -> Option<&'static str> {
    let text = explain(code)?;
    let start = text.find(&format!("## {heading}"))?;
    let rest = &text[start..];
    let open = rest.find("```pol\n")? + "```pol\n".len();
    let close = rest[open..].find("```")?;
    Some(&rest[open..open + close])
}
