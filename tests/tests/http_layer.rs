//! `ActivityLayer` over a real bound port with a real HTTP client: the
//! context every request gets (request id, client ip through trusted
//! proxies, user agent, traceparent, identity), its visibility inside
//! `#[log_activity]` functions, and the `api_request` activity.

use activity_log::http::{identify_fn, ActivityLayer, Identify, Identity, UNMATCHED_ROUTE};
use activity_log::{log_activity, Activity, ActivityContext, ActivityLogger, Actor, MemorySink, Outcome};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Duration;
use uuid::Uuid;

#[derive(Debug)]
struct NotFound;

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not found")
    }
}

#[log_activity(type = "call_viewed", target = "call", id = id)]
async fn view_call(id: u64) -> Result<u64, NotFound> {
    // Awaiting inside keeps the context across a yield.
    tokio::task::yield_now().await;
    Ok(id)
}

/// Calls a `#[log_activity]` function and answers with the context the
/// handler sees and the request id header the layer left on the request.
async fn show(State(logger): State<ActivityLogger>, Path(id): Path<u64>, headers: HeaderMap) -> Json<Value> {
    // The test's own logger (axum runs each connection in its own task, so
    // a scope around the server would not reach here).
    let _ = logger.scope(view_call(id)).await;
    let ctx = ActivityContext::current().unwrap_or_default();
    Json(json!({
        "request_id": ctx.request_id,
        "request_id_header": headers.get("x-request-id").and_then(|v| v.to_str().ok()),
        "ip": ctx.ip,
        "user_agent": ctx.user_agent,
        "trace_id": ctx.trace_id,
        "actor": ctx.actor.and_then(|a| a.id),
        "tenant": ctx.tenant,
    }))
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_secs(30)).await;
    "late"
}

fn routes() -> Router<ActivityLogger> {
    Router::new()
        .route("/calls/{id}", get(show))
        .route("/fail", get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }))
        .route("/forbidden", get(|| async { (StatusCode::FORBIDDEN, "no") }))
        .route("/slow", get(slow))
}

struct Server {
    base: String,
    client: reqwest::Client,
    logger: ActivityLogger,
    sink: MemorySink,
}

impl Server {
    /// Serves `routes()` (and a `/health` route) behind `layer`, applied to
    /// every route with `Router::layer`.
    async fn start(layer: ActivityLayer, logger: ActivityLogger, sink: MemorySink) -> Self {
        let app = routes().route("/health", get(|| async { "ok" })).layer(layer).with_state(logger.clone());
        Self::serve(app, logger, sink).await
    }

    async fn serve(app: Router, logger: ActivityLogger, sink: MemorySink) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(async move {
            axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await.expect("serve");
        });
        let client = reqwest::Client::builder().user_agent("http-layer-test/1.0").build().expect("client");
        Server { base: format!("http://{addr}"), client, logger, sink }
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(format!("{}{path}", self.base))
    }

    /// Sends `request`, returns the echoed request id and the JSON body.
    async fn context(&self, request: reqwest::RequestBuilder) -> (String, Value) {
        let response = request.send().await.expect("request");
        assert_eq!(response.status(), 200);
        let echoed = response.headers()["x-request-id"].to_str().expect("ascii").to_owned();
        (echoed, response.json().await.expect("json"))
    }

    async fn flushed(&self) -> &MemorySink {
        self.logger.flush().await.expect("flush");
        &self.sink
    }
}

fn memory() -> (ActivityLogger, MemorySink) {
    ActivityLogger::in_memory()
}

async fn plain_server() -> Server {
    let (logger, sink) = memory();
    Server::start(ActivityLayer::new(), logger, sink).await
}

fn is_uuid_v7(text: &str) -> bool {
    Uuid::parse_str(text).is_ok_and(|id| id.get_version_num() == 7)
}

