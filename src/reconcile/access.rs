//! Current access, as exported from the systems (CLI.md "Access"): JSON (`{"user": ["grant
//! (level)", …]}` or `[{"user_id", "grant", "level"}]`), JSONL of the latter, or CSV with
//! columns `user_id,grant,level`. Each entry is resolved against the bundle's systems; one
//! naming an undeclared system, type or level is an input error naming the entry.

use std::path::Path;

use serde_json::Value as Json;

use rustc_hash::FxHashMap;

use crate::eval::{EntId, Plan};

/// One user holding one entitlement (listed twice, it counts once at the highest level).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessEntry {
    pub user_id: String,
    pub ent: EntId,
    pub level: Option<u8>,
}

/// Entries in first-seen order, one per (user, entitlement).
#[derive(Debug, Default)]
pub struct Access {
    pub entries: Vec<AccessEntry>,
    /// Users in first-seen order.
    pub users: Vec<String>,
    user_index: FxHashMap<String, u32>,
    seen: FxHashMap<(u32, EntId), usize>,
    /// Resolved grant texts, so a large export parses each distinct grant once.
    cache: FxHashMap<(String, Option<String>), (EntId, Option<u8>)>,
}

fn resolve(
    plan: &mut Plan,
    user: &str,
    grant: &str,
    level: Option<&str>,
    at: &str,
) -> Result<(EntId, Option<u8>), String> {
    let text = match level {
        Some(l) if !l.trim().is_empty() && !grant.trim_end().ends_with(')') => {
            format!("{grant} ({l})")
        }
        _ => grant.to_string(),
    };
    let (ent, rank) = plan
        .resolve_ref(&text)
        .map_err(|e| format!("{at}: user `{user}`, entry `{text}`: {e}"))?;
    // no level: the type's default
    let rank = rank.or(plan.bundle.rtype(&plan.ents[ent as usize]).default);
    if rank.is_some()
        && plan
            .bundle
            .rtype(&plan.ents[ent as usize])
            .levels
            .is_empty()
    {
        return Err(format!(
            "{at}: user `{user}`, entry `{text}`: this type has no levels"
        ));
    }
    Ok((ent, rank))
}

impl Access {
    fn add(&mut self, user: &str, ent: EntId, level: Option<u8>) {
        let uid = match self.user_index.get(user) {
            Some(&u) => u,
            None => {
                let u = self.users.len() as u32;
                self.users.push(user.to_string());
                self.user_index.insert(user.to_string(), u);
                u
            }
        };
        match self.seen.get(&(uid, ent)) {
            Some(&i) => self.entries[i].level = self.entries[i].level.max(level),
            None => {
                self.seen.insert((uid, ent), self.entries.len());
                self.entries.push(AccessEntry {
                    user_id: user.to_string(),
                    ent,
                    level,
                });
            }
        }
    }

    fn resolve(
        &mut self,
        plan: &mut Plan,
        user: &str,
        grant: &str,
        level: Option<&str>,
        at: &str,
    ) -> Result<(EntId, Option<u8>), String> {
        let key = (grant.to_string(), level.map(str::to_string));
        if let Some(&r) = self.cache.get(&key) {
            return Ok(r);
        }
        let r = resolve(plan, user, grant, level, at)?;
        self.cache.insert(key, r);
        Ok(r)
    }
}

/// Reads an access export. Errors name the file and the entry.
pub fn load_access(path: &Path, plan: &mut Plan) -> Result<Access, String> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: cannot read: {e}"))?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    parse_access(&text, &name, &ext, plan)
}

/// Parses an access export given its format (`json`, `jsonl`, `csv`).
pub fn parse_access(
    text: &str,
    name: &str,
    format: &str,
    plan: &mut Plan,
) -> Result<Access, String> {
    let mut access = Access::default();
    read_entries(text, name, format, &mut |user, grant, level, at| {
        let (ent, rank) = access.resolve(plan, user, grant, level, at)?;
        access.add(user, ent, rank);
        Ok(())
    })?;
    Ok(access)
}

