"""The official Python SDK client (`mcp` from PyPI) through the whole OAuth flow
against the memory server: 401 → protected-resource metadata → authorization-
server metadata → dynamic registration → PKCE authorize with the sign-in page
(headless Chromium, through ../lib/sign-in.mjs) → token → initialize →
tools/list → add_memory → search_memories finds it → refresh → call again;
then the high-level `Client` in its default mode on the 2026-07-28 revision
with the same tokens.

    python client.py MCP_URL EMAIL PASSWORD

The server is started (and the account created) by ../real-clients.mjs.
"""

import asyncio
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx2
from mcp import Client
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata

REDIRECT = "http://127.0.0.1:8977/oauth/callback"
SIGN_IN = Path(__file__).resolve().parent.parent / "lib" / "sign-in.mjs"


def check(condition, message):
    if not condition:
        raise SystemExit(f"check failed: {message}")
    print(f"  ok  {message}", flush=True)


def check_sequence(log, wanted, what):
    i = 0
    for entry in log:
        if i < len(wanted) and entry == wanted[i]:
            i += 1
    missing = f' (missing "{wanted[i]}" in {log})' if i < len(wanted) else ""
    check(i == len(wanted), f"{what}: {' → '.join(wanted)}{missing}")


class MemoryStorage(TokenStorage):
    """What a desktop app would keep in its settings."""

    def __init__(self):
        self.tokens = None
        self.client = None
        self.token_saves = 0

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens
        self.token_saves += 1

    async def get_client_info(self):
        return self.client

    async def set_client_info(self, client_info):
        self.client = client_info


async def main(mcp_url, email, password):
    print(f"Python SDK client against {mcp_url}", flush=True)
    log = []
    pending = {}

    async def redirect_handler(url):
        pending["authorize"] = url

    async def callback_handler():
        # A person signs in on the page; the browser comes back with the code.
        url = pending["authorize"]
        query = parse_qs(urlparse(url).query)
        check(query.get("code_challenge_method") == ["S256"], "PKCE S256")
        check(query.get("resource") == [mcp_url], f"resource={query.get('resource')}")
        back = subprocess.run(
            ["node", str(SIGN_IN), url, REDIRECT, email, password],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
        params = parse_qs(urlparse(back).query)
        check(params.get("state") == query.get("state"), "state returned unchanged")
        return AuthorizationCodeResult(
            code=params["code"][0], state=params["state"][0], iss=params.get("iss", [None])[0]
        )

    async def record(response):
        log.append(f"{response.request.method} {response.request.url.path} {response.status_code}")
        sessions.append(response.headers.get("mcp-session-id"))

    sessions = []

    storage = MemoryStorage()
    provider = OAuthClientProvider(
        server_url=mcp_url,
        client_metadata=OAuthClientMetadata(
            client_name="gatehouse interop (Python SDK)",
            redirect_uris=[REDIRECT],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )
    http = httpx2.AsyncClient(auth=provider, event_hooks={"response": [record]}, timeout=30)
    async with http, streamable_http_client(mcp_url, http_client=http) as streams:
        read, write = streams[0], streams[1]
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            check_sequence(log, [
                "POST /mcp 401",
                "GET /.well-known/oauth-protected-resource/mcp 200",
                "GET /.well-known/oauth-authorization-server 200",
                "POST /oauth/register 201",
                "POST /oauth/token 200",
                "POST /mcp 200",
            ], "discovery, registration, sign-in and token")
            check(init.server_info.name == "memory", f"initialized: {init.server_info.name} {init.protocol_version}")
            check(storage.tokens and storage.tokens.refresh_token, "access and refresh tokens saved")

            tools = await session.list_tools()
            names = [t.name for t in tools.tools]
            check("add_memory" in names and "search_memories" in names, f"tools/list: {', '.join(names)}")
            added = await session.call_tool(
                "add_memory", {"text": "The Python SDK remembers the lighthouse keeper", "tags": ["interop"]}
            )
            memory_id = (added.structured_content or {}).get("id")
            check(not added.is_error and memory_id, f"add_memory → id {memory_id}")
            found = await session.call_tool("search_memories", {"query": "lighthouse"})
            ids = [m["id"] for m in (found.structured_content or {}).get("memories", [])]
            check(memory_id in ids, "search_memories finds it")

            # The access token's lifetime passes (the client's clock is moved
            # rather than waiting an hour): the SDK refreshes before the next call.
            before = storage.tokens
            provider.context.token_expiry_time = time.time() - 1
            again = await session.call_tool("search_memories", {"query": "keeper"})
            ids = [m["id"] for m in (again.structured_content or {}).get("memories", [])]
            check(memory_id in ids, "search_memories after refresh finds it")
            after = storage.tokens
            check(after.access_token != before.access_token, "a new access token")
            check(after.refresh_token and after.refresh_token != before.refresh_token, "the refresh token rotated")
            check_sequence(log[-3:], ["POST /oauth/token 200", "POST /mcp 200"], "refresh then call")

    # The 2026-07-28 era: the SDK's high-level Client in its default mode
    # ("auto") probes server/discover and stays on the new revision when the
    # server answers it; no session, each request authorized on its own (the
    # same saved tokens).
    log.clear()
    sessions.clear()
    http = httpx2.AsyncClient(auth=provider, event_hooks={"response": [record]}, timeout=30)
    async with http, Client(streamable_http_client(mcp_url, http_client=http)) as client:
        check(client.protocol_version == "2026-07-28", f"default mode: protocol {client.protocol_version}")
        tools = await client.list_tools()
        check("search_memories" in [t.name for t in tools.tools], "tools/list without a session")
        found = await client.call_tool("search_memories", {"query": "lighthouse"})
        ids = [m["id"] for m in (found.structured_content or {}).get("memories", [])]
        check(memory_id in ids, "search_memories (2026-07-28) finds the memory")
    check(log and all(e.startswith("POST /mcp 200") for e in log), f"only POSTs to /mcp, all 200: {log}")
    check(not any(sessions), "no Mcp-Session-Id was handed out")
    print("Python SDK client: the whole flow passed", flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