#[tokio::test]
async fn request_id_is_generated_echoed_and_seen_by_the_handler() {
    let server = plain_server().await;
    let (echoed, body) = server.context(server.get("/calls/1")).await;
    assert!(is_uuid_v7(&echoed), "{echoed}");
    assert_eq!(body["request_id"], echoed);
    assert_eq!(body["request_id_header"], echoed);
    let viewed = server.flushed().await.assert_logged("call_viewed");
    assert_eq!(viewed.request_id.as_deref(), Some(echoed.as_str()));

    // Two requests, two ids.
    let (other, _) = server.context(server.get("/calls/1")).await;
    assert_ne!(other, echoed);
}

#[tokio::test]
async fn a_sane_request_id_is_accepted_and_an_insane_one_replaced() {
    let server = plain_server().await;
    let (echoed, body) = server.context(server.get("/calls/2").header("x-request-id", "req-2_abc.DEF")).await;
    assert_eq!((echoed.as_str(), body["request_id"].as_str()), ("req-2_abc.DEF", Some("req-2_abc.DEF")));

    let too_long = "a".repeat(activity_log::http::MAX_REQUEST_ID_LEN + 1);
    for insane in ["has spaces", too_long.as_str(), "semi;colon\tand tab"] {
        let (echoed, body) = server.context(server.get("/calls/3").header("x-request-id", insane)).await;
        assert!(is_uuid_v7(&echoed), "{insane:?} was echoed as {echoed}");
        assert_eq!(body["request_id"], echoed);
        assert_eq!(body["request_id_header"], echoed);
    }
    let logged: Vec<_> =
        server.flushed().await.of_type("call_viewed").into_iter().filter_map(|a| a.request_id).collect();
    assert_eq!(logged.len(), 4);
    assert_eq!(logged[0], "req-2_abc.DEF");
    assert!(logged[1..].iter().all(|id| is_uuid_v7(id)));
}

#[tokio::test]
async fn forged_x_forwarded_for_from_an_untrusted_peer_is_ignored() {
    let (logger, sink) = memory();
    // Proxies are trusted, but not the loopback this client connects from.
    let layer = ActivityLayer::builder().trusted_proxies(["10.0.0.0/8"]).build().expect("layer");
    let server = Server::start(layer, logger, sink).await;
    let (_, body) = server.context(server.get("/calls/4").header("x-forwarded-for", "203.0.113.9")).await;
    assert_eq!(body["ip"], "127.0.0.1");
    let viewed = server.flushed().await.assert_logged("call_viewed");
    assert_eq!(viewed.ip.as_deref(), Some("127.0.0.1"));
}

#[tokio::test]
async fn x_forwarded_for_from_a_trusted_peer_is_honoured_from_the_right() {
    let (logger, sink) = memory();
    let layer = ActivityLayer::builder().trusted_proxies(["127.0.0.1", "::1", "10.0.0.0/8"]).build().expect("layer");
    let server = Server::start(layer, logger, sink).await;
    let (_, body) = server.context(server.get("/calls/5").header("x-forwarded-for", "203.0.113.9")).await;
    assert_eq!(body["ip"], "203.0.113.9");
    // The client forged the leftmost entry; a trusted internal proxy added a hop.
    let chain = "6.6.6.6, 198.51.100.4, 10.2.3.4";
    let (_, body) = server.context(server.get("/calls/6").header("x-forwarded-for", chain)).await;
    assert_eq!(body["ip"], "198.51.100.4");
    // No header: the trusted peer itself.
    let (_, body) = server.context(server.get("/calls/7")).await;
    assert_eq!(body["ip"], "127.0.0.1");
    let ips: Vec<_> = server.flushed().await.of_type("call_viewed").into_iter().filter_map(|a| a.ip).collect();
    assert_eq!(ips, ["203.0.113.9", "198.51.100.4", "127.0.0.1"]);
}

