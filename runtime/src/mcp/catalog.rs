//! The catalog: the embedded spec read once at start-up and turned into what the
//! server lists and serves (tool descriptors with compiled input validators,
//! prompt templates, resources, origin rules, capabilities).

use std::collections::HashMap;

use gatehouse_specs::origin::OriginPattern;
use gatehouse_specs::uri_template::UriTemplate;
use gatehouse_specs::{Caching, Spec, SpecErrors};
use serde_json::{Value, json};

use super::definition::ServerDefinition;
use super::wire;

/// Why a definition could not become a catalog (a build/runtime mismatch; the
/// macro already validated the spec).
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("the embedded spec is invalid:\n{0}")]
    Spec(#[from] SpecErrors),
    #[error("tool `{0}` is in the spec but the generated code has no schema for it")]
    MissingSchema(String),
    #[error("the input schema of tool `{tool}` does not compile: {error}")]
    BadSchema { tool: String, error: String },
    #[error("resource `{0}` names a file that was not embedded")]
    MissingFile(String),
}

pub(crate) struct ToolEntry {
    pub info: wire::Tool,
    pub validator: jsonschema::Validator,
    /// Scopes a token needs to call the tool.
    pub scopes: Vec<String>,
}

/// One message of a prompt; numbers index the prompt's `templates`.
pub(crate) enum MessageTemplate {
    Text(usize),
    Image {
        bytes: &'static [u8],
        mime_type: String,
    },
    Resource {
        uri: usize,
        mime_type: Option<String>,
        text: usize,
    },
}

pub(crate) struct PromptEntry {
    pub info: wire::Prompt,
    pub messages: Vec<(wire::Role, MessageTemplate)>,
    /// The template sources the messages refer to.
    pub templates: Vec<String>,
    pub handler: bool,
    pub spec: gatehouse_specs::Prompt,
    /// Scopes a token needs to get the prompt or complete its arguments.
    pub scopes: Vec<String>,
}

