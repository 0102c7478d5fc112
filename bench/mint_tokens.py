"""Mint N distinct access tokens by client_credentials and print one a line (for bench/run.sh).

usage: mint_tokens.py TOKEN_ENDPOINT RESOURCE SCOPES N
"""

import asyncio
import sys

import httpx

CONCURRENCY = 8


async def main(endpoint: str, resource: str, scopes: str, count: int) -> None:
    data = {"grant_type": "client_credentials", "scope": scopes, "resource": resource}
    async with httpx.AsyncClient(auth=("mcp-client", "mcp-secret"), timeout=10.0) as client:

        async def worker(n: int) -> list[str]:
            tokens = []
            for _ in range(n):
                response = await client.post(endpoint, data=data)
                response.raise_for_status()
                tokens.append(response.json()["access_token"])
            return tokens

        shares = [count // CONCURRENCY + (i < count % CONCURRENCY) for i in range(CONCURRENCY)]
        for tokens in await asyncio.gather(*(worker(n) for n in shares)):
            sys.stdout.write("".join(t + "\n" for t in tokens))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
