//! [`Challenge`]: what goes into every `WWW-Authenticate` challenge, as plain
//! configuration data (rendered by [`AuthError::into_response`](super::AuthError::into_response)).

use std::sync::Arc;
use std::time::Duration;

use crate::Scopes;
use crate::dpop::{Dpop, DpopMode};
use crate::extract::Scheme;
use crate::scope::ScopeError;

/// Default `Retry-After` for 503 answers when the verifier suggests none.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);

/// What goes into every challenge: the RFC 9728 metadata URL, a realm and the
/// scopes to hint when no token was sent.
///
/// Cheap to clone. Values are checked when set: a value that cannot be a
/// quoted-string is a [`ChallengeError`] there, at configuration time, never
/// per request.
///
/// ```
/// use tower_bearer::{AuthError, Challenge};
/// let challenge = Challenge::new()
///     .resource_metadata("https://api.example/.well-known/oauth-protected-resource/mcp")?
///     .realm("mcp")?;
/// let res = AuthError::MissingToken.into_response::<String>(&challenge);
/// assert_eq!(res.status(), 401);
/// assert_eq!(
///     res.headers()["www-authenticate"],
///     r#"Bearer realm="mcp", resource_metadata="https://api.example/.well-known/oauth-protected-resource/mcp""#
/// );
/// # Ok::<(), tower_bearer::ChallengeError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Challenge {
    pub(super) inner: Arc<ChallengeInner>,
    /// The scheme of the request's credential: its errors go in that challenge.
    pub(super) scheme: Scheme,
}

/// Why a [`Challenge`] setting was refused; the message names the setting.
///
/// ```
/// use tower_bearer::{Challenge, ChallengeError};
/// let error = Challenge::new().realm("a\"b").unwrap_err();
/// assert_eq!(error, ChallengeError::NotQuotable { field: "realm" });
/// assert!(error.to_string().starts_with("realm "));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChallengeError {
    /// The value holds a `"`, a `\` or a character outside visible ASCII and
    /// space, so it cannot be sent as a quoted-string.
    #[error(
        "{field} cannot be sent as a quoted-string in WWW-Authenticate: only visible ASCII and spaces, without '\"' or '\\'"
    )]
    NotQuotable {
        /// The setting: `resource_metadata` or `realm`.
        field: &'static str,
    },
    /// A hinted scope is not an RFC 6749 `scope-token`.
    #[error(transparent)]
    Scope(#[from] ScopeError),
}

/// The `DPoP` challenge (RFC 9449 §7.1) sent beside (or, when DPoP is
/// required, instead of) the `Bearer` one, and the configuration asked for a
/// `DPoP-Nonce` when a refusal is written.
#[derive(Debug, Clone)]
pub(super) struct DpopChallenge {
    pub(super) algs: String,
    pub(super) required: bool,
    pub(super) dpop: Arc<Dpop>,
}

#[derive(Debug, Clone, Default)]
pub(super) struct ChallengeInner {
    pub(super) realm: Option<String>,
    pub(super) resource_metadata: Option<String>,
    pub(super) scope_hint: Option<String>,
    pub(super) retry_after: Option<Duration>,
    pub(super) dpop: Option<DpopChallenge>,
}

impl Challenge {
    /// A bare `Bearer` challenge.
    ///
    /// ```
    /// let _ = tower_bearer::Challenge::new();
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The RFC 9728 metadata URL sent as `resource_metadata` in every 401 and 403.
    ///
    /// # Errors
    /// [`ChallengeError::NotQuotable`] if `url` holds a `"`, a `\` or a
    /// character outside visible ASCII and space.
    ///
    /// ```
    /// let c = tower_bearer::Challenge::new().resource_metadata("https://r.example/.well-known/oauth-protected-resource")?;
    /// assert!(c.resource_metadata_url().is_some());
    /// # Ok::<(), tower_bearer::ChallengeError>(())
    /// ```
    pub fn resource_metadata(mut self, url: impl Into<String>) -> Result<Self, ChallengeError> {
        let url = quotable("resource_metadata", url.into())?;
        Arc::make_mut(&mut self.inner).resource_metadata = Some(url);
        Ok(self)
    }

    /// The `realm` parameter.
    ///
    /// # Errors
    /// [`ChallengeError::NotQuotable`] if `realm` holds a `"`, a `\` or a
    /// character outside visible ASCII and space.
    ///
    /// ```
    /// let _ = tower_bearer::Challenge::new().realm("api")?;
    /// # Ok::<(), tower_bearer::ChallengeError>(())
    /// ```
    pub fn realm(mut self, realm: impl Into<String>) -> Result<Self, ChallengeError> {
        let realm = quotable("realm", realm.into())?;
        Arc::make_mut(&mut self.inner).realm = Some(realm);
        Ok(self)
    }

