// A DPoP client nobody here wrote (panva/oauth4webapi) against a real authorization
// server and the quickstart's MCP endpoint, on loopback, for interop tests.
//
// Environment (all required unless a default is given):
//   TOKEN_ENDPOINT  the authorization server's token endpoint
//   ISSUER          its issuer (default: the token endpoint's origin)
//   CLIENT_ID       e.g. mcp-client
//   CLIENT_SECRET   e.g. mcp-secret
//   RESOURCE        the RFC 8707 resource indicator, e.g. http://127.0.0.1:7000/mcp
//   MCP_URL         the MCP endpoint to call (usually the same as RESOURCE)
//   SCOPE           the scope to request (default "mcp:read")
//   DPOP_ALG        the DPoP proof's algorithm (default ES256)
//
// What it does:
//   1. client_credentials grant with a DPoP proof and `resource`, retrying once on the
//      token endpoint's `use_dpop_nonce`;
//   2. MCP `initialize` through oauth4webapi's protectedResourceRequest with the DPoP
//      handle, retrying once on the resource server's `use_dpop_nonce` 401 (the library
//      caches the DPoP-Nonce header; the retry is ours);
//   3. `tools/list` in that session, the same way (a second, fresh proof);
//   4. negatives with plain fetch: the DPoP-bound token as `Authorization: Bearer`
//      without a proof, and as `Authorization: DPoP` without a proof.
//
// Prints exactly one JSON line to stdout, then exits 0; exits 1 (with a message on
// stderr, and a JSON line with "error" when it can) when something failed before a
// report could be made. Statuses are reported, never judged: the caller asserts.

import * as oauth from 'oauth4webapi';

const PROTOCOL_VERSION = '2025-11-25';
const TIMEOUT_MS = 20_000;

function env(name, fallback) {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === '') {
    process.stderr.write(`dpop interop client: ${name} is required\n`);
    process.exit(2);
  }
  return value;
}

const tokenEndpoint = env('TOKEN_ENDPOINT');
const issuer = env('ISSUER', new URL(tokenEndpoint).origin);
const clientId = env('CLIENT_ID');
const clientSecret = env('CLIENT_SECRET');
const resource = env('RESOURCE');
const mcpUrl = new URL(env('MCP_URL'));
const scope = env('SCOPE', 'mcp:read');
const alg = env('DPOP_ALG', 'ES256');

const as = { issuer, token_endpoint: tokenEndpoint };
const client = { client_id: clientId };
const clientAuth = oauth.ClientSecretBasic(clientSecret);
const insecure = { [oauth.allowInsecureRequests]: true };

const report = {};

function headersOf(response) {
  return {
    www_authenticate: response.headers.get('www-authenticate'),
    dpop_nonce: response.headers.get('dpop-nonce'),
  };
}

// The JSON-RPC messages of a streamable-HTTP body: plain JSON or SSE `data:` lines.
function jsonrpcMessages(body) {
  const trimmed = body.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) return [JSON.parse(trimmed)];
  return body
    .split(/\r?\n/)
    .filter((line) => line.startsWith('data:'))
    .map((line) => line.slice(5).trim())
    .filter(Boolean)
    .map((data) => JSON.parse(data));
}

async function getToken(DPoP) {
  const attempt = async () => {
    const response = await oauth.clientCredentialsGrantRequest(
      as,
      client,
      clientAuth,
      { scope, resource },
      { DPoP, signal: AbortSignal.timeout(TIMEOUT_MS), ...insecure },
    );
    const raw = await response.clone().json().catch(() => undefined);
    const parsed = await oauth.processClientCredentialsResponse(as, client, response);
    return { raw, parsed, status: response.status };
  };
  try {
    return { ...(await attempt()), nonceRetry: false };
  } catch (err) {
    if (!oauth.isDPoPNonceError(err)) throw err;
    return { ...(await attempt()), nonceRetry: true };
  }
}

