//! A test of the layout issue 13 asks for: no import cycles among the modules
//! of `mcp/` (a module of `methods/` counts as `methods`). It reads the sources
//! and follows every `super::x` and `crate::mcp::x` outside comments.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The modules of `mcp/`, each with the modules it refers to.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/mcp");
    let mut sources: Vec<(String, bool, String)> = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            let module = path.file_name().unwrap().to_string_lossy().into_owned();
            for inner in std::fs::read_dir(&path).unwrap() {
                let inner = inner.unwrap().path();
                // In `x/mod.rs`, `super::` is `mcp`; in `x/y.rs`, it is `x`.
                let is_mod = inner.file_name().is_some_and(|n| n == "mod.rs");
                sources.push((
                    module.clone(),
                    is_mod,
                    std::fs::read_to_string(inner).unwrap(),
                ));
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            let module = path.file_stem().unwrap().to_string_lossy().into_owned();
            sources.push((module, true, std::fs::read_to_string(path).unwrap()));
        }
    }
    let modules: BTreeSet<String> = sources.iter().map(|(m, _, _)| m.clone()).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, super_is_mcp, text) in &sources {
        let edges = graph.entry(module.clone()).or_default();
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or("");
            let mut prefixes = vec!["crate::mcp::", "super::super::"];
            if *super_is_mcp {
                prefixes = vec!["crate::mcp::", "super::"];
            }
            for prefix in prefixes {
                for (at, _) in code.match_indices(prefix) {
                    let rest = &code[at + prefix.len()..];
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if modules.contains(&name) && &name != module && module != "mod" {
                        edges.insert(name);
                    }
                }
            }
        }
    }
    graph.remove("mod");
    graph.remove("layering");
    graph
}

/// A cycle through `start`, if there is one.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    fn walk(
        graph: &BTreeMap<String, BTreeSet<String>>,
        start: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        let last = path.last().unwrap().clone();
        for next in graph.get(&last).into_iter().flatten() {
            if next == start {
                path.push(next.clone());
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(graph, start, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_string()];
    walk(graph, start, &mut path, &mut BTreeSet::new()).then_some(path)
}

#[test]
fn no_import_cycles_inside_mcp() {
    let graph = graph();
    assert!(
        graph.contains_key("core") && graph["core"].contains("methods"),
        "{graph:?}"
    );
    let cycles: Vec<String> = graph
        .keys()
        .filter_map(|m| cycle(&graph, m))
        .map(|c| c.join(" → "))
        .collect();
    assert!(
        cycles.is_empty(),
        "import cycles in mcp/:\n{}",
        cycles.join("\n")
    );
}

#[test]
fn a_cycle_is_found() {
    let mut graph = BTreeMap::new();
    graph.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    graph.insert("b".to_string(), BTreeSet::from(["a".to_string()]));
    graph.insert("c".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(
        cycle(&graph, "a"),
        Some(vec!["a".into(), "b".into(), "a".into()])
    );
    assert_eq!(cycle(&graph, "c"), None);
}
