//! What can go wrong setting up the Redis transport.

/// A Redis sink, drainer or feed could not be built or set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// The URL is not a Redis URL (the URL itself is not repeated: it may
    /// hold a password).
    #[error("invalid Redis URL (expected redis://[user:password@]host[:port][/db]): {0}")]
    InvalidUrl(String),
    /// An option is out of range.
    #[error("invalid Redis stream configuration: {0}")]
    Config(String),
    /// A Redis command failed.
    #[error("Redis {operation} failed: {source}")]
    Redis {
        /// What was being done.
        operation: &'static str,
        /// The client's error.
        #[source]
        source: ::redis::RedisError,
    },
}

impl StreamError {
    pub(crate) fn redis(operation: &'static str) -> impl FnOnce(::redis::RedisError) -> Self {
        move |source| Self::Redis { operation, source }
    }
}