// One MCP POST through protectedResourceRequest with the DPoP handle; one retry on
// `use_dpop_nonce`. Returns what happened, whatever the statuses.
async function mcpPost(token, DPoP, message, session) {
  const result = { attempts: [], nonce_retry: false };
  const send = async () => {
    const headers = new Headers({
      accept: 'application/json, text/event-stream',
      'content-type': 'application/json',
      'mcp-protocol-version': PROTOCOL_VERSION,
    });
    if (session) headers.set('mcp-session-id', session);
    try {
      const response = await oauth.protectedResourceRequest(
        token,
        'POST',
        mcpUrl,
        headers,
        JSON.stringify(message),
        { DPoP, signal: AbortSignal.timeout(TIMEOUT_MS), ...insecure },
      );
      result.attempts.push({ status: response.status, ...headersOf(response) });
      return { response };
    } catch (err) {
      const response = err?.response;
      if (!(response instanceof Response)) throw err;
      const body = await response.text().catch(() => '');
      result.attempts.push({ status: response.status, ...headersOf(response), body });
      return { err };
    }
  };
  let outcome = await send();
  if (outcome.err && oauth.isDPoPNonceError(outcome.err)) {
    result.nonce_retry = true;
    outcome = await send();
  }
  const last = result.attempts.at(-1);
  result.status = last.status;
  result.first_status = result.attempts[0].status;
  if (outcome.response) {
    result.session_id = outcome.response.headers.get('mcp-session-id');
    const body = await outcome.response.text();
    try {
      result.messages = jsonrpcMessages(body);
    } catch {
      result.body = body;
    }
  }
  return result;
}

// A plain fetch to the MCP endpoint with `authorization` and no DPoP proof.
async function withoutProof(authorization) {
  const response = await fetch(mcpUrl, {
    method: 'POST',
    headers: {
      accept: 'application/json, text/event-stream',
      'content-type': 'application/json',
      'mcp-protocol-version': PROTOCOL_VERSION,
      authorization,
    },
    body: JSON.stringify(initialize(9)),
    redirect: 'manual',
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const body = await response.text().catch(() => '');
  return { status: response.status, ...headersOf(response), body };
}

function initialize(id) {
  return {
    jsonrpc: '2.0',
    id,
    method: 'initialize',
    params: {
      protocolVersion: PROTOCOL_VERSION,
      capabilities: {},
      clientInfo: { name: 'oauth4webapi-dpop-interop', version: '0.0.0' },
    },
  };
}

try {
  const keyPair = await oauth.generateKeyPair(alg);
  const DPoP = oauth.DPoP(client, keyPair);
  report.jkt = await DPoP.calculateThumbprint();

  const token = await getToken(DPoP);
  report.token = {
    status: token.status,
    // As the authorization server sent it (oauth4webapi lowercases its parsed copy).
    token_type: token.raw?.token_type,
    scope: token.raw?.scope,
    nonce_retry: token.nonceRetry,
    is_jwt: token.parsed.access_token.split('.').length === 3,
  };
  const accessToken = token.parsed.access_token;
  if (report.token.is_jwt) {
    const payload = JSON.parse(Buffer.from(accessToken.split('.')[1], 'base64url').toString());
    report.token.cnf = payload.cnf;
    report.token.aud = payload.aud;
  }

  report.initialize = await mcpPost(accessToken, DPoP, initialize(1));
  const session = report.initialize.session_id;
  if (session) {
    // The session's next message; `notifications/initialized` first, as a client does.
    report.initialized = await mcpPost(accessToken, DPoP, { jsonrpc: '2.0', method: 'notifications/initialized' }, session);
    report.tools_list = await mcpPost(accessToken, DPoP, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, session);
  }

  report.bearer_misuse = await withoutProof(`Bearer ${accessToken}`);
  report.dpop_without_proof = await withoutProof(`DPoP ${accessToken}`);

  process.stdout.write(`${JSON.stringify(report)}\n`);
} catch (err) {
  process.stderr.write(`dpop interop client: ${err?.stack ?? err}\n`);
  if (err?.cause !== undefined) process.stderr.write(`cause: ${JSON.stringify(err.cause)}\n`);
  report.error = String(err?.message ?? err);
  process.stdout.write(`${JSON.stringify(report)}\n`);
  process.exit(1);
}
