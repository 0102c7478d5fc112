"""Shared by the client scripts: an in-memory token store for the SDK's OAuth
provider, the client-credentials provider, the recording HTTP transport, the
text of a tool result, and how a script runs and reports."""

import asyncio
import json
import sys

import httpx2
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider


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


class Recorder(httpx2.AsyncBaseTransport):
    """An HTTP transport that logs one `entry` per exchange: by default method,
    path and status (never headers or bodies: they carry tokens). Scripts that
    need more override `entry`."""

    def __init__(self):
        self.inner = httpx2.AsyncHTTPTransport()
        self.log = []

    def entry(self, request, response):
        return [request.method, str(request.url.path), response.status_code]

    async def handle_async_request(self, request):
        response = await self.inner.handle_async_request(request)
        self.log.append(self.entry(request, response))
        return response

    async def aclose(self):
        await self.inner.aclose()


def client_credentials_provider(args, storage):
    """The SDK's client-credentials OAuth provider for the script's
    `--url --client-id --client-secret --scope --issuer`."""
    return ClientCredentialsOAuthProvider(
        server_url=args.url,
        storage=storage,
        client_id=args.client_id,
        client_secret=args.client_secret,
        scope=args.scope,
        issuer=args.issuer,
    )


def client_credentials_arguments(parser):
    """The arguments of the client-credentials scripts: the server, the
    authorization server and client, and an optional write call."""
    parser.add_argument("--url", required=True)
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--scope", default=None)
    parser.add_argument("--write-tool", default=None)
    parser.add_argument("--write-args", default="{}")


def print_report(out, storage, recorder):
    """Prints the run's JSON report with the scope granted last and the HTTP log."""
    out["granted_scope"] = storage.tokens.scope if storage.tokens else None
    out["http"] = recorder.log
    print(json.dumps(out))


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

