//! The `scim` connector: a SCIM 2.0 client (RFC 7643, RFC 7644).
//!
//! - Accounts are Users, found by `filter=userName eq "…"` (the `user_name` template filled
//!   from the person) and created with `POST /Users` (`userName`, `externalId` = the user
//!   id, `active: true`) on a person's first grant.
//! - Entitlements are Groups named by the `group` template (types without levels) or the
//!   `level_group` template (one group per level), found by `filter=displayName eq "…"`
//!   and created only if absent. Membership changes are `PATCH /Groups/{id}` with `add` or
//!   `remove` of `members` (removal by the path `members[value eq "ID"]`).
//! - What a person holds is read with `filter=members.value eq "ID"` on Groups; a server
//!   that refuses that filter is read group by group instead.
//! - Where the server announces ETags (its ServiceProviderConfig), writes carry
//!   `If-Match`; a 412 drops what was read and fails with [`ConnectorError::Conflict`], so
//!   the retry reads again.
//! - User and group ids are cached for the connector's life (a 404 drops them); the HTTP
//!   agent keeps connections alive between calls.
//!
//! Server answers are untrusted: bodies are read up to `max_response_bytes`, odd JSON is
//! an error and never a panic, and at most a few hundred characters of a body, control
//! characters removed, go into an error. The bearer token is a [`Secret`]: it is never
//! formatted, and is scrubbed from every error message besides.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::time::{Duration, SystemTime};

use serde_json::{json, Value};

use crate::text::clip;
use crate::{
    entitlement_of, AccountState, Applied, BatchRead, Change, Connector, ConnectorError, Holding,
    LeaverMode, Listing, Person, ReadBack,
};

/// The members (SCIM user ids) of each existing group of a grant, by level.
type GroupMembers = Vec<(Option<String>, HashSet<String>)>;

/// A secret (the bearer token): its `Debug` prints `***`, and it has no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The `scim` connector's configuration.
#[derive(Clone, Debug)]
pub struct ScimConfig {
    /// The system's name, the first part of its grant references (`slack`).
    pub system: String,
    /// The SCIM base URL, without `/Users` (`https://api.example.com/scim/v2`).
    pub base_url: String,
    /// The bearer token (read by the caller from the variable `token_env` names).
    pub token: Secret,
    /// The account name of a person: `{user_id}` or any attribute of the person's record
    /// (default `{user_id}`).
    pub user_name: String,
    /// The group of an entitlement of a type without levels (default `{entitlement}`).
    pub group: String,
    /// The group of an entitlement at a level (default `{entitlement}:{level}`).
    pub level_group: String,
    /// The types the system declares (`channel`, `group`…) and their levels (empty for a
    /// type without levels). A group whose name does not map back to one is ignored.
    pub types: BTreeMap<String, Vec<String>>,
    /// How long one HTTP request may take in all (default 30 s).
    pub timeout: Duration,
    /// Resources asked for per page of a listing (default 100).
    pub page_size: usize,
    /// The largest response body read (default 64 MiB).
    pub max_response_bytes: u64,
}

impl ScimConfig {
    /// A configuration with the default templates and limits.
    pub fn new(
        system: impl Into<String>,
        base_url: impl Into<String>,
        token: Secret,
        types: BTreeMap<String, Vec<String>>,
    ) -> Self {
        ScimConfig {
            system: system.into(),
            base_url: base_url.into(),
            token,
            user_name: "{user_id}".into(),
            group: "{entitlement}".into(),
            level_group: "{entitlement}:{level}".into(),
            types,
            timeout: Duration::from_secs(30),
            page_size: 100,
            max_response_bytes: 64 << 20,
        }
    }
}

/// A name template: text with `{placeholders}`.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Var(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Template {
    text: String,
    pieces: Vec<Piece>,
}

impl Template {
    /// Parses `text`; `allowed` limits the placeholders (`None`: any name).
    fn parse(key: &str, text: &str, allowed: Option<&[&str]>) -> Result<Self, ConnectorError> {
        let bad = |why: String| ConnectorError::Config(format!("`{key}` = {text:?}: {why}"));
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_string()));
            }
            let Some(close) = rest[open..].find('}') else {
                return Err(bad("a `{` is not closed".into()));
            };
            let name = &rest[open + 1..open + close];
            if name.is_empty() || name.contains('{') {
                return Err(bad("a placeholder has no name".into()));
            }
            if let Some(allowed) = allowed {
                if !allowed.contains(&name) {
                    return Err(bad(format!(
                        "unknown placeholder {{{name}}} (allowed: {})",
                        allowed
                            .iter()
                            .map(|a| format!("{{{a}}}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            }
            pieces.push(Piece::Var(name.to_string()));
            rest = &rest[open + close + 1..];
        }
        if rest.contains('}') {
            return Err(bad("a `}` has no `{`".into()));
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_string()));
        }
        Ok(Template {
            text: text.to_string(),
            pieces,
        })
    }

    fn count(&self, var: &str) -> usize {
        self.pieces
            .iter()
            .filter(|p| matches!(p, Piece::Var(v) if v == var))
            .count()
    }

    /// The text with each placeholder filled by `value` (its name when `value` has none).
    fn render<'a>(&self, value: impl Fn(&str) -> Option<&'a str>) -> Result<String, String> {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Var(name) => out.push_str(value(name).ok_or_else(|| name.clone())?),
            }
        }
        Ok(out)
    }

    /// The text before and after `{entitlement}` (which occurs once), other placeholders
    /// filled by `value`.
    fn around_entitlement<'a>(
        &self,
        value: impl Fn(&str) -> Option<&'a str>,
    ) -> Option<(String, String)> {
        let at = self
            .pieces
            .iter()
            .position(|p| matches!(p, Piece::Var(v) if v == "entitlement"))?;
        let part = |pieces: &[Piece]| {
            Template {
                text: String::new(),
                pieces: pieces.to_vec(),
            }
            .render(&value)
            .ok()
        };
        Some((part(&self.pieces[..at])?, part(&self.pieces[at + 1..])?))
    }
}

