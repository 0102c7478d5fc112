//! Who a token speaks for: [`Principal`], [`Scopes`] and the verified [`AccessToken`].

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// The identity a verified token speaks for: the triple *(client_id, issuer, subject)*.
///
/// A verifier fills in the components it knows and leaves the others absent.
/// [`Principal::same_owner`] is the single answer to "is this the same caller":
/// MCP session ownership and request-state binding compare principals with it.
///
/// ```
/// use tower_bearer::Principal;
///
/// let alice = Principal::new()
///     .with_issuer("https://as.example")
///     .with_subject("alice")
///     .with_client_id("app");
/// let same = Principal::new().with_issuer("https://as.example").with_subject("alice");
/// let bob = Principal::new().with_issuer("https://as.example").with_subject("bob");
/// assert!(alice.same_owner(&same));
/// assert!(!alice.same_owner(&bob));
/// // No component in common: never the same owner.
/// assert!(!Principal::new().same_owner(&Principal::new()));
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Principal {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    client_id: Option<Arc<str>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    issuer: Option<Arc<str>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    subject: Option<Arc<str>>,
}

impl Principal {
    /// A principal with no component.
    ///
    /// ```
    /// let p = tower_bearer::Principal::new();
    /// assert!(p.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the OAuth client the token was issued to.
    ///
    /// ```
    /// let p = tower_bearer::Principal::new().with_client_id("app");
    /// assert_eq!(p.client_id(), Some("app"));
    /// ```
    #[must_use]
    pub fn with_client_id(mut self, client_id: impl Into<Arc<str>>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// Sets the issuer (authorization server) that vouches for the token.
    ///
    /// ```
    /// let p = tower_bearer::Principal::new().with_issuer("https://as.example");
    /// assert_eq!(p.issuer(), Some("https://as.example"));
    /// ```
    #[must_use]
    pub fn with_issuer(mut self, issuer: impl Into<Arc<str>>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Sets the subject (resource owner, or the client itself for client credentials).
    ///
    /// ```
    /// let p = tower_bearer::Principal::new().with_subject("alice");
    /// assert_eq!(p.subject(), Some("alice"));
    /// ```
    #[must_use]
    pub fn with_subject(mut self, subject: impl Into<Arc<str>>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// The OAuth client id, if the verifier supplied one.
    ///
    /// ```
    /// assert_eq!(tower_bearer::Principal::new().client_id(), None);
    /// ```
    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    /// The issuer, if the verifier supplied one.
    ///
    /// ```
    /// assert_eq!(tower_bearer::Principal::new().issuer(), None);
    /// ```
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// The subject, if the verifier supplied one.
    ///
    /// ```
    /// assert_eq!(tower_bearer::Principal::new().subject(), None);
    /// ```
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// True when no component is present.
    ///
    /// ```
    /// assert!(!tower_bearer::Principal::new().with_subject("s").is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.client_id.is_none() && self.issuer.is_none() && self.subject.is_none()
    }

    /// Whether `self` and `other` are the same owner.
    ///
    /// Compares the components both sides supply; a component missing on either
    /// side is skipped. Any differing shared component means "not the same
    /// owner", and so does having no component in common.
    ///
    /// ```
    /// use tower_bearer::Principal;
    /// let a = Principal::new().with_client_id("app").with_subject("alice");
    /// let b = Principal::new().with_client_id("app");
    /// assert!(a.same_owner(&b)); // only client_id is shared, and it matches
    /// let c = Principal::new().with_issuer("https://as.example");
    /// assert!(!a.same_owner(&c)); // nothing in common
    /// ```
    pub fn same_owner(&self, other: &Principal) -> bool {
        let pairs = [
            (&self.client_id, &other.client_id),
            (&self.issuer, &other.issuer),
            (&self.subject, &other.subject),
        ];
        let mut shared = 0;
        for pair in pairs {
            if let (Some(a), Some(b)) = pair {
                if a != b {
                    return false;
                }
                shared += 1;
            }
        }
        shared > 0
    }
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Principal")
            .field("client_id", &self.client_id())
            .field("issuer", &self.issuer())
            .field("subject", &self.subject())
            .finish()
    }
}

/// A set of OAuth scopes (RFC 6749 §3.3), kept sorted and without duplicates.
///
/// ```
/// use tower_bearer::Scopes;
/// let scopes = Scopes::parse("mcp:write mcp:read mcp:read");
/// assert!(scopes.contains("mcp:read"));
/// assert_eq!(scopes.len(), 2);
/// assert_eq!(scopes.to_string(), "mcp:read mcp:write");
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Scopes {
    /// The scopes, sorted, each once, joined by single spaces (a scope token
    /// has no space, RFC 6749 §3.3): one allocation, shared by clones; `None`
    /// when empty.
    joined: Option<Arc<str>>,
    len: usize,
}

impl Scopes {
    /// `offline_access` (OpenID Connect Core §11): asks the authorization
    /// server for a refresh token. It grants nothing at a resource server, so
    /// this crate never names it in a challenge or in metadata, and a route
    /// cannot require it.
    ///
    /// ```
    /// use tower_bearer::Scopes;
    /// assert!(Scopes::parse("mcp:read offline_access").contains(Scopes::OFFLINE_ACCESS));
    /// ```
    pub const OFFLINE_ACCESS: &'static str = "offline_access";

