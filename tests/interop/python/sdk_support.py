"""Shared by the client scripts: an in-memory token store for the SDK's OAuth
provider, the text of a tool result, and how a script runs and reports."""

import asyncio
import json
import sys


class MemoryStorage:
    def __init__(self):
        self.tokens = None
        self.client_info = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client_info

    async def set_client_info(self, client_info):
        self.client_info = client_info


def text_of(result):
    return "".join(getattr(block, "text", "") for block in result.content)


def run_reporting(run, args):
    """Runs `run(args)`; a failure is printed as a JSON report, never hidden,
    and the script exits non-zero."""
    try:
        asyncio.run(run(args))
    except Exception as exc:
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        sys.exit(1)


async def initialize_and_list(session, out):
    """initialize, then tools/list: records the negotiated revision and the tool names."""
    init = await session.initialize()
    out["protocol_version"] = init.protocol_version
    tools = await session.list_tools()
    out["tools"] = sorted(t.name for t in tools.tools)

