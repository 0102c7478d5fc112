// The official MCP TypeScript SDK as a client of the quickstart (run by
// tests/interop_mcp_clients.rs): a headless OAuth provider registers itself,
// logs in with the authorization code flow and PKCE (the authorization
// redirect is followed by hand: the development issuer approves at once),
// calls tools, then
//   - makes its access token unusable (as an expired one is: the server answers
//     401 invalid_token) and sends two requests at once, so that the SDK
//     refreshes twice with the same refresh token;
//   - calls a tool that needs more than it was granted (403 insufficient_scope)
//     and steps up by re-authorizing with the scopes of the challenge.
// Prints one JSON line: the HTTP exchanges (method, path, status, grant type),
// the registered client id, and what the tools answered.
//
// Usage: node ts_sdk_client.mjs MCP_URL

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { auth } from '@modelcontextprotocol/sdk/client/auth.js';

const mcpUrl = new URL(process.argv[2]);
const REDIRECT = 'http://127.0.0.1:9/callback';

/// Lets `count` callers through together, once all have arrived (or after
/// `ms`, so that a missing one fails the test instead of hanging it).
function barrier(count, ms) {
  let arrived = 0;
  let release;
  const open = new Promise((resolve) => {
    release = resolve;
  });
  const timer = setTimeout(release, ms);
  return async () => {
    arrived += 1;
    if (arrived >= count) {
      clearTimeout(timer);
      release();
    }
    await open;
  };
}

// While set, refresh requests wait for each other: two refreshes started at
// once both go out with the refresh token they read, whatever the timing.
let refreshesTogether = null;

// Every HTTP exchange, for the test to read: no tokens, only what was asked.
const http = [];
const originalFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const url = new URL(input instanceof Request ? input.url : String(input));
  const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
  let grant = null;
  if (url.pathname === '/token' && init?.body) {
    grant = new URLSearchParams(String(init.body)).get('grant_type');
  }
  if (grant === 'refresh_token' && refreshesTogether) {
    await refreshesTogether();
  }
  const response = await originalFetch(input, init);
  http.push(grant ? [method, url.pathname, response.status, grant] : [method, url.pathname, response.status]);
  return response;
};

/// An OAuth client provider with everything in memory and a "browser" that
/// follows the authorization request to its redirect and keeps the code.
class HeadlessProvider {
  constructor() {
    this.client = undefined;
    this.stored = undefined;
    this.verifier = undefined;
    this.code = undefined;
    this.issued = [];
  }
  get redirectUrl() {
    return REDIRECT;
  }
  get clientMetadata() {
    return {
      client_name: 'tower-bearer TS SDK interop',
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(info) {
    this.client = info;
  }
  tokens() {
    return this.stored;
  }
  saveTokens(tokens) {
    this.stored = tokens;
    this.issued.push({ refresh_token: tokens.refresh_token, scope: tokens.scope });
  }
  saveCodeVerifier(verifier) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
  async redirectToAuthorization(url) {
    const response = await fetch(url, { redirect: 'manual' });
    const location = response.headers.get('location');
    if (response.status !== 302 || !location) {
      throw new Error(`authorization was not approved: ${response.status}`);
    }
    this.code = new URL(location).searchParams.get('code');
  }
  invalidateCredentials(scope) {
    if (scope === 'all' || scope === 'tokens') this.stored = undefined;
    if (scope === 'all' || scope === 'client') this.client = undefined;
    if (scope === 'all' || scope === 'verifier') this.verifier = undefined;
  }
}

const text = (result) => result.content.map((c) => c.text ?? '').join('');
const provider = new HeadlessProvider();
const login = new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider });
const client = new Client({ name: 'tower-bearer-ts-sdk-interop', version: '1.0.0' });
const report = { http };

// 1. Login: the first request gets 401; the SDK discovers, registers and
// redirects; the code is exchanged by finishAuth, and the client connects again.
try {
  await client.connect(login);
  throw new Error('connected without logging in');
} catch (error) {
  if (!provider.code) throw error;
}
await login.finishAuth(provider.code);
const transport = new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider });
await client.connect(transport);
report.client_id = provider.client.client_id;
report.granted = provider.stored.scope;
report.tools = (await client.listTools()).tools.map((t) => t.name).sort();
report.whoami = JSON.parse(text(await client.callTool({ name: 'whoami', arguments: {} })));

// 2. The access token stops working (its signature no longer verifies, as an
// expired token no longer does): two requests at once both get 401 and both
// refresh with the same refresh token (the first refresh is held until the
// second is sent, as on a slow network).
refreshesTogether = barrier(2, 10_000);
provider.stored = { ...provider.stored, access_token: `${provider.stored.access_token.slice(0, -4)}AAAA` };
const both = await Promise.all([
  client.callTool({ name: 'whoami', arguments: {} }),
  client.callTool({ name: 'list_notes', arguments: {} }),
]);
refreshesTogether = null;
report.whoami_after_refresh = JSON.parse(text(both[0]));
// How many refreshes answered, and how many distinct refresh tokens they gave.
const refreshes = provider.issued.slice(1);
report.refreshes = refreshes.length;
report.successors = new Set(refreshes.map((t) => t.refresh_token)).size;

// 3. Step-up: add_note needs mcp:write, which the login did not ask for.
try {
  await client.callTool({ name: 'add_note', arguments: { text: 'from the TS SDK' } });
  report.step_up_needed = false;
} catch (error) {
  report.step_up_needed = true;
  report.step_up_error = String(error.message ?? error).slice(0, 200);
}
// Re-authorization with the scopes of the challenge (the transport keeps them).
const scope = transport._scope;
report.step_up_scope = scope;
provider.invalidateCredentials('tokens');
provider.code = undefined;
if ((await auth(provider, { serverUrl: mcpUrl, scope })) !== 'REDIRECT' || !provider.code) {
  throw new Error('re-authorization did not redirect');
}
if ((await auth(provider, { serverUrl: mcpUrl, scope, authorizationCode: provider.code })) !== 'AUTHORIZED') {
  throw new Error('re-authorization failed');
}
report.granted_after_step_up = provider.stored.scope;
report.add_note = text(await client.callTool({ name: 'add_note', arguments: { text: 'from the TS SDK' } }));
report.whoami_after_step_up = JSON.parse(text(await client.callTool({ name: 'whoami', arguments: {} })));

await client.close();
console.log(JSON.stringify(report));