    /// Whether `scope` is an RFC 6749 §3.3 `scope-token`:
    /// `1*( %x21 / %x23-5B / %x5D-7E )`.
    pub(crate) fn is_scope_token(scope: &str) -> bool {
        !scope.is_empty()
            && scope
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
    }

    /// The first scope that is not a `scope-token`, if any.
    pub(crate) fn first_invalid(&self) -> Option<&str> {
        self.iter().find(|s| !Self::is_scope_token(s))
    }

    /// The scopes a challenge may name or metadata may advertise: every
    /// `scope-token` but [`OFFLINE_ACCESS`](Self::OFFLINE_ACCESS), in order.
    pub(crate) fn challengeable(&self) -> impl Iterator<Item = &str> + '_ {
        self.iter()
            .filter(|s| *s != Self::OFFLINE_ACCESS && Self::is_scope_token(s))
    }

    /// Parses a space-delimited scope string; empty items are skipped.
    ///
    /// ```
    /// assert!(tower_bearer::Scopes::parse("  ").is_empty());
    /// ```
    pub fn parse(s: &str) -> Self {
        // Already sorted, each once, single spaces (as most servers send it):
        // kept as it is.
        let mut items = s.split(' ');
        let mut previous = items.next().filter(|first| !first.is_empty());
        let mut len = usize::from(previous.is_some());
        for item in items {
            if previous.is_none_or(|p| p >= item) {
                return Self::from_unsorted(s.split(' ').collect());
            }
            previous = Some(item);
            len += 1;
        }
        Scopes {
            joined: (len > 0).then(|| Arc::from(s)),
            len,
        }
    }

    /// Builds the set from items that may be unsorted, repeated or empty.
    fn from_unsorted(mut items: Vec<&str>) -> Self {
        items.retain(|s| !s.is_empty());
        items.sort_unstable();
        items.dedup();
        Scopes {
            joined: (!items.is_empty()).then(|| Arc::from(items.join(" "))),
            len: items.len(),
        }
    }

    /// Whether `scope` is in the set.
    ///
    /// ```
    /// assert!(tower_bearer::Scopes::parse("a b").contains("b"));
    /// ```
    pub fn contains(&self, scope: &str) -> bool {
        // Sorted: stop at the first scope past `scope`.
        self.iter().take_while(|s| *s <= scope).any(|s| s == scope)
    }

    /// Whether every scope of `required` is in the set.
    ///
    /// ```
    /// use tower_bearer::Scopes;
    /// assert!(Scopes::parse("a b c").contains_all(&Scopes::parse("a c")));
    /// ```
    pub fn contains_all(&self, required: &Scopes) -> bool {
        // Both sorted: one pass over each.
        let mut have = self.iter();
        required.iter().all(|needed| have.any(|s| s == needed))
    }

    /// The scopes, in sorted order.
    ///
    /// ```
    /// let s = tower_bearer::Scopes::parse("b a");
    /// assert_eq!(s.iter().collect::<Vec<_>>(), ["a", "b"]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        self.joined.as_deref().into_iter().flat_map(|j| j.split(' '))
    }

    /// Number of scopes.
    ///
    /// ```
    /// assert_eq!(tower_bearer::Scopes::parse("a").len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the set is empty.
    ///
    /// ```
    /// assert!(tower_bearer::Scopes::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Collects scopes; an item with spaces is split at them, as
