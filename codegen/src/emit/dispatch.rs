//! The `Tools` trait (every section's methods, plus `complete`) and the
//! dispatch table that calls them by position.

use proc_macro2::TokenStream;
use quote::quote;

use super::Parts;
use crate::describe::Module;

pub(super) fn emit(m: &Module, parts: &Parts) -> TokenStream {
    let server_name = &m.spec.server.name;
    let trait_doc = format!(" The `{server_name}` server's tools: implement one method per tool.");
    let methods = &parts.methods;
    let tool_arms = &parts.tool_arms;
    let resource_arms = &parts.resource_arms;
    let template_arms = &parts.template_arms;
    let prompt_arms = &parts.prompt_arms;
    quote! {
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
            fn call_tool<'a>(&'a self, tool: usize, ctx: ::gatehouse::Context, args: &'a ::gatehouse::__private::serde_json::Value)
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
    }
}
