//! The development issuer's clients: its own confidential client, clients
//! registered at run time (RFC 7591), Client ID Metadata Documents (a
//! `client_id` that is the URL of the client's metadata, MCP 2025-11-25), and
//! client authentication at the token endpoint (RFC 6749 §2.3).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::Shared;
use super::assertion::{Assertions, JWT_BEARER_ASSERTION};
use super::error::OAuthError;
use super::keys::random_string;
use super::params::Params;
use tower_bearer::__private::fetch::{self, is_loopback_ip};
use tower_bearer::__private::{VerifyingKey, sha256};

/// At most this many clients registered at run time are kept (the oldest go).
const MAX_REGISTERED: u64 = 10_000;
/// At most this many bytes of a client metadata document are read.
pub(super) const MAX_METADATA_BYTES: usize = 16 * 1024;
/// At most this many redirect URIs per client.
const MAX_REDIRECT_URIS: usize = 16;
/// How long a fetched client metadata document is used.
const DOCUMENT_TTL: Duration = Duration::from_secs(300);

pub(super) const AUTHORIZATION_CODE: &str = "authorization_code";
pub(super) const REFRESH_TOKEN: &str = "refresh_token";
pub(super) const CLIENT_CREDENTIALS: &str = "client_credentials";
pub(super) const JWT_BEARER: &str = crate::id_jag::JWT_BEARER_GRANT_TYPE;
pub(super) const TOKEN_EXCHANGE: &str = tower_bearer::exchange::TOKEN_EXCHANGE_GRANT;
/// The grant types this issuer answers, as listed in its metadata.
pub(super) const GRANT_TYPES: [&str; 5] = [
    AUTHORIZATION_CODE,
    REFRESH_TOKEN,
    CLIENT_CREDENTIALS,
    JWT_BEARER,
    TOKEN_EXCHANGE,
];
/// Grants that need a client secret.
const CONFIDENTIAL_GRANTS: [&str; 3] = [CLIENT_CREDENTIALS, JWT_BEARER, TOKEN_EXCHANGE];

/// How a client authenticates at the token endpoint (RFC 7591 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AuthMethod {
    /// A public client: `client_id` only, PKCE protects the code.
    None,
    SecretBasic,
    SecretPost,
}

impl AuthMethod {
    pub(super) const SUPPORTED: [&'static str; 3] = ["none", "client_secret_basic", "client_secret_post"];

    fn parse(name: &str) -> Option<Self> {
        match name {
            "none" => Some(AuthMethod::None),
            "client_secret_basic" => Some(AuthMethod::SecretBasic),
            "client_secret_post" => Some(AuthMethod::SecretPost),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            AuthMethod::None => "none",
            AuthMethod::SecretBasic => "client_secret_basic",
            AuthMethod::SecretPost => "client_secret_post",
        }
    }
}

/// A client the issuer knows.
#[derive(Debug)]
pub(super) struct Client {
    pub(super) id: String,
    /// SHA-256 of the secret of a confidential client.
    secret: Option<[u8; 32]>,
    /// The public key of a confidential client that authenticates with
    /// `private_key_jwt` (RFC 7523).
    key: Option<VerifyingKey>,
    redirect_uris: Vec<String>,
    grant_types: Vec<String>,
}

impl Client {
    /// The issuer's own confidential client: every grant, no redirect URI.
    pub(super) fn confidential(id: String, secret: &str) -> Self {
        Client {
            id,
            secret: Some(sha256(secret.as_bytes())),
            key: None,
            redirect_uris: Vec::new(),
            grant_types: GRANT_TYPES.iter().map(|g| (*g).to_owned()).collect(),
        }
    }

    /// A confidential client authenticated by `private_key_jwt` with `key`,
    /// for the grants without a user: client credentials and token exchange.
    pub(super) fn with_key(id: String, key: VerifyingKey) -> Self {
        Client {
            id,
            secret: None,
            key: Some(key),
            redirect_uris: Vec::new(),
            grant_types: vec![CLIENT_CREDENTIALS.into(), TOKEN_EXCHANGE.into()],
        }
    }

    pub(super) fn is_confidential(&self) -> bool {
        self.secret.is_some() || self.key.is_some()
    }

    /// Whether the client registered for `grant` (refresh tokens go to every
    /// client that was given one).
    pub(super) fn may_use(&self, grant: &str) -> bool {
        grant == REFRESH_TOKEN || self.grant_types.iter().any(|g| g == grant)
    }

