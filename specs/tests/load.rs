//! The spec loader: real specs load; broken specs fail with file:line:column errors
//! whose exact text is pinned by snapshots.

use std::path::Path;

#[test]
fn memory_spec_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("memory.yaml");
    let (spec, _) =
        gatehouse_specs::load_file(&path, "specs/memory.yaml").expect("memory.yaml is valid");
    assert_eq!(spec.server.name, "memory");
    let tools: Vec<&str> = spec.tools.keys().map(String::as_str).collect();
    assert_eq!(
        tools,
        [
            "add_memory",
            "search_memories",
            "list_memories",
            "delete_memory"
        ]
    );
    assert_eq!(
        spec.required_scopes(&spec.tools["add_memory"].scopes),
        ["memories:write"]
    );
}

#[test]
fn broken_specs_report_file_line_and_column() {
    insta::glob!("broken/*.yaml", |path| {
        let name = format!("broken/{}", path.file_name().unwrap().to_string_lossy());
        let errors =
            gatehouse_specs::load_file(path, &name).expect_err("a broken spec must not load");
        insta::assert_snapshot!(errors.to_string());
    });
}

#[test]
fn schema_json_is_fresh() {
    // Regenerate with EXPECTORATE=overwrite cargo test -p gatehouse-specs.
    let schema = serde_json::to_string_pretty(&gatehouse_specs::json_schema()).unwrap() + "\n";
    expectorate::assert_contents(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.json"),
        &schema,
    );
}
