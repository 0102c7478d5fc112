//! Finds the introspection endpoint in the issuer's metadata: RFC 8414
//! `/.well-known/oauth-authorization-server`, then OpenID Connect
//! `/.well-known/openid-configuration`.

use reqwest::Url;
use serde::Deserialize;

use super::BuildError;
use crate::fetch;

/// Largest metadata document read, in bytes.
const MAX_METADATA: usize = 256 * 1024;

#[derive(Deserialize)]
struct Metadata {
    issuer: String,
    introspection_endpoint: Option<String>,
}

/// The metadata URLs to try for `issuer`, in order.
fn metadata_urls(issuer: &Url) -> [Url; 2] {
    let path = issuer.path().trim_end_matches('/');
    let mut rfc8414 = issuer.clone();
    // RFC 8414 §3.1: the well-known segment goes between host and path.
    rfc8414.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
    let mut oidc = issuer.clone();
    oidc.set_path(&format!("{path}/.well-known/openid-configuration"));
    [rfc8414, oidc]
}

/// Fetches the issuer's metadata and returns its introspection endpoint. The
/// document's `issuer` must equal `issuer` exactly.
pub(super) async fn introspection_endpoint(http: &reqwest::Client, issuer: &str) -> Result<Url, BuildError> {
    let issuer_url = fetch::checked_url(issuer).map_err(BuildError::url("issuer"))?;
    let mut failures = Vec::new();
    for url in metadata_urls(&issuer_url) {
        match fetch::get_json::<Metadata>(http, &url, MAX_METADATA).await {
            Ok((_, metadata)) => {
                if metadata.issuer != issuer {
                    return Err(BuildError::IssuerMismatch {
                        expected: issuer.to_owned(),
                        found: metadata.issuer,
                    });
                }
                let endpoint = metadata
                    .introspection_endpoint
                    .ok_or(BuildError::NoIntrospectionEndpoint)?;
                return fetch::checked_url(&endpoint).map_err(BuildError::url("introspection endpoint"));
            }
            Err(e) => failures.push(format!("{url}: {e}")),
        }
    }
    Err(BuildError::Discovery(failures.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_urls_follow_rfc8414_and_oidc() {
        let urls = |i: &str| metadata_urls(&Url::parse(i).unwrap()).map(|u| u.to_string());
        assert_eq!(
            urls("https://as.example"),
            [
                "https://as.example/.well-known/oauth-authorization-server",
                "https://as.example/.well-known/openid-configuration"
            ]
        );
        assert_eq!(
            urls("https://as.example/tenant/1"),
            [
                "https://as.example/.well-known/oauth-authorization-server/tenant/1",
                "https://as.example/tenant/1/.well-known/openid-configuration"
            ]
        );
    }
}
