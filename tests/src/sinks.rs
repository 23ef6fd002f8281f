//! Sinks that misbehave on purpose, for testing the logger's delivery.

use activity_log::{async_trait, Activity, MemorySink, Sink, SinkError};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Writes to an inner [`MemorySink`] after sleeping `delay` per batch.
#[derive(Debug, Clone)]
pub struct SlowSink {
    pub inner: MemorySink,
    pub delay: Duration,
}

#[async_trait]
impl Sink for SlowSink {
    async fn write_batch(&self, batch: &[Activity]) -> Result<(), SinkError> {
        tokio::time::sleep(self.delay).await;
        self.inner.write_batch(batch).await
    }
}

/// Fails every write with a transient error, counting the attempts.
#[derive(Debug, Default)]
pub struct DownSink {
    pub attempts: AtomicU64,
}

#[async_trait]
impl Sink for DownSink {
    async fn write_batch(&self, _batch: &[Activity]) -> Result<(), SinkError> {
        self.attempts.fetch_add(1, Relaxed);
        Err(SinkError::transient("connection refused"))
    }
}

/// Refuses, permanently and as a whole, any batch holding an activity of
/// type `poison`; writes the others to `inner`. With `name_record`, the
/// error names the bad record's index.
#[derive(Debug, Clone, Default)]
pub struct PoisonSink {
    pub inner: MemorySink,
    pub name_record: bool,
}

#[async_trait]
impl Sink for PoisonSink {
    async fn write_batch(&self, batch: &[Activity]) -> Result<(), SinkError> {
        match batch.iter().position(|a| a.activity_type == "poison") {
            Some(i) if self.name_record => Err(SinkError::permanent("value out of range").for_record(i)),
            Some(_) => Err(SinkError::permanent("value out of range")),
            None => self.inner.write_batch(batch).await,
        }
    }
}

/// Fails transiently `failures` times, then writes to `inner`.
#[derive(Debug, Default)]
pub struct FlakySink {
    pub inner: MemorySink,
    pub failures: AtomicU64,
}

#[async_trait]
impl Sink for FlakySink {
    async fn write_batch(&self, batch: &[Activity]) -> Result<(), SinkError> {
        if self.failures.load(Relaxed) > 0 {
            self.failures.fetch_sub(1, Relaxed);
            return Err(SinkError::transient("database is busy"));
        }
        self.inner.write_batch(batch).await
    }
}

/// Fails transiently while `up` is false; otherwise writes to `inner` and
/// records every id it was given (duplicates included), to prove that
/// nothing is written twice.
#[derive(Debug, Default)]
pub struct SwitchSink {
    pub up: std::sync::atomic::AtomicBool,
    pub inner: MemorySink,
    pub ids: std::sync::Mutex<Vec<activity_log::Uuid>>,
}

impl SwitchSink {
    pub fn down() -> Self {
        Self::default()
    }

    pub fn set_up(&self, up: bool) {
        self.up.store(up, Relaxed);
    }

    /// Ids written more than once.
    pub fn duplicates(&self) -> usize {
        let ids = self.ids.lock().expect("ids");
        let distinct: std::collections::HashSet<_> = ids.iter().collect();
        ids.len() - distinct.len()
    }
}

#[async_trait]
impl Sink for SwitchSink {
    async fn write_batch(&self, batch: &[Activity]) -> Result<(), SinkError> {
        if !self.up.load(Relaxed) {
            return Err(SinkError::transient("connection refused"));
        }
        self.ids.lock().expect("ids").extend(batch.iter().map(|a| a.id));
        self.inner.write_batch(batch).await
    }
}