/// [`Scopes::parse`] splits, and empty items are skipped.
///
/// ```
/// use tower_bearer::Scopes;
/// let s: Scopes = ["b", "a c", "", "a"].into_iter().collect();
/// assert_eq!(s.to_string(), "a b c");
/// ```
impl<S: AsRef<str>> FromIterator<S> for Scopes {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        let owned: Vec<S> = iter.into_iter().collect();
        Self::from_unsorted(owned.iter().flat_map(|s| s.as_ref().split(' ')).collect())
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.joined.as_deref().unwrap_or_default())
    }
}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl Serialize for Scopes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

/// How a token was verified.
///
/// ```
/// use tower_bearer::{AccessToken, Principal, TokenSource};
/// let t = AccessToken::new(Principal::new()).with_source(TokenSource::Introspection);
/// assert_eq!(t.source(), TokenSource::Introspection);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TokenSource {
    /// A JWT verified locally against the issuer's keys.
    Jwt,
    /// An opaque token checked by RFC 7662 introspection.
    Introspection,
    /// A user-supplied verifier.
    #[default]
    Custom,
}

/// A verified access token: who it speaks for, what it allows, until when.
///
/// The [`TokenVerifierLayer`](crate::TokenVerifierLayer) inserts it (and its
/// [`Principal`]) into the request extensions. It never holds the raw token.
/// Cloning is cheap (one reference count).
///
/// ```
/// use tower_bearer::{AccessToken, Principal, Scopes};
/// let token = AccessToken::new(Principal::new().with_subject("alice"))
///     .with_scopes(Scopes::parse("mcp:read"))
///     .with_audience(vec!["https://api.example/mcp".into()]);
/// assert!(token.scopes().contains("mcp:read"));
/// assert_eq!(token.principal().subject(), Some("alice"));
/// ```
#[derive(Clone)]
pub struct AccessToken(Arc<Inner>);

#[derive(Clone, Default)]
struct Inner {
    principal: Principal,
    scopes: Scopes,
    expires_at: Option<SystemTime>,
    audience: Vec<String>,
    claims: Claims,
    source: TokenSource,
    dpop_jkt: Option<Arc<str>>,
}

/// The raw claims, parsed on first use: a JWT's payload is checked without
/// building this map, and most handlers never read it.
#[derive(Clone, Default)]
pub struct Claims {
    json: Option<Vec<u8>>,
    parsed: OnceLock<serde_json::Map<String, serde_json::Value>>,
}

impl Claims {
    /// Claims from a JSON object already checked by a verifier.
    pub fn from_json(json: Vec<u8>) -> Self {
        Claims {
            json: Some(json),
            parsed: OnceLock::new(),
        }
    }

    /// The claims, parsed on the first call.
    pub fn map(&self) -> &serde_json::Map<String, serde_json::Value> {
        self.parsed.get_or_init(|| {
            // The verifier checked it is a JSON object before accepting the token.
            self.json
                .as_deref()
                .and_then(|json| serde_json::from_slice(json).ok())
                .unwrap_or_default()
        })
    }
}

impl AccessToken {
    /// A token for `principal` with no scopes, expiry, audience or claims.
    ///
    /// ```
    /// let t = tower_bearer::AccessToken::new(tower_bearer::Principal::new());
    /// assert!(t.scopes().is_empty());
    /// ```
    pub fn new(principal: Principal) -> Self {
        AccessToken(Arc::new(Inner {
            principal,
            ..Inner::default()
        }))
    }

    /// Sets the granted scopes.
    ///
    /// ```
    /// use tower_bearer::{AccessToken, Principal, Scopes};
    /// let t = AccessToken::new(Principal::new()).with_scopes(Scopes::parse("a"));
    /// assert!(t.scopes().contains("a"));
    /// ```
    #[must_use]
    pub fn with_scopes(mut self, scopes: Scopes) -> Self {
        self.make_unique().scopes = scopes;
        self
    }

    /// Sets the expiry.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use tower_bearer::{AccessToken, Principal};
    /// let at = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000);
    /// let t = AccessToken::new(Principal::new()).with_expires_at(at);
    /// assert_eq!(t.expires_at(), Some(at));
    /// ```
    #[must_use]
    pub fn with_expires_at(mut self, at: SystemTime) -> Self {
        self.make_unique().expires_at = Some(at);
        self
    }

