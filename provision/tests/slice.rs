//! The vertical slice on the seed: import → pull → plan → apply → audit verify.

mod common;
use common::*;
use polc_provision::{ApplyOptions, Approval, DefaultConnectors, Project, Provision};

on_both! {
    fn seed_end_to_end_with_the_file_connector() {
        let dir = tempfile::tempdir().unwrap();
        init_project(dir.path());
        let project = Project::load(&dir.path().join("polc.toml")).unwrap();
        let mut p = Provision::open(project, Box::new(DefaultConnectors)).unwrap();
        let at = d("2025-06-01");
        let imp = p
            .hris_import(&dir.path().join("hris/users.json"), at, None)
            .unwrap();
        assert!(imp.baseline && imp.events.is_empty(), "{imp:?}");
        assert_eq!(imp.records, 5);
        let pull = p.pull(None).unwrap();
        assert_eq!(pull.systems[0].entries, 0);
        let plan = p.plan(at).unwrap();
        assert!(plan.summary.grants > 0, "{}", plan.human());
        assert!(plan
            .actions
            .iter()
            .all(|a| a.system == "gitlab" && a.review));
        // auto-approve is refused in a review system
        let err = p
            .apply(&plan.id, &ApplyOptions::new(Approval::AutoApprove, at))
            .unwrap_err();
        assert!(err.to_string().contains("need review"), "{err}");
        let rep = p
            .apply(
                &plan.id,
                &ApplyOptions::new(Approval::Digest(plan.digest.clone()), at),
            )
            .unwrap();
        assert!(rep.all_done(), "{}", rep.human());
        assert_eq!(rep.summary.done, plan.actions.len());
        let file = std::fs::read_to_string(dir.path().join("systems/gitlab.json")).unwrap();
        assert!(file.contains("gitlab:group:customer-solutions"), "{file}");
        // the system now matches: nothing out of band, nothing to do
        let pull = p.pull(None).unwrap();
        assert!(
            pull.systems[0].appeared.is_empty() && pull.systems[0].disappeared.is_empty(),
            "{}",
            pull.human()
        );
        let again = p.plan(at).unwrap();
        assert_eq!(again.summary.actions, 0, "{}", again.human());
        let v = p.audit_verify(None).unwrap();
        assert!(v.intact, "{}", v.human());
        assert!(v.human().starts_with("audit log intact: "));
        let st = p.status(at).unwrap();
        assert_eq!(st.directory, 5);
        assert!(st.failed_actions.is_empty());
        // the same snapshot again records nothing
        let n = v.entries;
        let imp = p
            .hris_import(&dir.path().join("hris/users.json"), at, None)
            .unwrap();
        assert!(imp.unchanged);
        assert_eq!(p.audit_verify(None).unwrap().entries, n);
    }
}
