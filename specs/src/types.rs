//! Declared types (`types:`): a field whose `type:` (or an array's `items:`)
//! names one takes the type's whole definition, marked with the name so that
//! the code generator emits one Rust type for every use. Runs right after
//! deserialization, before the checks, which then see every field with its
//! kind; the definitions themselves are checked once, where they are declared.

use indexmap::IndexMap;

use crate::check::Problem;
use crate::model::{Field, FieldKind, Spec};
use crate::positions::{Path, Seg};

/// Resolve every `type:` of the spec to a kind, substituting declared types.
pub fn resolve(spec: &mut Spec) -> Vec<Problem> {
    let mut r = Resolver {
        declared: spec.types.clone(),
        done: IndexMap::new(),
        problems: Vec::new(),
    };
    // Definitions first, each once (a type may use another; not itself).
    let names: Vec<String> = spec.types.keys().cloned().collect();
    for name in &names {
        r.definition(name, &mut Vec::new());
    }
    for (name, def) in spec.types.iter_mut() {
        if let Some(done) = r.done.get(name) {
            *def = done.clone();
        }
    }
    for (tool_name, tool) in spec.tools.iter_mut() {
        let at = vec![Seg::from("tools"), Seg::from(tool_name)];
        r.fields(&mut tool.input, &child(&at, "input"));
        if let Some(output) = &mut tool.output {
            r.fields(output, &child(&at, "output"));
        }
    }
    r.problems
}

struct Resolver {
    declared: IndexMap<String, Field>,
    /// Definitions already resolved.
    done: IndexMap<String, Field>,
    problems: Vec<Problem>,
}

fn child(parent: &[Seg], seg: impl Into<Seg>) -> Path {
    let mut p = parent.to_vec();
    p.push(seg.into());
    p
}

/// What a use of a declared type may add to it: how this field is described
/// and whether it may be left out. The shape itself is the type's.
const SHAPE_KEYS: [&str; 9] = [
    "min_length",
    "max_length",
    "minimum",
    "maximum",
    "values",
    "items",
    "min_items",
    "max_items",
    "properties",
];

fn shape_keys_set(f: &Field) -> impl Iterator<Item = &'static str> + '_ {
    let set = [
        f.min_length.is_some(),
        f.max_length.is_some(),
        f.minimum.is_some(),
        f.maximum.is_some(),
        f.values.is_some(),
        f.items.is_some(),
        f.min_items.is_some(),
        f.max_items.is_some(),
        f.properties.is_some(),
    ];
    SHAPE_KEYS
        .into_iter()
        .zip(set)
        .filter_map(|(k, s)| s.then_some(k))
}

impl Resolver {
    /// The resolved definition of `name`, or None when it cannot be (reported).
    fn definition(&mut self, name: &str, stack: &mut Vec<String>) -> Option<Field> {
        if let Some(done) = self.done.get(name) {
            return Some(done.clone());
        }
        let at = vec![Seg::from("types"), Seg::from(name)];
        if stack.iter().any(|n| n == name) {
            let cycle = [stack.as_slice(), &[name.to_string()]].concat().join(" → ");
            self.problems.push(Problem {
                path: at,
                at_key: true,
                message: format!(
                    "type `{name}` contains itself ({cycle}); a type cannot be recursive"
                ),
            });
            return None;
        }
        let mut def = self.declared.get(name)?.clone();
        stack.push(name.to_string());
        let kind = FieldKind::parse(&def.type_name.0);
        match kind {
            Some(FieldKind::Object | FieldKind::Enum) => {
                def.kind = kind.unwrap_or_default();
                self.inner(&mut def, &at, stack);
            }
            Some(other) => self.problems.push(Problem {
                path: child(&at, "type"),
                at_key: false,
                message: format!(
                    "a declared type is an `object` or an `enum`, not `{}`; write the field out where it is used",
                    other.as_str()
                ),
            }),
            None => self.problems.push(Problem {
                path: child(&at, "type"),
                at_key: false,
                message: format!(
                    "type `{name}` is declared as `{}`; a declared type is an `object` or an `enum`",
                    def.type_name.0
                ),
            }),
        }
        stack.pop();
        self.done.insert(name.to_string(), def.clone());
        Some(def)
    }

