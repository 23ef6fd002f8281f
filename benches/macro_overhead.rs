//! What `#[log_activity]` costs the caller: a trivial async function with
//! and without the attribute, against calling the same function and making
//! a bare `log_async` of the same activity by hand. Both log into a
//! `MemorySink` through a scoped logger.
//!
//! Prints `BENCH macro_overhead_ns=... log_async_ns=... ratio=...`, where
//! `macro_overhead_ns` is what the attribute adds per call, `log_async_ns`
//! what the hand-written `log_async` adds, and `ratio` the first over the
//! second (target: below 1.2, i.e. the wrapper adds less than 20% over the
//! `log_async` it makes).

use activity_log::{log_activity, Activity, ActivityLogger, MemorySink};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::time::{Duration, Instant};

#[derive(Debug)]
struct NotFound;

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not found")
    }
}

async fn plain(id: u64) -> Result<u64, NotFound> {
    Ok(id)
}

#[log_activity(type = "call_viewed", target = "call", id = id)]
async fn annotated(id: u64) -> Result<u64, NotFound> {
    Ok(id)
}

/// What the attribute does, written by hand: the same activity, one
/// `log_async`, but no timing and no outcome classification.
async fn by_hand(id: u64) -> Result<u64, NotFound> {
    let out = plain(id).await;
    activity_log::log_async(Activity::new("call_viewed").target("call", id).duration(Duration::from_nanos(1)));
    out
}

#[derive(Clone, Copy)]
enum Variant {
    Plain,
    Annotated,
    ByHand,
}

struct Fixture {
    rt: tokio::runtime::Runtime,
    logger: ActivityLogger,
    sink: MemorySink,
}

impl Fixture {
    fn new() -> Self {
        let sink = MemorySink::new();
        let logger =
            ActivityLogger::builder().sink(sink.clone()).queue_capacity(1 << 20).build().expect("logger builds");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        Fixture { rt, logger, sink }
    }

    /// Runs `iters` calls in one scoped task and returns their time; the
    /// sink is emptied afterwards, outside the timing.
    fn run(&self, variant: Variant, iters: u64) -> Duration {
        let elapsed = self.rt.block_on(self.logger.scope(async move {
            let start = Instant::now();
            for i in 0..iters {
                let out = match variant {
                    Variant::Plain => plain(black_box(i)).await,
                    Variant::Annotated => annotated(black_box(i)).await,
                    Variant::ByHand => by_hand(black_box(i)).await,
                };
                let _ = black_box(out);
            }
            start.elapsed()
        }));
        self.rt.block_on(self.logger.flush()).expect("flush");
        self.sink.clear();
        elapsed
    }
}

fn bench(c: &mut Criterion) {
    let fixture = Fixture::new();
    let mut group = c.benchmark_group("macro_overhead");
    for (name, variant) in [("plain", Variant::Plain), ("annotated", Variant::Annotated), ("by_hand", Variant::ByHand)]
    {
        group.bench_function(name, |b| b.iter_custom(|iters| fixture.run(variant, iters)));
    }
    group.finish();

    // The summary line: medians over interleaved samples.
    const SAMPLES: usize = 200;
    const PER_SAMPLE: u64 = 2_000;
    let mut times: [Vec<f64>; 3] = Default::default();
    for _ in 0..SAMPLES {
        for (slot, variant) in [Variant::Plain, Variant::Annotated, Variant::ByHand].into_iter().enumerate() {
            let t = fixture.run(variant, PER_SAMPLE);
            times[slot].push(t.as_nanos() as f64 / PER_SAMPLE as f64);
        }
    }
    let [plain_ns, annotated_ns, by_hand_ns] = times.map(median);
    let macro_overhead_ns = annotated_ns - plain_ns;
    let log_async_ns = by_hand_ns - plain_ns;
    println!(
        "BENCH macro_overhead_ns={macro_overhead_ns:.1} log_async_ns={log_async_ns:.1} ratio={:.3}",
        macro_overhead_ns / log_async_ns
    );
    let report = fixture.rt.block_on(fixture.logger.shutdown(Duration::from_secs(5)));
    assert_eq!(report.unwritten, 0);
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500));
    targets = bench
}
criterion_main!(benches);
