//! The checks every store must pass.

use super::{assert_filter, expected_ids, ids, read_all, seed, Dataset, Subject, ACTIVITY_TYPES, TENANTS};
use activity_log::query::{
    ActivityFilter, ActivityStore, Bucket, ExportFormat, Order, PageRequest, QueryError, StatsRequest, MAX_PAGE_SIZE,
};
use activity_log::{Activity, Outcome, Severity};
use chrono::{DateTime, Duration, DurationRound, TimeDelta, Utc};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use uuid::Uuid;

/// A predicate over activities.
type Pred = Box<dyn Fn(&Activity) -> bool>;

fn tenant_is(a: &Activity, t: &str) -> bool {
    a.tenant.as_deref() == Some(t)
}

fn target_kind(a: &Activity) -> Option<&str> {
    a.target.as_ref().map(|t| t.kind.as_str())
}

fn target_id(a: &Activity) -> Option<&str> {
    a.target.as_ref().and_then(|t| t.id.as_deref())
}

fn actor_id(a: &Activity) -> Option<&str> {
    a.actor.as_ref().and_then(|x| x.id.as_deref())
}

/// Every filter on its own, in both orders, against an independent
/// computation.
pub async fn each_filter_alone(s: Subject) {
    let data = seed(&*s.sink).await;
    let store = &*s.store;
    let all = &data.activities;
    let week_ago = data.base - Duration::days(7);
    let day_ago = data.base - Duration::hours(24);
    let cases: Vec<(&str, ActivityFilter, Pred)> = vec![
        ("everything", ActivityFilter::new(), Box::new(|_| true)),
        ("tenant", ActivityFilter::new().tenant("globex"), Box::new(|a| tenant_is(a, "globex"))),
        (
            "one type",
            ActivityFilter::new().activity_type("call_created"),
            Box::new(|a| a.activity_type == "call_created"),
        ),
        (
            "several types",
            ActivityFilter::new().activity_types(["chat_created", "chat_ended", "no_such_type"]),
            Box::new(|a| a.activity_type == "chat_created" || a.activity_type == "chat_ended"),
        ),
        (
            "target kind",
            ActivityFilter::new().target_kind("connector"),
            Box::new(|a| target_kind(a) == Some("connector")),
        ),
        ("target id", ActivityFilter::new().target_id(7), Box::new(|a| target_id(a) == Some("7"))),
        (
            "target",
            ActivityFilter::new().target("call", 7),
            Box::new(|a| target_kind(a) == Some("call") && target_id(a) == Some("7")),
        ),
        ("actor", ActivityFilter::new().actor_id("agent-3"), Box::new(|a| actor_id(a) == Some("agent-3"))),
        ("outcome", ActivityFilter::new().outcome(Outcome::Denied), Box::new(|a| a.outcome == Outcome::Denied)),
        ("severity", ActivityFilter::new().severity(Severity::Warning), Box::new(|a| a.severity == Severity::Warning)),
        (
            "request id",
            ActivityFilter::new().request_id("req-42"),
            Box::new(|a| a.request_id.as_deref() == Some("req-42")),
        ),
        ("since", ActivityFilter::new().since(week_ago), Box::new(move |a| a.occurred_at >= week_ago)),
        ("until", ActivityFilter::new().until(week_ago), Box::new(move |a| a.occurred_at < week_ago)),
        ("last 24 hours", ActivityFilter::new().last_hours(24), Box::new(move |a| a.occurred_at >= day_ago)),
        (
            "search, case-insensitive",
            ActivityFilter::new().search("VOICEMAIL"),
            Box::new(|a| a.description.as_deref().is_some_and(|d| d.contains("voicemail"))),
        ),
        (
            "search, non-ASCII case-insensitive",
            ActivityFilter::new().search("çall transferred to émile"),
            Box::new(|a| a.description.as_deref().is_some_and(|d| d.starts_with("Ünïcode"))),
        ),
        ("search with LIKE wildcards is literal", ActivityFilter::new().search("status=%"), Box::new(|_| false)),
        (
            "metadata string",
            ActivityFilter::new().metadata("queue", "billing"),
            Box::new(|a| a.metadata.get("queue") == Some(&json!("billing"))),
        ),
        (
            "metadata integer",
            ActivityFilter::new().metadata("attempt", 2),
            Box::new(|a| a.metadata.get("attempt") == Some(&json!(2))),
        ),
        (
            "metadata bool",
            ActivityFilter::new().metadata("vip", true),
            Box::new(|a| a.metadata.get("vip") == Some(&json!(true))),
        ),
        (
            "metadata float",
            ActivityFilter::new().metadata("score", 2.5),
            Box::new(|a| a.metadata.get("score").and_then(Value::as_f64) == Some(2.5)),
        ),
        (
            "metadata float equal to an integer",
            ActivityFilter::new().metadata("score", 3),
            Box::new(|a| a.metadata.get("score").and_then(Value::as_f64) == Some(3.0)),
        ),
        ("metadata string never equals a number", ActivityFilter::new().metadata("attempt", "2"), Box::new(|_| false)),
    ];
    for (what, filter, pred) in cases {
        for order in [Order::NewestFirst, Order::OldestFirst] {
            let expected = expected_ids(all, &pred, order);
            if !what.contains("never") && !what.contains("literal") {
                assert!(!expected.is_empty(), "{what}: the data set must exercise this filter");
            }
            assert_filter(store, &filter.clone().order(order), &expected, &format!("{what} ({order:?})")).await;
        }
    }
}

