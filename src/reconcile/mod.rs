//! Reconciliation: current access ([`access`]) held against policy ([`drift`]), and the plan
//! that remediates the difference ([`remediate`]).

pub mod access;
pub mod drift;
pub mod impact;
pub mod impact_render;
pub mod remediate;
pub mod report;