/// A group as cached: its id and the version last seen (for `If-Match`).
#[derive(Clone, Debug)]
struct GroupRef {
    id: String,
    etag: Option<String>,
}

/// An HTTP answer: status, `ETag` and the body as JSON (`Null` when empty).
struct Reply {
    status: u16,
    etag: Option<String>,
    body: Value,
}

/// How many pages a listing may have before it is taken for a server that never ends.
const MAX_PAGES: usize = 100_000;
/// How much of a server's error text goes into an error message.
const DETAIL_SHOWN: usize = 300;

/// The `scim` connector.
pub struct ScimConnector {
    agent: ureq::Agent,
    base: String,
    token: Secret,
    system: String,
    user_name: Template,
    group: Template,
    level_group: Template,
    types: BTreeMap<String, Vec<String>>,
    page_size: usize,
    max_response_bytes: u64,
    /// user id → SCIM User id.
    users: HashMap<String, String>,
    /// group name → group.
    groups: HashMap<String, GroupRef>,
    /// userName (lower case: SCIM compares it without case) → user id.
    directory: HashMap<String, String>,
    /// Whether the server announced ETags (`None`: not asked yet).
    etags: Option<bool>,
    /// Whether the server accepts `filter=members.value eq "…"` on Groups.
    members_filter: bool,
    /// HTTP requests sent (for tests and measurements).
    requests: u64,
}

impl fmt::Debug for ScimConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScimConnector")
            .field("system", &self.system)
            .field("base", &self.base)
            .field("token", &self.token)
            .field("user_name", &self.user_name.text)
            .field("group", &self.group.text)
            .field("level_group", &self.level_group.text)
            .field("types", &self.types)
            .field("cached_users", &self.users.len())
            .field("cached_groups", &self.groups.len())
            .finish()
    }
}

