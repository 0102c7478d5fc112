// mcp-remote (the stdio bridge desktop clients use to reach remote OAuth MCP
// servers) in front of the quickstart, driven by the official TypeScript SDK
// over stdio (run by tests/interop_mcp_clients.rs). Its browser step is
// browser.mjs (BROWSER); its state lives in MCP_REMOTE_CONFIG_DIR. Prints one
// JSON line: the tools it lists and what whoami answers.
//
// Usage: node mcp_remote_client.mjs MCP_URL CALLBACK_PORT

import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const [mcpUrl, port] = process.argv.slice(2);
const here = (name) => fileURLToPath(new URL(name, import.meta.url));

const transport = new StdioClientTransport({
  command: process.execPath,
  args: [here('node_modules/mcp-remote/dist/proxy.js'), mcpUrl, port, '--host', '127.0.0.1', '--allow-http'],
  env: { ...process.env, BROWSER: here('browser.mjs') },
  stderr: 'inherit',
});
const client = new Client({ name: 'tower-bearer-mcp-remote-interop', version: '1.0.0' });
await client.connect(transport);
const tools = (await client.listTools()).tools.map((t) => t.name).sort();
const whoami = await client.callTool({ name: 'whoami', arguments: {} });
await client.close();
console.log(JSON.stringify({ tools, whoami: JSON.parse(whoami.content[0].text) }));
