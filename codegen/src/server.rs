//! From a checked spec to the tokens of its module: types, the `Tools` trait, the
//! dispatch table and the constructors.

use gatehouse_specs::naming::{
    prompt_method, resource_method, rust_ident, snake_case, tool_method, upper_camel_case,
};
use gatehouse_specs::uri_template::UriTemplate;
use gatehouse_specs::{Field, FieldKind, Spec};
use indexmap::IndexMap;
use proc_macro2::TokenStream;
use quote::quote;

use crate::literal::expression;
use crate::types::{Direction, TypeGen, ident};

/// A path relative to the calling crate, as an expression that works wherever the
/// crate is built (so `expanded.rs` is the same on every machine).
fn manifest_path(rel: &str) -> TokenStream {
    let rel = format!("/{rel}");
    quote! { concat!(env!("CARGO_MANIFEST_DIR"), #rel) }
}

/// `dir/of/spec.yaml` + `file.md` → `dir/of/file.md`.
fn beside(spec_rel: &str, file: &str) -> String {
    match spec_rel.rfind('/') {
        Some(i) => format!("{}/{}", &spec_rel[..i], file),
        None => file.to_string(),
    }
}

/// The expansion of `spec!(spec_rel)`.
pub fn expand(spec: &Spec, spec_rel: &str) -> TokenStream {
    let spec_file = manifest_path(spec_rel);
    let mut types = TypeGen::default();
    let mut methods = Vec::new();
    let mut tool_arms = Vec::new();
    let mut schemas = Vec::new();
    types.declared(spec);

    for (index, (name, tool)) in spec.tools.iter().enumerate() {
        let camel = upper_camel_case(name);
        let args_name = format!("{camel}Args");
        let args = ident(&args_name);
        // The input's schema: derived from the generated struct, or given as is.
        let input_schema = match &tool.input_schema {
            Some(raw) => {
                let doc = format!(
                    " Arguments of the `{name}` tool (a JSON object; see its input schema)."
                );
                types.items.push(quote! {
                    #[doc = #doc]
                    pub type #args = ::gatehouse::__private::serde_json::Map<::std::string::String, ::gatehouse::__private::serde_json::Value>;
                });
                let schema = expression(raw);
                quote! { ::gatehouse::__private::ToolSchemas::raw(#name, || #schema) }
            }
            None => {
                types.object(
                    &args_name,
                    Some(&format!("Arguments of the `{name}` tool.")),
                    &tool.input,
                    Direction::Input,
                );
                quote! { ::gatehouse::__private::ToolSchemas::of::<#args>(#name) }
            }
        };
        let method = ident(&tool_method(name));
        let doc = tool_doc(name, &tool.description, spec.required_scopes(&tool.scopes));
        match &tool.output {
            Some(output) => {
                let out_name = format!("{camel}Output");
                types.object(
                    &out_name,
                    Some(&format!(
                        "What the `{name}` tool returns (`structuredContent`)."
                    )),
                    output,
                    Direction::Output,
                );
                let out = ident(&out_name);
                methods.push(quote! {
                    #doc
                    fn #method(&self, ctx: ::gatehouse::Context, args: #args)
                        -> impl ::core::future::Future<Output = ::core::result::Result<#out, ::gatehouse::ToolError>> + ::core::marker::Send;
                });
                tool_arms.push(quote! {
                    #index => ::std::boxed::Box::pin(async move {
                        let args: #args = ::gatehouse::__private::parse_args(args)?;
                        ::gatehouse::__private::structured(self.0.#method(ctx, args).await?)
                    }),
                });
                schemas.push(quote! { #input_schema.with_output::<#out>() });
            }
            None => {
                methods.push(quote! {
                    #doc
                    fn #method(&self, ctx: ::gatehouse::Context, args: #args)
                        -> impl ::core::future::Future<Output = ::core::result::Result<::gatehouse::ToolResult, ::gatehouse::ToolError>> + ::core::marker::Send;
                });
                tool_arms.push(quote! {
                    #index => ::std::boxed::Box::pin(async move {
                        let args: #args = ::gatehouse::__private::parse_args(args)?;
                        self.0.#method(ctx, args).await
                    }),
                });
                schemas.push(input_schema);
            }
        }
    }

    let mut resource_arms = Vec::new();
    let mut files = Vec::new();
    for (index, (name, r)) in spec.resources.iter().enumerate() {
        if r.handler {
            let method = ident(&resource_method(name));
            let uri = &r.uri;
            let doc = format!(" Read the `{name}` resource (`{uri}`).");
            methods.push(quote! {
                #[doc = #doc]
                fn #method(&self, ctx: ::gatehouse::Context, uri: ::std::string::String)
                    -> impl ::core::future::Future<Output = ::core::result::Result<::std::vec::Vec<::gatehouse::ResourceContents>, ::gatehouse::ResourceError>> + ::core::marker::Send;
            });
            resource_arms.push(quote! {
                #index => ::std::boxed::Box::pin(self.0.#method(ctx, uri)),
            });
        }
        if let Some(file) = &r.file {
            let path = manifest_path(&beside(spec_rel, file));
            files.push(quote! { (#file, include_bytes!(#path) as &'static [u8]) });
        }
    }
    let mut template_arms = Vec::new();
    for (index, (name, t)) in spec.resource_templates.iter().enumerate() {
        let params_name = format!("{}Params", upper_camel_case(name));
        let vars = UriTemplate::parse(&t.uri_template)
            .map(|t| {
                t.variables()
                    .into_iter()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let fields: IndexMap<String, Field> = vars
            .iter()
            .map(|v| (v.clone(), Field::of_kind(FieldKind::String)))
            .collect();
        types.object(
            &params_name,
            Some(&format!(
                "The variables of `{}`, percent-decoded.",
                t.uri_template
            )),
            &fields,
            Direction::Input,
        );
        let params_ty = ident(&params_name);
        let method = ident(&resource_method(name));
        let doc = format!(" Read a `{name}` resource (`{}`).", t.uri_template);
        methods.push(quote! {
            #[doc = #doc]
            fn #method(&self, ctx: ::gatehouse::Context, uri: ::std::string::String, params: #params_ty)
                -> impl ::core::future::Future<Output = ::core::result::Result<::std::vec::Vec<::gatehouse::ResourceContents>, ::gatehouse::ResourceError>> + ::core::marker::Send;
        });
        template_arms.push(quote! {
            #index => ::std::boxed::Box::pin(async move {
                let params: #params_ty = ::gatehouse::__private::template_params(params)?;
                self.0.#method(ctx, uri, params).await
            }),
        });
    }

    for message in spec
        .prompts
        .values()
        .flat_map(|p| p.messages.iter().flatten())
    {
        if let Some(image) = &message.image {
            let file = &image.file;
            let path = manifest_path(&beside(spec_rel, file));
            files.push(quote! { (#file, include_bytes!(#path) as &'static [u8]) });
        }
    }

    let mut prompt_arms = Vec::new();
    for (index, (name, p)) in spec.prompts.iter().enumerate() {
        if !p.handler {
            continue;
        }
        let args_name = format!("{}PromptArgs", upper_camel_case(name));
        let fields: Vec<TokenStream> = p
            .arguments
            .iter()
            .map(|(arg, def)| {
                let rust_name = rust_ident(&snake_case(arg));
                let member = ident(&rust_name);
                let rename = (rust_name.trim_start_matches("r#") != arg).then(|| quote! { #[serde(rename = #arg)] });
                let docs = def.description.as_deref().map(|d| {
                    let d = format!(" {d}");
                    quote! { #[doc = #d] }
                });
                if def.required {
                    quote! { #docs #rename pub #member: ::std::string::String, }
                } else {
                    quote! { #docs #rename #[serde(default)] pub #member: ::core::option::Option<::std::string::String>, }
                }
            })
            .collect();
        let args_ty = ident(&args_name);
        let args_doc = format!(" Arguments of the `{name}` prompt.");
        types.items.push(quote! {
            #[doc = #args_doc]
            #[derive(Debug, Clone, PartialEq, ::gatehouse::__private::serde::Deserialize)]
            #[serde(crate = "::gatehouse::__private::serde")]
            pub struct #args_ty {
                #(#fields)*
            }
        });
        let method = ident(&prompt_method(name));
        let doc = format!(
            " Template variables for the `{name}` prompt, added to its arguments (return a JSON object)."
        );
        methods.push(quote! {
            #[doc = #doc]
            fn #method(&self, ctx: ::gatehouse::Context, args: #args_ty)
                -> impl ::core::future::Future<Output = ::core::result::Result<::gatehouse::__private::serde_json::Value, ::gatehouse::ToolError>> + ::core::marker::Send;
        });
        prompt_arms.push(quote! {
            #index => ::std::boxed::Box::pin(async move {
                let args: #args_ty = ::gatehouse::__private::prompt_args(args)?;
                ::gatehouse::__private::variables(self.0.#method(ctx, args).await?)
            }),
        });
    }

    let type_items = types.items;
    let model = expression(spec);
    let server_name = &spec.server.name;
    let trait_doc = format!(" The `{server_name}` server's tools: implement one method per tool.");
    quote! {
        /// The spec this module was generated from, relative to the crate.
        pub const SPEC_PATH: &str = #spec_rel;
        // Read so that editing the spec rebuilds the crate; the server itself
        // is handed the checked model in `definition()`, never the YAML.
        const _: &str = include_str!(#spec_file);

        #(#type_items)*

        #[doc = #trait_doc]
        pub trait Tools: ::core::marker::Send + ::core::marker::Sync + 'static {
            #(#methods)*

            /// Suggestions for `completion/complete` (prompt arguments without
            /// `values`, resource template variables). None by default.
            fn complete(&self, ctx: ::gatehouse::Context, request: ::gatehouse::CompletionRequest)
                -> impl ::core::future::Future<Output = ::core::result::Result<::std::vec::Vec<::std::string::String>, ::gatehouse::ToolError>> + ::core::marker::Send {
                let _ = (ctx, request);
                async { ::core::result::Result::Ok(::std::vec::Vec::new()) }
            }
        }

        /// The dispatch table: JSON-RPC calls into typed `Tools` methods, by the
        /// position of the tool, resource, template or prompt in the spec.
        pub struct Dispatch<T>(pub T);

        impl<T: Tools> ::gatehouse::__private::Handlers for Dispatch<T> {
            fn call_tool<'a>(&'a self, tool: usize, ctx: ::gatehouse::Context, args: ::gatehouse::__private::serde_json::Value)
                -> ::gatehouse::__private::BoxFuture<'a, ::core::result::Result<::gatehouse::ToolResult, ::gatehouse::ToolError>> {
                let _ = (&ctx, &args);
                match tool {
                    #(#tool_arms)*
                    other => ::gatehouse::__private::unknown_tool(other),
                }
            }

            fn read_resource<'a>(&'a self, resource: usize, ctx: ::gatehouse::Context, uri: ::std::string::String)
                -> ::gatehouse::__private::BoxFuture<'a, ::core::result::Result<::std::vec::Vec<::gatehouse::ResourceContents>, ::gatehouse::ResourceError>> {
                let _ = (&ctx, &uri);
                match resource {
                    #(#resource_arms)*
                    other => ::gatehouse::__private::unknown_resource(other),
                }
            }

            fn read_template<'a>(&'a self, template: usize, ctx: ::gatehouse::Context, uri: ::std::string::String, params: ::std::vec::Vec<(::std::string::String, ::std::string::String)>)
                -> ::gatehouse::__private::BoxFuture<'a, ::core::result::Result<::std::vec::Vec<::gatehouse::ResourceContents>, ::gatehouse::ResourceError>> {
                let _ = (&ctx, &uri, &params);
                match template {
                    #(#template_arms)*
                    other => ::gatehouse::__private::unknown_resource(other),
                }
            }

            fn prompt_variables<'a>(&'a self, prompt: usize, ctx: ::gatehouse::Context, args: ::gatehouse::__private::serde_json::Map<::std::string::String, ::gatehouse::__private::serde_json::Value>)
                -> ::gatehouse::__private::BoxFuture<'a, ::core::result::Result<::gatehouse::__private::serde_json::Map<::std::string::String, ::gatehouse::__private::serde_json::Value>, ::gatehouse::ToolError>> {
                let _ = (&ctx, &args);
                match prompt {
                    #(#prompt_arms)*
                    other => ::gatehouse::__private::unknown_prompt(other),
                }
            }

            fn complete<'a>(&'a self, ctx: ::gatehouse::Context, request: ::gatehouse::CompletionRequest)
                -> ::gatehouse::__private::BoxFuture<'a, ::core::result::Result<::std::vec::Vec<::std::string::String>, ::gatehouse::ToolError>> {
                ::std::boxed::Box::pin(self.0.complete(ctx, request))
            }
        }

        /// What the runtime needs to know about this server: the checked spec
        /// as values, each tool's schemas (in spec order, as dispatched) and the
        /// embedded files.
        pub fn definition() -> ::gatehouse::__private::ServerDefinition {
            ::gatehouse::__private::ServerDefinition {
                spec_name: SPEC_PATH,
                spec: #model,
                tools: ::std::vec![ #(#schemas),* ],
                files: ::std::vec![ #(#files),* ],
            }
        }

        /// The server, ready to start: `app(MyTools).start(&config, store)`.
        pub fn app<T: Tools>(tools: T) -> ::gatehouse::App {
            ::gatehouse::App::new(definition(), Dispatch(tools))
        }
    }
}

fn tool_doc(name: &str, description: &str, scopes: &[String]) -> TokenStream {
    let mut lines: Vec<String> = vec![format!(" Tool `{name}`: {description}")];
    if !scopes.is_empty() {
        lines.push(String::new());
        lines.push(format!(" Requires scopes: {}.", scopes.join(", ")));
    }
    quote! { #( #[doc = #lines] )* }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The expansion of a generated server's spec, pretty-printed and checked in as
    /// `generated/<server>/expanded.rs`, so every change to code generation is
    /// reviewed as a diff. Regenerate with `EXPECTORATE=overwrite cargo test -p gatehouse-codegen`.
    fn assert_expansion_fresh(spec_rel: &str, server: &str) {
        let server_dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(server);
        let (spec, _) = gatehouse_specs::load_file(&server_dir.join(spec_rel), spec_rel)
            .unwrap_or_else(|e| panic!("{e}"));
        let tokens = super::expand(&spec, spec_rel);
        let file: syn::File = syn::parse2(tokens).expect("the expansion parses as a file");
        let text = format!(
            "// @generated by gatehouse-codegen from {spec_rel}: what `gatehouse::spec!` expands to.\n// Do not edit; regenerate with `EXPECTORATE=overwrite cargo test -p gatehouse-codegen`.\n\n{}",
            prettyplease::unparse(&file)
        );
        expectorate::assert_contents(server_dir.join("expanded.rs"), &text);
    }

    #[test]
    fn memory_expansion_is_fresh() {
        // The spec path exactly as generated/memory/src/lib.rs writes it.
        assert_expansion_fresh("../../specs/memory.yaml", "generated/memory");
    }

    #[test]
    fn bench_expansion_is_fresh() {
        assert_expansion_fresh("../../specs/bench.yaml", "generated/bench");
    }

    #[test]
    fn conformance_expansion_is_fresh() {
        assert_expansion_fresh("../../specs/conformance.yaml", "generated/conformance");
    }
}
