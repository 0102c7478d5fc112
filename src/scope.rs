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

use crate::{AccessToken, AuthError, Challenge, RefusalFuture, Scopes};

/// Why scopes given in configuration were refused; the message names the
/// setting and the scope (scopes are configuration, never secrets).
///
/// ```
/// use tower_bearer::scope::{RequireScopeLayer, ScopeError};
/// let error = RequireScopeLayer::new(["mcp:read", "offline_access"]).unwrap_err();
/// assert_eq!(error, ScopeError::OfflineAccess { field: "RequireScopeLayer::new" });
/// assert!(error.to_string().starts_with("RequireScopeLayer::new: "));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScopeError {
    /// A scope is not an RFC 6749 §3.3 `scope-token`
    /// (`1*( %x21 / %x23-5B / %x5D-7E )`).
    #[error("{field}: {scope:?} is not an RFC 6749 scope-token")]
    NotScopeToken {
        /// The setting that was given the scope.
        field: &'static str,
        /// The scope refused.
        scope: String,
    },
    /// `offline_access` was required: it never appears in a challenge, so a
    /// client could never learn to ask for it.
    #[error("{field}: offline_access cannot be required, it never appears in a challenge")]
    OfflineAccess {
        /// The setting that was given the scope.
        field: &'static str,
    },
}

/// Every scope of `scopes` is a `scope-token`, else the error naming `field`.
pub(crate) fn scope_tokens(field: &'static str, scopes: &Scopes) -> Result<(), ScopeError> {
    match scopes.first_invalid() {
        Some(scope) => Err(ScopeError::NotScopeToken {
            field,
            scope: scope.to_owned(),
        }),
        None => Ok(()),
    }
}

/// `scopes`, if a route can require them: scope-tokens, and never
/// `offline_access` (it never appears in a challenge, so it could never be
/// obtained).
pub(crate) fn requirable<I, S>(field: &'static str, scopes: I) -> Result<Scopes, ScopeError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let scopes = Scopes::from_iter(scopes);
    scope_tokens(field, &scopes)?;
    if scopes.contains(Scopes::OFFLINE_ACCESS) {
        return Err(ScopeError::OfflineAccess { field });
    }
    Ok(scopes)
}

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
/// let h = ScopeHierarchy::chain(["mcp:admin", "mcp:write", "mcp:read"])?;
/// assert!(h.allows(&Scopes::parse("mcp:admin"), &Scopes::parse("mcp:read")));
/// assert!(h.allows(&Scopes::parse("mcp:write"), &Scopes::parse("mcp:read mcp:write")));
/// assert!(!h.allows(&Scopes::parse("mcp:read"), &Scopes::parse("mcp:write")));
/// # Ok::<(), tower_bearer::scope::ScopeError>(())
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
    /// # Errors
    /// [`ScopeError::NotScopeToken`] (field `ScopeHierarchy::chain`) if a scope
    /// is not an RFC 6749 `scope-token`.
    ///
    /// ```
    /// use tower_bearer::{Scopes, scope::ScopeHierarchy};
    /// let h = ScopeHierarchy::chain(["admin", "write", "read"])?;
    /// assert!(h.allows(&Scopes::parse("admin"), &Scopes::parse("read")));
    /// # Ok::<(), tower_bearer::scope::ScopeError>(())
    /// ```
    pub fn chain<I, S>(scopes: I) -> Result<Self, ScopeError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let scopes: Vec<String> = scopes.into_iter().map(|s| s.as_ref().to_owned()).collect();
        scope_tokens("ScopeHierarchy::chain", &Scopes::from_iter(&scopes))?;
        Ok(scopes
            .windows(2)
            .fold(Self::new(), |h, pair| h.with_implication(&pair[0], &pair[1])))
    }

    /// Declares that `broader` implies `narrower` (and everything `narrower` implies).
    ///
    /// # Errors
    /// [`ScopeError::NotScopeToken`] (field `ScopeHierarchy::imply`) if a scope
    /// is not an RFC 6749 `scope-token`.
    ///
    /// ```
    /// use tower_bearer::{Scopes, scope::ScopeHierarchy};
    /// let h = ScopeHierarchy::new().imply("files:admin", "files:write")?.imply("files:write", "files:read")?;
    /// assert!(h.allows(&Scopes::parse("files:admin"), &Scopes::parse("files:read")));
    /// # Ok::<(), tower_bearer::scope::ScopeError>(())
    /// ```
    pub fn imply(self, broader: &str, narrower: &str) -> Result<Self, ScopeError> {
        scope_tokens("ScopeHierarchy::imply", &Scopes::from_iter([broader, narrower]))?;
        Ok(self.with_implication(broader, narrower))
    }

    /// [`imply`](Self::imply) for scopes already checked.
    fn with_implication(self, broader: &str, narrower: &str) -> Self {
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
    /// let h = ScopeHierarchy::chain(["w", "r"])?;
    /// assert!(h.satisfies(&Scopes::parse("w"), "r"));
    /// assert!(!h.satisfies(&Scopes::parse("r"), "w"));
    /// # Ok::<(), tower_bearer::scope::ScopeError>(())
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
///     .layer(RequireScopeLayer::new(["mcp:write"])?.hierarchy(ScopeHierarchy::chain(["mcp:admin", "mcp:write"])?))
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
/// # Ok::<(), tower_bearer::scope::ScopeError>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct RequireScopeLayer {
    required: Scopes,
    hierarchy: ScopeHierarchy,
}

