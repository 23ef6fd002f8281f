//! Time partitions: which partition a row belongs to, creating them ahead
//! of time (and on demand for late or back-dated rows), and dropping whole
//! partitions for retention.

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, TimeZone, Utc};
use sqlx::PgPool;
use std::collections::BTreeSet;
use std::sync::Mutex;

/// How the activities table is cut into partitions by `occurred_at` (UTC).
///
/// Monthly suits most services; daily suits high volume with a short
/// retention, since retention drops whole partitions. Changing it later is
/// safe: a range an existing partition already covers is left alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Partitioning {
    /// One partition per UTC calendar month (the default).
    #[default]
    Monthly,
    /// One partition per UTC day.
    Daily,
}

impl Partitioning {
    /// The start of the partition holding `at`.
    pub fn start_of(self, at: DateTime<Utc>) -> DateTime<Utc> {
        let date = at.date_naive();
        let first = match self {
            Self::Monthly => NaiveDate::from_ymd_opt(date.year(), date.month(), 1).unwrap_or(date),
            Self::Daily => date,
        };
        Utc.from_utc_datetime(&first.and_time(chrono::NaiveTime::MIN))
    }

    /// The start of the partition after the one starting at `start`.
    pub fn next(self, start: DateTime<Utc>) -> DateTime<Utc> {
        let next = match self {
            Self::Monthly => start.checked_add_months(Months::new(1)),
            Self::Daily => start.checked_add_days(Days::new(1)),
        };
        next.unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// The table name of the partition starting at `start`, e.g.
    /// `activities_y2025m03` or `activities_y2025m03d14`.
    pub fn table_name(self, start: DateTime<Utc>) -> String {
        match self {
            Self::Monthly => format!("activities_y{:04}m{:02}", start.year(), start.month()),
            Self::Daily => format!("activities_y{:04}m{:02}d{:02}", start.year(), start.month(), start.day()),
        }
    }
}

/// The partitions known to exist, so that a batch only costs a lookup.
#[derive(Debug, Default)]
pub(crate) struct Partitions {
    known: Mutex<BTreeSet<DateTime<Utc>>>,
}

impl Partitions {
    /// The partition starts `times` need that are not known to exist.
    pub(crate) fn missing(
        &self,
        scheme: Partitioning,
        times: impl Iterator<Item = DateTime<Utc>>,
    ) -> BTreeSet<DateTime<Utc>> {
        let known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        let mut missing = BTreeSet::new();
        let mut last: Option<(DateTime<Utc>, DateTime<Utc>)> = None;
        for at in times {
            if last.is_some_and(|(lo, hi)| at >= lo && at < hi) {
                continue;
            }
            let start = scheme.start_of(at);
            last = Some((start, scheme.next(start)));
            if !known.contains(&start) {
                missing.insert(start);
            }
        }
        missing
    }

    /// Creates the partitions starting at `starts` (if they do not exist).
    pub(crate) async fn create(
        &self,
        pool: &PgPool,
        scheme: Partitioning,
        starts: &BTreeSet<DateTime<Utc>>,
    ) -> Result<(), sqlx::Error> {
        for &start in starts {
            sqlx::query("SELECT activity_log_create_partition($1, $2, $3)")
                .bind(scheme.table_name(start))
                .bind(start)
                .bind(scheme.next(start))
                .execute(pool)
                .await?;
            self.known.lock().unwrap_or_else(|e| e.into_inner()).insert(start);
        }
        Ok(())
    }

    /// Creates the partition holding `from` and the next `ahead` ones.
    pub(crate) async fn create_ahead(
        &self,
        pool: &PgPool,
        scheme: Partitioning,
        from: DateTime<Utc>,
        ahead: u32,
    ) -> Result<(), sqlx::Error> {
        let mut start = scheme.start_of(from);
        let mut starts = BTreeSet::new();
        for _ in 0..=ahead {
            starts.insert(start);
            start = scheme.next(start);
        }
        let missing: BTreeSet<_> = {
            let known = self.known.lock().unwrap_or_else(|e| e.into_inner());
            starts.difference(&known).copied().collect()
        };
        self.create(pool, scheme, &missing).await
    }

    /// Forgets every partition (after retention dropped some, or a write
    /// found one missing): the next batch checks with the database again.
    pub(crate) fn forget(&self) {
        self.known.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// A partition entirely older than a retention cutoff.
#[derive(Debug)]
pub(crate) struct Expired {
    pub(crate) name: String,
}

/// The partitions whose every row is older than `cutoff`.
pub(crate) async fn expired(pool: &PgPool, cutoff: DateTime<Utc>) -> Result<Vec<Expired>, sqlx::Error> {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT name FROM activity_log_partitions WHERE upper_bound <= $1 ORDER BY lower_bound")
            .bind(cutoff)
            .fetch_all(pool)
            .await?;
    Ok(names.into_iter().map(|name| Expired { name }).collect())
}

/// Drops one expired partition; returns how many rows it held. The
/// partition is locked first, so the count is exact. (Retention noted its
/// chained records before.)
pub(crate) async fn drop_partition(pool: &PgPool, partition: &Expired) -> Result<u64, sqlx::Error> {
    let quoted = quote_ident(&partition.name);
    // A name only this crate wrote, quoted: never user input.
    let lock = format!("LOCK TABLE {quoted} IN ACCESS EXCLUSIVE MODE");
    let count = format!("SELECT count(*) FROM {quoted}");
    let drop = format!("DROP TABLE {quoted}");
    let mut tx = pool.begin().await?;
    sqlx::query(&lock).execute(&mut *tx).await?;
    let rows: i64 = sqlx::query_scalar(&count).fetch_one(&mut *tx).await?;
    sqlx::query(&drop).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM activity_log_partitions WHERE name = $1").bind(&partition.name).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(rows.max(0) as u64)
}

/// Quotes an SQL identifier.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("a time")
    }

    #[test]
    fn monthly_and_daily_bounds_and_names() {
        let t = at("2025-12-31T23:59:59.999999Z");
        let m = Partitioning::Monthly;
        assert_eq!(m.start_of(t), at("2025-12-01T00:00:00Z"));
        assert_eq!(m.next(m.start_of(t)), at("2026-01-01T00:00:00Z"));
        assert_eq!(m.table_name(m.start_of(t)), "activities_y2025m12");
        let d = Partitioning::Daily;
        assert_eq!(d.start_of(t), at("2025-12-31T00:00:00Z"));
        assert_eq!(d.next(d.start_of(t)), at("2026-01-01T00:00:00Z"));
        assert_eq!(d.table_name(d.start_of(t)), "activities_y2025m12d31");
    }

    #[test]
    fn missing_lists_each_needed_partition_once() {
        let p = Partitions::default();
        let times = ["2025-01-05T00:00:00Z", "2025-01-20T00:00:00Z", "2025-03-01T00:00:00Z", "2025-01-01T00:00:00Z"];
        let missing = p.missing(Partitioning::Monthly, times.iter().map(|s| at(s)));
        assert_eq!(missing.into_iter().collect::<Vec<_>>(), [at("2025-01-01T00:00:00Z"), at("2025-03-01T00:00:00Z")]);
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
