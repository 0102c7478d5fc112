//! State shared by several replicas, on Redis (feature `redis`): DPoP proof
//! identifiers ([`RedisReplayCache`]), MCP session owners
//! ([`RedisSessionStore`]) and introspection answers
//! ([`RedisIntrospectionCache`]), behind the crate's traits.
//!
//! The client is the [`redis`](https://docs.rs/redis) crate, the reference Rust
//! client, through its `ConnectionManager` (one multiplexed connection that
//! reconnects in the background), over TCP or TLS (`rediss://`, rustls with the
//! Mozilla roots, or your own CA with
//! [`tls_root_certificates`](RedisStoreBuilder::tls_root_certificates)). Version 0.32: the 1.x line needs a newer Rust than this crate's
//! minimum.
//!
//! Failures fail closed: a command that errs or outlasts the command timeout is
//! [`Unavailable`] (503 with `Retry-After`), never an accepted proof nor a session
//! let through unchecked; the introspection cache is skipped instead (the
//! authorization server is asked). The first failure of an outage logs one warning, the
//! recovery one line; neither names the URL (which may carry a password), a key
//! or a value.
//!
//! Keys, under a configurable prefix (default `tower-bearer:`):
//!
//! | what | key | command |
//! |---|---|---|
//! | a single-use identifier (DPoP proof `jti`, sealed `requestState`, ID-JAG `jti`) | `{prefix}replay:{hex}` | one script: `HINCRBY {prefix}epoch seq 1`, `HGET`/`HSET {prefix}epoch since`, `SET key 1 NX PX ttl` |
//! | an MCP session owner | `{prefix}session:{hex}` | `SET key json EX idle`, `GETEX key EX idle`, `DEL key` |
//! | an introspection answer | `{prefix}introspection:{hex}` | `GET key`, `SET key answer PX ttl` |
//!
//! `{hex}` is a SHA-256 digest ([`ReplayKey`], [`SessionKey`], of the token):
//! never a proof, a session id or a token.
//!
//! # When Redis loses data
//!
//! A Redis restarted without persistence, flushed, or failed over to a replica
//! that lacked the last writes forgets which identifiers were used. Every
//! replica notices on its next single-use check (the `{prefix}epoch` hash: a
//! sequence that went back or restarted, and the time of the latest loss,
//! shared by all replicas) and from then on refuses, as replays, identifiers
//! issued before the loss: a DPoP proof whose `iat` (401 `invalid_dpop_proof`),
//! a sealed `requestState` whose seal time (JSON-RPC `-32602`), an ID-JAG whose
//! `iat` is earlier. Clients retry with a fresh value, which is accepted; the
//! rule ends by itself one replay window after the loss, when every identifier
//! issued before it has expired. A replica that cannot reach Redis answers 503;
//! one that starts against an empty store treats it as lost (it cannot tell a
//! new store from a wiped one). [`RedisStore::last_loss`] says when the latest
//! loss was detected.
//!
//! The script touches two keys, so the store must be one Redis (or a primary
//! with replicas), not a Redis Cluster. Configure it with `maxmemory-policy
//! noeviction`: a replay key evicted for memory is a loss nothing detects
//! (with `noeviction` the write fails and the request gets 503).
//!
//! ```no_run
//! use std::time::Duration;
//! use tower_bearer::{TokenVerifierLayer, dpop::Dpop, mcp::McpSessionLayer, redis::RedisStore};
//! # async fn f(verifier: tower_bearer::jwt::JwtVerifier) -> Result<(), Box<dyn std::error::Error>> {
//! let redis = RedisStore::builder("rediss://user:password@redis.internal:6380/0")
//!     .prefix("mcp-prod:")
//!     .command_timeout(Duration::from_millis(250))
//!     .connect()
//!     .await?;
//! let layer = TokenVerifierLayer::new(verifier).dpop(Dpop::allowed().replay_cache(redis.replay_cache()));
//! let sessions = McpSessionLayer::with_store(redis.session_store(Duration::from_secs(3600)));
//! # let _ = (layer, sessions); Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{AsyncCommands as _, Client, RedisError};

