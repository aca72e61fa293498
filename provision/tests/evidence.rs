//! The evidence pack on a scenario run against in-memory systems: a baseline import, a
//! joiner, a mover with grace, two leavers (one whose revocation fails), an expired
//! exception, a separation-of-duties conflict held out of band, a plan approved by a named
//! person, refused applies and forced ones. Each section's content and controls are
//! checked in every format; hostile data is neutralised in every format; a signed pack
//! verifies with the public key.

mod common;
use common::*;
use polc_provision::evidence::{self, Format};
use polc_provision::{ApplyOptions, Approval, Provision};
use serde_json::Value as Json;

const SYSTEMS: &str = r#"[systems.gitlab]
connector = "file"
path = "systems/gitlab.json"
mode = "review"

[systems.salesforce]
connector = "file"
path = "systems/salesforce.json"
mode = "auto"
"#;

const HOSTILE_ID: &str = "=HYPERLINK(\"x\")";
const HOSTILE_TEAM: &str = "<script>alert(1)</script>\n\u{1b}[31mred";

fn events() -> String {
    let hired = serde_json::json!({"event": "employee.hired", "user_id": HOSTILE_ID, "email": "x@company.com",
        "first_name": "X", "last_name": "Y", "job_title": "Sales Engineer", "department": "Sales",
        "employment_type": "FTE", "employment_status": "Active", "start_date": "2025-06-02"});
    let moved = serde_json::json!({"event": "employee.updated", "user_id": "john.doe", "changes": {
        "job_title": {"old": "Sales Engineer", "new": "Solutions Architect"},
        "department": {"old": "Sales", "new": "Engineering"},
        "team": {"old": "Enterprise", "new": HOSTILE_TEAM},
        "effective_date": "2025-06-02"}});
    let left = |u: &str| {
        serde_json::json!({"event": "employee.terminated", "user_id": u,
            "termination_date": "2025-06-02", "last_day": "2025-06-02"})
    };
    [hired, moved, left("priya.nair"), left("lee.park")]
        .iter()
        .map(|v| v.to_string() + "\n")
        .collect()
}

fn apply(
    p: &mut Provision,
    plan: &polc_provision::Plan,
    by: &str,
    force: Option<&str>,
) -> polc_provision::Result<polc_provision::ApplyReport> {
    let mut o = ApplyOptions::new(Approval::Digest(plan.digest.clone()), plan.as_of);
    o.fail_at = None;
    o.as_name = Some(by.into());
    o.force = force.map(str::to_string);
    p.apply(&plan.id, &o)
}

/// Runs the scenario; returns the fixture (its state holds everything).
fn scenario(extra_toml: &str) -> Fixture {
    let f = Fixture::new(&format!("{SYSTEMS}{extra_toml}"));
    // tight guards: any revocation beyond the first trips them (refused, then forced)
    let toml = std::fs::read_to_string(f.path("polc.toml"))
        .unwrap()
        .replace("max_revoke_percent = 10", "max_revoke_percent = 0")
        .replace("max_revoke_count = 50", "max_revoke_count = 1");
    std::fs::write(f.path("polc.toml"), toml).unwrap();
    f.write(
        "policies/sod.pol",
        "conflict \"Admins are not auditors\" {\n  gitlab:group:admins, gitlab:group:auditors\n  reason \"who administers does not audit\"\n}\n",
    );
    let g = f.sys("gitlab");
    // the expired exception's access, still there before the first plan
    g.hold(
        "sarah.chen",
        "gitlab:group:platform-engineering",
        Some("developer"),
    );
    let mut p = f.open();
    let d0 = d("2025-06-01");
    let imp = p.hris_import(&users_json(f.dir.path()), d0, None).unwrap();
    assert!(imp.baseline);
    p.pull(None).unwrap();
    let plan0 = p.plan(d0).unwrap();
    let rep = apply(&mut p, &plan0, "Alice Approver", None).unwrap();
    assert!(rep.all_done(), "{}", rep.human());

    // out of band: an orphan with both sides of a conflict (entries polc does not manage)
    g.hold("old.intern", "gitlab:group:admins", None);
    g.hold("old.intern", "gitlab:group:auditors", None);
    // lee.park's revocations will fail
    g.lock().fail_users.insert("lee.park".into());

    let d1 = d("2025-06-02");
    let ev = f.write("hris/events.jsonl", &events());
    let er = p.hris_event(&ev, d1).unwrap();
    let kinds: Vec<&str> = er.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["joiner", "mover", "leaver", "leaver"],
        "{}",
        er.human()
    );
    p.pull(None).unwrap();
    let plan1 = p.plan(d1).unwrap();
    // auto-approve refused (review system), then the guard refuses without --force
    let mut o = ApplyOptions::new(Approval::AutoApprove, d1);
    o.fail_at = None;
    assert!(p.apply(&plan1.id, &o).is_err());
    let err = apply(&mut p, &plan1, "Bob Reviewer", None).unwrap_err();
    assert!(err.to_string().contains("guard"), "{err}");
    let rep = apply(
        &mut p,
        &plan1,
        "Bob Reviewer",
        Some("HR confirmed both leavers"),
    )
    .unwrap();
    assert_eq!(rep.summary.failed, 2, "{}", rep.human());

    // after john's grace (30 days): salesforce access goes
    let d2 = d("2025-07-03");
    p.pull(None).unwrap();
    let plan2 = p.plan(d2).unwrap();
    assert!(
        plan2.actions.iter().any(|a| a.user_id == "john.doe"
            && a.system == "salesforce"
            && a.action.name() == "revoke"),
        "{}",
        plan2.human()
    );
    apply(&mut p, &plan2, "Alice Approver", Some("grace over")).unwrap();
    f
}

