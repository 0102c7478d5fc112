"""Log in to an MCP server as an interactive client does, with the official
Python SDK's OAuth client provider (`OAuthClientProvider`): discovery from the
401, RFC 7591 registration as a public client, the authorization code grant
with PKCE (a headless redirect handler follows the authorization redirect and
hands its `code`, `state` and `iss` to the SDK), then initialize -> tools/list
-> tools/call; then it waits past the access token's lifetime so that the SDK
refreshes, and calls again.

Prints one JSON object on stdout; exits non-zero on failure. The report holds
the refresh tokens the SDK stored, in order, so that the test can replay a
spent one (test tokens from a development issuer, nowhere else).
"""

import argparse
import asyncio
import json
from urllib.parse import parse_qs, urlparse

import httpx2
from mcp import ClientSession
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata

from sdk_support import MemoryStorage, Recorder, initialize_and_list, run_reporting, text_of


class GrantRecorder(Recorder):
    """Also records the grant type of token requests (never a token)."""

    def entry(self, request, response):
        entry = super().entry(request, response)
        if request.url.path == "/token":
            form = parse_qs(request.content.decode())
            entry.append(form.get("grant_type", [None])[0])
        return entry


class RecordingStorage(MemoryStorage):
    """The SDK's token store, remembering every refresh token it was given."""

    def __init__(self):
        super().__init__()
        self.refresh_tokens = []

    async def set_tokens(self, tokens):
        await super().set_tokens(tokens)
        if tokens.refresh_token and tokens.refresh_token not in self.refresh_tokens:
            self.refresh_tokens.append(tokens.refresh_token)


class HeadlessBrowser:
    """Follows the authorization URL as a browser would and catches the
    redirect to the client's loopback redirect URI without serving it."""

    def __init__(self, recorder):
        self.recorder = recorder
        self.result = None

    async def redirect_handler(self, authorization_url):
        async with httpx2.AsyncClient(transport=self.recorder, follow_redirects=False, timeout=30) as browser:
            response = await browser.get(authorization_url)
        if response.status_code != 302:
            raise RuntimeError(f"authorization endpoint answered {response.status_code}: {response.text}")
        query = parse_qs(urlparse(response.headers["location"]).query)
        first = lambda name: query.get(name, [None])[0]  # noqa: E731
        if first("error"):
            raise RuntimeError(f"authorization refused: {first('error')}: {first('error_description')}")
        self.result = AuthorizationCodeResult(code=first("code"), state=first("state"), iss=first("iss"))

    async def callback_handler(self):
        return self.result


async def run(args):
    storage = RecordingStorage()
    recorder = GrantRecorder()
    browser = HeadlessBrowser(recorder)
    provider = OAuthClientProvider(
        server_url=args.url,
        client_metadata=OAuthClientMetadata(
            client_name="tower-bearer interop",
            redirect_uris=[args.redirect_uri],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=browser.redirect_handler,
        callback_handler=browser.callback_handler,
    )
    out = {}
    async with httpx2.AsyncClient(auth=provider, transport=recorder, timeout=30) as http:
        async with streamable_http_client(args.url, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await initialize_and_list(session, out)
                out["whoami"] = json.loads(text_of(await session.call_tool("whoami", {})))
                # Past the access token's lifetime: the SDK refreshes before the next call.
                await asyncio.sleep(args.wait)
                out["whoami_after_refresh"] = json.loads(text_of(await session.call_tool("whoami", {})))
    out["client_id"] = storage.client_info.client_id if storage.client_info else None
    out["refresh_tokens"] = storage.refresh_tokens
    out["http"] = recorder.log
    print(json.dumps(out))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--redirect-uri", default="http://127.0.0.1:33418/callback")
    parser.add_argument("--wait", type=float, default=0)
    run_reporting(run, parser.parse_args())


if __name__ == "__main__":
    main()
