//! `polc impact` output: for a terminal ([`human`]), for a pull-request comment
//! ([`markdown`]) and as stable JSON ([`json`]).

use std::fmt::Write;

use crate::text::{code, code_cell, html, markdown as md, plural, terminal as t};

use super::{Change, Direction, GrantImpact, Held, Impact, LevelChange, Status, UserImpact};

/// At most this many users get a `<details>` section in Markdown (a PR comment has a size
/// limit); the rest are counted and left to the JSON output.
pub const MARKDOWN_USERS: usize = 100;
/// At most this many rows in Markdown's grant table.
pub const MARKDOWN_GRANTS: usize = 100;

/// The JSON output: the [`Impact`] itself, pretty-printed.
pub fn json(x: &Impact) -> String {
    serde_json::to_string_pretty(x).expect("an impact serializes") + "\n"
}

fn with_level(grant: &str, level: Option<&str>) -> String {
    match level {
        Some(l) => format!("{grant} ({l})"),
        None => grant.to_string(),
    }
}

fn lvl(l: &Option<String>) -> &str {
    l.as_deref().unwrap_or("-")
}

fn gain_tag(c: &Change) -> Option<String> {
    Some(match c.current.as_ref()? {
        Held { held: false, .. } => "to provision".into(),
        Held { level, .. } if *level == c.level => "already held".into(),
        Held { level, .. } => format!("held at {}: to adjust", lvl(level)),
    })
}

fn loss_tag(c: &Change) -> Option<String> {
    Some(match c.current.as_ref()? {
        Held { held: true, .. } => "held: to revoke".into(),
        Held { .. } => "not held".into(),
    })
}

fn level_tag(c: &LevelChange) -> Option<String> {
    Some(match c.current.as_ref()? {
        Held { held: false, .. } => "not held".into(),
        Held { level, .. } if *level == c.to => "already at the new level".into(),
        Held { level, .. } => format!("held at {}: to adjust", lvl(level)),
    })
}

fn percent(p: Option<f64>) -> String {
    p.map_or_else(|| "n/a".to_string(), |p| format!("{p:.1}%"))
}

/// Why a user is in the warnings: loses everything, or a new SoD violation.
fn warnings(x: &Impact) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for u in &x.users {
        if u.loses_everything {
            let why = match (&u.fails_require_after, &u.fails_require_before) {
                (Some(r), None) => format!("loses all access: fails `require {r}`"),
                _ => format!(
                    "loses all access ({})",
                    plural(u.losses.len(), "grant", "grants")
                ),
            };
            out.push((t(&u.user_id).into_owned(), why));
        }
        for v in &u.new_violations {
            out.push((
                t(&u.user_id).into_owned(),
                format!(
                    "new separation-of-duties violation \"{}\": {}",
                    t(&v.conflict),
                    t(&v.grants.join(", "))
                ),
            ));
        }
    }
    out
}

fn status_mark(s: Status) -> char {
    match s {
        Status::Added => '+',
        Status::Removed => '-',
        Status::Changed => '~',
        Status::Unchanged => '=',
    }
}

/// `+a +b -c ~d`: who gains, loses, changes level of one grant; each id escaped by `esc`.
fn grant_people(g: &GrantImpact, esc: impl Fn(&str) -> String) -> String {
    let mut ids: Vec<String> = Vec::new();
    ids.extend(g.gained_by.iter().map(|u| format!("+{}", esc(u))));
    ids.extend(g.lost_by.iter().map(|u| format!("-{}", esc(u))));
    ids.extend(
        g.level_changed
            .iter()
            .map(|m| format!("~{}", esc(&m.user_id))),
    );
    ids.join(" ")
}

/// [`crate::text::terminal`], owned.
fn term(s: &str) -> String {
    t(s).into_owned()
}

fn count(n: usize) -> String {
    if n == 0 {
        "-".into()
    } else {
        n.to_string()
    }
}

fn access_lines(x: &Impact) -> Vec<String> {
    let Some(a) = &x.access else {
        return Vec::new();
    };
    vec![
        format!(
            "gains: {} already held, {} held at another level, {} to provision",
            a.gains_held, a.gains_held_other_level, a.gains_to_provision
        ),
        format!(
            "losses: {} held (to revoke), {} not held",
            a.losses_to_revoke, a.losses_not_held
        ),
        format!(
            "level changes: {} already at the new level, {} to adjust, {} not held",
            a.level_changes_at_target, a.level_changes_to_apply, a.level_changes_not_held
        ),
        format!(
            "drift coverage: {} → {}",
            percent(a.coverage_before),
            percent(a.coverage_after)
        ),
    ]
}

