//! A DPoP client (RFC 9449) for the quickstart, whose start-up text prints
//! this command with every value filled in:
//!
//! ```text
//! cargo run --example dpop_client -- --token-endpoint http://127.0.0.1:PORT/token \
//!     --client-id dev-client --client-secret SECRET \
//!     --resource http://127.0.0.1:7000/mcp --url http://127.0.0.1:7000/whoami
//! ```
//!
//! It generates a key pair, asks the token endpoint for a token bound to it
//! (client credentials, with a proof of the key), then GETs `--url` with
//! `Authorization: DPoP <token>` and a fresh proof (`htm`, `htu`, `ath`),
//! answering a `DPoP-Nonce` challenge once (`--dpop-nonce` servers), and
//! prints each answer.

use clap::Parser;
use serde_json::Value;
use tower_bearer_issuer::DpopKey;

/// Gets a DPoP-bound token and calls a protected URL with it.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// The authorization server's token endpoint.
    #[arg(long)]
    token_endpoint: String,
    /// The client id (client credentials grant).
    #[arg(long)]
    client_id: String,
    /// The client secret.
    #[arg(long)]
    client_secret: String,
    /// The resource the token is for (RFC 8707).
    #[arg(long)]
    resource: String,
    /// The scopes asked for.
    #[arg(long, default_value = "mcp:read")]
    scope: String,
    /// The protected URL to GET with the token.
    #[arg(long)]
    url: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let http = reqwest::Client::new();
    let key = DpopKey::generate();
    println!("DPoP key thumbprint (the token's cnf.jkt): {}", key.thumbprint());

    let answer: Value = http
        .post(&args.token_endpoint)
        .basic_auth(&args.client_id, Some(&args.client_secret))
        .header("dpop", key.proof("POST", &args.token_endpoint, None))
        .form(&[
            ("grant_type", "client_credentials"),
            ("resource", args.resource.as_str()),
            ("scope", args.scope.as_str()),
        ])
        .send()
        .await?
        .json()
        .await?;
    let Some(token) = answer["access_token"].as_str() else {
        return Err(format!("no token: {answer}").into());
    };
    println!("token_type: {}", answer["token_type"]);

    let call = |proof: String| {
        http.get(&args.url)
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", proof)
            .send()
    };
    let mut response = call(key.proof("GET", &args.url, Some(token))).await?;
    if let Some(nonce) = response
        .headers()
        .get("dpop-nonce")
        .filter(|_| response.status() == 401)
    {
        // RFC 9449 §9: the server wants its nonce in the proof.
        let nonce = nonce.to_str()?.to_owned();
        response = call(key.proof_with_nonce("GET", &args.url, Some(token), &nonce)).await?;
    }
    println!("GET {}: {}", args.url, response.status());
    println!("{}", response.text().await?);
    Ok(())
}
