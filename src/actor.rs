//! Delegation claims of RFC 8693 §4: the actor chain (`act`) and the parties
//! allowed to act (`may_act`), read from a verified token's claims.
//!
//! A token obtained by token exchange names its current actor in `act`; an
//! actor that itself acted for someone nests the earlier actor inside
//! (`act.act`, …). Only the outermost actor is the one acting now: the nested
//! ones are history (RFC 8693 §4.1), shown for logs and audits.
//!
//! ```
//! use tower_bearer::{AccessToken, Principal};
//!
//! let claims = serde_json::json!({
//!     "sub": "alice",
//!     "act": { "sub": "mcp-server", "act": { "sub": "gateway" } },
//! });
//! let token = AccessToken::new(Principal::new().with_subject("alice"))
//!     .with_claims(claims.as_object().unwrap().clone());
//! let actor = token.actor().unwrap().expect("a delegated token");
//! assert_eq!(actor.subject(), Some("mcp-server"));
//! let chain: Vec<_> = actor.chain().filter_map(|a| a.subject()).collect();
//! assert_eq!(chain, ["mcp-server", "gateway"]);
//! ```

use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::Principal;

/// The deepest actor chain read: a longer one is refused
/// ([`ActorError::TooDeep`]), so reading a token's claims stays bounded.
pub const MAX_ACTOR_DEPTH: usize = 8;

/// A party in an RFC 8693 `act` chain or a `may_act` claim: the identity
/// claims of the actor (`sub`, `iss`, `client_id`) and, for `act`, the actor
/// before it.
///
/// ```
/// use tower_bearer::actor::Actor;
/// let claim = serde_json::json!({ "sub": "svc", "client_id": "svc-client" });
/// let actor = Actor::from_claim(&claim).unwrap();
/// assert_eq!(actor.client_id(), Some("svc-client"));
/// assert!(actor.prior().is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    #[serde(rename = "sub", skip_serializing_if = "Option::is_none")]
    subject: Option<Arc<str>>,
    #[serde(rename = "iss", skip_serializing_if = "Option::is_none")]
    issuer: Option<Arc<str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<Arc<str>>,
    #[serde(rename = "act", skip_serializing_if = "Option::is_none")]
    prior: Option<Box<Actor>>,
}

/// Why an `act` or `may_act` claim was refused: a token whose delegation
/// cannot be read is never taken for a direct one.
///
/// ```
/// use tower_bearer::actor::{Actor, ActorError};
/// assert_eq!(Actor::from_claim(&serde_json::json!("svc")), Err(ActorError::NotAnObject));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ActorError {
    /// The claim (or a nested `act`) is not a JSON object.
    #[error("the actor claim is not a JSON object")]
    NotAnObject,
    /// `sub`, `iss` or `client_id` of an actor is not a string.
    #[error("the actor's {0} is not a string")]
    NotAString(&'static str),
    /// The claim names no `sub`, `iss` or `client_id`: it identifies nobody.
    #[error("the actor claim identifies nobody")]
    Anonymous,
    /// More than [`MAX_ACTOR_DEPTH`] nested actors.
    #[error("the actor chain is deeper than {MAX_ACTOR_DEPTH}")]
    TooDeep,
}

impl Actor {
    /// Reads an `act` claim value, nested actors included.
    ///
    /// # Errors
    /// [`ActorError`] when the claim or a nested one is malformed, anonymous or
    /// deeper than [`MAX_ACTOR_DEPTH`].
    ///
    /// ```
    /// use tower_bearer::actor::{Actor, ActorError};
    /// let deep = (0..20).fold(serde_json::json!({"sub": "first"}), |inner, i| {
    ///     serde_json::json!({"sub": format!("a{i}"), "act": inner})
    /// });
    /// assert_eq!(Actor::from_claim(&deep), Err(ActorError::TooDeep));
    /// ```
    pub fn from_claim(value: &Value) -> Result<Actor, ActorError> {
        Self::read(value, MAX_ACTOR_DEPTH, true)
    }

    fn read(value: &Value, depth: usize, nested: bool) -> Result<Actor, ActorError> {
        let object = value.as_object().ok_or(ActorError::NotAnObject)?;
        let prior = match object.get("act") {
            Some(inner) if nested => {
                let depth = depth
                    .checked_sub(1)
                    .filter(|d| *d > 0)
                    .ok_or(ActorError::TooDeep)?;
                Some(Box::new(Self::read(inner, depth, true)?))
            }
            _ => None,
        };
        let actor = Actor {
            subject: string(object, "sub")?,
            issuer: string(object, "iss")?,
            client_id: string(object, "client_id")?,
            prior,
        };
        if actor.subject.is_none() && actor.issuer.is_none() && actor.client_id.is_none() {
            return Err(ActorError::Anonymous);
        }
        Ok(actor)
    }