#[tokio::test]
async fn traceparent_gives_the_trace_id_and_user_agent_is_kept() {
    let server = plain_server().await;
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let header = format!("00-{trace}-00f067aa0ba902b7-01");
    let (_, body) = server.context(server.get("/calls/8").header("traceparent", header)).await;
    assert_eq!(body["trace_id"], trace);
    assert_eq!(body["user_agent"], "http-layer-test/1.0");
    let zero = format!("00-{}-00f067aa0ba902b7-01", "0".repeat(32));
    let (_, body) = server.context(server.get("/calls/9").header("traceparent", zero)).await;
    assert_eq!(body["trace_id"], Value::Null);
    let viewed = server.flushed().await.of_type("call_viewed");
    assert_eq!(viewed[0].trace_id.as_deref(), Some(trace));
    assert_eq!(viewed[0].user_agent.as_deref(), Some("http-layer-test/1.0"));
    assert_eq!(viewed[1].trace_id, None);
}

/// An identifier that takes its time, as one asking a session store would.
struct Sessions;

impl Identify for Sessions {
    async fn identify(&self, parts: &axum::http::request::Parts) -> Identity {
        tokio::time::sleep(Duration::from_millis(2)).await;
        match parts.headers.get("authorization").and_then(|v| v.to_str().ok()) {
            Some("Bearer agent-7") => Identity::anonymous().actor(Actor::user("agent-7")).tenant("acme"),
            Some("Bearer key-9") => Identity::anonymous().actor(Actor::api_key("key-9")).tenant("globex"),
            _ => Identity::anonymous(),
        }
    }
}

#[tokio::test]
async fn the_identifier_fills_actor_and_tenant() {
    let (logger, sink) = memory();
    let layer = ActivityLayer::builder().identify(Sessions).record_requests(true).logger(logger.clone()).build();
    let server = Server::start(layer.expect("layer"), logger, sink).await;
    let (_, body) = server.context(server.get("/calls/10").bearer_auth("agent-7")).await;
    assert_eq!((&body["actor"], &body["tenant"]), (&json!("agent-7"), &json!("acme")));
    let (_, body) = server.context(server.get("/calls/11").bearer_auth("key-9")).await;
    assert_eq!((&body["actor"], &body["tenant"]), (&json!("key-9"), &json!("globex")));
    let (_, body) = server.context(server.get("/calls/12")).await;
    assert_eq!((&body["actor"], &body["tenant"]), (&Value::Null, &Value::Null));

    let sink = server.flushed().await;
    for (id, tenant) in [("10", Some("acme")), ("11", Some("globex")), ("12", None)] {
        let viewed = sink.for_target("call", id);
        assert_eq!(viewed.len(), 1);
        assert_eq!(viewed[0].tenant.as_deref(), tenant);
    }
    // The api_request activity carries the identity too.
    let requests = sink.of_type("api_request");
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[0].actor.as_ref().and_then(|a| a.id.as_deref()), Some("agent-7"));
    assert_eq!(requests[1].tenant.as_deref(), Some("globex"));
}

#[tokio::test]
async fn a_closure_identifier_works_too() {
    let (logger, sink) = memory();
    let identify = identify_fn(|parts: &axum::http::request::Parts| {
        let user = parts.headers.get("x-user").and_then(|v| v.to_str().ok()).map(str::to_owned);
        async move { Identity::anonymous().actor(Actor::user(user.unwrap_or_else(|| "anonymous".into()))) }
    });
    let layer = ActivityLayer::builder().identify(identify).build().expect("layer");
    let server = Server::start(layer, logger, sink).await;
    let (_, body) = server.context(server.get("/calls/13").header("x-user", "maria")).await;
    assert_eq!(body["actor"], "maria");
}