    /// Sets the audiences the token is intended for.
    ///
    /// ```
    /// use tower_bearer::{AccessToken, Principal};
    /// let t = AccessToken::new(Principal::new()).with_audience(vec!["https://r".into()]);
    /// assert_eq!(t.audience(), ["https://r"]);
    /// ```
    #[must_use]
    pub fn with_audience(mut self, audience: Vec<String>) -> Self {
        self.make_unique().audience = audience;
        self
    }

    /// Sets the raw claims (JWT payload or introspection response).
    ///
    /// ```
    /// use tower_bearer::{AccessToken, Principal};
    /// let mut claims = serde_json::Map::new();
    /// claims.insert("tenant".into(), "acme".into());
    /// let t = AccessToken::new(Principal::new()).with_claims(claims);
    /// assert_eq!(t.claims()["tenant"], "acme");
    /// ```
    #[must_use]
    pub fn with_claims(mut self, claims: serde_json::Map<String, serde_json::Value>) -> Self {
        self.make_unique().claims = Claims {
            json: None,
            parsed: OnceLock::from(claims),
        };
        self
    }

    /// Sets the raw claims from a JSON object already checked by the verifier
    /// (parsed on first call to [`AccessToken::claims`]).
    #[must_use]
    pub(crate) fn with_claims_json(mut self, json: Vec<u8>) -> Self {
        self.make_unique().claims = Claims::from_json(json);
        self
    }

    /// Sets how the token was verified.
    ///
    /// ```
    /// use tower_bearer::{AccessToken, Principal, TokenSource};
    /// let t = AccessToken::new(Principal::new()).with_source(TokenSource::Jwt);
    /// assert_eq!(t.source(), TokenSource::Jwt);
    /// ```
    #[must_use]
    pub fn with_source(mut self, source: TokenSource) -> Self {
        self.make_unique().source = source;
        self
    }

    /// Binds the token to a DPoP key: `jkt` is the key's RFC 7638 SHA-256
    /// thumbprint, the token's `cnf.jkt` (RFC 9449 §6). A bound token is only
    /// accepted with a DPoP proof signed by that key.
    ///
    /// ```
    /// use tower_bearer::{AccessToken, Principal};
    /// let t = AccessToken::new(Principal::new()).with_dpop_jkt("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I");
    /// assert_eq!(t.dpop_jkt(), Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"));
    /// ```
    #[must_use]
    pub fn with_dpop_jkt(mut self, jkt: impl Into<Arc<str>>) -> Self {
        self.make_unique().dpop_jkt = Some(jkt.into());
        self
    }

    /// The thumbprint of the DPoP key the token is bound to (`cnf.jkt`), or
    /// `None` for a bearer token.
    ///
    /// [`TokenVerifierLayer`](crate::TokenVerifierLayer) enforces the binding: a
    /// bound token needs `Authorization: DPoP` and a proof by that key. Code that
    /// calls a verifier directly must check it itself (see [`dpop`](crate::dpop)).
    ///
    /// ```
    /// use tower_bearer::{AccessToken, Principal};
    /// assert_eq!(AccessToken::new(Principal::new()).dpop_jkt(), None);
    /// ```
    pub fn dpop_jkt(&self) -> Option<&str> {
        self.0.dpop_jkt.as_deref()
    }

    fn make_unique(&mut self) -> &mut Inner {
        Arc::make_mut(&mut self.0)
    }

    /// Who the token speaks for.
    ///
    /// ```
    /// use tower_bearer::{AccessToken, Principal};
    /// let t = AccessToken::new(Principal::new().with_client_id("c"));
    /// assert_eq!(t.principal().client_id(), Some("c"));
    /// ```
    pub fn principal(&self) -> &Principal {
        &self.0.principal
    }

    /// The granted scopes.
    ///
    /// ```
    /// let t = tower_bearer::AccessToken::new(tower_bearer::Principal::new());
    /// assert!(t.scopes().is_empty());
    /// ```
    pub fn scopes(&self) -> &Scopes {
        &self.0.scopes
    }

