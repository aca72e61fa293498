//! What W0102, W0104, W0301 and E0501 must *not* say. (The case files under
//! `tests/diagnostics/` each produce their code; the silences are here.)

use crate::check::check_bundle;
use crate::db::Loaded;

const PRELUDE: &str = "import \"std/hris\"\nimport \"std/saas\"\nsystem netsuite { resource role }\nschema {\n  level: int?\n}\n";

/// The codes `polc check` gives for `src` (after the prelude).
fn codes(src: &str) -> Vec<&'static str> {
    let text = format!("{PRELUDE}{src}");
    let loaded = Loaded::from_sources(&[("t.pol", text.as_str())]);
    let checked = check_bundle(&loaded.db, loaded.workspace);
    checked.diagnostics.iter().map(|d| d.code).collect()
}

fn lacks(code: &str, src: &str) {
    let c = codes(src);
    assert!(
        !c.contains(&code),
        "expected no {code}, got {c:?} for\n{src}"
    );
}

fn silent(src: &str) {
    let c = codes(src);
    assert!(c.is_empty(), "expected no diagnostic, got {c:?} for\n{src}");
}

#[test]
fn w0102_not_for_policies_that_can_apply() {
    silent("policy \"P\" { when department == \"Sales\" or department == \"Eng\" when department != \"Sales\" grant slack:workspace-member }");
    // `not has(x) or x == v`: absent is a way in.
    silent("policy \"P\" { when not has(manager) or manager == \"bob\" when not (manager == \"alice\") grant slack:workspace-member }");
    // Later days in the horizon count.
    silent("policy \"P\" { when today >= 2030-01-01 grant slack:workspace-member }");
    // A policy that takes effect after the horizon is judged on its own days.
    silent("policy \"P\" { effective 2040-01-01 when today >= 2040-06-01 grant slack:workspace-member }");
    // Conditions the procedure does not model are never reported.
    silent("policy \"P\" { when department == team when department != team grant slack:workspace-member }");
}

#[test]
fn w0301_needs_implication_and_no_more_access() {
    // The narrower one gives something more: not shadowed.
    silent("policy \"A\" { when department == \"Sales\" grant slack:workspace-member }\npolicy \"B\" { when department == \"Sales\" and level > 3 grant slack:workspace-member grant salesforce:user-license }");
    // The broader one gives less than the narrower: the narrower is not shadowed, and the
    // broader is not implied by the narrower's complement.
    silent("policy \"A\" { when department == \"Sales\" and level > 3 grant slack:workspace-member grant salesforce:user-license }\npolicy \"B\" { when department == \"Sales\" grant slack:workspace-member }");
    // Overlapping but neither implies the other.
    silent("policy \"A\" { when department == \"Sales\" grant slack:workspace-member }\npolicy \"B\" { when level > 3 grant slack:workspace-member }");
    // A higher level is not given by the broader one.
    silent("policy \"A\" { when department == \"Sales\" grant slack:channel:#s (member) }\npolicy \"B\" { when department == \"Sales\" and level > 3 grant slack:channel:#s (admin) }");
    // A policy others inherit matters to them.
    silent("policy \"A\" { when department == \"Sales\" grant slack:workspace-member }\npolicy \"B\" { when department == \"Sales\" and level > 3 grant slack:workspace-member }\npolicy \"C\" { when level > 5 inherits \"B\" grant salesforce:user-license }");
    // A deny the broader one lacks.
    silent("policy \"A\" { when department == \"Sales\" grant slack:workspace-member }\npolicy \"B\" { when department == \"Sales\" and level > 3 grant slack:workspace-member deny salesforce:* }");
    // The broader one is in force for a shorter time.
    silent("policy \"A\" { expires 2027-01-01 when department == \"Sales\" grant slack:workspace-member }\npolicy \"B\" { when department == \"Sales\" and level > 3 grant slack:workspace-member }");
}

#[test]
fn w0104_only_when_the_deny_always_applies() {
    // The denying policy applies to other people.
    silent("policy \"C\" { when employment_type == \"Contractor\" deny salesforce:* }\npolicy \"S\" { when department == \"Sales\" grant salesforce:user-license }");
    // It applies to some of the granting policy's users only.
    silent("policy \"C\" { when employment_type == \"Contractor\" deny salesforce:* }\npolicy \"S\" { when department == \"Sales\" and employment_type in [\"Contractor\", \"FTE\"] grant salesforce:user-license }");
    // The deny is in force for a shorter time than the grant.
    silent("template \"T\" { expires 2027-01-01 deny salesforce:* }\npolicy \"S\" { when department == \"Sales\" inherits \"T\" grant salesforce:user-license }");
    // A template's grant reaches one policy with the deny and one without.
    silent("template \"G\" { grant salesforce:user-license }\ntemplate \"D\" { deny salesforce:* }\npolicy \"A\" { when level > 3 inherits \"G\", \"D\" grant slack:workspace-member }\npolicy \"B\" { when department == \"Sales\" inherits \"G\" }");
}

#[test]
fn e0501_not_when_no_user_can_reach_it() {
    let conflict = "conflict \"SoD\" { netsuite:role:ap-clerk, netsuite:role:ap-approver }\n";
    // Exclusive triggers (the hr-sample's shape).
    silent(&format!("policy \"Clerk\" {{ when job_title == \"Accountant\" and department == \"Finance\" grant netsuite:role:ap-clerk }}\npolicy \"Approver\" {{ when job_title in [\"Director\", \"Vice President\"] and department == \"Finance\" grant netsuite:role:ap-approver }}\n{conflict}"));
    // The require rules one side out (which is a W0102 of its own).
    lacks("E0501", &format!("require employment_status == \"Active\"\npolicy \"Clerk\" {{ when department == \"Finance\" grant netsuite:role:ap-clerk }}\npolicy \"Approver\" {{ when employment_status == \"Leave\" grant netsuite:role:ap-approver }}\n{conflict}"));
    // A deny of the granting policy always removes the other side (W0104 says so too).
    lacks("E0501", &format!("policy \"Clerk\" {{ when department == \"Finance\" grant netsuite:role:ap-clerk deny netsuite:role:ap-approver }}\npolicy \"Approver\" {{ when department == \"Finance\" and level > 3 grant netsuite:role:ap-approver }}\n{conflict}"));
    // A deny of a third policy that applies whenever both do.
    silent(&format!("policy \"Clerk\" {{ when department == \"Finance\" grant netsuite:role:ap-clerk }}\npolicy \"Approver\" {{ when level > 3 grant netsuite:role:ap-approver }}\npolicy \"Guard\" {{ when department == \"Finance\" and level > 2 deny netsuite:role:ap-approver }}\n{conflict}"));
    // Never in force at the same time.
    silent(&format!("policy \"Clerk\" {{ expires 2020-01-01 when department == \"Finance\" grant netsuite:role:ap-clerk }}\npolicy \"Approver\" {{ when department == \"Finance\" grant netsuite:role:ap-approver }}\n{conflict}"));
}

#[test]
fn the_examples_stay_clean() {
    for dir in ["examples/seed/policies", "examples/hr-sample/policies"] {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        let loaded = Loaded::from_paths(&[root]).unwrap();
        let checked = check_bundle(&loaded.db, loaded.workspace);
        let found: Vec<_> = checked
            .diagnostics
            .iter()
            .filter(|d| matches!(d.code, "W0102" | "W0104" | "W0301" | "E0501"))
            .map(|d| d.message.clone())
            .collect();
        assert!(found.is_empty(), "{dir}: {found:?}");
    }
}
