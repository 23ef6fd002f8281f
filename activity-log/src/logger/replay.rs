//! Replaying the spool: records read back in order, delivered, and the
//! position committed, so that nothing is read or decoded twice.

use super::deliver::Source;
use super::stats::Counters;
use super::worker::Worker;
use crate::spool::Position;

impl Worker {
    /// Replays up to `max_batches` batches from the spool, oldest first,
    /// not past `until` (default: everything appended so far), while the
    /// sink takes them. While the sink is down, one probe batch is tried,
    /// on a backoff schedule unless `now` (flush and shutdown try at once).
    /// Returns whether it stopped for the budget with more to replay.
    pub(super) async fn replay(&mut self, max_batches: usize, now: bool, until: Option<Position>) -> bool {
        let shared = self.shared.clone();
        let Some(spool) = shared.spool.as_ref() else { return false };
        let until = until.unwrap_or_else(|| spool.end());
        for _ in 0..max_batches {
            if self.deadline_passed() || (!now && self.health.probe_later()) {
                return false;
            }
            let batch = match spool.read(shared.config.batch_size, until) {
                Ok(Some(batch)) => batch,
                Ok(None) => return false,
                Err(e) => {
                    tracing::error!(error = %e, "activity spool could not be read");
                    return false;
                }
            };
            let done = self.deliver(&batch.activities, Source::Spool).await;
            let complete = done == batch.activities.len();
            if complete && batch.corrupt {
                tracing::warn!(
                    "an activity spool segment ended in a torn or corrupt record; the rest of it was skipped"
                );
                Counters::add(&shared.counters.corrupt, 1);
            }
            if let Err(e) = spool.commit(&batch, done) {
                tracing::error!(error = %e, "activity spool replay position could not be saved");
                return false;
            }
            if !complete {
                return false;
            }
        }
        !spool.is_empty()
    }
}
