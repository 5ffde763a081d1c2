//! Names: what the spec accepts as a tool, field or scope name, and how spec names
//! become Rust identifiers (shared by validation and the macro, so the two agree).

/// Rust keywords that cannot be raw identifiers (`r#self` is not allowed).
const NOT_RAW: &[&str] = &["self", "Self", "super", "crate", "_"];

/// Keywords of Rust 2024 (strict and reserved), which need `r#` as identifiers.
const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "dyn", "else", "enum", "extern", "false",
    "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "static", "struct", "trait", "true", "type", "unsafe", "use", "where",
    "while", "abstract", "become", "box", "do", "final", "macro", "override", "priv", "try",
    "typeof", "unsized", "virtual", "yield",
];

/// Tool and prompt names (MCP 2025-11-25 tool-name guidance, SEP-986): 1 to 128
/// characters from `A-Z a-z 0-9 _ - .`.
pub fn check_tool_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 128 {
        return Err(format!(
            "name `{name}` must be 1 to 128 characters long (it has {})",
            name.chars().count()
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return Err(format!(
            "name `{name}` contains {bad:?}; only A-Z, a-z, 0-9, `_`, `-` and `.` are allowed"
        ));
    }
    if !name.chars().any(|c| c.is_ascii_alphabetic()) {
        return Err(format!("name `{name}` needs at least one letter"));
    }
    Ok(())
}

/// Field and argument names: an identifier, `[A-Za-z_][A-Za-z0-9_]*`.
pub fn check_field_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {
            chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        _ => false,
    };
    if !ok || name == "_" {
        return Err(format!(
            "field name `{name}` must be an identifier: a letter or `_`, then letters, digits or `_`"
        ));
    }
    Ok(())
}

/// Names of declared types (`types:`): UpperCamelCase Rust type names,
/// `[A-Z][A-Za-z0-9]*`, which are never kinds or keywords.
pub fn check_type_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_alphanumeric());
    if ok && name != "Self" {
        Ok(())
    } else {
        Err(format!(
            "type name `{name}` must be UpperCamelCase: a capital letter, then letters and digits (e.g. `Memory`)"
        ))
    }
}

/// OAuth scope tokens (RFC 6749 section 3.3): printable ASCII except space, `"` and `\`.
pub fn check_scope_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("scope name must not be empty".into());
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !matches!(*c as u32, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
    {
        return Err(format!(
            "scope `{name}` contains {bad:?}; scopes are printable ASCII without spaces, `\"` or `\\`"
        ));
    }
    Ok(())
}

/// Split a name into lowercase words: `addMemory`, `add-memory`, `ADD_MEMORY` and
/// `add.memory` all give `["add", "memory"]`.
fn words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            continue;
        }
        let boundary = c.is_ascii_uppercase()
            && !current.is_empty()
            && (chars[i - 1].is_ascii_lowercase()
                || chars[i - 1].is_ascii_digit()
                || chars
                    .get(i + 1)
                    .is_some_and(|n| n.is_ascii_lowercase() && chars[i - 1].is_ascii_uppercase()));
        if boundary {
            words.push(std::mem::take(&mut current));
        }
        current.push(c.to_ascii_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// `add_memory` style.
pub fn snake_case(name: &str) -> String {
    let joined = words(name).join("_");
    if joined.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{joined}")
    } else {
        joined
    }
}

/// `AddMemory` style.
pub fn upper_camel_case(name: &str) -> String {
    let joined: String = words(name)
        .iter()
        .map(|w| {
            let mut cs = w.chars();
            match cs.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + cs.as_str(),
                None => String::new(),
            }
        })
        .collect();
    if joined.starts_with(|c: char| c.is_ascii_digit()) || joined.is_empty() {
        format!("V{joined}")
    } else {
        joined
    }
}

/// How a snake-case name is written as a Rust identifier: `type` → `r#type`,
/// `self` → `self_`.
pub fn rust_ident(snake: &str) -> String {
    if NOT_RAW.contains(&snake) {
        format!("{snake}_")
    } else if KEYWORDS.contains(&snake) {
        format!("r#{snake}")
    } else {
        snake.to_string()
    }
}

/// The generated method for a tool.
pub fn tool_method(tool: &str) -> String {
    rust_ident(&snake_case(tool))
}

/// The generated method that reads a resource or a resource template.
pub fn resource_method(name: &str) -> String {
    format!("read_{}", snake_case(name))
}

/// The generated method that supplies template variables for a prompt.
pub fn prompt_method(name: &str) -> String {
    format!("prompt_{}", snake_case(name))
}

/// Names the generated `Tools` trait uses for its own provided methods.
pub const RESERVED_METHODS: &[&str] = &["complete", "clone", "drop"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_names() {
        assert_eq!(snake_case("addMemory"), "add_memory");
        assert_eq!(snake_case("admin.tools.list"), "admin_tools_list");
        assert_eq!(snake_case("DATA_EXPORT_v2"), "data_export_v2");
        assert_eq!(snake_case("getHTTPResponse"), "get_http_response");
        assert_eq!(snake_case("test_simple_text"), "test_simple_text");
        assert_eq!(upper_camel_case("add_memory"), "AddMemory");
        assert_eq!(upper_camel_case("resourceUri"), "ResourceUri");
        assert_eq!(upper_camel_case("1st"), "V1st");
        assert_eq!(rust_ident("type"), "r#type");
        assert_eq!(rust_ident("self"), "self_");
        assert_eq!(tool_method("admin.tools.list"), "admin_tools_list");
    }

    #[test]
    fn checks_names() {
        assert!(check_tool_name("getUser").is_ok());
        assert!(check_tool_name("admin.tools.list").is_ok());
        assert!(check_tool_name("get user").is_err());
        assert!(check_tool_name("").is_err());
        assert!(check_tool_name(&"a".repeat(129)).is_err());
        assert!(check_field_name("resourceUri").is_ok());
        assert!(check_field_name("9lives").is_err());
        assert!(check_field_name("a-b").is_err());
        assert!(check_scope_name("memories:write").is_ok());
        assert!(check_scope_name("bad scope").is_err());
    }
}