/// `"…"` with `\` and `"` escaped, for a SCIM filter.
fn filter_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for ch in value.chars() {
        if ch == '\\' || ch == '"' {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('"');
    out
}

/// Percent-encoding of everything but RFC 3986's unreserved characters.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// How long a `Retry-After` asks to wait: seconds or an HTTP date.
pub(crate) fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

fn str_field<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

impl ScimConnector {
    /// A connector for `config`; checks the URL and the templates (no request is sent).
    pub fn new(config: ScimConfig) -> Result<Self, ConnectorError> {
        let base = config.base_url.trim_end_matches('/').to_string();
        if !(base.starts_with("https://") || base.starts_with("http://"))
            || base.len() <= "https://".len()
        {
            return Err(ConnectorError::Config(format!(
                "`base_url` = {:?} is not an http(s) URL",
                clip(&base, 200)
            )));
        }
        if config.token.expose().is_empty() {
            return Err(ConnectorError::Config("the token is empty".into()));
        }
        if config.system.is_empty() || config.system.contains(':') {
            return Err(ConnectorError::Config(format!(
                "the system name {:?} is empty or has a `:`",
                config.system
            )));
        }
        let user_name = Template::parse("user_name", &config.user_name, None)?;
        let group = Template::parse("group", &config.group, Some(&["entitlement"]))?;
        let level_group = Template::parse(
            "level_group",
            &config.level_group,
            Some(&["entitlement", "level"]),
        )?;
        if group.count("entitlement") != 1 {
            return Err(ConnectorError::Config(format!(
                "`group` = {:?} must have {{entitlement}} once",
                config.group
            )));
        }
        if level_group.count("entitlement") != 1 || level_group.count("level") != 1 {
            return Err(ConnectorError::Config(format!(
                "`level_group` = {:?} must have {{entitlement}} and {{level}} once each",
                config.level_group
            )));
        }
        if config.page_size == 0 {
            return Err(ConnectorError::Config("the page size is 0".into()));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .proxy(None)
            .timeout_global(Some(config.timeout))
            .user_agent("polc-connectors")
            .build()
            .into();
        Ok(ScimConnector {
            agent,
            base,
            token: config.token,
            system: config.system,
            user_name,
            group,
            level_group,
            types: config.types,
            page_size: config.page_size,
            max_response_bytes: config.max_response_bytes,
            users: HashMap::new(),
            groups: HashMap::new(),
            directory: HashMap::new(),
            etags: None,
            members_filter: true,
            requests: 0,
        })
    }

    /// HTTP requests sent so far.
    pub fn requests_sent(&self) -> u64 {
        self.requests
    }

    /// Forgets every cached id (the next calls look them up again).
    pub fn clear_cache(&mut self) {
        self.users.clear();
        self.groups.clear();
    }

    /// `text` without the token.
    fn scrub(&self, text: String) -> String {
        let token = self.token.expose();
        if token.is_empty() || !text.contains(token) {
            return text;
        }
        text.replace(token, "***")
    }

    /// One request. 2xx, 404 and 409 are answered; other statuses are errors.
    fn send(
        &mut self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> Result<Reply, ConnectorError> {
        let mut url = format!("{}{path}", self.base);
        for (i, (key, value)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&encode(key));
            url.push('=');
            url.push_str(&encode(value));
        }
        let what = format!("{method} {path}");
        let mut request = ureq::http::Request::builder()
            .method(method)
            .uri(&url)
            .header("Accept", "application/scim+json")
            .header("Authorization", format!("Bearer {}", self.token.expose()));
        if let Some(etag) = if_match {
            request = request.header("If-Match", etag);
        }
        self.requests += 1;
        let sent = match body {
            Some(body) => request
                .header("Content-Type", "application/scim+json")
                .body(body.to_string().into_bytes())
                .map(|r| self.agent.run(r)),
            None => request.body(()).map(|r| self.agent.run(r)),
        };
        let mut response = match sent {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => {
                let text = self.scrub(format!("{what}: {e}"));
                return Err(match e {
                    ureq::Error::BadUri(_) | ureq::Error::Http(_) => ConnectorError::Config(text),
                    _ => ConnectorError::Transient(text),
                });
            }
            Err(e) => {
                return Err(ConnectorError::Config(
                    self.scrub(format!("{what}: cannot make the request: {e}")),
                ))
            }
        };
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let etag = header("etag");
        let retry = header("retry-after");
        let bytes = match response
            .body_mut()
            .with_config()
            .limit(self.max_response_bytes)
            .read_to_vec()
        {
            Ok(bytes) => bytes,
            Err(ureq::Error::BodyExceedsLimit(limit)) => {
                return Err(ConnectorError::Permanent(format!(
                    "{what}: the answer is larger than {limit} bytes"
                )))
            }
            Err(e) => {
                return Err(ConnectorError::Transient(
                    self.scrub(format!("{what}: reading the answer: {e}")),
                ))
            }
        };
        let detail = || {
            let text = match serde_json::from_slice::<Value>(&bytes) {
                Ok(v) if str_field(&v, "detail").is_some() => {
                    let scim_type = str_field(&v, "scimType")
                        .map(|t| format!(" ({t})"))
                        .unwrap_or_default();
                    format!("{}{scim_type}", str_field(&v, "detail").unwrap_or(""))
                }
                _ => String::from_utf8_lossy(&bytes).into_owned(),
            };
            let text = clip(&text, DETAIL_SHOWN);
            if text.is_empty() {
                String::new()
            } else {
                format!(": {text}")
            }
        };
        let error = match status {
            200..=299 | 404 | 409 => None,
            412 => Some(ConnectorError::Conflict(format!(
                "{what}: HTTP 412{}",
                detail()
            ))),
            429 => Some(ConnectorError::RateLimited {
                retry_after: retry.as_deref().and_then(retry_after),
            }),
            408 | 500..=599 => Some(ConnectorError::Transient(format!(
                "{what}: HTTP {status}{}",
                detail()
            ))),
            401 | 403 => Some(ConnectorError::Permanent(format!(
                "{what}: HTTP {status}, the token was refused{}",
                detail()
            ))),
            _ => Some(ConnectorError::Permanent(format!(
                "{what}: HTTP {status}{}",
                detail()
            ))),
        };
        if let Some(error) = error {
            return Err(match error {
                ConnectorError::Transient(t) => ConnectorError::Transient(self.scrub(t)),
                ConnectorError::Permanent(t) => ConnectorError::Permanent(self.scrub(t)),
                ConnectorError::Conflict(t) => ConnectorError::Conflict(self.scrub(t)),
                other => other,
            });
        }
        let body = if bytes.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(body) => body,
                Err(_) if status == 404 || status == 409 => Value::Null,
                Err(e) => {
                    return Err(ConnectorError::Transient(self.scrub(format!(
                        "{what}: HTTP {status} with an answer that is not JSON ({e}): {}",
                        clip(&String::from_utf8_lossy(&bytes), DETAIL_SHOWN)
                    ))))
                }
            }
        };
        Ok(Reply { status, etag, body })
    }

    /// Every resource of a listing, page by page (`startIndex`/`count`).
    fn list_all(
        &mut self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Vec<Value>, ConnectorError> {
        let mut all = Vec::new();
        let mut start = 1usize;
        let count = self.page_size.to_string();
        for _ in 0..MAX_PAGES {
            let start_text = start.to_string();
            let mut q: Vec<(&str, &str)> = query.to_vec();
            q.push(("startIndex", &start_text));
            q.push(("count", &count));
            let reply = self.send("GET", path, &q, None, None)?;
            if reply.status != 200 {
                return Err(ConnectorError::Permanent(format!(
                    "GET {path}: HTTP {} for a listing",
                    reply.status
                )));
            }
            let total = reply.body.get("totalResults").and_then(Value::as_u64);
            let resources = match reply.body.get("Resources") {
                Some(Value::Array(resources)) => resources.clone(),
                None | Some(Value::Null) => Vec::new(),
                Some(_) => {
                    return Err(ConnectorError::Transient(format!(
                        "GET {path}: `Resources` is not a list"
                    )))
                }
            };
            let got = resources.len();
            all.extend(resources);
            start += got;
            let done = match total {
                Some(total) => got == 0 || (start - 1) as u64 >= total,
                // Without a total, a short page is the last.
                None => got < self.page_size,
            };
            if done {
                return Ok(all);
            }
        }
        Err(ConnectorError::Permanent(format!(
            "GET {path}: more than {MAX_PAGES} pages"
        )))
    }

    /// The userName of `person`.
    fn user_name_of(&self, person: &Person) -> Result<String, ConnectorError> {
        self.user_name
            .render(|name| {
                if name == "user_id" {
                    Some(person.user_id.as_str())
                } else {
                    person.attributes.get(name).map(String::as_str)
                }
            })
            .map_err(|missing| {
                ConnectorError::Permanent(format!(
                    "user {}: no attribute `{missing}` for `user_name` = {:?}",
                    person.user_id, self.user_name.text
                ))
            })
    }

    fn remember(&mut self, person: &Person, user_name: &str) {
        self.directory
            .insert(user_name.to_lowercase(), person.user_id.clone());
    }

    /// The user id of an account name, if it maps back.
    fn user_id_of(&self, user_name: &str) -> Option<String> {
        if let Some(user_id) = self.directory.get(&user_name.to_lowercase()) {
            return Some(user_id.clone());
        }
        (self.user_name.text == "{user_id}").then(|| user_name.to_string())
    }

    /// The SCIM id of `person`'s account (looked up unless cached).
    fn find_user(&mut self, person: &Person) -> Result<Option<String>, ConnectorError> {
        if let Some(id) = self.users.get(&person.user_id) {
            return Ok(Some(id.clone()));
        }
        let user_name = self.user_name_of(person)?;
        self.remember(person, &user_name);
        let filter = format!("userName eq {}", filter_string(&user_name));
        let reply = self.send(
            "GET",
            "/Users",
            &[("filter", &filter), ("attributes", "id,userName")],
            None,
            None,
        )?;
        let resources = reply
            .body
            .get("Resources")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        // SCIM compares userName without case; an exact match is preferred.
        let pick = resources
            .iter()
            .find(|r| str_field(r, "userName") == Some(user_name.as_str()))
            .or_else(|| {
                resources.iter().find(|r| {
                    str_field(r, "userName").map(str::to_lowercase)
                        == Some(user_name.to_lowercase())
                })
            });
        let id = pick.and_then(|r| str_field(r, "id")).map(str::to_string);
        if let Some(id) = &id {
            self.users.insert(person.user_id.clone(), id.clone());
        }
        Ok(id)
    }

    /// The SCIM id of `person`'s account, created (active) if there is none; and whether
    /// it was just created (then it holds nothing yet).
    fn ensure_user(&mut self, person: &Person) -> Result<(String, bool), ConnectorError> {
        if let Some(id) = self.find_user(person)? {
            return Ok((id, false));
        }
        let user_name = self.user_name_of(person)?;
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": user_name,
            "externalId": person.user_id,
            "active": true,
        });
        let reply = self.send("POST", "/Users", &[], Some(&body), None)?;
        match reply.status {
            // Already there (made by someone else, or by a request whose answer was lost).
            409 => match self.find_user(person)? {
                Some(id) => Ok((id, false)),
                None => Err(ConnectorError::Transient(format!(
                    "POST /Users: userName {user_name:?} is taken but cannot be found"
                ))),
            },
            200 | 201 => match str_field(&reply.body, "id") {
                Some(id) => {
                    self.users.insert(person.user_id.clone(), id.to_string());
                    Ok((id.to_string(), true))
                }
                None => Err(ConnectorError::Transient(
                    "POST /Users: the answer has no `id`".into(),
                )),
            },
            status => Err(ConnectorError::Permanent(format!(
                "POST /Users: HTTP {status}"
            ))),
        }
    }

    /// The type and group name of `grant` at `level`, checked against the declared types.
    fn group_name(&self, grant: &str, level: Option<&str>) -> Result<String, ConnectorError> {
        let entitlement = self.entitlement(grant)?;
        let kind = entitlement.split(':').next().unwrap_or_default();
        let levels = self.types.get(kind).ok_or_else(|| {
            ConnectorError::Permanent(format!(
                "{grant}: the system {} declares no type `{kind}`",
                self.system
            ))
        })?;
        let rendered = match (level, levels.is_empty()) {
            (None, true) => self
                .group
                .render(|name| (name == "entitlement").then_some(entitlement)),
            (Some(level), false) => {
                if !levels.iter().any(|l| l == level) {
                    return Err(ConnectorError::Permanent(format!(
                        "{grant}: `{level}` is not a level of the type `{kind}`"
                    )));
                }
                self.level_group.render(|name| match name {
                    "entitlement" => Some(entitlement),
                    "level" => Some(level),
                    _ => None,
                })
            }
            (None, false) => {
                return Err(ConnectorError::Permanent(format!(
                    "{grant}: the type `{kind}` has levels, and none was given"
                )))
            }
            (Some(level), true) => {
                return Err(ConnectorError::Permanent(format!(
                    "{grant}: the type `{kind}` has no levels, and `{level}` was given"
                )))
            }
        };
        rendered.map_err(|name| ConnectorError::Config(format!("no value for {{{name}}}")))
    }

    /// `channel:#sales` of `slack:channel:#sales`, if the grant is of this system.
    fn entitlement<'a>(&self, grant: &'a str) -> Result<&'a str, ConnectorError> {
        match grant.split_once(':') {
            Some((system, _)) if system == self.system => {
                entitlement_of(grant).ok_or_else(|| ConnectorError::Permanent(grant.into()))
            }
            _ => Err(ConnectorError::Permanent(format!(
                "{grant} is not a grant of the system {}",
                self.system
            ))),
        }
    }

    /// The grant and level a group name maps back to, if it does.
    fn parse_group(&self, name: &str) -> Option<(String, Option<String>)> {
        for (kind, levels) in &self.types {
            let matches = |prefix: &str, suffix: &str| -> Option<String> {
                let middle = name.strip_prefix(prefix)?.strip_suffix(suffix)?;
                // an entitlement that is the type itself (`slack:workspace-member`)
                if middle == kind {
                    return Some(format!("{}:{middle}", self.system));
                }
                let rest = middle.strip_prefix(kind.as_str())?.strip_prefix(':')?;
                (!rest.is_empty()).then(|| format!("{}:{middle}", self.system))
            };
            if levels.is_empty() {
                let (prefix, suffix) = self.group.around_entitlement(|_| None)?;
                if let Some(grant) = matches(&prefix, &suffix) {
                    return Some((grant, None));
                }
            } else {
                for level in levels {
                    let Some((prefix, suffix)) = self
                        .level_group
                        .around_entitlement(|n| (n == "level").then_some(level.as_str()))
                    else {
                        continue;
                    };
                    if let Some(grant) = matches(&prefix, &suffix) {
                        return Some((grant, Some(level.clone())));
                    }
                }
            }
        }
        None
    }

    /// Whether the server announces ETags (asked once).
    fn uses_etags(&mut self) -> Result<bool, ConnectorError> {
        if let Some(etags) = self.etags {
            return Ok(etags);
        }
        let reply = self.send("GET", "/ServiceProviderConfig", &[], None, None)?;
        let etags = reply.status == 200
            && reply
                .body
                .get("etag")
                .and_then(|e| e.get("supported"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
        self.etags = Some(etags);
        Ok(etags)
    }

    /// The group named `name`: from the cache, looked up, or (if `create`) created.
    fn find_group(&mut self, name: &str, create: bool) -> Result<Option<GroupRef>, ConnectorError> {
        if let Some(group) = self.groups.get(name) {
            return Ok(Some(group.clone()));
        }
        let filter = format!("displayName eq {}", filter_string(name));
        let reply = self.send(
            "GET",
            "/Groups",
            &[("filter", &filter), ("excludedAttributes", "members")],
            None,
            None,
        )?;
        let resources = reply
            .body
            .get("Resources")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut found: Vec<&Value> = resources
            .iter()
            .filter(|r| str_field(r, "displayName") == Some(name))
            .collect();
        // Two groups of one name (made by others): the first by id, every time.
        found.sort_by_key(|r| str_field(r, "id").unwrap_or_default().to_string());
        if let Some(group) = found.first() {
            if let Some(id) = str_field(group, "id") {
                let group = GroupRef {
                    id: id.to_string(),
                    etag: group
                        .get("meta")
                        .and_then(|m| str_field(m, "version"))
                        .map(str::to_string),
                };
                self.groups.insert(name.to_string(), group.clone());
                return Ok(Some(group));
            }
        }
        if !create {
            return Ok(None);
        }
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": name,
        });
        let reply = self.send("POST", "/Groups", &[], Some(&body), None)?;
        match (reply.status, str_field(&reply.body, "id")) {
            (200 | 201, Some(id)) => {
                let group = GroupRef {
                    id: id.to_string(),
                    etag: reply.etag.or_else(|| {
                        reply
                            .body
                            .get("meta")
                            .and_then(|m| str_field(m, "version"))
                            .map(str::to_string)
                    }),
                };
                self.groups.insert(name.to_string(), group.clone());
                Ok(Some(group))
            }
            (409, _) => Err(ConnectorError::Conflict(format!(
                "POST /Groups: a group {name:?} exists but was not found"
            ))),
            (status, _) => Err(ConnectorError::Transient(format!(
                "POST /Groups: HTTP {status} without an `id`"
            ))),
        }
    }

    /// Adds (`add`) or removes `user` to or from the group `name`.
    fn patch_members(&mut self, name: &str, user: &str, add: bool) -> Result<(), ConnectorError> {
        let Some(group) = self.find_group(name, add)? else {
            return Ok(());
        };
        let path = format!("/Groups/{}", encode(&group.id));
        let etag = if self.uses_etags()? {
            match group.etag {
                Some(etag) => Some(etag),
                None => {
                    let reply = self.send(
                        "GET",
                        &path,
                        &[("excludedAttributes", "members")],
                        None,
                        None,
                    )?;
                    if reply.status == 404 {
                        self.groups.remove(name);
                        return Err(ConnectorError::Transient(format!(
                            "GET {path}: the group {name:?} is gone"
                        )));
                    }
                    reply.etag.or_else(|| {
                        reply
                            .body
                            .get("meta")
                            .and_then(|m| str_field(m, "version"))
                            .map(str::to_string)
                    })
                }
            }
        } else {
            None
        };
        let operation = if add {
            json!({"op": "add", "path": "members", "value": [{"value": user}]})
        } else {
            json!({"op": "remove", "path": format!("members[value eq {}]", filter_string(user))})
        };
        let body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [operation],
        });
        let reply = self.send("PATCH", &path, &[], Some(&body), etag.as_deref());
        match reply {
            Ok(reply) if reply.status == 404 => {
                self.groups.remove(name);
                Err(ConnectorError::Transient(format!(
                    "PATCH {path}: the group {name:?} is gone"
                )))
            }
            Ok(reply) if reply.status == 409 => {
                self.groups.remove(name);
                Err(ConnectorError::Conflict(format!("PATCH {path}: HTTP 409")))
            }
            Ok(reply) => {
                if let Some(cached) = self.groups.get_mut(name) {
                    cached.etag = reply.etag.or_else(|| {
                        reply
                            .body
                            .get("meta")
                            .and_then(|m| str_field(m, "version"))
                            .map(str::to_string)
                    });
                }
                Ok(())
            }
            Err(e) => {
                // Whatever happened, the version read is no longer to be trusted.
                if let Some(cached) = self.groups.get_mut(name) {
                    cached.etag = None;
                }
                Err(e)
            }
        }
    }

    /// The levels at which the account `user` holds `grant` (read from the server).
    fn held(
        &mut self,
        user: &str,
        grant: &str,
    ) -> Result<BTreeSet<Option<String>>, ConnectorError> {
        // a grant of no known system is refused before any request
        self.entitlement(grant)?;
        let mut held = BTreeSet::new();
        if self.members_filter {
            let filter = format!("members.value eq {}", filter_string(user));
            match self.list_all(
                "/Groups",
                &[("filter", &filter), ("attributes", "id,displayName")],
            ) {
                Ok(groups) => {
                    for group in groups {
                        let Some(name) = str_field(&group, "displayName") else {
                            continue;
                        };
                        if let Some((g, level)) = self.parse_group(name) {
                            if g == grant {
                                held.insert(level);
                            }
                        }
                    }
                    return Ok(held);
                }
                Err(ConnectorError::Permanent(text)) if text.contains("HTTP 400") => {
                    // This server cannot filter groups by member: read them one by one.
                    self.members_filter = false;
                }
                Err(e) => return Err(e),
            }
        }
        // one read of each group of the grant
        held.extend(
            self.group_members(grant)?
                .into_iter()
                .filter(|(_, members)| members.contains(user))
                .map(|(level, _)| level),
        );
        Ok(held)
    }

    /// The members (SCIM user ids) of each existing group of `grant`, by level: one read
    /// of each group.
    fn group_members(&mut self, grant: &str) -> Result<GroupMembers, ConnectorError> {
        let entitlement = self.entitlement(grant)?;
        let kind = entitlement.split(':').next().unwrap_or_default();
        let levels = self.types.get(kind).cloned().unwrap_or_default();
        let candidates: Vec<Option<String>> = if levels.is_empty() {
            vec![None]
        } else {
            levels.into_iter().map(Some).collect()
        };
        let mut out = Vec::new();
        for level in candidates {
            let name = self.group_name(grant, level.as_deref())?;
            let Some(group) = self.find_group(&name, false)? else {
                continue;
            };
            let path = format!("/Groups/{}", encode(&group.id));
            let reply = self.send("GET", &path, &[("attributes", "members")], None, None)?;
            if reply.status == 404 {
                self.groups.remove(&name);
                continue;
            }
            if reply.status != 200 {
                return Err(ConnectorError::Transient(format!(
                    "GET {path}: HTTP {}",
                    reply.status
                )));
            }
            let members = reply
                .body
                .get("members")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|m| str_field(m, "value"))
                .map(str::to_string)
                .collect();
            out.push((level, members));
        }
        Ok(out)
    }

    /// The account's `active` (absent = active) and version, read from the server; `None`
    /// when the account is gone.
    fn read_user(
        &mut self,
        person: &Person,
        id: &str,
    ) -> Result<Option<(Value, Option<String>)>, ConnectorError> {
        let path = format!("/Users/{}", encode(id));
        let reply = self.send("GET", &path, &[], None, None)?;
        if reply.status == 404 {
            self.users.remove(&person.user_id);
            return Ok(None);
        }
        let etag = reply.etag.clone().or_else(|| {
            reply
                .body
                .get("meta")
                .and_then(|m| str_field(m, "version"))
                .map(str::to_string)
        });
        Ok(Some((reply.body, etag)))
    }

    /// Sets the account's `active`; answers whether it changed.
    fn set_active(&mut self, person: &Person, active: bool) -> Result<Applied, ConnectorError> {
        let Some(id) = self.find_user(person)? else {
            return Ok(Applied::AlreadyAbsent);
        };
        let Some((user, etag)) = self.read_user(person, &id)? else {
            return Ok(Applied::AlreadyAbsent);
        };
        let now = user.get("active").and_then(Value::as_bool).unwrap_or(true);
        if now == active {
            return Ok(if active {
                Applied::AlreadyPresent
            } else {
                Applied::AlreadyAbsent
            });
        }
        let etag = if self.uses_etags()? { etag } else { None };
        let path = format!("/Users/{}", encode(&id));
        let body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "active", "value": active}],
        });
        match self.send("PATCH", &path, &[], Some(&body), etag.as_deref()) {
            Ok(reply) if reply.status == 404 => {
                self.users.remove(&person.user_id);
                Err(ConnectorError::Transient(format!(
                    "PATCH {path}: the account is gone"
                )))
            }
            Ok(_) => Ok(Applied::Done),
            // A server without PATCH on Users: replace the whole resource.
            Err(ConnectorError::Permanent(text))
                if text.contains("HTTP 405") || text.contains("HTTP 501") =>
            {
                let mut user = user;
                if let Some(object) = user.as_object_mut() {
                    object.insert("active".into(), Value::Bool(active));
                    object.remove("meta");
                }
                self.send("PUT", &path, &[], Some(&user), etag.as_deref())?;
                Ok(Applied::Done)
            }
            Err(e) => Err(e),
        }
    }
}

