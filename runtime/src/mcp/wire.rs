//! MCP wire types, ours rather than a crate's: the exact shape per protocol version
//! is the product (docs/dependencies.md). Each type that changed between revisions
//! has a `for_version` that removes what an older client does not know
//! (MCP-REQUIREMENTS section 5, item 9).

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::version::ProtocolVersion;

/// `Implementation` (serverInfo): `title` from 2025-06-18, `description` and
/// `websiteUrl` from 2025-11-25.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Implementation {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub website_url: Option<String>,
}

impl Implementation {
    pub fn for_version(&self, v: ProtocolVersion) -> Implementation {
        let mut out = self.clone();
        if !v.has_titles_and_structured_output() {
            out.title = None;
        }
        if !v.is_2025_11_25_or_later() {
            out.description = None;
            out.website_url = None;
        }
        out
    }
}

/// Tool behaviour hints.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolAnnotations {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_only_hint: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destructive_hint: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotent_hint: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_world_hint: Option<bool>,
}

impl ToolAnnotations {
    pub fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.read_only_hint.is_none()
            && self.destructive_hint.is_none()
            && self.idempotent_hint.is_none()
            && self.open_world_hint.is_none()
    }
}

/// A tool as listed by `tools/list`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tool {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub description: String,
    pub input_schema: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<ToolAnnotations>,
}

impl Tool {
    pub fn for_version(&self, v: ProtocolVersion) -> Tool {
        let mut out = self.clone();
        if !v.has_titles_and_structured_output() {
            out.title = None;
            out.output_schema = None;
        }
        out
    }
}

/// Who a content block is meant for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The person using the client.
    User,
    /// The model.
    Assistant,
}

/// Optional hints on content blocks and resources.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Annotations {
    /// Who the content is for (the user, the model, or both).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audience: Option<Vec<Role>>,
    /// How important it is, from 0 (optional) to 1 (required).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<f64>,
    /// ISO 8601 (2025-06-18 and later).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
}

/// The contents of a resource: text or base64 `blob`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged, rename_all = "camelCase")]
pub enum ResourceContents {
    /// Text contents.
    Text {
        /// The resource's URI.
        uri: String,
        /// Its media type, e.g. `text/markdown`.
        #[serde(rename = "mimeType", skip_serializing_if = "Option::is_none")]
        mime_type: Option<String>,
        /// The text.
        text: String,
    },
    /// Binary contents.
    Blob {
        /// The resource's URI.
        uri: String,
        /// Its media type, e.g. `image/png`.
        #[serde(rename = "mimeType", skip_serializing_if = "Option::is_none")]
        mime_type: Option<String>,
        /// The bytes, base64-encoded.
        blob: String,
    },
}

impl ResourceContents {
    /// Text contents.
    ///
    /// ```
    /// let notes = gatehouse::ResourceContents::text("notes://today", Some("text/markdown"), "# Today");
    /// assert_eq!(notes.uri(), "notes://today");
    /// ```
    pub fn text(uri: impl Into<String>, mime_type: Option<&str>, text: impl Into<String>) -> Self {
        ResourceContents::Text {
            uri: uri.into(),
            mime_type: mime_type.map(str::to_string),
            text: text.into(),
        }
    }

    /// Binary contents; the bytes are base64-encoded for the wire.
    pub fn blob(uri: impl Into<String>, mime_type: Option<&str>, bytes: &[u8]) -> Self {
        ResourceContents::Blob {
            uri: uri.into(),
            mime_type: mime_type.map(str::to_string),
            blob: base64::engine::general_purpose::STANDARD.encode(bytes),
        }
    }

    /// Text when the bytes are UTF-8, otherwise a blob.
    pub fn from_bytes(uri: impl Into<String>, mime_type: Option<&str>, bytes: &[u8]) -> Self {
        match std::str::from_utf8(bytes) {
            Ok(text) => Self::text(uri, mime_type, text),
            Err(_) => Self::blob(uri, mime_type, bytes),
        }
    }

    /// The resource's URI.
    pub fn uri(&self) -> &str {
        match self {
            ResourceContents::Text { uri, .. } | ResourceContents::Blob { uri, .. } => uri,
        }
    }
}