    /// The actor's `sub`.
    ///
    /// See [`Actor`] for an example.
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// The actor's `iss`, when it names one.
    ///
    /// ```
    /// let a = tower_bearer::actor::Actor::from_claim(&serde_json::json!({"sub": "s", "iss": "https://as"})).unwrap();
    /// assert_eq!(a.issuer(), Some("https://as"));
    /// ```
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// The actor's `client_id`, when it names one.
    ///
    /// See [`Actor`] for an example.
    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    /// The actor that acted before this one (its nested `act`).
    ///
    /// See [`Actor`] for an example.
    pub fn prior(&self) -> Option<&Actor> {
        self.prior.as_deref()
    }

    /// This actor, then each earlier one, outermost first.
    ///
    /// See the [module docs](self) for an example.
    pub fn chain(&self) -> impl Iterator<Item = &Actor> + '_ {
        std::iter::successors(Some(self), |a| a.prior())
    }

    /// The actor as a [`Principal`] (its `client_id`, `iss` and `sub`).
    ///
    /// ```
    /// let a = tower_bearer::actor::Actor::from_claim(&serde_json::json!({"sub": "svc"})).unwrap();
    /// assert_eq!(a.principal().subject(), Some("svc"));
    /// ```
    pub fn principal(&self) -> Principal {
        let mut principal = Principal::new();
        if let Some(client_id) = &self.client_id {
            principal = principal.with_client_id(client_id.clone());
        }
        if let Some(issuer) = &self.issuer {
            principal = principal.with_issuer(issuer.clone());
        }
        if let Some(subject) = &self.subject {
            principal = principal.with_subject(subject.clone());
        }
        principal
    }
}

fn string(object: &Map<String, Value>, name: &'static str) -> Result<Option<Arc<str>>, ActorError> {
    match object.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(Arc::from(s.as_str()))),
        Some(_) => Err(ActorError::NotAString(name)),
    }
}

/// The `act` claim of `claims`.
pub(crate) fn act(claims: &Map<String, Value>) -> Result<Option<Actor>, ActorError> {
    claims.get("act").map(Actor::from_claim).transpose()
}

/// The `may_act` claim of `claims`: one party, a nested `act` in it ignored.
pub(crate) fn may_act(claims: &Map<String, Value>) -> Result<Option<Actor>, ActorError> {
    claims
        .get("may_act")
        .map(|value| Actor::read(value, 1, false))
        .transpose()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn chains_are_read_outermost_first_and_bounded() {
        let c = claims(json!({"act": {"sub": "b", "client_id": "cb", "act": {"sub": "a"}}}));
        let actor = act(&c).unwrap().unwrap();
        let subs: Vec<_> = actor.chain().map(|a| a.subject().unwrap()).collect();
        assert_eq!(subs, ["b", "a"]);
        assert_eq!(actor.client_id(), Some("cb"));
        assert_eq!(act(&claims(json!({}))).unwrap(), None);
        let mut nested = json!({"sub": "a0"});
        for i in 1..MAX_ACTOR_DEPTH {
            nested = json!({"sub": format!("a{i}"), "act": nested});
        }
        assert_eq!(
            Actor::from_claim(&nested).unwrap().chain().count(),
            MAX_ACTOR_DEPTH
        );
        let too_deep = json!({"sub": "x", "act": nested});
        assert_eq!(Actor::from_claim(&too_deep), Err(ActorError::TooDeep));
    }

    #[test]
    fn malformed_claims_are_errors_not_absent_actors() {
        for (bad, error) in [
            (json!({"act": "svc"}), ActorError::NotAnObject),
            (json!({"act": {"sub": 7}}), ActorError::NotAString("sub")),
            (json!({"act": {"sub": "b", "act": []}}), ActorError::NotAnObject),
            (json!({"act": {}}), ActorError::Anonymous),
            (
                json!({"act": {"sub": "b", "act": {"client_id": true}}}),
                ActorError::NotAString("client_id"),
            ),
        ] {
            assert_eq!(act(&claims(bad.clone())), Err(error), "{bad}");
        }
    }

    #[test]
    fn may_act_is_one_party() {
        let c = claims(json!({"may_act": {"sub": "svc", "act": {"sub": "ignored"}}}));
        let party = may_act(&c).unwrap().unwrap();
        assert_eq!(party.subject(), Some("svc"));
        assert!(party.prior().is_none());
        assert_eq!(
            may_act(&claims(json!({"may_act": 1}))),
            Err(ActorError::NotAnObject)
        );
        assert_eq!(
            serde_json::to_value(act(&claims(json!({"act": {"sub": "b", "act": {"sub": "a"}}}))).unwrap())
                .unwrap(),
            json!({"sub": "b", "act": {"sub": "a"}})
        );
    }
}
