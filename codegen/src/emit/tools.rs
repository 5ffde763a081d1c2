//! Tools: each one's argument and output types, its `Tools` method, its
//! dispatch arm and its schemas.

use proc_macro2::TokenStream;
use quote::quote;

use super::Parts;
use crate::describe::{Module, ToolInput, ToolItem};
use crate::literal::expression;
use crate::types::{Direction, ident};

pub(super) fn emit(m: &Module, parts: &mut Parts) {
    for tool in &m.tools {
        let name = tool.name;
        let index = tool.index;
        let args = ident(&tool.args);
        // The input's schema: derived from the generated struct, or given as is.
        let input_schema = match tool.input {
            ToolInput::Raw(raw) => {
                let doc = format!(
                    " Arguments of the `{name}` tool (a JSON object; see its input schema)."
                );
                parts.types.items.push(quote! {
                    #[doc = #doc]
                    pub type #args = ::gatehouse::__private::serde_json::Map<::std::string::String, ::gatehouse::__private::serde_json::Value>;
                });
                let schema = expression(raw);
                quote! { ::gatehouse::__private::ToolSchemas::raw(#name, || #schema) }
            }
            ToolInput::Fields(fields) => {
                parts.types.object(
                    &tool.args,
                    Some(&format!("Arguments of the `{name}` tool.")),
                    fields,
                    Direction::Input,
                );
                quote! { ::gatehouse::__private::ToolSchemas::of::<#args>(#name) }
            }
        };
        let method = ident(&tool.method);
        let doc = doc(tool);
        match &tool.output {
            Some((out_name, fields)) => {
                parts.types.object(
                    out_name,
                    Some(&format!(
                        "What the `{name}` tool returns (`structuredContent`)."
                    )),
                    fields,
                    Direction::Output,
                );
                let out = ident(out_name);
                parts.methods.push(quote! {
                    #doc
                    fn #method(&self, ctx: ::gatehouse::Context, args: #args)
                        -> impl ::core::future::Future<Output = ::core::result::Result<#out, ::gatehouse::ToolError>> + ::core::marker::Send;
                });
                parts.tool_arms.push(quote! {
                    #index => ::std::boxed::Box::pin(async move {
                        let args: #args = ::gatehouse::__private::parse_args(args)?;
                        ::gatehouse::__private::structured(self.0.#method(ctx, args).await?)
                    }),
                });
                parts
                    .schemas
                    .push(quote! { #input_schema.with_output::<#out>() });
            }
            None => {
                parts.methods.push(quote! {
                    #doc
                    fn #method(&self, ctx: ::gatehouse::Context, args: #args)
                        -> impl ::core::future::Future<Output = ::core::result::Result<::gatehouse::ToolResult, ::gatehouse::ToolError>> + ::core::marker::Send;
                });
                parts.tool_arms.push(quote! {
                    #index => ::std::boxed::Box::pin(async move {
                        let args: #args = ::gatehouse::__private::parse_args(args)?;
                        self.0.#method(ctx, args).await
                    }),
                });
                parts.schemas.push(input_schema);
            }
        }
    }
}

/// The method's documentation: the description, then the scopes it needs.
fn doc(tool: &ToolItem) -> TokenStream {
    let mut lines: Vec<String> = vec![format!(" Tool `{}`: {}", tool.name, tool.description)];
    if !tool.scopes.is_empty() {
        lines.push(String::new());
        lines.push(format!(" Requires scopes: {}.", tool.scopes.join(", ")));
    }
    quote! { #( #[doc = #lines] )* }
}
