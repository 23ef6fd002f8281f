//! [`ActivityApi`]: the router's configuration, and the state its handlers
//! share.

use super::rate_limit::Limiter;
use super::routes::{Relay, Relayed};
use super::{routes, Authenticate, LiveFeed, RateLimits, Viewer};
use crate::query::ActivityStore;
use crate::ActivityLogger;
use axum::Router;
use std::fmt;
use std::sync::Arc;

/// The default largest request body `POST /activities` accepts: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;

/// The default most activities one `POST /activities` may carry.
pub const DEFAULT_MAX_BATCH: usize = 1000;

/// The default number of live events a stream client may fall behind
/// before it is told it lagged.
pub const DEFAULT_LIVE_BUFFER: usize = 1024;

/// The activity router's configuration: a store to read, who may do what,
/// and where ingested activities and the live tail come from. Build the
/// [`Router`] with [`router`](Self::router) and nest it where you like.
///
/// ```
/// use activity_log::http::{ActivityApi, Principal, RateLimits, StaticTokens};
/// use activity_log::ActivityLogger;
///
/// let (logger, store) = ActivityLogger::in_memory(); // SqliteSink / PostgresSink in production
/// let auth = StaticTokens::new().token("acme-secret", Principal::tenant("acme-app", "acme").read().ingest());
/// let api = ActivityApi::new(store, auth)
///     .logger(logger)                                  // ingest and live tail (default: the global logger)
///     .rate_limits(RateLimits::default());             // 200 reads, 100 writes a minute per principal
/// let app: axum::Router = axum::Router::new().nest("/api/activity", api.router());
/// # drop(app);
/// ```
#[derive(Clone)]
pub struct ActivityApi {
    pub(crate) store: Arc<dyn ActivityStore>,
    pub(crate) auth: Arc<dyn Authenticate>,
    pub(crate) logger: Option<ActivityLogger>,
    pub(crate) live: Option<Arc<dyn LiveFeed>>,
    pub(crate) limits: RateLimits,
    pub(crate) max_body_bytes: usize,
    pub(crate) max_batch: usize,
    pub(crate) live_buffer: usize,
    pub(crate) viewer: Option<Arc<Viewer>>,
}

impl ActivityApi {
    /// Reads from `store`, authenticates with `auth`.
    pub fn new(store: impl ActivityStore, auth: impl Authenticate) -> Self {
        Self::from_arcs(Arc::new(store), Arc::new(auth))
    }

    /// As [`new`](Self::new), from shared handles.
    pub fn from_arcs(store: Arc<dyn ActivityStore>, auth: Arc<dyn Authenticate>) -> Self {
        Self {
            store,
            auth,
            logger: None,
            live: None,
            limits: RateLimits::default(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_batch: DEFAULT_MAX_BATCH,
            live_buffer: DEFAULT_LIVE_BUFFER,
            viewer: None,
        }
    }

    /// Ingested activities go through `logger` (batching, spill,
    /// accounting), and the live tail follows it. Default: the logger in
    /// effect when a request arrives ([`crate::current`]).
    pub fn logger(mut self, logger: ActivityLogger) -> Self {
        self.logger = Some(logger);
        self
    }

    /// The live tail follows `feed` instead of the logger (for example a
    /// feed spanning several instances).
    pub fn live_feed(mut self, feed: impl LiveFeed) -> Self {
        self.live = Some(Arc::new(feed));
        self
    }

    /// How many live events a stream client (SSE or WebSocket) may fall
    /// behind before it gets a `lagged` event and misses them (default
    /// [`DEFAULT_LIVE_BUFFER`]). The buffer is shared by every client: each
    /// live activity is held and encoded once, however many clients tail
    /// it, so the server's memory for the tail is bounded by this, not by
    /// the clients' number or speed.
    pub fn live_buffer(mut self, events: usize) -> Self {
        self.live_buffer = events.max(1);
        self
    }

    /// Requests per minute per principal.
    pub fn rate_limits(mut self, limits: RateLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The largest request body accepted (default
    /// [`DEFAULT_MAX_BODY_BYTES`]); a larger one is a `413`.
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// The most activities one ingest request may carry (default
    /// [`DEFAULT_MAX_BATCH`]); more is a `413`.
    pub fn max_batch(mut self, n: usize) -> Self {
        self.max_batch = n.max(1);
        self
    }

    /// Serves the log viewer page at `/ui` (and its assets under `/ui/`),
    /// and accepts the viewer's tokens next to the host's own
    /// authentication: read-only, forced to the token's tenant (and actor).
    /// A token starting with [`VIEWER_TOKEN_PREFIX`](super::VIEWER_TOKEN_PREFIX)
    /// is checked only as a viewer token, never by the host's
    /// [`Authenticate`].
    ///
    /// ```
    /// use activity_log::http::{ActivityApi, Principal, StaticTokens, ViewerTokens};
    /// use activity_log::ActivityLogger;
    /// use std::time::Duration;
    ///
    /// let (logger, store) = ActivityLogger::in_memory();
    /// let tokens = ViewerTokens::new(b"a 32-byte or longer random secret!")?;
    /// let api = ActivityApi::new(store, StaticTokens::new()).logger(logger).viewer(tokens.clone());
    /// let app: axum::Router = axum::Router::new().nest("/api/activity", api.router());
    /// // In the host's own handler, after its login check:
    /// let link = format!("/api/activity/ui#token={}", tokens.mint("acme", None, Duration::from_secs(900))?);
    /// # drop((app, link));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn viewer(mut self, viewer: impl Into<Viewer>) -> Self {
        self.viewer = Some(Arc::new(viewer.into()));
        self
    }

    /// The router: `/activities` and its sub-paths, and `/openapi.json`
    /// (and `/ui` with a [`viewer`](Self::viewer)).
    pub fn router(self) -> Router {
        routes::router(Arc::new(ApiState::new(self)))
    }
}

impl fmt::Debug for ActivityApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActivityApi")
            .field("store", &self.store.name())
            .field("limits", &self.limits)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_batch", &self.max_batch)
            .field("live_buffer", &self.live_buffer)
            .field("viewer", &self.viewer)
            .finish_non_exhaustive()
    }
}

/// What every handler shares.
pub(crate) struct ApiState {
    pub(crate) api: ActivityApi,
    pub(crate) reads: Limiter,
    pub(crate) writes: Limiter,
    relay: Arc<Relay>,
}

impl ApiState {
    fn new(api: ActivityApi) -> Self {
        Self {
            reads: Limiter::reads(&api.limits),
            writes: Limiter::writes(&api.limits),
            relay: Arc::new(Relay::new(api.live_buffer)),
            api,
        }
    }

    /// The logger ingest writes through.
    pub(crate) fn logger(&self) -> Option<ActivityLogger> {
        self.api.logger.clone().or_else(crate::current)
    }

    /// A receiver of the live tail, if there is a source.
    pub(crate) fn subscribe(&self) -> Option<tokio::sync::broadcast::Receiver<Relayed>> {
        self.relay.subscribe(|| match &self.api.live {
            Some(feed) => Some(feed.subscribe()),
            None => self.logger().map(|l| l.subscribe()),
        })
    }
}

/// The router over `store` with `auth`, the defaults otherwise: see
/// [`ActivityApi`].
pub fn router(store: impl ActivityStore, auth: impl Authenticate) -> Router {
    ActivityApi::new(store, auth).router()
}
