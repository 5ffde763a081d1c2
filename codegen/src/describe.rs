//! The intermediate description: what the module of a checked spec will hold,
//! with every Rust name decided (methods, argument and output types), every
//! handler's position in the spec (how dispatch calls it) and every file to
//! embed. The emitters (`emit/`) only turn it into tokens.

use gatehouse_specs::naming::{prompt_method, resource_method, tool_method, upper_camel_case};
use gatehouse_specs::uri_template::UriTemplate;
use gatehouse_specs::{Field, PromptArgument, Spec};
use indexmap::IndexMap;
use serde_json::Value;

/// A spec's module, described.
pub struct Module<'s> {
    /// The checked spec (the definition emits it whole).
    pub spec: &'s Spec,
    /// The spec's path as the macro was given it, relative to the crate.
    pub spec_rel: &'s str,
    pub tools: Vec<ToolItem<'s>>,
    /// Resources served by a handler (`handler: true`).
    pub resources: Vec<ResourceItem<'s>>,
    pub templates: Vec<TemplateItem<'s>>,
    /// Prompts with a handler (`handler: true`).
    pub prompts: Vec<PromptItem<'s>>,
    /// Files named by resources and prompt images, embedded by name.
    pub files: Vec<EmbeddedFile>,
}

/// How a tool's input is typed.
pub enum ToolInput<'s> {
    /// A struct generated from the spec's fields; its schema is derived.
    Fields(&'s IndexMap<String, Field>),
    /// The spec's `input_schema`, served as written; the arguments are a map.
    Raw(&'s Value),
}

pub struct ToolItem<'s> {
    /// Its position among the spec's tools.
    pub index: usize,
    pub name: &'s str,
    /// The `Tools` method.
    pub method: String,
    /// The arguments' type.
    pub args: String,
    pub input: ToolInput<'s>,
    /// The output's type and fields, when the tool declares `output`.
    pub output: Option<(String, &'s IndexMap<String, Field>)>,
    pub description: &'s str,
    /// Scopes a token needs to call it (for the method's documentation).
    pub scopes: &'s [String],
}

pub struct ResourceItem<'s> {
    /// Its position among the spec's resources.
    pub index: usize,
    pub name: &'s str,
    pub method: String,
    pub uri: &'s str,
}

pub struct TemplateItem<'s> {
    /// Its position among the spec's resource templates.
    pub index: usize,
    pub name: &'s str,
    pub method: String,
    /// The type of its variables.
    pub params: String,
    pub uri_template: &'s str,
    pub variables: Vec<String>,
}

pub struct PromptItem<'s> {
    /// Its position among the spec's prompts.
    pub index: usize,
    pub name: &'s str,
    pub method: String,
    /// The type of its arguments.
    pub args: String,
    pub arguments: &'s IndexMap<String, PromptArgument>,
}

/// A file the module embeds: its name in the spec and its path relative to
/// the calling crate.
pub struct EmbeddedFile {
    pub name: String,
    pub path: String,
}

/// `dir/of/spec.yaml` + `file.md` → `dir/of/file.md`.
fn beside(spec_rel: &str, file: &str) -> String {
    match spec_rel.rfind('/') {
        Some(i) => format!("{}/{}", &spec_rel[..i], file),
        None => file.to_string(),
    }
}

/// Describe the module of a checked spec.
pub fn describe<'s>(spec: &'s Spec, spec_rel: &'s str) -> Module<'s> {
    let tools = spec
        .tools
        .iter()
        .enumerate()
        .map(|(index, (name, tool))| {
            let camel = upper_camel_case(name);
            ToolItem {
                index,
                name,
                method: tool_method(name),
                args: format!("{camel}Args"),
                input: match &tool.input_schema {
                    Some(raw) => ToolInput::Raw(raw),
                    None => ToolInput::Fields(&tool.input),
                },
                output: tool
                    .output
                    .as_ref()
                    .map(|fields| (format!("{camel}Output"), fields)),
                description: &tool.description,
                scopes: spec.required_scopes(&tool.scopes),
            }
        })
        .collect();
    let resources = spec
        .resources
        .iter()
        .enumerate()
        .filter(|(_, (_, r))| r.handler)
        .map(|(index, (name, r))| ResourceItem {
            index,
            name,
            method: resource_method(name),
            uri: &r.uri,
        })
        .collect();
    let templates = spec
        .resource_templates
        .iter()
        .enumerate()
        .map(|(index, (name, t))| TemplateItem {
            index,
            name,
            method: resource_method(name),
            params: format!("{}Params", upper_camel_case(name)),
            uri_template: &t.uri_template,
            variables: UriTemplate::parse(&t.uri_template)
                .map(|t| t.variables().into_iter().map(str::to_string).collect())
                .unwrap_or_default(),
        })
        .collect();
    let prompts = spec
        .prompts
        .iter()
        .enumerate()
        .filter(|(_, (_, p))| p.handler)
        .map(|(index, (name, p))| PromptItem {
            index,
            name,
            method: prompt_method(name),
            args: format!("{}PromptArgs", upper_camel_case(name)),
            arguments: &p.arguments,
        })
        .collect();
    let resource_files = spec.resources.values().filter_map(|r| r.file.as_ref());
    let image_files = spec
        .prompts
        .values()
        .flat_map(|p| p.messages.iter().flatten())
        .filter_map(|m| m.image.as_ref().map(|i| &i.file));
    let files = resource_files
        .chain(image_files)
        .map(|file| EmbeddedFile {
            name: file.clone(),
            path: beside(spec_rel, file),
        })
        .collect();
    Module {
        spec,
        spec_rel,
        tools,
        resources,
        templates,
        prompts,
        files,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r#"
server: { name: t, version: "1" }
auth: none
tools:
  first: { description: One }
  second-tool:
    description: Two
    output: { n: { type: integer } }
resources:
  fixed: { uri: "t://fixed", text: hi }
  live: { uri: "t://live", handler: true }
resource_templates:
  item: { uri_template: "t://items/{id}/{part}" }
prompts:
  plain: { description: P, template: hi }
  computed: { description: C, template: "{{ x }}", handler: true }
"#;

    /// Handlers keep their position in the spec, counting the entries that
    /// have none: that position is what the catalog and dispatch agree on.
    #[test]
    fn positions_and_names() {
        let spec = gatehouse_specs::load_str(SPEC, "t.yaml", None).expect("a valid spec");
        let m = describe(&spec, "specs/t.yaml");
        let tools: Vec<_> = m
            .tools
            .iter()
            .map(|t| (t.index, t.method.as_str(), t.args.as_str()))
            .collect();
        assert_eq!(
            tools,
            [
                (0, "first", "FirstArgs"),
                (1, "second_tool", "SecondToolArgs")
            ]
        );
        assert_eq!(
            m.tools[1].output.as_ref().map(|o| o.0.as_str()),
            Some("SecondToolOutput")
        );
        assert_eq!(m.resources.len(), 1);
        assert_eq!((m.resources[0].index, m.resources[0].name), (1, "live"));
        assert_eq!(m.templates[0].variables, ["id", "part"]);
        assert_eq!(m.templates[0].params, "ItemParams");
        assert_eq!(m.prompts.len(), 1);
        assert_eq!(
            (m.prompts[0].index, m.prompts[0].args.as_str()),
            (1, "ComputedPromptArgs")
        );
    }
}
