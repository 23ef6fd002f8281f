//! Aggregate counts over a filter.

use crate::{Activity, Outcome};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use std::collections::{BTreeMap, HashMap};

/// The width of a histogram bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Bucket {
    /// One bucket per UTC hour.
    #[default]
    Hour,
    /// One bucket per UTC day.
    Day,
}

impl Bucket {
    /// The bucket's width in microseconds.
    pub const fn micros(self) -> i64 {
        match self {
            Self::Hour => 3_600_000_000,
            Self::Day => 86_400_000_000,
        }
    }

    /// The start of the bucket holding `at`.
    pub fn start_of(self, at: DateTime<Utc>) -> DateTime<Utc> {
        let width = TimeDelta::microseconds(self.micros());
        at.duration_trunc(width).unwrap_or(at)
    }
}

/// What [`ActivityStore::stats`](super::ActivityStore::stats) computes
/// besides the per-field counts.
///
/// ```
/// use activity_log::query::{Bucket, StatsRequest};
/// let request = StatsRequest::new().top_actors(5).bucket(Bucket::Day);
/// assert_eq!(request.top_actors, 5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatsRequest {
    /// How many actors [`ActivityStats::top_actors`] lists (default 10).
    pub top_actors: u32,
    /// The histogram's bucket width (default one hour).
    pub bucket: Bucket,
}

impl Default for StatsRequest {
    fn default() -> Self {
        Self { top_actors: 10, bucket: Bucket::Hour }
    }
}

impl StatsRequest {
    /// Ten top actors, hourly buckets.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many top actors to list.
    pub fn top_actors(mut self, n: u32) -> Self {
        self.top_actors = n;
        self
    }

    /// The histogram's bucket width.
    pub fn bucket(mut self, bucket: Bucket) -> Self {
        self.bucket = bucket;
        self
    }
}

/// Exact counts over the activities matching a filter.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ActivityStats {
    /// How many activities matched.
    pub total: u64,
    /// Per activity type.
    pub by_type: BTreeMap<String, u64>,
    /// Per target kind (activities without a target are not counted here).
    pub by_target_kind: BTreeMap<String, u64>,
    /// Per outcome, in the order success, failure, denied; outcomes with no
    /// activity are left out.
    pub by_outcome: Vec<(Outcome, u64)>,
    /// The actors (by id) with the most activities, most first, ties by
    /// id; activities without an actor id are not counted here.
    pub top_actors: Vec<(String, u64)>,
    /// Activities per bucket, by the bucket's start, earliest first; empty
    /// buckets are left out.
    pub histogram: Vec<(DateTime<Utc>, u64)>,
}

impl ActivityStats {
    /// Computes the stats of `activities` in memory (the reference
    /// implementation; stores must agree with it exactly).
    pub fn compute<'a>(activities: impl IntoIterator<Item = &'a Activity>, request: &StatsRequest) -> Self {
        let mut stats = Self::default();
        let mut outcomes: HashMap<Outcome, u64> = HashMap::new();
        let mut actors: HashMap<&str, u64> = HashMap::new();
        let mut buckets: BTreeMap<DateTime<Utc>, u64> = BTreeMap::new();
        for a in activities {
            stats.total += 1;
            *stats.by_type.entry(a.activity_type.clone()).or_default() += 1;
            if let Some(t) = &a.target {
                *stats.by_target_kind.entry(t.kind.clone()).or_default() += 1;
            }
            *outcomes.entry(a.outcome).or_default() += 1;
            if let Some(id) = a.actor.as_ref().and_then(|x| x.id.as_deref()) {
                *actors.entry(id).or_default() += 1;
            }
            *buckets.entry(request.bucket.start_of(a.occurred_at)).or_default() += 1;
        }
        stats.by_outcome = Self::outcomes_in_order(outcomes.into_iter());
        stats.top_actors = Self::top(actors.into_iter().map(|(k, v)| (k.to_owned(), v)), request.top_actors);
        stats.histogram = buckets.into_iter().collect();
        stats
    }

    /// Puts outcome counts in the documented order, dropping zeros. For
    /// store implementations.
    pub fn outcomes_in_order(counts: impl Iterator<Item = (Outcome, u64)>) -> Vec<(Outcome, u64)> {
        let mut v: Vec<(Outcome, u64)> = counts.filter(|(_, n)| *n > 0).collect();
        v.sort_by_key(|(o, _)| match o {
            Outcome::Success => 0,
            Outcome::Failure => 1,
            Outcome::Denied => 2,
        });
        v
    }

    /// The `n` largest counts, ties by key. For store implementations.
    pub fn top(counts: impl Iterator<Item = (String, u64)>, n: u32) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = counts.collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.truncate(n as usize);
        v
    }
}
