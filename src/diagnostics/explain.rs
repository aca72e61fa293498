//! `polc explain CODE`: what each diagnostic code means, with a wrong and a fixed example,
//! like `rustc --explain`. The texts live in `explain/CODE.md` (also the source of
//! docs/diagnostics.md) and are compiled into the binary.

macro_rules! explanations {
    ($($code:literal => $name:literal),* $(,)?) => {
        /// Every code with its explanation, in code order.
        pub const EXPLANATIONS: &[(&str, &str)] = &[
            $(($code, include_str!(concat!("explain/", $code, ".md")))),*
        ];
        /// Every code with its readable name (PascalCase, as SARIF's `rule.name`).
        pub const NAMES: &[(&str, &str)] = &[$(($code, $name)),*];
    };
}

// The one table of diagnostic codes: each code, its explanation (`explain/CODE.md`) and its
// name.
explanations!(
    "E0001" => "SyntaxError",
    "E0002" => "InvalidToken",
    "E0003" => "UnknownModule",
    "E0004" => "ImportOutsideBundle",
    "E0005" => "DurationTooLong",
    "E0101" => "UnknownPolicy",
    "E0102" => "InheritanceCycle",
    "E0103" => "DuplicatePolicyName",
    "E0104" => "MisplacedWhen",
    "E0105" => "DuplicateClause",
    "E0201" => "UnknownAttribute",
    "E0202" => "TypeMismatch",
    "E0203" => "ValueNotInEnum",
    "E0204" => "UnknownFunction",
    "E0205" => "DuplicateSchemaField",
    "E0301" => "UnknownSystem",
    "E0302" => "UnknownResourceType",
    "E0303" => "UnknownLevel",
    "E0304" => "LevelWithoutLevels",
    "E0305" => "DuplicateDeclaration",
    "E0306" => "PatternForEntitlement",
    "E0401" => "IncompleteException",
    "E0501" => "ReachableConflict",
    "W0001" => "ConfusableText",
    "W0101" => "RedundantGrant",
    "W0102" => "PolicyNeverApplies",
    "W0103" => "UnusedTemplate",
    "W0104" => "GrantAlwaysDenied",
    "W0201" => "ExpiredException",
    "W0202" => "UnknownExceptionField",
    "W0301" => "ShadowedPolicy",
    "N0001" => "UntypedAttributes",
);

/// The readable name of a code (`E0101` → `UnknownPolicy`), if it exists.
pub fn name(code: &str) -> Option<&'static str> {
    NAMES
        .iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(code))
        .map(|(_, n)| *n)
}

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

#[cfg(test)]
mod name_tests {
    use super::*;

    #[test]
    fn every_code_has_a_distinct_pascal_case_name() {
        assert_eq!(NAMES.len(), EXPLANATIONS.len());
        let mut seen = std::collections::HashSet::new();
        for (code, name) in NAMES {
            assert!(
                name.starts_with(|c: char| c.is_ascii_uppercase()),
                "{code}: {name}"
            );
            assert!(
                name.chars().all(|c| c.is_ascii_alphanumeric()),
                "{code}: {name}"
            );
            assert_ne!(name, code);
            assert!(seen.insert(name), "{name} twice");
        }
        assert_eq!(name("e0101"), Some("UnknownPolicy"));
    }
}
