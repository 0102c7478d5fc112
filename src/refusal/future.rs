//! [`RefusalFuture`]: the response future of layers that decide before calling
//! the inner service.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use pin_project_lite::pin_project;
use tower_service::Service;

pin_project! {
    /// Response future of [`RequireScope`](crate::scope::RequireScope) and
    /// [`Origin`](crate::origin::Origin): the inner service's future, or a refusal
    /// that is ready at once.
    pub struct RefusalFuture<F, B> {
        #[pin]
        state: State<F, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, B> {
        Inner { #[pin] future: F },
        Refused { response: Option<Response<B>> },
    }
}

impl<F, B> RefusalFuture<F, B> {
    /// Calls `inner` when `decision` is `Ok`, or answers with the refusal.
    /// The decision was taken synchronously, in `call`: `inner` is still the
    /// service that was driven to readiness, so it is called directly (as
    /// tower-http's `ValidateRequest` does), without a clone.
    pub(crate) fn call_or_refuse<S, R>(inner: &mut S, req: R, decision: Result<(), Response<B>>) -> Self
    where
        S: Service<R, Response = Response<B>, Future = F>,
    {
        let state = match decision {
            Ok(()) => State::Inner {
                future: inner.call(req),
            },
            Err(response) => State::Refused {
                response: Some(response),
            },
        };
        RefusalFuture { state }
    }
}

impl<F, B> fmt::Debug for RefusalFuture<F, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefusalFuture").finish_non_exhaustive()
    }
}

impl<F, B, E> Future for RefusalFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Inner { future } => future.poll(cx),
            StateProj::Refused { response } => Poll::Ready(Ok(response
                .take()
                .expect("RefusalFuture polled after completion"))),
        }
    }
}
