//! The human rendering of `polc inspect`: the metadata as aligned `key value` lines, then
//! each section with its count, in Pol-like text (`policy "NAME"`, `grant REF (level)`).

use std::fmt::Write;

use super::{GrantOut, Report};
use polc::syntax::ast::quote;
use polc::text::plural;

fn grant_line(g: &GrantOut) -> String {
    let mut s = format!("grant {}", g.grant);
    if let Some(l) = &g.level {
        let _ = write!(s, " ({l})");
    }
    if let Some(d) = &g.grace {
        let _ = write!(s, " grace {d}");
    }
    s
}

impl Report {
    pub fn human(&self) -> String {
        let mut o = String::new();
        let w = &mut o;
        let _ = writeln!(
            w,
            "{}: {} format {}, built by polc {}",
            self.file, self.magic, self.format_version, self.compiler_version
        );
        let _ = writeln!(w, "  digest        {}", self.digest);
        let sig = match (self.key_id.as_ref().filter(|_| self.signed), self.verified) {
            (Some(id), true) => format!("ed25519, key id {id}: verified"),
            (Some(id), false) => format!(
                "ed25519, key id {id}: not verified (pass --verify-key KEY.pub to check it)"
            ),
            (None, _) => "none (unsigned)".to_string(),
        };
        let _ = writeln!(w, "  signature     {sig}");
        let _ = writeln!(
            w,
            "  created from  {}",
            plural(self.created_from.len(), "file", "files")
        );
        for f in &self.created_from {
            let _ = writeln!(w, "    {f}");
        }
        let c = &self.counts;
        let _ = writeln!(
            w,
            "  contents      {}, {}, {} ({}), {}, {}, {}, {}",
            plural(c.policies, "policy", "policies"),
            plural(c.templates, "template", "templates"),
            plural(c.systems, "system", "systems"),
            plural(c.resource_types, "resource type", "resource types"),
            plural(c.requires, "require", "requires"),
            plural(c.exceptions, "exception", "exceptions"),
            plural(c.conflicts, "conflict", "conflicts"),
            plural(c.tests, "test", "tests"),
        );
        match &self.schema {
            Some(s) => {
                let _ = writeln!(
                    w,
                    "\nschema ({}, key {})",
                    plural(s.fields.len(), "field", "fields"),
                    s.key
                );
                for f in &s.fields {
                    let _ = writeln!(
                        w,
                        "  {}: {}{}",
                        f.name,
                        f.ty,
                        if f.optional { "?" } else { "" }
                    );
                }
            }
            None => {
                let _ = writeln!(w, "\nno schema (attributes are untyped)");
            }
        }
        let _ = writeln!(w, "\nsystems ({})", self.systems.len());
        for s in &self.systems {
            let _ = write!(w, "  system {}", s.name);
            if let Some(d) = &s.display {
                let _ = write!(w, " {}", quote(d));
            }
            if let Some(g) = &s.grace {
                let _ = write!(w, "  grace {g}");
            }
            let _ = writeln!(w);
            for t in &s.types {
                let _ = write!(w, "    resource {}", t.name);
                if !t.levels.is_empty() {
                    let _ = write!(w, "  levels {}", t.levels.join(" < "));
                }
                if let Some(d) = &t.default {
                    let _ = write!(w, "  default {d}");
                }
                if let Some(g) = &t.grace {
                    let _ = write!(w, "  grace {g}");
                }
                let _ = writeln!(w);
            }
        }
        if !self.requires.is_empty() {
            let _ = writeln!(w, "\nrequires ({})", self.requires.len());
            for r in &self.requires {
                let _ = writeln!(w, "  require {r}");
            }
        }
        let _ = writeln!(
            w,
            "\npolicies ({}, {})",
            plural(self.counts.policies, "policy", "policies"),
            plural(self.counts.templates, "template", "templates")
        );
        for p in &self.policies {
            let kw = if p.template { "template" } else { "policy" };
            let _ = writeln!(w, "  {kw} {}", quote(&p.name));
            for (k, v) in [("version", &p.version), ("owner", &p.owner)] {
                if let Some(v) = v {
                    let _ = writeln!(w, "    {k} {}", quote(v));
                }
            }
            for (k, v) in [("effective", &p.effective), ("expires", &p.expires)] {
                if let Some(v) = v {
                    let _ = writeln!(w, "    {k} {v}");
                }
            }
            if let Some(d) = &p.description {
                let _ = writeln!(w, "    description {}", quote(d));
            }
            for t in &p.triggers {
                let _ = writeln!(w, "    when {t}");
            }
            if !p.inherits.is_empty() {
                let names: Vec<String> = p.inherits.iter().map(|n| quote(n)).collect();
                let _ = writeln!(w, "    inherits {}", names.join(", "));
            }
            for g in &p.grants {
                let _ = writeln!(w, "    {}", grant_line(g));
            }
            for d in &p.denies {
                let _ = writeln!(w, "    deny {d}");
            }
        }
        let _ = writeln!(w, "\nexceptions ({})", self.exceptions.len());
        for e in &self.exceptions {
            match &e.name {
                Some(n) => {
                    let _ = writeln!(w, "  exception {} for {}", quote(n), quote(&e.user));
                }
                None => {
                    let _ = writeln!(w, "  exception for {}", quote(&e.user));
                }
            }
            for g in &e.grants {
                let _ = writeln!(w, "    {}", grant_line(g));
            }
            let _ = writeln!(w, "    justification {}", quote(&e.justification));
            let _ = writeln!(w, "    approved_by {}", quote(&e.approved_by));
            if let Some(d) = &e.effective {
                let _ = writeln!(w, "    effective {d}");
            }
            let _ = writeln!(w, "    expires {}", e.expires);
            for m in &e.meta {
                let _ = writeln!(w, "    {} {}", m.key, quote(&m.value));
            }
        }
        let _ = writeln!(w, "\nconflicts ({})", self.conflicts.len());
        for c in &self.conflicts {
            let _ = writeln!(
                w,
                "  conflict {} {{ {} }}",
                quote(&c.name),
                c.patterns.join(", ")
            );
            if let Some(r) = &c.reason {
                let _ = writeln!(w, "    reason {}", quote(r));
            }
        }
        let _ = writeln!(w, "\ntests ({})", self.tests.len());
        for t in &self.tests {
            let _ = writeln!(w, "  test {}", quote(&t.name));
            if let Some(at) = &t.at {
                let _ = writeln!(w, "    at {at}");
            }
            if let Some(ps) = &t.expect_policies {
                let names: Vec<String> = ps.iter().map(|n| quote(n)).collect();
                let _ = writeln!(w, "    expect policies [{}]", names.join(", "));
            }
            for g in &t.expect_grants {
                let _ = writeln!(w, "    expect {g}");
            }
        }
        o
    }
}
