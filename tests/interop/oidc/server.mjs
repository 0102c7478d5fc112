// A real authorization server (panva/oidc-provider) on loopback, for interop tests.
//
// Environment:
//   PORT          port to bind on 127.0.0.1; 0 (default) picks a free one
//   RESOURCE      the resource indicator / audience, e.g. http://127.0.0.1:7000/mcp (required)
//   TOKEN_FORMAT  "opaque" (default: answered by introspection) or "jwt" (RFC 9068 at+jwt, aud = RESOURCE)
//   SCOPES        space separated scopes of RESOURCE (default "mcp:read mcp:write")
//   DPOP          unset (default): the configuration is left as it always was;
//                 "1": DPoP (RFC 9449) on, explicitly (features.dPoP.enabled = true): a token
//                 request with a DPoP proof gets a DPoP-bound token (token_type DPoP, cnf.jkt
//                 in the JWT and in introspection);
//                 "nonce": as "1", and the token endpoint also demands its own DPoP nonces
//                 (use_dpop_nonce + DPoP-Nonce header on a proof without one)
//
// Clients:
//   mcp-client / mcp-secret  confidential, client_credentials, may request RESOURCE
//   rs-client  / rs-secret   the resource server's credentials for introspection
//
// When ready, prints exactly one JSON line to stdout:
//   {"issuer":…,"token_endpoint":…,"introspection_endpoint":…,"jwks_uri":…}
// and keeps running until SIGTERM/SIGINT or until stdin closes. Logs go to stderr.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

// stdout carries exactly one line, the ready line: everything else goes to stderr,
// and a reader that stops listening must not crash the server.
console.log = console.error;
console.info = console.error;
process.stdout.on('error', () => {});

const port = Number.parseInt(process.env.PORT ?? '0', 10);
const resource = process.env.RESOURCE;
const tokenFormat = process.env.TOKEN_FORMAT ?? 'opaque';
const scopes = (process.env.SCOPES ?? 'mcp:read mcp:write').split(' ').filter(Boolean);
const dpop = process.env.DPOP || undefined;

function fail(message) {
  process.stderr.write(`oidc interop server: ${message}\n`);
  process.exit(2);
}

if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`bad PORT ${process.env.PORT}`);
if (!resource) fail('RESOURCE is required');
if (!['jwt', 'opaque'].includes(tokenFormat)) fail(`TOKEN_FORMAT must be jwt or opaque, not ${tokenFormat}`);
if (dpop !== undefined && !['1', 'nonce'].includes(dpop)) fail(`DPOP must be 1 or nonce, not ${dpop}`);

// Only with DPOP set: without it the features stay exactly as before.
const dpopFeature = dpop === undefined
  ? {}
  : {
      dPoP: {
        enabled: true,
        ...(dpop === 'nonce' ? { nonceSecret: randomBytes(32), requireNonce: () => true } : {}),
      },
    };

// An unbounded in-memory adapter: the default one is an LRU of ~1000 items,
// which silently forgets tokens under load tests.
const stores = new Map();
class UnboundedAdapter {
  constructor(model) {
    if (!stores.has(model)) stores.set(model, new Map());
    this.store = stores.get(model);
  }

  live(id) {
    const entry = this.store.get(id);
    if (!entry) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
      this.store.delete(id);
      return undefined;
    }
    return entry.payload;
  }

  async upsert(id, payload, expiresIn) {
    const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : undefined;
    this.store.set(id, { payload, expiresAt });
  }

  async find(id) {
    return this.live(id);
  }

  async findByUid(uid) {
    for (const [id, { payload }] of this.store) {
      if (payload.uid === uid) return this.live(id);
    }
    return undefined;
  }

  async findByUserCode(userCode) {
    for (const [id, { payload }] of this.store) {
      if (payload.userCode === userCode) return this.live(id);
    }
    return undefined;
  }

  async consume(id) {
    const payload = this.live(id);
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    this.store.delete(id);
  }

  async revokeByGrantId(grantId) {
    for (const model of stores.values()) {
      for (const [id, { payload }] of model) {
        if (payload.grantId === grantId) model.delete(id);
      }
    }
  }
}

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'interop-rs256', use: 'sig', alg: 'RS256' };

// Bind first: the issuer must name the real port.
const server = createServer();
server.listen(port, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;

  const provider = new Provider(issuer, {
    adapter: UnboundedAdapter,
    clients: [
      {
        client_id: 'mcp-client',
        client_secret: 'mcp-secret',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      {
        // A second MCP client of the same authorization server.
        client_id: 'other-client',
        client_secret: 'other-secret',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      {
        client_id: 'rs-client',
        client_secret: 'rs-secret',
        grant_types: [],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
    cookies: { keys: ['interop-only-cookie-key'] },
    jwks: { keys: [signingKey] },
    scopes: ['openid', ...scopes],
    ttl: {
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 600,
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      ...dpopFeature,
      introspection: {
        enabled: true,
        // The resource server may introspect any token; a client only its own.
        allowedPolicy: (_ctx, client, token) => client.clientId === 'rs-client' || client.clientId === token.clientId,
      },
      revocation: {
        enabled: true,
        allowedPolicy: (_ctx, client, token) => client.clientId === token.clientId,
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => resource,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, indicator) => {
          if (indicator !== resource) throw new Provider.errors.InvalidTarget();
          return {
            scope: scopes.join(' '),
            audience: resource,
            accessTokenTTL: 3600,
            accessTokenFormat: tokenFormat,
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
  });
  provider.on('server_error', (_ctx, err) => process.stderr.write(`oidc interop server error: ${err.stack}\n`));

  server.on('request', provider.callback());

  const ready = {
    issuer,
    token_endpoint: `${issuer}/token`,
    introspection_endpoint: `${issuer}/token/introspection`,
    jwks_uri: `${issuer}/jwks`,
  };
  process.stdout.write(`${JSON.stringify(ready)}\n`);
});

function shutdown() {
  server.close();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
process.stdin.on('end', shutdown);
process.stdin.on('close', shutdown);
process.stdin.resume();
