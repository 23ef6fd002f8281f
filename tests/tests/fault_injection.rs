//! Fault injection against real servers (issue 6): the database stopped
//! mid-run, connections cut under the writer, a process killed while the
//! database is down, a record the database refuses, SQLite under 16
//! concurrent writers and a reader, and the host's pool held exhausted.
//!
//! Each PostgreSQL test runs against a private server of its own
//! ([`PrivatePostgres`]): stopping it disturbs no other test, and it is
//! stopped and removed when the test ends, also on panic. Every test body
//! runs under a timeout. Timings are printed, never asserted.
//!
//! The tests of outages, cut connections, killed processes and replays run
//! twice ([`chaining_off_and_on!`]): with the stores' hash chain off and on.
//! With chaining on, the chain must come out of every fault intact: one
//! position per stored row, no fork, no replay counted twice.

use activity_log::integrity::{ChainedStore, CheckpointSigner};
use activity_log::postgres::PostgresSink;
use activity_log::query::{ActivityFilter, ActivityStore, PageRequest, StatsRequest};
use activity_log::{Activity, ActivityLogger, Durability, Sink, Stats};
use activity_log_tests::assert_identity;
use activity_log_tests::child::{write_synced, TestChild};
use activity_log_tests::private_pg::PrivatePostgres;
use sqlx::PgConnection;
use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Runs a test body, failing it if it takes longer than `limit` (the
/// private server is then stopped and removed by its Drop, as on any panic).
async fn bounded(limit: Duration, body: impl Future<Output = ()>) {
    if tokio::time::timeout(limit, body).await.is_err() {
        panic!("the test did not finish within {limit:?}");
    }
}

/// Makes each test body `$name` (an async fn taking `chaining: bool`) two
/// tests, `$name::chaining_off` and `$name::chaining_on`, on a two-thread
/// runtime.
macro_rules! chaining_off_and_on {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn chaining_off() {
                super::$name(false).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn chaining_on() {
                super::$name(true).await
            }
        }
    )*};
}

chaining_off_and_on!(
    postgres_stopped_for_10s_mid_run_loses_nothing_and_never_blocks_the_caller,
    writer_connections_cut_repeatedly_write_every_row_exactly_once,
    a_process_killed_while_postgres_is_down_is_replayed_by_the_next,
    a_record_postgres_refuses_is_quarantined_alone,
    the_host_pool_held_exhausted_for_20s_does_not_stop_the_writer,
    a_process_killed_during_an_outage_loses_nothing_it_spooled,
);

/// A sink on the private server whose connections (readers and writers)
/// carry `application_name`, with the hash chain on if `chaining`; a
/// write waits at most 1 s for a connection.
async fn sink(pg: &PrivatePostgres, application_name: &str, chaining: bool) -> PostgresSink {
    PostgresSink::builder()
        .reader_connections(2)
        .acquire_timeout(Duration::from_secs(1))
        .chaining(chaining)
        .connect_with(pg.options().application_name(application_name))
        .await
        .expect("PostgresSink connects and migrates")
}

/// With `chaining`: `tenant`'s chain, checked against a checkpoint of its
/// head signed now, is intact and holds exactly the tenant's `rows` rows,
/// one position each (no fork, no replay chained twice, none left out).
/// Without, the rows carry no chain position.
async fn assert_chain_intact(store: &PostgresSink, tenant: &str, rows: u64, chaining: bool) {
    let signer = CheckpointSigner::generate().expect("a signing key");
    let checkpoint = store.checkpoint(Some(tenant), &signer).await.expect("checkpoint");
    let report = store.verify(Some(tenant), &checkpoint).await.expect("verify");
    if chaining {
        assert!(report.is_intact(), "{report}");
        assert_eq!((checkpoint.position, report.intact), (rows, rows), "one chain position per row: {report}");
        println!("chain: {report}");
    } else {
        assert_eq!((checkpoint.position, report.unchained), (0, rows), "{report}");
    }
}

/// (rows, distinct ids, distinct target ids) in the activities table.
async fn row_counts(conn: &mut PgConnection) -> (i64, i64, i64) {
    sqlx::query_as("SELECT count(*), count(DISTINCT id), count(DISTINCT target_id) FROM activities")
        .fetch_one(conn)
        .await
        .expect("count rows")
}

