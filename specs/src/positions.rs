//! Where each node of a YAML document sits, so that errors found after
//! deserialization (an undefined scope, a bad tool name) can point at a line and
//! column. Built from the parser's event stream; also the place that finds
//! duplicate keys, which serde would otherwise let the last one win.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, Span};

/// One step of a path into the document.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Seg {
    Key(String),
    Index(usize),
}

impl From<&str> for Seg {
    fn from(s: &str) -> Self {
        Seg::Key(s.to_string())
    }
}

impl From<&String> for Seg {
    fn from(s: &String) -> Self {
        Seg::Key(s.clone())
    }
}

impl From<usize> for Seg {
    fn from(i: usize) -> Self {
        Seg::Index(i)
    }
}

/// A path from the document root.
pub type Path = Vec<Seg>;

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    fn of(span: &Span) -> Pos {
        Pos {
            line: span.start.line(),
            column: span.start.col() + 1,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Node {
    key: Option<Pos>,
    value: Pos,
}

/// A problem found while indexing (a YAML syntax error or a duplicate key).
#[derive(Debug, Clone)]
pub struct IndexError {
    pub pos: Pos,
    pub message: String,
}

/// Positions of every node, by path.
#[derive(Debug, Default, Clone)]
pub struct Positions {
    nodes: HashMap<Path, Node>,
}

impl Positions {
    /// Index a document. Syntax errors end indexing; duplicate keys are collected.
    pub fn index(source: &str) -> (Positions, Vec<IndexError>) {
        let mut walker = Walker {
            parser: Parser::new_from_str(source),
            positions: Positions::default(),
            errors: Vec::new(),
            documents: 0,
        };
        walker.run();
        (walker.positions, walker.errors)
    }

    /// Where the value at `path` starts, or the nearest ancestor that exists.
    pub fn value(&self, path: &[Seg]) -> Pos {
        self.find(path, false)
    }

    /// Where the key of the entry at `path` starts (the value for sequence items).
    pub fn key(&self, path: &[Seg]) -> Pos {
        self.find(path, true)
    }

    fn find(&self, path: &[Seg], key: bool) -> Pos {
        let mut path = path;
        loop {
            if let Some(node) = self.nodes.get(path) {
                return if key {
                    node.key.unwrap_or(node.value)
                } else {
                    node.value
                };
            }
            match path.split_last() {
                Some((_, parent)) => path = parent,
                None => return Pos { line: 1, column: 1 },
            }
        }
    }
}

struct Walker<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    positions: Positions,
    errors: Vec<IndexError>,
    documents: usize,
}

enum Step {
    Continue,
    Stop,
}

impl Walker<'_> {
    fn next(&mut self) -> Option<(Event<'static>, Span)> {
        match self.parser.next_event()? {
            Ok((event, span)) => Some((into_owned(event), span)),
            Err(e) => {
                let marker = e.marker();
                self.errors.push(IndexError {
                    pos: Pos {
                        line: marker.line(),
                        column: marker.col() + 1,
                    },
                    message: format!("invalid YAML: {}", e.info()),
                });
                None
            }
        }
    }

    fn run(&mut self) {
        while let Some((event, span)) = self.next() {
            match event {
                Event::DocumentStart(_) => {
                    self.documents += 1;
                    if self.documents > 1 {
                        self.errors.push(IndexError {
                            pos: Pos::of(&span),
                            message: "a spec file holds exactly one YAML document".into(),
                        });
                        return;
                    }
                }
                Event::StreamEnd => return,
                Event::Scalar(..)
                | Event::Alias(_)
                | Event::SequenceStart(..)
                | Event::MappingStart(..) => {
                    if let Step::Stop = self.node(event, span, Vec::new(), None) {
                        return;
                    }
                }
                _ => {}
            }
        }
    }

    /// Record a node that starts with `event` and consume its children.
    fn node(&mut self, event: Event<'static>, span: Span, path: Path, key: Option<Pos>) -> Step {
        self.positions.nodes.insert(
            path.clone(),
            Node {
                key,
                value: Pos::of(&span),
            },
        );
        match event {
            Event::MappingStart(..) => self.mapping(path),
            Event::SequenceStart(..) => self.sequence(path),
            _ => Step::Continue,
        }
    }

    fn mapping(&mut self, path: Path) -> Step {
        let mut seen: HashMap<String, Pos> = HashMap::new();
        loop {
            let Some((event, span)) = self.next() else {
                return Step::Stop;
            };
            let key_pos = Pos::of(&span);
            let key = match event {
                Event::MappingEnd => return Step::Continue,
                Event::Scalar(text, ..) => text.into_owned(),
                // A complex key: skip it, we cannot name it in a path.
                other => {
                    if let Step::Stop = self.node(other, span, vec![Seg::Key("?".into())], None) {
                        return Step::Stop;
                    }
                    "?".to_string()
                }
            };
            if let Some(first) = seen.get(&key) {
                self.errors.push(IndexError {
                    pos: key_pos,
                    message: duplicate_message(&path, &key, *first),
                });
            } else {
                seen.insert(key.clone(), key_pos);
            }
            let Some((value, value_span)) = self.next() else {
                return Step::Stop;
            };
            let mut child = path.clone();
            child.push(Seg::Key(key));
            if let Step::Stop = self.node(value, value_span, child, Some(key_pos)) {
                return Step::Stop;
            }
        }
    }

    fn sequence(&mut self, path: Path) -> Step {
        let mut index = 0;
        loop {
            let Some((event, span)) = self.next() else {
                return Step::Stop;
            };
            if let Event::SequenceEnd = event {
                return Step::Continue;
            }
            let mut child = path.clone();
            child.push(Seg::Index(index));
            index += 1;
            if let Step::Stop = self.node(event, span, child, None) {
                return Step::Stop;
            }
        }
    }
}

