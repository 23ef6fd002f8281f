//! The Redis Streams transport (issue 14) on real servers: a private
//! `redis-server` per test (append-only file on, stopped and restarted at
//! will), PostgreSQL from `DATABASE_URL` (a schema per test) or a private
//! one where the test stops it.
//!
//! 1. 4 producer processes × 50,000 activities, 3 drainer processes, one
//!    SIGKILLed mid-run: every row exactly once, its pending entries
//!    claimed by the others.
//! 2. Redis stopped for 5 s: producers spill and replay, nothing lost,
//!    `log_async` never waits (p99 and max printed).
//! 3. PostgreSQL stopped for 5 s: drainers stop acknowledging, retry, and
//!    finish with nothing lost.
//! 4. A record PostgreSQL rejects lands alone in the dead-letter stream.
//! 5. An activity appended by one instance reaches another instance's live
//!    feed within 1 s.
//!
//! Timings are printed; the only timing asserted is the 1 s for
//! the live feed and a 1 s ceiling on `log_async` (5 times shorter than
//! the outage it must not wait for).

use activity_log::http::LiveFeed;
use activity_log::postgres::PostgresSink;
use activity_log::redis::{DrainerStats, RedisLiveFeed, RedisStreamSink, StreamDrainer, StreamLayout};
use activity_log::{Activity, ActivityLogger, Sink};
use activity_log_tests::assert_identity;
use activity_log_tests::child::{write_synced, TestChild};
use activity_log_tests::pg::TestSchema;
use activity_log_tests::private_pg::PrivatePostgres;
use activity_log_tests::private_redis::PrivateRedis;
use sqlx::postgres::PgConnectOptions;
use sqlx::PgPool;
use std::future::Future;
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs a test body, failing it if it takes longer than `limit`. The
/// bodies run one at a time: each loads both cores (debug builds encode
/// and decode every activity several times), and the outage tests measure
/// `log_async` latencies that a neighbour would distort.
async fn bounded(limit: Duration, body: impl Future<Output = ()>) {
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _turn = ONE_AT_A_TIME.lock().await;
    if tokio::time::timeout(limit, body).await.is_err() {
        panic!("the test did not finish within {limit:?}");
    }
}

/// Two partitions, so that tenant sharding is exercised everywhere.
fn layout() -> StreamLayout {
    StreamLayout::new("activities").partitions(2)
}

/// A drainer with test-sized timings: claims entries idle for 2 s.
fn drainer(redis_url: &str, store: impl Sink, consumer: &str, claim_idle: Duration) -> StreamDrainer {
    StreamDrainer::builder()
        .layout(layout())
        .consumer(consumer)
        .block(Duration::from_millis(200))
        .claim_idle(claim_idle)
        .claim_interval(Duration::from_millis(500))
        .trim_interval(Some(Duration::from_secs(1)))
        .backoff(Duration::from_millis(20), Duration::from_millis(500))
        .build(redis_url, store)
        .expect("the drainer builds")
}

/// A logger on an instance: Redis sink, spool, spilling after
/// `spill_after` of failures.
fn producer(redis_url: &str, spool: &Path, spill_after: Duration) -> (ActivityLogger, RedisStreamSink) {
    let sink = RedisStreamSink::builder()
        .layout(layout())
        .connect_timeout(Duration::from_millis(300))
        .build(redis_url)
        .expect("the sink builds");
    let logger = ActivityLogger::builder()
        .sink(sink.clone())
        .spill_dir(spool)
        .spill_after(spill_after)
        .backoff(Duration::from_millis(20), Duration::from_millis(300))
        .build()
        .expect("the logger builds");
    (logger, sink)
}

