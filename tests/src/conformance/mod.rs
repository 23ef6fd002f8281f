//! The store conformance suite: one set of checks, written once, run
//! against every [`ActivityStore`] over the same seeded data set.
//!
//! A store joins with a factory and one macro line in its own test file:
//!
//! ```ignore
//! async fn fresh_store() -> activity_log_tests::conformance::Subject {
//!     Subject::new(Arc::new(MyStore::connect(...).await.unwrap()))
//! }
//! activity_log_tests::conformance_suite!(fresh_store);
//! ```
//!
//! The factory may return `Option<Subject>`: `None` skips every check (for
//! a server that is not available on this machine).

mod checks;
mod expect;
mod seed;

pub use checks::*;
pub use expect::*;
pub use seed::{make_dataset, seed, Dataset, ACTIVITY_TYPES, SEED_SIZE, TENANTS};

use activity_log::query::ActivityStore;
use activity_log::Sink;
use std::any::Any;
use std::sync::Arc;

/// A store under test: its read side, its write side (the same object),
/// and whatever must live as long as it (a temporary directory).
pub struct Subject {
    /// The read side.
    pub store: Arc<dyn ActivityStore>,
    /// The write side.
    pub sink: Arc<dyn Sink>,
    guard: Option<Box<dyn Any + Send + Sync>>,
}

impl std::fmt::Debug for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subject").field("store", &self.store.name()).finish_non_exhaustive()
    }
}

impl Subject {
    /// A store that is also a sink.
    pub fn new<S: ActivityStore + Sink>(store: Arc<S>) -> Self {
        Self { store: store.clone(), sink: store, guard: None }
    }

    /// Keeps `guard` alive as long as the subject (e.g. a temp dir).
    pub fn keep(mut self, guard: impl Any + Send + Sync) -> Self {
        self.guard = Some(Box::new(guard));
        self
    }
}

/// What a factory of the suite may return.
pub trait IntoSubject {
    /// The subject, or `None` to skip.
    fn into_subject(self) -> Option<Subject>;
}

impl IntoSubject for Subject {
    fn into_subject(self) -> Option<Subject> {
        Some(self)
    }
}

impl IntoSubject for Option<Subject> {
    fn into_subject(self) -> Option<Subject> {
        self
    }
}

/// Instantiates every conformance check as a `#[tokio::test]` calling
/// `$make().await` for a fresh store.
#[macro_export]
macro_rules! conformance_suite {
    ($make:path) => {
        $crate::conformance_suite!(@checks $make;
            each_filter_alone,
            filters_combined,
            random_filter_combinations,
            cursor_pages_visit_every_row_once,
            cursor_pages_while_writing,
            offset_pages_and_totals,
            page_errors,
            get_by_id,
            stats_match_independent_counts,
            export_round_trips,
            retention_removes_exactly_the_old_rows,
            tenant_isolation_on_every_path,
            replayed_batches_write_no_duplicates,
        );
    };
    (@checks $make:path; $($check:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $check() {
            if let Some(subject) = $crate::conformance::IntoSubject::into_subject($make().await) {
                $crate::conformance::$check(subject).await;
            }
        }
    )*};
}