fn duplicate_message(parent: &[Seg], key: &str, first: Pos) -> String {
    let what = match parent {
        [Seg::Key(section)] => match section.as_str() {
            "tools" => "tool",
            "prompts" => "prompt",
            "resources" => "resource",
            "resource_templates" => "resource template",
            "scopes" => "scope",
            _ => "key",
        },
        [.., Seg::Key(k)] if k == "input" || k == "output" || k == "properties" => "field",
        [.., Seg::Key(k)] if k == "arguments" => "argument",
        _ => "key",
    };
    format!(
        "duplicate {what} `{key}` (first defined at line {}, column {})",
        first.line, first.column
    )
}

fn into_owned(event: Event<'_>) -> Event<'static> {
    match event {
        Event::Nothing => Event::Nothing,
        Event::StreamStart => Event::StreamStart,
        Event::StreamEnd => Event::StreamEnd,
        Event::DocumentStart(explicit) => Event::DocumentStart(explicit),
        Event::DocumentEnd => Event::DocumentEnd,
        Event::Alias(id) => Event::Alias(id),
        Event::Scalar(text, style, anchor, _) => {
            Event::Scalar(text.into_owned().into(), style, anchor, None)
        }
        Event::SequenceStart(anchor, _) => Event::SequenceStart(anchor, None),
        Event::SequenceEnd => Event::SequenceEnd,
        Event::MappingStart(anchor, _) => Event::MappingStart(anchor, None),
        Event::MappingEnd => Event::MappingEnd,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_values_and_items() {
        let src = "server:\n  name: x\ntools:\n  a:\n    scopes: [s1, s2]\n";
        let (p, errors) = Positions::index(src);
        assert!(errors.is_empty());
        let path = |s: &[Seg]| s.to_vec();
        assert_eq!(
            p.key(&path(&["tools".into(), "a".into()])),
            Pos { line: 4, column: 3 }
        );
        assert_eq!(
            p.value(&path(&[
                "tools".into(),
                "a".into(),
                "scopes".into(),
                1.into()
            ])),
            Pos {
                line: 5,
                column: 18
            }
        );
        // Unknown paths fall back to the nearest ancestor.
        assert_eq!(
            p.value(&path(&["tools".into(), "a".into(), "nope".into()])),
            Pos { line: 5, column: 5 }
        );
    }

    #[test]
    fn reports_duplicate_keys() {
        let src = "tools:\n  a: {}\n  a: {}\n";
        let (_, errors) = Positions::index(src);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].pos, Pos { line: 3, column: 3 });
        assert_eq!(
            errors[0].message,
            "duplicate tool `a` (first defined at line 2, column 3)"
        );
    }
}
