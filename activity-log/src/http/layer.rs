//! [`ActivityLayer`]: the tower layer that fills the ambient
//! [`ActivityContext`](crate::ActivityContext) from every request, and its
//! builder.

use super::api_request::Recording;
use super::client_ip::{ProxyHeader, TrustedProxies};
use super::identify::{ErasedIdentify, Identify};
use super::layer_service::ActivityService;
use crate::ActivityLogger;
use http::request::Parts;
use ipnet::IpNet;
use std::net::IpAddr;
use std::sync::Arc;

/// A [`tower::Layer`] that runs the inner service in an
/// [`ActivityContext`](crate::ActivityContext) filled from the request, so
/// every activity logged while handling it (in `#[log_activity]` functions
/// too) carries:
///
/// - `request_id`: the client's `x-request-id` when it is sane (1 to
///   [`MAX_REQUEST_ID_LEN`](super::MAX_REQUEST_ID_LEN) bytes of visible
///   ASCII), else a new UUIDv7. The id in use replaces the request's
///   `x-request-id` and is echoed on the response.
/// - `ip`: the peer address from axum's `ConnectInfo<SocketAddr>` (serve
///   with `into_make_service_with_connect_info::<SocketAddr>()`); the
///   `X-Forwarded-For` (or `Forwarded`, see [`ProxyHeader`]) chain only when
///   the peer is a [trusted proxy](ActivityLayerBuilder::trusted_proxies).
///   Without `ConnectInfo` no ip is set.
/// - `user_agent` (cut to [`limits::MAX_USER_AGENT_LEN`](crate::limits::MAX_USER_AGENT_LEN)),
///   and `trace_id` from a valid W3C `traceparent`.
/// - `actor` and `tenant` from the host's [`Identify`], when one is set.
///
/// With [`record_requests`](ActivityLayerBuilder::record_requests), it also
/// logs one [`Activity::api_request`](crate::Activity::api_request) per
/// request: method, route template, status and duration (to the response
/// head; a streamed body's time is not included). The outcome follows the
/// status as that preset documents: 2xx and 3xx success, 401 and 403
/// denied, other 4xx and 5xx failure. An error from the inner service is
/// recorded as status 500, and a request whose future is dropped before the
/// response (the client went away) as 499.
///
/// It works with any tower service taking an `http::Request<B>` and
/// returning an `http::Response<_>`, not only axum's.
///
/// ```
/// use activity_log::http::ActivityLayer;
/// use activity_log::{log_activity, ActivityLogger};
/// use axum::{extract::Path, routing::get, Router};
/// use std::net::SocketAddr;
///
/// #[log_activity(type = "call_viewed", target = "call", id = id)]
/// async fn view_call(id: u64) -> Result<String, std::io::Error> {
///     Ok(format!("call {id}"))
/// }
///
/// async fn show(Path(id): Path<u64>) -> String {
///     // The activity logged here carries the request's id, ip, user agent...
///     view_call(id).await.unwrap_or_default()
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (logger, sink) = ActivityLogger::in_memory();
/// # let _ = activity_log::set_global(logger.clone());
/// let layer = ActivityLayer::builder()
///     .trusted_proxies(["10.0.0.0/8", "127.0.0.1"]) // the load balancers in front
///     .record_requests(true) // one api_request activity per request...
///     .skip_route("/health") // ...but none for health checks
///     .logger(logger.clone())
///     .build()?;
/// let app = Router::new()
///     .route("/calls/{id}", get(show))
///     .route("/health", get(|| async { "ok" }))
///     .layer(layer); // per route: the route template is known
///
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let server = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>());
/// # let _ = server;
/// # Ok(()) }
/// ```
///
/// To give only some routes the `api_request` activity, apply a recording
/// layer with [`Router::route_layer`](axum::Router::route_layer), which
/// wraps only the routes added before it:
///
/// ```
/// # use activity_log::http::ActivityLayer;
/// # use axum::{routing::get, Router};
/// # fn app() -> Result<Router, activity_log::http::LayerError> {
/// let app = Router::new()
///     .route("/calls", get(|| async { "calls" }))
///     .route_layer(ActivityLayer::builder().record_requests(true).build()?) // recorded
///     .route("/health", get(|| async { "ok" })); // neither recorded nor in the layer
/// # Ok(app) }
/// ```
#[derive(Debug, Clone)]
pub struct ActivityLayer {
    shared: Arc<Shared>,
}