/// What [`read_entries`] hands over for each entry: the user, the grant as written, its
/// separate level (`level` field or column) if any, and where it is, for messages.
pub type EntryVisitor<'v> = dyn FnMut(&str, &str, Option<&str>, &str) -> Result<(), String> + 'v;

fn visit_object(
    obj: &serde_json::Map<String, Json>,
    at: &str,
    visit: &mut EntryVisitor<'_>,
) -> Result<(), String> {
    let user = obj
        .get("user_id")
        .and_then(Json::as_str)
        .ok_or_else(|| format!("{at}: an entry without a string `user_id`"))?;
    let grant = obj
        .get("grant")
        .and_then(Json::as_str)
        .ok_or_else(|| format!("{at}: user `{user}`: an entry without a string `grant`"))?;
    let level = match obj.get("level") {
        None | Some(Json::Null) => None,
        Some(Json::String(s)) => Some(s.as_str()),
        Some(other) => {
            return Err(format!(
                "{at}: user `{user}`: `level` must be a string, found {other}"
            ))
        }
    };
    visit(user, grant, level, at)
}

/// Reads the entries of an access export as written, in file order, without resolving
/// them: `visit` gets each one (and may refuse it). Errors name the file and the entry.
pub fn read_entries(
    text: &str,
    name: &str,
    format: &str,
    visit: &mut EntryVisitor<'_>,
) -> Result<(), String> {
    match format {
        "json" => {
            let v: Json = serde_json::from_str(text)
                .map_err(|e| format!("{name}:{}:{}: invalid JSON: {e}", e.line(), e.column()))?;
            match v {
                Json::Object(map) => {
                    for (user, grants) in &map {
                        let list = grants.as_array().ok_or_else(|| {
                            format!("{name}: user `{user}`: expected a list of grants")
                        })?;
                        for (i, g) in list.iter().enumerate() {
                            let at = format!("{name}: entry {} of `{user}`", i + 1);
                            let s = g.as_str().ok_or_else(|| {
                                format!(
                                    "{at}: expected a string such as \"gitlab:group:x (reporter)\""
                                )
                            })?;
                            visit(user, s, None, name)?;
                        }
                    }
                }
                Json::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let at = format!("{name}: entry {}", i + 1);
                        let obj = item.as_object().ok_or_else(|| {
                            format!("{at}: expected an object with user_id, grant, level")
                        })?;
                        visit_object(obj, &at, visit)?;
                    }
                }
                _ => {
                    return Err(format!(
                        "{name}: expected an object (user → grants) or an array of entries"
                    ))
                }
            }
        }
        "jsonl" | "ndjson" => {
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let at = format!("{name}:{}", i + 1);
                let v: Json =
                    serde_json::from_str(line).map_err(|e| format!("{at}: invalid JSON: {e}"))?;
                let obj = v.as_object().ok_or_else(|| {
                    format!("{at}: expected an object with user_id, grant, level")
                })?;
                visit_object(obj, &at, visit)?;
            }
        }
        "csv" => {
            let mut rdr = csv::ReaderBuilder::new()
                .trim(csv::Trim::All)
                .from_reader(text.as_bytes());
            let headers = rdr.headers().map_err(|e| format!("{name}: {e}"))?.clone();
            let col = |n: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(n));
            let (Some(u), Some(g)) = (col("user_id"), col("grant")) else {
                return Err(format!("{name}:1: the header must name the columns `user_id`, `grant` and optionally `level`"));
            };
            let l = col("level");
            for (i, rec) in rdr.records().enumerate() {
                let at = format!("{name}:{}", i + 2);
                let rec = rec.map_err(|e| format!("{at}: {e}"))?;
                let user = rec.get(u).unwrap_or("");
                if user.is_empty() {
                    return Err(format!("{at}: empty user_id"));
                }
                let level = l.and_then(|l| rec.get(l)).filter(|s| !s.is_empty());
                visit(user, rec.get(g).unwrap_or(""), level, &at)?;
            }
        }
        other => {
            return Err(format!(
                "{name}: unknown access format `.{other}`: use .json, .jsonl or .csv"
            ))
        }
    }
    Ok(())
}
