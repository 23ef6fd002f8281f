//! The store conformance suite against [`PostgresSink`] on a real server,
//! each check in a schema of its own (see `activity_log_tests::pg`).

use activity_log_tests::conformance::Subject;
use activity_log_tests::pg::TestSchema;
use std::sync::Arc;

async fn postgres_store() -> Option<Subject> {
    let schema = TestSchema::create("conformance").await?;
    let sink = schema.sink().await;
    Some(Subject::new(Arc::new(sink)).keep(schema))
}

activity_log_tests::conformance_suite!(postgres_store);
