//! Refusals explained to the operator: one `tracing` event per refused JWT,
//! with its fixed reason code ([`InvalidToken::reason`]), the configured
//! expectation, and a hint (the provider preset that would accept it, the
//! setting to change). At `debug`, raised to `warn` once a minute per reason.
//! Only the token's header `typ` is named from the token, never a claim value
//! or the token itself; the client still gets the fixed RFC 6750 description.

use super::claims::ClaimRules;
use super::profile::Provider;
use crate::InvalidToken;
use crate::refusal::log::warn_now;

/// Logs why a token was refused and gives the reason back.
pub(crate) fn refused(reason: InvalidToken, rules: Option<&ClaimRules>, typ: Option<&str>) -> InvalidToken {
    let (expected, hint) = explain(reason, rules, typ);
    let issuer = rules.map(|r| &*r.issuer);
    let profile = rules.map(|r| r.profile.name());
    // One event per refusal; its level is a constant in each arm.
    macro_rules! refused_event {
        ($level:expr, $message:literal) => {
            tracing::event!(
                $level,
                reason = reason.reason(),
                issuer,
                profile,
                typ,
                expected = expected.as_deref(),
                hint,
                $message
            )
        };
    }
    if warn_now(reason.reason()) {
        refused_event!(
            tracing::Level::WARN,
            "JWT refused (this reason is logged at debug for the next minute)"
        );
    } else {
        refused_event!(tracing::Level::DEBUG, "JWT refused");
    }
    reason
}

/// What the configuration expected, and what would help.
fn explain(
    reason: InvalidToken,
    rules: Option<&ClaimRules>,
    typ: Option<&str>,
) -> (Option<String>, Option<&'static str>) {
    let profile = rules.map(|r| &r.profile);
    match reason {
        InvalidToken::Type => {
            let expected = profile.map(|p| format!("typ {}", p.typ_policy()));
            (expected, presets_accepting(typ))
        }
        InvalidToken::IdToken => (
            None,
            Some("an OpenID Connect ID token was sent: the client must send its access token"),
        ),
        InvalidToken::NotAccessToken => (
            profile.map(ToString::to_string),
            Some("a JWT of this issuer that is not one of its access tokens (or the wrong provider preset)"),
        ),
        InvalidToken::FirstParty => (
            None,
            Some(
                "a token for a Microsoft API (e.g. Graph): request one for this API's scope, e.g. api://<API client id>/.default",
            ),
        ),
        InvalidToken::Audience => (
            rules.map(|r| format!("aud one of {:?}", r.audiences)),
            Some(
                "if the issuer puts another value naming this API in aud (a client ID, an App ID URI, api://default), accept it with accept_audience (quickstart: --accept-audience)",
            ),
        ),
        InvalidToken::AudienceMissing => (
            None,
            Some(
                "the issuer sends no aud (Amazon Cognito): list its app clients with allowed_client_ids (quickstart: --allowed-client-id)",
            ),
        ),
        InvalidToken::ClientNotAllowed => (
            rules.map(|r| format!("client one of {:?}", r.allowed_clients)),
            None,
        ),
        InvalidToken::Claims => (
            profile.map(ToString::to_string),
            Some("a required claim is missing or of the wrong type"),
        ),
        InvalidToken::Issuer => (
            rules.map(|r| format!("iss {:?}", &*r.issuer)),
            Some("issuers compare exactly, trailing slash included (Auth0 and Entra v1 end in '/')"),
        ),
        InvalidToken::UnknownKey => (
            None,
            Some(
                "kid not in the issuer's key set even after a refetch: a token of another issuer or tenant, or a key not yet published",
            ),
        ),
        _ => (None, None),
    }
}

/// The presets whose `typ` policy accepts `typ`.
fn presets_accepting(typ: Option<&str>) -> Option<&'static str> {
    let accepting: Vec<Provider> = Provider::ALL
        .into_iter()
        .filter(|p| p.profile().typ_policy().accepts(typ))
        .collect();
    // Fixed strings: the hint never carries a value from the token.
    Some(match accepting.as_slice() {
        [] => "no provider preset accepts this typ",
        [Provider::Rfc9068] => "the rfc9068 preset accepts it",
        [Provider::Okta] => "the okta preset accepts it (Profile::okta, --provider okta)",
        [Provider::Cognito] => {
            "the cognito preset accepts tokens without typ (Profile::cognito, --provider cognito)"
        }
        _ if accepting.contains(&Provider::Cognito) => {
            "typ JWT: the entra, entra-v1, auth0, cognito, keycloak, workos and hydra presets accept it (--provider NAME)"
        }
        _ => "the rfc9068, auth0, keycloak, workos and hydra presets accept it (--provider NAME)",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_name_the_presets_that_accept_a_typ() {
        let hint = |typ| presets_accepting(typ).unwrap();
        assert!(hint(Some("JWT")).contains("entra"), "{}", hint(Some("JWT")));
        assert!(hint(Some("application/okta-internal-at+jwt")).contains("okta"));
        assert!(hint(None).contains("cognito"));
        assert!(hint(Some("at+jwt")).contains("rfc9068"));
        assert_eq!(hint(Some("dpop+jwt")), "no provider preset accepts this typ");
    }
}