    /// RFC 6749 §3.1.2 / OAuth 2.1 §4.1.3: exact string match, except that the
    /// port of a loopback redirect URI may vary (RFC 8252 §7.3).
    pub(super) fn allows_redirect(&self, requested: &str) -> bool {
        self.redirect_uris
            .iter()
            .any(|registered| registered == requested || same_but_loopback_port(registered, requested))
    }
}

fn same_but_loopback_port(registered: &str, requested: &str) -> bool {
    let (Ok(mut a), Ok(mut b)) = (url::Url::parse(registered), url::Url::parse(requested)) else {
        return false;
    };
    // RFC 8252 §7.3: loopback redirects use a literal IP (`localhost` is
    // matched exactly, not by port).
    if a.scheme() != "http" || !is_loopback_ip(&a) || !is_loopback_ip(&b) {
        return false;
    }
    // Only the port may differ; everything else must be as registered.
    let _ = a.set_port(None);
    let _ = b.set_port(None);
    a.as_str() == b.as_str()
}

/// A refused registration or metadata document (RFC 7591 §3.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct MetadataError {
    pub(super) error: &'static str,
    pub(super) description: String,
}

fn invalid(description: impl Into<String>) -> MetadataError {
    MetadataError {
        error: "invalid_client_metadata",
        description: description.into(),
    }
}

fn invalid_redirect(description: impl Into<String>) -> MetadataError {
    MetadataError {
        error: "invalid_redirect_uri",
        description: description.into(),
    }
}

/// A redirect URI a client may register: absolute, no fragment; `https`, `http`
/// only to a loopback host (RFC 8252 §7.3), or a private-use scheme with a
/// period in it (RFC 8252 §7.1, `com.example.app:/cb`).
fn check_redirect_uri(uri: &str) -> Result<(), MetadataError> {
    let parsed = url::Url::parse(uri).map_err(|e| invalid_redirect(format!("{uri:?}: {e}")))?;
    if parsed.fragment().is_some() {
        return Err(invalid_redirect(format!("{uri:?} has a fragment")));
    }
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if fetch::is_loopback(&parsed) => Ok(()),
        "http" => Err(invalid_redirect(format!("{uri:?}: http only to a loopback host"))),
        scheme if scheme.contains('.') => Ok(()),
        _ => Err(invalid_redirect(format!(
            "{uri:?}: https, loopback http or a private-use scheme (reverse domain name)"
        ))),
    }
}

fn string_array(
    metadata: &Map<String, Value>,
    name: &str,
    max: usize,
) -> Result<Option<Vec<String>>, MetadataError> {
    let Some(value) = metadata.get(name) else {
        return Ok(None);
    };
    let items = value
        .as_array()
        .filter(|items| items.len() <= max)
        .ok_or_else(|| invalid(format!("{name} must be an array of at most {max} strings")))?;
    items
        .iter()
        .map(|item| {
            item.as_str()
                .map(str::to_owned)
                .ok_or_else(|| invalid(format!("{name} must hold strings")))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// The rules for client metadata, registered or published as a document: the
/// validated client and its authentication method.
fn client_from_metadata(
    id: String,
    metadata: &Map<String, Value>,
    default_method: AuthMethod,
) -> Result<(Client, AuthMethod), MetadataError> {
    let method = match metadata.get("token_endpoint_auth_method") {
        None => default_method,
        Some(Value::String(name)) => AuthMethod::parse(name).ok_or_else(|| {
            invalid(format!(
                "token_endpoint_auth_method {name:?} is not one of {:?}",
                AuthMethod::SUPPORTED
            ))
        })?,
        Some(_) => return Err(invalid("token_endpoint_auth_method must be a string")),
    };
    let grant_types = string_array(metadata, "grant_types", GRANT_TYPES.len())?
        .unwrap_or_else(|| vec![AUTHORIZATION_CODE.into()]);
    for grant in &grant_types {
        if !GRANT_TYPES.contains(&grant.as_str()) {
            return Err(invalid(format!("grant type {grant:?} is not supported")));
        }
        if method == AuthMethod::None && CONFIDENTIAL_GRANTS.contains(&grant.as_str()) {
            return Err(invalid(format!(
                "grant type {grant:?} needs a confidential client"
            )));
        }
    }
    if let Some(types) = string_array(metadata, "response_types", 4)?
        && types.iter().any(|t| t != "code")
    {
        return Err(invalid("response_types: only \"code\" is supported"));
    }
    let redirect_uris = string_array(metadata, "redirect_uris", MAX_REDIRECT_URIS)
        .map_err(|e| invalid_redirect(e.description))?
        .unwrap_or_default();
    for uri in &redirect_uris {
        check_redirect_uri(uri)?;
    }
    if grant_types.iter().any(|g| g == AUTHORIZATION_CODE) && redirect_uris.is_empty() {
        return Err(invalid_redirect(
            "the authorization code grant needs redirect_uris",
        ));
    }
    let client = Client {
        id,
        secret: None,
        key: None,
        redirect_uris,
        grant_types,
    };
    Ok((client, method))
}

/// Why a client could not be found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum LookupError {
    Unknown,
    /// The client's metadata document could not be fetched or was refused.
    Document(String),
}

impl std::fmt::Display for LookupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LookupError::Unknown => f.write_str("unknown client"),
            LookupError::Document(reason) => write!(f, "client metadata document: {reason}"),
        }
    }
}

