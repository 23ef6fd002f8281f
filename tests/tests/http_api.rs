//! The activity router over a real bound port with a real HTTP client:
//! tenant isolation on every endpoint (both stream transports included),
//! streaming exports, live tails, and the error statuses.

use activity_log::http::{ActivityApi, JwtAuth, JwtClaims, RateLimits};
use activity_log::query::ActivityStore;
use activity_log::sqlite::SqliteSink;
use activity_log::{Activity, Sink};
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

mod support;

use support::http_server::{ws_connect, ws_next, Server, SseReader, TENANTS};

fn tenants_of(items: &[Value]) -> Vec<String> {
    items.iter().map(|a| a["tenant"].as_str().unwrap_or("").to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_read_endpoint_is_confined_to_the_principals_tenant() {
    let s = Server::start(|a| a).await;
    s.seed(40).await;
    let foreign_id = s
        .store
        .query(&activity_log::query::ActivityFilter::new().tenant("globex"), &Default::default())
        .await
        .unwrap()
        .items[0]
        .id;

    for t in TENANTS {
        let token = format!("{t}-token");
        // Pages, followed to the end by cursor.
        let mut seen = Vec::new();
        let mut path = "/activities?limit=7".to_owned();
        loop {
            let page = s.get_json(&token, &path).await;
            seen.extend(page["items"].as_array().unwrap().clone());
            match page["next_cursor"].as_str() {
                Some(c) => path = format!("/activities?limit=7&cursor={c}"),
                None => break,
            }
        }
        assert_eq!(seen.len(), 40);
        assert!(tenants_of(&seen).iter().all(|x| x == t), "foreign rows in {t}'s pages");

        // Naming another tenant is refused, not silently narrowed.
        let other = TENANTS.iter().find(|o| **o != t).unwrap();
        for path in ["/activities", "/activities/stats", "/activities/export", "/activities/stream"] {
            let r = s.get(&token, &format!("{path}?tenant={other}")).await;
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path} for another tenant");
        }

        let stats = s.get_json(&token, "/activities/stats").await;
        assert_eq!(stats["total"], 40);

        for format in ["csv", "json", "ndjson"] {
            let body = s.get(&token, &format!("/activities/export?format={format}")).await.text().await.unwrap();
            let tenants: Vec<String> = match format {
                "csv" => csv::Reader::from_reader(body.as_bytes())
                    .deserialize::<std::collections::HashMap<String, String>>()
                    .map(|r| r.unwrap()["tenant"].clone())
                    .collect(),
                "json" => tenants_of(serde_json::from_str::<Vec<Value>>(&body).unwrap().as_slice()),
                _ => tenants_of(&body.lines().map(|l| serde_json::from_str(l).unwrap()).collect::<Vec<Value>>()),
            };
            assert_eq!(tenants.len(), 40, "{format} export of {t}");
            assert!(tenants.iter().all(|x| x == t), "foreign rows in {t}'s {format} export");
        }
    }
    // Another tenant's id reads as not found.
    let r = s.get("acme-token", &format!("/activities/{foreign_id}")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(s.get("globex-token", &format!("/activities/{foreign_id}")).await.status(), StatusCode::OK);
    // The operator sees every tenant.
    assert_eq!(s.get_json("ops", "/activities/stats").await["total"], 120);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_tails_deliver_new_activities_of_the_own_tenant_only_and_resume_without_a_gap() {
    let s = Server::start(|a| a).await;
    let sse = s.get("acme-token", "/activities/stream?type=call_created").await;
    assert_eq!(sse.status(), StatusCode::OK);
    assert!(sse.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let mut sse = SseReader::new(sse);
    let mut ws = ws_connect(&s, "acme-token", "?type=call_created").await;
    // Give both subscriptions a moment to be in place on the server.
    tokio::time::sleep(Duration::from_millis(200)).await;

    for t in TENANTS {
        s.logger.log_async(Activity::new("call_created").tenant(t).description(format!("live {t}")));
        s.logger.log_async(Activity::new("call_ended").tenant(t));
    }
    let (event, first_id, data) = sse.next().await;
    assert_eq!(event, "activity");
    let a: Value = serde_json::from_str(&data).unwrap();
    assert_eq!((a["tenant"].as_str(), a["activity_type"].as_str()), (Some("acme"), Some("call_created")));
    let m = ws_next(&mut ws).await;
    assert_eq!(m["type"], "activity");
    assert_eq!(m["activity"]["tenant"], "acme");
    assert_eq!(m["id"], first_id.as_str());

    // More arrive while nobody listens; a reconnect with Last-Event-ID gets
    // exactly those, from the store, then live ones.
    drop(sse);
    for i in 0..5 {
        s.logger.log_async(Activity::new("call_created").tenant("acme").description(format!("missed {i}")));
        s.logger.log_async(Activity::new("call_created").tenant("globex"));
    }
    s.logger.flush().await.unwrap();
    let resumed = s
        .client
        .get(s.url("/activities/stream?type=call_created"))
        .bearer_auth("acme-token")
        .header("last-event-id", &first_id)
        .send()
        .await
        .unwrap();
    let mut resumed = SseReader::new(resumed);
    for i in 0..5 {
        let (_, _, data) = resumed.next().await;
        let a: Value = serde_json::from_str(&data).unwrap();
        assert_eq!(a["description"], format!("missed {i}"));
    }
    s.logger.log_async(Activity::new("call_created").tenant("acme").description("after resume"));
    let (_, _, data) = resumed.next().await;
    assert_eq!(serde_json::from_str::<Value>(&data).unwrap()["description"], "after resume");
    // The WebSocket saw the same, never a foreign row.
    for _ in 0..6 {
        let m = ws_next(&mut ws).await;
        assert_eq!(m["activity"]["tenant"], "acme");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_of_100_000_rows_streams_and_parses() {
    let s = Server::start(|a| a).await;
    let mut batch = Vec::with_capacity(1000);
    for i in 0..100_000u32 {
        batch.push(
            Activity::new("call_created")
                .tenant("acme")
                .target("call", i)
                .description(format!("call, \"{i}\""))
                .build()
                .unwrap(),
        );
        if batch.len() == 1000 {
            s.store.write_batch(&batch).await.unwrap();
            batch.clear();
        }
    }
    for format in ["csv", "ndjson", "json"] {
        let started = Instant::now();
        let r = s.get("acme-token", &format!("/activities/export?format={format}")).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
        assert!(r.headers().get("content-length").is_none(), "an export is streamed, not sized up front");
        let mut body = r.bytes_stream();
        let mut bytes = Vec::new();
        let mut first_byte = None;
        while let Some(chunk) = body.next().await {
            first_byte.get_or_insert_with(|| started.elapsed());
            bytes.extend_from_slice(&chunk.unwrap());
        }
        let total = started.elapsed();
        let first_byte = first_byte.unwrap();
        assert!(first_byte * 4 < total, "{format}: first bytes after {first_byte:?} of {total:?}: not streamed");
        let rows = match format {
            "csv" => csv::Reader::from_reader(bytes.as_slice()).records().inspect(|r| assert!(r.is_ok())).count(),
            "ndjson" => bytes
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .inspect(|l| assert!(serde_json::from_slice::<Value>(l).is_ok()))
                .count(),
            _ => serde_json::from_slice::<Vec<Value>>(&bytes).unwrap().len(),
        };
        assert_eq!(rows, 100_000, "{format} rows");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_problem_json_with_the_right_status() {
    let s = Server::start(|a| a.max_body_bytes(64 * 1024).rate_limits(RateLimits::new(1000, 3))).await;
    let problem = |r: reqwest::Response, status: StatusCode| async move {
        assert_eq!(r.status(), status);
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["status"], status.as_u16());
        p
    };
    // 401: none, unknown, malformed.
    problem(s.client.get(s.url("/activities")).send().await.unwrap(), StatusCode::UNAUTHORIZED).await;
    problem(s.get("nope", "/activities").await, StatusCode::UNAUTHORIZED).await;
    // 403: no permission; another tenant; ingest into another tenant.
    problem(s.get("no-read", "/activities").await, StatusCode::FORBIDDEN).await;
    let post =
        |token: &'static str, body: Value| s.client.post(s.url("/activities")).bearer_auth(token).json(&body).send();
    problem(
        post("acme-token", json!({"activity_type": "x", "tenant": "globex"})).await.unwrap(),
        StatusCode::FORBIDDEN,
    )
    .await;
    // 400: unknown parameter, bad limit (not clamped), bad cursor, bad time.
    let p = problem(s.get("acme-token", "/activities?typ=call_created").await, StatusCode::BAD_REQUEST).await;
    assert_eq!(p["parameter"], "typ");
    let p = problem(s.get("acme-token", "/activities?limit=1001").await, StatusCode::BAD_REQUEST).await;
    assert_eq!(p["parameter"], "limit");
    problem(s.get("acme-token", "/activities?cursor=zzz").await, StatusCode::BAD_REQUEST).await;
    let p = problem(s.get("acme-token", "/activities?since=yesterday").await, StatusCode::BAD_REQUEST).await;
    assert_eq!(p["parameter"], "since");
    problem(s.get("acme-token", "/activities/not-a-uuid").await, StatusCode::BAD_REQUEST).await;
    // 415, 400 (malformed JSON), 422 (shape; validation naming the field), 413.
    let r = s
        .client
        .post(s.url("/activities"))
        .bearer_auth("ops")
        .body("{}")
        .header("content-type", "text/plain")
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    let r = s
        .client
        .post(s.url("/activities"))
        .bearer_auth("ops")
        .body("{\"activity_type\":")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::BAD_REQUEST).await;
    let s2 = Server::start(|a| a.max_body_bytes(64 * 1024)).await;
    let post2 = |body: Value| s2.client.post(s2.url("/activities")).bearer_auth("ops").json(&body).send();
    let p = problem(
        post2(json!([{"activity_type": "ok"}, {"activity_typ": "x"}])).await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(p["field"].as_str().unwrap().starts_with("[1]"), "{p}");
    let p = problem(
        post2(json!({"activity_type": "x", "description": "a\u{0}b"})).await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["field"], "description");
    assert!(!p["detail"].as_str().unwrap().contains("a\u{0}b"));
    problem(
        post2(json!({"activity_type": "x", "description": "y".repeat(100_000)})).await.unwrap(),
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    // Nothing of a refused request was accepted.
    s2.logger.flush().await.unwrap();
    assert_eq!(s2.store.count(&Default::default()).await.unwrap(), 0);
    // 202 for a good batch, through the logger, with the principal's tenant.
    let r = post2(json!([{"activity_type": "a", "tenant": "acme"}, {"activity_type": "b"}])).await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    s2.logger.flush().await.unwrap();
    assert_eq!(s2.store.count(&Default::default()).await.unwrap(), 2);
    assert_eq!(s2.logger.stats().written, 2);
    // 429 with Retry-After after a burst of 3 writes (3 a minute).
    for _ in 0..3 {
        assert_eq!(post("globex-token", json!({"activity_type": "x"})).await.unwrap().status(), StatusCode::ACCEPTED);
    }
    let r = post("globex-token", json!({"activity_type": "x"})).await.unwrap();
    assert!(r.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    problem(r, StatusCode::TOO_MANY_REQUESTS).await;
    // Another principal has its own budget.
    assert_eq!(post("initech-token", json!({"activity_type": "x"})).await.unwrap().status(), StatusCode::ACCEPTED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_dry_run_counts_and_the_real_run_deletes_only_the_own_tenants_old_rows() {
    let s = Server::start(|a| a).await;
    let old = chrono::Utc::now() - chrono::Duration::days(40);
    let mut batch = Vec::new();
    for t in TENANTS {
        for i in 0..5 {
            batch.push(Activity::new("old").tenant(t).occurred_at(old + chrono::Duration::minutes(i)).build().unwrap());
            batch.push(Activity::new("new").tenant(t).build().unwrap());
        }
    }
    s.store.write_batch(&batch).await.unwrap();
    let retention = |token: &'static str, body: Value| {
        s.client.post(s.url("/activities/retention")).bearer_auth(token).json(&body).send()
    };
    let r = retention("acme-token", json!({"older_than_days": 30, "dry_run": true})).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let dry: Value = r.json().await.unwrap();
    assert_eq!((dry["count"].as_u64(), dry["dry_run"].as_bool()), (Some(5), Some(true)));
    assert_eq!(s.store.count(&Default::default()).await.unwrap(), 30);
    assert_eq!(
        retention("acme-token", json!({"older_than_days": 30, "tenant": "globex"})).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(retention("no-read", json!({"older_than_days": 30})).await.unwrap().status(), StatusCode::FORBIDDEN);
    let done: Value = retention("acme-token", json!({"older_than_days": 30})).await.unwrap().json().await.unwrap();
    assert_eq!(done["count"], 5);
    assert_eq!(s.store.count(&Default::default()).await.unwrap(), 25);
    assert_eq!(s.get_json("globex-token", "/activities/stats").await["total"], 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_principals_are_checked_for_signature_expiry_and_audience() {
    let jwt = JwtAuth::hs256(b"test secret of some length").audience("activity");
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteSink::connect(&format!("sqlite://{}", dir.path().join("j.db").display())).await.unwrap();
    store
        .write_batch(&[
            Activity::new("a").tenant("acme").build().unwrap(),
            Activity::new("a").tenant("globex").build().unwrap(),
        ])
        .await
        .unwrap();
    let app = axum::Router::new().nest("/api/activity", ActivityApi::new(store, jwt.clone()).router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = reqwest::Client::new();
    let get = |token: String| client.get(format!("http://{addr}/api/activity/activities")).bearer_auth(token).send();
    let good =
        JwtClaims::new("u1", Some("acme".into()), Duration::from_secs(60)).grant("activity:read").audience("activity");
    let r = get(jwt.mint(&good).unwrap()).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let page: Value = r.json().await.unwrap();
    assert_eq!(tenants_of(page["items"].as_array().unwrap()), ["acme"]);
    let mut expired = good.clone();
    expired.exp = jsonwebtoken_now() - 3600;
    assert_eq!(get(jwt.mint(&expired).unwrap()).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let wrong_aud =
        JwtClaims::new("u1", Some("acme".into()), Duration::from_secs(60)).grant("activity:read").audience("other");
    assert_eq!(get(jwt.mint(&wrong_aud).unwrap()).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let forged = JwtAuth::hs256(b"another secret").mint(&good).unwrap();
    assert_eq!(get(forged).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let no_grant = JwtClaims::new("u1", Some("acme".into()), Duration::from_secs(60)).audience("activity");
    assert_eq!(get(jwt.mint(&no_grant).unwrap()).await.unwrap().status(), StatusCode::FORBIDDEN);
}

fn jsonwebtoken_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

#[tokio::test]
async fn the_openapi_document_is_served_and_lists_every_endpoint() {
    let s = Server::start(|a| a).await;
    let doc: Value = s.client.get(s.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/activities",
        "/activities/{id}",
        "/activities/stats",
        "/activities/export",
        "/activities/stream",
        "/activities/ws",
        "/activities/retention",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing from the OpenAPI document");
    }
}
