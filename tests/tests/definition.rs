//! Issue 14 item 3: the generated definition is the server. `spec!` hands the
//! runtime the checked model as Rust values; these tests load each spec the
//! way the macro does and check that the values the generated code builds are
//! the same, down to every field and map order, so nothing the runtime reads
//! (tools, scopes, clients, sign-in, origins, lifetimes) differs from the
//! YAML.

use std::path::Path;

use gatehouse::__private::ServerDefinition;
use gatehouse_specs::Spec;

fn loaded(path: &str) -> Spec {
    let abs = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    gatehouse_specs::load_file(&abs, path)
        .unwrap_or_else(|e| panic!("{e}"))
        .0
}

/// The whole model compared through `Debug`, which prints every field and
/// keeps map order (the model has no `PartialEq`: nothing else needs it).
fn assert_same(def: ServerDefinition, path: &str) {
    let expected = loaded(path);
    assert_eq!(
        format!("{:#?}", def.spec),
        format!("{expected:#?}"),
        "{path}"
    );
    assert!(
        !def.spec.registration.selected.is_empty() || expected.registration.selected.is_empty()
    );
    // Dispatch is by position: the schemas are in the spec's tool order.
    let names: Vec<&str> = def.tools.iter().map(|t| t.name).collect();
    let expected: Vec<&str> = expected.tools.keys().map(String::as_str).collect();
    assert_eq!(names, expected, "{path}");
}

#[test]
fn every_generated_definition_equals_its_loaded_spec() {
    assert_same(
        gatehouse_tests::testkit::api::definition(),
        "specs/testkit.yaml",
    );
    assert_same(
        gatehouse_tests::gated::api::definition(),
        "specs/gated.yaml",
    );
    assert_same(
        gatehouse_tests::federated::api::definition(),
        "specs/federated.yaml",
    );
    assert_same(
        gatehouse_tests::federated::only::definition(),
        "specs/federated_only.yaml",
    );
    assert_same(
        gatehouse_tests::documents::api::definition(),
        "specs/documents.yaml",
    );
    assert_same(memory_server::api::definition(), "../specs/memory.yaml");
    // A raw `input_schema` ($defs, $ref, `additionalProperties: false`) is
    // built as JSON values too.
    assert_same(
        conformance_server::api::definition(),
        "../specs/conformance.yaml",
    );
}

/// The raw input schema is served exactly as the spec wrote it.
#[test]
fn a_raw_input_schema_is_the_specs_json() {
    let def = conformance_server::api::definition();
    let spec = loaded("../specs/conformance.yaml");
    let mut raw_schemas = 0;
    for (tool, schemas) in spec.tools.values().zip(&def.tools) {
        if let Some(raw) = &tool.input_schema {
            assert_eq!(&(schemas.input)(), raw, "{}", schemas.name);
            raw_schemas += 1;
        }
    }
    assert!(
        raw_schemas > 0,
        "the conformance spec has a raw input schema"
    );
}

/// The known clients a spec accepts are resolved when it is generated: the
/// server reads them from the definition (no clients file at run time), and
/// they are exactly the profiles the selection names, in file order.
#[test]
fn selected_clients_come_from_the_known_clients_file() {
    let def = gatehouse_tests::testkit::api::definition();
    let profiles = gatehouse_specs::clients::profiles();
    let selected = &def.spec.registration.selected;
    let names = def.spec.registration.clients.names();
    assert_eq!(
        selected.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
        names
    );
    for client in selected {
        let profile = &profiles[&client.id];
        assert_eq!(client.name, profile.name);
        assert_eq!(client.redirect_uris, profile.redirect_uris);
        assert_eq!(client.origins, profile.origins);
    }
}
