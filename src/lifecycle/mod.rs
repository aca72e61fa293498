//! The lifecycle of people (LANGUAGE.md §5a): HRIS events (joiner, mover, leaver) applied to
//! the user directory, and the delta each one makes to their access.

pub mod apply;
pub mod delta;
pub mod events;
pub mod render;

#[cfg(test)]
mod tests;
