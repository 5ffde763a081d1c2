//! The gatehouse spec format.
//!
//! A spec is a YAML file describing an MCP server: its identity, tools with typed
//! inputs and outputs, prompts, resources, scopes and origin rules. This crate
//! loads one (parse → model → check) and reports every problem with its file,
//! line and column. `gatehouse-codegen` turns a loaded spec into Rust code, and
//! that code hands the `gatehouse` runtime the checked model as Rust values: a
//! server never parses YAML.
//!
//! The loader (YAML, checks, the known-clients file) is the `load` feature, on
//! by default; the runtime uses the model and its helpers (patterns, URI
//! templates, naming) without it.

#[cfg(feature = "load")]
mod check;
#[cfg(feature = "load")]
pub mod clients;
pub mod documents;
#[cfg(feature = "load")]
mod error;
#[cfg(feature = "load")]
mod load;
pub mod model;
pub mod naming;
pub mod origin;
#[cfg(feature = "load")]
pub mod positions;
pub mod providers;
pub mod redirect;
#[cfg(feature = "load")]
mod types;
pub mod uri_template;

#[cfg(feature = "load")]
pub use check::check_value;
#[cfg(feature = "load")]
pub use error::{SpecError, SpecErrors};
#[cfg(feature = "load")]
pub use load::{load_file, load_str};
pub use model::*;

/// The JSON Schema of spec files (checked in as `specs/schema.json`).
#[cfg(feature = "load")]
pub fn json_schema() -> serde_json::Value {
    let generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    generator.into_root_schema_for::<Spec>().to_value()
}
