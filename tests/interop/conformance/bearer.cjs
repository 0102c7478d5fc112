// Preloaded (`node --require`) into the MCP conformance suite: every request
// the suite makes to the server under test (the origin of TB_CONFORMANCE_URL)
// carries `Authorization: Bearer $TB_CONFORMANCE_TOKEN`, unless it sets its own
// Authorization. The suite sends through the global fetch (itself and the MCP
// SDK) and, for requests with hand-set headers, through undici's `request` and
// node:http's `request`: all three are wrapped (undici's before the suite's ES
// module imports it).
'use strict';

const http = require('node:http');
const path = require('node:path');

const target = new URL(process.env.TB_CONFORMANCE_URL).origin;
const token = process.env.TB_CONFORMANCE_TOKEN;
if (!token) {
  throw new Error('TB_CONFORMANCE_TOKEN is not set');
}
const bearer = `Bearer ${token}`;
const ours = (url) => new URL(String(url), target).origin === target;

/// A copy of a plain header object with the bearer token, unless it has an Authorization.
function withBearer(headers = {}) {
  const copy = { ...headers };
  if (!Object.keys(copy).some((name) => name.toLowerCase() === 'authorization')) {
    copy.authorization = bearer;
  }
  return copy;
}

const originalFetch = globalThis.fetch;
globalThis.fetch = function fetchWithBearer(input, init) {
  const url = input instanceof Request ? input.url : input;
  if (!ours(url)) {
    return originalFetch(input, init);
  }
  const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
  if (!headers.has('authorization')) {
    headers.set('authorization', bearer);
  }
  return originalFetch(input, { ...init, headers });
};

// undici as the suite resolves it (its entry script is argv[1]).
const undiciPath = require.resolve('undici', { paths: [path.dirname(process.argv[1])] });
const undici = require(undiciPath);
const originalRequest = undici.request;
undici.request = function requestWithBearer(url, options = {}, ...rest) {
  if (!ours(url)) {
    return originalRequest.call(this, url, options, ...rest);
  }
  return originalRequest.call(this, url, { ...options, headers: withBearer(options.headers) }, ...rest);
};

// node:http, called with an options object ({ hostname, port, path, headers }).
const originalHttpRequest = http.request;
http.request = function httpRequestWithBearer(options, ...rest) {
  if (typeof options !== 'object' || options instanceof URL) {
    return originalHttpRequest.call(this, options, ...rest);
  }
  const origin = `${options.protocol ?? 'http:'}//${options.hostname ?? options.host}${options.port ? `:${options.port}` : ''}`;
  if (!ours(origin)) {
    return originalHttpRequest.call(this, options, ...rest);
  }
  return originalHttpRequest.call(this, { ...options, headers: withBearer(options.headers) }, ...rest);
};