impl RequireScopeLayer {
    /// Requires every scope of `scopes`.
    ///
    /// # Errors
    /// [`ScopeError`] (field `RequireScopeLayer::new`) if a scope is not an
    /// RFC 6749 `scope-token`, or is `offline_access`.
    ///
    /// ```
    /// let layer = tower_bearer::scope::RequireScopeLayer::new(["mcp:read"])?;
    /// # Ok::<(), tower_bearer::scope::ScopeError>(())
    /// ```
    pub fn new<I, S>(scopes: I) -> Result<Self, ScopeError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Ok(RequireScopeLayer {
            required: requirable("RequireScopeLayer::new", scopes)?,
            hierarchy: ScopeHierarchy::new(),
        })
    }

    /// The implication relation honoured by the check.
    ///
    /// ```
    /// use tower_bearer::scope::{RequireScopeLayer, ScopeHierarchy};
    /// let layer = RequireScopeLayer::new(["read"])?.hierarchy(ScopeHierarchy::chain(["write", "read"])?);
    /// # Ok::<(), tower_bearer::scope::ScopeError>(())
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
/// let svc = RequireScope::new(42_u32, ["mcp:read"])?;
/// assert_eq!(*svc.get_ref(), 42);
/// # Ok::<(), tower_bearer::scope::ScopeError>(())
/// ```
#[derive(Clone, Debug)]
pub struct RequireScope<S> {
    inner: S,
    layer: RequireScopeLayer,
}

