//! Ambient request context: who is acting, for which tenant, from where.
//!
//! A context is set for the duration of a future (or a closure) with
//! [`ActivityContext::scope`] / [`ActivityContext::sync_scope`]; every
//! activity logged inside takes the fields it does not set itself from the
//! innermost scope. Scopes are task-local: concurrent requests never see each
//! other's context, and there is no process-wide mutable state.

use crate::{Activity, Actor};
use std::future::Future;
use std::sync::Arc;

tokio::task_local! {
    static CONTEXT: Arc<ActivityContext>;
}

/// The ambient fields copied into every activity logged inside a scope.
///
/// ```
/// use activity_log::{Activity, ActivityContext, ActivityLogger, Actor};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (logger, sink) = ActivityLogger::in_memory();
/// let ctx = ActivityContext::new().actor(Actor::user("agent-7")).tenant("acme").request_id("req-1");
/// ctx.scope(async {
///     // An inner scope overrides only the fields it sets.
///     ActivityContext::new().request_id("req-2").scope(async {
///         logger.log_async(Activity::new("call_created"));
///     }).await;
/// }).await;
/// logger.flush().await?;
/// let a = &sink.activities()[0];
/// assert_eq!(a.actor.as_ref().and_then(|a| a.id.as_deref()), Some("agent-7"));
/// assert_eq!((a.tenant.as_deref(), a.request_id.as_deref()), (Some("acme"), Some("req-2")));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ActivityContext {
    /// Who is acting.
    pub actor: Option<Actor>,
    /// The tenant (subaccount).
    pub tenant: Option<String>,
    /// The client's IP address.
    pub ip: Option<String>,
    /// The client's user agent.
    pub user_agent: Option<String>,
    /// The request or operation id.
    pub request_id: Option<String>,
    /// A distributed trace id.
    pub trace_id: Option<String>,
}

macro_rules! setters {
    ($($field:ident),*) => {
        $(
            #[doc = concat!("Sets `", stringify!($field), "`.")]
            pub fn $field(mut self, value: impl Into<String>) -> Self {
                self.$field = Some(value.into());
                self
            }
        )*
    };
}

impl ActivityContext {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the actor.
    pub fn actor(mut self, actor: Actor) -> Self {
        self.actor = Some(actor);
        self
    }

    setters!(tenant, ip, user_agent, request_id, trace_id);

    /// The innermost context in effect for the current task, if any.
    pub fn current() -> Option<Self> {
        CONTEXT.try_with(|c| (**c).clone()).ok()
    }

    /// This context with every unset field taken from `outer`.
    fn over(mut self, outer: &Self) -> Self {
        fill(&mut self.actor, &outer.actor);
        fill(&mut self.tenant, &outer.tenant);
        fill(&mut self.ip, &outer.ip);
        fill(&mut self.user_agent, &outer.user_agent);
        fill(&mut self.request_id, &outer.request_id);
        fill(&mut self.trace_id, &outer.trace_id);
        self
    }

    fn merged_with_current(self) -> Arc<Self> {
        match CONTEXT.try_with(|outer| self.clone().over(outer)) {
            Ok(merged) => Arc::new(merged),
            Err(_) => Arc::new(self),
        }
    }

    /// Runs `fut` with this context in effect, layered over the context of
    /// the caller (field by field).
    pub fn scope<F: Future>(self, fut: F) -> impl Future<Output = F::Output> {
        CONTEXT.scope(self.merged_with_current(), fut)
    }

    /// Runs `f` with this context in effect, for synchronous code.
    pub fn sync_scope<R>(self, f: impl FnOnce() -> R) -> R {
        CONTEXT.sync_scope(self.merged_with_current(), f)
    }

    /// This context layered over the caller's, shared, for the HTTP layer's
    /// scopes (one allocation per request, reused by every scope it enters).
    #[cfg(feature = "axum")]
    pub(crate) fn into_shared(self) -> Arc<Self> {
        self.merged_with_current()
    }

    /// Runs `fut` with `ctx` (already layered) in effect; the future's type
    /// can be named, so the HTTP layer's response future needs no box.
    #[cfg(feature = "axum")]
    pub(crate) fn scope_shared<F: Future>(ctx: Arc<Self>, fut: F) -> SharedScope<F> {
        CONTEXT.scope(ctx, fut)
    }

    /// Runs `f` with `ctx` (already layered) in effect.
    #[cfg(feature = "axum")]
    pub(crate) fn sync_scope_shared<R>(ctx: Arc<Self>, f: impl FnOnce() -> R) -> R {
        CONTEXT.sync_scope(ctx, f)
    }
}

/// The future [`ActivityContext::scope_shared`] returns.
#[cfg(feature = "axum")]
pub(crate) type SharedScope<F> = tokio::task::futures::TaskLocalFuture<Arc<ActivityContext>, F>;

/// Fills the unset ambient fields of `activity` from the current scope.
pub(crate) fn fill_from_current(activity: &mut Activity) {
    let _ = CONTEXT.try_with(|ctx| fill_from(activity, ctx));
}

/// Fills the unset ambient fields of `activity` with copies from `ctx`.
fn fill_from(activity: &mut Activity, ctx: &ActivityContext) {
    fill(&mut activity.actor, &ctx.actor);
    fill(&mut activity.tenant, &ctx.tenant);
    fill(&mut activity.ip, &ctx.ip);
    fill(&mut activity.user_agent, &ctx.user_agent);
    fill(&mut activity.request_id, &ctx.request_id);
    fill(&mut activity.trace_id, &ctx.trace_id);
}

/// Fills the unset ambient fields of `activity` from `ctx`, taking its
/// values when this is the context's last holder and copying them
/// otherwise. For the HTTP layer, which has the request's context in hand.
#[cfg(feature = "axum")]
pub(crate) fn fill_from_shared(activity: &mut Activity, ctx: &mut Arc<ActivityContext>) {
    match Arc::get_mut(ctx) {
        Some(ctx) => {
            take(&mut activity.actor, &mut ctx.actor);
            take(&mut activity.tenant, &mut ctx.tenant);
            take(&mut activity.ip, &mut ctx.ip);
            take(&mut activity.user_agent, &mut ctx.user_agent);
            take(&mut activity.request_id, &mut ctx.request_id);
            take(&mut activity.trace_id, &mut ctx.trace_id);
        }
        None => fill_from(activity, ctx),
    }
}

/// Moves `from` into `field` when `field` is unset.
#[cfg(feature = "axum")]
fn take<T>(field: &mut Option<T>, from: &mut Option<T>) {
    if field.is_none() {
        *field = from.take();
    }
}

/// Sets `field` from `from` when it is unset.
fn fill<T: Clone>(field: &mut Option<T>, from: &Option<T>) {
    if field.is_none() {
        field.clone_from(from);
    }
}
