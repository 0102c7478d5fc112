//! Refresh tokens that rotate: each is good for one exchange, which returns
//! the next one of its family; presenting a spent one revokes the whole family
//! (RFC 9700 §4.14.2), and no family outlives its absolute lifetime, counted
//! from the authorization that started it.
//!
//! A client that refreshes twice at once (two requests that met the same
//! expired access token) presents the same token twice. Within the reuse grace
//! ([`DevIssuerBuilder::refresh_reuse_grace`](crate::DevIssuerBuilder::refresh_reuse_grace))
//! the second exchange gets the very answer of the first, the same access and
//! refresh tokens: no new branch of the family, no revocation. After the grace,
//! or once the successor itself was used, a spent token is a reuse again.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use super::keys::random_string;
use tower_bearer::__private::sha256;

/// At most this many families are kept; beyond it the expired ones go, then the
/// oldest.
const MAX_FAMILIES: usize = 10_000;

/// The reuse grace of a [`DevIssuer`](crate::DevIssuer) unless configured.
pub const DEFAULT_REUSE_GRACE: Duration = Duration::from_secs(5);

/// The longest reuse grace that can be configured.
pub const MAX_REUSE_GRACE: Duration = Duration::from_secs(10);

/// A refresh-token reuse grace over [`MAX_REUSE_GRACE`].
///
/// ```
/// use std::time::Duration;
/// use tower_bearer_issuer::DevIssuer;
/// let error = DevIssuer::builder().refresh_reuse_grace(Duration::from_secs(60)).unwrap_err();
/// assert_eq!(
///     error.to_string(),
///     "DevIssuerBuilder::refresh_reuse_grace: 60s is longer than the 10 s allowed"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("DevIssuerBuilder::refresh_reuse_grace: {grace:?} is longer than the 10 s allowed")]
pub struct ReuseGraceError {
    /// The grace asked for.
    pub grace: Duration,
}

/// Checks a reuse grace.
pub(super) fn reuse_grace(grace: Duration) -> Result<Duration, ReuseGraceError> {
    if grace > MAX_REUSE_GRACE {
        return Err(ReuseGraceError { grace });
    }
    Ok(grace)
}

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

/// What one exchange answered: given again, unchanged, to a retry within the
/// reuse grace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Rotated {
    /// The access token's grant.
    pub(super) grant: Grant,
    pub(super) access_token: String,
    pub(super) refresh_token: String,
}

struct Entry {
    family: u64,
    spent: Option<Spent>,
}

/// A token that was exchanged: when, for what, and (until the reuse grace is
/// over) the answer, so that a retry gets it again.
struct Spent {
    at: SystemTime,
    successor: [u8; 32],
    answer: Option<Arc<Rotated>>,
}

#[derive(Default)]
struct Families {
    /// By SHA-256 of the token: the raw token is never stored, but for the
    /// answer kept during the reuse grace.
    tokens: HashMap<[u8; 32], Entry>,
    families: HashMap<u64, Family>,
    /// The tokens spent within the reuse grace, oldest first: their answers
    /// are dropped once it is over.
    recent: VecDeque<[u8; 32]>,
    next: u64,
}

/// The issuer's refresh tokens.
pub(super) struct RefreshTokens {
    lifetime: Duration,
    grace: Duration,
    state: Mutex<Families>,
}

