//! Prompts with handlers: their argument types, `Tools` methods and dispatch
//! arms.

use gatehouse_specs::naming::{rust_ident, snake_case};
use proc_macro2::TokenStream;
use quote::quote;

use super::Parts;
use crate::describe::Module;
use crate::types::ident;

pub(super) fn emit(m: &Module, parts: &mut Parts) {
    for p in &m.prompts {
        let (name, index) = (p.name, p.index);
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
        let args_ty = ident(&p.args);
        let args_doc = format!(" Arguments of the `{name}` prompt.");
        parts.types.items.push(quote! {
            #[doc = #args_doc]
            #[derive(Debug, Clone, PartialEq, ::gatehouse::__private::serde::Deserialize)]
            #[serde(crate = "::gatehouse::__private::serde")]
            pub struct #args_ty {
                #(#fields)*
            }
        });
        let method = ident(&p.method);
        let doc = format!(
            " Template variables for the `{name}` prompt, added to its arguments (return a JSON object)."
        );
        parts.methods.push(quote! {
            #[doc = #doc]
            fn #method(&self, ctx: ::gatehouse::Context, args: #args_ty)
                -> impl ::core::future::Future<Output = ::core::result::Result<::gatehouse::__private::serde_json::Value, ::gatehouse::ToolError>> + ::core::marker::Send;
        });
        parts.prompt_arms.push(quote! {
            #index => ::std::boxed::Box::pin(async move {
                let args: #args_ty = ::gatehouse::__private::prompt_args(args)?;
                ::gatehouse::__private::variables(self.0.#method(ctx, args).await?)
            }),
        });
    }
}
