//! Refresh tokens that rotate: each is good for one exchange, which returns
//! the next one of its family; presenting a spent one revokes the whole family
//! (RFC 9700 §4.14.2), and no family outlives its absolute lifetime, counted
//! from the authorization that started it.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use super::keys::random_string;
use tower_bearer::__private::sha256;

/// At most this many families are kept; beyond it the expired ones go, then the
/// oldest.
const MAX_FAMILIES: usize = 10_000;

/// What a family of refresh tokens was authorized for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Grant {
    pub(super) subject: String,
    pub(super) client_id: String,
    pub(super) scope: String,
    pub(super) resources: Vec<String>,
    /// The DPoP key the tokens are bound to (RFC 9449 §5), if any.
    pub(super) jkt: Option<String>,
}

/// Why a refresh token was refused; each is `invalid_grant`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RefreshError {
    Unknown,
    /// A spent token came back: its family is revoked now.
    Reused,
    /// Its family was revoked (by a reuse, or a reused authorization code).
    Revoked,
    /// Past the family's absolute lifetime.
    Expired,
    /// Issued to another client.
    OtherClient,
    /// Bound to a DPoP key the request did not prove (RFC 9449 §5).
    OtherKey,
}

impl RefreshError {
    pub(super) fn description(self) -> &'static str {
        match self {
            RefreshError::Unknown => "unknown refresh token",
            RefreshError::Reused => "refresh token already used: its whole family is revoked",
            RefreshError::Revoked => "refresh token revoked",
            RefreshError::Expired => "refresh token past its absolute lifetime",
            RefreshError::OtherClient => "refresh token issued to another client",
            RefreshError::OtherKey => "refresh token bound to another DPoP key",
        }
    }
}

struct Family {
    grant: Grant,
    started: SystemTime,
    revoked: bool,
}

struct Entry {
    family: u64,
    spent: bool,
}

#[derive(Default)]
struct Families {
    /// By SHA-256 of the token: the raw token is never stored.
    tokens: HashMap<[u8; 32], Entry>,
    families: HashMap<u64, Family>,
    next: u64,
}

/// The issuer's refresh tokens.
pub(super) struct RefreshTokens {
    lifetime: Duration,
    state: Mutex<Families>,
}

impl RefreshTokens {
    pub(super) fn new(lifetime: Duration) -> Self {
        RefreshTokens {
            lifetime,
            state: Mutex::new(Families::default()),
        }
    }

    /// Starts a family for `grant`; returns its id and first token.
    pub(super) fn start(&self, grant: Grant) -> std::io::Result<(u64, String)> {
        let token = random_string(32)?;
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let now = SystemTime::now();
        if state.families.len() >= MAX_FAMILIES {
            self.prune(&mut state, now);
        }
        let family = state.next;
        state.next += 1;
        state.families.insert(
            family,
            Family {
                grant,
                started: now,
                revoked: false,
            },
        );
        state
            .tokens
            .insert(sha256(token.as_bytes()), Entry { family, spent: false });
        Ok((family, token))
    }

    /// Spends `token` for `client_id`, proving DPoP key `jkt` if any: the
    /// grant `narrow` makes of the family's (the access token's; the family keeps
    /// its own) and the family's next token. A request from another client,
    /// without the bound key, or that `narrow` refuses spends nothing.
    pub(super) fn rotate<E>(
        &self,
        token: &str,
        client_id: &str,
        jkt: Option<&str>,
        narrow: impl FnOnce(&Grant) -> Result<Grant, E>,
    ) -> Result<Result<(Grant, String), E>, RefreshError> {
        let next = random_string(32).map_err(|_| RefreshError::Unknown)?;
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let state = &mut *state;
        let entry = state
            .tokens
            .get_mut(&sha256(token.as_bytes()))
            .ok_or(RefreshError::Unknown)?;
        let family = state
            .families
            .get_mut(&entry.family)
            .ok_or(RefreshError::Unknown)?;
        if family.grant.client_id != client_id {
            return Err(RefreshError::OtherClient);
        }
        if family
            .grant
            .jkt
            .as_deref()
            .is_some_and(|bound| Some(bound) != jkt)
        {
            return Err(RefreshError::OtherKey);
        }
        if family.revoked {
            return Err(RefreshError::Revoked);
        }
        if entry.spent {
            family.revoked = true;
            return Err(RefreshError::Reused);
        }
        let expired = family
            .started
            .checked_add(self.lifetime)
            .is_none_or(|end| SystemTime::now() >= end);
        if expired {
            return Err(RefreshError::Expired);
        }
        let grant = match narrow(&family.grant) {
            Ok(grant) => grant,
            Err(refused) => return Ok(Err(refused)),
        };
        entry.spent = true;
        let id = entry.family;
        state.tokens.insert(
            sha256(next.as_bytes()),
            Entry {
                family: id,
                spent: false,
            },
        );
        Ok(Ok((grant, next)))
    }