impl RefreshTokens {
    pub(super) fn new(lifetime: Duration, grace: Duration) -> Self {
        RefreshTokens {
            lifetime,
            grace,
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
            .insert(sha256(token.as_bytes()), Entry { family, spent: None });
        Ok((family, token))
    }

    /// Spends `token` for `client_id`, proving DPoP key `jkt` if any: the
    /// grant `narrow` makes of the family's (the access token's; the family keeps
    /// its own), the access token `mint` makes for it, and the family's next
    /// token. A request from another client, without the bound key, or that
    /// `narrow` refuses spends nothing. The same token again within the reuse
    /// grace, asking for the same grant while its successor is unused, gets the
    /// same answer; otherwise a spent token revokes its family.
    pub(super) fn rotate<E>(
        &self,
        token: &str,
        client_id: &str,
        jkt: Option<&str>,
        narrow: impl FnOnce(&Grant) -> Result<Grant, E>,
        mint: impl FnOnce(&Grant) -> String,
    ) -> Result<Result<Arc<Rotated>, E>, RefreshError> {
        let next = random_string(32).map_err(|_| RefreshError::Unknown)?;
        let now = SystemTime::now();
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let state = &mut *state;
        self.forget_answers(state, now);
        let hash = sha256(token.as_bytes());
        let entry = state.tokens.get(&hash).ok_or(RefreshError::Unknown)?;
        let id = entry.family;
        let retry = entry.spent.as_ref().map(|spent| {
            let successor_unused = state
                .tokens
                .get(&spent.successor)
                .is_some_and(|next| next.spent.is_none());
            spent.answer.clone().filter(|_| successor_unused)
        });
        let family = state.families.get_mut(&id).ok_or(RefreshError::Unknown)?;
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
        let expired = family
            .started
            .checked_add(self.lifetime)
            .is_none_or(|end| now >= end);
        if expired {
            return Err(RefreshError::Expired);
        }
        let grant = match narrow(&family.grant) {
            Ok(grant) => grant,
            Err(refused) if retry.is_none() => return Ok(Err(refused)),
            Err(_) => {
                family.revoked = true;
                return Err(RefreshError::Reused);
            }
        };
        match retry {
            None => {}
            Some(Some(answer)) if answer.grant == grant => return Ok(Ok(answer)),
            Some(_) => {
                family.revoked = true;
                return Err(RefreshError::Reused);
            }
        }
        let access_token = mint(&grant);
        let successor = sha256(next.as_bytes());
        let answer = Arc::new(Rotated {
            grant,
            access_token,
            refresh_token: next,
        });
        let kept = (!self.grace.is_zero()).then(|| answer.clone());
        if kept.is_some() {
            state.recent.push_back(hash);
        }
        state.tokens.insert(
            hash,
            Entry {
                family: id,
                spent: Some(Spent {
                    at: now,
                    successor,
                    answer: kept,
                }),
            },
        );
        state.tokens.insert(
            successor,
            Entry {
                family: id,
                spent: None,
            },
        );
        Ok(Ok(answer))
    }

    /// Drops the answers kept for retries whose reuse grace is over.
    fn forget_answers(&self, state: &mut Families, now: SystemTime) {
        while let Some(oldest) = state.recent.front() {
            let spent = state.tokens.get_mut(oldest).and_then(|e| e.spent.as_mut());
            match spent {
                Some(spent) if spent.at.checked_add(self.grace).is_some_and(|end| end > now) => break,
                Some(spent) => spent.answer = None,
                None => {}
            }
            state.recent.pop_front();
        }
    }

    /// Revokes every token of `family`.
    pub(super) fn revoke(&self, family: u64) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(family) = state.families.get_mut(&family) {
            family.revoked = true;
        }
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

    const DAY: Duration = Duration::from_secs(86_400);

    /// Tokens of families living a day, without reuse grace.
    fn strict() -> RefreshTokens {
        RefreshTokens::new(DAY, Duration::ZERO)
    }

    /// Rotates with the family's own grant (and an access token naming its scope).
    fn rotate(
        tokens: &RefreshTokens,
        token: &str,
        client: &str,
        jkt: Option<&str>,
    ) -> Result<(Grant, String), RefreshError> {
        rotated(tokens, token, client, jkt).map(|r| (r.grant.clone(), r.refresh_token.clone()))
    }

    fn rotated(
        tokens: &RefreshTokens,
        token: &str,
        client: &str,
        jkt: Option<&str>,
    ) -> Result<Arc<Rotated>, RefreshError> {
        tokens
            .rotate(
                token,
                client,
                jkt,
                |g| Ok::<_, ()>(g.clone()),
                |g| format!("at-{}-{}", g.scope, random_string(8).unwrap()),
            )
            .map(|r| r.unwrap())
    }

    /// The family's grant without its scope (a narrowed request).
    fn without_scope(granted: &Grant) -> Result<Grant, ()> {
        Ok(Grant {
            scope: String::new(),
            ..granted.clone()
        })
    }

    #[test]
    fn a_retry_within_the_grace_gets_the_same_answer() {
        let tokens = RefreshTokens::new(DAY, DEFAULT_REUSE_GRACE);
        let (_, first) = tokens.start(grant("app")).unwrap();
        let answer = rotated(&tokens, &first, "app", None).unwrap();
        let again = rotated(&tokens, &first, "app", None).unwrap();
        assert_eq!(again, answer, "same access and refresh token, no new branch");
        assert_eq!(
            tokens.state.lock().unwrap().tokens.len(),
            2,
            "first and its one successor"
        );
        // Another client or a narrower request is no retry: refused, or a reuse.
        assert_eq!(
            rotated(&tokens, &first, "other", None).unwrap_err(),
            RefreshError::OtherClient
        );
        // The successor works; once it is used, the first token is a reuse again.
        let (_, third) = rotate(&tokens, &answer.refresh_token, "app", None).unwrap();
        assert_eq!(
            rotate(&tokens, &first, "app", None).unwrap_err(),
            RefreshError::Reused
        );
        assert_eq!(
            rotate(&tokens, &third, "app", None).unwrap_err(),
            RefreshError::Revoked
        );
    }

    #[test]
    fn a_retry_asking_for_another_grant_is_a_reuse() {
        let tokens = RefreshTokens::new(DAY, DEFAULT_REUSE_GRACE);
        let (_, first) = tokens.start(grant("app")).unwrap();
        let answer = rotated(&tokens, &first, "app", None).unwrap();
        let narrower = tokens.rotate(&first, "app", None, without_scope, |_| {
            String::from("never minted")
        });
        assert_eq!(narrower.unwrap_err(), RefreshError::Reused);
        assert_eq!(
            rotate(&tokens, &answer.refresh_token, "app", None).unwrap_err(),
            RefreshError::Revoked
        );
    }

    #[test]
    fn after_the_grace_a_retry_is_a_reuse_and_no_answer_is_kept() {
        let tokens = RefreshTokens::new(DAY, Duration::from_millis(200));
        let (_, first) = tokens.start(grant("app")).unwrap();
        let answer = rotated(&tokens, &first, "app", None).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(
            rotate(&tokens, &first, "app", None).unwrap_err(),
            RefreshError::Reused
        );
        let state = tokens.state.lock().unwrap();
        assert!(state.recent.is_empty());
        assert!(
            state
                .tokens
                .values()
                .all(|e| e.spent.as_ref().is_none_or(|s| s.answer.is_none())),
            "the answer (raw tokens) is dropped once the grace is over"
        );
        drop(state);
        assert_eq!(
            rotate(&tokens, &answer.refresh_token, "app", None).unwrap_err(),
            RefreshError::Revoked
        );
    }

    #[test]
    fn the_grace_is_at_most_ten_seconds() {
        assert_eq!(reuse_grace(MAX_REUSE_GRACE), Ok(MAX_REUSE_GRACE));
        assert_eq!(reuse_grace(Duration::ZERO), Ok(Duration::ZERO));
        let long = MAX_REUSE_GRACE + Duration::from_millis(1);
        assert_eq!(reuse_grace(long), Err(ReuseGraceError { grace: long }));
    }

    #[test]
    fn rotation_is_single_use_and_reuse_revokes_the_family() {
        let tokens = strict();
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
        let tokens = strict();
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
        let short = RefreshTokens::new(Duration::ZERO, Duration::ZERO);
        let (_, token) = short.start(grant("app")).unwrap();
        assert_eq!(
            rotate(&short, &token, "app", None).unwrap_err(),
            RefreshError::Expired
        );
    }

    #[test]
    fn a_dpop_bound_family_needs_its_key_and_spends_nothing_without_it() {
        let tokens = strict();
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
        let tokens = strict();
        let (_, token) = tokens.start(grant("app")).unwrap();
        assert_eq!(
            tokens.rotate(
                &token,
                "app",
                None,
                |_| Err::<Grant, _>("too wide"),
                |_| String::new()
            ),
            Ok(Err("too wide"))
        );
        let narrowed = tokens.rotate(&token, "app", None, without_scope, |g| format!("at-{}", g.scope));
        let narrowed = narrowed.unwrap().unwrap();
        assert_eq!(narrowed.grant.scope, "");
        assert_eq!(narrowed.access_token, "at-", "minted for the narrowed grant");
        assert_eq!(
            rotate(&tokens, &narrowed.refresh_token, "app", None)
                .unwrap()
                .0
                .scope,
            "mcp:read",
            "the family keeps its scope"
        );
    }

    #[test]
    fn bounded() {
        let tokens = strict();
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
