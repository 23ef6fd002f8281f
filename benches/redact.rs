//! The redactor on large values, against copying the same data.
//!
//! Each case clones an activity and redacts the clone; the baseline clones
//! the same activity and does nothing else. Values are far over the
//! validation limits on purpose (the redactor must stay linear on anything
//! a caller hands it), so activities are built small and then filled in.
//!
//! Prints
//! `BENCH redact_1mb_ms=... redact_secrets_1mb_ms=... redact_copy_1mb_ms=... redact_ratio=... redact_secrets_ratio=...`,
//! `BENCH redact_small_us=... redact_small_copy_us=... redact_small_ratio=...` (10,000 strings of ~100
//! bytes in one metadata object), and
//! `BENCH redact_4mb_ms=... redact_linearity=...` (time for 4 MB over 4 × the time for 1 MB: 1.0 is linear).

use activity_log::{Activity, Redactor};
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::{Map, Value};
use std::hint::black_box;
use std::time::Instant;

/// Ordinary log text with near-misses (`token` in prose, URLs without
/// userinfo, `Bearer` before a plain word) but no secret.
const PLAIN: &str = "2026-11-23T21:14:03Z INFO call 4711 routed to queue sales after 3 rings; \
     the token bucket refilled, see https://status.example.com/calls?id=4711&page=2 \
     (Bearer tokens rotate daily) user ann@example.com said thanks.\n";

/// The same with secrets of several shapes.
const SECRETS: &str = "POST /hooks HTTP/1.1\r\nAuthorization: Bearer abc123DEF456ghi789\r\n\
     curl -H 'X-Api-Key: k3y-123456' 'https://api.example.com/x?password=hunter2&page=2' \
     postgres://app:s3cret@db:5432/x sk_live_4eC39HqLyjWDarjtT1zdp7dc AKIAIOSFODNN7EXAMPLE \
     eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c\n";

fn text_of(unit: &str, bytes: usize) -> String {
    unit.repeat(bytes / unit.len() + 1)
}

fn activity_with(metadata: Map<String, Value>) -> Activity {
    let mut a = Activity::new("webhook_received").build().expect("valid");
    a.metadata = metadata;
    a
}

fn one_string(text: String) -> Activity {
    let mut m = Map::new();
    m.insert("raw".to_owned(), Value::String(text));
    activity_with(m)
}

/// Median milliseconds of `runs` calls of `f`.
fn median_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn bench(c: &mut Criterion) {
    let redactor = Redactor::default();
    let plain = one_string(text_of(PLAIN, 1 << 20));
    let secrets = one_string(text_of(SECRETS, 1 << 20));
    let plain_4mb = one_string(text_of(PLAIN, 4 << 20));
    let small = activity_with(
        (0..10_000)
            .map(|i| {
                let text = if i % 10 == 0 { &SECRETS[..110] } else { &PLAIN[..100] };
                (format!("k{i}"), Value::String(text.to_owned()))
            })
            .collect(),
    );

    let redact = |a: &Activity| {
        let mut a = a.clone();
        redactor.redact(&mut a);
        black_box(a);
    };
    let copy = |a: &Activity| {
        black_box(a.clone());
    };

    let mut group = c.benchmark_group("redact");
    group.sample_size(20);
    group.bench_function("plain_1mb", |b| b.iter(|| redact(&plain)));
    group.bench_function("secrets_1mb", |b| b.iter(|| redact(&secrets)));
    group.bench_function("copy_1mb", |b| b.iter(|| copy(&plain)));
    group.bench_function("small_10k", |b| b.iter(|| redact(&small)));
    group.finish();

    // The summary, each figure next to its baseline from the same moment.
    let runs = 31;
    let copy_1mb = median_ms(runs, || copy(&plain));
    let plain_1mb = median_ms(runs, || redact(&plain));
    let secrets_1mb = median_ms(runs, || redact(&secrets));
    let copy_again = median_ms(runs, || copy(&plain));
    let copy_1mb = copy_1mb.min(copy_again);
    let plain_4mb_ms = median_ms(11, || redact(&plain_4mb));
    let small_copy = median_ms(runs, || copy(&small));
    let small_redact = median_ms(runs, || redact(&small));

    let mut check = secrets.clone();
    redactor.redact(&mut check);
    let leaked = ["hunter2", "s3cret", "abc123DEF456", "4eC39HqLy", "IOSFODNN7", "SflKxwRJ"]
        .iter()
        .filter(|s| check.metadata["raw"].as_str().is_some_and(|t| t.contains(*s)))
        .count();
    assert_eq!(leaked, 0, "every planted secret is masked");

    println!(
        "BENCH redact_1mb_ms={plain_1mb:.3} redact_secrets_1mb_ms={secrets_1mb:.3} redact_copy_1mb_ms={copy_1mb:.3} \
         redact_ratio={:.1} redact_secrets_ratio={:.1}",
        plain_1mb / copy_1mb,
        secrets_1mb / copy_1mb
    );
    println!(
        "BENCH redact_small_us={:.0} redact_small_copy_us={:.0} redact_small_ratio={:.1}",
        small_redact * 1e3,
        small_copy * 1e3,
        small_redact / small_copy
    );
    println!("BENCH redact_4mb_ms={plain_4mb_ms:.3} redact_linearity={:.2}", plain_4mb_ms / (4.0 * plain_1mb));
}

criterion_group!(benches, bench);
criterion_main!(benches);
