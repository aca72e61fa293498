//! Every refusal sends nothing; guards, staleness, four eyes, protected ids; the audit
//! chain against tampering; the project file's errors.

mod common;
use common::*;
use polc_provision::{ApplyOptions, Approval, Error, Project};

const AUTO: &str =
    "[systems.gitlab]\nconnector = \"file\"\npath = \"systems/gitlab.json\"\nmode = \"auto\"\n";

/// A seed project whose gitlab holds a leaver's (omar) and an orphan's access.
fn setup(extra: &str) -> (Fixture, polc_provision::Provision, polc_provision::Plan) {
    let f = Fixture::new(&format!("{AUTO}{extra}"));
    let g = f.sys("gitlab");
    for grant in [
        "gitlab:group:customer-solutions",
        "gitlab:group:engineering-docs",
    ] {
        g.hold("omar.haddad", grant, Some("reporter"));
        g.hold("old.intern", grant, Some("reporter"));
    }
    let mut p = f.open();
    let at = d("2025-06-01");
    p.hris_import(&users_json(f.dir.path()), at, None).unwrap();
    p.pull(None).unwrap();
    let plan = p.plan(at).unwrap();
    g.clear_calls();
    (f, p, plan)
}

fn opts(plan: &polc_provision::Plan) -> ApplyOptions {
    let mut o = ApplyOptions::new(Approval::Digest(plan.digest.clone()), plan.as_of);
    o.fail_at = None;
    o
}

on_both! {
    fn leavers_and_orphans_are_planned_as_the_contract_says() {
        let (_f, _p, plan) = setup("");
        let omar: Vec<_> = plan
            .actions
            .iter()
            .filter(|a| a.user_id == "omar.haddad")
            .collect();
        assert_eq!(omar.len(), 2);
        assert!(
            omar.iter()
                .all(|a| a.leaver && !a.review && a.action.name() == "revoke"),
            "{}",
            plan.human()
        );
        let orphan: Vec<_> = plan
            .actions
            .iter()
            .filter(|a| a.user_id == "old.intern")
            .collect();
        assert!(
            orphan.iter().all(|a| a.review && !a.leaver),
            "orphans are always reviewed"
        );
        assert_eq!(
            plan.systems
                .iter()
                .find(|s| s.system == "gitlab")
                .unwrap()
                .orphans,
            vec!["old.intern"]
        );
        // systems the policies name but the project does not list: report only
        assert!(plan
            .systems
            .iter()
            .any(|s| s.system == "salesforce" && !s.provisioned));
    }
}

