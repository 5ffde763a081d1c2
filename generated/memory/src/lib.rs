//! The memory server: a personal memory store an AI assistant keeps about its
//! user, served over MCP. The tools, prompt and resources are declared in
//! `specs/memory.yaml`; this crate implements them.

pub mod memories;

use gatehouse::{
    CompletionRef, CompletionRequest, Context, ResourceContents, ResourceError, Store, ToolError,
};
use serde_json::{Value, json};

use crate::memories::Memories;

/// The module generated from the spec: typed arguments, the `Tools` trait, dispatch.
pub mod api {
    gatehouse::spec!("../../specs/memory.yaml");
}

use api::*;

/// The server's state: where memories are kept.
pub struct MemoryServer {
    memories: Memories,
}

impl MemoryServer {
    pub async fn open(store: &Store) -> anyhow::Result<MemoryServer> {
        Ok(MemoryServer {
            memories: Memories::open(store).await?,
        })
    }
}

/// The app `cargo run` serves.
pub async fn app(store: Store) -> anyhow::Result<gatehouse::App> {
    Ok(api::app(MemoryServer::open(&store).await?))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A stored memory as the tools return it (`Memory`, declared once under
/// `types` in the spec and used by both search results and list pages).
impl From<&memories::Memory> for api::Memory {
    fn from(m: &memories::Memory) -> Self {
        Self {
            id: m.id.clone(),
            text: m.text.clone(),
            tags: m.tags(),
            created_at: m.created_at_rfc3339(),
        }
    }
}

impl Tools for MemoryServer {
    async fn add_memory(
        &self,
        ctx: Context,
        args: AddMemoryArgs,
    ) -> Result<AddMemoryOutput, ToolError> {
        let tags = args.tags.unwrap_or_default();
        let m = self
            .memories
            .add(ctx.user_id(), &args.text, &tags, now_ms())
            .await?;
        Ok(AddMemoryOutput {
            id: m.id.clone(),
            created_at: m.created_at_rfc3339(),
        })
    }

    async fn search_memories(
        &self,
        ctx: Context,
        args: SearchMemoriesArgs,
    ) -> Result<SearchMemoriesOutput, ToolError> {
        let found = self
            .memories
            .search(ctx.user_id(), &args.query, args.limit)
            .await?;
        Ok(SearchMemoriesOutput {
            memories: found.iter().map(Into::into).collect(),
        })
    }

    async fn list_memories(
        &self,
        ctx: Context,
        args: ListMemoriesArgs,
    ) -> Result<ListMemoriesOutput, ToolError> {
        let page = self
            .memories
            .list(ctx.user_id(), args.cursor.as_deref(), args.limit)
            .await
            .map_err(|e| match e.downcast::<memories::BadCursor>() {
                Ok(bad) => ToolError::failed(bad.to_string()),
                Err(other) => ToolError::internal(other),
            })?;
        Ok(ListMemoriesOutput {
            memories: page.memories.iter().map(Into::into).collect(),
            next_cursor: page.next_cursor,
        })
    }

    async fn delete_memory(
        &self,
        ctx: Context,
        args: DeleteMemoryArgs,
    ) -> Result<DeleteMemoryOutput, ToolError> {
        Ok(DeleteMemoryOutput {
            deleted: self.memories.delete(ctx.user_id(), &args.id).await?,
        })
    }

    async fn read_memory(
        &self,
        ctx: Context,
        uri: String,
        params: MemoryParams,
    ) -> Result<Vec<ResourceContents>, ResourceError> {
        let m = self
            .memories
            .get(ctx.user_id(), &params.id)
            .await?
            .ok_or(ResourceError::NotFound)?;
        let body = json!({
            "id": m.id,
            "text": m.text,
            "tags": m.tags(),
            "created_at": m.created_at_rfc3339(),
        });
        Ok(vec![ResourceContents::text(
            uri,
            Some("application/json"),
            body.to_string(),
        )])
    }

    async fn prompt_summarize_topic(
        &self,
        ctx: Context,
        args: SummarizeTopicPromptArgs,
    ) -> Result<Value, ToolError> {
        let found = self.memories.search(ctx.user_id(), &args.topic, 20).await?;
        let memories: Vec<Value> = found
            .iter()
            .map(|m| json!({ "text": m.text, "tags": m.tags() }))
            .collect();
        Ok(json!({ "memories": memories }))
    }

    async fn complete(
        &self,
        ctx: Context,
        request: CompletionRequest,
    ) -> Result<Vec<String>, ToolError> {
        match (&request.reference, request.argument.as_str()) {
            (CompletionRef::Prompt { name }, "topic") if name == "summarize_topic" => Ok(self
                .memories
                .tags_starting_with(ctx.user_id(), &request.value)
                .await?),
            _ => Ok(Vec::new()),
        }
    }
}