/// "p50 …, p99 …, max … over n calls".
fn latency_summary(mut latencies: Vec<Duration>) -> String {
    if latencies.is_empty() {
        return "no calls".into();
    }
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    format!(
        "p50 {:?}, p99 {:?}, max {:?} over {} calls",
        at(0.50),
        at(0.99),
        latencies[latencies.len() - 1],
        latencies.len()
    )
}

/// (1) PostgreSQL stopped (as by a crash) for 10 s in the middle of a
/// 100,000-event run logged at a steady 5,000 events/s: nothing is lost or
/// written twice, and `log_async` stays a non-blocking call throughout.
async fn postgres_stopped_for_10s_mid_run_loses_nothing_and_never_blocks_the_caller(chaining: bool) {
    bounded(Duration::from_secs(150), async {
        const EVENTS: u64 = 100_000;
        const RATE_PER_S: u64 = 5_000;
        let Some(pg) = PrivatePostgres::create("outage").await else { return };
        let store = sink(&pg, "fi-outage", chaining).await;
        let spool = tempfile::tempdir().expect("tempdir");
        let logger =
            ActivityLogger::builder().sink(store.clone()).spill_dir(spool.path()).build().expect("logger builds");

        let outage = Arc::new(AtomicBool::new(false));
        let producer = {
            let (logger, outage) = (logger.clone(), outage.clone());
            std::thread::spawn(move || {
                let (mut during, mut other) = (Vec::with_capacity(60_000), Vec::with_capacity(EVENTS as usize));
                let started = Instant::now();
                for i in 0..EVENTS {
                    let due = started + Duration::from_micros(i * 1_000_000 / RATE_PER_S);
                    if let Some(ahead) = due.checked_duration_since(Instant::now()) {
                        if ahead >= Duration::from_millis(1) {
                            std::thread::sleep(ahead);
                        }
                    }
                    let call = Instant::now();
                    logger.log_async(Activity::new("call_created").tenant("acme").target("call", i));
                    let took = call.elapsed();
                    if outage.load(Relaxed) {
                        during.push(took);
                    } else {
                        other.push(took);
                    }
                }
                (during, other)
            })
        };

        tokio::time::sleep(Duration::from_secs(5)).await;
        pg.stop().await;
        outage.store(true, Relaxed);
        let down_at = Instant::now();
        let mut peak_spooled = 0;
        while down_at.elapsed() < Duration::from_secs(10) {
            tokio::time::sleep(Duration::from_millis(200)).await;
            peak_spooled = peak_spooled.max(logger.stats().spooled);
        }
        let during_outage = logger.stats();
        outage.store(false, Relaxed);
        pg.start().await;
        let (during, other) = tokio::task::spawn_blocking(move || producer.join())
            .await
            .expect("join thread")
            .expect("the producer did not panic");
        let flushing = Instant::now();
        logger.flush().await.expect("flush");
        let flush_took = flushing.elapsed();

        let s = logger.stats();
        assert_identity(&s);
        assert_eq!((s.logged, s.written, s.lost(), s.spooled, s.queued), (EVENTS, EVENTS, 0, 0, 0), "{s:?}");
        let mut admin = pg.admin().await;
        assert_eq!(row_counts(&mut admin).await, (EVENTS as i64, EVENTS as i64, EVENTS as i64));
        assert_chain_intact(&store, "acme", EVENTS, chaining).await;
        println!(
            "outage: log_async during the 10 s outage: {}; outside it: {}",
            latency_summary(during),
            latency_summary(other)
        );
        println!(
            "outage: stats at the end of the outage {during_outage:?}; peak spooled {peak_spooled}; \
             final flush {flush_took:?}; final {s:?}"
        );
        assert!(peak_spooled > 0, "a 10 s outage spills to disk (spill_after 2 s)");
        let report = logger.shutdown(Duration::from_secs(10)).await;
        assert!(report.is_complete(), "{report:?}");
    })
    .await;
}