impl Connector for ScimConnector {
    fn list(&mut self) -> Result<Listing, ConnectorError> {
        let users = self.list_all("/Users", &[("attributes", "id,userName,active")])?;
        let mut by_id: HashMap<String, String> = HashMap::new();
        let mut accounts = Vec::new();
        for user in &users {
            let (Some(id), Some(user_name)) = (str_field(user, "id"), str_field(user, "userName"))
            else {
                continue;
            };
            let Some(user_id) = self.user_id_of(user_name) else {
                continue;
            };
            let active = user.get("active").and_then(Value::as_bool).unwrap_or(true);
            self.users.insert(user_id.clone(), id.to_string());
            accounts.push(AccountState {
                user_id: user_id.clone(),
                active,
            });
            by_id.insert(id.to_string(), user_id);
        }
        let groups = self.list_all("/Groups", &[("attributes", "id,displayName,members")])?;
        let mut holdings = BTreeSet::new();
        for group in &groups {
            let (Some(id), Some(name)) = (str_field(group, "id"), str_field(group, "displayName"))
            else {
                continue;
            };
            let Some((grant, level)) = self.parse_group(name) else {
                continue;
            };
            self.groups.entry(name.to_string()).or_insert(GroupRef {
                id: id.to_string(),
                etag: None,
            });
            let members = group.get("members").and_then(Value::as_array);
            for member in members.into_iter().flatten() {
                if let Some(user_id) = str_field(member, "value").and_then(|v| by_id.get(v)) {
                    holdings.insert(Holding {
                        user_id: user_id.clone(),
                        grant: grant.clone(),
                        level: level.clone(),
                    });
                }
            }
        }
        accounts.sort_by(|a, b| a.user_id.cmp(&b.user_id));
        Ok(Listing {
            holdings: holdings.into_iter().collect(),
            accounts,
        })
    }