use crate::Unavailable;
use crate::introspection::SharedIntrospectionCache;
use crate::mcp::{SessionKey, SessionOwner, SessionStore};
use crate::replay::{ReplayCache, ReplayKey};

mod recovery;

/// The default key prefix.
pub(crate) const DEFAULT_PREFIX: &str = "tower-bearer:";
/// The default time to connect (and reconnect) to Redis.
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// The default time a command may take before the request gets 503.
pub(crate) const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_millis(500);
/// The default `Retry-After` of a 503 caused by Redis.
pub(crate) const DEFAULT_REDIS_RETRY_AFTER: Duration = Duration::from_secs(2);

/// Why a [`RedisStore`] could not be made.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let err = tower_bearer::redis::RedisStore::builder("http://x").connect().await.unwrap_err();
/// assert!(matches!(err, tower_bearer::redis::RedisStoreError::Url(_)));
/// # });
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisStoreError {
    /// Not a `redis://`, `rediss://` or `redis+unix://` URL.
    #[error("Redis URL: {0}")]
    Url(&'static str),
    /// Redis could not be reached or refused the connection (authentication,
    /// TLS handshake, an untrusted certificate). The reason is Redis's, with no
    /// URL in it.
    #[error("Redis unreachable: {0}")]
    Connect(String),
    /// The TLS configuration cannot be used: root certificates that are not
    /// PEM certificates, or given for a URL that is not `rediss://`.
    #[error("Redis TLS: {0}")]
    Tls(&'static str),
}

/// A connection to Redis, shared by the stores made from it.
///
/// Cheap to clone. See the [module docs](self) for an example.
#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    shared: Arc<Shared>,
}

struct Shared {
    prefix: String,
    command_timeout: Duration,
    retry_after: Duration,
    down: AtomicBool,
    epoch: recovery::Epoch,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.shared.prefix)
            .field("command_timeout", &self.shared.command_timeout)
            .finish_non_exhaustive()
    }
}

/// Configures a [`RedisStore`]; finish with [`connect`](Self::connect).
///
/// See the [module docs](self) for an example.
#[must_use]
pub struct RedisStoreBuilder {
    url: String,
    prefix: String,
    connect_timeout: Duration,
    command_timeout: Duration,
    retry_after: Duration,
    tls_roots: Option<Vec<u8>>,
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may carry a password: never printed.
        f.debug_struct("RedisStoreBuilder")
            .field("prefix", &self.prefix)
            .field("connect_timeout", &self.connect_timeout)
            .field("command_timeout", &self.command_timeout)
            .field("tls_root_certificates", &self.tls_roots.is_some())
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A builder for `url`: `redis://[user:password@]host[:port][/db]`, or
    /// `rediss://…` for TLS.
    ///
    /// See the [module docs](self) for an example.
    pub fn builder(url: impl Into<String>) -> RedisStoreBuilder {
        RedisStoreBuilder {
            url: url.into(),
            prefix: DEFAULT_PREFIX.to_owned(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            command_timeout: DEFAULT_COMMAND_TIMEOUT,
            retry_after: DEFAULT_REDIS_RETRY_AFTER,
            tls_roots: None,
        }
    }

    /// A [`ReplayCache`] for DPoP proofs (or any single-use identifier).
    ///
    /// See the [module docs](self) for an example.
    pub fn replay_cache(&self) -> RedisReplayCache {
        RedisReplayCache { store: self.clone() }
    }

    /// A [`SessionStore`] whose bindings expire after `idle_ttl` without use
    /// (at least one second).
    ///
    /// See the [module docs](self) for an example.
    pub fn session_store(&self, idle_ttl: Duration) -> RedisSessionStore {
        RedisSessionStore {
            store: self.clone(),
            idle_secs: idle_ttl.as_secs().max(1),
        }
    }

    /// When this replica last learnt that Redis lost single-use identifiers
    /// (detected by it or by another replica); `None` while it knows of no
    /// loss. Identifiers issued before it are refused: see the
    /// [module docs](self#when-redis-loses-data).
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// let redis = tower_bearer::redis::RedisStore::builder("redis://127.0.0.1:6379").connect().await?;
    /// if let Some(loss) = redis.last_loss() {
    ///     eprintln!("Redis lost data at {loss:?}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn last_loss(&self) -> Option<SystemTime> {
        self.shared.epoch.last_loss()
    }

