//! Tokens in the shapes identity providers issue ([`Dialect`]), signed with
//! the [`DevIssuer`]'s key, so that every [`Provider`] preset of
//! `tower_bearer::jwt` is tested offline: user and client-credentials access
//! tokens, the provider's ID token, and Entra's tokens for Microsoft Graph.
//!
//! The shapes follow each provider's documentation (header `typ`, issuer
//! form, `aud` form, claim names); values are made up.
//!
//! ```
//! use tower_bearer::TokenVerifier;
//! use tower_bearer::jwt::{JwtVerifier, Provider};
//! use tower_bearer_issuer::DevIssuer;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let issuer = DevIssuer::start().await.unwrap();
//! let entra = issuer.dialect(Provider::Entra);
//! let verifier = JwtVerifier::builder()
//!     .audience("https://api.example.com/mcp")
//!     .add_issuer(entra.verifier_issuer())
//!     .build()
//!     .unwrap();
//! let token = verifier.verify(&entra.access_token("alice", "web-app", "Notes.Read")).await.unwrap();
//! assert_eq!(token.principal().client_id(), Some("web-app"));
//! assert!(token.scopes().contains("Notes.Read"));
//! assert!(verifier.verify(&entra.id_token("alice", "web-app")).await.is_err());
//! # });
//! ```

use serde_json::{Value, json};
use tower_bearer::jwt::{Issuer, Provider};

use crate::keys::random_string;
use crate::{DevIssuer, unix_now};

/// The made-up tenant of the Entra dialects (a GUID, as Entra's are).
pub const ENTRA_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
/// The made-up client ID of the protected API in the Entra dialects: their
/// access tokens' `aud` (v1.0: `api://` followed by it).
pub const ENTRA_API_CLIENT_ID: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";
/// Microsoft Graph's application ID: the `aud` of Entra's Graph tokens.
pub const GRAPH_AUDIENCE: &str = "00000003-0000-0000-c000-000000000000";

/// Tokens of one provider's shape, signed by a [`DevIssuer`]; see the
/// [module docs](self). [`DevIssuer::dialect`] makes one.
#[derive(Debug, Clone)]
pub struct Dialect<'a> {
    dev: &'a DevIssuer,
    provider: Provider,
    issuer: String,
    audience: Option<Value>,
}

impl DevIssuer {
    /// Tokens in `provider`'s shape, with its issuer form (a made-up tenant)
    /// and its usual `aud` (see [`Dialect::audience`]).
    ///
    /// See the [`dialect`](crate::dialect) module for an example.
    pub fn dialect(&self, provider: Provider) -> Dialect<'_> {
        let (issuer, audience): (String, Option<Value>) = match provider {
            Provider::Entra => (
                format!("https://login.microsoftonline.com/{ENTRA_TENANT}/v2.0"),
                Some(json!(ENTRA_API_CLIENT_ID)),
            ),
            Provider::EntraV1 => (
                format!("https://sts.windows.net/{ENTRA_TENANT}/"),
                Some(json!(format!("api://{ENTRA_API_CLIENT_ID}"))),
            ),
            Provider::Auth0 => (
                "https://dev-tower-bearer.eu.auth0.com/".into(),
                Some(json!([
                    "https://api.example.com",
                    "https://dev-tower-bearer.eu.auth0.com/userinfo"
                ])),
            ),
            Provider::Okta => (
                "https://dev-123456.okta.com/oauth2/default".into(),
                Some(json!("api://default")),
            ),
            Provider::Cognito => (
                "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TowerBear".into(),
                None,
            ),
            Provider::Keycloak => (
                "https://sso.example.com/realms/acme".into(),
                Some(json!(["mcp-server", "account"])),
            ),
            Provider::Workos => (
                "https://tower-bearer.authkit.app".into(),
                Some(json!("https://api.example.com/mcp")),
            ),
            Provider::Hydra => (
                "https://hydra.example.com/".into(),
                Some(json!(["https://api.example.com/mcp"])),
            ),
            _ => (
                self.issuer().to_owned(),
                Some(json!("https://api.example.com/mcp")),
            ),
        };
        Dialect {
            dev: self,
            provider,
            issuer,
            audience,
        }
    }
}

