//! `rust-peers`: one axum route, `GET /whoami`, behind one of three Rust resource-server crates,
//! for bench/rust-peers.sh. Each crate is configured the way its own README or guide shows, with
//! its defaults, against the same issuer, audience and JWKS URI:
//!
//! - `tower-bearer`: `JwtVerifier::builder().issuer().audience().jwks_uri().build()` and
//!   `TokenVerifierLayer` (README, "Use it with axum");
//! - `oauth-resource-server` 0.4.1: `OAuthConfig` → `resolve` → `OAuthValidator::new`,
//!   `spawn_background_refresh`, `static_token_policy(None, …)`, `AuthLayer::from_decision` as a
//!   `route_layer` (README, "Quickstart: axum"); `require_at_jwt: true` because the issuer emits
//!   `typ: at+jwt` (its README: "Turn it on if your server emits it"), no required scope;
//! - `huskarl-resource-server` 0.11.12: `Rfc9068Validator::builder().issuer().audience()
//!   .jwks_uri().jwks_source(ReqwestClient)` (guide "Validating RFC 9068 access tokens", 2b); it
//!   has no axum adapter (huskarl-axum is unreleased), so the middleware is the guide's steps 3–4:
//!   `validate_request` with the absolute external URI, `rejection(..).apply(..)`, echo a
//!   `DPoP-Nonce`;
//! - `none`: the same route without authentication (the baseline).
//!
//! The handler is the same for all: it reads the subject and client id from whichever crate's
//! verified token is in the request extensions.
//!
//!   rust-peers --crate tower-bearer|oauth-resource-server|huskarl|none --listen 127.0.0.1:PORT
//!              --issuer URL --audience AUD --jwks-uri URL
//!
//! Prints `ready http://ADDR` on stdout once it listens (and, for the crates that load keys at
//! start, once they are loaded).

use std::convert::Infallible;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use http::request::Parts;
use http::{HeaderValue, Uri};
use huskarl_reqwest::ReqwestClient;
use huskarl_resource_server::validator::ValidatedRequest;
use huskarl_resource_server::validator::metadata::ValidatorMetadata;
use huskarl_resource_server::validator::rfc9068::{Rfc9068AccessTokenClaims, Rfc9068Validator};
use oauth_resource_server::{AuthorizedToken, KeyNaming, OAuthConfig, OAuthValidator};
use serde::Serialize;
use tower_bearer::metadata::ProtectedResourceMetadata;
use tower_bearer::{AccessToken, TokenVerifierLayer, jwt::JwtVerifier};

type Error = Box<dyn std::error::Error + Send + Sync>;

struct Args {
    krate: String,
    listen: String,
    issuer: String,
    audience: String,
    jwks_uri: String,
}

fn args() -> Result<Args, Error> {
    let mut krate = None;
    let mut listen = "127.0.0.1:7000".to_owned();
    let (mut issuer, mut audience, mut jwks_uri) = (None, None, None);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--crate" => krate = Some(value()?),
            "--listen" => listen = value()?,
            "--issuer" => issuer = Some(value()?),
            "--audience" => audience = Some(value()?),
            "--jwks-uri" => jwks_uri = Some(value()?),
            _ => return Err(format!("unknown argument {flag}").into()),
        }
    }
    let krate = krate.ok_or("--crate tower-bearer|oauth-resource-server|huskarl|none")?;
    let need = |v: Option<String>, name: &str| v.ok_or_else(|| format!("{name} is required"));
    Ok(Args {
        audience: need(audience, "--audience")?,
        issuer: need(issuer, "--issuer")?,
        jwks_uri: need(jwks_uri, "--jwks-uri")?,
        krate,
        listen,
    })
}

/// The body of every 200: who the token says the caller is.
#[derive(Serialize)]
struct Who {
    sub: Option<String>,
    client_id: Option<String>,
}

/// The subject and client id of whichever crate's verified token the request carries.
impl<S: Send + Sync> FromRequestParts<S> for Who {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        let ext = &parts.extensions;
        let owned = |s: Option<&str>| s.map(str::to_owned);
        Ok(if let Some(t) = ext.get::<AccessToken>() {
            let p = t.principal();
            Who {
                sub: owned(p.subject()),
                client_id: owned(p.client_id()),
            }
        } else if let Some(t) = ext.get::<AuthorizedToken>() {
            Who {
                sub: t.subject.clone(),
                client_id: t.client_id.clone(),
            }
        } else if let Some(t) = ext.get::<HuskarlToken>() {
            Who {
                sub: t.sub.clone(),
                client_id: Some(t.claims.client_id.clone()),
            }
        } else {
            Who {
                sub: None,
                client_id: None,
            }
        })
    }
}

