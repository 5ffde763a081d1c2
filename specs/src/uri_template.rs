//! RFC 6570 URI templates, level 1 (simple `{var}` expansions): parsing for
//! validation and matching a concrete URI back to its variables.

/// A parsed template: literal text and variables, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriTemplate {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Var(String),
}

impl UriTemplate {
    /// Parse a template, accepting only simple `{name}` expressions.
    pub fn parse(template: &str) -> Result<UriTemplate, String> {
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_string()));
            }
            let after = &rest[open + 1..];
            let close = after.find('}').ok_or_else(|| {
                format!(
                    "`{{` at byte {} is never closed",
                    template.len() - rest.len() + open
                )
            })?;
            let name = &after[..close];
            if let Some(op) = name.chars().next().filter(|c| "+#./;?&=,!@|".contains(*c)) {
                return Err(format!(
                    "expression `{{{name}}}` uses operator `{op}`; only simple `{{name}}` expressions are supported"
                ));
            }
            if name.contains(',') || name.contains(':') || name.ends_with('*') {
                return Err(format!(
                    "expression `{{{name}}}` has a list or modifier; only simple `{{name}}` expressions are supported"
                ));
            }
            crate::naming::check_field_name(name)
                .map_err(|_| format!("template variable `{name}` must be an identifier"))?;
            if parts.iter().any(|p| matches!(p, Part::Var(v) if v == name)) {
                return Err(format!("template variable `{name}` appears twice"));
            }
            if matches!(parts.last(), Some(Part::Var(_))) {
                return Err(format!(
                    "variables must be separated by literal text (before `{{{name}}}`)"
                ));
            }
            parts.push(Part::Var(name.to_string()));
            rest = &after[close + 1..];
        }
        if rest.contains('}') {
            return Err("`}` without a matching `{`".into());
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_string()));
        }
        if !parts.iter().any(|p| matches!(p, Part::Var(_))) {
            return Err("a resource template needs at least one `{variable}`".into());
        }
        Ok(UriTemplate { parts })
    }

    /// The variable names, in order.
    pub fn variables(&self) -> Vec<&str> {
        self.parts
            .iter()
            .filter_map(|p| match p {
                Part::Var(v) => Some(v.as_str()),
                Part::Literal(_) => None,
            })
            .collect()
    }

    /// Match a URI, returning the (still percent-encoded) value of each variable.
    /// A simple expansion never contains `/`, `?` or `#`, so neither does a match.
    pub fn matches(&self, uri: &str) -> Option<Vec<(String, String)>> {
        let mut rest = uri;
        let mut values = Vec::new();
        let mut iter = self.parts.iter().peekable();
        while let Some(part) = iter.next() {
            match part {
                Part::Literal(lit) => rest = rest.strip_prefix(lit.as_str())?,
                Part::Var(name) => {
                    let end = match iter.peek() {
                        Some(Part::Literal(next)) => rest.find(next.as_str())?,
                        _ => rest.len(),
                    };
                    let value = &rest[..end];
                    if value.is_empty() || value.contains(['/', '?', '#']) {
                        return None;
                    }
                    values.push((name.clone(), value.to_string()));
                    rest = &rest[end..];
                }
            }
        }
        rest.is_empty().then_some(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_matches() {
        let t = UriTemplate::parse("test://template/{id}/data").unwrap();
        assert_eq!(t.variables(), vec!["id"]);
        assert_eq!(
            t.matches("test://template/123/data"),
            Some(vec![("id".into(), "123".into())])
        );
        assert_eq!(t.matches("test://template/1/2/data"), None);
        assert_eq!(t.matches("test://template//data"), None);
        assert_eq!(t.matches("test://other/123/data"), None);
        let t = UriTemplate::parse("memory://memories/{id}").unwrap();
        assert_eq!(
            t.matches("memory://memories/abc"),
            Some(vec![("id".into(), "abc".into())])
        );
    }

    #[test]
    fn rejects_unsupported_templates() {
        assert!(UriTemplate::parse("x://{+path}").is_err());
        assert!(UriTemplate::parse("x://{a,b}").is_err());
        assert!(UriTemplate::parse("x://plain").is_err());
        assert!(UriTemplate::parse("x://{a}{b}").is_err());
        assert!(UriTemplate::parse("x://{a").is_err());
        assert!(UriTemplate::parse("x://{a}/{a}").is_err());
    }
}