/// A content block of a tool result or a prompt message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Content {
    /// Text.
    Text {
        /// The text.
        text: String,
        /// Hints for the client.
        #[serde(skip_serializing_if = "Option::is_none")]
        annotations: Option<Annotations>,
    },
    /// An image.
    Image {
        /// The bytes, base64-encoded.
        data: String,
        /// Its media type, e.g. `image/png`.
        #[serde(rename = "mimeType")]
        mime_type: String,
        /// Hints for the client.
        #[serde(skip_serializing_if = "Option::is_none")]
        annotations: Option<Annotations>,
    },
    /// Audio.
    Audio {
        /// The bytes, base64-encoded.
        data: String,
        /// Its media type, e.g. `audio/wav`.
        #[serde(rename = "mimeType")]
        mime_type: String,
        /// Hints for the client.
        #[serde(skip_serializing_if = "Option::is_none")]
        annotations: Option<Annotations>,
    },
    /// An embedded resource.
    Resource {
        /// Its contents.
        resource: ResourceContents,
        /// Hints for the client.
        #[serde(skip_serializing_if = "Option::is_none")]
        annotations: Option<Annotations>,
    },
    /// A link to a resource (2025-06-18 and later; older clients get a text
    /// block naming it).
    ResourceLink {
        /// The resource's URI.
        uri: String,
        /// Its name.
        name: String,
        /// A title for people.
        #[serde(skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        /// What it is.
        #[serde(skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        /// Its media type.
        #[serde(rename = "mimeType", skip_serializing_if = "Option::is_none")]
        mime_type: Option<String>,
        /// Hints for the client.
        #[serde(skip_serializing_if = "Option::is_none")]
        annotations: Option<Annotations>,
    },
}

impl Content {
    /// A text block.
    pub fn text(text: impl Into<String>) -> Content {
        Content::Text {
            text: text.into(),
            annotations: None,
        }
    }

    /// An image from raw bytes.
    pub fn image(bytes: &[u8], mime_type: impl Into<String>) -> Content {
        Content::Image {
            data: base64::engine::general_purpose::STANDARD.encode(bytes),
            mime_type: mime_type.into(),
            annotations: None,
        }
    }

    /// Audio from raw bytes.
    pub fn audio(bytes: &[u8], mime_type: impl Into<String>) -> Content {
        Content::Audio {
            data: base64::engine::general_purpose::STANDARD.encode(bytes),
            mime_type: mime_type.into(),
            annotations: None,
        }
    }

    /// An embedded resource.
    pub fn resource(contents: ResourceContents) -> Content {
        Content::Resource {
            resource: contents,
            annotations: None,
        }
    }

    /// The block as a client of version `v` reads it: 2025-03-26 knows no
    /// `resource_link` (it becomes a text block naming the URI) and no
    /// `lastModified` annotation.
    pub(crate) fn into_version(self, v: ProtocolVersion) -> Content {
        let mut out = self;
        if !v.has_titles_and_structured_output() {
            if let Content::ResourceLink {
                uri,
                name,
                description,
                annotations,
                ..
            } = &out
            {
                let mut text = format!("{name}: {uri}");
                if let Some(d) = description {
                    text.push_str(&format!(" ({d})"));
                }
                out = Content::Text {
                    text,
                    annotations: annotations.clone(),
                };
            }
            match &mut out {
                Content::Text { annotations, .. }
                | Content::Image { annotations, .. }
                | Content::Audio { annotations, .. }
                | Content::Resource { annotations, .. }
                | Content::ResourceLink { annotations, .. } => {
                    if let Some(a) = annotations {
                        a.last_modified = None;
                    }
                }
            }
        }
        out
    }
}

/// What a tool returns: content blocks, optionally `structuredContent`, and whether
/// it is an error the model should see (`isError`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
///
/// ```
/// use gatehouse::{Content, ToolResult};
///
/// let found = ToolResult::new(vec![Content::text("2 notes"), Content::image(b"\x89PNG", "image/png")]);
/// assert!(!found.is_error);
/// // A failure the model should read and act on (not a protocol error):
/// let refused = ToolResult::error("`when` must be in the future");
/// assert!(refused.is_error);
/// ```
pub struct ToolResult {
    /// The content blocks.
    pub content: Vec<Content>,
    /// Structured output (tools with an `output` in the spec return their
    /// typed output instead, and it lands here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub structured_content: Option<Value>,
    /// Whether the call failed in a way the model should see.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub is_error: bool,
}