    fn apply(&mut self, person: &Person, change: &Change) -> Result<Applied, ConnectorError> {
        match change {
            Change::Grant { grant, level } => {
                let name = self.group_name(grant, level.as_deref())?;
                let (user, created) = self.ensure_user(person)?;
                if !created && self.held(&user, grant)?.contains(level) {
                    return Ok(Applied::AlreadyPresent);
                }
                self.patch_members(&name, &user, true)?;
                Ok(Applied::Done)
            }
            Change::Revoke { grant } => {
                self.entitlement(grant)?;
                let Some(user) = self.find_user(person)? else {
                    return Ok(Applied::AlreadyAbsent);
                };
                let held = self.held(&user, grant)?;
                if held.is_empty() {
                    return Ok(Applied::AlreadyAbsent);
                }
                for level in held {
                    let name = self.group_name(grant, level.as_deref())?;
                    self.patch_members(&name, &user, false)?;
                }
                Ok(Applied::Done)
            }
            Change::SetLevel { grant, from, to } => {
                let new = self.group_name(grant, to.as_deref())?;
                let (user, created) = self.ensure_user(person)?;
                let held = if created {
                    BTreeSet::new()
                } else {
                    self.held(&user, grant)?
                };
                let mut changed = false;
                if !held.contains(to) {
                    self.patch_members(&new, &user, true)?;
                    changed = true;
                }
                if from != to && held.contains(from) {
                    let old = self.group_name(grant, from.as_deref())?;
                    self.patch_members(&old, &user, false)?;
                    changed = true;
                }
                Ok(if changed {
                    Applied::Done
                } else {
                    Applied::AlreadyPresent
                })
            }
            Change::Deprovision {
                mode: LeaverMode::Keep,
            } => Ok(match self.find_user(person)? {
                Some(_) => Applied::AlreadyPresent,
                None => Applied::AlreadyAbsent,
            }),
            Change::Deprovision {
                mode: LeaverMode::Deactivate,
            } => self.set_active(person, false),
            Change::Deprovision {
                mode: LeaverMode::Delete,
            } => {
                let Some(id) = self.find_user(person)? else {
                    return Ok(Applied::AlreadyAbsent);
                };
                let path = format!("/Users/{}", encode(&id));
                let reply = self.send("DELETE", &path, &[], None, None)?;
                self.users.remove(&person.user_id);
                Ok(if reply.status == 404 {
                    Applied::AlreadyAbsent
                } else {
                    Applied::Done
                })
            }
            Change::Reactivate => self.set_active(person, true),
        }
    }

