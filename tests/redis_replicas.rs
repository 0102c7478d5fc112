//! Two quickstart replicas (`examples/mcp_server --redis URL`) on different
//! ports sharing one real `redis-server` and one authorization server (an
//! introspection endpoint that counts its calls): an introspection answer
//! cached by replica A is served to B without a second call; a DPoP proof
//! accepted by A and replayed to B is refused; Redis stopped → 503 on the
//! checks that need it, and recovery once it is back, without restarting the
//! replicas; Redis restarted empty → a proof used before is refused at both
//! replicas, fresh proofs are accepted from the next second.

mod support;
mod support_introspection;

use std::time::Duration;

use serde_json::json;
use support::quickstart::{Quickstart, start};
use support::redis::RedisServer;
use support_introspection::server::{CLIENT_ID, CLIENT_SECRET, IntrospectionServer, RESOURCE, now};
use tower_bearer_issuer::DpopKey;

async fn replica(redis: &RedisServer, authorization_server: &IntrospectionServer) -> Quickstart {
    replica_with(redis, authorization_server, &[]).await
}

async fn replica_with(
    redis: &RedisServer,
    authorization_server: &IntrospectionServer,
    extra: &[&str],
) -> Quickstart {
    let endpoint = authorization_server.endpoint();
    let url = redis.url();
    let mut args = vec![
        "--issuer",
        authorization_server.issuer(),
        "--audience",
        RESOURCE,
        "--introspection-endpoint",
        &endpoint,
        "--client-id",
        CLIENT_ID,
        "--client-secret",
        CLIENT_SECRET,
        "--redis",
        &url,
    ];
    args.extend_from_slice(extra);
    let replica = start(&args);
    wait_until_ready(&replica).await;
    replica
}

