//! `gatehouse::spec!("path/to/spec.yaml")`: read a spec at compile time and emit
//! its typed module. Thin by design (like progenitor's macro): resolve the path
//! against the calling crate, load the spec through `gatehouse-specs`, report
//! failures at the path literal, and hand the model to `gatehouse-codegen`,
//! a plain library that works on `proc_macro2` tokens so its output can be
//! checked in and diffed.

use std::path::PathBuf;

use proc_macro::TokenStream;
use syn::{LitStr, parse_macro_input};

use gatehouse_codegen::migrations;

/// Generate a server's typed module from its YAML spec.
///
/// The path is relative to the calling crate's `Cargo.toml`. The expansion holds:
/// one `…Args` struct per tool (and `…Output` when the tool declares output), a
/// `Tools` trait with one async method per tool and per handler-served resource
/// or prompt, the dispatch table, `definition()` and `app(tools)`.
///
/// A spec error fails the build with `file:line:column: message`; a tool without
/// a method fails it naming the missing method.
#[proc_macro]
pub fn spec(input: TokenStream) -> TokenStream {
    let lit = parse_macro_input!(input as LitStr);
    let rel = lit.value();
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let abs = PathBuf::from(dir).join(&rel);
    match gatehouse_specs::load_file(&abs, &rel) {
        Ok((spec, _)) => gatehouse_codegen::expand(&spec, &rel).into(),
        Err(errors) => syn::Error::new(lit.span(), format!("invalid gatehouse spec:\n{errors}"))
            .to_compile_error()
            .into(),
    }
}

/// Embed an app's migrations folder (path relative to the calling crate's
/// `Cargo.toml`) for [`AppStore::open`](../gatehouse/struct.AppStore.html).
///
/// Files are `<version>_<description>.sql`, portable SQL run on both
/// databases, or a pair `<version>_<description>.sqlite.sql` and
/// `<version>_<description>.postgres.sql` where the dialects differ. A
/// version with only one dialect's file, or with both kinds, fails the build.
/// Adding a file does not by itself rebuild the crate (as with
/// `sqlx::migrate!`): touch the file that uses the macro, or add a build
/// script with `cargo:rerun-if-changed=migrations`.
#[proc_macro]
pub fn migrations(input: TokenStream) -> TokenStream {
    let lit = parse_macro_input!(input as LitStr);
    let rel = lit.value();
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    match migrations::expand(&PathBuf::from(dir).join(&rel), &rel) {
        Ok(tokens) => tokens.into(),
        Err(message) => syn::Error::new(lit.span(), message)
            .to_compile_error()
            .into(),
    }
}
