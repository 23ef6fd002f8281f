//! Writing every batch to several sinks.

use super::{Sink, SinkError};
use crate::Activity;
use async_trait::async_trait;
use std::fmt;

/// Writes each batch to every inner sink, in order.
///
/// A batch counts as written only when every sink took it. When one fails,
/// the error is returned (transient if any failure was transient) and the
/// logger retries the whole batch; sinks are idempotent by id, so the sinks
/// that already succeeded do not duplicate it.
///
/// ```
/// use activity_log::{ActivityLogger, FanoutSink, MemorySink};
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> activity_log::Result<()> {
/// let (a, b) = (MemorySink::new(), MemorySink::new());
/// let logger = ActivityLogger::builder().sink(FanoutSink::new().with(a.clone()).with(b.clone())).build()?;
/// logger.log_async(activity_log::Activity::new("cache_clear"));
/// logger.flush().await?;
/// assert_eq!((a.len(), b.len()), (1, 1));
/// # Ok(()) }
/// ```
#[derive(Default)]
pub struct FanoutSink {
    sinks: Vec<Box<dyn Sink>>,
}

impl FanoutSink {
    /// A fan-out with no sinks yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a sink.
    pub fn with(mut self, sink: impl Sink) -> Self {
        self.sinks.push(Box::new(sink));
        self
    }
}

impl fmt::Debug for FanoutSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.sinks.iter().map(|s| s.name())).finish()
    }
}

#[async_trait]
impl Sink for FanoutSink {
    async fn write_batch(&self, batch: &[Activity]) -> Result<(), SinkError> {
        let mut failures = Vec::new();
        for sink in &self.sinks {
            if let Err(e) = sink.write_batch(batch).await {
                failures.push((sink.name().to_owned(), e));
            }
        }
        if failures.is_empty() {
            return Ok(());
        }
        let transient = failures.iter().any(|(_, e)| e.is_transient());
        let message =
            failures.iter().map(|(name, e)| format!("{name}: {}", e.message())).collect::<Vec<_>>().join("; ");
        let (_, first) = failures.swap_remove(0);
        let merged = match (transient, first.record()) {
            (true, _) => SinkError::transient(message),
            (false, Some(i)) => SinkError::permanent(message).for_record(i),
            (false, None) => SinkError::permanent(message),
        };
        Err(merged.with_source(first))
    }

    fn name(&self) -> &str {
        "fanout"
    }
}
