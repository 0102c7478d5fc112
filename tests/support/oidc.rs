//! Starts the Node `oidc-provider` interop server (tests/interop/oidc/server.mjs)
//! on loopback. Self-contained: `scripts/setup-node.sh` installs what it needs,
//! and when the package registry cannot be reached the test fails, never a
//! silent pass (scripts/test.sh turns that into a reported skip outside CI).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::OnceCell;

/// How long to wait for the server's ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// Access token format of the resource.
#[derive(Clone, Copy, Debug)]
#[allow(dead_code)] // each test binary uses its own subset
pub enum TokenFormat {
    /// Opaque tokens, answered by introspection.
    Opaque,
    /// RFC 9068 `at+jwt` tokens with `aud` = the resource.
    Jwt,
}

/// DPoP (RFC 9449) at the authorization server: the server's `DPOP` variable.
#[derive(Clone, Copy, Debug)]
#[allow(dead_code)] // each test binary uses its own subset
pub enum AsDpop {
    /// `DPOP=1`: a token request with a DPoP proof gets a DPoP-bound token
    /// (`token_type` DPoP, `cnf.jkt` in the JWT and in introspection).
    On,
    /// `DPOP=nonce`: as [`AsDpop::On`], and the token endpoint demands its own
    /// DPoP nonces (`use_dpop_nonce` first).
    Nonces,
}

/// The endpoints printed by the server when ready.
#[derive(Debug, Deserialize)]
pub struct Endpoints {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub issuer: String,
    /// The token endpoint.
    pub token_endpoint: String,
    /// The RFC 7662 introspection endpoint.
    pub introspection_endpoint: String,
    /// The JWKS.
    #[allow(dead_code)] // for the JWT interop tests
    pub jwks_uri: String,
}

/// A running `oidc-provider`; killed when dropped.
pub struct OidcProvider {
    /// Where it answers.
    pub endpoints: Endpoints,
    _child: Child,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs scripts/setup-node.sh once per test binary. When the registry cannot be
/// reached (exit 3) the test fails: it never returns early and passes.
/// `scripts/test.sh` runs the same script first and, outside CI only, skips the
/// `interop_node_` tests with the reason, so they show as filtered out.
async fn setup() {
    static READY: OnceCell<()> = OnceCell::const_new();
    READY
        .get_or_init(|| async {
            let status = Command::new("bash")
                .arg(root().join("scripts/setup-node.sh"))
                .status()
                .await
                .expect("bash runs scripts/setup-node.sh");
            match status.code() {
                Some(0) => {}
                Some(3) => panic!(
                    "oidc-provider is not installed: the npm registry cannot be reached \
                     (scripts/setup-node.sh exit 3); scripts/test.sh skips these tests outside CI"
                ),
                _ => panic!("scripts/setup-node.sh failed: {status}"),
            }
        })
        .await;
}

#[allow(dead_code)] // each test binary uses its own subset
impl OidcProvider {
    /// Starts the server for `resource` with the default scopes
    /// ("mcp:read mcp:write"), installing Node packages first; panics when they
    /// cannot be installed (see `setup`).
    pub async fn start(test: &str, resource: &str, format: TokenFormat) -> Self {
        Self::start_with_env(test, resource, format, &[]).await
    }

    /// [`OidcProvider::start`] with DPoP on at the server (`DPOP=1` or
    /// `DPOP=nonce`).
    pub async fn start_dpop(test: &str, resource: &str, format: TokenFormat, dpop: AsDpop) -> Self {
        let value = match dpop {
            AsDpop::On => "1",
            AsDpop::Nonces => "nonce",
        };
        Self::start_with_env(test, resource, format, &[("DPOP", value)]).await
    }

    /// [`OidcProvider::start`] with extra environment variables for the server.
    async fn start_with_env(test: &str, resource: &str, format: TokenFormat, env: &[(&str, &str)]) -> Self {
        setup().await;
        eprintln!("{test}: starting oidc-provider");
        let format = match format {
            TokenFormat::Opaque => "opaque",
            TokenFormat::Jwt => "jwt",
        };
        let mut child = Command::new("node")
            .arg(root().join("tests/interop/oidc/server.mjs"))
            .env("PORT", "0")
            .env("RESOURCE", resource)
            .env("TOKEN_FORMAT", format)
            // Only what the caller asks for: never a `DPOP` from the test's environment.
            .env_remove("DPOP")
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("node starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let mut line = String::new();
        let read = tokio::time::timeout(READY_TIMEOUT, stdout.read_line(&mut line)).await;
        match read {
            Ok(Ok(n)) if n > 0 => {}
            other => panic!("oidc-provider did not print its ready line: {other:?}"),
        }
        // Keep the pipe open (and drained) for as long as the server lives.
        tokio::spawn(async move {
            let mut rest = String::new();
            while stdout.read_line(&mut rest).await.is_ok_and(|n| n > 0) {
                eprint!("oidc-provider: {rest}");
                rest.clear();
            }
        });
        let endpoints =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad ready line {line:?}: {e}"));
        OidcProvider {
            endpoints,
            _child: child,
        }
    }

    /// A client_credentials access token for `mcp-client` with `scope`.
    pub async fn client_credentials_token(&self, scope: &str) -> String {
        self.client_credentials_token_of(MCP_CLIENT, scope).await
    }

    /// A client-credentials token of `client` ([`MCP_CLIENT`] or [`OTHER_CLIENT`]).
    pub async fn client_credentials_token_of(&self, client: (&str, &str), scope: &str) -> String {
        #[derive(Deserialize)]
        struct TokenResponse {
            access_token: String,
        }
        let form = [("grant_type", "client_credentials"), ("scope", scope)];
        let response = post_as(client, &self.endpoints.token_endpoint, &form).await;
        response
            .json::<TokenResponse>()
            .await
            .expect("token response")
            .access_token
    }

    /// Revokes `token` (RFC 7009) as its client, `mcp-client`.
    pub async fn revoke(&self, token: &str) {
        let url = format!("{}/token/revocation", self.endpoints.issuer);
        post_as(MCP_CLIENT, &url, &[("token", token)]).await;
    }
}

/// The MCP client registered at the provider: (client_id, client_secret).
pub const MCP_CLIENT: (&str, &str) = ("mcp-client", "mcp-secret");
/// A second MCP client registered at the provider.
pub const OTHER_CLIENT: (&str, &str) = ("other-client", "other-secret");

/// POSTs `form` to `url` authenticated as `client`; panics unless 2xx.
async fn post_as((id, secret): (&str, &str), url: &str, form: &[(&str, &str)]) -> reqwest::Response {
    let response = reqwest::Client::new()
        .post(url)
        .basic_auth(id, Some(secret))
        .form(form)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{url} answers: {e}"));
    assert!(response.status().is_success(), "{url}: {}", response.status());
    response
}