    /// Revokes every token of `family`.
    pub(super) fn revoke(&self, family: u64) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(family) = state.families.get_mut(&family) {
            family.revoked = true;
        }
    }

    /// The family of refresh token `token` and the client it was issued to
    /// (for revocation, RFC 7009).
    pub(super) fn family_of(&self, token: &str) -> Option<(u64, String)> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = state.tokens.get(&sha256(token.as_bytes()))?;
        let family = state.families.get(&entry.family)?;
        Some((entry.family, family.grant.client_id.clone()))
    }

    /// The client `family` was issued to, and whether it is revoked.
    pub(super) fn family_state(&self, family: u64) -> Option<(String, bool)> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let family = state.families.get(&family)?;
        Some((family.grant.client_id.clone(), family.revoked))
    }

    /// Drops the families past their lifetime (and, if none is, the oldest),
    /// with their tokens.
    fn prune(&self, state: &mut Families, now: SystemTime) {
        let lifetime = self.lifetime;
        state
            .families
            .retain(|_, f| f.started.checked_add(lifetime).is_some_and(|end| end > now));
        if state.families.len() >= MAX_FAMILIES
            && let Some(oldest) = state
                .families
                .iter()
                .min_by_key(|(_, f)| f.started)
                .map(|(id, _)| *id)
        {
            state.families.remove(&oldest);
        }
        let families = &state.families;
        state
            .tokens
            .retain(|_, entry| families.contains_key(&entry.family));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(client: &str) -> Grant {
        Grant {
            subject: "alice".into(),
            client_id: client.into(),
            scope: "mcp:read".into(),
            resources: vec!["https://rs.example/mcp".into()],
            jkt: None,
        }
    }

    /// Rotates with the family's own grant.
    fn rotate(
        tokens: &RefreshTokens,
        token: &str,
        client: &str,
        jkt: Option<&str>,
    ) -> Result<(Grant, String), RefreshError> {
        tokens
            .rotate(token, client, jkt, |g| Ok::<_, ()>(g.clone()))
            .map(|r| r.unwrap())
    }

    #[test]
    fn rotation_is_single_use_and_reuse_revokes_the_family() {
        let tokens = RefreshTokens::new(Duration::from_secs(3600));
        let (_, first) = tokens.start(grant("app")).unwrap();
        let (got, second) = rotate(&tokens, &first, "app", None).unwrap();
        assert_eq!(got, grant("app"));
        let (_, third) = rotate(&tokens, &second, "app", None).unwrap();
        assert_eq!(
            rotate(&tokens, &first, "app", None).unwrap_err(),
            RefreshError::Reused
        );
        assert_eq!(
            rotate(&tokens, &third, "app", None).unwrap_err(),
            RefreshError::Revoked,
            "the family is gone"
        );
        assert_eq!(
            rotate(&tokens, "made-up", "app", None).unwrap_err(),
            RefreshError::Unknown
        );
    }

    #[test]
    fn other_clients_and_revoked_or_expired_families_are_refused() {
        let tokens = RefreshTokens::new(Duration::from_secs(3600));
        let (family, token) = tokens.start(grant("app")).unwrap();
        assert_eq!(
            rotate(&tokens, &token, "other", None).unwrap_err(),
            RefreshError::OtherClient
        );
        assert!(
            rotate(&tokens, &token, "app", None).is_ok(),
            "another client's attempt spends nothing"
        );
        let (_, other) = tokens.start(grant("app")).unwrap();
        tokens.revoke(family);
        assert!(rotate(&tokens, &other, "app", None).is_ok(), "only that family");
        let short = RefreshTokens::new(Duration::ZERO);
        let (_, token) = short.start(grant("app")).unwrap();
        assert_eq!(
            rotate(&short, &token, "app", None).unwrap_err(),
            RefreshError::Expired
        );
    }

    #[test]
    fn a_dpop_bound_family_needs_its_key_and_spends_nothing_without_it() {
        let tokens = RefreshTokens::new(Duration::from_secs(3600));
        let bound = Grant {
            jkt: Some("key-1".into()),
            ..grant("app")
        };
        let (_, token) = tokens.start(bound).unwrap();
        assert_eq!(
            rotate(&tokens, &token, "app", None).unwrap_err(),
            RefreshError::OtherKey
        );
        assert_eq!(
            rotate(&tokens, &token, "app", Some("key-2")).unwrap_err(),
            RefreshError::OtherKey
        );
        assert!(rotate(&tokens, &token, "app", Some("key-1")).is_ok());
    }

    #[test]
    fn a_refused_request_spends_nothing() {
        let tokens = RefreshTokens::new(Duration::from_secs(3600));
        let (_, token) = tokens.start(grant("app")).unwrap();
        assert_eq!(
            tokens.rotate(&token, "app", None, |_| Err::<Grant, _>("too wide")),
            Ok(Err("too wide"))
        );
        let narrowed = tokens.rotate(&token, "app", None, |g| {
            Ok::<_, ()>(Grant {
                scope: String::new(),
                ..g.clone()
            })
        });
        let (narrowed, next) = narrowed.unwrap().unwrap();
        assert_eq!(narrowed.scope, "");
        assert_eq!(
            rotate(&tokens, &next, "app", None).unwrap().0.scope,
            "mcp:read",
            "the family keeps its scope"
        );
    }

    #[test]
    fn bounded() {
        let tokens = RefreshTokens::new(Duration::from_secs(3600));
        let (_, first) = tokens.start(grant("app")).unwrap();
        for _ in 0..MAX_FAMILIES {
            tokens.start(grant("app")).unwrap();
        }
        let state = tokens.state.lock().unwrap();
        assert_eq!(state.families.len(), MAX_FAMILIES);
        assert_eq!(state.tokens.len(), MAX_FAMILIES);
        drop(state);
        assert_eq!(
            rotate(&tokens, &first, "app", None).unwrap_err(),
            RefreshError::Unknown,
            "the oldest went"
        );
    }
}
