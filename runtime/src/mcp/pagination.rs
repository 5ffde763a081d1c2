//! Cursor pagination for the list methods: opaque cursors (base64 of an offset),
//! `-32602` for a cursor this server did not issue.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::error::McpError;

const PREFIX: &str = "gh1:";

pub(crate) fn encode(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("{PREFIX}{offset}"))
}

pub(crate) fn decode(cursor: &str) -> Result<usize, McpError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix(PREFIX).and_then(|n| n.parse().ok()))
        .ok_or_else(|| McpError::InvalidParams(format!("invalid cursor `{cursor}`")))
}

/// One page of `items` starting at the cursor, and the cursor of the next page.
pub(crate) fn page<T: Clone>(
    items: &[T],
    cursor: Option<&str>,
    size: usize,
) -> Result<(Vec<T>, Option<String>), McpError> {
    let start = match cursor {
        Some(c) => decode(c)?,
        None => 0,
    };
    if start > items.len() {
        return Err(McpError::InvalidParams(
            "cursor is past the end of the list".into(),
        ));
    }
    let end = (start + size).min(items.len());
    let next = (end < items.len()).then(|| encode(end));
    Ok((items[start..end].to_vec(), next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_and_rejects_foreign_cursors() {
        let items = [1, 2, 3, 4, 5];
        let (p1, c1) = page(&items, None, 2).unwrap();
        assert_eq!(p1, [1, 2]);
        let (p2, c2) = page(&items, c1.as_deref(), 2).unwrap();
        assert_eq!(p2, [3, 4]);
        let (p3, c3) = page(&items, c2.as_deref(), 2).unwrap();
        assert_eq!((p3, c3), (vec![5], None));
        assert_eq!(page(&items, Some("bogus"), 2).unwrap_err().code(), -32602);
        assert_eq!(
            page(&items, Some(&encode(99)), 2).unwrap_err().code(),
            -32602
        );
    }
}
