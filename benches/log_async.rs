//! The caller's cost of `log_async`, against building the same activity and
//! doing a bare `tokio::sync::mpsc::Sender::try_send` of it.
//!
//! Prints `BENCH log_async_ns_median=... baseline_ns_median=... ratio=... dropped=...`:
//! the median over several trials of each trial's ratio, each trial timing
//! both sides interleaved, and the activities dropped in every trial. A
//! trial that dropped any is measuring drops, not the caller's cost: the
//! logger runs with its default (byte-bounded) queue, and the worker is
//! given time to drain between trials, so that every trial drops nothing.
//! The logger writes to a [`NullSink`] so that only the caller's side and
//! the hand-off are measured, as with the baseline's discarding consumer.

use activity_log::{Activity, ActivityLogger, NullSink};
use activity_log_benches::{median_ns_per_call, typical};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const PER_SAMPLE: u64 = 1_000;
const SAMPLES: usize = 300;

/// A channel whose consumer drains on a 1 ms timer, like the logger's worker
/// (a consumer woken per send would make the baseline unfairly slow).
fn baseline_channel() -> (tokio::sync::mpsc::Sender<Activity>, Arc<AtomicBool>, std::thread::JoinHandle<()>) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Activity>(1 << 20);
    let stop = Arc::new(AtomicBool::new(false));
    let stop_consumer = stop.clone();
    let consumer = std::thread::spawn(move || {
        while !stop_consumer.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(1));
            while let Ok(a) = rx.try_recv() {
                black_box(a);
            }
        }
    });
    (tx, stop, consumer)
}

fn logger() -> ActivityLogger {
    ActivityLogger::builder().sink(NullSink).build().expect("logger builds")
}

const TRIALS: usize = 7;

fn bench(c: &mut Criterion) {
    let (tx, stop, consumer) = baseline_channel();
    let logger = logger();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");

    let mut group = c.benchmark_group("caller_cost");
    group.bench_function("build_and_try_send", |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            let a = typical(i).build().expect("valid");
            let _ = black_box(tx.try_send(a));
        })
    });
    group.bench_function("log_async", |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            logger.log_async(typical(i));
        })
    });
    group.finish();
    rt.block_on(logger.flush()).expect("flush");

    // The summary: interleave the two so that machine noise hits both alike.
    let mut trials = Vec::with_capacity(TRIALS);
    for _ in 0..TRIALS {
        let dropped_before = logger.stats().dropped;
        let base = median_ns_per_call(SAMPLES / 5, PER_SAMPLE, |i| {
            let a = typical(i).build().expect("valid");
            let _ = black_box(tx.try_send(a));
        });
        let ours = median_ns_per_call(SAMPLES / 5, PER_SAMPLE, |i| logger.log_async(typical(i)));
        rt.block_on(logger.flush()).expect("flush");
        trials.push((ours, base, logger.stats().dropped - dropped_before));
    }
    let mid = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let ratio = mid(trials.iter().map(|t| t.0 / t.1).collect());
    let (ours, base) = (mid(trials.iter().map(|t| t.0).collect()), mid(trials.iter().map(|t| t.1).collect()));
    let dropped: Vec<String> = trials.iter().map(|t| t.2.to_string()).collect();
    for (i, (o, b, d)) in trials.iter().enumerate() {
        println!("trial {i}: log_async {o:.0} ns, baseline {b:.0} ns, ratio {:.2}, dropped {d}", o / b);
    }
    println!(
        "BENCH log_async_ns_median={ours:.0} baseline_ns_median={base:.0} ratio={ratio:.2} dropped={} trials={TRIALS} dropped_per_trial={}",
        trials.iter().map(|t| t.2).sum::<u64>(),
        dropped.join(",")
    );

    stop.store(true, Ordering::Relaxed);
    consumer.join().expect("consumer");
    let _ = rt.block_on(logger.shutdown(Duration::from_secs(10)));
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