async fn whoami(who: Who) -> Json<Who> {
    Json(who)
}

/// Not `Clone`, so shared.
type HuskarlToken = Arc<ValidatedRequest<Rfc9068AccessTokenClaims>>;

struct Huskarl {
    validator: Rfc9068Validator,
    metadata: ValidatorMetadata,
    /// The public base URL: the guide asks for the absolute external target URI (DPoP `htu`).
    base: String,
}

/// The huskarl guide's steps 3 and 4 as an axum middleware.
async fn huskarl_auth(State(h): State<Arc<Huskarl>>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let Ok(uri) = format!("{}{path}", h.base).parse::<Uri>() else {
        return Response::builder().status(400).body(Body::empty()).unwrap();
    };
    let result = h
        .validator
        .validate_request(req.headers(), req.method(), &uri, None)
        .await;
    if let Some(rejection) = result.rejection(&h.metadata, None) {
        return rejection.apply(Response::builder()).body(Body::empty()).unwrap();
    }
    if let Ok(Some(validated)) = result.outcome {
        req.extensions_mut().insert::<HuskarlToken>(Arc::new(validated));
    }
    let mut res = next.run(req).await;
    if let Some(nonce) = result.dpop_nonce.and_then(|n| HeaderValue::try_from(n).ok()) {
        res.headers_mut().insert("dpop-nonce", nonce);
    }
    res
}

async fn app(a: &Args, base: &str) -> Result<Router, Error> {
    let route = || Router::new().route("/whoami", get(whoami));
    let healthz = Router::new().route("/healthz", get(|| async { "ok" }));
    let app = match a.krate.as_str() {
        "none" => route(),
        "tower-bearer" => {
            let verifier = JwtVerifier::builder()
                .issuer(&a.issuer)
                .audience(&a.audience)
                .jwks_uri(&a.jwks_uri)
                .build()?;
            let metadata = ProtectedResourceMetadata::new(&a.audience).authorization_server(&a.issuer);
            let mut app =
                route().layer(TokenVerifierLayer::new(verifier).resource_metadata(metadata.metadata_url()));
            for path in metadata.well_known_paths() {
                app = app.route_service(&path, metadata.service());
            }
            app
        }
        "oauth-resource-server" => {
            let config = OAuthConfig {
                enabled: true,
                issuer: a.issuer.clone(),
                jwks_uri: Some(a.jwks_uri.clone()),
                audience: a.audience.clone(),
                resource: a.audience.clone(),
                require_at_jwt: true,
                ..OAuthConfig::default()
            };
            let resolved = config
                .resolve(KeyNaming::Dotted("oauth"))?
                .ok_or("OAuth is enabled, so resolve returns Some")?;
            let oauth = Arc::new(OAuthValidator::new(&resolved)?);
            oauth.spawn_background_refresh();
            let decision = oauth_resource_server::static_token_policy(None, Some(&resolved), false)?;
            let auth = oauth_resource_server::axum::AuthLayer::from_decision(decision, Some(oauth.clone()))?;
            route()
                .route_layer(auth)
                .merge(oauth_resource_server::axum::metadata_router(Some(oauth)))
        }
        "huskarl" => {
            let http_client = ReqwestClient::builder().build().await?;
            let validator = Rfc9068Validator::builder()
                .issuer(&a.issuer)
                .audience(&a.audience)
                .jwks_uri(a.jwks_uri.parse()?)
                .jwks_source(http_client)
                // The same RFC 9728 metadata URL the other two advertise in their challenges.
                .resource_metadata(ProtectedResourceMetadata::new(&a.audience).metadata_url())
                .build()
                .await?;
            let metadata = validator.validator_metadata(Some(&a.audience));
            let state = Arc::new(Huskarl {
                validator,
                metadata,
                base: base.to_owned(),
            });
            route().route_layer(middleware::from_fn_with_state(state, huskarl_auth))
        }
        other => return Err(format!("unknown --crate {other}").into()),
    };
    Ok(app.merge(healthz))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let a = args()?;
    let listener = tokio::net::TcpListener::bind(&a.listen).await?;
    let base = format!("http://{}", listener.local_addr()?);
    let app = app(&a, &base).await?;
    println!("ready {base} ({})", a.krate);
    axum::serve(listener, app).await?;
    Ok(())
}