    /// When the token expires, if known.
    ///
    /// ```
    /// let t = tower_bearer::AccessToken::new(tower_bearer::Principal::new());
    /// assert!(t.expires_at().is_none());
    /// ```
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.0.expires_at
    }

    /// The audiences the token is intended for.
    ///
    /// ```
    /// let t = tower_bearer::AccessToken::new(tower_bearer::Principal::new());
    /// assert!(t.audience().is_empty());
    /// ```
    pub fn audience(&self) -> &[String] {
        &self.0.audience
    }

    /// The raw claims (JWT payload or introspection response), already verified.
    ///
    /// ```
    /// let t = tower_bearer::AccessToken::new(tower_bearer::Principal::new());
    /// assert!(t.claims().is_empty());
    /// ```
    pub fn claims(&self) -> &serde_json::Map<String, serde_json::Value> {
        self.0.claims.map()
    }

    /// The RFC 8693 actor chain (`act` claim): who acts for the subject, then
    /// who acted before, outermost first; `None` for a token used by its
    /// subject's own client. Read from the verified claims on each call.
    ///
    /// # Errors
    /// [`ActorError`](crate::actor::ActorError) when the claim is present but
    /// malformed: a delegated token is never mistaken for a direct one.
    ///
    /// See the [`actor`](crate::actor) module for an example.
    pub fn actor(&self) -> Result<Option<crate::actor::Actor>, crate::actor::ActorError> {
        crate::actor::act(self.claims())
    }

    /// The RFC 8693 `may_act` claim: the party allowed to act for the subject.
    ///
    /// # Errors
    /// [`ActorError`](crate::actor::ActorError) when the claim is present but
    /// malformed.
    ///
    /// ```
    /// use tower_bearer::{AccessToken, Principal};
    /// let claims = serde_json::json!({"may_act": {"sub": "mcp-server"}});
    /// let t = AccessToken::new(Principal::new()).with_claims(claims.as_object().unwrap().clone());
    /// assert_eq!(t.may_act().unwrap().unwrap().subject(), Some("mcp-server"));
    /// ```
    pub fn may_act(&self) -> Result<Option<crate::actor::Actor>, crate::actor::ActorError> {
        crate::actor::may_act(self.claims())
    }

    /// How the token was verified.
    ///
    /// ```
    /// let t = tower_bearer::AccessToken::new(tower_bearer::Principal::new());
    /// assert_eq!(t.source(), tower_bearer::TokenSource::Custom);
    /// ```
    pub fn source(&self) -> TokenSource {
        self.0.source
    }

    /// Whether the token has expired at `now` allowing `leeway` for clock skew
    /// (false when no expiry is known), by the same rule the verifiers apply
    /// (they use a 60 s leeway unless configured otherwise). The layers never
    /// ask: the verifier's verdict on time is the only one, so a token accepted
    /// inside its leeway is not refused later on. This is for work that
    /// outlives the request, such as deciding whether a stored token is still
    /// worth using: pass the leeway your verifier was built with, or zero for
    /// "is it still valid by the issuer's own clock".
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use tower_bearer::{AccessToken, Principal};
    /// let exp = SystemTime::now() - Duration::from_secs(10);
    /// let t = AccessToken::new(Principal::new()).with_expires_at(exp);
    /// assert!(t.is_expired_at(SystemTime::now(), Duration::ZERO));
    /// assert!(!t.is_expired_at(SystemTime::now(), Duration::from_secs(60)), "inside the leeway");
    /// ```
    pub fn is_expired_at(&self, now: SystemTime, leeway: Duration) -> bool {
        self.0
            .expires_at
            .is_some_and(|exp| crate::time::is_expired(exp, leeway, now))
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("principal", &self.0.principal)
            .field("scopes", &self.0.scopes)
            .field("expires_at", &self.0.expires_at)
            .field("audience", &self.0.audience)
            .field("source", &self.0.source)
            .field("dpop_jkt", &self.0.dpop_jkt)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_token_grammar_for_every_byte() {
        for b in 0..=255u8 {
            let expected = b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b);
            let token = [b'a', b];
            let token = std::str::from_utf8(&token).unwrap_or("\u{80}");
            assert_eq!(Scopes::is_scope_token(token), expected, "byte {b}");
        }
        assert!(!Scopes::is_scope_token(""));
        assert_eq!(Scopes::parse("a b\\ c\"").first_invalid(), Some("b\\"));
        assert_eq!(Scopes::parse("a b").first_invalid(), None);
    }

    #[test]
    fn challengeable_scopes_leave_out_offline_access_and_non_tokens() {
        let scopes = Scopes::parse("mcp:write offline_access a\\b mcp:read");
        assert_eq!(
            scopes.challengeable().collect::<Vec<_>>(),
            ["mcp:read", "mcp:write"]
        );
    }

    fn p(c: Option<&str>, i: Option<&str>, s: Option<&str>) -> Principal {
        let mut p = Principal::new();
        if let Some(c) = c {
            p = p.with_client_id(c);
        }
        if let Some(i) = i {
            p = p.with_issuer(i);
        }
        if let Some(s) = s {
            p = p.with_subject(s);
        }
        p
    }

    #[test]
    fn same_owner_uses_shared_components_only() {
        let full = p(Some("c"), Some("i"), Some("s"));
        assert!(full.same_owner(&full.clone()));
        assert!(full.same_owner(&p(None, Some("i"), Some("s"))));
        assert!(full.same_owner(&p(Some("c"), None, None)));
        assert!(!full.same_owner(&p(Some("c"), Some("i"), Some("other"))));
        assert!(!full.same_owner(&p(Some("other"), Some("i"), Some("s"))));
        assert!(!full.same_owner(&p(None, Some("other"), None)));
    }

    #[test]
    fn nothing_in_common_is_never_the_same_owner() {
        assert!(!p(None, None, None).same_owner(&p(None, None, None)));
        assert!(!p(Some("c"), None, None).same_owner(&p(None, Some("i"), Some("s"))));
        assert!(!p(None, None, None).same_owner(&p(Some("c"), Some("i"), Some("s"))));
    }

    #[test]
    fn same_owner_is_symmetric() {
        let cases = [
            p(Some("c"), None, None),
            p(None, Some("i"), Some("s")),
            p(Some("c"), Some("i"), Some("s")),
            p(Some("d"), Some("i"), None),
            p(None, None, None),
        ];
        for a in &cases {
            for b in &cases {
                assert_eq!(a.same_owner(b), b.same_owner(a), "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn scopes_sorted_dedup_and_contains() {
        let s = Scopes::parse("b a  b c");
        assert_eq!(s.iter().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert!(s.contains("c") && !s.contains("d"));
        assert!(s.contains_all(&Scopes::parse("a c")));
        assert!(!s.contains_all(&Scopes::parse("a d")));
        assert_eq!(serde_json::to_string(&s).unwrap(), r#"["a","b","c"]"#);
    }

    /// Every string of up to seven characters over "a", "b", "ab" and spaces
    /// parses (on the kept-as-is path or the sorting one) to the set a sorted
    /// set of its items gives, and membership and containment agree with it.
    #[test]
    fn scopes_agree_with_a_sorted_set() {
        use std::collections::BTreeSet;
        let parts = ["a", "b", "ab", " "];
        let mut inputs = vec![String::new()];
        let mut all = Vec::new();
        for _ in 0..7 {
            inputs = inputs
                .iter()
                .flat_map(|i| parts.iter().map(move |p| format!("{i}{p}")))
                .filter(|i| i.len() <= 7)
                .collect();
            all.extend(inputs.iter().cloned());
        }
        let sets: Vec<(Scopes, BTreeSet<&str>)> = all
            .iter()
            .map(|i| (Scopes::parse(i), i.split(' ').filter(|s| !s.is_empty()).collect()))
            .collect();
        assert!(sets.len() > 1000, "{}", sets.len());
        for ((scopes, set), input) in sets.iter().zip(&all) {
            assert_eq!(
                scopes.iter().collect::<Vec<_>>(),
                set.iter().copied().collect::<Vec<_>>(),
                "{input:?}"
            );
            assert_eq!(scopes.len(), set.len(), "{input:?}");
            assert_eq!(scopes, &set.iter().collect::<Scopes>(), "{input:?}");
            for probe in ["a", "b", "ab", "ba", "", " ", "a b"] {
                assert_eq!(scopes.contains(probe), set.contains(probe), "{input:?} {probe:?}");
            }
        }
        for (a, set_a) in sets.iter().step_by(7) {
            for (b, set_b) in sets.iter().step_by(11) {
                assert_eq!(a.contains_all(b), set_b.is_subset(set_a), "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn access_token_builders_copy_on_write() {
        let t = AccessToken::new(p(Some("c"), None, None));
        let shared = t.clone();
        let t2 = shared.clone().with_scopes(Scopes::parse("x"));
        assert!(t.scopes().is_empty());
        assert!(t2.scopes().contains("x"));
        assert_eq!(t2.principal(), t.principal());
    }
}
