//! Test support for introspection: a Rust RFC 7662 test server for fault
//! injection, and the Node `oidc-provider` interop server.

pub mod server;
