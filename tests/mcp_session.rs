//! Session binding against rmcp's real streamable HTTP transport.

mod mcp_support;

use mcp_support::*;
use reqwest::Method;
use tower_bearer::mcp::{
    BindingPolicy, McpScopeLayer, McpSessionLayer, MemorySessionStore, SessionKey, SessionOwner, SessionStore,
};

/// rmcp 3.11's own answer for an unknown session.
const RMCP_NOT_FOUND: &str = "Not Found: Session not found";

#[tokio::test]
async fn our_404_is_byte_for_byte_the_transports() {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    // Ask rmcp itself, without our layers, about a session it does not know.
    let req = http::Request::post("/mcp")
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("host", "127.0.0.1")
        .header("mcp-session-id", "no-such-session")
        .body(call("read_note").to_string())
        .unwrap();
    let res = mcp_service().oneshot(req).await.unwrap();
    let (parts, body) = res.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    assert_eq!(parts.status, 404);
    assert_eq!(body, RMCP_NOT_FOUND.as_bytes());
    assert!(parts.headers.get("content-type").is_none());
    let ours = tower_bearer::mcp::SessionNotFound::rmcp();
    assert_eq!(ours.body(), &body);
    assert!(ours.content_type().is_none());
}

#[tokio::test]
async fn owner_uses_the_session_others_get_the_unknown_session_404() {
    owner_uses_the_session_others_do_not(&serve_default().await).await;
}

/// The in-memory store, seen only through its async calls, as a remote store is.
struct AsyncOnly(MemorySessionStore);

impl SessionStore for AsyncOnly {
    async fn bind(&self, key: &SessionKey, owner: &SessionOwner) -> Result<(), tower_bearer::Unavailable> {
        self.0.bind(key, owner).await
    }
    async fn owner(&self, key: &SessionKey) -> Result<Option<SessionOwner>, tower_bearer::Unavailable> {
        self.0.owner(key).await
    }
    async fn unbind(&self, key: &SessionKey) -> Result<(), tower_bearer::Unavailable> {
        self.0.unbind(key).await
    }
}

#[tokio::test]
async fn a_store_that_must_be_awaited_binds_the_same() {
    let layer = McpSessionLayer::with_store(AsyncOnly(MemorySessionStore::new()));
    owner_uses_the_session_others_do_not(&serve(layer, McpScopeLayer::new(policy())).await).await;
}

async fn owner_uses_the_session_others_do_not(url: &str) {
    let client = Client::new(url);
    let session = client.open_session("alice").await;

    let ok = client.call_tool("alice", Some(&session), "read_note").await;
    assert_eq!(ok.status, 200);
    assert!(
        ok.body.contains("note for alice"),
        "principal reaches the tool: {}",
        ok.body
    );

    // What the transport itself answers for a session that does not exist.
    let unknown = client
        .call_tool("alice", Some("no-such-session"), "read_note")
        .await;
    assert_eq!((unknown.status, unknown.body.as_str()), (404, RMCP_NOT_FOUND));

    // Bob (same public client, other subject) on Alice's session: the very same answer.
    let hijack = client.call_tool("bob", Some(&session), "read_note").await;
    assert_eq!((hijack.status, hijack.body.as_str()), (404, RMCP_NOT_FOUND));
    assert_eq!(
        hijack.headers.get("content-type"),
        unknown.headers.get("content-type")
    );

    // GET (SSE stream, and resumption with Last-Event-ID) and DELETE are bound too.
    for extra in [&[][..], &[("last-event-id", "0")][..]] {
        let get = client
            .send(Method::GET, Some("bob"), Some(&session), extra, None)
            .await;
        assert_eq!((get.status, get.body.as_str()), (404, RMCP_NOT_FOUND));
    }
    let delete = client
        .send(Method::DELETE, Some("bob"), Some(&session), &[], None)
        .await;
    assert_eq!((delete.status, delete.body.as_str()), (404, RMCP_NOT_FOUND));

    // Bob's DELETE did not end Alice's session.
    let still = client.call_tool("alice", Some(&session), "read_note").await;
    assert_eq!(still.status, 200, "{}", still.body);

    // A client-only token (no subject) cannot use it either.
    let app = client.call_tool("app-only", Some(&session), "read_note").await;
    assert_eq!(app.status, 404);
}

#[tokio::test]
async fn delete_by_the_owner_ends_the_binding() {
    let client = Client::new(&serve_default().await);
    let session = client.open_session("alice").await;
    let delete = client
        .send(Method::DELETE, Some("alice"), Some(&session), &[], None)
        .await;
    assert_eq!(delete.status, 202, "{}", delete.body);
    let after = client.call_tool("alice", Some(&session), "read_note").await;
    assert_eq!((after.status, after.body.as_str()), (404, RMCP_NOT_FOUND));
}