/// (2) Lost acknowledgements: the writer's connections are terminated
/// from another connection every 5-40 ms during a 50,000-event run, also
/// after a statement committed and before its answer arrived (a batch
/// larger than 256 rows is split across two connections, so one part may
/// commit while the other is cut). Retries write every row exactly once.
async fn writer_connections_cut_repeatedly_write_every_row_exactly_once(chaining: bool) {
    bounded(Duration::from_secs(120), async {
        const EVENTS: u64 = 50_000;
        const WRITER: &str = "fi-writer";
        let Some(pg) = PrivatePostgres::create("lost_ack").await else { return };
        let store = sink(&pg, WRITER, chaining).await;
        let spool = tempfile::tempdir().expect("tempdir");
        let logger = ActivityLogger::builder()
            .sink(store.clone())
            .spill_dir(spool.path())
            .batch_size(1_000)
            .build()
            .expect("logger builds");

        let killer = pg.kill_connections(WRITER).await;
        let started = Instant::now();
        for i in 0..EVENTS {
            logger.log_async(Activity::new("chat_message_sent").tenant("acme").target("chat", i));
            if i % 500 == 499 {
                // ~10,000 events/s: the run lasts about 5 s under the killer.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        // Keep cutting connections while the queue drains.
        while logger.stats().queued > 0 && started.elapsed() < Duration::from_secs(60) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let killed = killer.stop().await;
        logger.flush().await.expect("flush");

        let s = logger.stats();
        assert_identity(&s);
        assert_eq!((s.written, s.lost(), s.spooled), (EVENTS, 0, 0), "{s:?}");
        assert!(killed > 0, "the killer found the writer's connections");
        assert!(s.retried > 0, "cut connections were retried: {s:?}");
        let mut admin = pg.admin().await;
        assert_eq!(row_counts(&mut admin).await, (EVENTS as i64, EVENTS as i64, EVENTS as i64));
        assert_chain_intact(&store, "acme", EVENTS, chaining).await;
        let replays = pg.server_log().matches("duplicate key value violates unique constraint").count();
        println!(
            "lost acks: {killed} backends terminated; {} retries; {replays} batches found rows already \
             committed and were replayed with ON CONFLICT DO NOTHING; {s:?}",
            s.retried
        );
    })
    .await;
}

const CHILD_DIR: &str = "ACTIVITY_LOG_FI_CHILD_DIR";
const CHILD_URL: &str = "ACTIVITY_LOG_FI_CHILD_URL";
/// Set (to anything) when the child's sink chains.
const CHILD_CHAINING: &str = "ACTIVITY_LOG_FI_CHILD_CHAINING";
/// Events the child writes while the database is up, then logs while it is down.
const CHILD_UP_EVENTS: u64 = 2_000;
const CHILD_DOWN_EVENTS: u64 = 3_000;

/// Not a test on its own: the body of the child process that
/// `a_process_killed_while_postgres_is_down_is_replayed_by_the_next` starts
/// and kills.
#[tokio::test]
async fn child_process_logging_to_postgres_with_a_spool() {
    let (Ok(dir), Ok(url)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_URL)) else { return };
    let dir = std::path::PathBuf::from(dir);
    let store = PostgresSink::builder()
        .reader_connections(1)
        .acquire_timeout(Duration::from_millis(300))
        .chaining(std::env::var_os(CHILD_CHAINING).is_some())
        .connect(&url)
        .await
        .expect("the child connects");
    let logger = ActivityLogger::builder()
        .sink(store)
        .spill_dir(dir.join("spool"))
        // Short, so that the outage is noticed soon; but not shorter than a
        // 2,000-row write takes on a busy machine in a debug build (a write
        // unanswered for `spill_after` begins an outage even while the
        // database is up; a chained write, one transaction on one
        // connection, takes about twice as long as a plain one, which is
        // split across two).
        .spill_after(Duration::from_secs(1))
        .backoff(Duration::from_millis(20), Duration::from_millis(500))
        .build()
        .expect("logger builds");
    for i in 0..CHILD_UP_EVENTS {
        logger.log_async(Activity::new("call_created").tenant("acme").target("call", i));
    }
    logger.flush().await.expect("flush");
    write_synced(&dir.join("up"), &logger.stats().written.to_string());
    // The parent stops the database now.
    let started = Instant::now();
    while !dir.join("stopped").exists() {
        assert!(started.elapsed() < Duration::from_secs(60), "the parent never stopped the database");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for i in CHILD_UP_EVENTS..CHILD_UP_EVENTS + CHILD_DOWN_EVENTS {
        logger.log_async(Activity::new("call_created").tenant("acme").target("call", i));
    }
    logger.flush().await.expect("flush");
    let s = logger.stats();
    write_synced(&dir.join("logged"), &format!("{} {} {}", s.logged, s.written, s.spooled));
    // Keep logging until killed (or, should the parent be gone, for 2
    // minutes): some of these reach the spool, some may be torn.
    let started = Instant::now();
    for i in CHILD_UP_EVENTS + CHILD_DOWN_EVENTS.. {
        if started.elapsed() > Duration::from_secs(120) {
            return;
        }
        logger.log_async(Activity::new("call_created").tenant("acme").target("call", i));
        if i % 200 == 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

/// (3) A process logging to PostgreSQL with a spool is killed (SIGKILL)
/// while the database is down; the database comes back; the next logger on
/// the same spool replays: every event the process logged before its
/// fsynced report is in the table exactly once.
async fn a_process_killed_while_postgres_is_down_is_replayed_by_the_next(chaining: bool) {
    bounded(Duration::from_secs(120), async {
        let Some(pg) = PrivatePostgres::create("killed").await else { return };
        let dir = tempfile::tempdir().expect("tempdir");
        let url = pg.url();
        let mut env = vec![(CHILD_DIR, dir.path().as_os_str()), (CHILD_URL, url.as_ref())];
        if chaining {
            env.push((CHILD_CHAINING, "on".as_ref()));
        }
        let mut child = TestChild::spawn("child_process_logging_to_postgres_with_a_spool", env);
        let up = child.wait_for_file(&dir.path().join("up"), Duration::from_secs(60)).await;
        assert_eq!(up, CHILD_UP_EVENTS.to_string(), "the child wrote its first events while the database was up");

        pg.stop().await;
        write_synced(&dir.path().join("stopped"), "");
        let report = child.wait_for_file(&dir.path().join("logged"), Duration::from_secs(60)).await;
        let counts: Vec<u64> = report.split_whitespace().map(|n| n.parse().expect("a number")).collect();
        let (reported, written_by_child) = (counts[0], counts[1]);
        assert_eq!(reported, CHILD_UP_EVENTS + CHILD_DOWN_EVENTS, "{report}");
        assert_eq!(written_by_child, CHILD_UP_EVENTS, "nothing was written while the database was down");
        // Let it log (into the spool) a little longer, then kill it mid-write.
        tokio::time::sleep(Duration::from_millis(200)).await;
        child.kill();

        pg.start().await;
        let store = sink(&pg, "fi-restarted", chaining).await;
        let logger = ActivityLogger::builder()
            .sink(store.clone())
            .spill_dir(dir.path().join("spool"))
            .build()
            .expect("logger builds");
        let recovered = logger.stats().recovered;
        logger.flush().await.expect("flush");
        let s = logger.stats();
        assert_identity(&s);
        assert_eq!((s.written, s.spooled, s.lost()), (recovered, 0, 0), "{s:?}");
        assert!(recovered >= CHILD_DOWN_EVENTS, "the spool held at least the reported events: {s:?}");

        let mut admin = pg.admin().await;
        let (rows, ids, targets) = row_counts(&mut admin).await;
        assert_eq!((rows, ids), (targets, rows), "no event is in the table twice");
        let stored: Vec<String> =
            sqlx::query_scalar("SELECT target_id FROM activities").fetch_all(&mut admin).await.expect("target ids");
        let stored: HashSet<u64> = stored.iter().map(|t| t.parse().expect("a call number")).collect();
        let missing: Vec<u64> = (0..reported).filter(|i| !stored.contains(i)).take(10).collect();
        assert!(missing.is_empty(), "events logged before the report are missing, e.g. {missing:?}");
        assert_chain_intact(&store, "acme", rows as u64, chaining).await;
        println!(
            "killed process: {reported} events reported before SIGKILL, {recovered} recovered from its spool \
             ({} segment(s) torn), {rows} rows in the table, each once",
            s.spool_corrupt
        );
    })
    .await;
}

/// (4) A batch holding one record the database refuses permanently (a
/// CHECK constraint, SQLSTATE 23514, that passes every `Activity`
/// validation): the rest of the batch is written without any transient
/// retry, the bad record is quarantined and handed to the dead-letter
/// hook, and the next 10,000 events are unaffected.
async fn a_record_postgres_refuses_is_quarantined_alone(chaining: bool) {
    bounded(Duration::from_secs(90), async {
        let Some(pg) = PrivatePostgres::create("poison").await else { return };
        let store = sink(&pg, "fi-poison", chaining).await;
        let mut admin = pg.admin().await;
        sqlx::query("ALTER TABLE activities ADD CONSTRAINT no_poison CHECK (activity_type <> 'poison')")
            .execute(&mut admin)
            .await
            .expect("add the check constraint");
        let dead: Arc<Mutex<Vec<(activity_log::Uuid, String, bool)>>> = Arc::default();
        let logger = {
            let dead = dead.clone();
            ActivityLogger::builder()
                .sink(store.clone())
                .batch_size(1_000)
                .batch_timeout(Duration::from_secs(5))
                .dead_letter(move |a, e| {
                    dead.lock().expect("dead letters").push((a.id, e.to_string(), e.is_transient()))
                })
                .build()
                .expect("logger builds")
        };
        let mut poison_id = None;
        for i in 0..1_000 {
            let activity = if i == 617 { Activity::new("poison") } else { Activity::new("call_created") };
            let id = logger.try_log_async(activity.tenant("acme").target("call", i)).expect("valid");
            if i == 617 {
                poison_id = Some(id);
            }
        }
        let started = Instant::now();
        logger.flush().await.expect("flush");
        let took = started.elapsed();
        let s = logger.stats();
        assert_identity(&s);
        assert_eq!((s.written, s.quarantined, s.failed, s.retried), (999, 1, 0, 0), "{s:?}");
        {
            let dead = dead.lock().expect("dead letters");
            assert_eq!(dead.len(), 1, "{dead:?}");
            assert_eq!(Some(dead[0].0), poison_id);
            assert!(dead[0].1.contains("no_poison") && !dead[0].2, "{dead:?}");
        }

        for i in 1_000..11_000 {
            logger.log_async(Activity::new("call_created").tenant("acme").target("call", i));
        }
        logger.flush().await.expect("flush");
        let s = logger.stats();
        assert_identity(&s);
        assert_eq!((s.written, s.quarantined, s.failed, s.retried), (10_999, 1, 0, 0), "{s:?}");
        assert_eq!(dead.lock().expect("dead letters").len(), 1);
        assert_eq!(row_counts(&mut admin).await, (10_999, 10_999, 10_999));
        assert_chain_intact(&store, "acme", 10_999, chaining).await;
        let poisoned: i64 = sqlx::query_scalar("SELECT count(*) FROM activities WHERE activity_type = 'poison'")
            .fetch_one(&mut admin)
            .await
            .expect("count");
        assert_eq!(poisoned, 0);
        let refusals = pg.server_log().matches("violates check constraint \"").count();

        // The other 23514, "no partition of relation ... found for row" (the
        // partition dropped behind the writer's back, as another instance's
        // retention does), is still retried after making the partition again.
        let partition: String = sqlx::query_scalar("SELECT tableoid::regclass::text FROM activities LIMIT 1")
            .fetch_one(&mut admin)
            .await
            .expect("the partition holding the rows");
        for sql in [
            format!("DROP TABLE {partition}"),
            format!("DELETE FROM activity_log_partitions WHERE name = '{partition}'"),
        ] {
            sqlx::query(&sql).execute(&mut admin).await.expect(&sql);
        }
        let late = Activity::new("call_created").tenant("acme").build().expect("valid");
        store.write_batch(std::slice::from_ref(&late)).await.expect("the partition is made again");
        assert_eq!(store.get(late.id, Some("acme")).await.expect("get"), Some(late));
        println!(
            "poison pill: the 1,000-record batch was written around the bad record in {took:?} \
             ({refusals} statements refused by the constraint on the way); {s:?}"
        );
    })
    .await;
}

/// (5) SQLite under contention: 16 writer tasks, each with its own logger
/// and its own `SqliteSink` on one database file (16 writer connections
/// competing for SQLite's single write lock, as 16 processes would),
/// 10,000 events each, while a reader runs queries through the
/// `ActivityStore` API on a 17th sink: 160,000 rows, and no error — no
/// "database is locked" — reaches a caller, the reader, the dead-letter
/// hook or even the logger's retry loop.
#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_with_16_writers_and_a_reader_never_reports_a_locked_database() {
    use activity_log::sqlite::SqliteSink;
    bounded(Duration::from_secs(120), async {
        const WRITERS: u64 = 16;
        const EACH: u64 = 10_000;
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("activity.db").display());
        let reader_store = SqliteSink::connect(&url).await.expect("connect");
        let dead = Arc::new(AtomicU64::new(0));
        let mut loggers = Vec::new();
        for _ in 0..WRITERS {
            let dead = dead.clone();
            let store = SqliteSink::connect(&url).await.expect("connect a writer");
            loggers.push(
                ActivityLogger::builder()
                    .sink(store)
                    // A write waiting its turn for the lock (up to the busy
                    // timeout) is not abandoned meanwhile: what this test
                    // counts is a locked database, not a slow debug build.
                    .write_timeout(activity_log::sqlite::BUSY_TIMEOUT * 2)
                    .dead_letter(move |_, _| {
                        dead.fetch_add(1, Relaxed);
                    })
                    .build()
                    .expect("logger builds"),
            );
        }
        let done = Arc::new(AtomicBool::new(false));
        let reader = {
            let (store, done) = (reader_store.clone(), done.clone());
            tokio::spawn(async move {
                let (mut reads, mut errors) = (0_u64, Vec::new());
                while !done.load(Relaxed) {
                    let tenant = format!("tenant-{}", reads % WRITERS);
                    let filter = ActivityFilter::new().tenant(tenant);
                    let results = [
                        store.count(&ActivityFilter::new()).await.map(|_| ()),
                        store.query(&filter, &PageRequest::first(50)).await.map(|_| ()),
                        store.stats(&filter, &StatsRequest::new()).await.map(|_| ()),
                        store
                            .query(&ActivityFilter::new().search("message 7"), &PageRequest::first(20))
                            .await
                            .map(|_| ()),
                    ];
                    for r in results {
                        if let Err(e) = r {
                            errors.push(e.to_string());
                        }
                    }
                    reads += 4;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                (reads, errors)
            })
        };
        let started = Instant::now();
        let writers: Vec<_> = loggers
            .iter()
            .enumerate()
            .map(|(w, logger)| {
                let logger = logger.clone();
                tokio::spawn(async move {
                    let mut refused = 0;
                    for i in 0..EACH {
                        let activity = Activity::new("chat_message_sent")
                            .tenant(format!("tenant-{w}"))
                            .target("chat", i)
                            .description(format!("message {i}"));
                        if logger.try_log_async(activity).is_err() {
                            refused += 1;
                        }
                        if i % 1_000 == 999 {
                            tokio::task::yield_now().await;
                        }
                    }
                    refused
                })
            })
            .collect();
        for writer in writers {
            assert_eq!(writer.await.expect("writer task"), 0, "log_async refused nothing");
        }
        for logger in &loggers {
            logger.flush().await.expect("flush");
        }
        let took = started.elapsed();
        done.store(true, Relaxed);
        let (reads, errors) = reader.await.expect("reader task");
        assert!(errors.is_empty(), "the reader saw errors: {:?}", &errors[..errors.len().min(5)]);
        let stats: Vec<Stats> = loggers.iter().map(ActivityLogger::stats).collect();
        let retried: u64 = stats.iter().map(|s| s.retried).sum();
        for s in &stats {
            assert_identity(s);
            assert_eq!((s.written, s.lost(), s.queued), (EACH, 0, 0), "{s:?}");
        }
        assert_eq!(dead.load(Relaxed), 0);
        assert_eq!(retried, 0, "no write met a locked database, not even one the logger retried: {stats:?}");
        assert_eq!(reader_store.count(&ActivityFilter::new()).await.expect("count"), WRITERS * EACH);
        let distinct: i64 = sqlx::query_scalar("SELECT count(DISTINCT id) FROM activities")
            .fetch_one(reader_store.writer_pool())
            .await
            .expect("distinct ids");
        assert_eq!(distinct as u64, WRITERS * EACH);
        println!(
            "sqlite: {} rows from {WRITERS} loggers in {took:?} ({:.0} rows/s) with {reads} concurrent reads, \
             0 errors, 0 retries",
            WRITERS * EACH,
            (WRITERS * EACH) as f64 / took.as_secs_f64()
        );
    })
    .await;
}

/// (6) The host application's pool is held exhausted for 20 s: the
/// logger writes through its own pool all along, rows keep arriving, and
/// nothing is lost.
async fn the_host_pool_held_exhausted_for_20s_does_not_stop_the_writer(chaining: bool) {
    bounded(Duration::from_secs(120), async {
        const HOLD: Duration = Duration::from_secs(20);
        const HOST_CONNECTIONS: u32 = 4;
        let Some(pg) = PrivatePostgres::create("host_pool").await else { return };
        let host = sqlx::postgres::PgPoolOptions::new()
            .max_connections(HOST_CONNECTIONS)
            .acquire_timeout(Duration::from_millis(300))
            .connect_with(pg.options().application_name("host-app"))
            .await
            .expect("the host's pool");
        let store = PostgresSink::builder().chaining(chaining).from_pool(host.clone()).await.expect("from_pool");
        let logger = ActivityLogger::builder().sink(store.clone()).build().expect("logger builds");
        let mut held = Vec::new();
        for _ in 0..HOST_CONNECTIONS {
            held.push(host.acquire().await.expect("a host connection"));
        }
        assert!(matches!(host.acquire().await, Err(sqlx::Error::PoolTimedOut)), "the host's pool is exhausted");
        assert!(store.count(&ActivityFilter::new()).await.is_err(), "reads go through the exhausted host pool");

        let mut admin = pg.admin().await;
        let mut samples = Vec::new();
        let mut logged = 0_u64;
        let started = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        for t in 1..=HOLD.as_millis() / 100 {
            tick.tick().await;
            for _ in 0..100 {
                logger.log_async(Activity::new("agent_updated").tenant("acme").target("agent", logged));
                logged += 1;
            }
            if t % 20 == 0 {
                samples.push(row_counts(&mut admin).await.0);
            }
        }
        let held_for = started.elapsed();
        assert_eq!(held.len(), HOST_CONNECTIONS as usize, "the host's connections were held all along");
        drop(held);
        logger.flush().await.expect("flush");

        let s = logger.stats();
        assert_identity(&s);
        assert_eq!((s.written, s.lost()), (logged, 0), "{s:?}");
        assert!(
            samples.windows(2).all(|w| w[1] > w[0]) && samples[0] > 0,
            "rows arrived in every 2 s while the host's pool was exhausted: {samples:?}"
        );
        assert_eq!(row_counts(&mut admin).await, (logged as i64, logged as i64, logged as i64));
        assert_eq!(store.count(&ActivityFilter::new()).await.expect("reads work again"), logged);
        assert_chain_intact(&store, "acme", logged, chaining).await;
        println!("host pool exhausted for {held_for:?}: rows seen every 2 s {samples:?}; {s:?}");
    })
    .await;
}

const OUTAGE_DIR: &str = "ACTIVITY_LOG_FI_OUTAGE_DIR";
const OUTAGE_URL: &str = "ACTIVITY_LOG_FI_OUTAGE_URL";
const OUTAGE_MODE: &str = "ACTIVITY_LOG_FI_OUTAGE_MODE";
const OUTAGE_TENANT: &str = "ACTIVITY_LOG_FI_OUTAGE_TENANT";
/// Set (to anything) when the child's sink chains.
const OUTAGE_CHAINING: &str = "ACTIVITY_LOG_FI_OUTAGE_CHAINING";
const OUTAGE_EVENTS: u64 = 10_000;

/// Not a test on its own: the body of the child process that
/// `a_process_killed_during_an_outage_loses_nothing_it_spooled` starts and
/// kills. It uses the default sink and logger settings (only a spill
/// directory, and the durability mode under test): whatever the driver does
/// when the database is gone, the logger must notice.
#[tokio::test]
async fn child_process_logging_during_an_outage() {
    let (Ok(dir), Ok(url), Ok(mode), Ok(tenant)) = (
        std::env::var(OUTAGE_DIR),
        std::env::var(OUTAGE_URL),
        std::env::var(OUTAGE_MODE),
        std::env::var(OUTAGE_TENANT),
    ) else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let store = PostgresSink::builder()
        .chaining(std::env::var_os(OUTAGE_CHAINING).is_some())
        .connect(&url)
        .await
        .expect("the child connects");
    let durability = if mode == "write-ahead" { Durability::WriteAhead } else { Durability::MemoryFirst };
    let logger = ActivityLogger::builder()
        .sink(store)
        .spill_dir(dir.join("spool"))
        .durability(durability)
        .build()
        .expect("the child's logger builds");
    write_synced(&dir.join("connected"), "connected");
    let started = Instant::now();
    while !dir.join("stopped").exists() {
        assert!(started.elapsed() < Duration::from_secs(60), "the parent never stopped the database");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for i in 0..OUTAGE_EVENTS {
        logger.log_async(Activity::new("call_created").tenant(tenant.as_str()).target("call", i));
    }
    write_synced(&dir.join("logged"), &format!("{:?}", logger.stats()));
    // Report the counters until killed (or, should the parent be gone, for 2 minutes).
    while started.elapsed() < Duration::from_secs(120) {
        write_synced(&dir.join("stats.tmp"), &format!("{:?}", logger.stats()));
        let _ = std::fs::rename(dir.join("stats.tmp"), dir.join("stats"));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs the child in `mode`, stops the database, lets the child log
/// 10,000 activities, kills it (SIGKILL) `kill_after` the last call
/// returned, restarts the database and replays the child's spool. Returns
/// how many of the 10,000 accepted activities are not in the table, and the
/// child's last reported counters.
async fn killed_during_an_outage(
    pg: &PrivatePostgres,
    mode: &str,
    kill_after: Duration,
    chaining: bool,
) -> (u64, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let tenant = format!("{mode}-{}", kill_after.as_millis());
    let url = pg.url();
    let mut env = vec![
        (OUTAGE_DIR, dir.path().as_os_str()),
        (OUTAGE_URL, url.as_ref()),
        (OUTAGE_MODE, mode.as_ref()),
        (OUTAGE_TENANT, tenant.as_ref()),
    ];
    if chaining {
        env.push((OUTAGE_CHAINING, "on".as_ref()));
    }
    let mut child = TestChild::spawn("child_process_logging_during_an_outage", env);
    child.wait_for_file(&dir.path().join("connected"), Duration::from_secs(60)).await;
    pg.stop().await;
    write_synced(&dir.path().join("stopped"), "");
    child.wait_for_file(&dir.path().join("logged"), Duration::from_secs(60)).await;
    tokio::time::sleep(kill_after).await;
    let last_stats = std::fs::read_to_string(dir.path().join("stats")).unwrap_or_default();
    child.kill();

    pg.start().await;
    let store = sink(pg, "fi-after-kill", chaining).await;
    let logger = ActivityLogger::builder()
        .sink(store.clone())
        .spill_dir(dir.path().join("spool"))
        .build()
        .expect("the next logger takes the killed one's spool");
    logger.flush().await.expect("flush");
    let s = logger.stats();
    assert_identity(&s);
    assert_eq!((s.spooled, s.lost()), (0, 0), "{s:?}");
    let mut admin = pg.admin().await;
    let (rows, stored): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(DISTINCT target_id) FROM activities WHERE tenant = $1")
            .bind(&tenant)
            .fetch_one(&mut admin)
            .await
            .expect("count the child's rows");
    assert_eq!(rows, stored, "no activity is stored twice");
    assert_chain_intact(&store, &tenant, rows as u64, chaining).await;
    (OUTAGE_EVENTS - stored as u64, last_stats)
}

/// (7) The crash the issue found: a process logging 10,000 activities with
/// a spill directory while PostgreSQL is down, SIGKILLed. Write-ahead loses
/// nothing, killed at any moment; memory-first loses nothing once the
/// outage has been noticed (`spill_after`, 2 s), and, killed at once, at
/// most what it still held in memory (the documented window).
async fn a_process_killed_during_an_outage_loses_nothing_it_spooled(chaining: bool) {
    bounded(Duration::from_secs(240), async {
        let Some(pg) = PrivatePostgres::create("killed_outage").await else { return };
        for (mode, kill_after) in [
            ("write-ahead", Duration::ZERO),
            ("write-ahead", Duration::from_secs(3)),
            ("memory-first", Duration::from_secs(3)),
            ("memory-first", Duration::ZERO),
        ] {
            let (lost, last_stats) = killed_during_an_outage(&pg, mode, kill_after, chaining).await;
            println!(
                "killed {kill_after:?} after 10,000 log_async calls returned, database down, {mode}: \
                 {lost} of 10,000 lost (child's last counters: {last_stats})"
            );
            if mode == "write-ahead" || kill_after >= Duration::from_secs(3) {
                assert_eq!(lost, 0, "{mode}, killed {kill_after:?} after logging: {last_stats}");
            }
        }
    })
    .await;
}
