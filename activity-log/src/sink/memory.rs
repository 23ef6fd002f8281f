//! An in-memory sink for users' own tests.

use super::{Sink, SinkError};
use crate::Activity;
use async_trait::async_trait;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;
use uuid::Uuid;

/// Keeps every activity in memory, deduplicated by id; cheap to clone (the
/// clones share the same store).
///
/// Made for tests: swap it in, call your code, then assert on what was
/// logged. The `assert_*` helpers panic with a message listing what *was*
/// logged.
///
/// ```
/// use activity_log::{Activity, ActivityLogger, Actor};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let (logger, sink) = ActivityLogger::in_memory();
/// logger.log_async(Activity::new("call_created").target("call", 42).actor(Actor::user("agent-7")));
/// logger.flush().await.unwrap();
///
/// let call = sink.assert_logged("call_created");
/// assert_eq!(call.target.unwrap().id.as_deref(), Some("42"));
/// assert_eq!(sink.by_actor("agent-7").len(), 1);
/// sink.assert_not_logged("call_deleted");
/// # }
/// ```
#[derive(Clone, Default)]
pub struct MemorySink {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    state: Mutex<State>,
    written: Notify,
}

#[derive(Default)]
struct State {
    activities: Vec<Activity>,
    /// Hashed with foldhash: std's SipHash was most of the cost of a write.
    ids: HashSet<Uuid, foldhash::fast::RandomState>,
}

impl std::fmt::Debug for MemorySink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemorySink").field("len", &self.len()).finish()
    }
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave `State` inconsistent
        // (every mutation is a single push/insert), so poisoning is ignored.
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every activity written so far, in write order.
    pub fn activities(&self) -> Vec<Activity> {
        self.state().activities.clone()
    }

    /// How many activities were written.
    pub fn len(&self) -> usize {
        self.state().activities.len()
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The activities matching `predicate`.
    pub fn filter(&self, predicate: impl Fn(&Activity) -> bool) -> Vec<Activity> {
        self.state().activities.iter().filter(|a| predicate(a)).cloned().collect()
    }

    /// The activities of one type.
    pub fn of_type(&self, activity_type: &str) -> Vec<Activity> {
        self.filter(|a| a.activity_type == activity_type)
    }

    /// The activities on one target (kind and id).
    pub fn for_target(&self, kind: &str, id: &str) -> Vec<Activity> {
        self.filter(|a| a.target.as_ref().is_some_and(|t| t.kind == kind && t.id.as_deref() == Some(id)))
    }

    /// The activities by one actor id.
    pub fn by_actor(&self, actor_id: &str) -> Vec<Activity> {
        self.filter(|a| a.actor.as_ref().is_some_and(|x| x.id.as_deref() == Some(actor_id)))
    }

    /// Runs `f` over the activities written so far, without copying them.
    pub(crate) fn with_activities<R>(&self, f: impl FnOnce(&[Activity]) -> R) -> R {
        f(&self.state().activities)
    }

    /// Keeps only the activities for which `keep` holds; returns how many
    /// went.
    pub(crate) fn retain(&self, keep: impl Fn(&Activity) -> bool) -> usize {
        let mut state = self.state();
        let State { activities, ids } = &mut *state;
        let before = activities.len();
        activities.retain(|a| {
            let kept = keep(a);
            if !kept {
                ids.remove(&a.id);
            }
            kept
        });
        before - activities.len()
    }

    /// Forgets everything written so far.
    pub fn clear(&self) {
        let mut state = self.state();
        state.activities.clear();
        state.ids.clear();
    }

    /// Waits until at least `count` activities were written, or `timeout`
    /// passed; returns whether the count was reached.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> bool {
        let wait = async {
            loop {
                let notified = self.inner.written.notified();
                if self.len() >= count {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok()
    }

    /// Asserts that exactly one activity of `activity_type` was written, and
    /// returns it.
    #[track_caller]
    pub fn assert_logged(&self, activity_type: &str) -> Activity {
        let found = self.of_type(activity_type);
        if found.len() != 1 {
            panic!(
                "expected exactly one `{activity_type}` activity, found {}; logged:\n{}",
                found.len(),
                self.summary()
            );
        }
        found.into_iter().next().unwrap_or_else(|| unreachable!())
    }

    /// Asserts that at least one activity of `activity_type` matching
    /// `predicate` was written, and returns the first.
    #[track_caller]
    pub fn assert_logged_with(&self, activity_type: &str, predicate: impl Fn(&Activity) -> bool) -> Activity {
        match self.filter(|a| a.activity_type == activity_type && predicate(a)).into_iter().next() {
            Some(a) => a,
            None => panic!("expected a `{activity_type}` activity matching the predicate; logged:\n{}", self.summary()),
        }
    }

    /// Asserts that `count` activities of `activity_type` were written.
    #[track_caller]
    pub fn assert_count(&self, activity_type: &str, count: usize) {
        let found = self.of_type(activity_type).len();
        if found != count {
            panic!("expected {count} `{activity_type}` activities, found {found}; logged:\n{}", self.summary());
        }
    }

    /// Asserts that no activity of `activity_type` was written.
    #[track_caller]
    pub fn assert_not_logged(&self, activity_type: &str) {
        self.assert_count(activity_type, 0);
    }

    /// One line per activity: type, target, actor, outcome (at most 50).
    pub fn summary(&self) -> String {
        let state = self.state();
        let mut out = String::new();
        for a in state.activities.iter().take(50) {
            let target =
                a.target.as_ref().map_or("-".to_owned(), |t| format!("{}:{}", t.kind, t.id.as_deref().unwrap_or("-")));
            let actor = a.actor.as_ref().and_then(|x| x.id.as_deref()).unwrap_or("-");
            let _ = writeln!(out, "  {} target={target} actor={actor} outcome={}", a.activity_type, a.outcome);
        }
        if state.activities.len() > 50 {
            let _ = writeln!(out, "  ... and {} more", state.activities.len() - 50);
        }
        if out.is_empty() {
            out.push_str("  (nothing)\n");
        }
        out
    }
}

#[async_trait]
impl Sink for MemorySink {
    async fn write_batch(&self, batch: &[Activity]) -> Result<(), SinkError> {
        {
            let mut state = self.state();
            state.activities.reserve(batch.len());
            for a in batch {
                if state.ids.insert(a.id) {
                    state.activities.push(a.clone());
                }
            }
        }
        self.inner.written.notify_waiters();
        Ok(())
    }

    fn name(&self) -> &str {
        "memory"
    }

    fn prefers_owned(&self) -> bool {
        true
    }

    async fn write_owned(&self, batch: Vec<Activity>) -> Result<(), (SinkError, Vec<Activity>)> {
        {
            let mut state = self.state();
            state.activities.reserve(batch.len());
            for a in batch {
                if state.ids.insert(a.id) {
                    state.activities.push(a);
                }
            }
        }
        self.inner.written.notify_waiters();
        Ok(())
    }
}