fn user_counts(u: &UserImpact, minus: char) -> String {
    let mut parts = Vec::new();
    if !u.gains.is_empty() {
        parts.push(format!("+{}", u.gains.len()));
    }
    if !u.losses.is_empty() {
        parts.push(format!("{minus}{}", u.losses.len()));
    }
    if !u.level_changes.is_empty() {
        parts.push(format!("~{}", u.level_changes.len()));
    }
    if parts.is_empty() {
        parts.push("policies only".into());
    }
    parts.join(" ")
}

/// The report for a terminal: headline, bundle and policy changes, grants, current access,
/// warnings, then each changed user.
pub fn human(x: &Impact) -> String {
    let mut out = String::new();
    let title = format!("Policy impact as of {}", x.as_of);
    let _ = writeln!(out, "{title}\n{}", "=".repeat(title.chars().count()));
    let _ = writeln!(out, "old: {}\nnew: {}\n", t(&x.old), t(&x.new));
    let _ = writeln!(out, "{}.", x.headline);
    let s = &x.summary;
    let _ = writeln!(
        out,
        "People: {} evaluated, {} changed    Gains: {}    Losses: {}    Level changes: {}    New SoD violations: {}",
        s.users, s.users_changed, s.gains, s.losses, s.level_changes, s.new_violations
    );
    for n in &x.notes {
        let _ = writeln!(out, "note: {}", t(n));
    }

    if !x.bundle_changes.is_empty() {
        let _ = writeln!(out, "\nBundle");
        for c in &x.bundle_changes {
            let _ = writeln!(out, "  {}", t(c));
        }
    }

    if !x.policies.is_empty() {
        let w = x
            .policies
            .iter()
            .map(|p| t(&p.name).chars().count())
            .max()
            .unwrap_or(0)
            .max(6);
        let _ = writeln!(out, "\nPolicies (people before → after)");
        for p in &x.policies {
            let _ = writeln!(
                out,
                "  {} {:<w$}  {:>4} → {:<4}  {}",
                status_mark(p.status),
                t(&p.name),
                p.users_before,
                p.users_after,
                t(&p.summary)
            );
            for d in &p.details {
                let _ = writeln!(out, "      {}", t(d));
            }
        }
    }

    if !x.grants.is_empty() {
        let w = x
            .grants
            .iter()
            .map(|g| g.grant.chars().count())
            .max()
            .unwrap_or(0)
            .max(5);
        let _ = writeln!(
            out,
            "\nGrants\n  {:<w$}  {:>4} {:>4} {:>5}  people",
            "grant", "gain", "lose", "level"
        );
        for g in &x.grants {
            let _ = writeln!(
                out,
                "  {:<w$}  {:>4} {:>4} {:>5}  {}",
                g.grant,
                count(g.gains),
                count(g.losses),
                count(g.level_changes),
                grant_people(g, term)
            );
        }
    }

    let lines = access_lines(x);
    if !lines.is_empty() {
        let _ = writeln!(out, "\nCurrent access");
        for l in lines {
            let _ = writeln!(out, "  {l}");
        }
    }

    let warn = warnings(x);
    if !warn.is_empty() {
        let _ = writeln!(out, "\nWarnings");
        for (u, w) in warn {
            let _ = writeln!(out, "  ! {u}: {w}");
        }
    }

    if !x.users.is_empty() {
        let _ = writeln!(out, "\nPeople");
    }
    for u in &x.users {
        let _ = writeln!(out, "  {}  ({})", t(&u.user_id), user_counts(u, '-'));
        let (added, removed) = (u.policies_added(), u.policies_removed());
        if !added.is_empty() || !removed.is_empty() {
            let mut p: Vec<String> = added.iter().map(|p| format!("+\"{}\"", t(p))).collect();
            p.extend(removed.iter().map(|p| format!("-\"{}\"", t(p))));
            let _ = writeln!(out, "    policies {}", p.join(" "));
        }
        let tag = |t: Option<String>| t.map(|t| format!("  [{t}]")).unwrap_or_default();
        for g in &u.gains {
            let _ = writeln!(
                out,
                "    + {}  via {}{}",
                with_level(&g.grant, g.level.as_deref()),
                t(&g.sources.join("; ")),
                tag(gain_tag(g))
            );
        }
        for g in &u.losses {
            let _ = writeln!(
                out,
                "    - {}  was via {}{}",
                with_level(&g.grant, g.level.as_deref()),
                t(&g.sources.join("; ")),
                tag(loss_tag(g))
            );
        }
        for l in &u.level_changes {
            let _ = writeln!(
                out,
                "    ~ {} {} → {} ({})  via {}{}",
                l.grant,
                lvl(&l.from),
                lvl(&l.to),
                l.direction.as_str(),
                t(&l.sources.join("; ")),
                tag(level_tag(l))
            );
        }
        for v in &u.new_violations {
            let _ = writeln!(
                out,
                "    ! new violation \"{}\": {}",
                t(&v.conflict),
                t(&v.grants.join(", "))
            );
        }
        for v in &u.resolved_violations {
            let _ = writeln!(out, "    resolved violation \"{}\"", t(&v.conflict));
        }
    }

    if !x.errors.is_empty() {
        let _ = writeln!(out, "\nNot evaluated");
        for e in &x.errors {
            let _ = writeln!(
                out,
                "  line {} ({}): {} [under {}]",
                e.line,
                t(e.user_id.as_deref().unwrap_or("no id")),
                t(&e.message),
                match e.side {
                    "both" => "both bundles",
                    "old" => "OLD",
                    _ => "NEW",
                }
            );
        }
    }
    out
}