#[tokio::test]
async fn two_headers_are_never_forwarded() {
    let client = Client::new(&serve_default().await);
    let session = client.open_session("alice").await;
    let both = client
        .send(
            Method::POST,
            Some("alice"),
            Some(&session),
            &[("mcp-session-id", "other")],
            Some(call("read_note").to_string()),
        )
        .await;
    assert_eq!((both.status, both.body.as_str()), (404, RMCP_NOT_FOUND));
}

#[tokio::test]
async fn default_policy_refuses_sessions_for_principals_without_an_owner_with_403() {
    let (url, rmcp) = serve_watched(McpSessionLayer::new(), McpScopeLayer::new(policy())).await;
    let client = Client::new(&url);
    let init = client.post("app-only", None, initialize()).await;
    // The token is valid: 401 invalid_token would make clients re-authenticate forever.
    assert_eq!(init.status, 403, "{}", init.body);
    assert_eq!(init.www(), "", "no challenge: no token or scope would help");
    assert!(init.headers.get("mcp-session-id").is_none());
    assert_eq!(
        sessions_held(&rmcp).await,
        0,
        "refused before the transport could create a session"
    );
    // Only the binding policy refused: the same request from an owner opens one.
    client.open_session("alice").await;
    assert_eq!(sessions_held(&rmcp).await, 1);
}

/// A 2026-07-28 request: version and capabilities in its `_meta`, no session.
fn stateless(method: &str) -> serde_json::Value {
    serde_json::json!({
        "jsonrpc": "2.0", "id": 7, "method": method,
        "params": {"_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {}
        }}
    })
}

#[tokio::test]
async fn stateless_requests_pass_whoever_sends_them_and_no_session_outlives_a_refusal() {
    let (url, rmcp) = serve_watched(McpSessionLayer::new(), McpScopeLayer::new(policy())).await;
    let client = Client::new(&url).speaking("2026-07-28");

    // No session to own: the binding policy has nothing to say.
    let list = client
        .send(
            Method::POST,
            Some("app-only"),
            None,
            &[("mcp-method", "tools/list")],
            Some(stateless("tools/list").to_string()),
        )
        .await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.body.contains("read_note"), "{}", list.body);

    // rmcp still answers `initialize` with a session whatever version it names;
    // the layer cannot bind it to this principal, so it ends it before refusing.
    let mut init = initialize();
    init["params"]["protocolVersion"] = "2026-07-28".into();
    // (With its SEP-2243 header: without one the scope layer answers 400 -32020.)
    let post_init = |token: &'static str| {
        client.send(
            Method::POST,
            Some(token),
            None,
            &[("mcp-method", "initialize")],
            Some(init.to_string()),
        )
    };
    let refused = post_init("app-only").await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.headers.get("mcp-session-id").is_none());
    assert_eq!(sessions_held(&rmcp).await, 0, "the refused session was ended");

    // An owner's session is bound as for any initialize.
    let opened = post_init("alice").await;
    assert_eq!(opened.status, 200, "{}", opened.body);
    assert_eq!(sessions_held(&rmcp).await, 1);
    let bob = Client::new(&url)
        .call_tool("bob", Some(opened.session()), "read_note")
        .await;
    assert_eq!((bob.status, bob.body.as_str()), (404, RMCP_NOT_FOUND));
}

#[tokio::test]
async fn default_policy_binds_client_credentials_tokens_to_issuer_and_client() {
    let client = Client::new(&serve_default().await);
    let session = client.open_session("service").await;
    let own = client.call_tool("service", Some(&session), "read_note").await;
    assert_eq!(own.status, 200, "{}", own.body);
    // A user of the same client never uses the client's session, nor the other way round.
    let alice = client.call_tool("alice", Some(&session), "read_note").await;
    assert_eq!((alice.status, alice.body.as_str()), (404, RMCP_NOT_FOUND));
    let alices = client.open_session("alice").await;
    let service = client.call_tool("service", Some(&alices), "read_note").await;
    assert_eq!((service.status, service.body.as_str()), (404, RMCP_NOT_FOUND));
}

