//! Connectors: how polc reads and changes what a target system holds.
//!
//! One trait, [`Connector`], with three implementations (`file`, `exec`, `scim`) and a
//! wrapper that adds retries, rate limits and quarantine. This crate knows nothing of Pol:
//! an entitlement is the text of a grant reference (`slack:channel:#sales`, without its
//! level) and a level is a name. The provisioning crate decides *what* to change; a
//! connector only knows *how*.
//!
//! Every call is idempotent: granting what is held answers [`Applied::AlreadyPresent`],
//! revoking what is gone [`Applied::AlreadyAbsent`].

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub mod exec;
pub mod file;
pub mod retry;
pub mod scim;
pub mod testing;
mod text;

pub use exec::{ExecConfig, ExecConnector};
pub use file::{FileConfig, FileConnector};
pub use retry::{RetryConfig, Retrying};
pub use scim::{ScimConfig, ScimConnector, Secret};

/// One entry of what a system holds: a person holding an entitlement at a level.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Holding {
    /// The HRIS user id the account belongs to (for SCIM: mapped back from `userName`).
    pub user_id: String,
    /// The full grant reference without its level: `gitlab:group:customer-solutions`.
    pub grant: String,
    /// The level held; `None` for types without levels.
    pub level: Option<String>,
}

/// An account in a system and whether it is active.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountState {
    pub user_id: String,
    pub active: bool,
}

/// What a system holds, as one listing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    pub holdings: Vec<Holding>,
    /// Accounts known to the system (with or without holdings); empty when the system has
    /// no notion of accounts (the `file` connector).
    pub accounts: Vec<AccountState>,
}

/// The person an action is for: the HRIS user id and the record's attributes as text
/// (what `user_name` templates such as `{user_id}` or `{email}` are filled from).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub user_id: String,
    pub attributes: BTreeMap<String, String>,
}

/// What to do with a leaver's account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaverMode {
    /// Keep the account but make it inactive (SCIM `active = false`).
    Deactivate,
    /// Delete the account.
    Delete,
    /// Leave the account as it is (its entitlements are still revoked).
    Keep,
}

/// One change to a system.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Change {
    /// Give `grant` at `level` (creating the account first if the system needs one).
    Grant {
        grant: String,
        level: Option<String>,
    },
    /// Take `grant` away at every level it is held.
    Revoke { grant: String },
    /// Move `grant` from `from` to `to`: the new level is granted before the old one is
    /// revoked.
    SetLevel {
        grant: String,
        from: Option<String>,
        to: Option<String>,
    },
    /// A leaver's account, as the mode says.
    Deprovision { mode: LeaverMode },
    /// A rehire: make an inactive account active again (no-op where there is none).
    Reactivate,
}

/// How a change went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Applied {
    /// The system changed.
    Done,
    /// Nothing to do: the grant (or active account) was already there.
    AlreadyPresent,
    /// Nothing to do: the grant (or account) was already gone.
    AlreadyAbsent,
}

/// What a system holds of one entitlement for one person, read back after a change.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadBack {
    /// The levels at which the person holds the grant (`[None]` for a type without levels
    /// that is held; empty when not held).
    pub levels: Vec<Option<String>>,
    /// Whether the person's account is active; `None` when there is no account or the
    /// system has no notion of one.
    pub active: Option<bool>,
}

/// Why a call failed. Messages never contain a secret (tokens are never formatted).
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// A network error, a timeout, a 5xx, a program that died: worth retrying.
    #[error("{0}")]
    Transient(String),
    /// The server asked to slow down (HTTP 429), for this long if it said.
    #[error("rate limited by the system{}", .retry_after.map(|d| format!(" (retry after {} s)", d.as_secs())).unwrap_or_default())]
    RateLimited { retry_after: Option<Duration> },
    /// The resource changed under us (HTTP 412): re-read and retry.
    #[error("the resource changed since it was read: {0}")]
    Conflict(String),
    /// A refusal that a retry will not change (4xx, a program's `retry: false`).
    #[error("{0}")]
    Permanent(String),
    /// The connector's configuration is wrong (no token, bad URL, bad template).
    #[error("configuration: {0}")]
    Config(String),
    /// The system failed too many calls in a row and is no longer called (see
    /// [`Retrying`]); the text is the last failure.
    #[error("quarantined after {failures} failed calls in a row; last: {last}")]
    Quarantined { failures: u32, last: String },
    /// The change was accepted but reading it back never showed it (within
    /// `read_back_seconds`): the action failed.
    #[error("not confirmed: {0}")]
    NotConfirmed(String),
}

/// What [`Connector::read_back_batch`] answers for each item: the levels at which the
/// person holds the grant, or why it could not be read.
pub type BatchRead = Vec<Result<Vec<Option<String>>, ConnectorError>>;