/// Filters in combination.
pub async fn filters_combined(s: Subject) {
    let data = seed(&*s.sink).await;
    let store = &*s.store;
    let week_ago = data.base - Duration::days(7);
    let month_ago = data.base - Duration::days(30);
    let filter = ActivityFilter::new()
        .tenant("acme")
        .activity_types(["call_created", "call_ended", "call_updated"])
        .since(month_ago)
        .until(week_ago)
        .metadata("queue", "sales");
    let expected = expected_ids(
        &data.activities,
        |a| {
            tenant_is(a, "acme")
                && a.activity_type.starts_with("call_")
                && a.occurred_at >= month_ago
                && a.occurred_at < week_ago
                && a.metadata.get("queue") == Some(&json!("sales"))
        },
        Order::NewestFirst,
    );
    assert!(!expected.is_empty());
    assert_filter(store, &filter, &expected, "tenant + types + range + metadata").await;

    let filter = ActivityFilter::new()
        .tenant("initech")
        .outcome(Outcome::Failure)
        .severity(Severity::Error)
        .target_kind("chat")
        .search("chat ENDED")
        .metadata("attempt", 1)
        .order(Order::OldestFirst);
    let expected = expected_ids(
        &data.activities,
        |a| {
            tenant_is(a, "initech")
                && a.outcome == Outcome::Failure
                && a.severity == Severity::Error
                && target_kind(a) == Some("chat")
                && a.description.as_deref().is_some_and(|d| d.to_lowercase().contains("chat ended"))
                && a.metadata.get("attempt") == Some(&json!(1))
        },
        Order::OldestFirst,
    );
    assert_filter(store, &filter, &expected, "tenant + outcome + severity + kind + search + metadata").await;

    let some = data.activities.iter().find(|a| actor_id(a).is_some() && a.tenant.is_some()).expect("an actor");
    let (tenant, actor) = (some.tenant.clone().unwrap_or_default(), actor_id(some).unwrap_or_default().to_owned());
    let filter =
        ActivityFilter::new().tenant(&tenant).actor_id(&actor).metadata("queue", "sales").metadata("attempt", 3);
    let expected = expected_ids(
        &data.activities,
        |a| {
            a.tenant.as_deref() == Some(&tenant)
                && actor_id(a) == Some(&actor)
                && a.metadata.get("queue") == Some(&json!("sales"))
                && a.metadata.get("attempt") == Some(&json!(3))
        },
        Order::NewestFirst,
    );
    assert_filter(store, &filter, &expected, "tenant + actor + two metadata keys").await;
}

