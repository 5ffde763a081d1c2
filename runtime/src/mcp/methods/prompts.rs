//! `prompts/list` and `prompts/get`: the spec's minijinja templates, with
//! variables from the arguments and, where the spec says so, a handler.

use serde_json::{Map, Value, json};

use super::params::{GetPromptParams, ListParams};
use super::{Methods, handler_error};
use crate::mcp::catalog::{Catalog, MessageTemplate};
use crate::mcp::context::Context;
use crate::mcp::error::McpError;
use crate::mcp::version::ProtocolVersion;
use crate::mcp::wire::{self, Content, ResourceContents};

fn template_name(prompt: &str, index: usize) -> String {
    format!("{prompt}#{index}")
}

/// Every prompt's templates, compiled once.
pub(super) fn environment(catalog: &Catalog) -> minijinja::Environment<'static> {
    let mut prompts = minijinja::Environment::new();
    // Prompts are plain text for a model, not HTML: no auto-escaping.
    prompts.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    // Block tags (`{% for %}`…) take their line with them, as in most Jinja setups.
    prompts.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .expect("the default delimiters are valid"),
    );
    for p in &catalog.prompts {
        for (i, source) in p.templates.iter().enumerate() {
            prompts
                .add_template_owned(template_name(&p.info.name, i), source.clone())
                .expect("prompt templates were checked by the spec loader");
        }
    }
    prompts
}

impl Methods {
    pub(crate) fn list_prompts(
        &self,
        v: ProtocolVersion,
        params: &ListParams,
    ) -> Result<Value, McpError> {
        let prompts: Vec<Value> = self
            .catalog
            .prompts
            .iter()
            .map(|p| json!(p.info.for_version(v)))
            .collect();
        self.page("prompts", &prompts, params)
    }

    pub(crate) async fn get_prompt(
        &self,
        ctx: Context,
        params: GetPromptParams,
    ) -> Result<Value, McpError> {
        let GetPromptParams { name, arguments } = params;
        let prompt = self
            .catalog
            .prompt(&name)
            .ok_or_else(|| McpError::InvalidParams(format!("Unknown prompt: {name}")))?;
        for (key, value) in &arguments {
            if !prompt.spec.arguments.contains_key(key) {
                return Err(McpError::InvalidParams(format!(
                    "Unknown argument `{key}` for prompt {name}"
                )));
            }
            if !value.is_string() {
                return Err(McpError::InvalidParams(format!(
                    "Argument `{key}` must be a string"
                )));
            }
        }
        for (arg, def) in &prompt.spec.arguments {
            if def.required && !arguments.contains_key(arg) {
                return Err(McpError::InvalidParams(format!(
                    "Missing required argument `{arg}` for prompt {name}"
                )));
            }
        }
        let mut vars = if prompt.handler {
            self.handlers
                .prompt_variables(prompt.index, ctx, arguments.clone())
                .await
                .map_err(handler_error)?
        } else {
            Map::new()
        };
        vars.extend(arguments);
        let vars = Value::Object(vars);
        let render = |i: usize| {
            self.prompts
                .get_template(&template_name(&name, i))
                .and_then(|t| t.render(minijinja::value::Serde(&vars)))
                .map_err(|e| McpError::internal(format!("prompt {name}: {e}")))
        };
        let mut messages = Vec::new();
        for (role, message) in &prompt.messages {
            let content = match message {
                MessageTemplate::Text(i) => Content::text(render(*i)?),
                MessageTemplate::Image { bytes, mime_type } => {
                    Content::image(bytes, mime_type.clone())
                }
                MessageTemplate::Resource {
                    uri,
                    mime_type,
                    text,
                } => Content::resource(ResourceContents::text(
                    render(*uri)?,
                    mime_type.as_deref(),
                    render(*text)?,
                )),
            };
            messages.push(wire::PromptMessage {
                role: *role,
                content,
            });
        }
        Ok(json!({ "description": prompt.info.description, "messages": messages }))
    }
}
