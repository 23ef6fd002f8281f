//! Throughput with the sink down and activities spilling to disk, the
//! replay rate once it recovers, and write-ahead mode (every activity in
//! the spool before `log_async` returns, delivered from it), each against
//! the plain in-memory path in the same run.
//!
//! Prints `BENCH spill_eps=... spill_replay_eps=... memory_eps=... spill_ratio=... replay_ratio=...`
//! and `BENCH wal_eps=... memory_eps=... wal_ratio=...` (end to end: log
//! every activity, then flush until the sink has them all).

use activity_log::{
    async_trait, Activity, ActivityLogger, ActivityLoggerBuilder, Durability, MemorySink, OverflowPolicy, Sink,
    SinkError,
};
use activity_log_benches::{eps, typical};
use criterion::{criterion_group, criterion_main, Criterion};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

const EVENTS: u64 = 200_000;

/// A memory sink that refuses writes while `down`.
#[derive(Debug, Default)]
struct Switch {
    down: AtomicBool,
    inner: MemorySink,
}

#[async_trait]
impl Sink for Switch {
    async fn write_batch(&self, batch: &[Activity]) -> Result<(), SinkError> {
        if self.down.load(Relaxed) {
            return Err(SinkError::transient("connection refused"));
        }
        self.inner.write_batch(batch).await
    }
}

/// Logs `EVENTS` typical activities through a logger on `sink` configured
/// by `configure` (batches of 1,024), flushes, and returns the logger and
/// the rate in events/s.
fn log_and_flush(
    rt: &tokio::runtime::Runtime,
    sink: &Arc<Switch>,
    configure: impl FnOnce(ActivityLoggerBuilder) -> ActivityLoggerBuilder,
) -> (ActivityLogger, f64) {
    let logger =
        configure(ActivityLogger::builder().sink(sink.clone()).batch_size(1_024)).build().expect("logger builds");
    let start = Instant::now();
    for i in 0..EVENTS {
        logger.log_async(typical(i));
    }
    rt.block_on(logger.flush()).expect("flush");
    let rate = eps(EVENTS as usize, start.elapsed());
    (logger, rate)
}

/// Returns (spill events/s, replay events/s, memory events/s, write-ahead events/s).
fn run(rt: &tokio::runtime::Runtime) -> (f64, f64, f64, f64) {
    // Baseline: the same events through the in-memory queue into memory.
    let (logger, memory) = log_and_flush(rt, &Arc::default(), |b| b.overflow(OverflowPolicy::Wait));
    assert_eq!(logger.stats().written, EVENTS);
    drop(logger);

    let dir = tempfile::tempdir().expect("tempdir");
    let sink = Arc::new(Switch::default());
    sink.down.store(true, Relaxed);
    let (logger, spill) = log_and_flush(rt, &sink, |b| b.spill_dir(dir.path()).spill_after(Duration::ZERO));
    let s = logger.stats();
    assert_eq!((s.spooled, s.lost()), (EVENTS, 0), "{s:?}");

    sink.down.store(false, Relaxed);
    let start = Instant::now();
    rt.block_on(logger.flush()).expect("flush");
    let replay = eps(EVENTS as usize, start.elapsed());
    let s = logger.stats();
    assert_eq!((s.written, s.spooled), (EVENTS, 0), "{s:?}");
    let _ = rt.block_on(logger.shutdown(Duration::from_secs(10)));
    drop(logger);

    // Write-ahead: the same events, each appended to the spool before
    // log_async returns and delivered from it.
    let dir = tempfile::tempdir().expect("tempdir");
    let (logger, wal) =
        log_and_flush(rt, &Arc::default(), |b| b.spill_dir(dir.path()).durability(Durability::WriteAhead));
    let s = logger.stats();
    assert_eq!((s.written, s.spooled, s.lost()), (EVENTS, 0, 0), "{s:?}");
    let _ = rt.block_on(logger.shutdown(Duration::from_secs(10)));
    (spill, replay, memory, wal)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let mut group = c.benchmark_group("spill");
    group.sample_size(10).measurement_time(Duration::from_secs(5));
    group.bench_function("spill_10k_sink_down", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dir = tempfile::tempdir().expect("tempdir");
                let sink = Arc::new(Switch::default());
                sink.down.store(true, Relaxed);
                let logger = ActivityLogger::builder()
                    .sink(sink)
                    .spill_dir(dir.path())
                    .spill_after(Duration::ZERO)
                    .build()
                    .expect("logger builds");
                let start = Instant::now();
                for i in 0..10_000 {
                    logger.log_async(typical(i));
                }
                rt.block_on(logger.flush()).expect("flush");
                total += start.elapsed();
                let _ = rt.block_on(logger.shutdown(Duration::ZERO));
            }
            total
        })
    });
    group.finish();

    let runs: Vec<_> = (0..3).map(|_| run(&rt)).collect();
    let spill = median(runs.iter().map(|r| r.0).collect());
    let replay = median(runs.iter().map(|r| r.1).collect());
    let memory = median(runs.iter().map(|r| r.2).collect());
    let wal = median(runs.iter().map(|r| r.3).collect());
    println!(
        "BENCH spill_eps={spill:.0} spill_replay_eps={replay:.0} memory_eps={memory:.0} spill_ratio={:.2} replay_ratio={:.2}",
        spill / memory,
        replay / memory
    );
    println!("BENCH wal_eps={wal:.0} memory_eps={memory:.0} wal_ratio={:.2}", wal / memory);
}

criterion_group!(benches, bench);
criterion_main!(benches);