    fn read_back(
        &mut self,
        person: &Person,
        grant: Option<&str>,
    ) -> Result<ReadBack, ConnectorError> {
        // Fresh from the server: a cached id is checked, not trusted.
        let Some(id) = self.find_user(person)? else {
            return Ok(ReadBack::default());
        };
        let Some((user, _)) = self.read_user(person, &id)? else {
            // The cached id was stale: look the account up by name once more.
            return match self.find_user(person)? {
                Some(_) => Err(ConnectorError::Transient(format!(
                    "the account of {} moved while being read",
                    person.user_id
                ))),
                None => Ok(ReadBack::default()),
            };
        };
        let active = user.get("active").and_then(Value::as_bool).unwrap_or(true);
        let levels = match grant {
            Some(grant) => self.held(&id, grant)?.into_iter().collect(),
            None => Vec::new(),
        };
        Ok(ReadBack {
            levels,
            active: Some(active),
        })
    }

    /// Each grant's groups are read once for the whole batch (the people's ids from the
    /// cache, or looked up once each).
    fn read_back_batch(&mut self, items: &[(Person, String)]) -> Option<BatchRead> {
        let mut groups: HashMap<&str, Result<GroupMembers, String>> = HashMap::new();
        let mut out = Vec::with_capacity(items.len());
        for (person, grant) in items {
            if !groups.contains_key(grant.as_str()) {
                let read = self.group_members(grant).map_err(|e| e.to_string());
                groups.insert(grant, read);
            }
            let id = match self.find_user(person) {
                Ok(Some(id)) => id,
                Ok(None) => {
                    out.push(Ok(Vec::new()));
                    continue;
                }
                Err(e) => {
                    out.push(Err(e));
                    continue;
                }
            };
            out.push(match &groups[grant.as_str()] {
                Ok(read) => Ok(read
                    .iter()
                    .filter(|(_, members)| members.contains(&id))
                    .map(|(level, _)| level.clone())
                    .collect()),
                Err(e) => Err(ConnectorError::Transient(e.clone())),
            });
        }
        Some(out)
    }

