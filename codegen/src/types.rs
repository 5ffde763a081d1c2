//! Rust types for spec fields: a struct per set of fields (tool input, output,
//! nested objects), an enum per enum field. serde reads and writes them; schemars
//! derives their JSON Schema, with the spec's limits as schemars attributes.
//! Type names follow `gatehouse_specs::check` (which rejects clashes): a nested
//! type is its parent's name plus the field's, array items add `Item`.

use gatehouse_specs::naming::{rust_ident, snake_case, upper_camel_case};
use gatehouse_specs::{Field, FieldKind};
use indexmap::IndexMap;
use proc_macro2::{Literal, Span, TokenStream};
use quote::{format_ident, quote};
use serde_json::{Number, Value};

/// An identifier from a spec name; `r#type` for keywords.
pub(crate) fn ident(name: &str) -> syn::Ident {
    match name.strip_prefix("r#") {
        Some(raw) => syn::Ident::new_raw(raw, Span::call_site()),
        None => syn::Ident::new(name, Span::call_site()),
    }
}

fn number(n: &Number) -> Literal {
    if let Some(i) = n.as_i64() {
        Literal::i64_unsuffixed(i)
    } else if let Some(u) = n.as_u64() {
        Literal::u64_unsuffixed(u)
    } else {
        Literal::f64_unsuffixed(n.as_f64().unwrap_or(0.0))
    }
}

fn doc(text: Option<&str>) -> TokenStream {
    match text {
        Some(t) => {
            let lines = t.lines().map(|l| format!(" {l}"));
            quote! { #( #[doc = #lines] )* }
        }
        None => quote! {},
    }
}

/// Whether the struct reads caller input (strict: unknown fields are errors).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Input,
    Output,
}

/// Collects the items (structs, enums, impls) generated for fields.
#[derive(Default)]
pub(crate) struct TypeGen {
    pub items: Vec<TokenStream>,
    /// Each shape generated so far (its tokens without its name) and the
    /// name it was generated under: an identical shape elsewhere becomes an
    /// alias of that type rather than a second type.
    shapes: std::collections::HashMap<String, String>,
}

impl TypeGen {
    /// `name` for a shape: a new type (`item`, built for `name`), or an alias
    /// of the type an identical shape was generated as. Returns the name the
    /// generated code should use.
    fn shape(&mut self, name: &str, key: String, item: TokenStream) -> String {
        if let Some(first) = self.shapes.get(&key) {
            let (alias, first_ty) = (ident(name), ident(first));
            let doc = format!(" The same shape as [`{first}`], generated once.");
            self.items.push(quote! {
                #[doc = #doc]
                pub type #alias = #first_ty;
            });
            return first.clone();
        }
        self.shapes.insert(key, name.to_string());
        self.items.push(item);
        name.to_string()
    }

