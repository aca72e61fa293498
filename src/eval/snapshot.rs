//! Snapshot-tested evaluation (`polc test --snapshot USERS`): one readable file with
//! everyone's access in a stable order, compared on later runs with a per-user diff, so a
//! policy change that moves anyone's access shows up in review.

use similar::{ChangeTag, TextDiff};

use super::Plan;
use crate::input::Users;

/// The snapshot text: a header with the date, then one block per user (input order).
pub fn render(plan: &Plan, users: &Users, source: &str) -> String {
    let b = &*plan.bundle;
    let mut out = format!(
        "# polc access snapshot of {source} as of {}\n# {} users; review changes, then accept them with `polc test --snapshot {source} --update`\n",
        plan.at,
        users.records.len()
    );
    for rec in &users.records {
        let e = plan.evaluate(&rec.id, &rec.values);
        out.push('\n');
        out.push_str(&rec.id);
        out.push('\n');
        let names: Vec<&str> = e
            .policies
            .iter()
            .map(|&p| b.policy(p).name.as_str())
            .collect();
        out.push_str(&format!(
            "  policies: {}\n",
            if names.is_empty() {
                "(none)".to_string()
            } else {
                names.join(", ")
            }
        ));
        for g in &e.grants {
            let lvl = plan
                .level_name(g.ent, g.level)
                .map(|l| format!(" ({l})"))
                .unwrap_or_default();
            out.push_str(&format!("  {}{lvl}\n", plan.ent_text(g.ent)));
        }
        for d in &e.denied {
            out.push_str(&format!(
                "  denied {} by {}\n",
                plan.ent_text(d.ent),
                plan.path_text(d.by)
            ));
        }
        for v in &e.violations {
            let name = b.conflicts.get(v.conflict).map_or("", |c| c.name.as_str());
            out.push_str(&format!("  violates {name}\n"));
        }
    }
    if !users.errors.is_empty() {
        out.push_str("\n# records that could not be read\n");
        for e in &users.errors {
            out.push_str(&format!("# line {}: {}\n", e.line, e.message));
        }
    }
    out
}

/// The date a snapshot was taken on (from its header).
pub fn date_of(snapshot: &str) -> Option<chrono::NaiveDate> {
    let first = snapshot.lines().next()?;
    let d = first.rsplit_once(" as of ")?.1.trim();
    crate::dates::parse(d)
}

/// Splits a snapshot into `(user, block)` in order; the header is the user `""`.
fn blocks(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = vec![(String::new(), String::new())];
    for line in text.lines() {
        if !line.is_empty() && !line.starts_with(' ') && !line.starts_with('#') {
            out.push((line.to_string(), String::new()));
        } else if let Some(last) = out.last_mut() {
            if !line.is_empty() {
                last.1.push_str(line);
                last.1.push('\n');
            }
        }
    }
    out
}

/// A per-user diff of two snapshots; empty when nothing changed.
pub fn diff(old: &str, new: &str) -> String {
    let (a, b) = (blocks(old), blocks(new));
    let mut out = String::new();
    let find =
        |v: &[(String, String)], id: &str| v.iter().find(|(u, _)| u == id).map(|(_, t)| t.clone());
    for (user, new_block) in b.iter().filter(|(u, _)| !u.is_empty()) {
        match find(&a, user) {
            None => {
                out.push_str(&format!("{user}: new in the snapshot\n"));
                for l in new_block.lines() {
                    out.push_str(&format!("+ {l}\n"));
                }
            }
            Some(old_block) if old_block != *new_block => {
                out.push_str(&format!("{user}:\n"));
                for change in TextDiff::from_lines(&old_block, new_block).iter_all_changes() {
                    let sign = match change.tag() {
                        ChangeTag::Delete => "-",
                        ChangeTag::Insert => "+",
                        ChangeTag::Equal => continue,
                    };
                    out.push_str(&format!("{sign} {}", change.value()));
                    if !change.value().ends_with('\n') {
                        out.push('\n');
                    }
                }
            }
            Some(_) => {}
        }
    }
    for (user, old_block) in a.iter().filter(|(u, _)| !u.is_empty()) {
        if find(&b, user).is_none() {
            out.push_str(&format!("{user}: no longer in the users file\n"));
            for l in old_block.lines() {
                out.push_str(&format!("- {l}\n"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diffs_are_per_user() {
        let old = "# polc access snapshot of u.json as of 2025-06-01\n\nann\n  policies: A\n  zoom:account\n\nbob\n  policies: B\n";
        let new = "# polc access snapshot of u.json as of 2025-06-01\n\nann\n  policies: A\n  okta:app:x\n  zoom:account\n\ncid\n  policies: (none)\n";
        let d = diff(old, new);
        assert_eq!(d, "ann:\n+   okta:app:x\ncid: new in the snapshot\n+   policies: (none)\nbob: no longer in the users file\n-   policies: B\n");
        assert_eq!(diff(old, old), "");
        assert_eq!(date_of(old), chrono::NaiveDate::from_ymd_opt(2025, 6, 1));
    }
}