/// 60 random combinations of filters drawn from the data set.
pub async fn random_filter_combinations(s: Subject) {
    let data = seed(&*s.sink).await;
    let store = &*s.store;
    let mut rng = fastrand::Rng::with_seed(7);
    for round in 0..60 {
        let mut filter = ActivityFilter::new();
        let mut preds: Vec<Pred> = Vec::new();
        if rng.u8(0..4) != 0 {
            let t = TENANTS[rng.usize(..3)];
            filter = filter.tenant(t);
            preds.push(Box::new(move |a| tenant_is(a, t)));
        }
        if rng.bool() {
            let types: Vec<&str> = (0..rng.usize(1..4)).map(|_| ACTIVITY_TYPES[rng.usize(..16)].0).collect();
            filter = filter.activity_types(types.clone());
            preds.push(Box::new(move |a| types.contains(&a.activity_type.as_str())));
        }
        if rng.u8(0..3) == 0 {
            let o = [Outcome::Success, Outcome::Failure, Outcome::Denied][rng.usize(..3)];
            filter = filter.outcome(o);
            preds.push(Box::new(move |a| a.outcome == o));
        }
        if rng.u8(0..3) == 0 {
            let since = data.base - Duration::hours(rng.i64(1..24 * 60));
            filter = filter.since(since);
            preds.push(Box::new(move |a| a.occurred_at >= since));
        }
        if rng.u8(0..4) == 0 {
            let until = data.base - Duration::hours(rng.i64(1..24 * 60));
            filter = filter.until(until);
            preds.push(Box::new(move |a| a.occurred_at < until));
        }
        if rng.u8(0..4) == 0 {
            let q = ["sales", "support", "billing"][rng.usize(..3)];
            filter = filter.metadata("queue", q);
            preds.push(Box::new(move |a| a.metadata.get("queue") == Some(&json!(q))));
        }
        if rng.u8(0..5) == 0 {
            let actor = format!("agent-{}", rng.u8(1..=30));
            filter = filter.actor_id(actor.clone());
            preds.push(Box::new(move |a| actor_id(a) == Some(actor.as_str())));
        }
        let order = if rng.bool() { Order::NewestFirst } else { Order::OldestFirst };
        let expected = expected_ids(&data.activities, |a| preds.iter().all(|p| p(a)), order);
        assert_filter(store, &filter.order(order), &expected, &format!("random combination {round}")).await;
    }
}

/// Cursor pages of several sizes visit every row exactly once, in order.
pub async fn cursor_pages_visit_every_row_once(s: Subject) {
    let data = seed(&*s.sink).await;
    let store = &*s.store;
    for (order, size) in [(Order::NewestFirst, 1000), (Order::OldestFirst, 333), (Order::NewestFirst, 97)] {
        let filter = ActivityFilter::new().order(order);
        let got = ids(&read_all(store, &filter, size).await);
        assert_eq!(got, expected_ids(&data.activities, |_| true, order), "all rows, {order:?}, pages of {size}");
    }
    // A small page size over a filtered set, and rows sharing a timestamp.
    let filter = ActivityFilter::new().tenant("acme").order(Order::OldestFirst);
    let got = ids(&read_all(store, &filter, 7).await);
    assert_eq!(got, expected_ids(&data.activities, |a| tenant_is(a, "acme"), Order::OldestFirst));
    let mut times: HashMap<DateTime<Utc>, usize> = HashMap::new();
    for a in &data.activities {
        *times.entry(a.occurred_at).or_default() += 1;
    }
    assert!(times.values().any(|n| *n > 1), "the data set has ties on occurred_at");
}

/// Pagination while new rows are written: every seeded row is seen once,
/// no row twice.
pub async fn cursor_pages_while_writing(s: Subject) {
    let data = seed(&*s.sink).await;
    let store = s.store.clone();
    let sink = s.sink.clone();
    let writer = tokio::spawn(async move {
        for i in 0..40 {
            let batch: Vec<Activity> = (0..25)
                .map(|j| {
                    Activity::new("call_created")
                        .tenant(TENANTS[(i + j) % 3])
                        .target("call", 10_000 + i * 100 + j)
                        .occurred_at(Utc::now() - Duration::days(((i * 25 + j) % 90) as i64))
                        .build()
                        .expect("valid")
                })
                .collect();
            sink.write_batch(&batch).await.expect("concurrent write");
            tokio::task::yield_now().await;
        }
    });
    for order in [Order::NewestFirst, Order::OldestFirst] {
        let filter = ActivityFilter::new().tenant("acme").order(order);
        let mut seen = HashSet::new();
        let mut request = PageRequest::first(61);
        loop {
            let page = store.query(&filter, &request).await.expect("query");
            for a in &page.items {
                assert!(tenant_is(a, "acme"));
                assert!(seen.insert(a.id), "a row was returned twice while rows were being written");
            }
            match page.next_cursor {
                Some(c) => request = request.after(c),
                None => break,
            }
        }
        for a in data.of_tenant("acme") {
            assert!(seen.contains(&a.id), "a seeded row was skipped while rows were being written");
        }
    }
    writer.await.expect("writer");
}

