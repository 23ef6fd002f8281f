//! The error a [`Sink`](super::Sink) returns.

use std::error::Error as StdError;
use std::fmt;

/// Whether a failed write is worth retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SinkErrorKind {
    /// Retry later: the connection broke, the database is busy or down.
    Transient,
    /// A record in the batch can never be written.
    Permanent,
}

/// A failed [`Sink::write_batch`](super::Sink::write_batch).
#[derive(Debug, thiserror::Error)]
#[error("{} sink error: {message}", match .kind { SinkErrorKind::Transient => "transient", SinkErrorKind::Permanent => "permanent" })]
pub struct SinkError {
    kind: SinkErrorKind,
    message: String,
    record: Option<usize>,
    #[source]
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl SinkError {
    /// An error worth retrying.
    pub fn transient(message: impl fmt::Display) -> Self {
        Self { kind: SinkErrorKind::Transient, message: message.to_string(), record: None, source: None }
    }

    /// An error no retry will fix.
    pub fn permanent(message: impl fmt::Display) -> Self {
        Self { kind: SinkErrorKind::Permanent, message: message.to_string(), record: None, source: None }
    }

    /// Names the index (in the batch) of the record that caused a permanent
    /// error, when the sink knows it; the logger then quarantines it directly
    /// instead of bisecting the batch.
    pub fn for_record(mut self, index: usize) -> Self {
        self.record = Some(index);
        self
    }

    /// Attaches the underlying error.
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Transient or permanent.
    pub fn kind(&self) -> SinkErrorKind {
        self.kind
    }

    /// Whether retrying may succeed.
    pub fn is_transient(&self) -> bool {
        self.kind == SinkErrorKind::Transient
    }

    /// The index of the offending record, when known.
    pub fn record(&self) -> Option<usize> {
        self.record
    }

    /// The message, without the kind prefix.
    pub fn message(&self) -> &str {
        &self.message
    }
}
