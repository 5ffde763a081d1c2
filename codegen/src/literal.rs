//! A checked spec model as a Rust expression: the generated definition builds
//! the very values the loader produced, so the runtime reads the model without
//! parsing or checking anything.
//!
//! Every struct is written out by destructuring it without `..`, and every
//! enum by an exhaustive `match`: a field or variant added to the model and
//! not here fails to compile this crate.

use std::time::Duration;

use gatehouse_specs::{
    Annotations, Auth, CacheScope, Caching, Client, ClientDocuments, ClientSelection, Field,
    FieldKind, HumanDuration, Items, Origins, PinnedDocument, Prompt, PromptArgument, PromptImage,
    PromptMessage, PromptResource, Provider, ProviderKind, Registration, Resource,
    ResourceTemplate, Role, Scope, SelectedClient, ServerInfo, SignIn, Spec, Tokens, Tool,
    TypeName, UnknownScopes, UpstreamClientAuth,
};
use indexmap::IndexMap;
use proc_macro2::TokenStream;
use quote::quote;
use serde_json::{Number, Value};

/// A value that can be written as a Rust expression building an equal value.
pub(crate) trait Literal {
    fn literal(&self) -> TokenStream;
}

/// A value as a block expression: the short names its literal uses are
/// brought into scope first, so neither a type of the spec's module (a
/// declared type may be called `String`) nor the caller's imports change them.
pub(crate) fn expression(value: &impl Literal) -> TokenStream {
    let value = value.literal();
    quote! {{
        use ::core::option::Option::{None, Some};
        use ::gatehouse::__private::serde_json as __json;
        use ::gatehouse::__private::specs as __specs;
        use ::std::string::String;
        #value
    }}
}

