//! The builder: options independent of call order, conflicts refused by
//! `build()` with an error naming them, and a spill directory owned by one
//! logger at a time.

use activity_log::{Activity, ActivityLogger, Durability, Error, OverflowPolicy};
use activity_log_tests::assert_identity;
use activity_log_tests::sinks::{DownSink, SlowSink};
use std::time::{Duration, Instant};

fn config_error(result: activity_log::Result<ActivityLogger>) -> String {
    match result {
        Err(Error::Config(message)) => message,
        Err(other) => panic!("expected a configuration error, got {other}"),
        Ok(_) => panic!("expected a configuration error, got a logger"),
    }
}

#[test]
fn options_that_need_a_spill_dir_are_refused_without_one() {
    let cases = [
        (ActivityLogger::builder().overflow(OverflowPolicy::Spill), "overflow(OverflowPolicy::Spill)"),
        (ActivityLogger::builder().durability(Durability::WriteAhead), "durability(Durability::WriteAhead)"),
        (ActivityLogger::builder().spool_max_bytes(1 << 20), "spool_max_bytes"),
        (ActivityLogger::builder().spill_after(Duration::from_secs(1)), "spill_after"),
    ];
    for (builder, option) in cases {
        let message = config_error(builder.build());
        assert!(message.contains(option) && message.contains("spill_dir"), "{message}");
    }
}

#[test]
fn write_ahead_with_a_dropping_overflow_policy_conflicts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let message = config_error(
        ActivityLogger::builder()
            .overflow(OverflowPolicy::DropNewest)
            .durability(Durability::WriteAhead)
            .spill_dir(dir.path())
            .build(),
    );
    assert!(message.contains("WriteAhead") && message.contains("DropNewest"), "{message}");
}

#[test]
fn an_unusable_spill_dir_is_an_error_not_a_silent_downgrade() {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    match ActivityLogger::builder().spill_dir(file.path().join("spool")).build() {
        Err(Error::Spool { dir, .. }) => assert_eq!(dir, file.path().join("spool")),
        Err(other) => panic!("expected a spool error, got {other}"),
        Ok(_) => panic!("a spool under a regular file cannot be opened"),
    }
}

#[tokio::test]
async fn a_second_logger_on_the_same_spill_dir_is_refused_until_the_first_is_gone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = ActivityLogger::builder().spill_dir(dir.path()).build().expect("first logger");
    let error = ActivityLogger::builder().spill_dir(dir.path()).build().expect_err("second logger");
    assert_eq!(error, Error::SpoolLocked { dir: dir.path().to_owned(), pid: Some(std::process::id()) });
    let message = error.to_string();
    assert!(message.contains(&dir.path().display().to_string()), "{message}");
    assert!(message.contains(&format!("process {}", std::process::id())), "{message}");

    first.shutdown(Duration::from_secs(1)).await;
    let again = ActivityLogger::builder().spill_dir(dir.path()).build();
    assert!(again.is_ok(), "shutdown releases the spill directory: {:?}", again.err());
}

/// `spill_after` and `spool_max_bytes` given before `spill_dir` still apply.
#[tokio::test]
async fn spill_options_apply_in_any_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logger = ActivityLogger::builder()
        .spill_after(Duration::from_millis(20))
        .backoff(Duration::from_millis(5), Duration::from_millis(20))
        .sink(DownSink::default())
        .spill_dir(dir.path())
        .build()
        .expect("logger builds");
    for i in 0..100 {
        logger.log_async(Activity::new("call_created").target("call", i));
    }
    let started = Instant::now();
    while logger.stats().spooled < 100 {
        assert!(started.elapsed() < Duration::from_secs(1), "not spilled after 20 ms: {:?}", logger.stats());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let logger = ActivityLogger::builder()
        .spool_max_bytes(1)
        .queue_capacity(10)
        .sink(SlowSink { inner: Default::default(), delay: Duration::from_millis(200) })
        .spill_dir(dir.path())
        .build()
        .expect("logger builds");
    for i in 0..100 {
        logger.log_async(Activity::new("call_created").target("call", i));
    }
    let s = logger.stats();
    assert!(s.dropped >= 80 && s.spooled == 0, "a 1-byte spool takes nothing: {s:?}");
}

/// An explicit overflow policy is kept when a spill directory is added.
#[tokio::test]
async fn spill_dir_does_not_override_an_explicit_overflow_policy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sink = SlowSink { inner: Default::default(), delay: Duration::from_millis(100) };
    let logger = ActivityLogger::builder()
        .overflow(OverflowPolicy::DropNewest)
        .queue_capacity(10)
        .batch_size(10)
        .sink(sink)
        .spill_dir(dir.path())
        .build()
        .expect("logger builds");
    for i in 0..1_000 {
        logger.log_async(Activity::new("call_created").target("call", i));
    }
    logger.flush().await.expect("flush");
    let s = logger.stats();
    assert!(s.dropped > 0 && s.spooled == 0, "DropNewest drops; it does not spill: {s:?}");
    assert_identity(&s);
}