    fn key(&self, kind: &str, hex: &str) -> String {
        format!("{}{kind}:{hex}", self.shared.prefix)
    }

    /// Runs one command within the command timeout; failures are logged once
    /// per outage and become [`Unavailable`].
    async fn run<T>(&self, command: impl Future<Output = Result<T, RedisError>>) -> Result<T, Unavailable> {
        let timer = crate::metrics::Timer::start();
        let outcome = match tokio::time::timeout(self.shared.command_timeout, command).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(format!("{:?}", error.kind())),
            Err(_) => Err("command timed out".to_owned()),
        };
        crate::metrics::redis_command(timer, outcome.is_ok());
        match outcome {
            Ok(value) => {
                if self.shared.down.swap(false, Ordering::Relaxed) {
                    crate::metrics::redis_down(false);
                    tracing::info!("Redis reachable again");
                }
                Ok(value)
            }
            Err(reason) => {
                if !self.shared.down.swap(true, Ordering::Relaxed) {
                    crate::metrics::redis_down(true);
                    tracing::warn!(%reason, "Redis unavailable: answering 503 until it is back");
                }
                Err(Unavailable::new("redis unavailable").with_retry_after(self.shared.retry_after))
            }
        }
    }
}

impl RedisStoreBuilder {
    /// The prefix of every key (default `tower-bearer:`).
    ///
    /// ```
    /// let b = tower_bearer::redis::RedisStore::builder("redis://127.0.0.1").prefix("app1:");
    /// # let _ = b;
    /// ```
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long connecting (and each reconnection attempt) may take (default
    /// 2 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = tower_bearer::redis::RedisStore::builder("redis://127.0.0.1").connect_timeout(Duration::from_secs(1));
    /// # let _ = b;
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long a command may take before the request is answered 503
    /// (default 500 ms).
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = tower_bearer::redis::RedisStore::builder("redis://127.0.0.1").command_timeout(Duration::from_millis(100));
    /// # let _ = b;
    /// ```
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = timeout;
        self
    }

    /// The `Retry-After` of a 503 caused by Redis (default
    /// 2 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = tower_bearer::redis::RedisStore::builder("redis://127.0.0.1").retry_after(Duration::from_secs(5));
    /// # let _ = b;
    /// ```
    pub fn retry_after(mut self, after: Duration) -> Self {
        self.retry_after = after;
        self
    }

    /// Trusts these CA certificates (PEM, one or more `CERTIFICATE` blocks)
    /// for a `rediss://` URL, instead of the Mozilla roots: for a Redis whose
    /// certificate is signed by a private CA. The server's certificate must
    /// still name the URL's host. [`connect`](Self::connect) fails with
    /// [`RedisStoreError::Tls`] when the PEM holds no certificate or a bad one,
    /// or when the URL is not `rediss://`.
    ///
    /// ```no_run
    /// use tower_bearer::redis::RedisStore;
    /// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// let ca = std::fs::read("/etc/redis/tls/ca.crt")?;
    /// let redis = RedisStore::builder("rediss://redis.internal:6380/0")
    ///     .tls_root_certificates(ca)
    ///     .connect()
    ///     .await?;
    /// # let _ = redis; Ok(()) }
    /// ```
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use tower_bearer::redis::{RedisStore, RedisStoreError};
    /// let err = RedisStore::builder("rediss://127.0.0.1:6380")
    ///     .tls_root_certificates("not a certificate")
    ///     .connect()
    ///     .await
    ///     .unwrap_err();
    /// assert!(matches!(err, RedisStoreError::Tls(_)));
    /// # });
    /// ```
    pub fn tls_root_certificates(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls_roots = Some(pem.into());
        self
    }

