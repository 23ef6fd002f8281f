//! A sink that discards everything.

use super::{Sink, SinkError};
use crate::Activity;
use async_trait::async_trait;

/// Accepts and discards every batch: for benchmarks, or to switch activity
/// logging off without touching the code that logs.
///
/// ```
/// use activity_log::{Activity, ActivityLogger, NullSink};
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> activity_log::Result<()> {
/// let logger = ActivityLogger::builder().sink(NullSink).build()?;
/// logger.log_async(Activity::new("cache_clear"));
/// logger.flush().await?;
/// assert_eq!(logger.stats().written, 1);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct NullSink;

#[async_trait]
impl Sink for NullSink {
    async fn write_batch(&self, _batch: &[Activity]) -> Result<(), SinkError> {
        Ok(())
    }

    fn name(&self) -> &str {
        "null"
    }
}