impl<'a> Dialect<'a> {
    /// The same shapes under another `iss` (the development issuer's own URL,
    /// for a server that discovers it).
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let dev = tower_bearer_issuer::DevIssuer::start().await.unwrap();
    /// let okta = dev.dialect(tower_bearer::jwt::Provider::Okta).with_issuer(dev.issuer());
    /// assert_eq!(okta.issuer(), dev.issuer());
    /// # });
    /// ```
    #[must_use]
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = issuer.into();
        self
    }

    /// Another `aud` for the access tokens: a string, an array, or `None`
    /// for none.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let dev = tower_bearer_issuer::DevIssuer::start().await.unwrap();
    /// let workos = dev.dialect(tower_bearer::jwt::Provider::Workos).with_audience(Some("https://rs.example/mcp".into()));
    /// assert_eq!(workos.audience(), Some(&serde_json::json!("https://rs.example/mcp")));
    /// # });
    /// ```
    #[must_use]
    pub fn with_audience(mut self, audience: Option<Value>) -> Self {
        self.audience = audience;
        self
    }

    /// The `iss` of its tokens.
    ///
    /// See [`Dialect::with_issuer`] for an example.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The `aud` of its access tokens (`None`: Cognito has none): the
    /// provider's usual value, which a resource server accepts with
    /// `accept_audience` unless it is the resource URL.
    ///
    /// See [`Dialect::with_audience`] for an example.
    pub fn audience(&self) -> Option<&Value> {
        self.audience.as_ref()
    }

    /// The verifier's [`Issuer`] for these tokens: this `iss`, the
    /// development issuer's keys, the provider's preset, and the dialect's
    /// `aud` values accepted (Cognito: none; allow its clients with
    /// `allowed_client_ids`).
    ///
    /// See the [module docs](self) for an example.
    pub fn verifier_issuer(&self) -> Issuer {
        let mut issuer = Issuer::new(&self.issuer)
            .jwks_uri(self.dev.jwks_uri())
            .profile(self.provider.profile());
        for aud in self.accepted_audiences() {
            issuer = issuer.accept_audience(aud);
        }
        issuer
    }

    /// The `aud` values of its access tokens that name the protected API, as
    /// an operator would accept them (`accept_audience`, the quickstart's
    /// `--accept-audience`): all of [`Dialect::audience`] but Auth0's
    /// userinfo audience and Keycloak's `account`, which name other APIs.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let dev = tower_bearer_issuer::DevIssuer::start().await.unwrap();
    /// let keycloak = dev.dialect(tower_bearer::jwt::Provider::Keycloak);
    /// assert_eq!(keycloak.accepted_audiences(), ["mcp-server"]);
    /// # });
    /// ```
    pub fn accepted_audiences(&self) -> Vec<String> {
        let audiences = match &self.audience {
            Some(Value::String(aud)) => vec![aud.clone()],
            Some(Value::Array(auds)) => auds
                .iter()
                .filter_map(|a| a.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        audiences
            .into_iter()
            .filter(|a| !a.ends_with("/userinfo") && a != "account")
            .collect()
    }

    fn header(&self, typ: Option<&str>) -> Value {
        let mut header = json!({ "alg": self.dev.shared.key.alg.name(), "kid": self.dev.shared.kid });
        if let Some(typ) = typ {
            header["typ"] = typ.into();
        }
        header
    }

    /// The header `typ` of the provider's access tokens.
    fn access_typ(&self) -> Option<&'static str> {
        match self.provider {
            Provider::Rfc9068 => Some("at+jwt"),
            Provider::Okta => Some("application/okta-internal-at+jwt"),
            Provider::Cognito => None,
            _ => Some("JWT"),
        }
    }

    fn base(&self, subject: &str) -> Value {
        let now = unix_now();
        let mut claims = json!({
            "iss": self.issuer,
            "sub": subject,
            "iat": now,
            "exp": now.saturating_add(self.dev.shared.token_ttl.as_secs()),
        });
        if let Some(aud) = &self.audience {
            claims["aud"] = aud.clone();
        }
        claims
    }

    /// The header and claims of a user's access token, to alter before
    /// [`Dialect::sign`].
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let dev = tower_bearer_issuer::DevIssuer::start().await.unwrap();
    /// let cognito = dev.dialect(tower_bearer::jwt::Provider::Cognito);
    /// let (header, mut claims) = cognito.access_claims("alice", "app-client", "mcp/read");
    /// assert_eq!(claims["token_use"], "access");
    /// claims.as_object_mut().unwrap().remove("token_use");
    /// let token = cognito.sign(&header, &claims);
    /// # let _ = token;
    /// # });
    /// ```
    pub fn access_claims(&self, user: &str, client: &str, scopes: &str) -> (Value, Value) {
        let list: Vec<&str> = scopes.split(' ').filter(|s| !s.is_empty()).collect();
        let jti = random_string(12).unwrap_or_default();
        let mut claims = self.base(user);
        let extra = match self.provider {
            Provider::Entra => json!({
                "nbf": claims["iat"], "ver": "2.0", "tid": ENTRA_TENANT, "azp": client, "azpacr": "1",
                "oid": user, "scp": scopes, "name": "Dev User", "preferred_username": "dev@example.com",
                "uti": jti, "rh": "0.AAAA.", "aio": "E2ZgYJ",
            }),
            Provider::EntraV1 => json!({
                "nbf": claims["iat"], "ver": "1.0", "tid": ENTRA_TENANT, "appid": client, "appidacr": "1",
                "oid": user, "scp": scopes, "upn": "dev@example.com", "unique_name": "dev@example.com",
                "uti": jti,
            }),
            Provider::Auth0 => json!({ "azp": client, "scope": scopes, "permissions": list }),
            Provider::Okta => json!({
                "ver": 1, "jti": format!("AT.{jti}"), "cid": client, "uid": "00u1abcd", "scp": list,
                "auth_time": claims["iat"],
            }),
            Provider::Cognito => json!({
                "client_id": client, "token_use": "access", "scope": scopes, "username": user,
                "origin_jti": jti, "event_id": "5d9e", "auth_time": claims["iat"], "jti": jti,
                "cognito:groups": ["editors"],
            }),
            Provider::Keycloak => json!({
                "typ": "Bearer", "azp": client, "scope": scopes, "jti": jti, "sid": "f3d1",
                "session_state": "f3d1", "acr": "1", "preferred_username": user,
                "realm_access": { "roles": ["offline_access", "notes-admin"] },
                "resource_access": { "mcp-server": { "roles": ["notes-editor"] } },
            }),
            Provider::Workos => json!({
                "client_id": client, "scope": scopes, "permissions": list, "sid": "session_01",
                "org_id": "org_01", "jti": jti,
            }),
            Provider::Hydra => json!({
                "client_id": client, "scp": list, "jti": jti, "nbf": claims["iat"], "ext": {},
            }),
            _ => json!({ "client_id": client, "scope": scopes, "jti": jti }),
        };
        merge(&mut claims, extra);
        (self.header(self.access_typ()), claims)
    }

    /// A user's access token for `client` with `scopes` (space-separated).
    ///
    /// See the [module docs](self) for an example.
    pub fn access_token(&self, user: &str, client: &str, scopes: &str) -> String {
        let (header, claims) = self.access_claims(user, client, scopes);
        self.sign(&header, &claims)
    }

    /// The header and claims of a client-credentials (machine-to-machine)
    /// token: the client is its own subject (Auth0 `{client}@clients`; Entra
    /// app-only tokens carry `roles` instead of `scp`).
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let dev = tower_bearer_issuer::DevIssuer::start().await.unwrap();
    /// let (_, claims) = dev.dialect(tower_bearer::jwt::Provider::Auth0).app_claims("svc", "read:notes");
    /// assert_eq!(claims["sub"], "svc@clients");
    /// # });
    /// ```
    pub fn app_claims(&self, client: &str, scopes: &str) -> (Value, Value) {
        let (header, mut claims) = self.access_claims(client, client, scopes);
        let list: Vec<&str> = scopes.split(' ').filter(|s| !s.is_empty()).collect();
        let object = claims.as_object_mut().expect("claims are an object");
        match self.provider {
            Provider::Entra | Provider::EntraV1 => {
                for name in ["scp", "name", "preferred_username", "upn", "unique_name"] {
                    object.remove(name);
                }
                object.insert("roles".into(), json!(list));
                object.insert("idtyp".into(), json!("app"));
            }
            Provider::Auth0 => {
                object.insert("sub".into(), json!(format!("{client}@clients")));
                object.insert("gty".into(), json!("client-credentials"));
            }
            Provider::Okta => {
                object.remove("uid");
                object.remove("auth_time");
            }
            Provider::Cognito => {
                for name in [
                    "username",
                    "origin_jti",
                    "event_id",
                    "auth_time",
                    "cognito:groups",
                ] {
                    object.remove(name);
                }
                object.insert("version".into(), json!(2));
            }
            Provider::Keycloak => {
                object.insert("sub".into(), json!(format!("service-account-{client}")));
                object.insert("clientId".into(), json!(client));
                object.remove("sid");
                object.remove("session_state");
            }
            _ => {}
        }
        (header, claims)
    }

    /// A client-credentials token (see [`Dialect::app_claims`]).
    ///
    /// See the [module docs](self) for an example.
    pub fn app_token(&self, client: &str, scopes: &str) -> String {
        let (header, claims) = self.app_claims(client, scopes);
        self.sign(&header, &claims)
    }

    /// The provider's OpenID Connect ID token for `user` at `client`: `aud`
    /// the client, its `nonce` and `at_hash`, its own discriminators (Cognito
    /// `token_use: id`, Keycloak `typ: ID`), and no scopes. When `aud` is the
    /// API's own value too, presets still refuse it.
    ///
    /// See the [module docs](self) for an example.
    pub fn id_token(&self, user: &str, client: &str) -> String {
        let (header, claims) = self.id_claims(user, client);
        self.sign(&header, &claims)
    }

    /// The header and claims of [`Dialect::id_token`].
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let dev = tower_bearer_issuer::DevIssuer::start().await.unwrap();
    /// let (_, claims) = dev.dialect(tower_bearer::jwt::Provider::Keycloak).id_claims("alice", "web");
    /// assert_eq!(claims["typ"], "ID");
    /// # });
    /// ```
    pub fn id_claims(&self, user: &str, client: &str) -> (Value, Value) {
        let mut claims = self.base(user);
        claims["aud"] = json!(client);
        let mut extra = json!({
            "nonce": random_string(8).unwrap_or_default(), "at_hash": "x4Ukv3Q4mN8V3hP9BqZ1ow",
            "auth_time": claims["iat"], "email": "dev@example.com", "name": "Dev User",
        });
        let more = match self.provider {
            Provider::Entra => json!({ "ver": "2.0", "tid": ENTRA_TENANT, "oid": user }),
            Provider::EntraV1 => json!({ "ver": "1.0", "tid": ENTRA_TENANT, "oid": user, "amr": ["pwd"] }),
            Provider::Okta => json!({ "ver": 1, "jti": "ID.abc", "amr": ["pwd"], "idp": "00o1" }),
            Provider::Cognito => json!({ "token_use": "id", "cognito:username": user }),
            Provider::Keycloak => json!({ "typ": "ID", "azp": client, "sid": "f3d1" }),
            Provider::Hydra => json!({ "aud": [client], "rat": claims["iat"], "sid": "s1" }),
            _ => json!({}),
        };
        merge(&mut extra, more);
        merge(&mut claims, extra);
        let typ = match self.provider {
            Provider::Cognito | Provider::Okta => None,
            _ => Some("JWT"),
        };
        (self.header(typ), claims)
    }

    /// An Entra token for Microsoft Graph (`aud` Graph, a `nonce` header):
    /// what a client sends when it asked for `User.Read` instead of this API's
    /// scope. No third party can verify it.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let dev = tower_bearer_issuer::DevIssuer::start().await.unwrap();
    /// let graph = dev.dialect(tower_bearer::jwt::Provider::Entra).graph_token("alice", "web");
    /// assert_eq!(graph.split('.').count(), 3);
    /// # });
    /// ```
    pub fn graph_token(&self, user: &str, client: &str) -> String {
        let (mut header, mut claims) = self.access_claims(user, client, "User.Read openid profile");
        header["nonce"] = json!(random_string(16).unwrap_or_default());
        claims["aud"] = json!(GRAPH_AUDIENCE);
        self.sign(&header, &claims)
    }

    /// Signs `header` and `claims` with the development issuer's key.
    ///
    /// See [`Dialect::access_claims`] for an example.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        self.dev.sign(header, claims)
    }
}

/// Adds `extra`'s members to `claims` (both objects), replacing same names.
fn merge(claims: &mut Value, extra: Value) {
    if let (Some(claims), Value::Object(extra)) = (claims.as_object_mut(), extra) {
        claims.extend(extra);
    }
}
