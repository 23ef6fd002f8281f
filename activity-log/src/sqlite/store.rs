//! [`SqliteSink`] as an [`ActivityStore`](crate::query::ActivityStore):
//! the shared SQL layer reads through the reader pool; retention deletes
//! through the writer, which holds SQLite's write lock anyway.

use super::dialect::SqliteDialect;
use super::SqliteSink;
use crate::sql::{impl_activity_store, SqlStore};
use sqlx::SqlitePool;

impl SqlStore for SqliteSink {
    type Dialect = SqliteDialect;

    fn readers(&self) -> &SqlitePool {
        &self.readers
    }

    fn retention_pool(&self) -> &SqlitePool {
        &self.writer
    }
}

impl_activity_store!(SqliteSink, "sqlite");
crate::sql::chain::impl_chained_store!(SqliteSink);
