//! What the HTTP router's test binaries share: a server over a real bound
//! port with a SQLite store, static tokens for three tenants, and readers
//! for the two live-tail transports. Each binary uses part of it.
#![allow(dead_code)]

use activity_log::http::{ActivityApi, Principal, RateLimits, StaticTokens};
use activity_log::sqlite::SqliteSink;
use activity_log::{Activity, ActivityLogger, Actor, Sink};
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;

pub const TENANTS: [&str; 3] = ["acme", "globex", "initech"];

pub fn auth() -> StaticTokens {
    let mut auth = StaticTokens::new()
        .token("ops", Principal::all_tenants("ops").read().ingest().admin())
        .token("no-read", Principal::tenant("acme-writer", "acme").ingest());
    for t in TENANTS {
        auth = auth.token(format!("{t}-token"), Principal::tenant(format!("{t}-app"), t).read().ingest().admin());
    }
    auth
}

pub struct Server {
    pub addr: SocketAddr,
    pub logger: ActivityLogger,
    pub store: SqliteSink,
    pub client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Server {
    pub async fn start(configure: impl FnOnce(ActivityApi) -> ActivityApi) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteSink::connect(&format!("sqlite://{}", dir.path().join("log.db").display())).await.unwrap();
        let logger = ActivityLogger::builder()
            .sink(store.clone())
            .batch_timeout(Duration::from_millis(5))
            .subscriber_capacity(64)
            .build()
            .unwrap();
        let api = configure(
            ActivityApi::new(store.clone(), auth()).logger(logger.clone()).rate_limits(RateLimits::unlimited()),
        );
        let app = axum::Router::new().nest("/api/activity", api.router());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { addr, logger, store, client: reqwest::Client::new(), _dir: dir }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}/api/activity{path}", self.addr)
    }

    pub async fn get(&self, token: &str, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).bearer_auth(token).send().await.unwrap()
    }

    pub async fn get_json(&self, token: &str, path: &str) -> Value {
        let r = self.get(token, path).await;
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        r.json().await.unwrap()
    }

    /// Writes `n` activities per tenant straight into the store.
    pub async fn seed(&self, n: usize) {
        let mut batch = Vec::new();
        for i in 0..n {
            for t in TENANTS {
                batch.push(
                    Activity::new(if i % 2 == 0 { "call_created" } else { "call_ended" })
                        .tenant(t)
                        .target("call", i)
                        .actor(Actor::user(format!("{t}-agent-{}", i % 3)))
                        .description(format!("{t} call {i}"))
                        .meta("queue", "sales")
                        .build()
                        .unwrap(),
                );
            }
        }
        for chunk in batch.chunks(1000) {
            self.store.write_batch(chunk).await.unwrap();
        }
    }
}

/// Reads SSE events (`event`, `id`, `data`) from a response body.
pub struct SseReader {
    body: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes_compat::Bytes>> + Send>>,
    buf: String,
}

mod bytes_compat {
    pub type Bytes = axum::body::Bytes;
}

impl SseReader {
    pub fn new(r: reqwest::Response) -> Self {
        Self { body: Box::pin(r.bytes_stream()), buf: String::new() }
    }

    pub async fn next(&mut self) -> (String, String, String) {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let (mut event, mut id, mut data) = (String::new(), String::new(), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("id:") {
                        id = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if event.is_empty() && data.is_empty() {
                    continue; // a keep-alive comment
                }
                return (event, id, data);
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.body.next())
                .await
                .expect("an SSE event within 10 s")
                .expect("the stream stays open")
                .unwrap();
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

pub async fn ws_connect(
    s: &Server,
    token: &str,
    query: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{}/api/activity/activities/ws{query}", s.addr).into_client_request().unwrap();
    request.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

pub async fn ws_next(
    ws: &mut tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a message within 10 s")
            .unwrap()
            .unwrap();
        if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
            return serde_json::from_str(t.as_str()).unwrap();
        }
    }
}