on_both! {
    fn refusals_send_nothing() {
        let (f, mut p, plan) = setup("");
        let g = f.sys("gitlab");
        // wrong digest
        let mut o = opts(&plan);
        o.approve = Approval::Digest("0".repeat(64));
        assert!(matches!(p.apply(&plan.id, &o), Err(Error::Refused(m)) if m.contains("digest")));
        // auto-approve meets the orphan's reviewed revocations
        let mut o = opts(&plan);
        o.approve = Approval::AutoApprove;
        assert!(matches!(p.apply(&plan.id, &o), Err(Error::Refused(m)) if m.contains("review")));
        // another date
        let mut o = opts(&plan);
        o.at = d("2025-06-02");
        assert!(matches!(p.apply(&plan.id, &o), Err(Error::Refused(m)) if m.contains("dated")));
        // a plan file with another digest
        let mut doc = serde_json::to_value(&plan).unwrap();
        doc["digest"] = serde_json::json!("f".repeat(64));
        let file = f.write("plan.json", &doc.to_string());
        assert!(
            matches!(p.apply(file.to_str().unwrap(), &opts(&plan)), Err(Error::Refused(m)) if m.contains("changed"))
        );
        assert!(
            g.applied().is_empty(),
            "nothing may be sent: {:?}",
            g.applied()
        );
        // refusals are audited
        let c = &p.state.conn;
        let n: i64 = c
            .query_row(
                "SELECT count(*) FROM audit WHERE kind = 'refusal'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 4);
        // a plan file with the right digest is applied
        let file = f.write("plan2.json", &serde_json::to_string(&plan).unwrap());
        let rep = p.apply(file.to_str().unwrap(), &opts(&plan)).unwrap();
        assert!(rep.all_done(), "{}", rep.human());
    }
}

on_both! {
    fn a_plan_is_stale_when_the_system_changed_out_of_band() {
        let (f, mut p, plan) = setup("");
        let g = f.sys("gitlab");
        g.hold("omar.haddad", "gitlab:group:finance", Some("developer"));
        p.pull(None).unwrap();
        g.clear_calls();
        let err = p.apply(&plan.id, &opts(&plan)).unwrap_err();
        assert!(err.to_string().contains("stale"), "{err}");
        assert!(g.applied().is_empty());
    }
}

on_both! {
    fn the_revocation_guard_trips_without_force() {
        let extra = "";
        let (f, mut p, plan) = {
            let f = Fixture::new(&format!("{AUTO}{extra}"));
            // a tighter guard
            let t = std::fs::read_to_string(f.path("polc.toml")).unwrap();
            let t = t
                .replace("max_revoke_count = 50", "max_revoke_count = 1")
                .replace("max_revoke_percent = 10", "max_revoke_percent = 1");
            std::fs::write(f.path("polc.toml"), t).unwrap();
            let g = f.sys("gitlab");
            for grant in [
                "gitlab:group:customer-solutions",
                "gitlab:group:engineering-docs",
            ] {
                g.hold("omar.haddad", grant, Some("reporter"));
            }
            let mut p = f.open();
            p.hris_import(&users_json(f.dir.path()), d("2025-06-01"), None)
                .unwrap();
            p.pull(None).unwrap();
            let plan = p.plan(d("2025-06-01")).unwrap();
            f.sys("gitlab").clear_calls();
            (f, p, plan)
        };
        let g = f.sys("gitlab");
        let err = p.apply(&plan.id, &opts(&plan)).unwrap_err();
        assert!(err.to_string().contains("guard"), "{err}");
        assert!(g.applied().is_empty());
        let mut o = opts(&plan);
        o.force = Some("omar left, confirmed with HR".into());
        let rep = p.apply(&plan.id, &o).unwrap();
        assert!(rep.all_done(), "{}", rep.human());
        let c = &p.state.conn;
        let reason: String = c
            .query_row("SELECT details FROM audit WHERE kind = 'force'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert!(reason.contains("confirmed with HR"));
    }
}

on_both! {
    fn four_eyes_and_protected_ids() {
        let f = Fixture::new(&format!("{AUTO}[server]\nfour_eyes = true\n"));
        let t = std::fs::read_to_string(f.path("polc.toml"))
            .unwrap()
            .replace("protected = []", "protected = [\"omar.haddad\"]");
        std::fs::write(f.path("polc.toml"), t).unwrap();
        let g = f.sys("gitlab");
        g.hold(
            "omar.haddad",
            "gitlab:group:customer-solutions",
            Some("reporter"),
        );
        let mut p = f.open();
        p.hris_import(&users_json(f.dir.path()), d("2025-06-01"), None)
            .unwrap();
        p.pull(None).unwrap();
        let plan = p.plan(d("2025-06-01")).unwrap();
        g.clear_calls();
        let err = p.apply(&plan.id, &opts(&plan)).unwrap_err();
        assert!(err.to_string().contains("four eyes"), "{err}");
        assert!(g.applied().is_empty());
        let mut o = opts(&plan);
        o.as_name = Some("second.person".into());
        let rep = p.apply(&plan.id, &o).unwrap();
        let omar = plan
            .actions
            .iter()
            .find(|a| a.user_id == "omar.haddad")
            .unwrap();
        assert!(omar.protected);
        let r = rep.results.iter().find(|r| r.id == omar.id).unwrap();
        assert_eq!(r.status, "skipped");
        assert!(!g.applied().iter().any(|(u, _)| u == "omar.haddad"));
        assert!(g.holdings().iter().any(|h| h.user_id == "omar.haddad"));
    }
}

#[test]
fn audit_verify_names_the_first_bad_entry() {
    let (f, mut p, plan) = setup("");
    p.apply(&plan.id, &opts(&plan)).unwrap();
    let v = p.audit_verify(None).unwrap();
    assert!(v.intact && v.entries > 10, "{}", v.human());
    let head = v.head.clone();
    let db = f.path(".polc/state.db");
    drop(p);
    let c = rusqlite::Connection::open(&db).unwrap();
    // the triggers refuse changes
    assert!(c
        .execute("UPDATE audit SET actor = 'x' WHERE seq = 1", [])
        .is_err());
    assert!(c.execute("DELETE FROM audit WHERE seq = 1", []).is_err());
    let copy = |name: &str| {
        let p = f.path(name);
        c.execute(&format!("VACUUM INTO '{}'", p.display()), [])
            .unwrap();
        let c2 = rusqlite::Connection::open(&p).unwrap();
        c2.execute_batch("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;")
            .unwrap();
        c2
    };
    let verify = |c: &rusqlite::Connection, head: Option<&str>| {
        let db =
            polc_provision::db::Db::open_sqlite(std::path::Path::new(c.path().unwrap())).unwrap();
        polc_provision::audit::verify(&db, std::path::Path::new("x"), head).unwrap()
    };
    // changed
    let c2 = copy("changed.db");
    c2.execute("UPDATE audit SET details = '{\"x\":1}' WHERE seq = 5", [])
        .unwrap();
    assert_eq!(verify(&c2, None).first_bad, Some(5));
    // removed
    let c2 = copy("removed.db");
    c2.execute("DELETE FROM audit WHERE seq = 4", []).unwrap();
    assert_eq!(verify(&c2, None).first_bad, Some(4));
    // reordered: two entries swap places (seq kept in order, contents swapped)
    let c2 = copy("swapped.db");
    c2.execute_batch(
        "UPDATE audit SET seq = -1 WHERE seq = 6; UPDATE audit SET seq = 6 WHERE seq = 7; UPDATE audit SET seq = 7 WHERE seq = -1;",
    )
    .unwrap();
    assert_eq!(verify(&c2, None).first_bad, Some(6));
    // a cut tail: intact alone, caught with the head
    let c2 = copy("cut.db");
    let last: i64 = c2
        .query_row("SELECT max(seq) FROM audit", [], |r| r.get(0))
        .unwrap();
    c2.execute("DELETE FROM audit WHERE seq = ?1", [last])
        .unwrap();
    assert!(verify(&c2, None).intact);
    let v = verify(&c2, Some(&head));
    assert!(!v.intact && v.problem.unwrap().contains("cut"));
    assert!(verify(&c, Some(&head)).intact);
}

fn config_err(toml: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("polc.toml");
    match Project::parse_with_env(toml, &file, &|k| k == "SET_TOKEN") {
        Ok(_) => panic!("accepted: {toml}"),
        Err(e) => e
            .to_string()
            .replace(&dir.path().display().to_string(), "DIR"),
    }
}

#[test]
fn project_file_errors_name_the_file_the_key_and_the_fix() {
    assert_eq!(
        config_err("[guard]\nmax_revoke_count = 3\nmax_revok = 1\n"),
        "DIR/polc.toml:3:1: unknown field `max_revok`, expected one of `max_revoke_percent`, `max_revoke_count`, `max_missing_percent`, `protected` (remove it or check its spelling: docs/provisioning.md lists every key)"
    );
    let e = config_err("[systems.slack]\nconnector = \"scim\"\ntoken_env = \"SET_TOKEN\"\n");
    assert!(
        e.contains("polc.toml:2:13") && e.contains("needs `base_url`"),
        "{e}"
    );
    let e = config_err("[systems.slack]\nconnector = \"scim\"\nbase_url = \"http://x\"\ntoken_env = \"UNSET_TOKEN\"\n");
    assert!(
        e.contains(":4:13") && e.contains("`UNSET_TOKEN` is not set"),
        "{e}"
    );
    let e = config_err("[systems.gitlab]\nconnector = \"file\"\n");
    assert!(e.contains("needs `path`"), "{e}");
    let e = config_err("[systems.gitlab]\nconnector = \"file\"\npath = \"x\"\ncommand = [\"a\"]\n");
    assert!(
        e.contains(":4:11") && e.contains("not a key of the file connector"),
        "{e}"
    );
    let e = config_err("[state]\nurl = \"mysql://x\"\n");
    assert!(
        e.contains(":2:7") && e.contains("must be a PostgreSQL URL"),
        "{e}"
    );
    let e = config_err("[state]\nurl = \"postgres://x:notaport/db\"\n");
    assert!(e.contains("not a valid PostgreSQL URL"), "{e}");
    let e = config_err("[state]\nlease_seconds = 1\n");
    assert!(e.contains("use 5 to 3600 seconds"), "{e}");
    let e =
        config_err("[systems.gitlab]\nconnector = \"file\"\npath = \"x\"\nmode = \"sometimes\"\n");
    assert!(
        e.contains(":4:8") && e.contains("\"review\", \"auto\", \"off\""),
        "{e}"
    );
    // defaults
    let p = Project::parse(
        "[systems.gitlab]\nconnector = \"file\"\npath = \"g.json\"\n",
        std::path::Path::new("/p/polc.toml"),
    )
    .unwrap();
    let s = &p.systems["gitlab"];
    assert_eq!(
        (s.mode, s.manage, s.leaver),
        (
            polc_provision::config::Mode::Review,
            polc_provision::config::Manage::Policy,
            polc_connectors::LeaverMode::Deactivate
        )
    );
    assert_eq!(p.guard.max_revoke_count, 50);
    assert_eq!(p.schedule.pull, "0 0 2 * * *");
    assert_eq!(p.state.path, std::path::Path::new("/p/.polc/state.db"));
}

on_both! {
    fn a_system_the_policies_never_name_is_an_error() {
        let f = Fixture::new("[systems.zoom]\nconnector = \"file\"\npath = \"z.json\"\n");
        let mut p = f.open();
        let e = p.pull(None).unwrap_err().to_string();
        assert!(
            e.contains("polc.toml:") && e.contains("[systems.zoom]") && e.contains("no policy"),
            "{e}"
        );
    }
}

on_both! {
    fn plan_refuses_an_empty_directory_and_an_unpulled_system() {
        let f = Fixture::new(AUTO);
        let mut p = f.open();
        assert!(p
            .plan(d("2025-06-01"))
            .unwrap_err()
            .to_string()
            .contains("directory is empty"));
        p.hris_import(&users_json(f.dir.path()), d("2025-06-01"), None)
            .unwrap();
        assert!(p
            .plan(d("2025-06-01"))
            .unwrap_err()
            .to_string()
            .contains("never pulled"));
    }
}

/// On PostgreSQL the audit log refuses change, deletion and truncation, as SQLite's
/// triggers do, and the chain still verifies afterwards.
#[test]
fn the_audit_log_is_append_only_on_postgres() {
    with_backend(Backend::Postgres, || {
        let (_f, mut p, plan) = setup("");
        p.apply(&plan.id, &opts(&plan)).unwrap();
        let c = &p.state.conn;
        for sql in [
            "UPDATE audit SET actor = 'x' WHERE seq = 1",
            "DELETE FROM audit WHERE seq = 1",
            "TRUNCATE audit",
        ] {
            let e = c.execute(sql, []).unwrap_err().to_string();
            assert!(e.contains("append-only"), "{sql}: {e}");
        }
        assert!(p.audit_verify(None).unwrap().intact);
    });
}

/// Two processes opening one new PostgreSQL state at once migrate it once.
#[test]
fn concurrent_opens_migrate_a_postgres_state_once() {
    with_backend(Backend::Postgres, || {
        let f = Fixture::new(AUTO);
        let opened: Vec<_> = (0..4)
            .map(|_| {
                let project = Project::load(&f.path("polc.toml")).unwrap();
                std::thread::spawn(move || {
                    polc_provision::state::State::open_config(&project.state).map(|_| ())
                })
            })
            .collect();
        for t in opened {
            t.join().unwrap().unwrap();
        }
        let p = f.open();
        let v: i64 = p
            .state
            .conn
            .query_row("SELECT count(*) FROM polc_schema", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, 1);
    });
}

/// A PostgreSQL state that cannot be reached is an error naming it, password hidden.
#[test]
fn an_unreachable_postgres_state_is_named_without_its_password() {
    let f = Fixture::new(AUTO);
    let file = f.path("polc.toml");
    let toml = std::fs::read_to_string(&file).unwrap().replacen(
        "[state]\n",
        "[state]\nurl = \"postgres://polc:s3cret-pw@127.0.0.1:1/polc?connect_timeout=2\"\n",
        1,
    );
    std::fs::write(&file, toml).unwrap();
    let project = Project::load(&file).unwrap();
    let e = match polc_provision::Provision::open(project, Box::new(f.conns.clone())) {
        Ok(_) => panic!("opened an unreachable database"),
        Err(e) => e.to_string(),
    };
    assert!(
        e.contains("postgres://polc:***@127.0.0.1:1/polc") && e.contains("cannot connect"),
        "{e}"
    );
    assert!(!e.contains("s3cret"), "{e}");
}

on_both! {
    fn an_apply_under_a_lost_lease_sends_nothing() {
        use polc_provision::lease::{self, Fence};
        let (f, mut p, plan) = setup("");
        let g = f.sys("gitlab");
        let name = format!("plan:{}", plan.id);
        let c = &p.state.conn;
        let t1 = lease::acquire(c, &name, "replica-a", 60_000).unwrap().unwrap();
        let a = Fence { name: name.clone(), holder: "replica-a".into(), token: t1 };
        // a is paused past its lease; b takes the plan over
        assert!(lease::renew(c, &a, -1).unwrap());
        let t2 = lease::acquire(c, &name, "replica-b", 60_000).unwrap().unwrap();
        assert!(t2 > t1);
        let mut o = opts(&plan);
        o.fence = Some(a);
        let e = p.apply(&plan.id, &o).unwrap_err();
        assert!(matches!(e, Error::LeaseLost(_)), "{e}");
        assert_eq!(e.exit_code(), 1);
        assert!(g.applied().is_empty(), "sent under a lost lease: {:?}", g.applied());
        // b, holding it, applies it all
        o.fence = Some(Fence { name, holder: "replica-b".into(), token: t2 });
        let rep = p.apply(&plan.id, &o).unwrap();
        assert!(rep.all_done(), "{}", rep.human());
    }

    fn a_directory_write_under_a_lost_lease_is_not_made() {
        use polc_provision::lease::{self, Fence};
        let (f, mut p, _) = setup("");
        let c = &p.state.conn;
        let t1 = lease::acquire(c, "work", "replica-a", 60_000).unwrap().unwrap();
        // a is paused past its lease; b takes the work over
        assert!(lease::renew(c, &Fence { name: "work".into(), holder: "replica-a".into(), token: t1 }, -1).unwrap());
        let t2 = lease::acquire(c, "work", "replica-b", 60_000).unwrap().unwrap();
        let count = |p: &polc_provision::Provision| -> i64 {
            p.state.conn.query_row("SELECT count(*) FROM imports", [], |r| r.get(0)).unwrap()
        };
        let before = count(&p);
        let hire = f.write(
            "hris/hire.json",
            r#"{"event": "employee.hired", "user_id": "late.hire", "email": "late.hire@company.com", "first_name": "Late", "last_name": "Hire", "job_title": "Software Engineer", "department": "Engineering", "team": "Platform", "employment_type": "FTE", "employment_status": "Active", "start_date": "2025-06-02", "manager": "john.doe@company.com", "location": "Berlin", "cost_center": "CC-9"}"#,
        );
        p.fence = Some(Fence { name: "work".into(), holder: "replica-a".into(), token: t1 });
        let e = p.hris_event(&hire, d("2025-06-02")).unwrap_err();
        assert!(matches!(e, Error::LeaseLost(_)), "{e}");
        assert_eq!(count(&p), before, "written under a lost lease");
        // b, holding it, writes
        p.fence = Some(Fence { name: "work".into(), holder: "replica-b".into(), token: t2 });
        p.hris_event(&hire, d("2025-06-02")).unwrap();
        assert_eq!(count(&p), before + 1);
    }

    fn concurrent_writers_keep_one_audit_chain() {
        let f = Fixture::new(AUTO);
        let project = Project::load(&f.path("polc.toml")).unwrap();
        let before = {
            let st = polc_provision::state::State::open_config(&project.state).unwrap();
            polc_provision::audit::verify(&st.conn, &st.path, None).unwrap().entries
        };
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let cfg = project.state.clone();
                std::thread::spawn(move || {
                    let st = polc_provision::state::State::open_config(&cfg).unwrap();
                    for i in 0..25 {
                        let tx = st.conn.transaction().unwrap();
                        {
                            let mut a =
                                polc_provision::audit::Writer::new(&tx, &st.path, "tester").unwrap();
                            a.append(None, "test", serde_json::json!({"writer": w, "i": i})).unwrap();
                        }
                        tx.commit().unwrap();
                    }
                })
            })
            .collect();
        for t in writers {
            t.join().unwrap();
        }
        let st = polc_provision::state::State::open_config(&project.state).unwrap();
        let v = polc_provision::audit::verify(&st.conn, &st.path, None).unwrap();
        assert!(v.intact, "{}", v.human());
        assert_eq!(v.entries, before + 100);
    }
}

