//! Scope checks: [`RequireScopeLayer`] for routes and the [`ScopeHierarchy`]
//! ("`mcp:admin` implies `mcp:write` implies `mcp:read`") honoured by every check
//! of this crate.
//!
//! Order of checks (MCP step-up, SEP-835/SEP-2350): no token → 401 with a bare
//! challenge; then scopes → 403 `insufficient_scope` naming **all** the scopes
//! the operation needs, in one challenge (clients add them to what they hold).
//! Time is not checked again: the verifier decided it (with its clock leeway)
//! when it accepted the token, and no layer after it contradicts that verdict.
//! `offline_access` never appears in a challenge and cannot be required.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Extensions, Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::challenge::assert_scope_tokens;
use crate::{AccessToken, AuthError, Challenge, RefusalFuture, Scopes};

/// Which scopes imply others: granting the broader scope grants the narrower.
///
/// The relation is transitive; it is closed when built, so checks are lookups.
/// Every check of this crate ([`RequireScopeLayer`],
/// [`McpScopeLayer`](crate::mcp::McpScopeLayer)) takes a hierarchy.
///
/// ```
/// use tower_bearer::Scopes;
/// use tower_bearer::scope::ScopeHierarchy;
///
/// let h = ScopeHierarchy::chain(["mcp:admin", "mcp:write", "mcp:read"]);
/// assert!(h.allows(&Scopes::parse("mcp:admin"), &Scopes::parse("mcp:read")));
/// assert!(h.allows(&Scopes::parse("mcp:write"), &Scopes::parse("mcp:read mcp:write")));
/// assert!(!h.allows(&Scopes::parse("mcp:read"), &Scopes::parse("mcp:write")));
/// ```
#[derive(Clone, Default)]
pub struct ScopeHierarchy(Arc<BTreeMap<Box<str>, BTreeSet<Box<str>>>>);

impl ScopeHierarchy {
    /// No scope implies another.
    ///
    /// ```
    /// use tower_bearer::{Scopes, scope::ScopeHierarchy};
    /// assert!(!ScopeHierarchy::new().allows(&Scopes::parse("a"), &Scopes::parse("b")));
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Each scope implies the ones after it: `chain(["admin", "write", "read"])`.
    ///
    /// # Panics
    /// If a scope is not an RFC 6749 `scope-token`.
    ///
    /// ```
    /// use tower_bearer::{Scopes, scope::ScopeHierarchy};
    /// let h = ScopeHierarchy::chain(["admin", "write", "read"]);
    /// assert!(h.allows(&Scopes::parse("admin"), &Scopes::parse("read")));
    /// ```
    pub fn chain<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let scopes: Vec<String> = scopes.into_iter().map(|s| s.as_ref().to_owned()).collect();
        scopes
            .windows(2)
            .fold(Self::new(), |h, pair| h.imply(&pair[0], &pair[1]))
    }

    /// Declares that `broader` implies `narrower` (and everything `narrower` implies).
    ///
    /// # Panics
    /// If a scope is not an RFC 6749 `scope-token`.
    ///
    /// ```
    /// use tower_bearer::{Scopes, scope::ScopeHierarchy};
    /// let h = ScopeHierarchy::new().imply("files:admin", "files:write").imply("files:write", "files:read");
    /// assert!(h.allows(&Scopes::parse("files:admin"), &Scopes::parse("files:read")));
    /// ```
    #[must_use]
    pub fn imply(self, broader: &str, narrower: &str) -> Self {
        assert_scope_tokens(&Scopes::from_iter([broader, narrower]));
        let mut map = Arc::unwrap_or_clone(self.0);
        map.entry(broader.into()).or_default().insert(narrower.into());
        // Close the relation: repeat until nothing new is implied (bounded by the
        // number of scopes, as each round adds at least one edge or stops).
        loop {
            let mut added = false;
            let snapshot = map.clone();
            for implied in map.values_mut() {
                let extra: Vec<Box<str>> = implied
                    .iter()
                    .filter_map(|s| snapshot.get(s))
                    .flatten()
                    .filter(|s| !implied.contains(*s))
                    .cloned()
                    .collect();
                added |= !extra.is_empty();
                implied.extend(extra);
            }
            if !added {
                break;
            }
        }
        ScopeHierarchy(Arc::new(map))
    }

    /// Whether `granted` contains `required`, directly or through an implication.
    ///
    /// ```
    /// use tower_bearer::{Scopes, scope::ScopeHierarchy};
    /// let h = ScopeHierarchy::chain(["w", "r"]);
    /// assert!(h.satisfies(&Scopes::parse("w"), "r"));
    /// assert!(!h.satisfies(&Scopes::parse("r"), "w"));
    /// ```
    pub fn satisfies(&self, granted: &Scopes, required: &str) -> bool {
        granted.contains(required)
            || granted
                .iter()
                .any(|g| self.0.get(g).is_some_and(|implied| implied.contains(required)))
    }

    /// Whether `granted` satisfies every scope of `required`.
    ///
    /// ```
    /// use tower_bearer::{Scopes, scope::ScopeHierarchy};
    /// assert!(ScopeHierarchy::new().allows(&Scopes::parse("a b"), &Scopes::parse("b")));
    /// ```
    pub fn allows(&self, granted: &Scopes, required: &Scopes) -> bool {
        required.iter().all(|r| self.satisfies(granted, r))
    }
}