/// Offset pages give the same rows as the cursor, totals are exact.
pub async fn offset_pages_and_totals(s: Subject) {
    let data = seed(&*s.sink).await;
    let store = &*s.store;
    let filter = ActivityFilter::new().tenant("globex");
    let expected = expected_ids(&data.activities, |a| tenant_is(a, "globex"), Order::NewestFirst);
    let mut got = Vec::new();
    let mut offset = 0;
    loop {
        let page = store.query(&filter, &PageRequest::first(250).offset(offset).with_total()).await.expect("page");
        assert_eq!(page.total, Some(expected.len() as u64), "exact total");
        assert_eq!(page.has_more, offset + (page.items.len() as u64) < expected.len() as u64);
        offset += page.items.len() as u64;
        got.extend(ids(&page.items));
        if !page.has_more {
            break;
        }
    }
    assert_eq!(got, expected);
    let beyond = store.query(&filter, &PageRequest::first(10).offset(1_000_000)).await.expect("page beyond the end");
    assert!(beyond.items.is_empty() && !beyond.has_more && beyond.next_cursor.is_none());
    let plain = store.query(&filter, &PageRequest::first(10)).await.expect("page");
    assert_eq!(plain.total, None, "no total unless asked");
    assert_eq!(ids(&plain.items), expected[..10]);
}

/// Page sizes beyond the maximum and bad cursors are refused with typed
/// errors.
pub async fn page_errors(s: Subject) {
    let _data = seed(&*s.sink).await;
    let store = &*s.store;
    let f = ActivityFilter::new();
    for limit in [0, MAX_PAGE_SIZE + 1] {
        match store.query(&f, &PageRequest::first(limit)).await {
            Err(QueryError::PageSize { requested, max }) => assert_eq!((requested, max), (limit, MAX_PAGE_SIZE)),
            other => panic!("page size {limit}: expected PageSize, got {other:?}"),
        }
    }
    assert_eq!(store.query(&f, &PageRequest::first(MAX_PAGE_SIZE)).await.expect("max page").items.len(), 1000);
    assert!(matches!(PageRequest::first(10).after_str(Some("garbage")), Err(QueryError::InvalidCursor)));
    let newest = store.query(&f, &PageRequest::first(5)).await.expect("page");
    let cursor = newest.next_cursor.expect("more rows");
    let wrong_order = store.query(&f.clone().order(Order::OldestFirst), &PageRequest::first(5).after(cursor)).await;
    assert!(matches!(wrong_order, Err(QueryError::InvalidCursor)), "a cursor is tied to its order");
}

/// Get by id, with and without a tenant.
pub async fn get_by_id(s: Subject) {
    let data = seed(&*s.sink).await;
    let store = &*s.store;
    for a in data.activities.iter().step_by(997) {
        assert_eq!(store.get(a.id, None).await.expect("get").as_ref(), Some(a), "get returns the record as written");
        if let Some(t) = a.tenant.as_deref() {
            assert_eq!(store.get(a.id, Some(t)).await.expect("get").as_ref(), Some(a));
        }
        for other in TENANTS.iter().filter(|t| a.tenant.as_deref() != Some(**t)) {
            assert_eq!(store.get(a.id, Some(other)).await.expect("get"), None, "another tenant's id is not found");
        }
    }
    assert_eq!(store.get(Uuid::now_v7(), None).await.expect("get"), None);
}

