//! Bearer tokens from `[server.tokens]`: each a name, a role and the SHA-256 of the token.
//! A presented token is hashed and compared with every configured hash in constant time.

use polc_provision::config::Server;
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads.
    Viewer,
    /// Reads, approves and rejects plans.
    Reviewer,
    /// Reads, approves, rejects, runs pulls, drift and reloads.
    Operator,
    /// Only posts HRIS events and snapshots.
    Hris,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "viewer" => Role::Viewer,
            "reviewer" => Role::Reviewer,
            "operator" => Role::Operator,
            "hris" => Role::Hris,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Reviewer => "reviewer",
            Role::Operator => "operator",
            Role::Hris => "hris",
        }
    }
}

/// What a route needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// No token (`/healthz` only).
    Public,
    /// viewer, reviewer, operator.
    Read,
    /// reviewer, operator.
    Review,
    /// operator.
    Operate,
    /// hris.
    Hris,
}

impl Access {
    pub fn allows(self, r: Role) -> bool {
        match self {
            Access::Public => true,
            Access::Read => matches!(r, Role::Viewer | Role::Reviewer | Role::Operator),
            Access::Review => matches!(r, Role::Reviewer | Role::Operator),
            Access::Operate => r == Role::Operator,
            Access::Hris => r == Role::Hris,
        }
    }

    pub fn roles(self) -> &'static [&'static str] {
        match self {
            Access::Public => &[],
            Access::Read => &["viewer", "reviewer", "operator"],
            Access::Review => &["reviewer", "operator"],
            Access::Operate => &["operator"],
            Access::Hris => &["hris"],
        }
    }
}

/// Who made a request: the token's name (the audit's actor) and its role.
#[derive(Clone, Debug)]
pub struct Caller {
    pub name: String,
    pub role: Role,
    /// The person holding the token (`person`, else the token's name): four eyes compares it.
    pub person: String,
}

struct Token {
    name: String,
    role: Role,
    person: String,
    sha256: [u8; 32],
}

/// The configured tokens.
pub struct Auth {
    tokens: Vec<Token>,
}

impl Auth {
    pub fn from_config(server: &Server) -> Result<Auth, String> {
        let mut tokens = Vec::new();
        for (name, t) in &server.tokens {
            let role = Role::parse(&t.role).ok_or_else(|| {
                format!(
                    "[server.tokens.{name}] role is \"{}\": expected \"viewer\", \"reviewer\", \"operator\" or \"hris\"",
                    t.role
                )
            })?;
            let raw = hex::decode(t.sha256.trim()).ok().filter(|b| b.len() == 32).ok_or_else(|| {
                format!("[server.tokens.{name}] sha256 is not 64 hex digits: put the SHA-256 of the token there (`printf %s TOKEN | sha256sum`), never the token")
            })?;
            let mut sha256 = [0u8; 32];
            sha256.copy_from_slice(&raw);
            tokens.push(Token {
                name: name.clone(),
                role,
                person: t.person.clone().unwrap_or_else(|| name.clone()),
                sha256,
            });
        }
        Ok(Auth { tokens })
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The person holding the token named `name` (its name when it is not configured any
    /// more, or names no person).
    pub fn person_of(&self, name: &str) -> String {
        self.tokens
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.person.clone())
            .unwrap_or_else(|| name.to_string())
    }

    /// The caller a bearer token belongs to.
    pub fn check(&self, token: &str) -> Option<Caller> {
        self.check_sha256(&Self::hash(token))
    }

    /// The SHA-256 of a token (what a session keeps instead of the token).
    pub fn hash(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }

    /// The caller whose token has this SHA-256: a session checks its token is still
    /// configured, with the same role, at each request (a reload may have removed it).
    pub fn check_sha256(&self, h: &[u8; 32]) -> Option<Caller> {
        let mut found = None;
        for t in &self.tokens {
            // no early exit: every configured hash is compared
            if bool::from(t.sha256.ct_eq(h)) {
                found = Some(Caller {
                    name: t.name.clone(),
                    role: t.role,
                    person: t.person.clone(),
                });
            }
        }
        found
    }
}