/// What every service made by one layer shares.
pub(crate) struct Shared {
    pub(crate) proxies: TrustedProxies,
    pub(crate) identify: Option<Arc<dyn ErasedIdentify>>,
    pub(crate) recording: Option<Recording>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("proxies", &self.proxies)
            .field("identify", &self.identify.as_ref().map(|_| "Identify"))
            .field("recording", &self.recording)
            .finish()
    }
}

impl ActivityLayer {
    /// The layer with every default: context only, no trusted proxies, no
    /// identifier, no `api_request` activity.
    pub fn new() -> Self {
        Self { shared: Arc::new(Shared { proxies: TrustedProxies::default(), identify: None, recording: None }) }
    }

    /// A builder for a configured layer.
    pub fn builder() -> ActivityLayerBuilder {
        ActivityLayerBuilder::default()
    }
}

impl Default for ActivityLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> tower::Layer<S> for ActivityLayer {
    type Service = ActivityService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ActivityService::new(inner, Arc::clone(&self.shared))
    }
}

/// Why [`ActivityLayerBuilder::build`] refused its input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LayerError {
    /// A trusted proxy is neither an IP address nor a CIDR network.
    #[error(
        "trusted proxy `{value}` is neither an IP address nor a CIDR network (such as `10.0.0.0/8` or `fd00::/8`)"
    )]
    TrustedProxy {
        /// The value given.
        value: String,
    },
    /// A route to skip is not a route template.
    #[error("route to skip `{value}` is not a route template: it must start with `/` (such as `/health` or `/users/{{id}}`)")]
    SkipRoute {
        /// The value given.
        value: String,
    },
}

/// Builds an [`ActivityLayer`]. Options are stored in any order and checked
/// once, in [`build`](Self::build).
#[derive(Default)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct ActivityLayerBuilder {
    trusted_proxies: Vec<String>,
    proxy_header: ProxyHeader,
    identify: Option<Arc<dyn ErasedIdentify>>,
    record_requests: bool,
    skip_routes: Vec<String>,
    skip_when: Option<super::api_request::SkipWhen>,
    logger: Option<ActivityLogger>,
}

impl std::fmt::Debug for ActivityLayerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActivityLayerBuilder")
            .field("trusted_proxies", &self.trusted_proxies)
            .field("proxy_header", &self.proxy_header)
            .field("identify", &self.identify.as_ref().map(|_| "Identify"))
            .field("record_requests", &self.record_requests)
            .field("skip_routes", &self.skip_routes)
            .field("skip_when", &self.skip_when.as_ref().map(|_| "Fn(&Parts) -> bool"))
            .field("logger", &self.logger.as_ref().map(|_| "ActivityLogger"))
            .finish()
    }
}

impl ActivityLayerBuilder {
    /// Adds trusted proxies: IP addresses (`127.0.0.1`, `::1`) or CIDR
    /// networks (`10.0.0.0/8`, `fd00::/8`). Only a peer inside one of them
    /// may say, in the [`proxy_header`](Self::proxy_header), whose request
    /// it forwards. None by default: the peer is the client.
    pub fn trusted_proxies<I>(mut self, proxies: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.trusted_proxies.extend(proxies.into_iter().map(|p| p.as_ref().to_owned()));
        self
    }

    /// The header the trusted proxies write; [`ProxyHeader::XForwardedFor`]
    /// by default. Only this one is read.
    pub fn proxy_header(mut self, header: ProxyHeader) -> Self {
        self.proxy_header = header;
        self
    }

