//! The server definition: the checked spec as values, the tools' schemas in
//! spec order and the embedded files, plus `app(tools)`.

use proc_macro2::TokenStream;
use quote::quote;

use crate::describe::Module;
use crate::literal::expression;

/// A path relative to the calling crate, as an expression that works wherever the
/// crate is built (so `expanded.rs` is the same on every machine).
fn manifest_path(rel: &str) -> TokenStream {
    let rel = format!("/{rel}");
    quote! { concat!(env!("CARGO_MANIFEST_DIR"), #rel) }
}

/// `SPEC_PATH`, and the spec read so that editing it rebuilds the crate.
pub(super) fn spec_path(m: &Module) -> TokenStream {
    let spec_rel = m.spec_rel;
    let spec_file = manifest_path(spec_rel);
    quote! {
        /// The spec this module was generated from, relative to the crate.
        pub const SPEC_PATH: &str = #spec_rel;
        // Read so that editing the spec rebuilds the crate; the server itself
        // is handed the checked model in `definition()`, never the YAML.
        const _: &str = include_str!(#spec_file);
    }
}

pub(super) fn emit(m: &Module, schemas: &[TokenStream]) -> TokenStream {
    let model = expression(m.spec);
    let files = m.files.iter().map(|f| {
        let (name, path) = (&f.name, manifest_path(&f.path));
        quote! { (#name, include_bytes!(#path) as &'static [u8]) }
    });
    quote! {
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
