//! Loading: parse → model → check, every error with file, line and column.

use std::path::Path as FsPath;

use crate::check::check;
use crate::error::{SpecError, SpecErrors};
use crate::model::Spec;
use crate::positions::{Pos, Positions};

/// Read and check a spec file. `display` is how errors name the file (the path as
/// the user wrote it); files named by resources are looked up next to the spec.
pub fn load_file(path: &FsPath, display: &str) -> Result<(Spec, String), SpecErrors> {
    let source = std::fs::read_to_string(path).map_err(|e| {
        SpecErrors(vec![SpecError {
            file: display.to_string(),
            line: 1,
            column: 1,
            message: format!("cannot read the spec: {e}"),
        }])
    })?;
    let spec = load_str(&source, display, path.parent())?;
    Ok((spec, source))
}

/// Parse and check spec text. Without `base_dir`, resource files are not looked up
/// (the runtime reads specs whose files the macro already embedded).
pub fn load_str(
    source: &str,
    display: &str,
    base_dir: Option<&FsPath>,
) -> Result<Spec, SpecErrors> {
    let error = |pos: Pos, message: String| SpecError {
        file: display.to_string(),
        line: pos.line,
        column: pos.column,
        message,
    };
    let (positions, index_errors) = Positions::index(source);
    let mut errors: Vec<SpecError> = index_errors
        .into_iter()
        .map(|e| error(e.pos, e.message))
        .collect();
    if errors.iter().any(|e| e.message.starts_with("invalid YAML")) {
        return Err(SpecErrors(errors));
    }
    let mut spec = match serde_yaml::from_str::<Spec>(source) {
        Ok(spec) => spec,
        Err(e) => {
            let pos = e
                .location()
                .map(|l| Pos {
                    line: l.line(),
                    column: l.column(),
                })
                .unwrap_or(Pos { line: 1, column: 1 });
            errors.push(error(pos, serde_message(&e)));
            return Err(sorted(errors));
        }
    };
    // Every field's type to a kind (declared types substituted); the checks
    // need them, so a spec whose types do not resolve stops here.
    let unresolved = crate::types::resolve(&mut spec);
    let problems = if unresolved.is_empty() {
        check(&spec, base_dir)
    } else {
        unresolved
    };
    for problem in problems {
        let pos = if problem.at_key {
            positions.key(&problem.path)
        } else {
            positions.value(&problem.path)
        };
        errors.push(error(pos, problem.message));
    }
    if errors.is_empty() {
        spec.registration.selected = crate::clients::selected(&spec.registration.clients);
        Ok(spec)
    } else {
        Err(sorted(errors))
    }
}

fn sorted(mut errors: Vec<SpecError>) -> SpecErrors {
    errors.sort_by_key(|e| (e.line, e.column));
    SpecErrors(errors)
}

/// serde_yaml's message without its trailing " at line L column C" (we print our own).
fn serde_message(e: &serde_yaml::Error) -> String {
    let text = e.to_string();
    let trimmed = match text.rfind(" at line ") {
        Some(i) if text[i..].contains(" column ") => &text[..i],
        _ => &text,
    };
    if trimmed == "EOF while parsing a value" {
        "the spec is empty; it needs at least a `server` section".into()
    } else {
        trimmed.to_string()
    }
}
