//! The emitters: each section of a described module becomes its part of the
//! tokens (types, `Tools` methods, dispatch arms, schemas, files), and
//! [`module`] puts the parts together in a fixed order.

mod definition;
mod dispatch;
mod prompts;
mod resources;
mod tools;

use proc_macro2::TokenStream;

use crate::describe::Module;
use crate::types::TypeGen;

/// What the sections contribute to the module.
#[derive(Default)]
struct Parts {
    /// Generated types (arguments, outputs, declared types, parameters).
    types: TypeGen,
    /// Methods of the `Tools` trait.
    methods: Vec<TokenStream>,
    tool_arms: Vec<TokenStream>,
    resource_arms: Vec<TokenStream>,
    template_arms: Vec<TokenStream>,
    prompt_arms: Vec<TokenStream>,
    /// Each tool's schemas (`ToolSchemas`), in spec order.
    schemas: Vec<TokenStream>,
}

/// The module's tokens.
pub fn module(m: &Module) -> TokenStream {
    let mut parts = Parts::default();
    parts.types.declared(m.spec);
    tools::emit(m, &mut parts);
    resources::emit(m, &mut parts);
    prompts::emit(m, &mut parts);
    let dispatch = dispatch::emit(m, &parts);
    let definition = definition::emit(m, &parts.schemas);
    let types = parts.types.items;
    let spec_path = definition::spec_path(m);
    quote::quote! {
        #spec_path
        #(#types)*
        #dispatch
        #definition
    }
}