/// Independent stats: (total, by type, by kind, by outcome, actors, histogram).
fn independent_stats(rows: &[&Activity], top: usize, bucket: Bucket) -> Value {
    let mut by_type = BTreeMap::<String, u64>::new();
    let mut by_kind = BTreeMap::<String, u64>::new();
    let mut by_outcome = BTreeMap::<String, u64>::new();
    let mut actors = HashMap::<String, u64>::new();
    let mut hist = BTreeMap::<i64, u64>::new();
    let width = match bucket {
        Bucket::Hour => 3600,
        _ => 86_400,
    };
    for a in rows {
        *by_type.entry(a.activity_type.clone()).or_default() += 1;
        if let Some(k) = target_kind(a) {
            *by_kind.entry(k.to_owned()).or_default() += 1;
        }
        *by_outcome.entry(a.outcome.to_string()).or_default() += 1;
        if let Some(x) = actor_id(a) {
            *actors.entry(x.to_owned()).or_default() += 1;
        }
        *hist.entry(a.occurred_at.timestamp().div_euclid(width) * width).or_default() += 1;
    }
    let mut actors: Vec<(String, u64)> = actors.into_iter().collect();
    actors.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    actors.truncate(top);
    json!({
        "total": rows.len(),
        "by_type": by_type,
        "by_target_kind": by_kind,
        "by_outcome": by_outcome,
        "top_actors": actors,
        "histogram": hist.into_iter().collect::<Vec<_>>(),
    })
}

fn stats_as_json(s: &activity_log::query::ActivityStats) -> Value {
    json!({
        "total": s.total,
        "by_type": s.by_type,
        "by_target_kind": s.by_target_kind,
        "by_outcome": s.by_outcome.iter().map(|(o, n)| (o.to_string(), *n)).collect::<BTreeMap<_, _>>(),
        "top_actors": s.top_actors,
        "histogram": s.histogram.iter().map(|(t, n)| (t.timestamp(), *n)).collect::<Vec<_>>(),
    })
}

/// Stats equal counts computed here.
pub async fn stats_match_independent_counts(s: Subject) {
    let data = seed(&*s.sink).await;
    let store = &*s.store;
    let day_ago = data.base - Duration::hours(24);
    let week_ago = data.base - Duration::days(7);
    let cases: Vec<(ActivityFilter, Pred, StatsRequest)> = vec![
        (ActivityFilter::new(), Box::new(|_| true), StatsRequest::new().bucket(Bucket::Day)),
        (ActivityFilter::new().tenant("acme"), Box::new(|a| tenant_is(a, "acme")), StatsRequest::new().top_actors(5)),
        (
            ActivityFilter::new().tenant("globex").since(day_ago),
            Box::new(move |a| tenant_is(a, "globex") && a.occurred_at >= day_ago),
            StatsRequest::new(),
        ),
        (
            ActivityFilter::new().tenant("initech").activity_type("call_created").since(week_ago),
            Box::new(move |a| {
                tenant_is(a, "initech") && a.activity_type == "call_created" && a.occurred_at >= week_ago
            }),
            StatsRequest::new().top_actors(50).bucket(Bucket::Day),
        ),
        (ActivityFilter::new().tenant("nobody"), Box::new(|_| false), StatsRequest::new()),
    ];
    for (i, (filter, pred, request)) in cases.into_iter().enumerate() {
        let rows: Vec<&Activity> = data.activities.iter().filter(|a| pred(a)).collect();
        let got = store.stats(&filter, &request).await.expect("stats");
        let expected = independent_stats(&rows, request.top_actors as usize, request.bucket);
        assert_eq!(stats_as_json(&got), expected, "stats case {i}");
        if let Some((start, _)) = got.histogram.first() {
            assert_eq!(
                *start,
                start
                    .duration_trunc(TimeDelta::seconds(if request.bucket == Bucket::Day { 86_400 } else { 3600 }))
                    .expect("trunc")
            );
        }
    }
}

/// Parses one CSV record of an export back into an activity.
fn activity_from_csv(record: &csv::StringRecord, header: &csv::StringRecord) -> Activity {
    let field = |name: &str| -> Option<String> {
        let i = header.iter().position(|h| h == name).expect("column");
        Some(record[i].to_owned()).filter(|v| !v.is_empty())
    };
    let parse_json = |name: &str| -> Value { serde_json::from_str(&field(name).expect("json column")).expect("json") };
    let target =
        field("target_kind").map(|kind| json!({"kind": kind, "id": field("target_id"), "name": field("target_name")}));
    let actor =
        field("actor_kind").map(|kind| json!({"kind": kind, "id": field("actor_id"), "name": field("actor_name")}));
    let mut obj = Map::new();
    obj.insert("id".into(), json!(field("id")));
    obj.insert("occurred_at".into(), json!(field("occurred_at")));
    obj.insert("tenant".into(), json!(field("tenant")));
    obj.insert("activity_type".into(), json!(field("activity_type")));
    obj.insert("target".into(), json!(target));
    obj.insert("actor".into(), json!(actor));
    obj.insert("outcome".into(), json!(field("outcome")));
    obj.insert("error".into(), json!(field("error")));
    obj.insert("severity".into(), json!(field("severity")));
    obj.insert("description".into(), json!(field("description")));
    obj.insert("metadata".into(), parse_json("metadata"));
    obj.insert("changes".into(), parse_json("changes"));
    obj.insert("ip".into(), json!(field("ip")));
    obj.insert("user_agent".into(), json!(field("user_agent")));
    obj.insert("request_id".into(), json!(field("request_id")));
    obj.insert("trace_id".into(), json!(field("trace_id")));
    obj.insert("duration_us".into(), json!(field("duration_us").map(|d| d.parse::<u64>().expect("micros"))));
    obj.insert("tags".into(), parse_json("tags"));
    serde_json::from_value(Value::Object(obj)).expect("a CSV record parses back into an activity")
}