/// Every client the issuer knows.
pub(super) struct Clients {
    dev: Arc<Client>,
    /// Clients that authenticate with `private_key_jwt`.
    keyed: Vec<Arc<Client>>,
    assertions: Assertions,
    registered: moka::sync::Cache<String, Arc<Client>>,
    documents: moka::future::Cache<String, Arc<Client>>,
    http: reqwest::Client,
}

impl Clients {
    pub(super) fn new(dev: Client, keyed: Vec<Client>, assertions: Assertions) -> std::io::Result<Self> {
        Ok(Clients {
            dev: Arc::new(dev),
            keyed: keyed.into_iter().map(Arc::new).collect(),
            assertions,
            registered: moka::sync::Cache::new(MAX_REGISTERED),
            documents: moka::future::Cache::builder()
                .max_capacity(1000)
                .time_to_live(DOCUMENT_TTL)
                .build(),
            http: fetch::client(fetch::DEFAULT_TIMEOUT).map_err(std::io::Error::other)?,
        })
    }

    /// RFC 7591 §3: registers a client from its metadata and answers with its
    /// id (and secret, unless it is public) and the metadata as accepted.
    pub(super) fn register(&self, metadata: Map<String, Value>) -> Result<Value, MetadataError> {
        let id = format!("dcr-{}", random_string(12).map_err(|e| invalid(e.to_string()))?);
        let (mut client, method) = client_from_metadata(id, &metadata, AuthMethod::SecretBasic)?;
        let secret = match method {
            AuthMethod::None => None,
            _ => Some(random_string(24).map_err(|e| invalid(e.to_string()))?),
        };
        client.secret = secret.as_deref().map(|s| sha256(s.as_bytes()));
        let mut answer = metadata;
        answer.insert("client_id".into(), client.id.clone().into());
        answer.insert("token_endpoint_auth_method".into(), method.name().into());
        answer.insert("grant_types".into(), json!(client.grant_types));
        answer.insert("response_types".into(), json!(["code"]));
        let issued_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        answer.insert("client_id_issued_at".into(), issued_at.into());
        if let Some(secret) = secret {
            answer.insert("client_secret".into(), secret.into());
            answer.insert("client_secret_expires_at".into(), 0.into());
        }
        self.registered.insert(client.id.clone(), Arc::new(client));
        Ok(Value::Object(answer))
    }

    /// The client `id`: the issuer's own, a registered one, or the one whose
    /// metadata document `id` is (fetched once per five minutes).
    pub(super) async fn lookup(&self, id: &str) -> Result<Arc<Client>, LookupError> {
        if id == self.dev.id {
            return Ok(self.dev.clone());
        }
        if let Some(client) = self.keyed.iter().find(|c| c.id == id) {
            return Ok(client.clone());
        }
        if let Some(client) = self.registered.get(id) {
            return Ok(client);
        }
        if !id.starts_with("https://") && !id.starts_with("http://") {
            return Err(LookupError::Unknown);
        }
        self.documents
            .try_get_with_by_ref(id, self.fetch_document(id))
            .await
            .map_err(|e| LookupError::Document(e.to_string()))
    }