pub(crate) enum ResourceSource {
    Text(String),
    File(&'static [u8]),
    Handler,
}

pub(crate) struct ResourceEntry {
    pub info: wire::Resource,
    pub source: ResourceSource,
    pub subscribe: bool,
    /// Scopes a token needs to read or subscribe to it.
    pub scopes: Vec<String>,
    /// Caching hints of its `resources/read` (2026-07-28).
    pub caching: Caching,
}

pub(crate) struct TemplateEntry {
    pub info: wire::ResourceTemplate,
    pub template: UriTemplate,
    /// Scopes a token needs to read its resources or complete its variables.
    pub scopes: Vec<String>,
    /// Caching hints of its resources' `resources/read` (2026-07-28).
    pub caching: Caching,
}

pub(crate) struct Catalog {
    /// The spec itself (the authorization server reads its sections).
    pub spec: Spec,
    pub server_info: wire::Implementation,
    pub instructions: Option<String>,
    pub tools: Vec<ToolEntry>,
    tool_index: HashMap<String, usize>,
    pub prompts: Vec<PromptEntry>,
    prompt_index: HashMap<String, usize>,
    pub resources: Vec<ResourceEntry>,
    pub templates: Vec<TemplateEntry>,
    pub origins: Vec<OriginPattern>,
    /// Caching hints of `server/discover` and the lists (2026-07-28).
    pub caching: Caching,
}

impl Catalog {
    pub(crate) fn build(def: &ServerDefinition) -> Result<Catalog, CatalogError> {
        let spec: Spec = gatehouse_specs::load_str(def.spec_yaml, def.spec_name, None)?;
        let mut tools = Vec::new();
        for (name, tool) in &spec.tools {
            let schemas = def
                .tools
                .iter()
                .find(|t| t.name == name)
                .ok_or_else(|| CatalogError::MissingSchema(name.clone()))?;
            let input_schema = (schemas.input)();
            let validator =
                jsonschema::validator_for(&input_schema).map_err(|e| CatalogError::BadSchema {
                    tool: name.clone(),
                    error: e.to_string(),
                })?;
            let a = &tool.annotations;
            let annotations = wire::ToolAnnotations {
                title: a.title.clone(),
                read_only_hint: a.read_only,
                destructive_hint: a.destructive,
                idempotent_hint: a.idempotent,
                open_world_hint: a.open_world,
            };
            tools.push(ToolEntry {
                info: wire::Tool {
                    name: name.clone(),
                    title: tool.title.clone(),
                    description: tool.description.clone(),
                    input_schema,
                    output_schema: schemas.output.map(|f| f()),
                    annotations: (!annotations.is_empty()).then_some(annotations),
                },
                validator,
                scopes: spec.required_scopes(&tool.scopes).to_vec(),
            });
        }
        let tool_index = index(tools.iter().map(|t| t.info.name.clone()));

        let mut prompts = Vec::new();
        for (name, p) in &spec.prompts {
            let mut templates = Vec::new();
            let mut add = |source: &str| {
                templates.push(source.to_string());
                templates.len() - 1
            };
            let mut messages = Vec::new();
            if let Some(t) = &p.template {
                messages.push((wire::Role::User, MessageTemplate::Text(add(t))));
            }
            for m in p.messages.iter().flatten() {
                let content = match (&m.text, &m.image, &m.resource) {
                    (Some(t), _, _) => MessageTemplate::Text(add(t)),
                    (None, Some(img), _) => MessageTemplate::Image {
                        bytes: def
                            .files
                            .iter()
                            .find(|(n, _)| *n == img.file)
                            .map(|(_, b)| *b)
                            .ok_or_else(|| CatalogError::MissingFile(name.clone()))?,
                        mime_type: img.mime_type.clone(),
                    },
                    (None, None, Some(r)) => MessageTemplate::Resource {
                        uri: add(&r.uri),
                        mime_type: r.mime_type.clone(),
                        text: add(&r.text),
                    },
                    (None, None, None) => continue,
                };
                messages.push((role(m.role), content));
            }
            prompts.push(PromptEntry {
                info: wire::Prompt {
                    name: name.clone(),
                    title: p.title.clone(),
                    description: p.description.clone(),
                    arguments: p
                        .arguments
                        .iter()
                        .map(|(n, a)| wire::PromptArgument {
                            name: n.clone(),
                            title: a.title.clone(),
                            description: a.description.clone(),
                            required: a.required,
                        })
                        .collect(),
                },
                messages,
                templates,
                handler: p.handler,
                spec: p.clone(),
                scopes: spec.required_scopes(&p.scopes).to_vec(),
            });
        }
        let prompt_index = index(prompts.iter().map(|p| p.info.name.clone()));

        let mut resources = Vec::new();
        for (name, r) in &spec.resources {
            let source = match (&r.text, &r.file) {
                (Some(t), _) => ResourceSource::Text(t.clone()),
                (None, Some(f)) => ResourceSource::File(
                    def.files
                        .iter()
                        .find(|(n, _)| n == f)
                        .map(|(_, b)| *b)
                        .ok_or_else(|| CatalogError::MissingFile(name.clone()))?,
                ),
                (None, None) => ResourceSource::Handler,
            };
            let size = match &source {
                ResourceSource::Text(t) => Some(t.len() as u64),
                ResourceSource::File(b) => Some(b.len() as u64),
                ResourceSource::Handler => None,
            };
            resources.push(ResourceEntry {
                info: wire::Resource {
                    uri: r.uri.clone(),
                    name: name.clone(),
                    title: r.title.clone(),
                    description: r.description.clone(),
                    mime_type: r.mime_type.clone(),
                    size,
                },
                subscribe: r.subscribe,
                scopes: spec.required_scopes(&r.scopes).to_vec(),
                caching: r.caching.unwrap_or(match source {
                    ResourceSource::Handler => Caching::HANDLER,
                    _ => spec.caching.unwrap_or(Caching::CATALOG),
                }),
                source,
            });
        }
        let templates = spec
            .resource_templates
            .iter()
            .map(|(name, t)| TemplateEntry {
                info: wire::ResourceTemplate {
                    uri_template: t.uri_template.clone(),
                    name: name.clone(),
                    title: t.title.clone(),
                    description: t.description.clone(),
                    mime_type: t.mime_type.clone(),
                },
                template: UriTemplate::parse(&t.uri_template)
                    .expect("validated by the spec loader"),
                scopes: spec.required_scopes(&t.scopes).to_vec(),
                caching: t.caching.unwrap_or(Caching::HANDLER),
            })
            .collect();

        let mut origins: Vec<OriginPattern> = spec
            .origins
            .allow
            .iter()
            .map(|o| o.parse().expect("validated by the spec loader"))
            .collect();
        if spec.origins.loopback {
            origins.extend(OriginPattern::loopback());
        }

        let s = spec.server.clone();
        Ok(Catalog {
            server_info: wire::Implementation {
                name: s.name.clone(),
                title: s.title.clone(),
                version: s.version.clone(),
                description: s.description.clone(),
                website_url: s.website_url.clone(),
            },
            instructions: s.instructions.clone(),
            tools,
            tool_index,
            prompts,
            prompt_index,
            resources,
            templates,
            origins,
            caching: spec.caching.unwrap_or(Caching::CATALOG),
            spec,
        })
    }

