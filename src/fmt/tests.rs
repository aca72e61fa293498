//! Unit tests of the formatter on tricky cases. The golden files are in `tests/fmt/`.

use super::*;

/// Formats `src`, checks the result is faithful and a fixed point, and returns it.
fn fmt(src: &str) -> String {
    let out = format_source(src).unwrap_or_else(|e| panic!("syntax errors in {src:?}: {e:?}"));
    if let Err(e) = verify(src, &out) {
        panic!("not faithful: {e}\n--- input\n{src}\n--- output\n{out}");
    }
    let again = format_source(&out).expect("the output parses");
    assert_eq!(again, out, "not idempotent\n--- input\n{src}");
    out
}

#[test]
fn refuses_files_with_syntax_errors() {
    let errs = format_source("policy \"A\" { when == }").unwrap_err();
    assert!(!errs.is_empty());
    assert!(format_source("/* never closed").is_err());
    assert!(format_source("\"abc").is_err());
}

#[test]
fn empty_and_comment_only_files() {
    assert_eq!(fmt(""), "");
    assert_eq!(fmt("  \n\n\t\n"), "");
    assert_eq!(fmt("// only\n\n\n/* two */  "), "// only\n\n/* two */\n");
}

#[test]
fn one_line_policy_becomes_a_block() {
    assert_eq!(
        fmt("policy   \"A\"{when a==1 grant x:y(Reporter)grace 30d}"),
        "policy \"A\" {\n  when a == 1\n  grant x:y (reporter) grace 30d\n}\n"
    );
}

#[test]
fn imports_and_requires_group_other_items_get_one_blank_line() {
    let src = "import \"std/hris\" import \"std/saas\"\nrequire a == 1\nrequire b == 2\n\n\n\npolicy \"A\" {}\ntemplate \"B\" {}";
    assert_eq!(
        fmt(src),
        "import \"std/hris\"\nimport \"std/saas\"\n\nrequire a == 1\nrequire b == 2\n\npolicy \"A\" {}\n\ntemplate \"B\" {}\n"
    );
}

#[test]
fn author_blank_lines_inside_blocks_collapse_to_one() {
    let src = "policy \"A\" {\n\n\n  when a == 1\n\n\n\n  grant x:y\n  grant x:z\n\n}\n";
    assert_eq!(
        fmt(src),
        "policy \"A\" {\n  when a == 1\n\n  grant x:y\n  grant x:z\n}\n"
    );
}

#[test]
fn trailing_comments_stay_at_the_end_of_their_line() {
    let src =
        "policy \"A\" { // header\n  when a == 1 // trigger\n  grant x:y /* b */ // l\n} // end\n";
    assert_eq!(fmt(src), src);
}

#[test]
fn comments_inside_an_expression_move_above_the_clause() {
    let src = "policy \"A\" {\n  when a == 1 /* inner */ or\n    // why b\n    b == 2 // end\n}\n";
    assert_eq!(
        fmt(src),
        "policy \"A\" {\n  /* inner */\n  // why b\n  when a == 1 or b == 2 // end\n}\n"
    );
}

#[test]
fn comments_in_a_header_move_into_the_block() {
    let src = "/// doc\npolicy /* a */ \"A\" /* b */ { /* c */\n}\n";
    assert_eq!(
        fmt(src),
        "/// doc\npolicy \"A\" {\n  /* a */\n  /* b */\n  /* c */\n}\n"
    );
    let src = "policy \"A\" { /* c */ }\n";
    assert_eq!(fmt(src), "policy \"A\" { /* c */\n}\n");
}

#[test]
fn nested_and_multi_line_block_comments_are_kept_verbatim() {
    let src = "/* outer /* inner */ still\n   outer */\npolicy \"A\" {\n  /* one\n     two */\n  when a == 1\n}\n";
    assert_eq!(fmt(src), src);
}

#[test]
fn comments_at_the_end_of_a_block_and_of_the_file() {
    let src = "policy \"A\" {\n  when a == 1\n\n  // left over\n}\n\n// the end\n";
    assert_eq!(fmt(src), src);
}

#[test]
fn a_comment_in_given_breaks_it_over_lines() {
    let src = "test \"t\" { given { a: 1, // first\n b: \"x\" } }";
    assert_eq!(
        fmt(src),
        "test \"t\" {\n  given {\n    a: 1, // first\n    b: \"x\"\n  }\n}\n"
    );
}

#[test]
fn long_given_breaks_short_given_joins() {
    let src = "test \"t\" {\n  given {\n    a: 1,\n    b: 2,\n  }\n}\n";
    assert_eq!(fmt(src), "test \"t\" {\n  given { a: 1, b: 2 }\n}\n");
    let long: Vec<String> = (0..12)
        .map(|i| format!("attribute_{i}: \"v{i}\""))
        .collect();
    let out = fmt(&format!("test \"t\" {{ given {{ {} }} }}", long.join(", ")));
    assert!(
        out.contains("  given {\n    attribute_0: \"v0\",\n"),
        "{out}"
    );
    assert!(out.contains("    attribute_11: \"v11\"\n  }\n"), "{out}");
}

#[test]
fn exactly_one_hundred_columns_fits() {
    // `  given { a: "…" }` is 2 + 15 + n columns.
    let at = |n: usize| format!("test \"t\" {{ given {{ a: \"{}\" }} }}", "x".repeat(n));
    let out = fmt(&at(83));
    assert!(
        out.lines()
            .any(|l| l.chars().count() == 100 && l.contains("given { a:")),
        "{out}"
    );
    assert!(fmt(&at(84)).contains("given {\n"));
}

