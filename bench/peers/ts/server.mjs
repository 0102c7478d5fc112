// Peer for bench/run.sh: the official TypeScript MCP SDK (@modelcontextprotocol/sdk 1.x) as an
// OAuth resource server, configured like `examples/mcp_server`.
//
// Routes: POST|GET|DELETE /mcp (one tool), GET /whoami (protected JSON of principal + scopes),
// GET /.well-known/oauth-protected-resource[/mcp]. Auth is the SDK's `requireBearerAuth` with
// `expectedResource` (audience) and the required scopes, and one of two verifiers:
//   * JWT: jose `createRemoteJWKSet` + `jwtVerify` (issuer and audience checked);
//   * introspection: RFC 7662 POST with client_secret_basic (no cache, like the SDK examples).
// Sessions: the SDK's stateful pattern (initialize once, Mcp-Session-Id, one transport per session).
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createRemoteJWKSet, jwtVerify, errors as joseErrors } from 'jose';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import { InvalidTokenError, ServerError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';

const { values: args } = parseArgs({
  options: {
    listen: { type: 'string' },
    issuer: { type: 'string' },
    audience: { type: 'string' },
    'jwks-uri': { type: 'string' },
    'introspection-endpoint': { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    scopes: { type: 'string', default: 'mcp:read mcp:write' },
  },
});
const [host, port] = [args.listen.slice(0, args.listen.lastIndexOf(':')), Number(args.listen.slice(args.listen.lastIndexOf(':') + 1))];
const scopes = args.scopes.split(' ').filter(Boolean);

function jwtVerifier() {
  const jwks = createRemoteJWKSet(new URL(args['jwks-uri']));
  return {
    async verifyAccessToken(token) {
      let payload;
      try {
        ({ payload } = await jwtVerify(token, jwks, { issuer: args.issuer, audience: args.audience }));
      } catch (error) {
        if (error instanceof joseErrors.JOSEError && !(error instanceof joseErrors.JWKSTimeout)) {
          throw new InvalidTokenError('Invalid token');
        }
        throw new ServerError('Key set unavailable');
      }
      return {
        token,
        clientId: String(payload.client_id ?? payload.sub ?? 'unknown'),
        scopes: typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [],
        expiresAt: payload.exp,
        resource: new URL(args.audience),
        extra: { iss: payload.iss, sub: payload.sub },
      };
    },
  };
}

function introspectionVerifier() {
  const basic = 'Basic ' + Buffer.from(`${args['client-id']}:${args['client-secret']}`).toString('base64');
  return {
    async verifyAccessToken(token) {
      let data;
      try {
        const response = await fetch(args['introspection-endpoint'], {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basic },
          body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
          signal: AbortSignal.timeout(5000),
        });
        if (!response.ok) throw new Error(`introspection status ${response.status}`);
        data = await response.json();
      } catch {
        throw new ServerError('Introspection unavailable');
      }
      if (data.active !== true) throw new InvalidTokenError('Token is not active');
      const aud = Array.isArray(data.aud) ? data.aud : [data.aud];
      return {
        token,
        clientId: String(data.client_id ?? 'unknown'),
        scopes: typeof data.scope === 'string' ? data.scope.split(' ').filter(Boolean) : [],
        expiresAt: data.exp,
        resource: aud.includes(args.audience) ? new URL(args.audience) : undefined,
        extra: { iss: data.iss, sub: data.sub },
      };
    },
  };
}

const audience = new URL(args.audience);
const metadataUrl = `${audience.origin}/.well-known/oauth-protected-resource${audience.pathname === '/' ? '' : audience.pathname}`;
const auth = requireBearerAuth({
  verifier: args['introspection-endpoint'] ? introspectionVerifier() : jwtVerifier(),
  requiredScopes: scopes,
  resourceMetadataUrl: metadataUrl,
  expectedResource: audience,
});

function buildServer() {
  const server = new McpServer({ name: 'bench-peer-ts', version: '1.0.0' });
  server.registerTool(
    'echo',
    { description: 'Echo the text back.', inputSchema: { text: z.string() } },
    async ({ text }) => ({ content: [{ type: 'text', text }] }),
  );
  return server;
}

const transports = new Map();
const app = createMcpExpressApp({ host });

const metadata = (_req, res) =>
  res.json({
    resource: args.audience,
    authorization_servers: [args.issuer],
    scopes_supported: scopes,
    bearer_methods_supported: ['header'],
  });
app.get('/.well-known/oauth-protected-resource', metadata);
app.get('/.well-known/oauth-protected-resource/mcp', metadata);

app.get('/whoami', auth, (req, res) => {
  res.json({
    client_id: req.auth.clientId,
    issuer: req.auth.extra?.iss ?? null,
    subject: req.auth.extra?.sub ?? null,
    scopes: [...req.auth.scopes].sort(),
  });
});

app.post('/mcp', auth, async (req, res) => {
  const sessionId = req.headers['mcp-session-id'];
  let transport = sessionId ? transports.get(sessionId) : undefined;
  if (!transport) {
    if (sessionId || !isInitializeRequest(req.body)) {
      res.status(sessionId ? 404 : 400).json({ jsonrpc: '2.0', error: { code: -32000, message: 'Session not found' }, id: null });
      return;
    }
    transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: id => transports.set(id, transport),
    });
    transport.onclose = () => transport.sessionId && transports.delete(transport.sessionId);
    await buildServer().connect(transport);
  }
  await transport.handleRequest(req, res, req.body);
});

const existingSession = async (req, res) => {
  const transport = transports.get(req.headers['mcp-session-id']);
  if (!transport) {
    res.status(404).json({ jsonrpc: '2.0', error: { code: -32000, message: 'Session not found' }, id: null });
    return;
  }
  await transport.handleRequest(req, res);
};
app.get('/mcp', auth, existingSession);
app.delete('/mcp', auth, existingSession);

const server = app.listen(port, host);
const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