#[tokio::test]
async fn the_context_is_visible_in_log_activity_functions() {
    let (logger, sink) = memory();
    let layer = ActivityLayer::builder().identify(Sessions).trusted_proxies(["127.0.0.1"]).build().expect("layer");
    let server = Server::start(layer, logger, sink).await;
    let trace = "0af7651916cd43dd8448eb211c80319c";
    let request = server
        .get("/calls/42")
        .bearer_auth("agent-7")
        .header("x-request-id", "req-42")
        .header("x-forwarded-for", "198.51.100.7")
        .header("traceparent", format!("00-{trace}-b7ad6b7169203331-01"));
    server.context(request).await;
    let viewed = server.flushed().await.assert_logged("call_viewed");
    assert_eq!(viewed.target.as_ref().and_then(|t| t.id.as_deref()), Some("42"));
    assert_eq!(viewed.request_id.as_deref(), Some("req-42"));
    assert_eq!(viewed.ip.as_deref(), Some("198.51.100.7"));
    assert_eq!(viewed.user_agent.as_deref(), Some("http-layer-test/1.0"));
    assert_eq!(viewed.trace_id.as_deref(), Some(trace));
    assert_eq!(viewed.actor.as_ref().and_then(|a| a.id.as_deref()), Some("agent-7"));
    assert_eq!(viewed.tenant.as_deref(), Some("acme"));
}

fn recording(logger: &ActivityLogger) -> ActivityLayer {
    ActivityLayer::builder().record_requests(true).skip_route("/health").logger(logger.clone()).build().expect("layer")
}

fn request_activity(sink: &MemorySink, request_id: &str) -> Activity {
    sink.assert_logged_with("api_request", |a| a.request_id.as_deref() == Some(request_id))
}

#[tokio::test]
async fn api_request_records_the_route_template_never_the_raw_path() {
    let (logger, sink) = memory();
    let server = Server::start(recording(&logger), logger, sink).await;
    let (id, _) = server.context(server.get("/calls/987654321")).await;
    let missing = server.get("/calls/987654321/secret-token-xyz").send().await.expect("request");
    assert_eq!(missing.status(), 404);
    let missing_id = missing.headers()["x-request-id"].to_str().expect("ascii").to_owned();
    let fail = server.get("/fail").send().await.expect("request");
    let fail_id = fail.headers()["x-request-id"].to_str().expect("ascii").to_owned();
    let denied = server.get("/forbidden").send().await.expect("request");
    let denied_id = denied.headers()["x-request-id"].to_str().expect("ascii").to_owned();

    let sink = server.flushed().await;
    let ok = request_activity(sink, &id);
    assert_eq!(ok.metadata["path"], "/calls/{id}");
    assert_eq!((&ok.metadata["method"], &ok.metadata["status"]), (&json!("GET"), &json!(200)));
    assert_eq!(ok.outcome, Outcome::Success);
    assert!(ok.duration.is_some());
    assert_eq!(ok.ip.as_deref(), Some("127.0.0.1"));

    let not_found = request_activity(sink, &missing_id);
    assert_eq!(not_found.metadata["path"], UNMATCHED_ROUTE);
    assert_eq!((&not_found.metadata["status"], not_found.outcome), (&json!(404), Outcome::Failure));
    let failed = request_activity(sink, &fail_id);
    assert_eq!((&failed.metadata["status"], failed.outcome), (&json!(500), Outcome::Failure));
    let forbidden = request_activity(sink, &denied_id);
    assert_eq!((&forbidden.metadata["status"], forbidden.outcome), (&json!(403), Outcome::Denied));

    // No activity anywhere holds the raw path.
    for a in sink.activities() {
        let text = serde_json::to_string(&a).expect("json");
        assert!(!text.contains("987654321") || a.activity_type == "call_viewed", "{text}");
        assert!(!text.contains("secret-token-xyz"), "{text}");
    }
}

