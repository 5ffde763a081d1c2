//! Code generation for gatehouse servers, as a plain library (the proc macros
//! in `gatehouse-macros` are thin shells around it, and its tests check the
//! output for every spec in the repository in as `generated/*/expanded.rs`).
//!
//! The pipeline: `gatehouse-specs` loads and checks a spec (parse → model →
//! check); [`server::expand`] turns the checked model into the server's module.
//! [`migrations::expand`] does the same for an app's migrations folder.

mod literal;
pub mod migrations;
pub mod server;
mod types;
