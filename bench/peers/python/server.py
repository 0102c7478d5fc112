"""Peer for bench/run.sh: the official Python MCP SDK (mcp 2.x) as an OAuth resource server.

Same routes and configuration as `examples/mcp_server`: POST|GET|DELETE /mcp (one tool),
GET /whoami (protected JSON of principal + scopes), RFC 9728 metadata. Auth is the SDK's own
`TokenVerifier` protocol wired through `MCPServer(token_verifier=..., auth=AuthSettings(...))`:

* JWT mode: PyJWT with `PyJWKClient` (keys cached), signature + `iss` + `aud` + `exp` checked
  by `jwt.decode`;
* introspection mode: the SDK's RFC 7662 example verifier (`simple-auth/token_verifier.py`),
  with one pooled `httpx.AsyncClient` instead of one client per call, and client_secret_basic
  authentication because the authorization server requires it. No cache, as in the example.

Sessions: the SDK default (stateful; the client initializes once and sends Mcp-Session-Id).
"""

import argparse

import httpx
import jwt
import uvicorn
from starlette.responses import JSONResponse
from starlette.routing import Route

from mcp.server.auth.middleware.bearer_auth import RequireAuthMiddleware
from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer


def access_token(token: str, claims: dict, audience: str) -> AccessToken:
    """The SDK's AccessToken from verified JWT claims or an active introspection response."""
    scope = claims.get("scope")
    return AccessToken(
        token=token,
        client_id=claims.get("client_id", "unknown"),
        scopes=scope.split() if scope else [],
        expires_at=claims.get("exp"),
        resource=audience,
        subject=claims.get("sub"),
        claims=claims,
    )


class JwksVerifier(TokenVerifier):
    """JWT access tokens checked against the issuer's JWKS (keys cached by PyJWKClient)."""

    def __init__(self, jwks_uri: str, issuer: str, audience: str):
        self.jwks = jwt.PyJWKClient(jwks_uri)  # defaults: JWK set cached 300 s, keys cached
        self.issuer = issuer
        self.audience = audience

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            key = self.jwks.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=["RS256", "PS256", "ES256", "EdDSA"],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError:
            return None
        return access_token(token, claims, self.audience)


class IntrospectionVerifier(TokenVerifier):
    """RFC 7662 introspection, following the SDK's simple-auth example verifier."""

    def __init__(self, endpoint: str, client_id: str, client_secret: str, audience: str):
        self.endpoint = endpoint
        self.audience = audience
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(10.0, connect=5.0),
            limits=httpx.Limits(max_connections=10, max_keepalive_connections=5),
            auth=(client_id, client_secret),
        )

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            response = await self.client.post(self.endpoint, data={"token": token})
            if response.status_code != 200:
                return None
            data = response.json()
        except (httpx.HTTPError, ValueError):
            return None
        if data.get("active") is not True:
            return None
        aud = data.get("aud")
        if self.audience not in (aud if isinstance(aud, list) else [aud]):
            return None
        return access_token(token, data, self.audience)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", required=True)
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--audience", required=True)
    parser.add_argument("--jwks-uri")
    parser.add_argument("--introspection-endpoint")
    parser.add_argument("--client-id")
    parser.add_argument("--client-secret")
    parser.add_argument("--scopes", default="mcp:read mcp:write")
    args = parser.parse_args()
    host, port = args.listen.rsplit(":", 1)

    if args.introspection_endpoint:
        verifier: TokenVerifier = IntrospectionVerifier(
            args.introspection_endpoint, args.client_id, args.client_secret, args.audience
        )
    else:
        verifier = JwksVerifier(args.jwks_uri, args.issuer, args.audience)

    mcp = MCPServer(
        "bench-peer-python",
        token_verifier=verifier,
        auth=AuthSettings(
            issuer_url=args.issuer,
            resource_server_url=args.audience,
            required_scopes=args.scopes.split(),
            # The verifiers above check the audience themselves.
            validate_token_resource=False,
        ),
        log_level="WARNING",
    )

    @mcp.tool()
    def echo(text: str) -> str:
        """Echo the text back."""
        return text

    app = mcp.streamable_http_app(host=host)

    async def whoami(scope, receive, send):
        token = scope["user"].access_token
        claims = token.claims or {}
        body = {
            "client_id": token.client_id,
            "issuer": claims.get("iss"),
            "subject": token.subject,
            "scopes": sorted(token.scopes),
        }
        await JSONResponse(body)(scope, receive, send)

    metadata_url = f"{args.audience.rstrip('/').rsplit('/mcp', 1)[0]}/.well-known/oauth-protected-resource"
    app.router.routes.append(
        Route("/whoami", endpoint=RequireAuthMiddleware(whoami, [], metadata_url), methods=["GET"])
    )
    uvicorn.run(app, host=host, port=int(port), log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