impl fmt::Debug for ScopeHierarchy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.iter()).finish()
    }
}

/// Panics unless `scopes` can be required by a route: scope-tokens, and never
/// `offline_access` (it never appears in a challenge, so it could never be obtained).
pub(crate) fn assert_requirable(scopes: &Scopes) {
    assert_scope_tokens(scopes);
    assert!(
        !scopes.contains("offline_access"),
        "offline_access cannot be required: it never appears in a challenge"
    );
}

/// The check shared by every scope layer: a verified token (its time validity
/// is the verifier's verdict, not checked again) whose scopes (with `hierarchy`) cover `required`; otherwise the refusal, rendered
/// with the [`Challenge`] the [`TokenVerifierLayer`](crate::TokenVerifierLayer)
/// left in the extensions.
pub(crate) fn check_scopes<B: Default>(
    extensions: &Extensions,
    required: &Scopes,
    hierarchy: &ScopeHierarchy,
) -> Result<(), Response<B>> {
    let refusal = |error: AuthError| {
        let challenge = extensions.get::<Challenge>().cloned().unwrap_or_default();
        error.into_response(&challenge)
    };
    let Some(token) = extensions.get::<AccessToken>() else {
        return Err(refusal(AuthError::MissingToken));
    };
    if !hierarchy.allows(token.scopes(), required) {
        tracing::debug!(
            client_id = token.principal().client_id(),
            required = %required,
            "token lacks required scope"
        );
        return Err(refusal(AuthError::InsufficientScope(required.clone())));
    }
    Ok(())
}

/// Requires scopes on every request of the wrapped service (place it inside a
/// [`TokenVerifierLayer`](crate::TokenVerifierLayer)).
///
/// | request | answer |
/// |---|---|
/// | no verified token in the extensions | 401, bare challenge |
/// | scopes (with the hierarchy) do not cover the required ones | 403 `insufficient_scope`, `scope="<all required>"` |
///
/// ```
/// use tower::{ServiceBuilder, ServiceExt};
/// use tower_bearer::{AccessToken, Principal, Scopes};
/// use tower_bearer::scope::{RequireScopeLayer, ScopeHierarchy};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let svc = ServiceBuilder::new()
///     .layer(RequireScopeLayer::new(["mcp:write"]).hierarchy(ScopeHierarchy::chain(["mcp:admin", "mcp:write"])))
///     .service_fn(|_req: http::Request<()>| async { Ok::<_, std::convert::Infallible>(http::Response::new(String::new())) });
///
/// let mut req = http::Request::new(());
/// req.extensions_mut().insert(AccessToken::new(Principal::new()).with_scopes(Scopes::parse("mcp:read")));
/// let res = svc.clone().oneshot(req).await.unwrap();
/// assert_eq!(res.status(), 403);
/// assert_eq!(res.headers()["www-authenticate"],
///     r#"Bearer error="insufficient_scope", error_description="token lacks required scope", scope="mcp:write""#);
///
/// let mut req = http::Request::new(());
/// req.extensions_mut().insert(AccessToken::new(Principal::new()).with_scopes(Scopes::parse("mcp:admin")));
/// assert_eq!(svc.oneshot(req).await.unwrap().status(), 200);
/// # });
/// ```
#[derive(Clone, Debug)]
pub struct RequireScopeLayer {
    required: Scopes,
    hierarchy: ScopeHierarchy,
}

impl RequireScopeLayer {
    /// Requires every scope of `scopes`.
    ///
    /// # Panics
    /// If a scope is not an RFC 6749 `scope-token`, or is `offline_access`.
    ///
    /// ```
    /// let layer = tower_bearer::scope::RequireScopeLayer::new(["mcp:read"]);
    /// ```
    pub fn new<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let required = Scopes::from_iter(scopes);
        assert_requirable(&required);
        RequireScopeLayer {
            required,
            hierarchy: ScopeHierarchy::new(),
        }
    }

    /// The implication relation honoured by the check.
    ///
    /// ```
    /// use tower_bearer::scope::{RequireScopeLayer, ScopeHierarchy};
    /// let layer = RequireScopeLayer::new(["read"]).hierarchy(ScopeHierarchy::chain(["write", "read"]));
    /// ```
    #[must_use]
    pub fn hierarchy(mut self, hierarchy: ScopeHierarchy) -> Self {
        self.hierarchy = hierarchy;
        self
    }
}

