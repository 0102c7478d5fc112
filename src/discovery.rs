//! Authorization server metadata discovery: RFC 8414, then OpenID Connect
//! Discovery 1.0. The document's `issuer` must equal the configured issuer
//! exactly (RFC 8414 §3.3), or the document is refused.

use serde::Deserialize;

use crate::fetch::{self, FetchError};

/// Largest metadata document read.
const MAX_METADATA_BYTES: usize = 64 * 1024;

/// The members of an authorization server's metadata this crate uses.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ServerMetadata {
    pub(crate) issuer: String,
    #[serde(default)]
    pub(crate) jwks_uri: Option<String>,
    #[serde(default)]
    pub(crate) introspection_endpoint: Option<String>,
    #[serde(default)]
    pub(crate) token_endpoint: Option<String>,
    /// RFC 8414 §2; absent means `authorization_code` and `implicit`.
    #[serde(default)]
    pub(crate) grant_types_supported: Option<Vec<String>>,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum DiscoveryError {
    #[error("metadata for issuer {issuer}: {error}")]
    Fetch { issuer: String, error: FetchError },
    #[error("metadata document names issuer {found:?}, expected {expected:?}")]
    IssuerMismatch { expected: String, found: String },
}

/// The RFC 8414 §3.1 URL: the well-known segment goes between host and path.
fn rfc8414_url(issuer: &str) -> Result<reqwest::Url, FetchError> {
    let mut url = fetch::checked_url(issuer)?;
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
    Ok(url)
}

/// The OIDC Discovery §4 URL: the well-known segment is appended to the issuer.
fn oidc_url(issuer: &str) -> Result<reqwest::Url, FetchError> {
    let mut url = fetch::checked_url(issuer)?;
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&format!("{path}/.well-known/openid-configuration"));
    Ok(url)
}

/// Fetches the issuer's metadata: RFC 8414 first, OIDC when that fails.
pub(crate) async fn discover(
    client: &reqwest::Client,
    issuer: &str,
) -> Result<ServerMetadata, DiscoveryError> {
    let fetch_err = |error| DiscoveryError::Fetch {
        issuer: issuer.to_owned(),
        error,
    };
    let first = match rfc8414_url(issuer) {
        Ok(url) => fetch::get_json::<ServerMetadata>(client, &url, MAX_METADATA_BYTES).await,
        Err(e) => return Err(fetch_err(e)),
    };
    let metadata = match first {
        Ok((_, metadata)) => metadata,
        Err(rfc8414_error) => {
            tracing::debug!(%issuer, error = %rfc8414_error, "RFC 8414 metadata unavailable, trying OIDC discovery");
            let url = oidc_url(issuer).map_err(fetch_err)?;
            fetch::get_json::<ServerMetadata>(client, &url, MAX_METADATA_BYTES)
                .await
                .map_err(fetch_err)?
                .1
        }
    };
    if metadata.issuer != issuer {
        return Err(DiscoveryError::IssuerMismatch {
            expected: issuer.to_owned(),
            found: metadata.issuer,
        });
    }
    Ok(metadata)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_urls() {
        assert_eq!(
            rfc8414_url("https://as.example").unwrap().as_str(),
            "https://as.example/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            rfc8414_url("https://as.example/tenant/1").unwrap().as_str(),
            "https://as.example/.well-known/oauth-authorization-server/tenant/1"
        );
        assert_eq!(
            oidc_url("https://as.example/tenant/1").unwrap().as_str(),
            "https://as.example/tenant/1/.well-known/openid-configuration"
        );
        assert!(rfc8414_url("http://as.example").is_err());
    }
}