    pub(crate) fn tool(&self, name: &str) -> Option<&ToolEntry> {
        self.tool_index.get(name).map(|&i| &self.tools[i])
    }

    pub(crate) fn prompt(&self, name: &str) -> Option<&PromptEntry> {
        self.prompt_index.get(name).map(|&i| &self.prompts[i])
    }

    /// The scopes reading `uri` needs: its resource's, else those of the first
    /// template it matches; `None` when nothing serves it.
    pub(crate) fn resource_scopes(&self, uri: &str) -> Option<&[String]> {
        if let Some(r) = self.resources.iter().find(|r| r.info.uri == uri) {
            return Some(&r.scopes);
        }
        self.templates
            .iter()
            .find(|t| t.template.matches(uri).is_some())
            .map(|t| &t.scopes[..])
    }

    /// The scopes completing an argument of `reference` (`ref/prompt` by name,
    /// `ref/resource` by template or URI) needs.
    pub(crate) fn completion_scopes(&self, reference: &Value) -> Option<&[String]> {
        match reference.get("type").and_then(Value::as_str)? {
            "ref/prompt" => {
                let name = reference.get("name").and_then(Value::as_str)?;
                self.prompt(name).map(|p| &p.scopes[..])
            }
            "ref/resource" => {
                let uri = reference.get("uri").and_then(Value::as_str)?;
                self.templates
                    .iter()
                    .find(|t| t.info.uri_template == uri)
                    .map(|t| &t.scopes[..])
                    .or_else(|| self.resource_scopes(uri))
            }
            _ => None,
        }
    }

    pub(crate) fn has_prompts(&self) -> bool {
        !self.prompts.is_empty()
    }

    pub(crate) fn has_resources(&self) -> bool {
        !self.resources.is_empty() || !self.templates.is_empty()
    }

    /// Whether any resource takes subscriptions (`resources.subscribe`).
    pub(crate) fn has_subscriptions(&self) -> bool {
        self.resources.iter().any(|r| r.subscribe)
    }

    /// What `initialize` declares: only what this server offers (L-8).
    pub(crate) fn capabilities(&self) -> Value {
        let mut caps = json!({ "tools": {}, "logging": {} });
        if self.has_prompts() {
            caps["prompts"] = json!({});
            caps["completions"] = json!({});
        }
        if self.has_resources() {
            caps["resources"] = if self.has_subscriptions() {
                json!({ "subscribe": true })
            } else {
                json!({})
            };
            caps["completions"] = json!({});
        }
        caps
    }
}

fn role(r: gatehouse_specs::Role) -> wire::Role {
    match r {
        gatehouse_specs::Role::User => wire::Role::User,
        gatehouse_specs::Role::Assistant => wire::Role::Assistant,
    }
}

fn index(names: impl Iterator<Item = String>) -> HashMap<String, usize> {
    names.enumerate().map(|(i, n)| (n, i)).collect()
}