#[tokio::test]
async fn lenient_policy_binds_client_only_principals() {
    let url = serve(
        McpSessionLayer::new().policy(BindingPolicy::SameOwner),
        McpScopeLayer::new(policy()),
    )
    .await;
    let client = Client::new(&url);
    let session = client.open_session("app-only").await;
    assert_eq!(
        client
            .call_tool("app-only", Some(&session), "read_note")
            .await
            .status,
        200
    );
    // Alice holds a token of the same client: under this policy that is the same owner.
    // This is exactly why it is not the default.
    assert_eq!(
        client
            .call_tool("alice", Some(&session), "read_note")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn no_credentials_get_a_bare_challenge() {
    let client = Client::new(&serve_default().await);
    let res = client
        .send(Method::POST, None, None, &[], Some(initialize().to_string()))
        .await;
    assert_eq!(res.status, 401);
    assert_eq!(res.www(), format!(r#"Bearer resource_metadata="{METADATA}""#));
}

/// A store whose backend is down; `at_hand` also says so without being awaited.
struct DownStore {
    at_hand: bool,
}

impl SessionStore for DownStore {
    async fn bind(&self, _: &SessionKey, _: &SessionOwner) -> Result<(), tower_bearer::Unavailable> {
        Err(tower_bearer::Unavailable::new("backend down"))
    }
    async fn owner(&self, _: &SessionKey) -> Result<Option<SessionOwner>, tower_bearer::Unavailable> {
        Err(tower_bearer::Unavailable::new("backend down"))
    }
    async fn unbind(&self, _: &SessionKey) -> Result<(), tower_bearer::Unavailable> {
        Err(tower_bearer::Unavailable::new("backend down"))
    }
    fn owner_now(&self, _: &SessionKey) -> Option<Result<Option<SessionOwner>, tower_bearer::Unavailable>> {
        self.at_hand
            .then(|| Err(tower_bearer::Unavailable::new("backend down")))
    }
}

#[tokio::test]
async fn store_outage_is_a_503_not_a_404() {
    for at_hand in [false, true] {
        let (url, rmcp) = serve_watched(
            McpSessionLayer::with_store(DownStore { at_hand }),
            McpScopeLayer::new(policy()),
        )
        .await;
        let client = Client::new(&url);
        let init = client.post("alice", None, initialize()).await;
        assert_eq!(init.status, 503);
        assert!(init.headers.contains_key("retry-after"));
        assert!(init.headers.get("mcp-session-id").is_none());
        assert_eq!(
            sessions_held(&rmcp).await,
            0,
            "a session that could not be bound was ended"
        );
        let used = client.call_tool("alice", Some("some-session"), "read_note").await;
        assert_eq!(used.status, 503, "at hand: {at_hand}");
        assert!(used.headers.contains_key("retry-after"), "at hand: {at_hand}");
        assert!(used.www().is_empty());
    }
}

/// A POST as `token` (DPoP-bound to `key`, with a fresh proof) or, without a
/// key, as a bearer token.
async fn post_as(
    client: &Client,
    url: &str,
    token: &str,
    key: Option<usize>,
    session: Option<&str>,
) -> Reply {
    let (authorization, proof) = match key {
        Some(n) => (
            format!("DPoP {token}"),
            Some(dpop_key(n).proof("POST", url, Some(token))),
        ),
        None => (format!("Bearer {token}"), None),
    };
    let mut headers = vec![("authorization", authorization.as_str())];
    if let Some(proof) = &proof {
        headers.push(("dpop", proof.as_str()));
    }
    client
        .send(
            Method::POST,
            None,
            session,
            &headers,
            Some(call("read_note").to_string()),
        )
        .await
}

#[tokio::test]
async fn a_session_opened_with_a_dpop_bound_token_needs_the_same_key() {
    let url = serve_default().await;
    let client = Client::new(&url);
    let init = {
        let proof = dpop_key(0).proof("POST", &url, Some("alice-dpop-a"));
        let headers = [("authorization", "DPoP alice-dpop-a"), ("dpop", proof.as_str())];
        client
            .send(Method::POST, None, None, &headers, Some(initialize().to_string()))
            .await
    };
    assert_eq!(init.status, 200, "{}", init.body);
    let session = init.session().to_owned();
    // The same principal with the same key: the session's owner.
    let ok = post_as(&client, &url, "alice-dpop-a", Some(0), Some(&session)).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    // The same principal with another key, or with a bearer token: not the owner.
    let other_key = post_as(&client, &url, "alice-dpop-b", Some(1), Some(&session)).await;
    assert_eq!((other_key.status, other_key.body.as_str()), (404, RMCP_NOT_FOUND));
    let bearer = post_as(&client, &url, "alice", None, Some(&session)).await;
    assert_eq!((bearer.status, bearer.body.as_str()), (404, RMCP_NOT_FOUND));
    // A session opened with a bearer token is not tied to a key.
    let open = client.open_session("alice").await;
    let bound_later = post_as(&client, &url, "alice-dpop-b", Some(1), Some(&open)).await;
    assert_eq!(bound_later.status, 200, "{}", bound_later.body);
}