#[tokio::test]
async fn a_skipped_route_logs_nothing() {
    let (logger, sink) = memory();
    let server = Server::start(recording(&logger), logger, sink).await;
    let health = server.get("/health").send().await.expect("request");
    assert_eq!(health.status(), 200);
    // Still in the layer: it has a request id.
    assert!(is_uuid_v7(health.headers()["x-request-id"].to_str().expect("ascii")));
    server.context(server.get("/calls/1")).await;
    let sink = server.flushed().await;
    let paths: Vec<_> = sink.of_type("api_request").into_iter().map(|a| a.metadata["path"].clone()).collect();
    assert_eq!(paths, [json!("/calls/{id}")]);
}

#[tokio::test]
async fn route_layer_leaves_out_the_routes_added_after_it() {
    let (logger, sink) = memory();
    let layer = ActivityLayer::builder().record_requests(true).logger(logger.clone()).build().expect("layer");
    let app = routes().route_layer(layer).route("/health", get(|| async { "ok" })).with_state(logger.clone());
    let server = Server::serve(app, logger, sink).await;
    let health = server.get("/health").send().await.expect("request");
    assert_eq!(health.status(), 200);
    assert!(health.headers().get("x-request-id").is_none());
    server.context(server.get("/calls/1")).await;
    let sink = server.flushed().await;
    assert_eq!(sink.of_type("api_request").len(), 1);
    assert_eq!(sink.assert_logged("api_request").metadata["path"], "/calls/{id}");
}

#[tokio::test]
async fn skip_when_predicate_logs_nothing_for_matching_requests() {
    let (logger, sink) = memory();
    let layer = ActivityLayer::builder()
        .record_requests(true)
        .skip_when(|parts| parts.headers.contains_key("x-probe"))
        .logger(logger.clone())
        .build()
        .expect("layer");
    let server = Server::start(layer, logger, sink).await;
    server.context(server.get("/calls/1").header("x-probe", "1")).await;
    let (id, _) = server.context(server.get("/calls/2")).await;
    let sink = server.flushed().await;
    assert_eq!(sink.of_type("api_request").len(), 1);
    request_activity(sink, &id);
}

#[tokio::test]
async fn a_request_the_client_abandons_is_recorded_as_499() {
    let (logger, sink) = memory();
    let server = Server::start(recording(&logger), logger, sink).await;
    let abandoned = server.get("/slow").header("x-request-id", "gone-1").timeout(Duration::from_millis(200)).send();
    assert!(abandoned.await.is_err());
    // The server notices the closed connection and drops the handler.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        server.logger.flush().await.expect("flush");
        if let Some(a) =
            server.sink.of_type("api_request").into_iter().find(|a| a.request_id.as_deref() == Some("gone-1"))
        {
            assert_eq!((&a.metadata["status"], a.outcome), (&json!(499), Outcome::Failure));
            assert_eq!(a.metadata["path"], "/slow");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no api_request for the abandoned request");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn any_tower_service_works_without_axum_routing() {
    use tower::{Layer, ServiceExt};
    let (logger, sink) = memory();
    let layer = recording(&logger);
    let inner = tower::service_fn(|request: http::Request<String>| {
        let logger = logger.clone();
        async move {
            logger.log_async(Activity::new("echoed").meta("len", request.body().len()));
            Ok::<_, std::convert::Infallible>(http::Response::new(request.into_body()))
        }
    });
    let service = layer.layer(inner);
    let request = http::Request::builder().uri("/anything/77").header("x-request-id", "tower-1").body("hi".to_owned());
    let response = service.oneshot(request.expect("request")).await.expect("infallible");
    assert_eq!(response.headers()["x-request-id"], "tower-1");
    assert_eq!(response.body(), "hi");
    logger.flush().await.expect("flush");
    assert_eq!(sink.assert_logged("echoed").request_id.as_deref(), Some("tower-1"));
    let request = sink.assert_logged("api_request");
    // No MatchedPath and no ConnectInfo: a placeholder route and no ip.
    assert_eq!((request.metadata["path"].as_str(), request.ip.as_deref()), (Some(UNMATCHED_ROUTE), None));
}
