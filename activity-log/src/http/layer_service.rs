//! [`ActivityService`]: the service [`ActivityLayer`](super::ActivityLayer)
//! wraps around the inner one, and its response future.

use super::api_request::Pending;
use super::identify::Identifying;
use super::layer::Shared;
use super::request_context::request_context;
use super::request_id::REQUEST_ID_HEADER;
use crate::context::SharedScope;
use crate::ActivityContext;
use http::{HeaderValue, Request, Response};
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Instant;
use tower::Service;

/// The status recorded for a request whose response future was dropped
/// before it finished: the client went away (nginx's "client closed
/// request").
const CLIENT_CLOSED_REQUEST: u16 = 499;

/// The status recorded when the inner service returned an error instead of
/// a response.
const SERVICE_ERROR: u16 = 500;

/// The service made by [`ActivityLayer`](super::ActivityLayer): runs the
/// inner service in the request's context.
#[derive(Debug, Clone)]
pub struct ActivityService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> ActivityService<S> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }
}

impl<S, B, ResB> Service<Request<B>> for ActivityService<S>
where
    S: Service<Request<B>, Response = Response<ResB>> + Clone,
{
    type Response = Response<ResB>;
    type Error = S::Error;
    type Future = ResponseFuture<S, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let start = Instant::now();
        let (mut parts, body) = request.into_parts();
        let (ctx, request_id) = request_context(&mut parts, &self.shared.proxies);
        let pending = self.shared.recording.as_ref().and_then(|r| r.start(&parts, start));
        let ctx = ctx.into_shared();
        let state = match &self.shared.identify {
            None => {
                let request = Request::from_parts(parts, body);
                State::Running { fut: call_in(&ctx, &mut self.inner, request) }
            }
            Some(identify) => {
                // The identity comes first; the inner service (ready now) is
                // called once it is known, and a clone stays here.
                let ready = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, ready);
                State::Identifying { fut: Arc::clone(identify).identify_owned(parts), waiting: Some((inner, body)) }
            }
        };
        ResponseFuture { state, ctx, request_id: Some(request_id), pending, shared: Arc::clone(&self.shared) }
    }
}

/// Calls `inner` with `ctx` in effect, and returns its future scoped in it.
fn call_in<S, B>(ctx: &Arc<ActivityContext>, inner: &mut S, request: Request<B>) -> SharedScope<S::Future>
where
    S: Service<Request<B>>,
{
    let fut = ActivityContext::sync_scope_shared(Arc::clone(ctx), || inner.call(request));
    ActivityContext::scope_shared(Arc::clone(ctx), fut)
}

pin_project! {
    #[project = StateProj]
    enum State<S, B>
    where
        S: Service<Request<B>>,
    {
        // Waiting for the host's identifier; holds the inner service and the body.
        Identifying { fut: Identifying, waiting: Option<(S, B)> },
        // The inner service's future, in the request's context.
        Running { #[pin] fut: SharedScope<S::Future> },
        Done,
    }
}

pin_project! {
    /// The response future of [`ActivityService`].
    pub struct ResponseFuture<S, B>
    where
        S: Service<Request<B>>,
    {
        #[pin]
        state: State<S, B>,
        ctx: Arc<ActivityContext>,
        request_id: Option<HeaderValue>,
        pending: Option<Pending>,
        shared: Arc<Shared>,
    }

    impl<S, B> PinnedDrop for ResponseFuture<S, B>
    where
        S: Service<Request<B>>,
    {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            finish(this.shared, this.pending, this.ctx, CLIENT_CLOSED_REQUEST);
        }
    }
}

impl<S, B> std::fmt::Debug for ResponseFuture<S, B>
where
    S: Service<Request<B>>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").field("ctx", &self.ctx).field("pending", &self.pending).finish_non_exhaustive()
    }
}

impl<S, B, ResB> Future for ResponseFuture<S, B>
where
    S: Service<Request<B>, Response = Response<ResB>>,
{
    type Output = Result<Response<ResB>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Identifying { fut, waiting } => {
                    let (parts, identity) = ready!(fut.as_mut().poll(cx));
                    let Some((mut inner, body)) = waiting.take() else {
                        unreachable!("the identifying state holds the request until it leaves that state")
                    };
                    // Nothing else holds the context yet: no copy is made.
                    let ctx = Arc::make_mut(this.ctx);
                    if identity.actor.is_some() {
                        ctx.actor = identity.actor;
                    }
                    if identity.tenant.is_some() {
                        ctx.tenant = identity.tenant;
                    }
                    let fut = call_in(this.ctx, &mut inner, Request::from_parts(parts, body));
                    this.state.set(State::Running { fut });
                }
                StateProj::Running { fut } => {
                    let result = ready!(fut.poll(cx));
                    this.state.set(State::Done);
                    return Poll::Ready(match result {
                        Ok(mut response) => {
                            if let Some(id) = this.request_id.take() {
                                response.headers_mut().insert(REQUEST_ID_HEADER, id);
                            }
                            finish(this.shared, this.pending, this.ctx, response.status().as_u16());
                            Ok(response)
                        }
                        Err(e) => {
                            finish(this.shared, this.pending, this.ctx, SERVICE_ERROR);
                            Err(e)
                        }
                    });
                }
                StateProj::Done => panic!("ResponseFuture polled after it completed"),
            }
        }
    }
}

/// Logs the request's `api_request` activity, once, if it is recorded.
fn finish(shared: &Shared, pending: &mut Option<Pending>, ctx: &mut Arc<ActivityContext>, status: u16) {
    if let (Some(recording), Some(pending)) = (&shared.recording, pending.take()) {
        recording.finish(pending, status, ctx);
    }
}
