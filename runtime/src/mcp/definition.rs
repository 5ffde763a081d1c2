//! The boundary between generated code and the runtime: what the `spec!` macro
//! hands over ([`ServerDefinition`]: the checked spec as values, the schemas of
//! the typed arguments, embedded files) and the object-safe [`Handlers`] trait
//! its dispatch table implements on top of the user's `Tools` implementation.
//! Handlers are called by position in the spec (the n-th tool, resource,
//! template or prompt), the same positions the catalog keeps.

use std::future::Future;
use std::pin::Pin;

use schemars::JsonSchema;
use serde_json::{Map, Value};

use super::context::{CompletionRequest, Context, ResourceError, ToolError};
use super::wire::{ResourceContents, ToolResult};

/// A boxed future, as the object-safe [`Handlers`] return them.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Static facts about a generated server.
pub struct ServerDefinition {
    /// The spec file as the macro was given it.
    pub spec_name: &'static str,
    /// The spec as the macro loaded and checked it, built from Rust values.
    pub spec: gatehouse_specs::Spec,
    /// JSON Schemas of each tool's typed input and output, in spec order.
    pub tools: Vec<ToolSchemas>,
    /// Files named by resources (`file:`), embedded at compile time.
    pub files: Vec<(&'static str, &'static [u8])>,
}

/// The schemas of one tool, derived from its generated types with schemars.
pub struct ToolSchemas {
    /// The tool's name.
    pub name: &'static str,
    /// Its input schema.
    pub input: fn() -> Value,
    /// Its output schema, when it declares an output.
    pub output: Option<fn() -> Value>,
}

impl ToolSchemas {
    /// A tool whose arguments are the generated type `I`.
    pub fn of<I: JsonSchema>(name: &'static str) -> ToolSchemas {
        ToolSchemas {
            name,
            input: schema_for::<I>,
            output: None,
        }
    }

    /// A tool whose input schema the spec gives as is (`input_schema`).
    pub fn raw(name: &'static str, input: fn() -> Value) -> ToolSchemas {
        ToolSchemas {
            name,
            input,
            output: None,
        }
    }

    /// The tool returns the generated type `O` as `structuredContent`.
    pub fn with_output<O: JsonSchema>(mut self) -> ToolSchemas {
        self.output = Some(schema_for::<O>);
        self
    }
}

/// A JSON Schema for a type: draft 2020-12, subschemas inlined, no `$schema`, and
/// at the root neither the Rust type's name (`title`) nor its doc comment
/// (`description`): tool schemas are read by models, and the tool has its own.
pub fn schema_for<T: JsonSchema>() -> Value {
    let generator = schemars::generate::SchemaSettings::draft2020_12()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .into_generator();
    let mut schema = generator.into_root_schema_for::<T>().to_value();
    if let Some(obj) = schema.as_object_mut() {
        obj.remove("title");
        obj.remove("description");
    }
    schema
}

/// The dispatch table generated for a spec: calls into the user's `Tools`.
pub trait Handlers: Send + Sync + 'static {
    /// Call the `tool`-th tool; `args` already passed the input schema (read
    /// where they are: a 2026-07-28 call's input binding holds them too).
    fn call_tool<'a>(
        &'a self,
        tool: usize,
        ctx: Context,
        args: &'a Value,
    ) -> BoxFuture<'a, Result<ToolResult, ToolError>>;

    /// Read the `resource`-th resource (one declared with `handler: true`).
    fn read_resource<'a>(
        &'a self,
        resource: usize,
        ctx: Context,
        uri: String,
    ) -> BoxFuture<'a, Result<Vec<ResourceContents>, ResourceError>>;

    /// Read a resource of the `template`-th resource template; `params` are its
    /// variables, percent-decoded.
    fn read_template<'a>(
        &'a self,
        template: usize,
        ctx: Context,
        uri: String,
        params: Vec<(String, String)>,
    ) -> BoxFuture<'a, Result<Vec<ResourceContents>, ResourceError>>;

    /// Extra template variables for the `prompt`-th prompt (declared with
    /// `handler: true`).
    fn prompt_variables<'a>(
        &'a self,
        prompt: usize,
        ctx: Context,
        args: Map<String, Value>,
    ) -> BoxFuture<'a, Result<Map<String, Value>, ToolError>>;

    /// Suggestions for `completion/complete` beyond a prompt argument's `values`.
    fn complete<'a>(
        &'a self,
        ctx: Context,
        request: CompletionRequest,
    ) -> BoxFuture<'a, Result<Vec<String>, ToolError>>;
}
