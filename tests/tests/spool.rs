//! Lossless delivery: activities spill to disk when the queue is full or the
//! sink is down, and are replayed in order — also after the process is
//! killed.

use activity_log::{Activity, ActivityLogger, Durability, OverflowPolicy};
use activity_log_tests::assert_identity;
use activity_log_tests::child::{write_synced, TestChild};
use activity_log_tests::sinks::{SlowSink, SwitchSink};
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The spool's segment files in `dir` (not its lock and cursor files).
fn spool_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("spool dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "spool"))
        .collect();
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_down_then_up_loses_nothing_and_writes_nothing_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sink = Arc::new(SwitchSink::down());
    let logger = ActivityLogger::builder()
        .sink(sink.clone())
        .spill_dir(dir.path())
        .spill_after(Duration::from_millis(50))
        .backoff(Duration::from_millis(5), Duration::from_millis(50))
        .queue_capacity(1_000)
        .batch_size(200)
        .build()
        .expect("logger builds");
    let mut latencies = Vec::with_capacity(20_000);
    for i in 0..20_000 {
        let started = Instant::now();
        logger.log_async(Activity::new("call_created").target("call", i));
        latencies.push(started.elapsed());
    }
    logger.flush().await.expect("flush");
    let s = logger.stats();
    assert_identity(&s);
    assert_eq!((s.written, s.lost()), (0, 0), "{s:?}");
    assert_eq!(s.spooled, 20_000, "{s:?}");
    latencies.sort();
    println!(
        "log_async while the sink was down: p50 {:?}, p99 {:?}, max {:?}",
        latencies[latencies.len() / 2],
        latencies[latencies.len() * 99 / 100],
        latencies[latencies.len() - 1]
    );

    sink.set_up(true);
    logger.flush().await.expect("flush");
    let s = logger.stats();
    assert_identity(&s);
    assert_eq!((s.written, s.spooled, s.lost()), (20_000, 0, 0), "{s:?}");
    assert_eq!(sink.inner.len(), 20_000);
    assert_eq!(sink.duplicates(), 0);
    assert_eq!(spool_files(dir.path()).len(), 1, "replayed segments are deleted; only the empty active one is left");
    let report = logger.shutdown(Duration::from_secs(5)).await;
    assert!(report.is_complete(), "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_queue_spills_instead_of_dropping() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sink = SlowSink { inner: Default::default(), delay: Duration::from_millis(2) };
    let logger = ActivityLogger::builder()
        .sink(sink.clone())
        .spill_dir(dir.path())
        .queue_capacity(100)
        .batch_size(100)
        .build()
        .expect("logger builds");
    for i in 0..10_000 {
        logger.log_async(Activity::new("chat_message").target("chat", i));
    }
    let s = logger.stats();
    assert!(s.spooled > 0, "a 100-slot queue behind a slow sink must spill: {s:?}");
    assert_identity(&s);
    logger.flush().await.expect("flush");
    let s = logger.stats();
    assert_eq!((s.written, s.dropped, s.spooled), (10_000, 0, 0), "{s:?}");
    assert_eq!(sink.inner.len(), 10_000);
}

#[tokio::test]
async fn a_full_spool_drops_and_counts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logger = ActivityLogger::builder()
        .sink(SwitchSink::down())
        .spill_dir(dir.path())
        .spool_max_bytes(20_000)
        .spill_after(Duration::ZERO)
        .queue_capacity(10)
        .overflow(OverflowPolicy::Spill)
        .build()
        .expect("logger builds");
    for i in 0..1_000 {
        logger.log_async(Activity::new("call_created").target("call", i));
    }
    logger.flush().await.expect("flush");
    let s = logger.stats();
    assert_identity(&s);
    assert!(s.spooled > 0 && s.spooled < 200, "{s:?}");
    assert_eq!(s.spooled + s.dropped + s.failed, 1_000, "{s:?}");
}

#[tokio::test]
async fn the_next_logger_on_the_same_spool_replays_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        // Write-ahead: the spool holds the activities in the order they were logged.
        let logger = ActivityLogger::builder()
            .sink(SwitchSink::down())
            .spill_dir(dir.path())
            .durability(Durability::WriteAhead)
            .spill_after(Duration::from_millis(20))
            .build()
            .expect("logger builds");
        for i in 0..5_000 {
            logger.log_async(Activity::new("agent_login").target("agent", i));
        }
        let report = logger.shutdown(Duration::from_millis(500)).await;
        assert_eq!((report.stats.spooled, report.stats.lost()), (5_000, 0), "{report:?}");
        assert_eq!(report.unwritten, 5_000, "spooled activities are unwritten, but safe");
    }
    let sink = Arc::new(SwitchSink::down());
    sink.set_up(true);
    let logger = ActivityLogger::builder().sink(sink.clone()).spill_dir(dir.path()).build().expect("logger builds");
    assert_eq!(logger.stats().recovered, 5_000);
    logger.flush().await.expect("flush");
    let s = logger.stats();
    assert_identity(&s);
    assert_eq!((s.written, s.spooled, s.logged), (5_000, 0, 0), "{s:?}");
    assert_eq!(sink.duplicates(), 0);
    // Replay keeps the spool's order.
    let ids: Vec<_> = sink.inner.activities().iter().map(|a| a.target.clone().and_then(|t| t.id)).collect();
    let expected: Vec<_> = (0..5_000).map(|i: i32| Some(i.to_string())).collect();
    assert!(ids == expected, "replayed out of order, e.g. first {:?}", &ids[..10.min(ids.len())]);
}

