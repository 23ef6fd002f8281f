//! End-to-end throughput into `MemorySink`: 1,000,000 activities from
//! `log_async` to the sink, flushed.
//!
//! Prints `BENCH memory_eps=... memory_eps_with_build=...`: the first with
//! activities built beforehand (the pipeline alone), the second building
//! each one in the loop (what a caller pays in total).

use activity_log::{ActivityLogger, MemorySink, OverflowPolicy};
use activity_log_benches::typical;
use criterion::{criterion_group, criterion_main, Criterion};
use std::time::{Duration, Instant};

const EVENTS: u64 = 1_000_000;

fn logger(sink: &MemorySink) -> ActivityLogger {
    ActivityLogger::builder()
        .sink(sink.clone())
        .batch_size(1_024)
        .queue_capacity(65_536)
        .overflow(OverflowPolicy::Wait)
        .build()
        .expect("logger builds")
}

/// Returns events per second.
fn run(rt: &tokio::runtime::Runtime, prebuilt: bool) -> f64 {
    let sink = MemorySink::new();
    let logger = logger(&sink);
    let elapsed = if prebuilt {
        let activities: Vec<_> = (0..EVENTS).map(|i| typical(i).build().expect("valid")).collect();
        let start = Instant::now();
        for a in activities {
            logger.log_async(a);
        }
        rt.block_on(logger.flush()).expect("flush");
        start.elapsed()
    } else {
        let start = Instant::now();
        for i in 0..EVENTS {
            logger.log_async(typical(i));
        }
        rt.block_on(logger.flush()).expect("flush");
        start.elapsed()
    };
    assert_eq!(sink.len() as u64, EVENTS, "every event written");
    let _ = rt.block_on(logger.shutdown(Duration::from_secs(10)));
    EVENTS as f64 / elapsed.as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let mut group = c.benchmark_group("memory_throughput");
    group.sample_size(10).measurement_time(Duration::from_secs(5));
    group.bench_function("log_100k_and_flush", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let sink = MemorySink::new();
                let logger = logger(&sink);
                let start = Instant::now();
                for i in 0..100_000 {
                    logger.log_async(typical(i));
                }
                rt.block_on(logger.flush()).expect("flush");
                total += start.elapsed();
            }
            total
        })
    });
    group.finish();

    let prebuilt = median((0..3).map(|_| run(&rt, true)).collect());
    let with_build = median((0..3).map(|_| run(&rt, false)).collect());
    println!("BENCH memory_eps={prebuilt:.0} memory_eps_with_build={with_build:.0}");
}

criterion_group!(benches, bench);
criterion_main!(benches);