    /// Scopes suggested in the challenge sent when no token was presented
    /// (MCP clients request these). `offline_access` is never hinted.
    ///
    /// # Errors
    /// [`ChallengeError::Scope`] if a scope is not an RFC 6749 `scope-token`.
    ///
    /// ```
    /// use tower_bearer::{AuthError, Challenge, Scopes};
    /// let c = Challenge::new().scope_hint(Scopes::parse("mcp:read offline_access"))?;
    /// let res = AuthError::MissingToken.into_response::<String>(&c);
    /// assert_eq!(res.headers()["www-authenticate"], r#"Bearer scope="mcp:read""#);
    /// # Ok::<(), tower_bearer::ChallengeError>(())
    /// ```
    pub fn scope_hint(mut self, scopes: Scopes) -> Result<Self, ChallengeError> {
        crate::scope::scope_tokens("scope_hint", &scopes)?;
        let hint = super::error::challenge_scope(&scopes);
        Arc::make_mut(&mut self.inner).scope_hint = (!hint.is_empty()).then_some(hint);
        Ok(self)
    }

    /// `Retry-After` for 503 answers when the verifier gives none
    /// (default [`DEFAULT_RETRY_AFTER`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// let _ = tower_bearer::Challenge::new().retry_after(Duration::from_secs(30));
    /// ```
    #[must_use]
    pub fn retry_after(mut self, after: Duration) -> Self {
        Arc::make_mut(&mut self.inner).retry_after = Some(after);
        self
    }

    /// The configured metadata URL.
    ///
    /// ```
    /// assert!(tower_bearer::Challenge::new().resource_metadata_url().is_none());
    /// ```
    pub fn resource_metadata_url(&self) -> Option<&str> {
        self.inner.resource_metadata.as_deref()
    }

    /// The DPoP challenge of `dpop` (none when DPoP is off).
    pub(crate) fn with_dpop(mut self, dpop: &Arc<Dpop>) -> Self {
        Arc::make_mut(&mut self.inner).dpop = (dpop.mode() != DpopMode::Off).then(|| DpopChallenge {
            algs: dpop.algorithm_names(),
            required: dpop.mode() == DpopMode::Required,
            dpop: dpop.clone(),
        });
        self
    }

    /// This challenge with the resource's parts of `resource` (its checked
    /// `resource_metadata` and its DPoP challenge), keeping this one's realm,
    /// scope hint and `Retry-After`.
    pub(crate) fn with_resource_of(mut self, resource: &Challenge) -> Self {
        let inner = Arc::make_mut(&mut self.inner);
        inner.resource_metadata = resource.inner.resource_metadata.clone();
        inner.dpop = resource.inner.dpop.clone();
        self
    }

    /// This challenge for a request whose credential came with `scheme`.
    pub(crate) fn for_scheme(&self, scheme: Scheme) -> Self {
        Challenge {
            inner: self.inner.clone(),
            scheme,
        }
    }
}

/// `value` if it can be a quoted-string parameter (visible ASCII and space,
/// without `"` or `\`), so that rendering never fails.
fn quotable(field: &'static str, value: String) -> Result<String, ChallengeError> {
    let ok = value
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
    if ok {
        Ok(value)
    } else {
        Err(ChallengeError::NotQuotable { field })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquotable_values_are_refused_naming_the_setting() {
        for bad in ["a\"b", "a\\b", "é", "a\tb", "\u{7f}"] {
            let error = Challenge::new().realm(bad).unwrap_err();
            assert_eq!(error, ChallengeError::NotQuotable { field: "realm" }, "{bad:?}");
            assert!(error.to_string().starts_with("realm cannot"), "{error}");
            let error = Challenge::new().resource_metadata(bad).unwrap_err();
            assert_eq!(
                error,
                ChallengeError::NotQuotable {
                    field: "resource_metadata"
                }
            );
            assert!(
                error.to_string().starts_with("resource_metadata cannot"),
                "{error}"
            );
        }
        assert!(Challenge::new().realm("my realm").is_ok());
    }

    #[test]
    fn a_scope_hint_outside_the_grammar_is_refused_naming_the_setting() {
        let error = Challenge::new().scope_hint(Scopes::parse("a\\b")).unwrap_err();
        assert!(
            matches!(&error, ChallengeError::Scope(ScopeError::NotScopeToken { field: "scope_hint", scope }) if scope == "a\\b"),
            "{error:?}"
        );
        assert!(error.to_string().starts_with("scope_hint: "), "{error}");
    }
}
