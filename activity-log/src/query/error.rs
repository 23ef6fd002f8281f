//! The error of the read side.

/// Why a query, a count, the stats, an export or a retention call failed.
///
/// It never echoes filter values, which may be secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The page size is outside 1 to [`MAX_PAGE_SIZE`](super::MAX_PAGE_SIZE).
    #[error("page size {requested} is out of range: ask for 1 to {max} rows and follow `next_cursor` for more")]
    PageSize {
        /// The size asked for.
        requested: u32,
        /// The largest allowed.
        max: u32,
    },
    /// The cursor is malformed, or was made for the other order.
    #[error("invalid page cursor: pass back `next_cursor` unchanged, with the same order")]
    InvalidCursor,
    /// The store could not be read; retrying may help when `transient`.
    #[error("{} store error: {message}", if *.transient { "transient" } else { "permanent" })]
    Store {
        /// Whether retrying may succeed (busy, connection lost, timeout).
        transient: bool,
        /// What failed.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// Writing an export failed.
    #[error("could not write the export: {0}")]
    Io(#[from] std::io::Error),
    /// A stored record could not be decoded or encoded.
    #[error("could not encode or decode a stored activity: {0}")]
    Json(#[from] serde_json::Error),
}

impl QueryError {
    /// Whether retrying may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Store { transient: true, .. })
    }
}
