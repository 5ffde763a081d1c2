//! Resources served by handlers and resource templates: their `Tools`
//! methods, the templates' parameter types, and their dispatch arms.

use gatehouse_specs::{Field, FieldKind};
use indexmap::IndexMap;
use quote::quote;

use super::Parts;
use crate::describe::Module;
use crate::types::{Direction, ident};

pub(super) fn emit(m: &Module, parts: &mut Parts) {
    for r in &m.resources {
        let (name, uri, index) = (r.name, r.uri, r.index);
        let method = ident(&r.method);
        let doc = format!(" Read the `{name}` resource (`{uri}`).");
        parts.methods.push(quote! {
            #[doc = #doc]
            fn #method(&self, ctx: ::gatehouse::Context, uri: ::std::string::String)
                -> impl ::core::future::Future<Output = ::core::result::Result<::std::vec::Vec<::gatehouse::ResourceContents>, ::gatehouse::ResourceError>> + ::core::marker::Send;
        });
        parts.resource_arms.push(quote! {
            #index => ::std::boxed::Box::pin(self.0.#method(ctx, uri)),
        });
    }
    for t in &m.templates {
        let (name, index) = (t.name, t.index);
        let fields: IndexMap<String, Field> = t
            .variables
            .iter()
            .map(|v| (v.clone(), Field::of_kind(FieldKind::String)))
            .collect();
        parts.types.object(
            &t.params,
            Some(&format!(
                "The variables of `{}`, percent-decoded.",
                t.uri_template
            )),
            &fields,
            Direction::Input,
        );
        let params_ty = ident(&t.params);
        let method = ident(&t.method);
        let doc = format!(" Read a `{name}` resource (`{}`).", t.uri_template);
        parts.methods.push(quote! {
            #[doc = #doc]
            fn #method(&self, ctx: ::gatehouse::Context, uri: ::std::string::String, params: #params_ty)
                -> impl ::core::future::Future<Output = ::core::result::Result<::std::vec::Vec<::gatehouse::ResourceContents>, ::gatehouse::ResourceError>> + ::core::marker::Send;
        });
        parts.template_arms.push(quote! {
            #index => ::std::boxed::Box::pin(async move {
                let params: #params_ty = ::gatehouse::__private::template_params(params)?;
                self.0.#method(ctx, uri, params).await
            }),
        });
    }
}
