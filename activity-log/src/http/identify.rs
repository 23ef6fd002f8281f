//! Who is acting, and for which tenant: asked of the host application once
//! per request.

use crate::Actor;
use http::request::Parts;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// The actor and tenant an [`Identify`] found for a request. Both are
/// optional: an anonymous request has neither.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Identity {
    /// Who is acting.
    pub actor: Option<Actor>,
    /// The tenant (subaccount) acted for.
    pub tenant: Option<String>,
}

impl Identity {
    /// No actor, no tenant.
    pub fn anonymous() -> Self {
        Self::default()
    }

    /// Sets the actor.
    pub fn actor(mut self, actor: Actor) -> Self {
        self.actor = Some(actor);
        self
    }

    /// Sets the tenant.
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }
}

/// Finds the actor and tenant of a request, for example from the host's
/// session store or from JWT claims. Called once per request, before the
/// inner service, with the request's head (method, URI, headers and
/// extensions, including `ConnectInfo`).
///
/// ```
/// use activity_log::http::{Identify, Identity};
/// use activity_log::Actor;
/// use http::request::Parts;
///
/// struct ApiKeys;
///
/// impl Identify for ApiKeys {
///     async fn identify(&self, parts: &Parts) -> Identity {
///         match parts.headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
///             Some("key-acme") => Identity::anonymous().actor(Actor::api_key("key-acme")).tenant("acme"),
///             _ => Identity::anonymous(),
///         }
///     }
/// }
/// ```
///
/// For a closure, see [`identify_fn`].
pub trait Identify: Send + Sync + 'static {
    /// The identity of the request whose head is `parts`.
    fn identify(&self, parts: &Parts) -> impl Future<Output = Identity> + Send;
}

impl<T: Identify> Identify for Arc<T> {
    fn identify(&self, parts: &Parts) -> impl Future<Output = Identity> + Send {
        (**self).identify(parts)
    }
}

/// An [`Identify`] from a closure that reads what it needs from the
/// request's head and returns a future (which owns what it uses).
///
/// ```
/// use activity_log::http::{identify_fn, ActivityLayer, Identity};
/// use activity_log::Actor;
///
/// let layer = ActivityLayer::builder()
///     .identify(identify_fn(|parts: &http::request::Parts| {
///         let user = parts.headers.get("x-user").and_then(|v| v.to_str().ok()).map(str::to_owned);
///         async move {
///             match user {
///                 Some(user) => Identity::anonymous().actor(Actor::user(user)).tenant("acme"),
///                 None => Identity::anonymous(),
///             }
///         }
///     }))
///     .build()?;
/// # let _ = layer;
/// # Ok::<(), activity_log::http::LayerError>(())
/// ```
pub fn identify_fn<F, Fut>(f: F) -> IdentifyFn<F>
where
    F: Fn(&Parts) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Identity> + Send + 'static,
{
    IdentifyFn(f)
}

/// The [`Identify`] made by [`identify_fn`].
#[derive(Clone, Copy)]
pub struct IdentifyFn<F>(F);

impl<F> std::fmt::Debug for IdentifyFn<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdentifyFn")
    }
}

impl<F, Fut> Identify for IdentifyFn<F>
where
    F: Fn(&Parts) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Identity> + Send + 'static,
{
    fn identify(&self, parts: &Parts) -> impl Future<Output = Identity> + Send {
        (self.0)(parts)
    }
}

/// The boxed future of an erased identifier: it owns the request head and
/// hands it back with the identity.
pub(crate) type Identifying = Pin<Box<dyn Future<Output = (Parts, Identity)> + Send>>;

/// [`Identify`] with its future boxed, so the layer need not be generic
/// over the identifier.
pub(crate) trait ErasedIdentify: Send + Sync {
    fn identify_owned(self: Arc<Self>, parts: Parts) -> Identifying;
}

impl<T: Identify> ErasedIdentify for T {
    fn identify_owned(self: Arc<Self>, parts: Parts) -> Identifying {
        Box::pin(async move {
            let identity = self.identify(&parts).await;
            (parts, identity)
        })
    }
}