    fn fields(&mut self, fields: &mut IndexMap<String, Field>, at: &[Seg]) {
        for (name, f) in fields.iter_mut() {
            self.field(f, &child(at, name), &mut Vec::new());
        }
    }

    /// Resolve one field in place.
    fn field(&mut self, f: &mut Field, at: &[Seg], stack: &mut Vec<String>) {
        if let Some(kind) = FieldKind::parse(&f.type_name.0) {
            f.kind = kind;
            self.inner(f, at, stack);
            return;
        }
        let name = f.type_name.0.clone();
        if !self.declared.contains_key(&name) {
            let declared: Vec<&str> = self.declared.keys().map(String::as_str).collect();
            let kinds: Vec<&str> = FieldKind::ALL.iter().map(|k| k.as_str()).collect();
            self.problems.push(Problem {
                path: child(at, "type"),
                at_key: false,
                message: format!(
                    "unknown type `{name}`: a field's type is one of {}, or a type declared under `types` ({})",
                    kinds.join(", "),
                    if declared.is_empty() {
                        "none are declared".to_string()
                    } else {
                        format!("declared: {}", declared.join(", "))
                    }
                ),
            });
            return;
        }
        for key in shape_keys_set(f) {
            self.problems.push(Problem {
                path: child(at, key),
                at_key: true,
                message: format!(
                    "`{key}` cannot be given where the declared type `{name}` is used: its shape is declared under `types.{name}`"
                ),
            });
        }
        let Some(def) = self.definition(&name, stack) else {
            return;
        };
        let mut used = def;
        used.type_name = f.type_name.clone();
        used.named = Some(name);
        used.title = f.title.take().or(used.title);
        used.description = f.description.take().or(used.description);
        used.optional = f.optional;
        used.default = f.default.take();
        *f = used;
    }

    /// The fields inside a field (array items, object properties).
    fn inner(&mut self, f: &mut Field, at: &[Seg], stack: &mut Vec<String>) {
        if let Some(items) = &mut f.items {
            self.field(&mut items.0, &child(at, "items"), stack);
        }
        if let Some(props) = &mut f.properties {
            for (name, p) in props.iter_mut() {
                self.field(p, &child(&child(at, "properties"), name), stack);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::model::FieldKind;

    const SPEC: &str = r#"
server: { name: x, version: "1" }
types:
  Level: { type: enum, values: [low, high] }
  Point:
    type: object
    description: A point
    properties:
      x: { type: integer }
      level: { type: Level, default: low }
tools:
  plot:
    description: Plots.
    input:
      at: { type: Point, description: Where }
      trail: { type: array, items: Point, optional: true }
    output:
      last: { type: Point, optional: true }
"#;

    #[test]
    fn uses_take_the_declared_shape_and_keep_their_own_description() {
        let spec = crate::load_str(SPEC, "t.yaml", None).expect("a valid spec");
        let tool = &spec.tools["plot"];
        let at = &tool.input["at"];
        assert_eq!(
            (at.kind, at.named.as_deref()),
            (FieldKind::Object, Some("Point"))
        );
        assert_eq!(at.description.as_deref(), Some("Where"));
        let level = &at.properties.as_ref().unwrap()["level"];
        assert_eq!(
            (level.kind, level.named.as_deref()),
            (FieldKind::Enum, Some("Level"))
        );
        assert_eq!(
            level.values.as_deref(),
            Some(&["low".to_string(), "high".to_string()][..])
        );
        let trail = &tool.input["trail"];
        let item = &trail.items.as_ref().unwrap().0;
        assert_eq!(
            (item.kind, item.named.as_deref()),
            (FieldKind::Object, Some("Point"))
        );
        // Without a description of its own, a use reads the type's.
        assert_eq!(item.description.as_deref(), Some("A point"));
        let last = &tool.output.as_ref().unwrap()["last"];
        assert!(last.optional && last.named.as_deref() == Some("Point"));
        // The declaration itself is resolved too.
        assert_eq!(spec.types["Point"].kind, FieldKind::Object);
        assert_eq!(spec.types["Point"].named, None);
    }
}