    /// A Client ID Metadata Document (draft-ietf-oauth-client-id-metadata-document):
    /// fetched by the crate's outbound rules (HTTPS, or HTTP to loopback; no
    /// redirects; 5 s; 16 KiB), strict JSON, `client_id` equal to its URL, a
    /// public client (no shared secret can be published).
    async fn fetch_document(&self, id: &str) -> Result<Arc<Client>, String> {
        let url = fetch::checked_url(id).map_err(|e| e.to_string())?;
        let bad_path = url.path() == "/" || url.path().split('/').any(|s| s == "." || s == "..");
        if bad_path || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
            return Err(
                "the client id URL needs a path, and no fragment, dot segments or credentials".into(),
            );
        }
        let request = self.http.get(url).header(header::ACCEPT, "application/json");
        let (_, body) = fetch::send_limited(request, MAX_METADATA_BYTES)
            .await
            .map_err(|e| e.to_string())?;
        let metadata = fetch::strict_object(&body).map_err(|e| e.to_string())?;
        if metadata.get("client_id").and_then(Value::as_str) != Some(id) {
            return Err("its client_id is not the URL it was fetched from".into());
        }
        let (client, method) = client_from_metadata(id.to_owned(), &metadata, AuthMethod::None)
            .map_err(|e| format!("{}: {}", e.error, e.description))?;
        if method != AuthMethod::None {
            return Err("a metadata document client authenticates with \"none\"".into());
        }
        Ok(Arc::new(client))
    }

    /// RFC 6749 §2.3: the client a token request authenticates as. A
    /// confidential client sends its secret once (HTTP Basic, or the form's
    /// `client_secret`), with at most a matching `client_id` beside it; a public
    /// client sends only its `client_id`. `None` is `invalid_client`.
    pub(super) async fn authenticate(&self, headers: &HeaderMap, params: &Params) -> Option<Arc<Client>> {
        if let Some(assertion) = params.get("client_assertion") {
            // RFC 7523 §2.2: the assertion alone, of its type, for a keyed client.
            let alone = !headers.contains_key(header::AUTHORIZATION) && params.get("client_secret").is_none();
            if !alone || params.get("client_assertion_type") != Some(JWT_BEARER_ASSERTION) {
                return None;
            }
            let client = self.lookup(params.get("client_id")?).await.ok()?;
            let key = client.key.as_ref()?;
            return self
                .assertions
                .check(key, assertion, &client.id)
                .then_some(client);
        }
        let basic = match headers.get(header::AUTHORIZATION) {
            None => None,
            Some(value) => Some(basic_credentials(value.to_str().ok()?)?),
        };
        let form_id = params.get("client_id");
        let form_secret = params.get("client_secret");
        let (id, secret) = match (basic, form_secret) {
            (Some(_), Some(_)) => return None,
            (Some((id, secret)), None) => {
                if form_id.is_some_and(|form| form != id) {
                    return None;
                }
                (id, Some(secret))
            }
            (None, secret) => (form_id?.to_owned(), secret.map(str::to_owned)),
        };
        let client = self.lookup(&id).await.ok()?;
        let authenticated = match (&client.secret, secret) {
            (Some(digest), Some(secret)) => {
                aws_lc_rs::constant_time::verify_slices_are_equal(digest, &sha256(secret.as_bytes())).is_ok()
            }
            (None, None) => true,
            _ => false,
        };
        authenticated.then_some(client)
    }
}

/// A form request's parameters and the client it authenticates as
/// (`invalid_request` when the form is refused, `invalid_client` when the
/// authentication is).
pub(super) async fn authenticated_form(
    clients: &Clients,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Params, Arc<Client>), OAuthError> {
    let params = Params::parse(body).map_err(|e| OAuthError::new("invalid_request", e.to_string()))?;
    let client = clients
        .authenticate(headers, &params)
        .await
        .ok_or_else(|| OAuthError::new("invalid_client", "client authentication failed"))?;
    Ok((params, client))
}

/// `POST /register` (RFC 7591 §3): open registration from a JSON document
/// read by the crate's strict JSON reader.
pub(super) async fn register(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let metadata = match fetch::strict_object(&body) {
        Ok(metadata) => metadata,
        Err(e) => return OAuthError::new("invalid_client_metadata", e.to_string()).into_response(),
    };
    match s.clients.register(metadata) {
        Ok(answer) => (
            StatusCode::CREATED,
            [(header::CACHE_CONTROL, "no-store")],
            Json(answer),
        )
            .into_response(),
        Err(e) => OAuthError::new(e.error, e.description).into_response(),
    }
}