impl ToolResult {
    /// A successful result with these blocks.
    pub fn new(content: Vec<Content>) -> ToolResult {
        ToolResult {
            content,
            structured_content: None,
            is_error: false,
        }
    }

    /// A successful result of one text block.
    pub fn text(text: impl Into<String>) -> ToolResult {
        ToolResult::new(vec![Content::text(text)])
    }

    /// An execution error shown to the model so it can correct itself.
    pub fn error(text: impl Into<String>) -> ToolResult {
        ToolResult {
            content: vec![Content::text(text)],
            structured_content: None,
            is_error: true,
        }
    }

    /// Structured output with its JSON text as a content block, for clients that
    /// read only `content`.
    pub fn structured(value: Value) -> ToolResult {
        ToolResult {
            content: vec![Content::text(value.to_string())],
            structured_content: Some(value),
            is_error: false,
        }
    }

    /// The result as a client of version `v` reads it (see
    /// `Content::into_version`).
    pub(crate) fn into_version(self, v: ProtocolVersion) -> ToolResult {
        let structured = v.has_titles_and_structured_output();
        ToolResult {
            content: self
                .content
                .into_iter()
                .map(|c| c.into_version(v))
                .collect(),
            structured_content: self.structured_content.filter(|_| structured),
            is_error: self.is_error,
        }
    }
}

impl From<String> for ToolResult {
    fn from(text: String) -> Self {
        ToolResult::text(text)
    }
}

impl From<&str> for ToolResult {
    fn from(text: &str) -> Self {
        ToolResult::text(text)
    }
}

impl From<Content> for ToolResult {
    fn from(c: Content) -> Self {
        ToolResult::new(vec![c])
    }
}

impl From<Vec<Content>> for ToolResult {
    fn from(c: Vec<Content>) -> Self {
        ToolResult::new(c)
    }
}

/// A prompt argument as listed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PromptArgument {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub required: bool,
}

/// A prompt as listed by `prompts/list`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Prompt {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub description: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub arguments: Vec<PromptArgument>,
}

impl Prompt {
    pub fn for_version(&self, v: ProtocolVersion) -> Prompt {
        let mut out = self.clone();
        if !v.has_titles_and_structured_output() {
            out.title = None;
            for a in &mut out.arguments {
                a.title = None;
            }
        }
        out
    }
}

/// One rendered prompt message.
#[derive(Debug, Clone, Serialize)]
pub struct PromptMessage {
    pub role: Role,
    pub content: Content,
}

/// A resource as listed by `resources/list`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    pub uri: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

impl Resource {
    pub fn for_version(&self, v: ProtocolVersion) -> Resource {
        let mut out = self.clone();
        if !v.has_titles_and_structured_output() {
            out.title = None;
        }
        out
    }
}

/// A resource template as listed by `resources/templates/list`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceTemplate {
    pub uri_template: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
}

impl ResourceTemplate {
    pub fn for_version(&self, v: ProtocolVersion) -> ResourceTemplate {
        let mut out = self.clone();
        if !v.has_titles_and_structured_output() {
            out.title = None;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tool_results_lose_structured_content_before_2025_06_18() {
        let r = ToolResult::structured(json!({"id": "1"}));
        let old =
            serde_json::to_value(r.clone().into_version(ProtocolVersion::V2025_03_26)).unwrap();
        assert_eq!(
            old,
            json!({"content": [{"type": "text", "text": "{\"id\":\"1\"}"}]})
        );
        let new =
            serde_json::to_value(r.clone().into_version(ProtocolVersion::V2025_06_18)).unwrap();
        assert_eq!(new["structuredContent"], json!({"id": "1"}));
    }

    #[test]
    fn resource_links_become_text_for_2025_03_26() {
        let link = Content::ResourceLink {
            uri: "memory://memories/1".into(),
            name: "m1".into(),
            title: None,
            description: None,
            mime_type: None,
            annotations: None,
        };
        assert_eq!(
            link.clone().into_version(ProtocolVersion::V2025_03_26),
            Content::text("m1: memory://memories/1")
        );
        assert_eq!(
            link.clone().into_version(ProtocolVersion::V2025_06_18),
            link
        );
    }
}
