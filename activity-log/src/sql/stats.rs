//! Statistics: each store groups in its own SQL (grouping sets where the
//! database has them); the counts are tallied here, the same way for all.

use super::decode;
use crate::query::ActivityStats;
use crate::Outcome;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};

/// Grouped counts, added up into [`ActivityStats`].
#[derive(Debug, Default)]
pub(crate) struct Tally {
    stats: ActivityStats,
    outcomes: HashMap<Outcome, u64>,
    actors: HashMap<String, u64>,
    buckets: BTreeMap<DateTime<Utc>, u64>,
}

/// A database count as a `u64`.
pub(crate) fn count(n: i64) -> u64 {
    n.max(0) as u64
}

impl Tally {
    /// `n` activities of `activity_type` (they make up the total).
    pub(crate) fn activity_type(&mut self, activity_type: String, n: u64) {
        self.stats.total += n;
        *self.stats.by_type.entry(activity_type).or_default() += n;
    }

    /// `n` activities on targets of `kind` (none: no target).
    pub(crate) fn target_kind(&mut self, kind: Option<String>, n: u64) {
        if let Some(kind) = kind {
            *self.stats.by_target_kind.entry(kind).or_default() += n;
        }
    }

    /// `n` activities with the stored `outcome`; an outcome this crate
    /// does not write is a decode error, exactly as when reading the row.
    pub(crate) fn outcome(&mut self, outcome: &str, n: u64) -> Result<(), sqlx::Error> {
        *self.outcomes.entry(decode::outcome(outcome)?).or_default() += n;
        Ok(())
    }

    /// `n` activities by actor `id` (none: no actor id).
    pub(crate) fn actor(&mut self, id: Option<String>, n: u64) {
        if let Some(id) = id {
            *self.actors.entry(id).or_default() += n;
        }
    }

    /// `n` activities in the histogram bucket starting at `start`.
    pub(crate) fn bucket(&mut self, start: DateTime<Utc>, n: u64) {
        *self.buckets.entry(start).or_default() += n;
    }

    /// The stats, with the `top_actors` largest actors.
    pub(crate) fn finish(mut self, top_actors: u32) -> ActivityStats {
        self.stats.by_outcome = ActivityStats::outcomes_in_order(self.outcomes.into_iter());
        self.stats.top_actors = ActivityStats::top(self.actors.into_iter(), top_actors);
        self.stats.histogram = self.buckets.into_iter().collect();
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_outcome_is_corrupt_not_a_success() {
        let mut tally = Tally::default();
        assert!(tally.outcome("success", 2).is_ok());
        let err = tally.outcome("maybe", 1).expect_err("not an outcome");
        assert!(err.to_string().contains("`outcome`"), "{err}");
        assert!(!err.to_string().contains("maybe"), "the value is not echoed: {err}");
        assert_eq!(tally.finish(10).by_outcome, [(Outcome::Success, 2)]);
    }

    #[test]
    fn counts_add_up_across_rows() {
        let mut tally = Tally::default();
        tally.activity_type("login".into(), 2);
        tally.activity_type("login".into(), 3);
        tally.target_kind(None, 4);
        tally.actor(Some("b".into()), 1);
        tally.actor(Some("a".into()), 1);
        tally.actor(Some("c".into()), 5);
        let stats = tally.finish(2);
        assert_eq!((stats.total, stats.by_type["login"]), (5, 5));
        assert!(stats.by_target_kind.is_empty());
        assert_eq!(stats.top_actors, [("c".to_owned(), 5), ("a".to_owned(), 1)]);
    }
}