/// `__specs::<name>`: the model, as [`expression`] imports it.
fn model(name: &str) -> TokenStream {
    let name = syn::Ident::new(name, proc_macro2::Span::call_site());
    quote! { __specs::#name }
}

impl Literal for bool {
    fn literal(&self) -> TokenStream {
        quote! { #self }
    }
}

impl Literal for u32 {
    fn literal(&self) -> TokenStream {
        quote! { #self }
    }
}

impl Literal for u64 {
    fn literal(&self) -> TokenStream {
        quote! { #self }
    }
}

impl Literal for String {
    fn literal(&self) -> TokenStream {
        quote! { String::from(#self) }
    }
}

impl<T: Literal> Literal for Option<T> {
    fn literal(&self) -> TokenStream {
        match self {
            Some(v) => {
                let v = v.literal();
                quote! { Some(#v) }
            }
            None => quote! { None },
        }
    }
}

impl<T: Literal> Literal for Vec<T> {
    fn literal(&self) -> TokenStream {
        let items = self.iter().map(Literal::literal);
        quote! { ::std::vec![#(#items),*] }
    }
}

impl<T: Literal> Literal for Box<T> {
    fn literal(&self) -> TokenStream {
        let inner = (**self).literal();
        quote! { ::std::boxed::Box::new(#inner) }
    }
}

impl<T: Literal> Literal for IndexMap<String, T> {
    fn literal(&self) -> TokenStream {
        if self.is_empty() {
            return quote! { ::core::default::Default::default() };
        }
        let entries = self.iter().map(|(k, v)| {
            let v = v.literal();
            quote! { (String::from(#k), #v) }
        });
        quote! { ::core::iter::FromIterator::from_iter([#(#entries),*]) }
    }
}

impl Literal for Duration {
    fn literal(&self) -> TokenStream {
        let (secs, nanos) = (self.as_secs(), self.subsec_nanos());
        quote! { ::core::time::Duration::new(#secs, #nanos) }
    }
}

impl Literal for Number {
    fn literal(&self) -> TokenStream {
        let json = quote! { __json };
        if let Some(u) = self.as_u64() {
            quote! { #json::Number::from(#u) }
        } else if let Some(i) = self.as_i64() {
            quote! { #json::Number::from(#i) }
        } else {
            // A number that came from a parsed document is finite.
            let f = self.as_f64().unwrap_or_default();
            quote! { ::gatehouse::__private::number(#f) }
        }
    }
}

impl Literal for Value {
    fn literal(&self) -> TokenStream {
        let json = quote! { __json };
        match self {
            Value::Null => quote! { #json::Value::Null },
            Value::Bool(b) => quote! { #json::Value::Bool(#b) },
            Value::Number(n) => {
                let n = n.literal();
                quote! { #json::Value::Number(#n) }
            }
            Value::String(s) => quote! { #json::Value::String(String::from(#s)) },
            Value::Array(items) => {
                let items = items.iter().map(Literal::literal);
                quote! { #json::Value::Array(::std::vec![#(#items),*]) }
            }
            Value::Object(map) => {
                let entries = map.iter().map(|(k, v)| {
                    let v = v.literal();
                    quote! { (String::from(#k), #v) }
                });
                quote! { #json::Value::Object(::core::iter::FromIterator::from_iter([#(#entries),*])) }
            }
        }
    }
}

/// Structs of the model, written field by field.
macro_rules! literal_structs {
    ($($ty:ident { $($field:ident),* $(,)? })*) => {$(
        impl Literal for $ty {
            fn literal(&self) -> TokenStream {
                let $ty { $($field),* } = self;
                let path = model(stringify!($ty));
                let fields = [$({
                    let value = Literal::literal($field);
                    quote! { $field: #value }
                }),*];
                quote! { #path { #(#fields),* } }
            }
        }
    )*};
}

/// Enums of the model without data, by variant.
macro_rules! literal_enums {
    ($($ty:ident { $($variant:ident),* $(,)? })*) => {$(
        impl Literal for $ty {
            fn literal(&self) -> TokenStream {
                let path = model(stringify!($ty));
                match self {
                    $($ty::$variant => quote! { #path::$variant },)*
                }
            }
        }
    )*};
}

literal_structs! {
    Spec {
        server, auth, scopes, default_scopes, clients, registration,
        client_metadata_documents, tokens, unknown_scopes, sign_in, origins, tools,
        prompts, resources, resource_templates, caching, types,
    }
    ServerInfo { name, title, version, description, website_url, instructions }
    Scope { description }
    Client { name, redirect_uris, scopes, auto_approve, secret_env }
    Registration {
        enabled, clients, redirect_uris, auto_approve, expire_unused_after, selected,
    }
    SelectedClient { id, name, redirect_uris, origins }
    ClientDocuments { enabled, allow, max_bytes, pinned }
    PinnedDocument { client_name, redirect_uris }
    Tokens { access_lifetime, refresh_lifetime }
    SignIn { self_signup, password, providers }
    Provider {
        kind, label, icon, issuer_env, client_id_env, client_secret_env, client_auth,
        scopes, claims, authorization_params, tenant, tenants, project_url_env, url_env,
        sign_up, link_by_email, store_tokens,
    }
    Origins { allow, loopback }
    Tool { title, description, scopes, input, input_schema, output, annotations }
    Annotations { title, read_only, destructive, idempotent, open_world }
    Field {
        type_name, kind, named, title, description, optional, default, min_length,
        max_length, minimum, maximum, values, items, min_items, max_items, properties,
    }
    Prompt { title, description, arguments, template, messages, handler, scopes }
    PromptArgument { title, description, required, values }
    PromptMessage { role, text, image, resource }
    PromptImage { file, mime_type }
    PromptResource { uri, mime_type, text }
    Resource {
        uri, title, description, mime_type, text, file, handler, subscribe, scopes, caching,
    }
    ResourceTemplate { uri_template, title, description, mime_type, scopes, caching }
    Caching { ttl_ms, scope }
}

literal_enums! {
    Auth { OAuth, None }
    UnknownScopes { Ignore, Reject }
    ProviderKind { Oidc, Google, Microsoft, Supabase, Github }
    UpstreamClientAuth { ClientSecretBasic, ClientSecretPost, None }
    FieldKind { String, Integer, Number, Boolean, Enum, Array, Object }
    Role { User, Assistant }
    CacheScope { Public, Private }
}

impl Literal for ClientSelection {
    fn literal(&self) -> TokenStream {
        let path = model("ClientSelection");
        match self {
            ClientSelection::All => quote! { #path::All },
            ClientSelection::Only(names) => {
                let names = names.literal();
                quote! { #path::Only(#names) }
            }
        }
    }
}

impl Literal for HumanDuration {
    fn literal(&self) -> TokenStream {
        let (path, inner) = (model("HumanDuration"), self.0.literal());
        quote! { #path(#inner) }
    }
}

impl Literal for TypeName {
    fn literal(&self) -> TokenStream {
        let (path, inner) = (model("TypeName"), self.0.literal());
        quote! { #path(#inner) }
    }
}

impl Literal for Items {
    fn literal(&self) -> TokenStream {
        let (path, inner) = (model("Items"), self.0.literal());
        quote! { #path(#inner) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The literal of a value is Rust that names every part of it; the full
    /// round trip (the built value equals the loaded one) is tested in
    /// `tests/tests/definition.rs`, where generated code runs.
    #[test]
    fn numbers_keep_their_kind() {
        let text = |v: Value| v.literal().to_string();
        assert!(text(serde_json::json!(3)).contains("Number :: from (3u64)"));
        assert!(text(serde_json::json!(-3)).contains("Number :: from (- 3i64)"));
        assert!(text(serde_json::json!(0.5)).contains("number (0.5f64)"));
        assert!(text(serde_json::json!({"a": [null, true, "x"]})).contains("Value :: Null"));
    }

    #[test]
    fn empty_maps_are_defaults() {
        let map: IndexMap<String, Scope> = IndexMap::new();
        assert_eq!(
            map.literal().to_string(),
            ":: core :: default :: Default :: default ()"
        );
    }
}
