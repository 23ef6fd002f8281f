//! [`SqliteSink`] as an [`ActivityStore`](crate::query::ActivityStore):
//! the shared SQL layer reads through the reader pool; retention deletes
//! through the writer, which holds SQLite's write lock anyway.

use super::dialect::SqliteDialect;
use super::SqliteSink;
use crate::query::{ActivityFilter, ActivityStats, StatsRequest};
use crate::sql::{impl_activity_store, BoxFuture, SqlStore};
use sqlx::SqlitePool;

impl SqlStore for SqliteSink {
    type Dialect = SqliteDialect;

    fn readers(&self) -> &SqlitePool {
        &self.readers
    }

    fn retention_pool(&self) -> &SqlitePool {
        &self.writer
    }

    fn stats<'a>(
        &'a self,
        filter: &'a ActivityFilter,
        request: &'a StatsRequest,
    ) -> BoxFuture<'a, Result<ActivityStats, sqlx::Error>> {
        Box::pin(self.stats_of(filter, request))
    }
}

impl_activity_store!(SqliteSink, "sqlite");
