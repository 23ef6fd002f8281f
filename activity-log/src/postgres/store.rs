//! [`PostgresSink`] as an [`ActivityStore`](crate::query::ActivityStore):
//! the shared SQL layer reads and deletes through the read pool; retention
//! first drops whole partitions older than the cutoff.

use super::dialect::PgDialect;
use super::{partition, PostgresSink};
use crate::sql::{impl_activity_store, BoxFuture, SqlStore};
use chrono::{DateTime, Utc};
use sqlx::PgPool;

impl PostgresSink {
    /// Drops the partitions entirely older than `cutoff` (all tenants
    /// only); returns how many rows they held.
    async fn drop_expired(&self, cutoff: DateTime<Utc>) -> Result<u64, sqlx::Error> {
        let pool = &self.inner.readers;
        let expired = partition::expired(pool, cutoff).await?;
        let mut total = 0;
        for p in &expired {
            total += partition::drop_partition(pool, p).await?;
        }
        if !expired.is_empty() {
            self.inner.partitions.forget();
        }
        Ok(total)
    }
}

impl SqlStore for PostgresSink {
    type Dialect = PgDialect;

    fn readers(&self) -> &PgPool {
        &self.inner.readers
    }

    fn prepared_reads(&self) -> bool {
        self.inner.prepared_reads
    }

    fn expire_whole<'a>(
        &'a self,
        cutoff: DateTime<Utc>,
        tenant: Option<&'a str>,
    ) -> BoxFuture<'a, Result<u64, sqlx::Error>> {
        Box::pin(async move {
            match tenant {
                None => self.drop_expired(cutoff).await,
                Some(_) => Ok(0),
            }
        })
    }
}

impl_activity_store!(PostgresSink, "postgres");
crate::sql::chain::impl_chained_store!(PostgresSink);