    /// A struct named `name` holding `fields` (or an alias of an identical one).
    pub(crate) fn object(
        &mut self,
        name: &str,
        about: Option<&str>,
        fields: &IndexMap<String, Field>,
        dir: Direction,
    ) -> String {
        let ty = ident(name);
        let mut members = Vec::new();
        let mut defaults = Vec::new();
        for (field_name, field) in fields {
            let rust_name = rust_ident(&snake_case(field_name));
            let member = ident(&rust_name);
            let field_ty = self.field_type(
                &format!("{name}{}", upper_camel_case(field_name)),
                field,
                dir,
            );
            let mut serde_attrs = Vec::new();
            if rust_name.trim_start_matches("r#") != field_name {
                serde_attrs.push(quote! { rename = #field_name });
            }
            let stored_ty = if let Some(default) = &field.default {
                let fn_name = format!("default_{}", rust_name.trim_start_matches("r#"));
                let path = format!("{name}::{fn_name}");
                serde_attrs.push(quote! { default = #path });
                let fn_ident = ident(&fn_name);
                let value = default_expr(&field_ty, field, default);
                defaults.push(quote! {
                    fn #fn_ident() -> #field_ty { #value }
                });
                field_ty
            } else if field.optional {
                serde_attrs.push(quote! { default, skip_serializing_if = "Option::is_none" });
                quote! { ::core::option::Option<#field_ty> }
            } else {
                field_ty
            };
            let serde = if serde_attrs.is_empty() {
                quote! {}
            } else {
                quote! { #[serde( #(#serde_attrs),* )] }
            };
            let schemars = schemars_attrs(field);
            let docs = doc(field.description.as_deref());
            members.push(quote! {
                #docs
                #serde
                #schemars
                pub #member: #stored_ty,
            });
        }
        let docs = doc(about);
        let deny = (dir == Direction::Input).then(|| quote! { , deny_unknown_fields });
        // The shape: everything but the name (which the defaults' paths name).
        let key = quote! { #docs #deny #(#members)* #(#defaults)* }
            .to_string()
            .replace(&format!("\"{name}::"), "\"Self::");
        let impl_defaults = (!defaults.is_empty()).then(|| {
            quote! {
                impl #ty {
                    #(#defaults)*
                }
            }
        });
        self.shape(
            name,
            format!("struct {key}"),
            quote! {
                #docs
                #[derive(Debug, Clone, PartialEq, ::gatehouse::__private::serde::Deserialize, ::gatehouse::__private::serde::Serialize, ::gatehouse::__private::schemars::JsonSchema)]
                #[serde(crate = "::gatehouse::__private::serde" #deny)]
                #[schemars(crate = "::gatehouse::__private::schemars")]
                pub struct #ty {
                    #(#members)*
                }
                #impl_defaults
            },
        )
    }

    /// The types declared under `types:`, each once, by its own name. One
    /// that any tool's input uses (even inside another type) reads strictly
    /// (unknown fields are errors) wherever it is used.
    pub(crate) fn declared(&mut self, spec: &gatehouse_specs::Spec) {
        let mut strict = std::collections::HashSet::new();
        for tool in spec.tools.values() {
            for f in tool.input.values() {
                named_within(f, &mut strict);
            }
        }
        for (name, def) in &spec.types {
            let dir = if strict.contains(name.as_str()) {
                Direction::Input
            } else {
                Direction::Output
            };
            let empty = IndexMap::new();
            match def.kind {
                FieldKind::Enum => self.enumeration(name, def),
                _ => {
                    let props = def.properties.as_ref().unwrap_or(&empty);
                    self.object(name, def.description.as_deref(), props, dir)
                }
            };
        }
    }

    /// The Rust type of a field, generating nested types as needed.
    fn field_type(&mut self, name: &str, f: &Field, dir: Direction) -> TokenStream {
        if let Some(declared) = &f.named {
            let ty = ident(declared);
            return quote! { #ty };
        }
        match f.kind {
            FieldKind::String => quote! { ::std::string::String },
            FieldKind::Integer => quote! { i64 },
            FieldKind::Number => quote! { f64 },
            FieldKind::Boolean => quote! { bool },
            FieldKind::Enum => {
                let ty = ident(&self.enumeration(name, f));
                quote! { #ty }
            }
            FieldKind::Array => {
                let items = f.items.as_ref().expect("checked: arrays have items");
                let item = self.field_type(&format!("{name}Item"), &items.0, dir);
                quote! { ::std::vec::Vec<#item> }
            }
            FieldKind::Object => {
                let empty = IndexMap::new();
                let ty =
                    ident(&self.object(name, None, f.properties.as_ref().unwrap_or(&empty), dir));
                quote! { #ty }
            }
        }
    }

    fn enumeration(&mut self, name: &str, f: &Field) -> String {
        let ty = ident(name);
        let values = f.values.as_deref().unwrap_or_default();
        let variants: Vec<syn::Ident> = values
            .iter()
            .map(|v| format_ident!("{}", upper_camel_case(v)))
            .collect();
        self.shape(name, format!("enum {values:?}"), quote! {
            #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ::gatehouse::__private::serde::Deserialize, ::gatehouse::__private::serde::Serialize, ::gatehouse::__private::schemars::JsonSchema)]
            #[serde(crate = "::gatehouse::__private::serde")]
            #[schemars(crate = "::gatehouse::__private::schemars")]
            pub enum #ty {
                #( #[serde(rename = #values)] #variants, )*
            }
            impl #ty {
                /// The value as written in the spec.
                pub fn as_str(self) -> &'static str {
                    match self {
                        #( #ty::#variants => #values, )*
                    }
                }
            }
        })
    }
}

/// The declared types a field uses, itself or anywhere inside.
fn named_within<'a>(f: &'a Field, found: &mut std::collections::HashSet<&'a str>) {
    if let Some(n) = &f.named {
        found.insert(n);
    }
    if let Some(items) = &f.items {
        named_within(&items.0, found);
    }
    for p in f.properties.iter().flat_map(|p| p.values()) {
        named_within(p, found);
    }
}

/// The spec's limits and title as schemars attributes.
fn schemars_attrs(f: &Field) -> TokenStream {
    let mut attrs = Vec::new();
    if let Some(t) = &f.title {
        attrs.push(quote! { title = #t });
    }
    let bounds = |min: Option<TokenStream>, max: Option<TokenStream>| -> Vec<TokenStream> {
        let mut b = Vec::new();
        if let Some(m) = min {
            b.push(quote! { min = #m });
        }
        if let Some(m) = max {
            b.push(quote! { max = #m });
        }
        b
    };
    let lit_u = |n: Option<u64>| {
        n.map(|n| {
            let l = Literal::u64_unsuffixed(n);
            quote! { #l }
        })
    };
    let lit_n = |n: &Option<Number>| {
        n.as_ref().map(|n| {
            let l = number(n);
            quote! { #l }
        })
    };
    let length = bounds(lit_u(f.min_length), lit_u(f.max_length));
    if !length.is_empty() {
        attrs.push(quote! { length( #(#length),* ) });
    }
    let range = bounds(lit_n(&f.minimum), lit_n(&f.maximum));
    if !range.is_empty() {
        attrs.push(quote! { range( #(#range),* ) });
    }
    let items = bounds(lit_u(f.min_items), lit_u(f.max_items));
    if !items.is_empty() {
        attrs.push(quote! { length( #(#items),* ) });
    }
    if let Some(item) = &f.items {
        let item = &item.0;
        let mut inner = Vec::new();
        let len = bounds(lit_u(item.min_length), lit_u(item.max_length));
        if !len.is_empty() {
            inner.push(quote! { length( #(#len),* ) });
        }
        let range = bounds(lit_n(&item.minimum), lit_n(&item.maximum));
        if !range.is_empty() {
            inner.push(quote! { range( #(#range),* ) });
        }
        if !inner.is_empty() {
            attrs.push(quote! { inner( #(#inner),* ) });
        }
    }
    if attrs.is_empty() {
        quote! {}
    } else {
        quote! { #[schemars( #(#attrs),* )] }
    }
}

/// An expression for a field's default (already checked against the field),
/// whose Rust type is `ty`.
fn default_expr(ty: &TokenStream, f: &Field, v: &Value) -> TokenStream {
    match (f.kind, v) {
        (FieldKind::String, Value::String(s)) => quote! { ::std::string::String::from(#s) },
        (FieldKind::Integer, Value::Number(n)) => {
            let l = Literal::i64_suffixed(n.as_i64().unwrap_or_default());
            quote! { #l }
        }
        (FieldKind::Number, Value::Number(n)) => {
            let l = Literal::f64_suffixed(n.as_f64().unwrap_or_default());
            quote! { #l }
        }
        (FieldKind::Boolean, Value::Bool(b)) => quote! { #b },
        (FieldKind::Enum, Value::String(s)) => {
            let variant = format_ident!("{}", upper_camel_case(s));
            quote! { #ty::#variant }
        }
        _ => {
            let json = v.to_string();
            quote! {
                ::gatehouse::__private::serde_json::from_str(#json)
                    .expect("the spec loader checked this default against the field")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r#"
server: { name: x, version: "1" }
tools:
  a:
    description: A.
    output:
      spot: { type: object, properties: { x: { type: integer }, mood: { type: enum, values: [up, down] } } }
  b:
    description: B.
    output:
      place: { type: object, properties: { x: { type: integer }, mood: { type: enum, values: [up, down] } } }
      other: { type: object, properties: { x: { type: integer, description: Different } } }
    input:
      strict: { type: object, properties: { x: { type: integer }, mood: { type: enum, values: [up, down] } } }
"#;

    #[test]
    fn identical_shapes_are_generated_once() {
        let spec = gatehouse_specs::load_str(SPEC, "t.yaml", None).expect("a valid spec");
        let mut types = TypeGen::default();
        for (name, tool) in &spec.tools {
            let camel = upper_camel_case(name);
            types.object(
                &format!("{camel}Args"),
                Some(name),
                &tool.input,
                Direction::Input,
            );
            let output = tool.output.as_ref().unwrap();
            types.object(
                &format!("{camel}Output"),
                Some(name),
                output,
                Direction::Output,
            );
        }
        let items: Vec<String> = types.items.iter().map(|t| t.to_string()).collect();
        let text = items.join("\n");
        syn::parse_str::<syn::File>(&text).expect("the items parse");
        let has = |s: &str| items.iter().any(|i| i.contains(s));
        // `b.place` is `a.spot` (and its enum `a.spot.mood`'s): aliases.
        assert!(has("pub type BOutputPlace = AOutputSpot"), "{text}");
        assert!(has("pub type BOutputPlaceMood = AOutputSpotMood"), "{text}");
        assert!(has("pub struct AOutputSpot"), "{text}");
        assert!(!has("pub struct BOutputPlace "), "{text}");
        // A description makes a different schema, and inputs read strictly:
        // their own types.
        assert!(has("pub struct BOutputOther"), "{text}");
        assert!(has("pub struct BArgsStrict"), "{text}");
        // The strict one's enum is the same enum (enums have no direction).
        assert!(has("pub type BArgsStrictMood = AOutputSpotMood"), "{text}");
    }
}