/// Flushes until the logger's spool is replayed: `flush` returns while
/// the sink is down with the rest accounted for as spooled; this waits
/// (at most `limit`) until everything logged is written or lost.
async fn settle(logger: &ActivityLogger, limit: Duration) {
    let started = Instant::now();
    loop {
        logger.flush().await.expect("flush");
        let s = logger.stats();
        if s.written + s.lost() == s.logged + s.recovered {
            return;
        }
        assert!(started.elapsed() < limit, "the logger did not settle within {limit:?}: {s:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// (rows, distinct ids, distinct target ids).
async fn row_counts(pool: &PgPool) -> (i64, i64, i64) {
    sqlx::query_as("SELECT count(*), count(DISTINCT id), count(DISTINCT target_id) FROM activities")
        .fetch_one(pool)
        .await
        .expect("count rows")
}

/// Waits until the table holds `rows` rows and the group has nothing
/// pending, or fails after `limit`.
async fn wait_drained(pool: &PgPool, observer: &StreamDrainer, rows: i64, limit: Duration) {
    let started = Instant::now();
    loop {
        let (n, _, _) = row_counts(pool).await;
        if n >= rows {
            if let Ok(p) = observer.group_pending().await {
                if p.total == 0 {
                    return;
                }
            }
        }
        assert!(started.elapsed() < limit, "not drained within {limit:?}: {n} of {rows} rows");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[track_caller]
fn assert_drainer_settled(s: &DrainerStats) {
    assert!(s.balances(), "drainer stats do not balance: {s:?}");
    assert_eq!((s.in_hand, s.vanished), (0, 0), "{s:?}");
}

fn latency_summary(mut latencies: Vec<Duration>) -> (String, Duration) {
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    let max = latencies[latencies.len() - 1];
    (format!("p50 {:?}, p99 {:?}, max {:?} over {} calls", at(0.5), at(0.99), max, latencies.len()), max)
}

const ROLE: &str = "ACTIVITY_LOG_RS_ROLE";
const INDEX: &str = "ACTIVITY_LOG_RS_INDEX";
const DIR: &str = "ACTIVITY_LOG_RS_DIR";
const REDIS: &str = "ACTIVITY_LOG_RS_REDIS";
const SCHEMA: &str = "ACTIVITY_LOG_RS_SCHEMA";
const PRODUCERS: u64 = 4;
const PER_PRODUCER: u64 = 50_000;

/// Not a test on its own: the body of the producer and drainer processes
/// of `four_producers_three_drainers_one_killed_write_every_row_once`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_process_of_the_redis_streams_test() {
    let (Ok(role), Ok(index), Ok(dir), Ok(redis)) =
        (std::env::var(ROLE), std::env::var(INDEX), std::env::var(DIR), std::env::var(REDIS))
    else {
        return;
    };
    let dir = Path::new(&dir);
    if role == "producer" {
        let (logger, sink) = producer(&redis, &dir.join(format!("spool-{index}")), Duration::from_secs(5));
        for i in 0..PER_PRODUCER {
            logger.log_async(
                Activity::new("call_created").tenant(format!("t{index}")).target("call", format!("{index}-{i}")),
            );
            if i % 2_000 == 1_999 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        settle(&logger, Duration::from_secs(60)).await;
        let report = serde_json::json!({ "logger": logger.stats(), "sink": sink.stats() });
        write_synced(&dir.join(format!("producer-{index}")), &report.to_string());
        let _ = logger.shutdown(Duration::from_secs(5)).await;
        return;
    }
    let url = match dev_env::postgres() {
        dev_env::Postgres::Use(url) => url,
        dev_env::Postgres::Skip(why) => panic!("the parent found PostgreSQL, the child cannot: {why}"),
    };
    let schema = std::env::var(SCHEMA).expect("the schema");
    let options = PgConnectOptions::from_str(&url).expect("a valid URL").options([("search_path", schema.as_str())]);
    let store = PostgresSink::builder().reader_connections(1).connect_with(options).await.expect("connect");
    let handle = drainer(&redis, store, &format!("d{index}"), Duration::from_secs(2)).spawn();
    let started = Instant::now();
    while !dir.join("stop").exists() {
        assert!(started.elapsed() < Duration::from_secs(150), "the parent never said stop");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stats = handle.shutdown().await;
    write_synced(&dir.join(format!("drainer-{index}")), &serde_json::to_string(&stats).expect("json"));
}

fn parse_stats(text: &str) -> serde_json::Value {
    serde_json::from_str(text).expect("a child's JSON report")
}

/// (1) Four producer processes append 50,000 activities each through their
/// loggers' Redis sinks; three drainer processes write them to PostgreSQL;
/// one drainer is SIGKILLed while it holds pending entries. The others
/// claim them: exactly 200,000 rows, no id twice, nothing left pending.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_producers_three_drainers_one_killed_write_every_row_once() {
    bounded(Duration::from_secs(120), async {
        let Some(redis) = PrivateRedis::start() else { return };
        let Some(schema) = TestSchema::create("redis_kill").await else { return };
        let _migrated = schema.sink().await;
        let pool = schema.pool().await;
        let dir = tempfile::tempdir().expect("tempdir");
        let url = redis.url();
        let env = |role: &str, i: u64| {
            [
                (ROLE, role.to_owned()),
                (INDEX, i.to_string()),
                (DIR, dir.path().display().to_string()),
                (REDIS, url.clone()),
                (SCHEMA, schema.name.clone()),
            ]
        };
        let started = Instant::now();
        let mut drainers: Vec<TestChild> =
            (0..3).map(|i| TestChild::spawn("child_process_of_the_redis_streams_test", env("drainer", i))).collect();
        let mut producers: Vec<TestChild> = (0..PRODUCERS)
            .map(|i| TestChild::spawn("child_process_of_the_redis_streams_test", env("producer", i)))
            .collect();
        let observer = drainer(&url, activity_log::NullSink, "observer", Duration::from_secs(2));

        // Kill d0 at a moment it holds entries, once some rows are in.
        let killed_at = loop {
            assert!(started.elapsed() < Duration::from_secs(60), "d0 never held pending entries");
            let (rows, _, _) = row_counts(&pool).await;
            if rows >= 20_000 {
                if let Ok(p) = observer.group_pending().await {
                    if p.of("d0") > 0 {
                        drainers[0].kill();
                        break rows;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let orphaned = observer.group_pending().await.expect("XPENDING").of("d0");
        assert!(orphaned > 0, "the killed drainer held pending entries");

        let mut produced = Vec::new();
        for (i, p) in producers.iter_mut().enumerate() {
            let report = p.wait_for_file(&dir.path().join(format!("producer-{i}")), Duration::from_secs(90)).await;
            produced.push(parse_stats(&report));
        }
        for report in &produced {
            let logger = &report["logger"];
            assert_eq!(logger["logged"], PER_PRODUCER, "{report}");
            assert_eq!(logger["written"], PER_PRODUCER, "{report}");
            assert_eq!((logger["dropped"].as_u64(), logger["failed"].as_u64()), (Some(0), Some(0)), "{report}");
        }
        wait_drained(&pool, &observer, (PRODUCERS * PER_PRODUCER) as i64, Duration::from_secs(90)).await;
        let took = started.elapsed();
        write_synced(&dir.path().join("stop"), "");
        let mut survivors = Vec::new();
        for (i, d) in drainers.iter_mut().enumerate().skip(1) {
            let report = d.wait_for_file(&dir.path().join(format!("drainer-{i}")), Duration::from_secs(30)).await;
            let stats: DrainerStats = serde_json::from_str(&report).expect("drainer stats");
            assert_drainer_settled(&stats);
            survivors.push(stats);
        }
        let total = PRODUCERS * PER_PRODUCER;
        assert_eq!(row_counts(&pool).await, (total as i64, total as i64, total as i64), "every row once");
        let after = observer.group_pending().await.expect("XPENDING");
        assert_eq!((after.total, after.of("d0")), (0, 0), "{after:?}");
        let sum = DrainerStats::sum(&survivors);
        assert!(sum.claimed >= orphaned, "the survivors claimed the {orphaned} entries d0 held: {sum:?}");
        assert_eq!(sum.dead_lettered, 0, "{sum:?}");
        assert_eq!(observer.dead_letters(10).await.expect("XRANGE").len(), 0);
        let left = redis.cli(&["XLEN", "activities:0"]).parse::<u64>().unwrap_or(u64::MAX)
            + redis.cli(&["XLEN", "activities:1"]).parse::<u64>().unwrap_or(u64::MAX);
        println!(
            "kill: {total} activities in {took:?}; d0 killed at {killed_at} rows holding {orphaned} entries; \
             survivors {survivors:?}; {left} entries left in the streams after trimming"
        );
    })
    .await;
}

/// Logs `n` activities at `rate` per second from a thread, timing each
/// `log_async`; `during` says which calls fall in the outage.
fn steady_producer(
    logger: ActivityLogger,
    tag: &'static str,
    n: u64,
    rate: u64,
    during: Arc<AtomicBool>,
) -> std::thread::JoinHandle<(Vec<Duration>, Vec<Duration>)> {
    std::thread::spawn(move || {
        let (mut outage, mut other) = (Vec::new(), Vec::with_capacity(n as usize));
        let started = Instant::now();
        for i in 0..n {
            let due = started + Duration::from_micros(i * 1_000_000 / rate);
            if let Some(ahead) = due.checked_duration_since(Instant::now()) {
                if ahead >= Duration::from_millis(1) {
                    std::thread::sleep(ahead);
                }
            }
            let call = Instant::now();
            logger.log_async(Activity::new("call_created").tenant(tag).target("call", format!("{tag}-{i}")));
            let took = call.elapsed();
            if during.load(Relaxed) {
                outage.push(took);
            } else {
                other.push(took);
            }
        }
        (outage, other)
    })
}

/// (2) Redis stopped (gracefully, its AOF kept) for 5 s while two
/// instances log 20,000 activities each at 2,500/s: the loggers spill to
/// their spools and replay, the drainers reconnect, nothing is lost or
/// written twice, and `log_async` never waits for Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_for_5s_producers_spill_and_replay_and_nothing_is_lost() {
    bounded(Duration::from_secs(100), async {
        const PER_INSTANCE: u64 = 20_000;
        let Some(redis) = PrivateRedis::start() else { return };
        let Some(schema) = TestSchema::create("redis_down").await else { return };
        let store = schema.sink().await;
        let pool = schema.pool().await;
        let url = redis.url();
        let drainers: Vec<_> =
            (0..2).map(|i| drainer(&url, store.clone(), &format!("d{i}"), Duration::from_secs(10)).spawn()).collect();
        let spools = [tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir")];
        let instances: Vec<_> = spools.iter().map(|s| producer(&url, s.path(), Duration::from_millis(500))).collect();
        let outage = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = instances
            .iter()
            .zip(["a", "b"])
            .map(|((logger, _), tag)| steady_producer(logger.clone(), tag, PER_INSTANCE, 2_500, outage.clone()))
            .collect();

        tokio::time::sleep(Duration::from_secs(1)).await;
        tokio::task::block_in_place(|| redis.stop());
        outage.store(true, Relaxed);
        let down = Instant::now();
        let mut peak_spooled = 0;
        while down.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(100)).await;
            peak_spooled = peak_spooled.max(instances.iter().map(|(l, _)| l.stats().spooled).sum::<u64>());
        }
        outage.store(false, Relaxed);
        tokio::task::block_in_place(|| redis.restart());

        let (mut during, mut other) = (Vec::new(), Vec::new());
        for t in threads {
            let (d, o) = tokio::task::block_in_place(|| t.join()).expect("the producer did not panic");
            during.extend(d);
            other.extend(o);
        }
        for (logger, sink) in &instances {
            settle(logger, Duration::from_secs(30)).await;
            let s = logger.stats();
            assert_identity(&s);
            assert_eq!((s.logged, s.written, s.lost(), s.spooled), (PER_INSTANCE, PER_INSTANCE, 0, 0), "{s:?}");
            assert!(sink.stats().failed_batches > 0, "the sink saw Redis down: {:?}", sink.stats());
        }
        assert!(peak_spooled > 0, "a 5 s Redis outage spills to the spools");
        wait_drained(&pool, drainers[0].drainer(), 2 * PER_INSTANCE as i64, Duration::from_secs(60)).await;
        let mut stats = Vec::new();
        for d in drainers {
            let s = d.shutdown().await;
            assert_drainer_settled(&s);
            stats.push(s);
        }
        let total = 2 * PER_INSTANCE as i64;
        assert_eq!(row_counts(&pool).await, (total, total, total), "every row once");
        let sum = DrainerStats::sum(&stats);
        assert!(sum.redis_errors > 0, "the drainers saw Redis down: {sum:?}");
        let (during_text, during_max) = latency_summary(during);
        let (other_text, other_max) = latency_summary(other);
        println!(
            "redis down: log_async during the 5 s outage: {during_text}; outside it: {other_text}; \
             peak spooled {peak_spooled}; drainers {sum:?}"
        );
        assert!(
            during_max.max(other_max) < Duration::from_secs(1),
            "log_async never waits for Redis (max {:?})",
            during_max.max(other_max)
        );
    })
    .await;
}

/// (3) PostgreSQL (a private server) stopped for 5 s while drainers write:
/// they stop acknowledging, retry, and finish with every row once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_for_5s_drainers_retry_and_nothing_is_lost() {
    bounded(Duration::from_secs(100), async {
        const EVENTS: u64 = 20_000;
        let Some(redis) = PrivateRedis::start() else { return };
        let Some(pg) = PrivatePostgres::create("redis_pg_down").await else { return };
        let store = PostgresSink::builder()
            .reader_connections(1)
            .acquire_timeout(Duration::from_secs(1))
            .connect_with(pg.options().application_name("rs-drainer"))
            .await
            .expect("connect");
        let url = redis.url();
        let drainers: Vec<_> =
            (0..2).map(|i| drainer(&url, store.clone(), &format!("d{i}"), Duration::from_secs(30)).spawn()).collect();
        let spool = tempfile::tempdir().expect("tempdir");
        let (logger, _) = producer(&url, spool.path(), Duration::from_secs(5));
        let thread = steady_producer(logger.clone(), "a", EVENTS, 2_500, Arc::new(AtomicBool::new(false)));

        tokio::time::sleep(Duration::from_secs(1)).await;
        pg.stop().await;
        let acked = || DrainerStats::sum(&drainers.iter().map(|d| d.stats()).collect::<Vec<_>>());
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let early = acked();
        tokio::time::sleep(Duration::from_millis(3_500)).await;
        let late = acked();
        pg.start().await;
        assert_eq!(early.acknowledged, late.acknowledged, "nothing is acknowledged while PostgreSQL is down");
        assert!(late.retried > early.retried, "the drainers kept retrying: {early:?} {late:?}");

        tokio::task::block_in_place(|| thread.join()).expect("the producer did not panic");
        settle(&logger, Duration::from_secs(30)).await;
        let pool = pg.pool(2).await;
        wait_drained(&pool, drainers[0].drainer(), EVENTS as i64, Duration::from_secs(60)).await;
        let mut stats = Vec::new();
        for d in drainers {
            let s = d.shutdown().await;
            assert_drainer_settled(&s);
            stats.push(s);
        }
        let sum = DrainerStats::sum(&stats);
        assert_eq!(row_counts(&pool).await, (EVENTS as i64, EVENTS as i64, EVENTS as i64), "every row once");
        assert_eq!((sum.read, sum.dead_lettered), (EVENTS, 0), "{sum:?}");
        println!(
            "postgres down: acknowledged {} before and during the outage; final drainers {sum:?}",
            late.acknowledged
        );
    })
    .await;
}

/// (4) A record PostgreSQL refuses (a CHECK constraint) is moved to the
/// dead-letter stream, alone, with the error; its 999 batch-mates are
/// written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_postgres_rejects_lands_alone_in_the_dead_letter_stream() {
    bounded(Duration::from_secs(60), async {
        let Some(redis) = PrivateRedis::start() else { return };
        let Some(schema) = TestSchema::create("redis_dead").await else { return };
        let store = schema.sink().await;
        let pool = schema.pool().await;
        sqlx::query("ALTER TABLE activities ADD CONSTRAINT no_poison CHECK (activity_type <> 'poison')")
            .execute(&pool)
            .await
            .expect("add the check constraint");
        let sink = RedisStreamSink::builder().layout(layout()).build(&redis.url()).expect("sink");
        let batch: Vec<Activity> = (0..1_000)
            .map(|i| {
                let kind = if i == 617 { "poison" } else { "call_created" };
                Activity::new(kind).tenant("acme").target("call", i).build().expect("valid")
            })
            .collect();
        sink.write_batch(&batch).await.expect("appended");
        let d = drainer(&redis.url(), store, "d0", Duration::from_secs(30)).spawn();
        wait_drained(&pool, d.drainer(), 999, Duration::from_secs(30)).await;
        let dead = d.drainer().dead_letters(10).await.expect("XRANGE");
        let s = d.shutdown().await;
        assert_drainer_settled(&s);
        assert_eq!((s.read, s.acknowledged, s.dead_lettered), (1_000, 1_000, 1), "{s:?}");
        assert_eq!(dead.len(), 1, "{dead:?}");
        assert_eq!(dead[0].activity_id, Some(batch[617].id));
        assert_eq!(dead[0].activity.as_ref(), Some(&batch[617]));
        assert!(dead[0].error.contains("no_poison"), "{:?}", dead[0].error);
        assert_eq!(dead[0].stream, layout().key_for(Some("acme")));
        assert_eq!(row_counts(&pool).await, (999, 999, 999));
    })
    .await;
}

/// (5) Instance B logs through its Redis sink; instance A's live feed (the
/// HTTP router's `LiveFeed`) delivers it within 1 s. What was appended
/// before A's feed connected is not replayed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_activity_logged_on_one_instance_reaches_another_instances_live_feed() {
    bounded(Duration::from_secs(30), async {
        let Some(redis) = PrivateRedis::start() else { return };
        let url = redis.url();
        let spool = tempfile::tempdir().expect("tempdir");
        let (b, _) = producer(&url, spool.path(), Duration::from_secs(5));
        b.log_async(Activity::new("before_the_feed").tenant("acme"));
        b.flush().await.expect("flush");

        let feed: Box<dyn LiveFeed> =
            Box::new(RedisLiveFeed::builder().layout(layout()).connect(&url).await.expect("the feed connects"));
        let mut rx = feed.subscribe();
        for tenant in ["acme", "globex"] {
            let sent = Instant::now();
            let id = b.try_log_async(Activity::new("call_created").tenant(tenant).target("call", 7)).expect("valid");
            let got = tokio::time::timeout(Duration::from_secs(1), rx.recv())
                .await
                .expect("the activity arrived within 1 s")
                .expect("received");
            println!("live feed: {tenant}'s activity arrived after {:?}", sent.elapsed());
            assert_eq!((got.id, got.tenant.as_deref()), (id, Some(tenant)));
        }
        let _ = b.shutdown(Duration::from_secs(5)).await;
    })
    .await;
}

/// (5, end to end) An SSE client of instance A's activity router receives an
/// activity logged on instance B within 1 s, and never another tenant's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sse_client_of_one_instance_receives_what_another_instance_logs() {
    use activity_log::http::{ActivityApi, Principal, StaticTokens};
    use futures_util::StreamExt;
    bounded(Duration::from_secs(30), async {
        let Some(redis) = PrivateRedis::start() else { return };
        let url = redis.url();
        let spool = tempfile::tempdir().expect("tempdir");
        let (b, _) = producer(&url, spool.path(), Duration::from_secs(5));

        // Instance A: the router, its live tail fed from the shared stream.
        let feed = RedisLiveFeed::builder().layout(layout()).connect(&url).await.expect("the feed connects");
        let auth = StaticTokens::new().token("acme-token", Principal::tenant("acme-app", "acme").read());
        let api = ActivityApi::new(activity_log::MemorySink::new(), auth).live_feed(feed);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, api.router()).await });
        let response = reqwest::Client::new()
            .get(format!("http://{addr}/activities/stream"))
            .bearer_auth("acme-token")
            .send()
            .await
            .expect("stream");
        assert_eq!(response.status(), 200);
        let mut body = response.bytes_stream();
        tokio::time::sleep(Duration::from_millis(200)).await;

        let sent = Instant::now();
        b.log_async(Activity::new("call_created").tenant("globex").description("not for acme"));
        let id = b.try_log_async(Activity::new("call_created").tenant("acme").description("for acme")).expect("valid");
        let mut text = String::new();
        while !text.contains("\n\n") {
            let chunk = tokio::time::timeout(Duration::from_secs(1).saturating_sub(sent.elapsed()), body.next())
                .await
                .expect("the activity arrived within 1 s")
                .expect("the stream stays open")
                .expect("a chunk");
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
        println!("SSE across instances: arrived after {:?}", sent.elapsed());
        assert!(text.contains(&id.to_string()), "the acme activity: {text}");
        assert!(!text.contains("not for acme"), "another tenant's activity reached acme's stream");
        let _ = b.shutdown(Duration::from_secs(5)).await;
    })
    .await;
}