    /// Connects (one attempt within the connect timeout); afterwards the
    /// connection reconnects by itself.
    ///
    /// See the [module docs](self) for an example.
    pub async fn connect(self) -> Result<RedisStore, RedisStoreError> {
        let scheme = self.url.split("://").next().unwrap_or_default();
        if !matches!(scheme, "redis" | "rediss" | "redis+unix" | "unix") || !self.url.contains("://") {
            return Err(RedisStoreError::Url(
                "scheme must be redis://, rediss:// or redis+unix://",
            ));
        }
        let client = match &self.tls_roots {
            None => Client::open(self.url.as_str()).map_err(|_| RedisStoreError::Url("not a Redis URL"))?,
            Some(pem) => {
                if scheme != "rediss" {
                    return Err(RedisStoreError::Tls("root certificates need a rediss:// URL"));
                }
                check_root_certificates(pem)?;
                let certificates = ::redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem.clone()),
                };
                Client::build_with_tls(self.url.as_str(), certificates).map_err(|error| {
                    match error.kind() {
                        ::redis::ErrorKind::InvalidClientConfig => RedisStoreError::Url("not a Redis URL"),
                        // Parsed as PEM above: the DER inside is not a usable CA certificate.
                        _ => RedisStoreError::Tls("root certificates: not a CA certificate"),
                    }
                })?
            }
        };
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(self.connect_timeout)
            .set_response_timeout(self.command_timeout)
            .set_number_of_retries(1)
            .set_max_delay(1000);
        let connect = ConnectionManager::new_with_config(client, config);
        let connection = match tokio::time::timeout(self.connect_timeout, connect).await {
            Ok(Ok(connection)) => connection,
            Ok(Err(error)) => return Err(RedisStoreError::Connect(connect_reason(&error))),
            Err(_) => return Err(RedisStoreError::Connect("connect timed out".into())),
        };
        let mut connection = connection;
        let epoch_key = epoch_key(&self.prefix);
        let start = recovery::Epoch::start(&mut connection, &epoch_key, SystemTime::now());
        let epoch = match tokio::time::timeout(self.command_timeout, start).await {
            Ok(Ok(epoch)) => epoch,
            Ok(Err(error)) => return Err(RedisStoreError::Connect(connect_reason(&error))),
            Err(_) => return Err(RedisStoreError::Connect("first command timed out".into())),
        };
        crate::metrics::redis_down(false);
        Ok(RedisStore {
            connection,
            shared: Arc::new(Shared {
                prefix: self.prefix,
                command_timeout: self.command_timeout,
                retry_after: self.retry_after,
                down: AtomicBool::new(false),
                epoch,
            }),
        })
    }
}

/// The hash that tells when Redis lost data ([`recovery`]).
fn epoch_key(prefix: &str) -> String {
    format!("{prefix}epoch")
}

/// Why connecting failed: the error's kind, and for I/O errors (refused, reset,
/// an untrusted or mismatched TLS certificate) the I/O error's own text, which
/// names neither the URL nor a password.
fn connect_reason(error: &RedisError) -> String {
    match error.kind() {
        ::redis::ErrorKind::IoError => format!("IoError: {error}"),
        kind => format!("{kind:?}"),
    }
}

/// At least one PEM `CERTIFICATE` block, and nothing malformed: redis itself
/// would take a PEM without certificates as an empty trust store.
fn check_root_certificates(pem: &[u8]) -> Result<(), RedisStoreError> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject as _;
    let mut count = 0;
    for certificate in CertificateDer::pem_slice_iter(pem) {
        certificate.map_err(|_| RedisStoreError::Tls("root certificates: malformed PEM"))?;
        count += 1;
    }
    if count == 0 {
        return Err(RedisStoreError::Tls(
            "root certificates: no PEM CERTIFICATE block",
        ));
    }
    Ok(())
}

/// DPoP proof identifiers on Redis: `SET key 1 NX PX ttl`, so a proof accepted
/// by one replica is a replay on every other.
///
/// See the [module docs](super::redis) for an example.
#[derive(Clone, Debug)]
pub struct RedisReplayCache {
    store: RedisStore,
}

