"""Drive an MCP server at revision 2026-07-28 (stateless) with the official
Python SDK: no initialize, no session.

OAuth discovery from the 401 challenge -> RFC 9728 metadata -> the
authorization server's metadata -> client_credentials token -> the SDK's
connect-time negotiation (`Client(mode=...)`: "auto" probes `server/discover`,
a version string adopts it without a probe) -> tools/list -> tools/call echo
and whoami -> a call that needs a wider scope (the SDK steps up on 403
insufficient_scope) -> `clear_notes`, whose first answer is an
`input_required` result carrying only `requestState` (the SDK retries with it
by itself: SEP-2322 multi round trip).

Prints one JSON object on stdout with what happened; exits non-zero on failure.
Never logs tokens: only methods, paths, status codes and the MCP headers.
"""

import argparse
import json

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from sdk_support import (
    MemoryStorage,
    Recorder,
    client_credentials_arguments,
    client_credentials_provider,
    print_report,
    run_reporting,
    text_of,
)


class StatelessRecorder(Recorder):
    """Records each exchange: method, origin, path, status, the MCP request headers the
    SDK sent, the JSON-RPC method of the body (and whether its params carried a
    requestState), and whether the response carried
    an `Mcp-Session-Id` (never its value, never any other header or body: they
    carry tokens)."""

    def entry(self, request, response):
        rpc_method = None
        has_request_state = False
        if request.method == "POST" and request.url.path.endswith("/mcp"):
            try:
                body = json.loads(request.content)
                rpc_method = body.get("method")
                has_request_state = "requestState" in (body.get("params") or {})
            except Exception:  # not JSON or a stream: leave it out
                rpc_method = None
        return {
            "method": request.method,
            # Which server answered: the MCP server or the authorization server.
            "origin": f"{request.url.scheme}://{request.url.host}:{request.url.port}",
            "path": str(request.url.path),
            "status": response.status_code,
            "rpc": rpc_method,
            # Whether params carried a requestState (never its value).
            "request_state": has_request_state,
            "protocol_version": request.headers.get("mcp-protocol-version"),
            "mcp_method": request.headers.get("mcp-method"),
            "mcp_name": request.headers.get("mcp-name"),
            "sent_session_id": "mcp-session-id" in request.headers,
            "got_session_id": "mcp-session-id" in response.headers,
        }


async def run(args):
    storage = MemoryStorage()
    provider = client_credentials_provider(args, storage)
    recorder = StatelessRecorder()
    out = {}
    async with httpx2.AsyncClient(auth=provider, transport=recorder, timeout=30) as http:
        transport = streamable_http_client(args.url, http_client=http)
        async with Client(transport, mode=args.mode, cache=None) as client:
            session = client.session
            out["protocol_version"] = client.protocol_version
            out["discovered"] = session.discover_result is not None
            out["initialized"] = session.initialize_result is not None
            if session.discover_result is not None:
                out["supported_versions"] = list(session.discover_result.supported_versions)
            tools = await client.list_tools()
            out["tools"] = sorted(t.name for t in tools.tools)
            echo = await client.call_tool("echo", {"text": "hello stateless"})
            out["echo"] = {"is_error": bool(echo.is_error), "text": text_of(echo)}
            whoami = await client.call_tool("whoami", {})
            out["whoami"] = json.loads(text_of(whoami))
            if args.write_tool:
                result = await client.call_tool(args.write_tool, json.loads(args.write_args))
                out["write"] = {"is_error": bool(result.is_error), "text": text_of(result)}
                whoami = await client.call_tool("whoami", {})
                out["whoami_after"] = json.loads(text_of(whoami))
            if args.clear:
                before = await client.call_tool("list_notes", {})
                out["notes_before"] = json.loads(text_of(before))
                try:
                    cleared = await client.call_tool("clear_notes", {})
                    out["clear"] = {"is_error": bool(cleared.is_error), "text": text_of(cleared)}
                except Exception as exc:  # report what the SDK made of it
                    out["clear"] = {"exception": f"{type(exc).__name__}: {exc}"}
                after = await client.call_tool("list_notes", {})
                out["notes_after"] = json.loads(text_of(after))
    print_report(out, storage, recorder)


def main():
    parser = argparse.ArgumentParser()
    client_credentials_arguments(parser)
    # "auto": probe server/discover (fall back to initialize on a legacy
    # server); "2026-07-28": adopt the revision without a probe.
    parser.add_argument("--mode", default="auto")
    parser.add_argument("--clear", action="store_true")
    run_reporting(run, parser.parse_args())


if __name__ == "__main__":
    main()