impl<S> Layer<S> for RequireScopeLayer {
    type Service = RequireScope<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireScope {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service built by [`RequireScopeLayer`].
///
/// ```
/// use tower_bearer::scope::RequireScope;
/// let svc = RequireScope::new(42_u32, ["mcp:read"]);
/// assert_eq!(*svc.get_ref(), 42);
/// ```
#[derive(Clone, Debug)]
pub struct RequireScope<S> {
    inner: S,
    layer: RequireScopeLayer,
}

impl<S> RequireScope<S> {
    /// Wraps `inner`, requiring `scopes` (no hierarchy; use the layer for one).
    ///
    /// # Panics
    /// As [`RequireScopeLayer::new`].
    ///
    /// See [`RequireScope`] for an example.
    pub fn new<I, T>(inner: S, scopes: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        RequireScopeLayer::new(scopes).layer(inner)
    }

    /// A layer requiring `scopes`; the same as [`RequireScopeLayer::new`].
    ///
    /// ```
    /// let layer = tower_bearer::scope::RequireScope::<()>::layer(["mcp:read"]);
    /// ```
    pub fn layer<I, T>(scopes: I) -> RequireScopeLayer
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        RequireScopeLayer::new(scopes)
    }

    crate::macros::inner_service_accessors!(
        r#"```
let mut svc = tower_bearer::scope::RequireScope::new(1_u8, ["a"]);
*svc.get_mut() += 1;
assert_eq!(svc.into_inner(), 2);
```
"#
    );
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequireScope<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = RefusalFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let decision = check_scopes(req.extensions(), &self.layer.required, &self.layer.hierarchy);
        RefusalFuture::call_or_refuse(&mut self.inner, req, decision)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Principal;
    use std::time::{Duration, SystemTime};

    fn ext(token: Option<AccessToken>) -> Extensions {
        let mut e = Extensions::new();
        e.insert(
            Challenge::new().resource_metadata("https://r.example/.well-known/oauth-protected-resource"),
        );
        if let Some(t) = token {
            e.insert(t);
        }
        e
    }

    fn token(scopes: &str) -> AccessToken {
        AccessToken::new(Principal::new().with_subject("s")).with_scopes(Scopes::parse(scopes))
    }

    fn www(r: &Response<String>) -> &str {
        r.headers()["www-authenticate"].to_str().unwrap()
    }

    #[test]
    fn hierarchy_is_transitive_in_any_declaration_order() {
        let h = ScopeHierarchy::new()
            .imply("write", "read")
            .imply("admin", "write");
        assert!(h.satisfies(&Scopes::parse("admin"), "read"));
        assert!(h.satisfies(&Scopes::parse("admin"), "write"));
        assert!(!h.satisfies(&Scopes::parse("read"), "admin"));
        assert!(!h.satisfies(&Scopes::parse("other"), "read"));
        // Cycles are an equivalence, not a loop.
        let c = ScopeHierarchy::new().imply("a", "b").imply("b", "a");
        assert!(c.satisfies(&Scopes::parse("a"), "b") && c.satisfies(&Scopes::parse("b"), "a"));
    }

    #[test]
    fn order_of_checks() {
        let required = Scopes::parse("mcp:write");
        let h = ScopeHierarchy::chain(["mcp:admin", "mcp:write", "mcp:read"]);

        let missing = check_scopes::<String>(&ext(None), &required, &h).unwrap_err();
        assert_eq!(missing.status(), 401);
        assert!(!www(&missing).contains("error="));
        assert!(www(&missing).contains("resource_metadata="));

        // The verifier accepted it (inside its leeway): time is not judged again.
        let in_leeway = token("mcp:admin").with_expires_at(SystemTime::now() - Duration::from_secs(1));
        assert!(check_scopes::<String>(&ext(Some(in_leeway)), &required, &h).is_ok());

        let res = check_scopes::<String>(
            &ext(Some(token("mcp:read"))),
            &Scopes::parse("mcp:read mcp:write"),
            &h,
        )
        .unwrap_err();
        assert_eq!(res.status(), 403);
        assert!(
            www(&res).contains(r#"scope="mcp:read mcp:write""#),
            "{}",
            www(&res)
        );
        assert!(www(&res).contains("resource_metadata="));

        assert!(check_scopes::<String>(&ext(Some(token("mcp:admin"))), &required, &h).is_ok());
        assert!(
            check_scopes::<String>(&ext(Some(token("mcp:write"))), &required, &ScopeHierarchy::new()).is_ok()
        );
        assert!(
            check_scopes::<String>(&ext(Some(token("mcp:admin"))), &required, &ScopeHierarchy::new())
                .is_err()
        );
    }

    #[test]
    #[should_panic(expected = "offline_access cannot be required")]
    fn offline_access_cannot_be_required() {
        let _ = RequireScopeLayer::new(["mcp:read", "offline_access"]);
    }

    #[test]
    #[should_panic(expected = "scope-token")]
    fn bad_scope_in_hierarchy_panics() {
        let _ = ScopeHierarchy::chain(["a\"", "b"]);
    }
}
