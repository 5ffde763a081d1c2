//! gatehouse: spec-driven remote MCP servers.
//!
//! A YAML spec describes the server: its tools with typed inputs and
//! outputs, prompts, resources, OAuth scopes and sign-in (docs/spec.md).
//! [`spec!`] reads it at compile time and generates a module: one argument
//! type per tool (and an output type where the spec declares one), a `Tools`
//! trait with one async method per tool, and `app(tools)`. This crate serves
//! the result: the MCP Streamable HTTP endpoint (both the session era and
//! 2026-07-28), an OAuth 2.1 authorization server in front of it, and every
//! piece of state in a [`Store`] (SQLite by default, PostgreSQL for
//! replicas).
//!
//! # A server
//!
//! ```no_run
//! // The spec's `echo` tool takes `{ text: string }`.
//! mod api {
//!     gatehouse::spec!("../specs/bench.yaml");
//! }
//!
//! use gatehouse::{Context, ToolError, ToolResult};
//!
//! struct Echo;
//!
//! impl api::Tools for Echo {
//!     async fn echo(&self, ctx: Context, args: api::EchoArgs) -> Result<ToolResult, ToolError> {
//!         if args.text.is_empty() {
//!             // The model reads this and can try again.
//!             return Err(ToolError::failed("say something"));
//!         }
//!         Ok(ToolResult::text(format!("{} said: {}", ctx.user_id(), args.text)))
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> std::process::ExitCode {
//!     // Reads GATEHOUSE_* and DATABASE_URL, serves, and takes the operator
//!     // commands (`users add`, `tokens issue`, …; `--help`).
//!     gatehouse::run(|_store| async { Ok(api::app(Echo)) }).await
//! }
//! ```
//!
//! A tool the spec declares and the `impl` lacks is a compile error naming
//! it; a spec mistake is a compile error with its file, line and column.
//! docs/new-server.md goes from an empty directory to a running server.
//!
//! # What a tool has
//!
//! - [`Context`]: who is calling ([`Context::user_id`], scopes), progress and
//!   log messages, cancellation, questions to the client in the middle of a
//!   call ([`Context::ask`] with an [`Elicitation`], [`Sampling`] or
//!   [`ListRoots`]; the same code works in a session and in the 2026-07-28
//!   era), tokens of the sign-in provider ([`Context::upstream_token`]).
//! - [`ToolResult`] and [`Content`] for what it returns, or its generated
//!   output type; [`ToolError`] for how it fails.
//! - [`AppStore`] and [`migrations!`] for its own tables, on whichever
//!   database the server runs, with the server's pool and deadline.
//!
//! # Running it
//!
//! [`run`] is a whole `main`. [`Config`] and [`App::start`] are the parts,
//! for tests and for embedding; [`settings`] holds the limits and lifetimes
//! beyond the environment.

// Every item an author can reach is documented (issue 14; CI lints and
// documents the crate without `testing`, whose re-exported internals are not
// the author's API).
#![cfg_attr(not(feature = "testing"), warn(missing_docs))]

mod app;
mod audit;
mod cli;
mod config;
mod http;
mod logging;
mod mcp;
mod oauth;
mod principal;
mod resource;
mod store;

pub use app::{App, Running, Server, StartError, bind_listener, run, run_with};
pub use config::{Config, ConfigError, Env};
pub use gatehouse_macros::{migrations, spec};
pub use gatehouse_specs::Auth;
pub use logging::init_tracing;
pub use mcp::jsonrpc::RequestId;
pub use mcp::wire::{Annotations, Content, ResourceContents, Role, ToolResult};
pub use mcp::{
    ClientRequestError, CompletionRef, CompletionRequest, Context, ElicitAction, ElicitResult,
    Elicitation, InputRequest, ListRoots, LogLevel, ProtocolVersion, ResourceError, Root, Roots,
    Sampling, SamplingMessage, SamplingResult, Settings, ToolError,
};
pub use oauth::OAuthStartError;
pub use oauth::keys::KeysError;
pub use principal::Principal;
pub use store::{
    AppMigration, AppMigrations, AppStore, Arg, Backend, Query, Store, StoreError, StoreResult,
};

/// Tunables beyond the environment ([`Config`]): limits, lifetimes and
/// timeouts with production defaults, changed in code through
/// [`run_with`] or [`Config::settings`].
pub mod settings {
    pub use crate::http::client_addr::TrustedProxies;
    pub use crate::http::connections::ConnectionLimits;
    pub use crate::http::egress::EgressLimits;
    pub use crate::mcp::Settings;
    pub use crate::oauth::OAuthSettings;
    pub use crate::oauth::client_documents::DocumentSettings;
    pub use crate::oauth::guards::AbuseLimits;
    pub use crate::oauth::upstream::UpstreamSettings;
}

/// Internals for black-box tests and benchmarks (feature `testing`): create
/// accounts, rotate keys, read store rows, frame JSON-RPC. Not for servers.
#[cfg(feature = "testing")]
#[doc(hidden)]
pub mod testing {
    pub use crate::mcp::jsonrpc;
    pub use crate::oauth::guards::Guards;
    pub use crate::oauth::{accounts, keys, secrets};
    pub use crate::store::{ClientRow, SessionRow, StreamState, now_ms};
}

#[cfg(feature = "mimalloc")]
mod allocator;

/// The process's allocator (feature `mimalloc`, on by default): see
/// docs/performance.md for what it saves on every request.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: allocator::Mimalloc = allocator::Mimalloc;

/// Support for code generated by [`spec!`]; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use gatehouse_specs as specs;
    pub use schemars;
    pub use serde;
    pub use serde_json;

    pub use crate::mcp::{BoxFuture, Handlers, ServerDefinition, ToolSchemas};

    use crate::mcp::wire::ToolResult;
    use crate::mcp::{ResourceError, ToolError};
    use serde::Serialize;
    use serde::de::DeserializeOwned;
    use serde_json::{Map, Value};

    /// A number of the spec that is not an integer (it was parsed from the
    /// spec, so it is finite).
    pub fn number(f: f64) -> serde_json::Number {
        serde_json::Number::from_f64(f).unwrap_or_else(|| serde_json::Number::from(0))
    }

    /// Typed arguments from validated JSON (a failure here is still the
    /// caller's), read in place: serde_json's errors read the same as
    /// `from_value`'s.
    pub fn parse_args<T: DeserializeOwned>(args: &Value) -> Result<T, ToolError> {
        T::deserialize(args).map_err(|e| ToolError::InvalidArguments(e.to_string()))
    }

    /// A typed output as `structuredContent` plus its JSON text.
    pub fn structured<T: Serialize>(output: T) -> Result<ToolResult, ToolError> {
        Ok(ToolResult::structured(serde_json::to_value(output)?))
    }

    /// Typed template variables from a matched URI.
    pub fn template_params<T: DeserializeOwned>(
        pairs: Vec<(String, String)>,
    ) -> Result<T, ResourceError> {
        let map: Map<String, Value> = pairs
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        serde_json::from_value(Value::Object(map))
            .map_err(|e| ResourceError::InvalidUri(e.to_string()))
    }

    /// Typed prompt arguments.
    pub fn prompt_args<T: DeserializeOwned>(args: Map<String, Value>) -> Result<T, ToolError> {
        serde_json::from_value(Value::Object(args))
            .map_err(|e| ToolError::InvalidArguments(e.to_string()))
    }

    /// The dispatch table has no tool at that position (the catalog and the
    /// table come from one definition, so this means they were mixed up).
    pub fn unknown_tool<'a>(index: usize) -> BoxFuture<'a, Result<ToolResult, ToolError>> {
        let e = ToolError::internal(anyhow::anyhow!("no handler for tool #{index}"));
        Box::pin(async move { Err(e) })
    }

    pub fn unknown_resource<'a>(
        index: usize,
    ) -> BoxFuture<'a, Result<Vec<crate::ResourceContents>, ResourceError>> {
        let e = ResourceError::Internal(anyhow::anyhow!("no handler for resource #{index}"));
        Box::pin(async move { Err(e) })
    }

    pub fn unknown_prompt<'a>(
        index: usize,
    ) -> BoxFuture<'a, Result<Map<String, Value>, ToolError>> {
        let e = ToolError::internal(anyhow::anyhow!("no handler for prompt #{index}"));
        Box::pin(async move { Err(e) })
    }

    /// Prompt template variables from a handler's serializable value.
    pub fn variables<T: Serialize>(value: T) -> Result<Map<String, Value>, ToolError> {
        match serde_json::to_value(value)? {
            Value::Object(m) => Ok(m),
            Value::Null => Ok(Map::new()),
            other => Err(ToolError::internal(anyhow::anyhow!(
                "prompt variables must serialize to an object, not {other}"
            ))),
        }
    }
}