    /// The host's identifier, asked for the actor and tenant of every
    /// request before the inner service runs.
    pub fn identify(mut self, identify: impl Identify) -> Self {
        self.identify = Some(Arc::new(identify));
        self
    }

    /// Whether to log one `api_request` activity per request; off by
    /// default.
    pub fn record_requests(mut self, on: bool) -> Self {
        self.record_requests = on;
        self
    }

    /// A route template (as given to axum's `Router::route`, such as
    /// `/health`) whose requests are not recorded. Without a matched route
    /// (no axum router inside), it is compared with the request's path.
    pub fn skip_route(mut self, route: impl Into<String>) -> Self {
        self.skip_routes.push(route.into());
        self
    }

    /// A predicate on the request's head: requests for which it returns
    /// `true` are not recorded. It runs before the inner service, and must
    /// be cheap.
    pub fn skip_when(mut self, skip: impl Fn(&Parts) -> bool + Send + Sync + 'static) -> Self {
        self.skip_when = Some(Arc::new(skip));
        self
    }

    /// The logger the `api_request` activities go to. By default, the
    /// logger in effect where the request is served (see
    /// [`log_async`](crate::log_async)).
    pub fn logger(mut self, logger: ActivityLogger) -> Self {
        self.logger = Some(logger);
        self
    }

    /// Checks the options and builds the layer.
    pub fn build(self) -> Result<ActivityLayer, LayerError> {
        let nets = self.trusted_proxies.iter().map(|p| parse_net(p)).collect::<Result<Vec<_>, _>>()?;
        if let Some(bad) = self.skip_routes.iter().find(|r| !r.starts_with('/')) {
            return Err(LayerError::SkipRoute { value: bad.clone() });
        }
        let recording = self.record_requests.then(|| Recording {
            skip_routes: self.skip_routes.into_iter().map(String::into_boxed_str).collect(),
            skip_when: self.skip_when,
            logger: self.logger,
        });
        let shared =
            Shared { proxies: TrustedProxies::new(nets, self.proxy_header), identify: self.identify, recording };
        Ok(ActivityLayer { shared: Arc::new(shared) })
    }
}

fn parse_net(text: &str) -> Result<IpNet, LayerError> {
    let trimmed = text.trim();
    trimmed
        .parse::<IpNet>()
        .or_else(|_| trimmed.parse::<IpAddr>().map(IpNet::from))
        .map(|net| net.trunc())
        .map_err(|_| LayerError::TrustedProxy { value: text.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_input_is_a_typed_error_naming_it() {
        let err = ActivityLayer::builder().trusted_proxies(["10.0.0.0/8", "10.0.0.0/33"]).build().unwrap_err();
        assert_eq!(err, LayerError::TrustedProxy { value: "10.0.0.0/33".into() });
        assert!(err.to_string().contains("`10.0.0.0/33`"));
        let err = ActivityLayer::builder().trusted_proxies(["localhost"]).build().unwrap_err();
        assert_eq!(err, LayerError::TrustedProxy { value: "localhost".into() });
        let err = ActivityLayer::builder().skip_route("health").build().unwrap_err();
        assert_eq!(err, LayerError::SkipRoute { value: "health".into() });
    }

    #[test]
    fn addresses_and_networks_are_accepted() {
        let layer = ActivityLayer::builder().trusted_proxies(["127.0.0.1", "::1", " 10.1.2.3/8 ", "fd00::/8"]).build();
        let layer = layer.unwrap();
        let proxies = &layer.shared.proxies;
        let mut h = http::HeaderMap::new();
        h.insert("x-forwarded-for", http::HeaderValue::from_static("198.51.100.1"));
        for peer in ["127.0.0.1", "::1", "10.200.0.1", "fd12::1"] {
            assert_eq!(proxies.client_ip(peer.parse().unwrap(), &h).to_string(), "198.51.100.1", "{peer}");
        }
        for peer in ["11.0.0.1", "127.0.0.2", "fe00::1"] {
            assert_eq!(proxies.client_ip(peer.parse().unwrap(), &h).to_string(), peer);
        }
    }
}
