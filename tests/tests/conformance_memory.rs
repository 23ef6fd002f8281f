//! The store conformance suite against [`MemorySink`].

use activity_log::MemorySink;
use activity_log_tests::conformance::Subject;
use std::sync::Arc;

async fn memory_store() -> Subject {
    Subject::new(Arc::new(MemorySink::new()))
}

activity_log_tests::conformance_suite!(memory_store);