fn period() -> (chrono::NaiveDate, chrono::NaiveDate) {
    let t = polc_provision::today();
    (t - chrono::Days::new(1), t + chrono::Days::new(1))
}

fn json_pack(p: &Provision) -> Json {
    let (from, to) = period();
    let e = p.evidence(from, to, Format::Json, None).unwrap();
    serde_json::from_slice(&e.bytes).unwrap()
}

fn find<'a>(items: &'a Json, user: &str) -> &'a Json {
    items
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["user_id"] == user)
        .unwrap_or_else(|| panic!("no item for {user} in {items:#}"))
}

on_both! {
    fn the_pack_evidences_each_section_in_every_format() {
        let f = scenario("");
        let p = f.open();
        let j = json_pack(&p);
        assert_eq!(j["format"], "polc-evidence");
        let params = &j["parameters"];
        assert_eq!(params["leaver_sla_hours"], 24);
        assert!(params["bundles"][0]
            .as_str()
            .unwrap()
            .starts_with("sha256:"));
        let head = p.audit_verify(None).unwrap().head;
        assert_eq!(params["audit_head"], head.as_str());
        assert!(params["delay_basis"]
            .as_str()
            .unwrap()
            .contains("recording"));

        // controls: the normative table
        let ctl = |s: &str| {
            let c = &j[s]["controls"];
            (
                c["soc2"].to_string(),
                c["iso27001_2013"].to_string(),
                c["iso27001_2022"].to_string(),
            )
        };
        assert_eq!(
            ctl("policies"),
            (
                r#"["CC6.1","CC6.3"]"#.into(),
                r#"["A.9.1.1","A.9.2.2"]"#.into(),
                r#"["5.15","5.18"]"#.into()
            )
        );
        assert_eq!(
            ctl("joiners"),
            (
                r#"["CC6.2"]"#.into(),
                r#"["A.9.2.1","A.9.2.2"]"#.into(),
                r#"["5.16","5.18"]"#.into()
            )
        );
        assert_eq!(
            ctl("movers"),
            (
                r#"["CC6.2","CC6.3"]"#.into(),
                r#"["A.9.2.2","A.9.2.6"]"#.into(),
                r#"["5.18"]"#.into()
            )
        );
        assert_eq!(
            ctl("leavers"),
            (
                r#"["CC6.2","CC6.3"]"#.into(),
                r#"["A.9.2.1","A.9.2.6"]"#.into(),
                r#"["5.16","5.18"]"#.into()
            )
        );
        assert_eq!(
            ctl("exceptions"),
            (
                r#"["CC6.1","CC6.3"]"#.into(),
                r#"["A.9.2.2","A.9.2.5"]"#.into(),
                r#"["5.18"]"#.into()
            )
        );
        assert_eq!(
            ctl("separation_of_duties"),
            (
                r#"["CC6.1","CC6.3"]"#.into(),
                r#"["A.6.1.2"]"#.into(),
                r#"["5.3"]"#.into()
            )
        );
        assert_eq!(
            ctl("drift"),
            (
                r#"["CC6.1","CC7.2"]"#.into(),
                r#"["A.9.2.5"]"#.into(),
                r#"["5.18"]"#.into()
            )
        );
        assert_eq!(
            ctl("reviews"),
            (
                r#"["CC6.2","CC8.1"]"#.into(),
                r#"["A.9.2.2"]"#.into(),
                r#"["5.18"]"#.into()
            )
        );
        assert_eq!(
            ctl("open_items"),
            (
                r#"["CC6.2","CC7.2"]"#.into(),
                r#"["A.9.2.6"]"#.into(),
                r#"["5.18"]"#.into()
            )
        );
        assert_eq!(
            ctl("integrity"),
            (
                r#"["CC7.2"]"#.into(),
                r#"["A.12.4.2"]"#.into(),
                r#"["8.15"]"#.into()
            )
        );

        // policies in force: the bundle, the policies, who approved plans made from it
        let pol = &j["policies"];
        assert_eq!(
            pol["bundles"][0]["approved_by"],
            serde_json::json!(["Alice Approver", "Bob Reviewer"])
        );
        assert!(pol["policies"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "Sales Team Access"));

        // joiners: the baseline is not there; the joiner's grants confirmed with a delay
        let joiners = &j["joiners"]["items"];
        assert_eq!(joiners.as_array().unwrap().len(), 1, "{joiners:#}");
        let x = find(joiners, HOSTILE_ID);
        assert_eq!(x["cause"], "employee.hired");
        assert_eq!(x["complete"], true, "{x:#}");
        assert!(x["confirmed"].as_u64().unwrap() >= 2);
        assert!(x["delay_seconds"].as_i64().unwrap() >= 0);

        // movers: what changed, the grace honoured (taken away after it)
        let m = find(&j["movers"]["items"], "john.doe");
        let changed: Vec<&str> = m["changed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["field"].as_str().unwrap())
            .collect();
        assert_eq!(changed, ["department", "job_title", "team"]);
        let grace = m["grace"].as_array().unwrap();
        assert!(!grace.is_empty());
        assert!(
            grace
                .iter()
                .all(|g| g["honoured"] == true && g["until"] == "2025-07-02"),
            "{grace:#?}"
        );
        assert!(
            grace
                .iter()
                .any(|g| g["outcome"].as_str().unwrap().contains("after the grace")),
            "{grace:#?}"
        );

        // leavers: priya done within the SLA, with report-only access listed; lee open
        let leavers = &j["leavers"]["items"];
        let pr = find(leavers, "priya.nair");
        assert_eq!(pr["complete"], true, "{pr:#}");
        assert_eq!(pr["over_sla"], false);
        assert!(pr["delay_seconds"].as_i64().is_some());
        assert!(
            pr["report_only"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["system"] == "github"),
            "{pr:#}"
        );
        let lee = find(leavers, "lee.park");
        assert_eq!(lee["complete"], false);
        assert_eq!(lee["over_sla"], false, "24 h have not passed");

        // exceptions: expired, revoked by the first plan
        let ex = &j["exceptions"]["items"][0];
        assert_eq!(ex["name"], "Q4 migration");
        assert_eq!(ex["approved_by"], "cto@company.com");
        assert_eq!(
            ex["justification"],
            "Temporary access for Q4 migration project"
        );
        assert_eq!(ex["state"], "expired");
        assert!(
            ex["revocation"].as_str().unwrap().contains("revoked"),
            "{ex:#}"
        );
        assert_eq!(ex["flagged"], false);

        // separation of duties
        let sod = &j["separation_of_duties"];
        assert_eq!(sod["conflicts"][0]["name"], "Admins are not auditors");
        let v = find(&sod["violations"], "old.intern");
        assert_eq!(v["found_in"], "gitlab");
        assert!(v["fate"].as_str().unwrap().contains("open"));

        // drift: pulls, coverage, the orphan
        let drift = &j["drift"];
        assert!(drift["pulls"].as_array().unwrap().len() >= 6);
        assert!(
            drift["pulls"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["appeared"].as_i64() == Some(2)),
            "{drift:#}"
        );
        assert!(!drift["coverage"].as_array().unwrap().is_empty());
        find(&drift["orphans"], "old.intern");

        // reviews: three plans, approvals by name, refusals, forced applies
        let r = &j["reviews"];
        assert_eq!(r["plans"].as_array().unwrap().len(), 3);
        let approvers: Vec<&str> = r["approvals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["approver"].as_str().unwrap())
            .collect();
        assert_eq!(
            approvers,
            ["Alice Approver", "Bob Reviewer", "Alice Approver"]
        );
        let refusals = r["refusals"].as_array().unwrap();
        assert_eq!(refusals.len(), 2, "{refusals:#?}");
        assert!(refusals
            .iter()
            .any(|x| x["reason"].as_str().unwrap().contains("need review")));
        assert!(refusals
            .iter()
            .any(|x| x["reason"].as_str().unwrap().contains("guard") && x["actor"] == "Bob Reviewer"));
        let forced = r["forced"].as_array().unwrap();
        assert_eq!(forced.len(), 2);
        assert_eq!(forced[0]["reason"], "HR confirmed both leavers");
        assert_eq!(forced[0]["actor"], "Bob Reviewer");

        // open items: lee's failed revocations, the plan they leave open
        let op = &j["open_items"];
        // lee's two revocations failed in each of the two plans that tried them
        let failed = op["failed_actions"].as_array().unwrap();
        assert_eq!(failed.len(), 4, "{op:#}");
        assert!(failed
            .iter()
            .all(|a| a["user_id"] == "lee.park" && a["action"] == "revoke"));
        assert!(
            op["pending_plans"].as_array().unwrap().is_empty(),
            "failed actions are not pending: {op:#}"
        );
        assert!(op["overdue_leavers"].as_array().unwrap().is_empty());

        // integrity
        assert_eq!(j["integrity"]["verified"], true);
        assert_eq!(j["integrity"]["head"], head.as_str());

        // the other formats say the same, with the controls
        let (from, to) = period();
        for format in [Format::Html, Format::Markdown, Format::Csv] {
            let text = String::from_utf8(p.evidence(from, to, format, None).unwrap().bytes).unwrap();
            for needle in [
                "CC6.1",
                "CC6.2",
                "CC6.3",
                "CC7.2",
                "CC8.1",
                "A.9.1.1",
                "A.9.2.1",
                "A.9.2.5",
                "A.9.2.6",
                "A.6.1.2",
                "A.12.4.2",
                "5.15",
                "5.16",
                "5.3",
                "8.15",
                "john",
                "priya",
                "lee",
                "old",
                "Q4 migration",
                "Alice Approver",
                "Bob Reviewer",
                "HR confirmed both leavers",
                "Admins are not auditors",
                "cto",
                &head,
            ] {
                let found = text.contains(needle)
                    || text.contains(&evidence::md_escape(needle))
                    || text.contains(&evidence::html_escape(needle));
                assert!(found, "{format:?} lacks {needle}");
            }
            for title in [
                "Joiners",
                "Movers",
                "Leavers",
                "Exceptions",
                "Separation of duties",
                "Drift",
                "Reviews",
                "Integrity",
            ] {
                assert!(
                    text.contains(title) || format == Format::Csv,
                    "{format:?} lacks {title}"
                );
            }
        }
        // POLC_EVIDENCE_DUMP=DIR writes the four renderings there, to look at them
        if let Ok(dir) = std::env::var("POLC_EVIDENCE_DUMP") {
            for format in [Format::Html, Format::Markdown, Format::Csv, Format::Json] {
                let e = p.evidence(from, to, format, None).unwrap();
                std::fs::write(format!("{dir}/evidence.{}", format.extension()), e.bytes).unwrap();
            }
        }
        let csv = String::from_utf8(p.evidence(from, to, Format::Csv, None).unwrap().bytes).unwrap();
        let leaver_row = csv
            .lines()
            .find(|l| l.starts_with("leavers,") && l.contains("priya"))
            .unwrap();
        assert!(
            leaver_row.starts_with("leavers,CC6.2 CC6.3,A.9.2.1 A.9.2.6,5.16 5.18,Leavers,"),
            "{leaver_row}"
        );
        assert!(csv
            .lines()
            .any(|l| l.starts_with("integrity,CC7.2,A.12.4.2,8.15,")));
        let html = String::from_utf8(p.evidence(from, to, Format::Html, None).unwrap().bytes).unwrap();
        assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<style>"));
        assert!(
            !html.contains("<script")
                && !html.contains("http://")
                && !html.contains("https://")
                && !html.contains("src=")
        );
    }
}

on_both! {
    fn hostile_data_is_neutralised_in_every_format() {
        let f = scenario("");
        let p = f.open();
        let (from, to) = period();
        let get = |fmt| String::from_utf8(p.evidence(from, to, fmt, None).unwrap().bytes).unwrap();

        let json = get(Format::Json);
        let j: Json = serde_json::from_str(&json).unwrap();
        // JSON keeps the data exactly, escaped by the encoder
        find(&j["joiners"]["items"], HOSTILE_ID);
        let m = find(&j["movers"]["items"], "john.doe");
        assert!(m["changed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["to"] == HOSTILE_TEAM));
        assert!(!json.contains('\u{1b}') && !json.contains("<script>\n"));

        let html = get(Format::Html);
        assert!(!html.contains("<script"), "raw script in HTML");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("=HYPERLINK(&quot;x&quot;)"));
        assert!(!html.contains('\u{1b}'));
        assert!(html.contains("\\u{1b}[31mred") && html.contains("\\u{a}"));

        let md = get(Format::Markdown);
        assert!(!md.contains("<script") && !md.contains('\u{1b}'));
        assert!(
            md.contains("&lt;script&gt;alert\\(1\\)&lt;/script&gt;"),
            "{md}"
        );
        assert!(md.contains("| =HYPERLINK\\(&quot;x&quot;\\) |"), "{md}");
        // no table row is broken by a newline or a pipe from data
        for line in md.lines().filter(|l| l.starts_with('|')) {
            assert!(line.ends_with('|'), "{line}");
        }

        let csv = get(Format::Csv);
        assert!(!csv.contains('\u{1b}'));
        // every line is one record: no raw newline from data
        assert!(
            csv.lines().all(|l| l.starts_with("parameters,")
                || l.starts_with("section,")
                || evidence::CONTROLS
                    .iter()
                    .any(|c| l.starts_with(&format!("{},", c.0)))),
            "{csv}"
        );
        // the formula is neutralised wherever it is a cell
        assert!(csv.contains(",\"'=HYPERLINK(\"\"x\"\")\","), "{csv}");
        assert!(!csv.contains(",=HYPERLINK") && !csv.contains(",\"=HYPERLINK"));
        for line in csv.lines() {
            for cell in line.split(',') {
                let c = cell.trim_start_matches('"');
                assert!(!c.starts_with(['=', '+', '@']), "{cell} in {line}");
            }
        }
    }
}

on_both! {
    fn a_leaver_over_the_sla_is_flagged_and_open() {
        let f = scenario("\n[evidence]\nleaver_sla_hours = 0\n");
        let p = f.open();
        let j = json_pack(&p);
        let lee = find(&j["leavers"]["items"], "lee.park");
        assert_eq!(lee["over_sla"], true, "{lee:#}");
        let overdue = &j["open_items"]["overdue_leavers"];
        assert_eq!(find(overdue, "lee.park")["open_actions"], 2);
        let (from, to) = period();
        let html = String::from_utf8(p.evidence(from, to, Format::Html, None).unwrap().bytes).unwrap();
        assert!(
            html.contains("<tr class=\"flag\"><td>lee.park</td>"),
            "{html}"
        );
    }
}

on_both! {
    fn a_signed_pack_verifies_with_the_public_key() {
        let f = scenario("");
        let p = f.open();
        let key = polc::bundle::SecretKey::from_seed([7; 32]);
        let kf = f.write("keys/evidence.key", &key.to_file_text());
        let (from, to) = period();
        let e = p.evidence(from, to, Format::Html, Some(&kf)).unwrap();
        let sig = e.signature.clone().unwrap();
        let public = key.public();
        assert_eq!(evidence::verify_signature(&e.bytes, &sig, &public), Ok(()));
        // a changed pack, another key, a changed signature: refused
        let mut changed = e.bytes.clone();
        changed[20] ^= 1;
        assert!(evidence::verify_signature(&changed, &sig, &public)
            .unwrap_err()
            .contains("changed"));
        let other = polc::bundle::SecretKey::from_seed([8; 32]).public();
        assert!(evidence::verify_signature(&e.bytes, &sig, &other)
            .unwrap_err()
            .contains("another key"));
        let flipped: String = {
            let (a, b) = sig.split_at(sig.len() - 3);
            format!(
                "{a}{}{}",
                if b.starts_with('0') { '1' } else { '0' },
                &b[1..]
            )
        };
        assert!(evidence::verify_signature(&e.bytes, &flipped, &public).is_err());
        // the public key file is not a signing key
        let pf = f.write("keys/evidence.key.pub", &public.to_file_text());
        assert!(p.evidence(from, to, Format::Json, Some(&pf)).is_err());
        // unsigned: no signature
        assert!(p
            .evidence(from, to, Format::Json, None)
            .unwrap()
            .signature
            .is_none());
    }
}