/// [`warnings`] in Markdown: names in bold, grants and expressions as code.
fn md_warnings(x: &Impact) -> Vec<String> {
    let mut out = Vec::new();
    for u in &x.users {
        let who = format!("**{}**", md(&u.user_id));
        if u.loses_everything {
            out.push(match (&u.fails_require_after, &u.fails_require_before) {
                (Some(r), None) => format!(
                    "{who} loses all access: fails {}",
                    code(&format!("require {r}"))
                ),
                _ => format!(
                    "{who} loses all access ({})",
                    plural(u.losses.len(), "grant", "grants")
                ),
            });
        }
        for v in &u.new_violations {
            out.push(format!(
                "{who} gets a new separation-of-duties violation, **{}**: {}",
                md(&v.conflict),
                v.grants
                    .iter()
                    .map(|g| code(g))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    out
}

/// A fenced code block of `lines` (each on one line), its fence longer than any run of
/// backticks they hold.
fn fenced(info: &str, lines: &[String]) -> String {
    let longest = lines
        .iter()
        .flat_map(|l| l.split(|c| c != '`'))
        .map(str::len)
        .max()
        .unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    let mut out = format!("{fence}{info}\n");
    for l in lines {
        out.push_str(l);
        out.push('\n');
    }
    out.push_str(&fence);
    out.push('\n');
    out
}

/// The report as a pull-request comment: headline, summary table, warnings, policies,
/// grants, current access, then a collapsible section per person.
pub fn markdown(x: &Impact) -> String {
    let mut out = String::new();
    let s = &x.summary;
    let _ = writeln!(out, "## Policy impact\n");
    let _ = writeln!(out, "**{}.**\n", x.headline);
    let _ = writeln!(
        out,
        "{} → {} · as of {} · {} people evaluated, {} changed\n",
        code(&x.old),
        code(&x.new),
        x.as_of,
        s.users,
        s.users_changed
    );
    let _ = writeln!(out, "| | people | grants |\n|---|---:|---:|");
    let _ = writeln!(out, "| gain access | {} | {} |", s.people_gaining, s.gains);
    let _ = writeln!(out, "| lose access | {} | {} |", s.people_losing, s.losses);
    let _ = writeln!(
        out,
        "| level changes ({} up, {} down) | {} | {} |",
        s.levels_up, s.levels_down, s.people_level_changed, s.level_changes
    );
    let _ = writeln!(
        out,
        "| lose all access | {} | |",
        s.people_losing_everything
    );
    let _ = writeln!(
        out,
        "| new separation-of-duties violations | {} | {} |",
        s.people_with_new_violations, s.new_violations
    );
    for n in &x.notes {
        let _ = writeln!(out, "\n> **Note:** {}", md(n));
    }

    let warn = md_warnings(x);
    if !warn.is_empty() {
        let _ = writeln!(out, "\n### ⚠️ Warnings\n");
        for w in warn {
            let _ = writeln!(out, "- {w}");
        }
    }

    if !x.bundle_changes.is_empty() {
        let _ = writeln!(out, "\n### Bundle\n");
        for c in &x.bundle_changes {
            let _ = writeln!(out, "- {}", code(c));
        }
    }

    if !x.policies.is_empty() {
        let _ = writeln!(
            out,
            "\n### Policies\n\n| | policy | change | people before → after |\n|---|---|---|---:|"
        );
        for p in &x.policies {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} → {} |",
                p.status.as_str(),
                md(&p.name),
                md(&p.summary),
                p.users_before,
                p.users_after
            );
        }
        let detailed: Vec<_> = x
            .policies
            .iter()
            .filter(|p| !p.details.is_empty())
            .collect();
        if !detailed.is_empty() {
            let _ = writeln!(
                out,
                "\n<details><summary>What changed in the policies</summary>\n"
            );
            for p in detailed {
                let _ = writeln!(out, "**{}** ({})\n", md(&p.name), p.status.as_str());
                let lines: Vec<String> = p
                    .details
                    .iter()
                    .map(|d| {
                        let d = t(d);
                        if d.starts_with('+') || d.starts_with('-') {
                            d.into_owned()
                        } else {
                            format!("! {d}")
                        }
                    })
                    .collect();
                let _ = writeln!(out, "{}", fenced("diff", &lines));
            }
            let _ = writeln!(out, "</details>");
        }
    }

    if !x.grants.is_empty() {
        let _ = writeln!(
            out,
            "\n### Grants\n\n| grant | gain | lose | level | people |\n|---|---:|---:|---:|---|"
        );
        for g in x.grants.iter().take(MARKDOWN_GRANTS) {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                code_cell(&g.grant),
                g.gains,
                g.losses,
                g.level_changes,
                grant_people(g, md)
            );
        }
        if x.grants.len() > MARKDOWN_GRANTS {
            let _ = writeln!(
                out,
                "\n…and {} more grants (see `polc impact --format json`).",
                x.grants.len() - MARKDOWN_GRANTS
            );
        }
    }

    let lines = access_lines(x);
    if !lines.is_empty() {
        let _ = writeln!(out, "\n### Current access\n");
        for l in lines {
            let _ = writeln!(out, "- {l}");
        }
    }

    if !x.users.is_empty() {
        let _ = writeln!(out, "\n### People\n");
    }
    let with_access = x.access.is_some();
    for u in x.users.iter().take(MARKDOWN_USERS) {
        let _ = writeln!(
            out,
            "<details><summary><b>{}</b>: {}</summary>\n",
            html(&u.user_id),
            user_counts(u, '−')
        );
        let (added, removed) = (u.policies_added(), u.policies_removed());
        if !added.is_empty() || !removed.is_empty() {
            let mut p: Vec<String> = added.iter().map(|p| format!("+{}", md(p))).collect();
            p.extend(removed.iter().map(|p| format!("−{}", md(p))));
            let _ = writeln!(out, "Policies: {}\n", p.join(", "));
        }
        if !(u.gains.is_empty() && u.losses.is_empty() && u.level_changes.is_empty()) {
            if with_access {
                let _ = writeln!(
                    out,
                    "| | grant | level | via | current access |\n|---|---|---|---|---|"
                );
            } else {
                let _ = writeln!(out, "| | grant | level | via |\n|---|---|---|---|");
            }
            let row = |out: &mut String,
                       mark: &str,
                       g: &str,
                       l: String,
                       via: &[String],
                       t: Option<String>| {
                let via = via.iter().map(|v| md(v)).collect::<Vec<_>>().join("<br>");
                let _ = match t {
                    Some(t) if with_access => writeln!(
                        out,
                        "| {mark} | {} | {} | {via} | {} |",
                        code_cell(g),
                        md(&l),
                        md(&t)
                    ),
                    _ => writeln!(out, "| {mark} | {} | {} | {via} |", code_cell(g), md(&l)),
                };
            };
            for g in &u.gains {
                row(
                    &mut out,
                    "+",
                    &g.grant,
                    lvl(&g.level).to_string(),
                    &g.sources,
                    gain_tag(g),
                );
            }
            for g in &u.losses {
                row(
                    &mut out,
                    "−",
                    &g.grant,
                    lvl(&g.level).to_string(),
                    &g.sources,
                    loss_tag(g),
                );
            }
            for l in &u.level_changes {
                row(
                    &mut out,
                    match l.direction {
                        Direction::Up => "↑",
                        Direction::Down => "↓",
                        Direction::Changed => "~",
                    },
                    &l.grant,
                    format!("{} → {}", lvl(&l.from), lvl(&l.to)),
                    &l.sources,
                    level_tag(l),
                );
            }
            let _ = writeln!(out);
        }
        for v in &u.new_violations {
            let _ = writeln!(
                out,
                "⚠️ new separation-of-duties violation **{}**: {}\n",
                md(&v.conflict),
                v.grants
                    .iter()
                    .map(|g| code(g))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if let (Some(r), None) = (&u.fails_require_after, &u.fails_require_before) {
            let _ = writeln!(
                out,
                "Fails {} under the new policies.\n",
                code(&format!("require {r}"))
            );
        }
        let _ = writeln!(out, "</details>\n");
    }
    if x.users.len() > MARKDOWN_USERS {
        let _ = writeln!(
            out,
            "\n…and {} more people (see `polc impact --format json`).",
            x.users.len() - MARKDOWN_USERS
        );
    }
    if !x.errors.is_empty() {
        let _ = writeln!(
            out,
            "\n{} not evaluated (bad records): {}",
            plural(x.errors.len(), "record", "records"),
            x.errors
                .iter()
                .map(|e| match &e.user_id {
                    Some(id) => format!("{} (line {})", md(id), e.line),
                    None => format!("line {}", e.line),
                })
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    out
}