const CHILD_DIR: &str = "ACTIVITY_LOG_SPOOL_CHILD_DIR";
const CHILD_EVENTS: u64 = 3_000;

/// Not a test on its own: the body of the child process that
/// `killed_process_spool_is_replayed` starts and kills.
#[tokio::test]
async fn child_process_logging_into_a_spool() {
    let Ok(dir) = std::env::var(CHILD_DIR) else { return };
    let dir = std::path::PathBuf::from(dir);
    let logger = ActivityLogger::builder()
        .sink(SwitchSink::down())
        .spill_dir(dir.join("spool"))
        .spill_after(Duration::from_millis(20))
        .build()
        .expect("logger builds");
    for i in 0..CHILD_EVENTS {
        logger.log_async(Activity::new("call_created").target("call", i));
    }
    logger.flush().await.expect("flush");
    write_synced(&dir.join("logged"), &logger.stats().logged.to_string());
    // Keep logging until killed: some of these are in the spool, some may be torn.
    for i in CHILD_EVENTS.. {
        logger.log_async(Activity::new("call_created").target("call", i));
        if i.is_multiple_of(1_000) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

#[tokio::test]
async fn killed_process_spool_is_replayed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = TestChild::spawn("child_process_logging_into_a_spool", [(CHILD_DIR, dir.path())]);
    let report = child.wait_for_file(&dir.path().join("logged"), Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    child.kill();
    let reported: u64 = report.parse().expect("number");
    assert_eq!(reported, CHILD_EVENTS);

    // Tear the newest segment's last record, as a crash mid-write would.
    let spool = dir.path().join("spool");
    let segments = spool_files(&spool);
    let newest = segments.iter().rev().find(|p| std::fs::metadata(p).map(|m| m.len() > 0).unwrap_or(false));
    let torn = match newest {
        Some(path) => {
            let mut f = std::fs::OpenOptions::new().append(true).open(path).expect("segment");
            f.write_all(&[200, 1, 0, 0, 7, 7]).expect("torn bytes");
            true
        }
        None => false,
    };

    let sink = Arc::new(SwitchSink::down());
    sink.set_up(true);
    let logger = ActivityLogger::builder().sink(sink.clone()).spill_dir(&spool).build().expect("logger builds");
    logger.flush().await.expect("flush");
    let s = logger.stats();
    assert_identity(&s);
    assert_eq!(sink.duplicates(), 0);
    let written: std::collections::HashSet<u64> = sink
        .inner
        .activities()
        .iter()
        .map(|a| a.target.as_ref().and_then(|t| t.id.as_deref()).and_then(|id| id.parse().ok()).expect("call id"))
        .collect();
    assert!((0..CHILD_EVENTS).all(|i| written.contains(&i)), "every event logged before the report was replayed");
    assert_eq!(s.written, s.recovered, "{s:?}");
    if torn {
        assert_eq!(s.spool_corrupt, 1, "{s:?}");
    }
    println!("replayed {} events from the killed process ({} before its report)", s.written, CHILD_EVENTS);
}

const HOLDER_DIR: &str = "ACTIVITY_LOG_SPOOL_HOLDER_DIR";

/// Not a test on its own: the body of the child process that
/// `a_spill_dir_held_by_another_process_is_refused` starts: it owns a
/// spool until it is killed.
#[tokio::test]
async fn child_process_holding_a_spool() {
    let Ok(dir) = std::env::var(HOLDER_DIR) else { return };
    let dir = std::path::PathBuf::from(dir);
    let logger = ActivityLogger::builder()
        .sink(SwitchSink::down())
        .spill_dir(dir.join("spool"))
        .durability(Durability::WriteAhead)
        .build()
        .expect("child logger");
    logger.log_async(Activity::new("call_created"));
    write_synced(&dir.join("ready"), "ready");
    tokio::time::sleep(Duration::from_secs(60)).await;
}

/// Two processes on one spill directory: the second is refused with an
/// error naming the directory and the holder's pid, and gets it once the
/// holder is gone (the lock dies with its process, even killed).
#[tokio::test]
async fn a_spill_dir_held_by_another_process_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = TestChild::spawn("child_process_holding_a_spool", [(HOLDER_DIR, dir.path())]);
    child.wait_for_file(&dir.path().join("ready"), Duration::from_secs(30)).await;
    let spool = dir.path().join("spool");
    let refused = ActivityLogger::builder().spill_dir(&spool).build();
    child.kill();
    match refused {
        Err(e @ activity_log::Error::SpoolLocked { .. }) => {
            assert_eq!(e, activity_log::Error::SpoolLocked { dir: spool.clone(), pid: Some(child.id()) });
            println!("second process refused: {e}");
        }
        Err(other) => panic!("expected SpoolLocked, got {other}"),
        Ok(_) => panic!("two loggers own one spill directory"),
    }

    // The killed holder's activity is still there for the next owner.
    let sink = Arc::new(SwitchSink::down());
    sink.set_up(true);
    let logger =
        ActivityLogger::builder().sink(sink.clone()).spill_dir(&spool).build().expect("the lock died with its holder");
    logger.flush().await.expect("flush");
    assert_eq!(sink.inner.len(), 1);
    assert_identity(&logger.stats());
}
