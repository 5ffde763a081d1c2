//! The methods of the 2026-07-28 era (M-1), read from a request's `method`
//! once. The checks (`Mcp-Name`), the input-required binding, the caching
//! hints and the call each ask what the method is; compared as a string at
//! each of those places, every 2026-07-28 call ran a copy of the same
//! comparisons at each, code the instruction cache brought in again on
//! every request (`bench/analysis.md`). Read once, the rest are integer
//! compares.

/// A method this era serves. Anything else (the session era's `initialize`,
/// `ping`, `logging/setLevel`, `resources/subscribe`…, or an unknown name)
/// is 404 with -32601.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ModernMethod {
    Discover,
    ToolsList,
    ToolsCall,
    PromptsList,
    PromptsGet,
    ResourcesList,
    ResourceTemplatesList,
    ResourcesRead,
    Complete,
    Listen,
}

impl ModernMethod {
    /// The method `name` names in this era, if it is one. Out of line: one
    /// copy of the comparisons, whichever caller asks.
    #[inline(never)]
    pub(crate) fn parse(name: &str) -> Option<ModernMethod> {
        Some(match name {
            "server/discover" => ModernMethod::Discover,
            "tools/list" => ModernMethod::ToolsList,
            "tools/call" => ModernMethod::ToolsCall,
            "prompts/list" => ModernMethod::PromptsList,
            "prompts/get" => ModernMethod::PromptsGet,
            "resources/list" => ModernMethod::ResourcesList,
            "resources/templates/list" => ModernMethod::ResourceTemplatesList,
            "resources/read" => ModernMethod::ResourcesRead,
            "completion/complete" => ModernMethod::Complete,
            "subscriptions/listen" => ModernMethod::Listen,
            _ => return None,
        })
    }

    /// The method's name on the wire.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ModernMethod::Discover => "server/discover",
            ModernMethod::ToolsList => "tools/list",
            ModernMethod::ToolsCall => "tools/call",
            ModernMethod::PromptsList => "prompts/list",
            ModernMethod::PromptsGet => "prompts/get",
            ModernMethod::ResourcesList => "resources/list",
            ModernMethod::ResourceTemplatesList => "resources/templates/list",
            ModernMethod::ResourcesRead => "resources/read",
            ModernMethod::Complete => "completion/complete",
            ModernMethod::Listen => "subscriptions/listen",
        }
    }

    /// The member of `params` that names what the method acts on: the tool
    /// or prompt (`name`) or the resource (`uri`). The same three methods
    /// carry it in `Mcp-Name` and may answer with an `InputRequiredResult`
    /// (SEP-2322: only these; `tasks/result` belongs to the tasks
    /// extension, not served).
    pub(crate) fn target_key(self) -> Option<&'static str> {
        match self {
            ModernMethod::ToolsCall | ModernMethod::PromptsGet => Some("name"),
            ModernMethod::ResourcesRead => Some("uri"),
            _ => None,
        }
    }

    /// A list whose result carries the server's caching hints.
    pub(crate) fn is_list(self) -> bool {
        matches!(
            self,
            ModernMethod::ToolsList
                | ModernMethod::PromptsList
                | ModernMethod::ResourcesList
                | ModernMethod::ResourceTemplatesList
        )
    }
}

#[cfg(test)]
mod tests {
    use super::ModernMethod;

    const ALL: [ModernMethod; 10] = [
        ModernMethod::Discover,
        ModernMethod::ToolsList,
        ModernMethod::ToolsCall,
        ModernMethod::PromptsList,
        ModernMethod::PromptsGet,
        ModernMethod::ResourcesList,
        ModernMethod::ResourceTemplatesList,
        ModernMethod::ResourcesRead,
        ModernMethod::Complete,
        ModernMethod::Listen,
    ];

    /// Every method reads back from its own name; the session era's methods
    /// and near misses (case, a trailing slash, a prefix) are not this era's.
    #[test]
    fn names_read_back_and_nothing_else_reads() {
        for m in ALL {
            assert_eq!(ModernMethod::parse(m.as_str()), Some(m));
        }
        for other in [
            "initialize",
            "ping",
            "logging/setLevel",
            "resources/subscribe",
            "resources/unsubscribe",
            "notifications/initialized",
            "Tools/call",
            "tools/call/",
            "tools/",
            "",
        ] {
            assert_eq!(ModernMethod::parse(other), None, "{other}");
        }
    }

    /// The three methods that name a target (in `Mcp-Name`) and may stop
    /// for input, and the four lists with caching hints.
    #[test]
    fn targets_and_lists() {
        let targets: Vec<_> = ALL.iter().filter_map(|m| m.target_key()).collect();
        assert_eq!(targets, ["name", "name", "uri"]);
        assert_eq!(ModernMethod::ToolsCall.target_key(), Some("name"));
        assert_eq!(ModernMethod::ResourcesRead.target_key(), Some("uri"));
        assert_eq!(ALL.iter().filter(|m| m.is_list()).count(), 4);
        assert!(!ModernMethod::ResourcesRead.is_list());
    }
}