#[test]
fn resources_one_line_when_short() {
    let src = "system gitlab \"GitLab\" { grace 30d resource group { levels guest<reporter default reporter } resource license {} }";
    assert_eq!(
        fmt(src),
        "system gitlab \"GitLab\" {\n  grace 30d\n  resource group { levels guest < reporter  default reporter }\n  resource license\n}\n"
    );
    let src = "system s { resource r { // why\n levels a < b grace 7d } }";
    assert_eq!(
        fmt(src),
        "system s {\n  resource r { // why\n    levels a < b\n    grace 7d\n  }\n}\n"
    );
}

#[test]
fn grace_comments_attach_before_the_keyword() {
    let src = "system s {\n  // default grace\n  grace 30d\n  resource r {\n    levels a\n    // short\n    grace 7d // really\n  }\n}\n";
    assert_eq!(fmt(src), src);
}

#[test]
fn parentheses_are_kept_and_none_are_added() {
    let src = "require not (a == 1 or b in [\"x\", \"y\"]) and (c) and not d matches \"g*\" or e not in [] and lower(f, g) != \"h\"";
    assert_eq!(fmt(src), format!("{src}\n"));
    assert_eq!(fmt("require ((a))"), "require ((a))\n");
    assert_eq!(fmt("require not not a"), "require not not a\n");
}

#[test]
fn literals_are_canonical() {
    let src = "require a == \"tab\\there \\u{41} \\\"q\\\" \\\\\" and b < 2025-01-31 and c > 12h and d == 2w and e == true and f != today";
    assert_eq!(
        fmt(src),
        "require a == \"tab\\there A \\\"q\\\" \\\\\" and b < 2025-01-31 and c > 12h and d == 2w and e == true and f != today\n"
    );
}

#[test]
fn references_and_levels_are_canonical() {
    let src = "policy \"A\" { grant aws:role:\"ReadOnly\" (ADMIN) grant aws:role:\"arn:aws:iam::1:role/R\" grant a:b:\"\" deny x:y:\"lit*\" deny x:* }";
    assert_eq!(
        fmt(src),
        "policy \"A\" {\n  grant aws:role:ReadOnly (admin)\n  grant aws:role:\"arn:aws:iam::1:role/R\"\n  grant a:b:\"\"\n  deny x:y:\"lit*\"\n  deny x:*\n}\n"
    );
}

#[test]
fn schema_fields_and_types() {
    let src = "schema { user_id:string key\n tags : list<string>? status: enum{Active,\"Part time\", user} m: date? key }";
    assert_eq!(
        fmt(src),
        "schema {\n  user_id: string key\n  tags: list<string>?\n  status: enum { Active, \"Part time\", user }\n  m: date? key\n}\n"
    );
}

#[test]
fn conflicts_put_one_pattern_a_line() {
    let src = "conflict \"SoD\" { a:b:c, // first\n d:e:*, reason \"why\" }";
    assert_eq!(
        fmt(src),
        "conflict \"SoD\" {\n  a:b:c, // first\n  d:e:*\n  reason \"why\"\n}\n"
    );
    assert_eq!(fmt("conflict \"X\" {}"), "conflict \"X\" {}\n");
}

#[test]
fn exceptions_with_and_without_a_name() {
    let src = "exception { user \"u\" grant a:b ticket \"T-1\" expires 2025-01-31 }";
    assert_eq!(
        fmt(src),
        "exception {\n  user \"u\"\n  grant a:b\n  ticket \"T-1\"\n  expires 2025-01-31\n}\n"
    );
}

#[test]
fn crlf_input_gives_lf_output() {
    let src = "// a comment  \r\npolicy \"A\" {\r\n  when a == 1 // t\r\n  /* x\r\n  y */\r\n}\r\n";
    assert_eq!(
        fmt(src),
        "// a comment\npolicy \"A\" {\n  when a == 1 // t\n  /* x\n  y */\n}\n"
    );
}

#[test]
fn comments_between_items_on_the_same_line() {
    let src = "import \"a\" /* x */ import \"b\" // y\n";
    assert_eq!(fmt(src), "import \"a\" /* x */\nimport \"b\" // y\n");
}

#[test]
fn deep_nesting_does_not_crash() {
    let src = format!("require {}a{}", "(".repeat(200), ")".repeat(200));
    assert_eq!(fmt(&src), format!("{src}\n"));
    let src = format!("require {}a", "not ".repeat(200));
    assert_eq!(fmt(&src), format!("{src}\n"));
}

#[test]
fn never_panics_on_truncated_or_mangled_input() {
    let base = "/// doc\npolicy \"A\" { // t\n  when a == 1 and (b in [\"x\", 2]) /* c */\n  grant s:t:\"q n\" (Lvl) grace 3d\n}\n\
                test \"t\" { given { a: 1, b: 2025-01-01 } expect no grant s:t }\n\
                system s { resource r { levels a < b default a } }\nconflict \"c\" { a:*, b:c reason \"r\" }";
    let chars: Vec<(usize, char)> = base.char_indices().collect();
    for (i, _) in &chars {
        let cut = &base[..*i];
        let dropped = format!(
            "{}{}",
            &base[..*i],
            base[*i..].chars().skip(1).collect::<String>()
        );
        for src in [cut, dropped.as_str()] {
            if let Ok(out) = format_source(src) {
                assert_eq!(format_source(&out).as_ref(), Ok(&out), "input {src:?}");
                if let Err(e) = verify(src, &out) {
                    panic!("{e} for input {src:?}");
                }
            }
        }
    }
}

#[test]
fn comments_under_an_item_stay_with_it() {
    let src = "policy \"A\" {}\n// about A\n\npolicy \"B\" {}\n// about C\npolicy \"C\" {}\n";
    assert_eq!(
        fmt(src),
        "policy \"A\" {}\n// about A\n\npolicy \"B\" {}\n\n// about C\npolicy \"C\" {}\n"
    );
}
