//! The read side: one query API with identical semantics on every store.
//!
//! - [`ActivityFilter`] says which activities; [`Order`] in which order.
//! - [`PageRequest`] and [`Page`]: keyset pagination with opaque
//!   [`Cursor`]s, limit/offset, totals; at most [`MAX_PAGE_SIZE`] rows.
//! - [`StatsRequest`] and [`ActivityStats`]: exact counts.
//! - [`ExportFormat`]: CSV, JSON and NDJSON, streamed.
//! - retention: [`ActivityStore::delete_older_than`] and [`RetentionTask`].
//!
//! [`ActivityStore`] is implemented by [`MemorySink`](crate::MemorySink)
//! and, with the `sqlite` and `postgres` features, by `SqliteSink` and
//! `PostgresSink`, which share one SQL layer (query building with bound
//! values only, decoding, migrations, error mapping) and differ only in a
//! small dialect.

mod error;
pub mod export;
mod filter;
mod memory;
mod page;
mod retention;
mod stats;

pub use error::QueryError;
pub use export::{ExportFormat, CSV_COLUMNS};
pub use filter::{ActivityFilter, MetadataValue, Order};
pub use page::{Cursor, Page, PagePosition, PageRequest, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
pub(crate) use retention::RetainingSink;
pub use retention::{RetentionTask, DEFAULT_RETENTION, RETENTION_CHUNK};
pub use stats::{ActivityStats, Bucket, StatsRequest};

use crate::Activity;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWrite;
use uuid::Uuid;

/// A store of activities that can be queried: the read side shared by
/// every backend, object safe (`Arc<dyn ActivityStore>`).
///
/// Every method honours [`ActivityFilter::tenant`]: a filter scoped to
/// tenant A never sees B's rows, on any path.
///
/// ```
/// use activity_log::query::{ActivityFilter, ActivityStore, PageRequest, StatsRequest};
/// use activity_log::{Activity, MemorySink, Sink};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = MemorySink::new();
/// store.write_batch(&[
///     Activity::new("call_created").tenant("acme").target("call", 1).build()?,
///     Activity::new("call_created").tenant("globex").target("call", 2).build()?,
/// ]).await?;
///
/// let acme = ActivityFilter::new().tenant("acme");
/// let page = store.query(&acme, &PageRequest::first(50).with_total()).await?;
/// assert_eq!(page.total, Some(1));
/// assert!(!page.has_more);
/// let stats = store.stats(&acme, &StatsRequest::new()).await?;
/// assert_eq!(stats.by_type["call_created"], 1);
/// # Ok(()) }
/// ```
#[async_trait]
pub trait ActivityStore: Send + Sync + 'static {
    /// One page of the activities matching `filter`, in its order.
    async fn query(&self, filter: &ActivityFilter, page: &PageRequest) -> Result<Page, QueryError>;

    /// How many activities match `filter`, exactly.
    async fn count(&self, filter: &ActivityFilter) -> Result<u64, QueryError>;

    /// The activity with `id`; with `tenant`, only if it belongs to that
    /// tenant (another tenant's id reads as not found).
    async fn get(&self, id: Uuid, tenant: Option<&str>) -> Result<Option<Activity>, QueryError>;

    /// Exact counts over the activities matching `filter`.
    async fn stats(&self, filter: &ActivityFilter, request: &StatsRequest) -> Result<ActivityStats, QueryError>;

    /// Streams the activities matching `filter`, in its order, to `out`;
    /// returns how many were written. The default pages through
    /// [`query`](Self::query) by cursor ([`export::export_pages`]).
    async fn export(
        &self,
        filter: &ActivityFilter,
        format: ExportFormat,
        out: &mut (dyn AsyncWrite + Send + Unpin),
    ) -> Result<u64, QueryError> {
        export::export_pages(self, filter, format, out).await
    }

    /// Deletes the activities that occurred strictly before `cutoff` (of
    /// `tenant` only, or of every tenant), in chunks of at most
    /// [`RETENTION_CHUNK`] rows so that writers are not locked out; returns
    /// how many went. This is the only way rows leave a store.
    async fn delete_before(&self, cutoff: DateTime<Utc>, tenant: Option<&str>) -> Result<u64, QueryError>;

    /// Deletes the activities older than `max_age` (of `tenant` only, or of
    /// every tenant); see [`delete_before`](Self::delete_before).
    async fn delete_older_than(&self, max_age: Duration, tenant: Option<&str>) -> Result<u64, QueryError> {
        let age = chrono::Duration::from_std(max_age).unwrap_or(chrono::Duration::MAX);
        let cutoff = Utc::now().checked_sub_signed(age).unwrap_or(DateTime::<Utc>::MIN_UTC);
        self.delete_before(cutoff, tenant).await
    }

    /// A short name for logs.
    fn name(&self) -> &str {
        std::any::type_name::<Self>()
    }
}

macro_rules! forward_store {
    ($($ptr:ident),*) => {$(
        #[async_trait]
        impl<S: ActivityStore + ?Sized> ActivityStore for $ptr<S> {
            async fn query(&self, filter: &ActivityFilter, page: &PageRequest) -> Result<Page, QueryError> {
                (**self).query(filter, page).await
            }
            async fn count(&self, filter: &ActivityFilter) -> Result<u64, QueryError> {
                (**self).count(filter).await
            }
            async fn get(&self, id: Uuid, tenant: Option<&str>) -> Result<Option<Activity>, QueryError> {
                (**self).get(id, tenant).await
            }
            async fn stats(&self, filter: &ActivityFilter, request: &StatsRequest) -> Result<ActivityStats, QueryError> {
                (**self).stats(filter, request).await
            }
            async fn export(
                &self,
                filter: &ActivityFilter,
                format: ExportFormat,
                out: &mut (dyn AsyncWrite + Send + Unpin),
            ) -> Result<u64, QueryError> {
                (**self).export(filter, format, out).await
            }
            async fn delete_before(&self, cutoff: DateTime<Utc>, tenant: Option<&str>) -> Result<u64, QueryError> {
                (**self).delete_before(cutoff, tenant).await
            }
            async fn delete_older_than(&self, max_age: Duration, tenant: Option<&str>) -> Result<u64, QueryError> {
                (**self).delete_older_than(max_age, tenant).await
            }
            fn name(&self) -> &str {
                (**self).name()
            }
        }
    )*};
}

forward_store!(Arc, Box);
