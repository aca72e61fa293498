//! The lifecycle of people (docs/language.md §14, docs/lifecycle.md): HRIS events (joiner, mover, leaver) applied to
//! the user directory, and the delta each one makes to their access.

pub mod apply;
pub mod delta;
pub mod events;
pub mod render;

#[cfg(test)]
mod tests;
