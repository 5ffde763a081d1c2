//! The `spec!` macro's compile errors (trybuild): a spec error names file, line
//! and column; a tool without its method names the method; a missing spec file
//! is named. Bless changed messages with `TRYBUILD=overwrite`.

#[test]
fn spec_macro_compile_errors() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/broken_spec.rs");
    t.compile_fail("ui/missing_method.rs");
    t.compile_fail("ui/missing_spec.rs");
}
