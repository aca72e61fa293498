//! Reconciliation: current access ([`access`]) held against policy ([`drift`]), and the plan
//! that remediates the difference ([`remediate`]); access mined into draft policy ([`mine`],
//! [`emit`], the whole pipeline in [`mining`]).

pub mod access;
pub mod drift;
pub mod impact;
pub mod mining;
pub mod remediate;
pub mod report;
