#!/usr/bin/env node
// The "browser" of the mcp-remote test (BROWSER=this file): follows the
// authorization request to the development issuer, which approves at once,
// and delivers its redirect (the code) to mcp-remote's callback server.
const url = process.argv[2];
const approved = await fetch(url, { redirect: 'manual' });
const location = approved.headers.get('location');
if (approved.status !== 302 || !location) {
  console.error(`browser: authorization not approved (${approved.status})`);
  process.exit(1);
}
const delivered = await fetch(location);
process.exit(delivered.ok ? 0 : 1);
