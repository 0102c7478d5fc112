//! One verification as an operator sees it: a `tracing` span and the
//! decision's metrics ([`crate::metrics`]).
//!
//! The span, `verify_token` at DEBUG level, opens when the layer has a
//! credential and closes with the verdict. Its fields: `verifier` (`jwt`,
//! `introspection`, `custom`), `cached`, `outcome` (`accepted`, `refused`,
//! `unavailable`), `reason` (the refusal's fixed code, [`AuthError::reason`])
//! and, for an accepted token, `issuer` (a configured value, since the
//! verifier accepted it). Never the token, a secret or another claim.

use tracing::Span;
use tracing::field::Empty;

use crate::metrics::{self, Timer};
use crate::{AccessToken, AuthError, TokenSource};

/// A verification under way.
pub(crate) struct Verification {
    span: Span,
    verifier: TokenSource,
    timer: Timer,
}

impl Verification {
    /// Opens the span of a verification by `verifier`.
    pub(crate) fn start(verifier: TokenSource) -> Verification {
        let span = tracing::debug_span!(
            "verify_token",
            verifier = metrics::verifier_label(Some(verifier)),
            cached = Empty,
            outcome = Empty,
            reason = Empty,
            issuer = Empty,
        );
        Verification {
            span,
            verifier,
            timer: Timer::start(),
        }
    }

    /// The span, to enter or to instrument the verification's future with.
    pub(crate) fn span(&self) -> &Span {
        &self.span
    }

    /// Records the verdict: the span's fields, the decision's counter and its
    /// duration. `cached`: the token's verdict came from a cache.
    pub(crate) fn finish(self, cached: bool, verdict: Result<&AccessToken, &AuthError>) {
        let outcome = match verdict {
            Ok(token) => {
                if let Some(issuer) = token.principal().issuer() {
                    self.span.record("issuer", issuer);
                }
                "accepted"
            }
            Err(AuthError::Unavailable(_)) => "unavailable",
            Err(_) => "refused",
        };
        self.span.record("cached", cached);
        self.span.record("outcome", outcome);
        if let Err(error) = verdict {
            self.span.record("reason", error.reason());
        }
        metrics::decision(verdict.map(drop), Some(self.verifier), cached, Some(self.timer));
    }
}

/// A refusal before any verification (no credentials, a malformed request):
/// its decision's counter only.
pub(crate) fn refused_unverified(error: &AuthError) {
    metrics::decision(Err(error), None, false, None);
}
