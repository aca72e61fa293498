//! The one-sentence headline of an impact report.

use super::*;

/// `gives 3 people new access (5 grants), removes access from 1 person (2 grants), …`.
pub fn headline(s: &Summary, bundle_changes: usize) -> String {
    let mut parts = Vec::new();
    if s.gains > 0 {
        parts.push(format!(
            "gives {} new access ({})",
            plural(s.people_gaining, "person", "people"),
            plural(s.gains, "grant", "grants")
        ));
    }
    if s.losses > 0 {
        parts.push(format!(
            "removes access from {} ({})",
            plural(s.people_losing, "person", "people"),
            plural(s.losses, "grant", "grants")
        ));
    }
    if s.level_changes > 0 {
        parts.push(format!(
            "changes {} for {} ({} up, {} down)",
            plural(s.level_changes, "level", "levels"),
            plural(s.people_level_changed, "person", "people"),
            s.levels_up,
            s.levels_down
        ));
    }
    if s.new_violations > 0 {
        parts.push(format!(
            "creates {} for {}",
            plural(
                s.new_violations,
                "separation-of-duties violation",
                "separation-of-duties violations"
            ),
            plural(s.people_with_new_violations, "person", "people")
        ));
    }
    let changed = s.policies_added + s.policies_removed + s.policies_changed + bundle_changes;
    if parts.is_empty() {
        let everyone = match s.users {
            1 => "the 1 person evaluated gets".to_string(),
            n => format!("all {n} people evaluated get"),
        };
        let mut out = format!("No change in access: {everyone} the same access under both bundles");
        if changed > 0 {
            let mut what = Vec::new();
            for (n, one, many) in [
                (s.policies_added, "policy added", "policies added"),
                (s.policies_removed, "policy removed", "policies removed"),
                (s.policies_changed, "policy changed", "policies changed"),
                (bundle_changes, "other change", "other changes"),
            ] {
                if n > 0 {
                    what.push(plural(n, one, many));
                }
            }
            out.push_str(&format!(" ({})", what.join(", ")));
        }
        if s.resolved_violations > 0 {
            out.push_str(&format!(
                "; resolves {}",
                plural(
                    s.resolved_violations,
                    "separation-of-duties violation",
                    "separation-of-duties violations"
                )
            ));
        }
        return out;
    }
    let mut out = format!("This change {}", parts.join(", "));
    if s.people_losing_everything > 0 {
        out.push_str(&format!(
            "; {} {} all access",
            plural(s.people_losing_everything, "person", "people"),
            if s.people_losing_everything == 1 {
                "loses"
            } else {
                "lose"
            }
        ));
    }
    out
}
