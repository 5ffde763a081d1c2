//! Property tests (issue 12, item 11): whatever text arrives, the spec loader,
//! the redirect-URI rules and the origin rules answer with a result or a
//! documented error and never panic; and the matching rules never let a
//! look-alike through.

use std::str::FromStr;

use gatehouse_specs::load_str;
use gatehouse_specs::origin::{Origin, OriginPattern};
use gatehouse_specs::redirect::{RedirectPattern, check_redirect_uri, redirect_matches};
use proptest::prelude::*;

const MEMORY: &str = include_str!("../memory.yaml");

/// URI-ish text: mostly the characters URIs are made of, with the tricky ones.
fn uri_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9:/?#@%.+_~*\\[\\]!$&'()=,;-]{0,60}",
        // Around real callbacks: edits of known-good URIs.
        (
            prop::sample::select(vec![
                "https://chatgpt.com/connector/oauth/abc123",
                "https://claude.ai/api/mcp/auth_callback",
                "http://127.0.0.1:4000/cb",
                "cursor://anysphere.cursor-mcp/oauth/callback",
                "https://vscode.dev/redirect",
            ]),
            "[a-zA-Z0-9:/?#@%.\\\\-]{0,6}",
            0usize..45
        )
            .prop_map(|(base, insert, at)| {
                let at = at.min(base.len());
                let at = (0..=at)
                    .rev()
                    .find(|i| base.is_char_boundary(*i))
                    .unwrap_or(0);
                format!("{}{}{}", &base[..at], insert, &base[at..])
            }),
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    // Any text as a spec: an answer (a spec or file:line:column errors), never a panic.
    #[test]
    fn any_text_is_a_spec_or_errors(text in any::<String>()) {
        if let Err(errors) = load_str(&text, "fuzz.yaml", None) {
            for e in &errors.0 {
                prop_assert!(e.line >= 1 && e.file == "fuzz.yaml", "{e:?}");
            }
        }
    }

    // The real spec, damaged anywhere: errors name a line of it, never panic.
    #[test]
    fn damaged_specs_are_reported(at in 0usize..MEMORY.len(), cut in 0usize..40, insert in "[ :\\-\\[\\]{}#\"'a-z0-9\\n]{0,8}") {
        let at = (0..=at).rev().find(|i| MEMORY.is_char_boundary(*i)).unwrap_or(0);
        let end = (at + cut..=MEMORY.len().min(at + cut)).find(|i| MEMORY.is_char_boundary(*i)).unwrap_or(MEMORY.len());
        let text = format!("{}{}{}", &MEMORY[..at], insert, &MEMORY[end..]);
        if let Err(errors) = load_str(&text, "memory.yaml", None) {
            let lines = text.lines().count().max(1) + 1;
            for e in &errors.0 {
                prop_assert!(e.line >= 1 && e.line <= lines, "{e:?} in a {lines}-line file");
            }
        }
    }

    // Registration's URI check and matching: never a panic; a registered
    // https URI matches only itself, a loopback one only loopback with the same
    // path (any port, RFC 8252), a private-use one only itself.
    #[test]
    fn redirect_matching_is_exact(registered in uri_text(), requested in uri_text()) {
        let _ = check_redirect_uri(&registered);
        let _ = check_redirect_uri(&requested);
        if redirect_matches(&registered, &requested) && registered != requested {
            // Only a loopback registration admits anything but itself.
            let reg = url::Url::parse(&registered).unwrap();
            let req = url::Url::parse(&requested).unwrap();
            let loopback = |u: &url::Url| matches!(u.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"));
            prop_assert!(loopback(&reg) && loopback(&req) && req.host() == reg.host()
                && req.path() == reg.path() && req.scheme() == "http" && req.fragment().is_none(),
                "{} let {} through", registered, requested);
        }
    }

    // A pattern from any text parses or is refused; ChatGPT's per-connector
    // pattern admits exactly one safe path segment on chatgpt.com, nothing else.
    #[test]
    fn patterns_admit_no_lookalikes(pattern in uri_text(), uri in uri_text()) {
        let _ = RedirectPattern::from_str(&pattern);
        let chatgpt = RedirectPattern::from_str("https://chatgpt.com/connector/oauth/*").unwrap();
        if let Ok(parsed) = url::Url::parse(&uri)
            && chatgpt.matches(&uri, &parsed)
        {
            prop_assert_eq!(parsed.scheme(), "https");
            prop_assert_eq!(parsed.host_str(), Some("chatgpt.com"));
            prop_assert!(parsed.port().is_none() && parsed.query().is_none() && parsed.fragment().is_none());
            prop_assert!(parsed.username().is_empty() && parsed.password().is_none());
            let segments: Vec<&str> = parsed.path_segments().unwrap().collect();
            prop_assert_eq!(segments.len(), 3, "{}", uri);
            // One segment of unreserved characters (RFC 3986), never a dot-segment.
            let last = segments[2];
            prop_assert!(!last.is_empty() && last != "." && last != ".."
                && last.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')), "{}", uri);
        }
    }

    // Origins and origin rules from any text: parsed or refused; an exact
    // rule admits only its own origin.
    #[test]
    fn origin_rules_are_exact(rule in uri_text(), origin in uri_text()) {
        let _ = OriginPattern::from_str(&rule);
        let exact = OriginPattern::from_str("https://app.example.com").unwrap();
        if let Ok(o) = Origin::from_str(&origin)
            && exact.matches(&o)
        {
            let u = url::Url::parse(&origin).unwrap();
            prop_assert_eq!(u.origin().ascii_serialization(), "https://app.example.com");
        }
    }
}
