"""One tool that asks the user twice, answered by the official Python SDK
(`mcp` from PyPI) in both protocol eras through the same callback:
conformance-server's `test_input_required_result_multi_round` asks a name,
then a colour.

- `mode="legacy"`: a session (`initialize`); each question arrives as an
  `elicitation/create` request on the call's stream.
- the default mode (`auto`): the SDK probes `server/discover`, stays on
  2026-07-28, and each question comes back as an `InputRequiredResult` that
  the SDK answers and retries with (requestState carried for it).

    python elicit.py MCP_URL
"""

import asyncio
import sys

from mcp import Client, types


def check(condition, message):
    if not condition:
        raise SystemExit(f"check failed: {message}")
    print(f"  ok  {message}", flush=True)


async def run(url, mode):
    asked = []

    async def answer(context, params):
        asked.append(params.message)
        if "name" in params.message:
            return types.ElicitResult(action="accept", content={"name": "Ada"})
        return types.ElicitResult(action="accept", content={"color": "teal"})

    options = {} if mode == "auto" else {"mode": mode}
    async with Client(url, elicitation_callback=answer, **options) as client:
        era = client.protocol_version
        result = await client.call_tool("test_input_required_result_multi_round", {})
        text = result.content[0].text if result.content else ""
    return era, asked, text, result.is_error


async def main(url):
    print(f"Python SDK elicitation in both eras against {url}", flush=True)
    for mode, era_wanted in [("legacy", "2025-11-25"), ("auto", "2026-07-28")]:
        era, asked, text, is_error = await run(url, mode)
        check(era == era_wanted, f"mode {mode}: protocol {era}")
        check(len(asked) == 2 and "name" in asked[0] and "color" in asked[1],
              f"mode {mode}: the user was asked twice, in order: {asked}")
        check(not is_error and text == "Ada likes teal", f"mode {mode}: the tool finished: {text!r}")
    print("Python SDK elicitation: the whole flow passed", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
