//! Which Redis stream keys hold the activities: one stream, or several
//! partitions chosen by tenant.

use super::StreamError;

/// The most partitions a layout may have.
pub const MAX_PARTITIONS: u32 = 1024;

/// The stream keys of a deployment: `name` alone, or `name:0` …
/// `name:{n-1}` when split into `n` partitions by tenant (a tenant's
/// activities always go to the same partition, so they stay in order).
/// Producers, drainers and live feeds must use the same layout.
///
/// ```
/// use activity_log::redis::StreamLayout;
///
/// let one = StreamLayout::new("activities");
/// assert_eq!(one.keys(), ["activities"]);
/// let four = StreamLayout::new("activities").partitions(4);
/// assert_eq!(four.keys().len(), 4);
/// assert_eq!(four.key_for(Some("acme")), four.key_for(Some("acme")));
/// assert_eq!(four.dead_letter_key(), "activities:dead");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamLayout {
    name: String,
    keys: Vec<String>,
}

impl StreamLayout {
    /// One stream named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        Self { keys: vec![name.clone()], name }
    }

    /// Splits the stream into `n` partitions (`name:0` … `name:{n-1}`)
    /// chosen by a hash of the tenant; activities without a tenant go to
    /// partition 0. Checked when a sink, drainer or feed is built.
    pub fn partitions(mut self, n: u32) -> Self {
        self.keys =
            if n == 1 { vec![self.name.clone()] } else { (0..n).map(|i| format!("{}:{i}", self.name)).collect() };
        self
    }

    /// Every stream key, in partition order.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// The key an activity of `tenant` is appended to.
    pub fn key_for(&self, tenant: Option<&str>) -> &str {
        let n = self.keys.len();
        let index = match tenant {
            Some(tenant) if n > 1 => crc32fast::hash(tenant.as_bytes()) as usize % n,
            _ => 0,
        };
        &self.keys[index]
    }

    /// The dead-letter stream: `name:dead`.
    pub fn dead_letter_key(&self) -> String {
        format!("{}:dead", self.name)
    }

    pub(crate) fn validate(&self) -> Result<(), StreamError> {
        if self.name.is_empty() {
            return Err(StreamError::Config("the stream name is empty".into()));
        }
        if self.keys.is_empty() || self.keys.len() > MAX_PARTITIONS as usize {
            return Err(StreamError::Config(format!(
                "partitions must be between 1 and {MAX_PARTITIONS}, not {}",
                self.keys.len()
            )));
        }
        Ok(())
    }
}

impl Default for StreamLayout {
    /// One stream named `activity-log`.
    fn default() -> Self {
        Self::new("activity-log")
    }
}