/// CSV, JSON and NDJSON exports parse back to the records written, in
/// order, honouring the filter.
pub async fn export_round_trips(s: Subject) {
    let data = seed(&*s.sink).await;
    let store = &*s.store;
    let by_id: HashMap<Uuid, &Activity> = data.activities.iter().map(|a| (a.id, a)).collect();
    let filter = ActivityFilter::new().tenant("acme").order(Order::OldestFirst);
    let expected = expected_ids(&data.activities, |a| tenant_is(a, "acme"), Order::OldestFirst);
    let check = |parsed: Vec<Activity>, what: &str| {
        assert_eq!(ids(&parsed), expected, "{what}: the same rows in the same order");
        for a in &parsed {
            assert_eq!(a, by_id[&a.id], "{what}: a record differs after the round trip");
        }
    };

    let mut out: Vec<u8> = Vec::new();
    let n = store.export(&filter, ExportFormat::Csv, &mut out).await.expect("csv export");
    assert_eq!(n, expected.len() as u64);
    let mut reader = csv::ReaderBuilder::new().from_reader(out.as_slice());
    let header = reader.headers().expect("header").clone();
    assert_eq!(header.iter().collect::<Vec<_>>(), activity_log::query::CSV_COLUMNS);
    let parsed: Vec<Activity> =
        reader.records().map(|r| activity_from_csv(&r.expect("a well-formed CSV record"), &header)).collect();
    check(parsed, "CSV");

    let mut out: Vec<u8> = Vec::new();
    store.export(&filter, ExportFormat::Ndjson, &mut out).await.expect("ndjson export");
    let text = String::from_utf8(out).expect("utf-8");
    let parsed = text.lines().map(|l| serde_json::from_str(l).expect("one activity per line")).collect();
    check(parsed, "NDJSON");

    let mut out: Vec<u8> = Vec::new();
    store.export(&filter, ExportFormat::Json, &mut out).await.expect("json export");
    check(serde_json::from_slice(&out).expect("a JSON array"), "JSON");

    let mut out: Vec<u8> = Vec::new();
    let n = store.export(&ActivityFilter::new().tenant("nobody"), ExportFormat::Json, &mut out).await.expect("empty");
    assert_eq!(n, 0);
    assert_eq!(serde_json::from_slice::<Vec<Value>>(&out).expect("an empty JSON array"), Vec::<Value>::new());
}

/// Retention removes exactly the old rows: of one tenant, then of all.
pub async fn retention_removes_exactly_the_old_rows(s: Subject) {
    let data: Dataset = seed(&*s.sink).await;
    let store = &*s.store;
    // Activities sit on whole minutes: a cutoff at :30 has no ties.
    let cutoff = data.base - Duration::days(30) - Duration::seconds(30);
    let old_acme = data.of_tenant("acme").filter(|a| a.occurred_at < cutoff).count() as u64;
    assert!(old_acme > 1000, "retention must span several chunks");
    assert_eq!(store.delete_before(cutoff, Some("acme")).await.expect("retention"), old_acme);
    let remaining = |a: &Activity| !(tenant_is(a, "acme") && a.occurred_at < cutoff);
    assert_filter(
        store,
        &ActivityFilter::new(),
        &expected_ids(&data.activities, remaining, Order::NewestFirst),
        "after tenant retention",
    )
    .await;
    assert_eq!(store.delete_before(cutoff, Some("acme")).await.expect("again"), 0, "a second run deletes nothing");

    // Every tenant, by age, including rows without a tenant.
    let old_all =
        data.activities.iter().filter(|a| remaining(a) && a.occurred_at < data.base - Duration::days(45)).count()
            as u64;
    assert_eq!(
        store.delete_older_than(std::time::Duration::from_secs(45 * 86_400 + 30), None).await.expect("retention"),
        old_all
    );
    let kept = |a: &Activity| remaining(a) && a.occurred_at >= data.base - Duration::days(45);
    assert_filter(
        store,
        &ActivityFilter::new(),
        &expected_ids(&data.activities, kept, Order::NewestFirst),
        "after retention",
    )
    .await;

    // The store still accepts writes after retention.
    let fresh = Activity::new("agent_created").tenant("acme").build().expect("valid");
    s.sink.write_batch(std::slice::from_ref(&fresh)).await.expect("write after retention");
    assert_eq!(store.get(fresh.id, Some("acme")).await.expect("get"), Some(fresh));
}