impl<S> RequireScope<S> {
    /// Wraps `inner`, requiring `scopes` (no hierarchy; use the layer for one).
    ///
    /// # Errors
    /// As [`RequireScopeLayer::new`].
    ///
    /// See [`RequireScope`] for an example.
    pub fn new<I, T>(inner: S, scopes: I) -> Result<Self, ScopeError>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        Ok(RequireScopeLayer::new(scopes)?.layer(inner))
    }

    /// A layer requiring `scopes`; the same as [`RequireScopeLayer::new`].
    ///
    /// # Errors
    /// As [`RequireScopeLayer::new`].
    ///
    /// ```
    /// let layer = tower_bearer::scope::RequireScope::<()>::layer(["mcp:read"])?;
    /// # Ok::<(), tower_bearer::scope::ScopeError>(())
    /// ```
    pub fn layer<I, T>(scopes: I) -> Result<RequireScopeLayer, ScopeError>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        RequireScopeLayer::new(scopes)
    }

    crate::macros::inner_service_accessors!(
        r#"```
let mut svc = tower_bearer::scope::RequireScope::new(1_u8, ["a"]).unwrap();
*svc.get_mut() += 1;
assert_eq!(svc.into_inner(), 2);
```
"#
    );
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequireScope<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
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
            Challenge::new()
                .resource_metadata("https://r.example/.well-known/oauth-protected-resource")
                .unwrap(),
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
            .unwrap()
            .imply("admin", "write")
            .unwrap();
        assert!(h.satisfies(&Scopes::parse("admin"), "read"));
        assert!(h.satisfies(&Scopes::parse("admin"), "write"));
        assert!(!h.satisfies(&Scopes::parse("read"), "admin"));
        assert!(!h.satisfies(&Scopes::parse("other"), "read"));
        // Cycles are an equivalence, not a loop.
        let c = ScopeHierarchy::new()
            .imply("a", "b")
            .unwrap()
            .imply("b", "a")
            .unwrap();
        assert!(c.satisfies(&Scopes::parse("a"), "b") && c.satisfies(&Scopes::parse("b"), "a"));
    }

    #[test]
    fn order_of_checks() {
        let required = Scopes::parse("mcp:write");
        let h = ScopeHierarchy::chain(["mcp:admin", "mcp:write", "mcp:read"]).unwrap();

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
    fn offline_access_cannot_be_required() {
        for error in [
            RequireScopeLayer::new(["mcp:read", "offline_access"]).unwrap_err(),
            RequireScope::new((), ["offline_access"]).unwrap_err(),
            RequireScope::<()>::layer(["offline_access"]).unwrap_err(),
        ] {
            assert_eq!(
                error,
                ScopeError::OfflineAccess {
                    field: "RequireScopeLayer::new"
                }
            );
            assert!(
                error
                    .to_string()
                    .starts_with("RequireScopeLayer::new: offline_access"),
                "{error}"
            );
        }
    }

    #[test]
    fn scopes_outside_the_grammar_are_refused_naming_the_setting() {
        let not_token = |field, scope: &str| ScopeError::NotScopeToken {
            field,
            scope: scope.to_owned(),
        };
        let cases = [
            (
                RequireScopeLayer::new(["a\\"]).map(|_| ()),
                "RequireScopeLayer::new",
                "a\\",
            ),
            (
                ScopeHierarchy::chain(["a\"", "b"]).map(|_| ()),
                "ScopeHierarchy::chain",
                "a\"",
            ),
            (
                ScopeHierarchy::new().imply("a", "é").map(|_| ()),
                "ScopeHierarchy::imply",
                "é",
            ),
        ];
        for (result, field, scope) in cases {
            let error = result.unwrap_err();
            assert_eq!(error, not_token(field, scope));
            assert!(error.to_string().starts_with(&format!("{field}: ")), "{error}");
        }
        assert!(RequireScopeLayer::new(["mcp:read", "a\u{7f}"]).is_err());
        assert!(RequireScopeLayer::new(["mcp:read", "!#[]~"]).is_ok());
    }

    #[tokio::test]
    async fn an_allowed_request_calls_the_ready_service_without_a_clone() {
        use tower::ServiceExt;

        let echo = crate::layer::tests::Echo::default();
        let (clones, calls) = (echo.clones.clone(), echo.calls.clone());
        let mut svc = RequireScopeLayer::new(["mcp:read"]).unwrap().layer(echo);
        for _ in 0..3 {
            let mut req = Request::new(String::new());
            req.extensions_mut().insert(token("mcp:read"));
            let res = svc.ready().await.unwrap().call(req).await.unwrap();
            assert_eq!(res.status(), 200);
        }
        let refused = svc
            .ready()
            .await
            .unwrap()
            .call(Request::new(String::new()))
            .await
            .unwrap();
        assert_eq!(refused.status(), 401);
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 3);
        assert_eq!(clones.load(std::sync::atomic::Ordering::SeqCst), 0);
    }
}