/// `Authorization: Basic` id and secret, each form-urlencoded (RFC 6749 §2.3.1).
fn basic_credentials(value: &str) -> Option<(String, String)> {
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(base64_simd::STANDARD.decode_to_vec(encoded).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((decode(id)?, decode(secret)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(uris: &[&str]) -> Client {
        let metadata = json!({ "redirect_uris": uris });
        client_from_metadata("c".into(), metadata.as_object().unwrap(), AuthMethod::None)
            .unwrap()
            .0
    }

    #[test]
    fn redirect_uris_match_exactly_but_for_a_loopback_port() {
        let c = client(&[
            "http://127.0.0.1/callback",
            "https://app.example/cb",
            "http://localhost:3000/cb",
        ]);
        assert!(c.allows_redirect("http://127.0.0.1/callback"));
        assert!(c.allows_redirect("http://127.0.0.1:51234/callback"));
        assert!(!c.allows_redirect("http://127.0.0.1:51234/callback/x"));
        assert!(!c.allows_redirect("http://127.0.0.1:51234/callback?x=1"));
        assert!(!c.allows_redirect("http://127.0.0.2:51234/callback"));
        assert!(c.allows_redirect("https://app.example/cb"));
        assert!(!c.allows_redirect("https://app.example:8443/cb"));
        assert!(!c.allows_redirect("https://app.example/cb/"));
        assert!(c.allows_redirect("http://localhost:3000/cb"));
        assert!(
            !c.allows_redirect("http://localhost:3001/cb"),
            "localhost is not a literal IP"
        );
        let v6 = client(&["http://[::1]:8000/cb"]);
        assert!(v6.allows_redirect("http://[::1]:9000/cb"));
    }

    #[test]
    fn metadata_rules() {
        let refuse = |metadata: Value| {
            client_from_metadata("c".into(), metadata.as_object().unwrap(), AuthMethod::SecretBasic)
                .unwrap_err()
                .error
        };
        assert_eq!(
            refuse(json!({})),
            "invalid_redirect_uri",
            "the code grant needs a redirect URI"
        );
        assert_eq!(
            refuse(json!({"redirect_uris": ["http://app.example/cb"]})),
            "invalid_redirect_uri"
        );
        assert_eq!(
            refuse(json!({"redirect_uris": ["https://a.example/cb#x"]})),
            "invalid_redirect_uri"
        );
        assert_eq!(
            refuse(json!({"redirect_uris": ["javascript:alert(1)"]})),
            "invalid_redirect_uri"
        );
        assert_eq!(
            refuse(json!({"redirect_uris": "https://a.example/cb"})),
            "invalid_redirect_uri"
        );
        let ok = |metadata: Value| {
            client_from_metadata("c".into(), metadata.as_object().unwrap(), AuthMethod::SecretBasic)
                .map(|(_, m)| m)
        };
        assert_eq!(
            ok(json!({"redirect_uris": ["com.example.app:/cb"]})),
            Ok(AuthMethod::SecretBasic)
        );
        assert_eq!(
            refuse(json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["implicit"]})),
            "invalid_client_metadata"
        );
        assert_eq!(
            refuse(json!({"redirect_uris": ["https://a.example/cb"], "response_types": ["token"]})),
            "invalid_client_metadata"
        );
        assert_eq!(
            refuse(json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"})),
            "invalid_client_metadata",
            "client credentials need a secret"
        );
        assert_eq!(
            refuse(
                json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "private_key_jwt"})
            ),
            "invalid_client_metadata"
        );
        assert_eq!(
            ok(json!({"grant_types": ["client_credentials"]})),
            Ok(AuthMethod::SecretBasic),
            "no redirect URI needed without the code grant"
        );
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let value = format!(
            "Basic {}",
            base64_simd::STANDARD.encode_to_string("a%3Ab:s+e%25t")
        );
        assert_eq!(basic_credentials(&value), Some(("a:b".into(), "s e%t".into())));
        assert_eq!(basic_credentials("Basic !!!"), None);
        assert_eq!(basic_credentials("Bearer x"), None);
    }
}