    fn set_directory(&mut self, people: &[Person]) {
        for person in people {
            if let Ok(user_name) = self.user_name_of(person) {
                self.remember(person, &user_name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connector(user_name: &str, group: &str, level_group: &str) -> ScimConnector {
        let mut config = ScimConfig::new(
            "slack",
            "http://127.0.0.1:9/v2",
            Secret::new("s3cret"),
            BTreeMap::from([
                ("channel".to_string(), vec![]),
                (
                    "workspace".to_string(),
                    vec!["admin".to_string(), "member".to_string()],
                ),
            ]),
        );
        config.user_name = user_name.into();
        config.group = group.into();
        config.level_group = level_group.into();
        ScimConnector::new(config).unwrap()
    }

    #[test]
    fn group_names_map_back_through_the_templates() {
        let c = connector("{user_id}", "{entitlement}", "{entitlement}:{level}");
        assert_eq!(
            c.group_name("slack:channel:#sales", None).unwrap(),
            "channel:#sales"
        );
        assert_eq!(
            c.group_name("slack:workspace:main", Some("admin")).unwrap(),
            "workspace:main:admin"
        );
        assert_eq!(
            c.parse_group("channel:#sales"),
            Some(("slack:channel:#sales".into(), None))
        );
        assert_eq!(
            c.parse_group("workspace:main:admin"),
            Some(("slack:workspace:main".into(), Some("admin".into())))
        );
        // A level that is not declared, a type that is not, an empty entitlement.
        assert_eq!(c.parse_group("workspace:main:owner"), None);
        assert_eq!(c.parse_group("project:x"), None);
        assert_eq!(c.parse_group("channel:"), None);
        assert!(c.group_name("slack:workspace:main", None).is_err());
        assert!(c.group_name("slack:channel:x", Some("admin")).is_err());
        assert!(c.group_name("slack:workspace:main", Some("owner")).is_err());
        assert!(c.group_name("gitlab:channel:x", None).is_err());

        let c = connector("{email}", "sl-{entitlement}", "sl-{level}-{entitlement}");
        assert_eq!(
            c.group_name("slack:workspace:main", Some("member"))
                .unwrap(),
            "sl-member-workspace:main"
        );
        assert_eq!(
            c.parse_group("sl-member-workspace:main"),
            Some(("slack:workspace:main".into(), Some("member".into())))
        );
        assert_eq!(c.parse_group("channel:#sales"), None);
    }

    #[test]
    fn bad_templates_and_urls_are_configuration_errors() {
        let types = BTreeMap::new();
        let base = || ScimConfig::new("slack", "https://x/v2", Secret::new("t"), types.clone());
        for (user_name, group, level_group) in [
            ("{user_id", "{entitlement}", "{entitlement}:{level}"),
            (
                "{user_id}",
                "{entitlement}{entitlement}",
                "{entitlement}:{level}",
            ),
            ("{user_id}", "{level}", "{entitlement}:{level}"),
            ("{user_id}", "{entitlement}", "{entitlement}"),
            ("{user_id}", "{entitlement}", "{entitlement}:{lvl}"),
        ] {
            let mut config = base();
            config.user_name = user_name.into();
            config.group = group.into();
            config.level_group = level_group.into();
            assert!(
                matches!(ScimConnector::new(config), Err(ConnectorError::Config(_))),
                "{user_name} {group} {level_group}"
            );
        }
        let mut config = base();
        config.base_url = "ftp://x".into();
        assert!(matches!(
            ScimConnector::new(config),
            Err(ConnectorError::Config(_))
        ));
    }

    #[test]
    fn user_names_and_filters() {
        let mut c = connector("{email}", "{entitlement}", "{entitlement}:{level}");
        let person = Person {
            user_id: "u1".into(),
            attributes: BTreeMap::from([("email".to_string(), "A@x.org".to_string())]),
        };
        assert_eq!(c.user_name_of(&person).unwrap(), "A@x.org");
        let nobody = Person {
            user_id: "u2".into(),
            ..Person::default()
        };
        assert!(c
            .user_name_of(&nobody)
            .unwrap_err()
            .to_string()
            .contains("email"));
        c.set_directory(&[person]);
        assert_eq!(c.user_id_of("a@X.org"), Some("u1".into()));
        assert_eq!(c.user_id_of("u2"), None);
        assert_eq!(filter_string(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(encode("a b/é"), "a%20b%2F%C3%A9");
        assert_eq!(retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon"), None);
    }

    #[test]
    fn the_token_is_never_formatted() {
        let c = connector("{user_id}", "{entitlement}", "{entitlement}:{level}");
        let debug = format!("{c:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(debug.contains("***"));
        assert_eq!(c.scrub("a s3cret b".into()), "a *** b");
    }
}
