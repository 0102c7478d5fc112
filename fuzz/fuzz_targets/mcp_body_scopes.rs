//! Fuzzes the MCP JSON-RPC body scope reader (`McpScopeLayer`): single
//! messages, batches, tool names. Whatever the body, the scopes it needs
//! include the base scopes; a `tools/call` of a listed tool needs its scopes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_bearer::fuzzing::mcp_body_scopes;
use tower_bearer::mcp::McpScopePolicy;
use tower_bearer::scope::ScopeHierarchy;

fuzz_target!(|data: &[u8]| {
    let policy = McpScopePolicy::new()
        .hierarchy(ScopeHierarchy::chain(["mcp:admin", "mcp:write", "mcp:read"]).unwrap())
        .base(["mcp:read"]).unwrap()
        .tool("delete_note", ["mcp:write"]).unwrap()
        .unlisted_tools(["mcp:admin"]).unwrap();
    if let Some(scopes) = mcp_body_scopes(&policy, data) {
        assert!(scopes.contains("mcp:read"));
    }
});
