//! The catalog: the generated definition turned, once at start-up, into what
//! the server lists and serves (tool descriptors with compiled input
//! validators, prompt templates, resources, origin rules, capabilities). Each
//! entry keeps its position in the spec, which is how the dispatch table calls
//! its handler.

use std::collections::HashMap;

use gatehouse_specs::origin::OriginPattern;
use gatehouse_specs::uri_template::UriTemplate;
use gatehouse_specs::{Caching, Spec};
use serde_json::{Value, json};

use super::definition::ServerDefinition;
use super::wire;

pub(crate) struct ToolEntry {
    /// Its position in the spec: how the dispatch table calls it.
    pub index: usize,
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
    /// Its position in the spec: how the dispatch table calls its handler.
    pub index: usize,
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
    /// Its position in the spec: how the dispatch table calls its handler.
    pub index: usize,
    pub info: wire::Resource,
    pub source: ResourceSource,
    pub subscribe: bool,
    /// Scopes a token needs to read or subscribe to it.
    pub scopes: Vec<String>,
    /// Caching hints of its `resources/read` (2026-07-28).
    pub caching: Caching,
}

pub(crate) struct TemplateEntry {
    /// Its position in the spec: how the dispatch table calls its handler.
    pub index: usize,
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
    tool_index: Index,
    pub prompts: Vec<PromptEntry>,
    prompt_index: Index,
    pub resources: Vec<ResourceEntry>,
    pub templates: Vec<TemplateEntry>,
    pub origins: Vec<OriginPattern>,
    /// Caching hints of `server/discover` and the lists (2026-07-28).
    pub caching: Caching,
}

impl Catalog {
    /// Everything here was checked when the definition was generated: the
    /// spec by the loader, raw input schemas against the meta-schema, the
    /// files by being embedded. What is left cannot fail on a definition the
    /// macro made, so a failure is a bug and says so.
    pub(crate) fn build(def: ServerDefinition) -> Catalog {
        let ServerDefinition {
            spec,
            tools: schemas,
            files,
            ..
        } = def;
        let file = |name: &str| -> &'static [u8] {
            files
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, b)| *b)
                .expect("the generated definition embeds every file its spec names")
        };
        debug_assert!(spec.tools.keys().eq(schemas.iter().map(|s| s.name)));
        let mut tools = Vec::new();
        for (index, ((name, tool), schemas)) in spec.tools.iter().zip(&schemas).enumerate() {
            let input_schema = (schemas.input)();
            let validator = jsonschema::validator_for(&input_schema)
                .expect("input schemas are derived by schemars or checked by the spec loader");
            let a = &tool.annotations;
            let annotations = wire::ToolAnnotations {
                title: a.title.clone(),
                read_only_hint: a.read_only,
                destructive_hint: a.destructive,
                idempotent_hint: a.idempotent,
                open_world_hint: a.open_world,
            };
            tools.push(ToolEntry {
                index,
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
        for (index, (name, p)) in spec.prompts.iter().enumerate() {
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
                        bytes: file(&img.file),
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
                index,
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
        for (index, (name, r)) in spec.resources.iter().enumerate() {
            let source = match (&r.text, &r.file) {
                (Some(t), _) => ResourceSource::Text(t.clone()),
                (None, Some(f)) => ResourceSource::File(file(f)),
                (None, None) => ResourceSource::Handler,
            };
            let size = match &source {
                ResourceSource::Text(t) => Some(t.len() as u64),
                ResourceSource::File(b) => Some(b.len() as u64),
                ResourceSource::Handler => None,
            };
            resources.push(ResourceEntry {
                index,
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
            .enumerate()
            .map(|(index, (name, t))| TemplateEntry {
                index,
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
        Catalog {
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
        }
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

/// Names to positions, hashed with foldhash: a `tools/call` looks its tool
/// up twice (scopes, then the call), and SipHash was most of each lookup. The
/// table is the server's own and never grows, so a caller choosing names
/// cannot flood it.
type Index = HashMap<String, usize, foldhash::fast::RandomState>;

fn index(names: impl Iterator<Item = String>) -> Index {
    names.enumerate().map(|(i, n)| (n, i)).collect()
}
