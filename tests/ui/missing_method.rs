// A tool in the spec without its method fails the build naming the method.
mod api {
    gatehouse::spec!("../../../../tests/ui/two_tools.yaml");
}

struct Impl;

impl api::Tools for Impl {
    async fn first_tool(
        &self,
        _ctx: gatehouse::Context,
        _args: api::FirstToolArgs,
    ) -> Result<gatehouse::ToolResult, gatehouse::ToolError> {
        Ok(gatehouse::ToolResult::text("ok"))
    }
}

fn main() {}