impl ConnectorError {
    /// Worth another attempt?
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ConnectorError::Transient(_)
                | ConnectorError::RateLimited { .. }
                | ConnectorError::Conflict(_)
        )
    }
}

impl Change {
    /// The grant the change is about; `None` for account changes.
    pub fn grant(&self) -> Option<&str> {
        match self {
            Change::Grant { grant, .. }
            | Change::Revoke { grant }
            | Change::SetLevel { grant, .. } => Some(grant),
            Change::Deprovision { .. } | Change::Reactivate => None,
        }
    }

    /// Whether `seen` (a [`Connector::read_back`] of [`Change::grant`]) shows the change
    /// made. A system without accounts answers `active: None`, which satisfies every
    /// account change.
    pub fn is_shown_by(&self, seen: &ReadBack) -> bool {
        match self {
            Change::Grant { level, .. } => seen.levels.contains(level),
            Change::Revoke { .. } => seen.levels.is_empty(),
            Change::SetLevel { from, to, .. } => {
                seen.levels.contains(to) && (from == to || !seen.levels.contains(from))
            }
            Change::Deprovision {
                mode: LeaverMode::Deactivate,
            } => seen.active != Some(true),
            Change::Deprovision {
                mode: LeaverMode::Delete,
            } => seen.active.is_none(),
            Change::Deprovision {
                mode: LeaverMode::Keep,
            } => true,
            Change::Reactivate => seen.active != Some(false),
        }
    }
}

/// The entitlement of a grant reference: the text after the system's name
/// (`channel:#sales` for `slack:channel:#sales`); `None` without a `:`.
pub fn entitlement_of(grant: &str) -> Option<&str> {
    grant.split_once(':').map(|(_, rest)| rest)
}

/// A target system, as polc reads and changes it.
pub trait Connector: Send {
    /// Everything the system holds (paged internally; the whole listing or an error).
    fn list(&mut self) -> Result<Listing, ConnectorError>;
    /// Makes one change; idempotent.
    fn apply(&mut self, person: &Person, change: &Change) -> Result<Applied, ConnectorError>;
    /// What the system holds now of `grant` for `person` (to confirm a change); `grant`
    /// `None` reads only the account's state.
    fn read_back(
        &mut self,
        person: &Person,
        grant: Option<&str>,
    ) -> Result<ReadBack, ConnectorError>;

    /// Makes several changes, one result per item in order. The default applies them one
    /// by one; a connector that can do better overrides it (the `file` connector reads and
    /// writes its file once per batch).
    fn apply_batch(&mut self, items: &[(Person, Change)]) -> Vec<Result<Applied, ConnectorError>> {
        items
            .iter()
            .map(|(person, change)| self.apply(person, change))
            .collect()
    }

    /// The levels at which each person holds each grant, read for several changes at once
    /// (to confirm them), one result per item in order; `None` when the connector has no
    /// better way than [`Connector::read_back`] one by one (the default). The SCIM connector
    /// reads each group once for every person of the batch.
    fn read_back_batch(&mut self, _items: &[(Person, String)]) -> Option<BatchRead> {
        None
    }

    /// Whether [`Connector::apply_batch`] makes the whole batch in one call (the `file`
    /// connector: one lock, one read, one write) rather than one call per item (the
    /// default). The retrying wrapper sends a batch that is one call as one, and the items
    /// of any other batch one at a time, stopping once the system is quarantined.
    fn takes_batches(&self) -> bool {
        false
    }

    /// The people the caller knows (the HRIS records), so that a listing can map accounts
    /// back to user ids when the account name is made from other attributes (SCIM
    /// `user_name = "{email}"`). The default ignores them.
    fn set_directory(&mut self, _people: &[Person]) {}
}

impl<C: Connector + ?Sized> Connector for Box<C> {
    fn list(&mut self) -> Result<Listing, ConnectorError> {
        (**self).list()
    }
    fn apply(&mut self, person: &Person, change: &Change) -> Result<Applied, ConnectorError> {
        (**self).apply(person, change)
    }
    fn read_back(
        &mut self,
        person: &Person,
        grant: Option<&str>,
    ) -> Result<ReadBack, ConnectorError> {
        (**self).read_back(person, grant)
    }
    fn apply_batch(&mut self, items: &[(Person, Change)]) -> Vec<Result<Applied, ConnectorError>> {
        (**self).apply_batch(items)
    }
    fn takes_batches(&self) -> bool {
        (**self).takes_batches()
    }
    fn read_back_batch(&mut self, items: &[(Person, String)]) -> Option<BatchRead> {
        (**self).read_back_batch(items)
    }
    fn set_directory(&mut self, people: &[Person]) {
        (**self).set_directory(people)
    }
}