/// A query scoped to one tenant sees none of another's rows, on every path.
pub async fn tenant_isolation_on_every_path(s: Subject) {
    let data = seed(&*s.sink).await;
    let store = &*s.store;
    for tenant in TENANTS {
        let scoped = ActivityFilter::new().tenant(tenant);
        let own = data.of_tenant(tenant).count();
        let rows = read_all(store, &scoped, 1000).await;
        assert_eq!(rows.len(), own);
        assert!(rows.iter().all(|a| tenant_is(a, tenant)), "query leaked another tenant's rows");
        // Filters that match rows of every tenant stay scoped.
        let wide = scoped.clone().activity_types(ACTIVITY_TYPES.map(|t| t.0)).since(data.base - Duration::days(61));
        assert_eq!(store.count(&wide).await.expect("count"), own as u64, "count leaked");
        let offset = store.query(&wide, &PageRequest::first(1000).offset(500).with_total()).await.expect("offset");
        assert!(offset.items.iter().all(|a| tenant_is(a, tenant)), "offset page leaked");
        assert_eq!(offset.total, Some(own as u64));
        let stats = store.stats(&scoped, &StatsRequest::new().top_actors(1000)).await.expect("stats");
        assert_eq!(stats.total, own as u64, "stats leaked");
        let actors: HashSet<&str> = data.of_tenant(tenant).filter_map(actor_id).collect();
        assert!(stats.top_actors.iter().all(|(a, _)| actors.contains(a.as_str())), "top actors leaked");
        let mut out: Vec<u8> = Vec::new();
        store.export(&scoped, ExportFormat::Ndjson, &mut out).await.expect("export");
        let text = String::from_utf8(out).expect("utf-8");
        assert_eq!(text.lines().count(), own, "export leaked");
        for line in text.lines() {
            let a: Activity = serde_json::from_str(line).expect("json");
            assert!(tenant_is(&a, tenant), "export leaked another tenant's row");
        }
        let other = data.activities.iter().find(|a| a.tenant.is_some() && !tenant_is(a, tenant)).expect("other");
        assert_eq!(store.get(other.id, Some(tenant)).await.expect("get"), None, "get leaked");
    }
    // A tenant-less row is never returned to a tenant.
    let untenanted = data.activities.iter().find(|a| a.tenant.is_none()).expect("a row without tenant");
    for tenant in TENANTS {
        assert_eq!(store.get(untenanted.id, Some(tenant)).await.expect("get"), None);
    }
}

/// A replayed batch (the logger's retry) writes no duplicate.
pub async fn replayed_batches_write_no_duplicates(s: Subject) {
    let data = seed(&*s.sink).await;
    let replay: Vec<Activity> = data.activities.iter().step_by(7).cloned().collect();
    for batch in replay.chunks(500) {
        s.sink.write_batch(batch).await.expect("replay");
    }
    // A batch mixing new and already written rows.
    let mut mixed: Vec<Activity> = data.activities[..100].to_vec();
    let new = Activity::new("chat_created").tenant("acme").build().expect("valid");
    mixed.push(new.clone());
    s.sink.write_batch(&mixed).await.expect("mixed replay");
    assert_eq!(s.store.count(&ActivityFilter::new()).await.expect("count"), data.activities.len() as u64 + 1);
    assert_eq!(s.store.get(new.id, None).await.expect("get"), Some(new));
}
