//! Protocol versions and what each one changes on the wire. The negotiated version
//! is stored on the session and drives batching, headers, SSE priming and the shape
//! of results (MCP-REQUIREMENTS section 5).

use std::fmt;

/// A protocol revision this server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProtocolVersion {
    /// 2025-03-26: Streamable HTTP, batches.
    V2025_03_26,
    /// 2025-06-18: structured output, elicitation, titles, resource links.
    V2025_06_18,
    /// 2025-11-25: tool-call argument errors as results, SSE priming.
    V2025_11_25,
}

impl ProtocolVersion {
    /// Newest first.
    pub const SUPPORTED: [ProtocolVersion; 3] = [
        ProtocolVersion::V2025_11_25,
        ProtocolVersion::V2025_06_18,
        ProtocolVersion::V2025_03_26,
    ];
    /// The newest session-era revision.
    pub const LATEST: ProtocolVersion = ProtocolVersion::V2025_11_25;
    /// Assumed when a request carries no `MCP-Protocol-Version` and no session
    /// tells otherwise (T-25).
    pub const DEFAULT: ProtocolVersion = ProtocolVersion::V2025_03_26;

    /// The revision's date, as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ProtocolVersion::V2025_03_26 => "2025-03-26",
            ProtocolVersion::V2025_06_18 => "2025-06-18",
            ProtocolVersion::V2025_11_25 => "2025-11-25",
        }
    }

    /// The revision of a date this server speaks.
    pub fn parse(s: &str) -> Option<ProtocolVersion> {
        Self::SUPPORTED.into_iter().find(|v| v.as_str() == s)
    }

    /// L-6: answer the client's version when we speak it, else our latest.
    pub fn negotiate(requested: &str) -> ProtocolVersion {
        Self::parse(requested).unwrap_or(Self::LATEST)
    }

    /// T-27/T-28: JSON-RPC batches exist only in 2025-03-26.
    pub fn allows_batches(self) -> bool {
        self == ProtocolVersion::V2025_03_26
    }

    /// `title`, `outputSchema`, `structuredContent`, `resource_link` (2025-06-18+).
    pub fn has_titles_and_structured_output(self) -> bool {
        self >= ProtocolVersion::V2025_06_18
    }

    /// `icons`, `description`/`websiteUrl` on implementations, SSE priming and
    /// `retry`, input-validation errors as tool results (2025-11-25).
    pub fn is_2025_11_25_or_later(self) -> bool {
        self >= ProtocolVersion::V2025_11_25
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiates_per_l6() {
        assert_eq!(
            ProtocolVersion::negotiate("2025-06-18"),
            ProtocolVersion::V2025_06_18
        );
        assert_eq!(
            ProtocolVersion::negotiate("2024-11-05"),
            ProtocolVersion::LATEST
        );
        assert_eq!(
            ProtocolVersion::negotiate("garbage"),
            ProtocolVersion::LATEST
        );
        assert!(ProtocolVersion::V2025_03_26.allows_batches());
        assert!(!ProtocolVersion::V2025_06_18.allows_batches());
    }
}
