//! A property test of random sequences of log / sink failure / sink
//! recovery / flush against a reference model: the accounting identity holds
//! after every step, nothing is lost, and no id is written twice.

use activity_log::{Activity, ActivityLogger};
use activity_log_tests::assert_identity;
use activity_log_tests::sinks::SwitchSink;
use proptest::prelude::*;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone)]
enum Op {
    Log(u16),
    SinkDown,
    SinkUp,
    Flush,
    Pause(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1u16..600).prop_map(Op::Log),
        1 => Just(Op::SinkDown),
        1 => Just(Op::SinkUp),
        1 => Just(Op::Flush),
        1 => (1u8..30).prop_map(Op::Pause),
    ]
}

fn run(ops: Vec<Op>, queue_capacity: usize) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let sink = Arc::new(SwitchSink::down());
        sink.set_up(true);
        let logger = ActivityLogger::builder()
            .sink(sink.clone())
            .spill_dir(dir.path())
            .spill_after(Duration::from_millis(5))
            .backoff(Duration::from_millis(1), Duration::from_millis(20))
            .queue_capacity(queue_capacity)
            .batch_size(64)
            .batch_timeout(Duration::from_millis(5))
            .build()
            .expect("logger builds");
        let mut logged = Vec::new();
        for op in ops {
            match op {
                Op::Log(n) => {
                    for _ in 0..n {
                        logged.push(logger.try_log_async(Activity::new("step")).expect("accepted"));
                    }
                }
                Op::SinkDown => sink.set_up(false),
                Op::SinkUp => sink.set_up(true),
                Op::Flush => logger.flush().await.expect("flush"),
                Op::Pause(ms) => tokio::time::sleep(Duration::from_millis(u64::from(ms))).await,
            }
            let s = logger.stats();
            assert_identity(&s);
            assert_eq!(s.logged, logged.len() as u64);
            assert_eq!(s.lost(), 0, "nothing is lost with a spool: {s:?}");
        }
        sink.set_up(true);
        logger.flush().await.expect("flush");
        let report = logger.shutdown(Duration::from_secs(10)).await;
        assert!(report.is_complete(), "{report:?}");
        assert_eq!(sink.duplicates(), 0, "no id is written twice");
        let written: HashSet<_> = sink.inner.activities().into_iter().map(|a| a.id).collect();
        assert_eq!(written, logged.into_iter().collect::<HashSet<_>>());
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn accounting_holds_and_nothing_is_written_twice(ops in prop::collection::vec(op(), 1..25), small_queue in any::<bool>()) {
        run(ops, if small_queue { 50 } else { 10_000 });
    }
}
