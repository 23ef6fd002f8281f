//! What can go wrong checking integrity, apart from a broken chain (which
//! is a finding, reported by [`VerifyReport`](super::VerifyReport)).

use crate::query::QueryError;

/// Why a checkpoint could not be made, read or checked, or a verification
/// could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IntegrityError {
    /// The checkpoint's JSON is not one this crate writes.
    #[error("malformed checkpoint: {0}")]
    Malformed(String),
    /// The signature does not match the checkpoint's contents: it was
    /// altered, or signed by another key than the one it names.
    #[error("the checkpoint's signature does not verify: its contents were altered or it was signed by another key")]
    BadSignature,
    /// The checkpoint was signed by a key other than the trusted one.
    #[error("the checkpoint was signed by key {found}, not by the trusted key {trusted}")]
    UntrustedKey {
        /// The trusted public key (hex).
        trusted: String,
        /// The key that signed (hex).
        found: String,
    },
    /// A signing key could not be made or read.
    #[error("invalid signing key: {0}")]
    Key(String),
    /// The store was opened with chaining off, or holds no chain.
    #[error("this store does not chain its activities (it was opened with chaining off)")]
    ChainingOff,
    /// Reading the store failed.
    #[error(transparent)]
    Store(#[from] QueryError),
}