on_both! {
    fn events_in_memory_are_recorded_with_what_runs_inside_their_transaction_or_not_at_all() {
        let f = Fixture::new(AUTO);
        let mut p = f.open();
        let at = d("2025-06-01");
        p.hris_import(&users_json(f.dir.path()), at, None).unwrap();
        let c = "CREATE TABLE marks (n BIGINT NOT NULL)";
        p.state.conn.execute_batch(c).unwrap();
        let hire = |u: &str| {
            serde_json::json!({"event": "employee.hired", "user_id": u, "email": format!("{u}@company.com"),
                "first_name": "N", "last_name": "P", "job_title": "Software Engineer", "department": "Engineering",
                "employment_type": "FTE", "employment_status": "Active", "start_date": "2025-06-01"})
            .to_string()
        };
        let count = |p: &polc_provision::Provision, sql: &str| -> i64 {
            p.state.conn.query_row(sql, [], |r| r.get(0)).unwrap()
        };
        // two events as JSON lines, one transaction with what `inside` writes
        let text = format!("{}\n{}\n", hire("a.one"), hire("b.two"));
        let rep = p
            .hris_events_text(&text, "serve_events 1..2", at, |tx| {
                tx.execute("INSERT INTO marks(n) VALUES (2)", [])
                    .map(|_| ())
                    .map_err(|e| Error::Bug(e.to_string()))
            })
            .unwrap();
        assert_eq!(rep.events.len(), 2);
        assert_eq!(count(&p, "SELECT count(*) FROM marks"), 1);
        assert_eq!(
            count(&p, "SELECT count(*) FROM imports WHERE file = 'serve_events 1..2' AND kind = 'event'"),
            1
        );
        // `inside` fails: neither the events nor its own write are kept
        let r = p.hris_events_text(&hire("c.three"), "serve_events 3..3", at, |tx| {
            tx.execute("INSERT INTO marks(n) VALUES (3)", []).unwrap();
            Err(Error::Bug("refused".into()))
        });
        assert!(r.is_err());
        assert_eq!(count(&p, "SELECT count(*) FROM marks"), 1);
        assert_eq!(
            count(&p, "SELECT count(*) FROM directory WHERE user_id = 'c.three'"),
            0
        );
        assert_eq!(
            count(&p, "SELECT count(*) FROM imports WHERE file = 'serve_events 3..3'"),
            0
        );
        assert!(p.audit_verify(None).unwrap().intact);
    }
}