/// Waits for `GET /readyz` to answer 200: the replica's warm-up has
/// introspected its probe (one call each, [`token_calls`] leaves them out).
async fn wait_until_ready(replica: &Quickstart) {
    let mut answer = String::new();
    for _ in 0..100 {
        let res = reqwest::get(format!("{}/readyz", replica.base)).await.unwrap();
        let status = res.status();
        answer = res.text().await.unwrap();
        if status == 200 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{} not ready: {answer}", replica.base)
}

/// Introspection calls for tokens: all but the two replicas' warm-up probes.
fn token_calls(authorization_server: &IntrospectionServer) -> usize {
    authorization_server.calls() - 2
}

/// An opaque token of alice's the authorization server introspects as bound
/// to `key`.
fn add_bound_token(authorization_server: &IntrospectionServer, token: &str, key: &DpopKey) {
    authorization_server.add_token_with(
        token,
        json!({
            "client_id": "mcp-client", "sub": "alice", "iss": authorization_server.issuer(),
            "aud": RESOURCE, "scope": "mcp:read", "exp": now() + 3600,
            "token_type": "DPoP", "cnf": { "jkt": key.thumbprint() },
        }),
    );
}

/// Both replicas serve one resource (`--audience`), so a proof names its
/// origin in `htu` whichever replica gets it, as behind a load balancer: the
/// quickstart's `Resource` gives the layer its public origin.
const PUBLIC: &str = "http://127.0.0.1:7000/whoami";

async fn whoami(
    client: &reqwest::Client,
    qs: &Quickstart,
    token: &str,
    key: &DpopKey,
    proof: Option<&str>,
) -> reqwest::Response {
    let proof = proof.map_or_else(|| key.proof("GET", PUBLIC, Some(token)), str::to_owned);
    client
        .get(format!("{}/whoami", qs.base))
        .header("authorization", format!("DPoP {token}"))
        .header("dpop", proof)
        .send()
        .await
        .unwrap()
}

/// A redis-server, an authorization server that introspects `token` as bound
/// to a new key, and two replicas on both.
async fn two_replicas(token: &str) -> (RedisServer, IntrospectionServer, [Quickstart; 2], DpopKey) {
    let redis = RedisServer::start();
    let authorization_server = IntrospectionServer::start().await;
    let replicas = [
        replica(&redis, &authorization_server).await,
        replica(&redis, &authorization_server).await,
    ];
    let key = DpopKey::generate();
    add_bound_token(&authorization_server, token, &key);
    (redis, authorization_server, replicas, key)
}

#[tokio::test]
async fn redis_two_quickstart_replicas_share_introspection_replay_and_outages() {
    let token = "bound-opaque-token";
    let (mut redis, authorization_server, [a, b], key) = two_replicas(token).await;
    let client = reqwest::Client::new();

    let proof = key.proof("GET", PUBLIC, Some(token));
    let res = whoami(&client, &a, token, &key, Some(&proof)).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    assert_eq!(token_calls(&authorization_server), 1);
    // The same proof at the other replica: a replay, although B never saw it.
    let replayed = whoami(&client, &b, token, &key, Some(&proof)).await;
    assert_eq!(replayed.status(), 401);
    let challenges: Vec<_> = replayed
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(
        challenges.iter().any(|c| c.contains("DPoP proof already used")),
        "{challenges:?}"
    );
    // A fresh proof at B: accepted, and the introspection answer came from Redis.
    let res = whoami(&client, &b, token, &key, None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        token_calls(&authorization_server),
        1,
        "B was answered from Redis, not by the AS"
    );

    // Redis stopped: DPoP proofs cannot be checked for replay → 503, never 401 or 200.
    redis.stop();
    for qs in [&a, &b] {
        let res = whoami(&client, qs, token, &key, None).await;
        assert_eq!(res.status(), 503);
        assert!(res.headers().contains_key("retry-after"));
    }
    // Back: both replicas recover by themselves.
    redis.restart();
    for qs in [&a, &b] {
        let mut status = 0;
        for _ in 0..50 {
            status = whoami(&client, qs, token, &key, None).await.status().as_u16();
            if status == 200 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(status, 200, "{} recovered", qs.base);
    }
}

/// Redis restarts without persistence (it forgets every proof it held): a
/// proof used before is refused after it by the replica that accepted it and
/// by the other one (401 `invalid_dpop_proof`), and so is a proof made before
/// the restart and never used; fresh proofs are accepted from the next whole
/// second on (proofs' `iat` are in seconds), so within a second of Redis
/// being back.
#[tokio::test]
async fn redis_restart_without_persistence_refuses_proofs_used_before_it() {
    let token = "recovery-token";
    let (mut redis, _authorization_server, [a, b], key) = two_replicas(token).await;
    let client = reqwest::Client::new();
    let used = key.proof("GET", PUBLIC, Some(token));
    let unused = key.proof("GET", PUBLIC, Some(token));
    assert_eq!(whoami(&client, &a, token, &key, Some(&used)).await.status(), 200);

    redis.restart();
    for (qs, proof) in [(&a, &used), (&b, &used), (&b, &unused)] {
        let mut res = None;
        for _ in 0..50 {
            let r = whoami(&client, qs, token, &key, Some(proof)).await;
            if r.status() != 503 {
                res = Some(r);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let res = res.expect("the replica reaches Redis again");
        assert_eq!(res.status(), 401, "{}", qs.base);
        let challenges = res
            .headers()
            .get_all("www-authenticate")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect::<Vec<_>>()
            .join(", ");
        assert!(challenges.contains("invalid_dpop_proof"), "{challenges}");
    }

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    tokio::time::sleep(Duration::from_secs(now.as_secs() + 1) - now).await;
    for qs in [&a, &b] {
        let res = whoami(&client, qs, token, &key, None).await;
        assert_eq!(res.status(), 200, "a fresh proof at {}", qs.base);
    }
}

/// `--redis rediss://… --redis-ca-file`: the replicas share state over TLS with
/// a private CA; without the CA file the quickstart refuses to start.
#[tokio::test]
async fn redis_quickstart_replicas_over_tls_with_a_private_ca() {
    let redis = RedisServer::start_tls(None);
    let ca = std::env::temp_dir().join(format!("tb-redis-ca-{}.pem", std::process::id()));
    std::fs::write(&ca, redis.ca_pem().expect("a TLS server has a CA")).unwrap();
    let authorization_server = IntrospectionServer::start().await;
    let ca_arg = ca.display().to_string();
    let a = replica_with(&redis, &authorization_server, &["--redis-ca-file", &ca_arg]).await;
    let b = replica_with(&redis, &authorization_server, &["--redis-ca-file", &ca_arg]).await;
    let key = DpopKey::generate();
    add_bound_token(&authorization_server, "tls-token", &key);
    let client = reqwest::Client::new();
    let proof = key.proof("GET", PUBLIC, Some("tls-token"));
    assert_eq!(
        whoami(&client, &a, "tls-token", &key, Some(&proof))
            .await
            .status(),
        200
    );
    assert_eq!(
        whoami(&client, &b, "tls-token", &key, Some(&proof))
            .await
            .status(),
        401,
        "replayed to the other replica, over TLS"
    );
    assert_eq!(whoami(&client, &b, "tls-token", &key, None).await.status(), 200);
    assert_eq!(
        token_calls(&authorization_server),
        1,
        "the introspection answer came from Redis"
    );
    std::fs::remove_file(&ca).unwrap();

    // Without the CA the server's certificate is not trusted: no start.
    let output = std::process::Command::new(support::quickstart::example_binary())
        .args(["--listen", "127.0.0.1:0", "--redis", &redis.url()])
        .env_remove("TB_ISSUER")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("without the CA: {stderr}");
    assert!(stderr.contains("Connect("), "a Redis connect error: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
