//! The gatehouse spec format.
//!
//! A spec is a YAML file describing an MCP server: its identity, tools with typed
//! inputs and outputs, prompts, resources, scopes and origin rules. This crate
//! loads one (parse → model → check) and reports every problem with its file,
//! line and column. The `gatehouse-macros` crate turns a loaded spec into Rust code;
//! the `gatehouse` runtime reads the same spec, embedded in the binary, at start-up.

mod check;
pub mod clients;
pub mod documents;
mod error;
mod load;
pub mod model;
pub mod naming;
pub mod origin;
pub mod positions;
pub mod providers;
pub mod redirect;
mod types;
pub mod uri_template;

pub use check::check_value;
pub use error::{SpecError, SpecErrors};
pub use load::{load_file, load_str};
pub use model::*;

/// The JSON Schema of spec files (checked in as `specs/schema.json`).
pub fn json_schema() -> serde_json::Value {
    let generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    generator.into_root_schema_for::<Spec>().to_value()
}
