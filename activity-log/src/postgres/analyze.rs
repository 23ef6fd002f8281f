//! Fresh statistics for the partitions the writer fills.
//!
//! Right after a bulk load, before autovacuum's ANALYZE, the planner knows
//! a partition from statistics taken when it held few rows (or none of a
//! tenant). It then estimates a tenant's keyset page at a row or two and
//! sorts all of the tenant's rows instead of reading its index in order:
//! measured 0.4–0.6 s for a page on 1M rows, against about 1 ms. The
//! keyset query already has the index's shape (`(occurred_at, id) <
//! (...)`, the same order, a small LIMIT); no query shape fixes an
//! estimate this wrong, short of disabling plan types for every read. So
//! the writer counts what it writes into each partition and has it
//! analyzed (off the write path, on the read pool) once it has written
//! [`ANALYZE_AFTER_ROWS`] rows there, then whenever it has written
//! [`GROWTH`] times as many rows again as it had before the last one: a
//! growing partition is analyzed a logarithmic number of times (each
//! ANALYZE reads a bounded sample), and its statistics always describe at
//! least a fifth of its rows, close enough for the planner. (Analyzing at
//! each doubling cost the `pg_write` bench about 15 % of its throughput on
//! two cores.)

use super::Partitioning;
use crate::Activity;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::Mutex;

/// Rows written into a partition before its first ANALYZE by the writer.
pub(crate) const ANALYZE_AFTER_ROWS: u64 = 10_000;

/// How many times the rows written before the last ANALYZE must be
/// written again before the next.
pub(crate) const GROWTH: u64 = 4;

/// What the writer put into one partition.
#[derive(Debug, Default)]
struct Fill {
    /// Rows written since the last ANALYZE was started.
    since: u64,
    /// Rows written before it.
    before: u64,
    /// An ANALYZE is running.
    running: bool,
}

/// Rows written per partition (by its start), since the sink started.
#[derive(Debug, Default)]
pub(crate) struct Fills {
    by_start: Mutex<HashMap<DateTime<Utc>, Fill>>,
}

impl Fills {
    /// Counts `batch` into its partitions; returns the starts of those now
    /// due for an ANALYZE (each marked running until [`done`](Self::done)).
    pub(crate) fn note(&self, scheme: Partitioning, batch: &[Activity]) -> Vec<DateTime<Utc>> {
        let mut by_start = self.by_start.lock().unwrap_or_else(|e| e.into_inner());
        let mut last: Option<(DateTime<Utc>, DateTime<Utc>)> = None;
        for a in batch {
            let start = match last {
                Some((lo, hi)) if a.occurred_at >= lo && a.occurred_at < hi => lo,
                _ => {
                    let lo = scheme.start_of(a.occurred_at);
                    last = Some((lo, scheme.next(lo)));
                    lo
                }
            };
            by_start.entry(start).or_default().since += 1;
        }
        let mut due = Vec::new();
        for (start, fill) in by_start.iter_mut() {
            if !fill.running && fill.since >= ANALYZE_AFTER_ROWS.max(GROWTH * fill.before) {
                fill.running = true;
                fill.before += fill.since;
                fill.since = 0;
                due.push(*start);
            }
        }
        due
    }

    /// The ANALYZE of the partition starting at `start` has ended.
    pub(crate) fn done(&self, start: DateTime<Utc>) {
        let mut by_start = self.by_start.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(fill) = by_start.get_mut(&start) {
            fill.running = false;
        }
    }
}

/// Analyzes the partition holding `at` (the partition's name is bound,
/// never formatted: the database function quotes it).
pub(crate) async fn analyze_partition(pool: &PgPool, at: DateTime<Utc>) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT activity_log_analyze_partition($1)").bind(at).execute(pool).await.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn batch(n: usize, at: DateTime<Utc>) -> Vec<Activity> {
        (0..n).map(|_| Activity::new("t").occurred_at(at).build().expect("valid")).collect()
    }

    #[test]
    fn a_partition_is_analyzed_each_time_it_grows_fivefold() {
        let fills = Fills::default();
        let scheme = Partitioning::Monthly;
        let at = Utc.with_ymd_and_hms(2026, 3, 14, 12, 0, 0).single().expect("time");
        let start = scheme.start_of(at);
        assert!(fills.note(scheme, &batch(9_999, at)).is_empty());
        assert_eq!(fills.note(scheme, &batch(1, at)), [start]);
        // Running: not due again until done.
        assert!(fills.note(scheme, &batch(40_000, at)).is_empty());
        fills.done(start);
        assert_eq!(fills.note(scheme, &batch(1, at)), [start], "40,001 written since 10,000");
        fills.done(start);
        assert!(fills.note(scheme, &batch(200_003, at)).is_empty(), "200,003 < 4 * 50,001");
        assert_eq!(fills.note(scheme, &batch(1, at)), [start]);
    }

    #[test]
    fn partitions_are_counted_apart() {
        let fills = Fills::default();
        let scheme = Partitioning::Daily;
        let day = Utc.with_ymd_and_hms(2026, 3, 14, 12, 0, 0).single().expect("time");
        let next = day + chrono::Duration::days(1);
        let mut rows = batch(6_000, day);
        rows.extend(batch(6_000, next));
        assert!(fills.note(scheme, &rows).is_empty());
        let mut due = fills.note(scheme, &[batch(4_000, day), batch(4_000, next)].concat());
        due.sort();
        assert_eq!(due, [scheme.start_of(day), scheme.start_of(next)]);
    }
}