impl ReplayCache for RedisReplayCache {
    async fn first_use(
        &self,
        key: &ReplayKey,
        issued_at: SystemTime,
        until: SystemTime,
    ) -> Result<bool, Unavailable> {
        let now = SystemTime::now();
        let ttl = crate::time::remaining(until, now);
        if ttl.is_zero() {
            // Past its window: refused by the caller's own checks, nothing to keep.
            return Ok(true);
        }
        let store = &self.store;
        let check = store.shared.epoch.check(
            store.key("replay", &key.to_hex()),
            &epoch_key(&store.shared.prefix),
            ttl,
            now,
        );
        let mut connection = store.connection.clone();
        let answer = store.run(check.invoke_async(&mut connection)).await?;
        Ok(store.shared.epoch.decide(answer, issued_at))
    }
}

/// MCP session owners on Redis, each binding kept while used (`GETEX … EX`
/// refreshes the idle TTL) and removed when its owner deletes the session.
///
/// See the [module docs](super::redis) for an example.
#[derive(Clone, Debug)]
pub struct RedisSessionStore {
    store: RedisStore,
    idle_secs: u64,
}

impl SessionStore for RedisSessionStore {
    async fn bind(&self, key: &SessionKey, owner: &SessionOwner) -> Result<(), Unavailable> {
        let json = serde_json::to_string(owner).map_err(|_| Unavailable::new("owner not serializable"))?;
        let redis_key = self.store.key("session", &key.to_hex());
        let mut connection = self.store.connection.clone();
        self.store
            .run(connection.set_ex::<_, _, ()>(redis_key, json, self.idle_secs))
            .await
    }

    async fn owner(&self, key: &SessionKey) -> Result<Option<SessionOwner>, Unavailable> {
        let redis_key = self.store.key("session", &key.to_hex());
        let mut connection = self.store.connection.clone();
        let json: Option<String> = self
            .store
            .run(connection.get_ex(redis_key, ::redis::Expiry::EX(self.idle_secs)))
            .await?;
        match json {
            None => Ok(None),
            // An entry that does not parse is not anybody's session: fail closed (503).
            Some(json) => serde_json::from_str(&json)
                .map(Some)
                .map_err(|_| Unavailable::new("unreadable session entry")),
        }
    }

    async fn unbind(&self, key: &SessionKey) -> Result<(), Unavailable> {
        let redis_key = self.store.key("session", &key.to_hex());
        let mut connection = self.store.connection.clone();
        self.store.run(connection.del::<_, ()>(redis_key)).await
    }
}

/// Introspection answers shared by replicas (L2 under each one's in-process
/// cache): `GET` / `SET key answer PX ttl` on `{prefix}introspection:{hex}`,
/// `{hex}` the SHA-256 of the token. While Redis is unreachable the verifier
/// asks the authorization server instead (one warning per outage).
///
/// ```no_run
/// use tower_bearer::{introspection::IntrospectionVerifier, redis::RedisStore};
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// let redis = RedisStore::builder("redis://127.0.0.1:6379").connect().await?;
/// let verifier = IntrospectionVerifier::builder()
///     .endpoint("https://as.example/introspect")
///     .client_credentials("rs", "secret")
///     .shared_cache(redis.introspection_cache())
///     .build()?;
/// # let _ = verifier; Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct RedisIntrospectionCache {
    store: RedisStore,
}

impl RedisStore {
    /// A [`SharedIntrospectionCache`] for
    /// [`IntrospectionVerifierBuilder::shared_cache`](crate::introspection::IntrospectionVerifierBuilder::shared_cache).
    ///
    /// See [`RedisIntrospectionCache`] for an example.
    pub fn introspection_cache(&self) -> RedisIntrospectionCache {
        RedisIntrospectionCache { store: self.clone() }
    }
}

impl SharedIntrospectionCache for RedisIntrospectionCache {
    async fn get(&self, key: &[u8; 32]) -> Result<Option<Vec<u8>>, Unavailable> {
        let mut connection = self.store.connection.clone();
        let redis_key = self.store.key("introspection", &crate::digest::hex(key));
        self.store.run(connection.get(redis_key)).await
    }

    async fn put(&self, key: &[u8; 32], answer: &[u8], ttl: Duration) -> Result<(), Unavailable> {
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut connection = self.store.connection.clone();
        let redis_key = self.store.key("introspection", &crate::digest::hex(key));
        self.store
            .run(connection.pset_ex(redis_key, answer, millis))
            .await
    }
}
