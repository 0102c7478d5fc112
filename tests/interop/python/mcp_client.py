"""Drive an MCP server with the official Python SDK's OAuth client.

Discovery from the 401 challenge -> RFC 9728 metadata -> the authorization
server's metadata -> client_credentials token (with the RFC 8707 resource) ->
initialize -> tools/list -> tools/call, optionally followed by a call that
needs a wider scope (the SDK steps up on 403 insufficient_scope).

Prints one JSON object on stdout with what happened; exits non-zero on failure.
"""

import argparse
import json

import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from sdk_support import (
    MemoryStorage,
    Recorder,
    client_credentials_arguments,
    client_credentials_provider,
    initialize_and_list,
    print_report,
    run_reporting,
    text_of,
)


async def run(args):
    storage = MemoryStorage()
    provider = client_credentials_provider(args, storage)
    recorder = Recorder()
    out = {}
    async with httpx2.AsyncClient(auth=provider, transport=recorder, timeout=30) as http:
        async with streamable_http_client(args.url, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await initialize_and_list(session, out)
                whoami = await session.call_tool("whoami", {})
                out["whoami"] = json.loads(text_of(whoami))
                if args.write_tool:
                    result = await session.call_tool(args.write_tool, json.loads(args.write_args))
                    out["write"] = {"is_error": bool(result.is_error), "text": text_of(result)}
                    whoami = await session.call_tool("whoami", {})
                    out["whoami_after"] = json.loads(text_of(whoami))
    print_report(out, storage, recorder)


def main():
    parser = argparse.ArgumentParser()
    client_credentials_arguments(parser)
    run_reporting(run, parser.parse_args())


if __name__ == "__main__":
    main()
