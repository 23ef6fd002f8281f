//! The SQL layer every SQL store shares: query building with bound values
//! only (sqlx's `QueryBuilder::push_bind`, never formatted values), row
//! decoding, statistics tallies, chunked retention, the migration runner,
//! the batch write path and error mapping. A store brings a [`Dialect`]
//! (what its SQL really does differently) and its migrations; everything
//! else is here, in the manner of sea-query's backends.
//!
//! - [`Backend`]: binding and reading text and integers, written once for
//!   every sqlx database that has them.
//! - [`Dialect`]: placeholders and arrays, the metadata predicate, how
//!   times and ids are bound and read, the retention gate and chunk, the
//!   migration lock, the bind limit, and which database errors are
//!   transient.
//! - [`SqlStore`]: a sink's pools and its own part of retention (dropping
//!   partitions); [`impl_activity_store!`] turns it into an
//!   [`ActivityStore`](crate::query::ActivityStore).

pub(crate) mod chain;
pub(crate) mod decode;
pub(crate) mod error;
pub(crate) mod migrate;
pub(crate) mod query;
pub(crate) mod retention;
pub(crate) mod stats;
pub(crate) mod verify;
pub(crate) mod write;

use crate::query::MetadataValue;
use chrono::{DateTime, Utc};
use sqlx::error::DatabaseError;
use sqlx::{Column, ColumnIndex, Database, Decode, Encode, Pool, QueryBuilder, Row, Type};
use std::future::Future;
use uuid::Uuid;

pub(crate) use migrate::Migration;

/// The batch size the SQL sinks ask the logger for: every commit costs a
/// WAL flush and rewrites the index pages it touched, so large batches
/// amortise it; the batch timeout still bounds the latency.
pub(crate) const PREFERRED_BATCH_SIZE: usize = 8_192;

/// What the shared layer needs of a sqlx database to bind and read text
/// and integers, written once for every database that can.
pub(crate) trait Backend: Database {
    /// Binds borrowed text.
    fn bind_text<'a>(qb: &mut QueryBuilder<'a, Self>, value: &'a str);
    /// Binds an integer.
    fn bind_int(qb: &mut QueryBuilder<'_, Self>, value: i64);
    /// Binds bytes.
    fn bind_bytes(qb: &mut QueryBuilder<'_, Self>, value: Vec<u8>);
    /// Binds nullable text.
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))] // the shared write path
    fn bind_opt_text<'a>(qb: &mut QueryBuilder<'a, Self>, value: Option<&'a str>);
    /// Binds a nullable integer.
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))] // the shared write path
    fn bind_opt_int(qb: &mut QueryBuilder<'_, Self>, value: Option<i64>);
    /// A nullable integer column.
    fn int(row: &Self::Row, column: &str) -> Result<Option<i64>, sqlx::Error>;
    /// Where `column` sits in `row` (and in every row of its result).
    fn position(row: &Self::Row, column: &str) -> Result<usize, sqlx::Error>;
    /// The nullable text column at `position`.
    fn text_at(row: &Self::Row, position: usize) -> Result<Option<String>, sqlx::Error>;
    /// The nullable text column at `position`, borrowed from the row.
    fn str_at(row: &Self::Row, position: usize) -> Result<Option<&str>, sqlx::Error>;
    /// The nullable integer column at `position`.
    fn int_at(row: &Self::Row, position: usize) -> Result<Option<i64>, sqlx::Error>;
    /// The nullable bytes column at `position`.
    fn bytes_at(row: &Self::Row, position: usize) -> Result<Option<Vec<u8>>, sqlx::Error>;
    /// The nullable bytes column at `position`, borrowed from the row.
    fn slice_at(row: &Self::Row, position: usize) -> Result<Option<&[u8]>, sqlx::Error>;
}

impl<DB> Backend for DB
where
    DB: Database,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> Vec<u8>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'r> Option<String>: Decode<'r, DB> + Type<DB>,
    for<'r> Option<&'r str>: Decode<'r, DB> + Type<DB>,
    for<'r> Option<i64>: Decode<'r, DB> + Type<DB>,
    for<'r> Option<Vec<u8>>: Decode<'r, DB> + Type<DB>,
    for<'r> Option<&'r [u8]>: Decode<'r, DB> + Type<DB>,
    for<'c> &'c str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    fn bind_text<'a>(qb: &mut QueryBuilder<'a, Self>, value: &'a str) {
        qb.push_bind(value);
    }

    fn bind_int(qb: &mut QueryBuilder<'_, Self>, value: i64) {
        qb.push_bind(value);
    }

    fn bind_bytes(qb: &mut QueryBuilder<'_, Self>, value: Vec<u8>) {
        qb.push_bind(value);
    }

    fn bind_opt_text<'a>(qb: &mut QueryBuilder<'a, Self>, value: Option<&'a str>) {
        qb.push_bind(value);
    }

    fn bind_opt_int(qb: &mut QueryBuilder<'_, Self>, value: Option<i64>) {
        qb.push_bind(value);
    }

    fn int(row: &Self::Row, column: &str) -> Result<Option<i64>, sqlx::Error> {
        row.try_get(column)
    }

    fn position(row: &Self::Row, column: &str) -> Result<usize, sqlx::Error> {
        Ok(row.try_column(column)?.ordinal())
    }

    fn text_at(row: &Self::Row, position: usize) -> Result<Option<String>, sqlx::Error> {
        row.try_get(position)
    }

    fn str_at(row: &Self::Row, position: usize) -> Result<Option<&str>, sqlx::Error> {
        row.try_get(position)
    }

    fn int_at(row: &Self::Row, position: usize) -> Result<Option<i64>, sqlx::Error> {
        row.try_get(position)
    }

    fn bytes_at(row: &Self::Row, position: usize) -> Result<Option<Vec<u8>>, sqlx::Error> {
        row.try_get(position)
    }

    fn slice_at(row: &Self::Row, position: usize) -> Result<Option<&[u8]>, sqlx::Error> {
        row.try_get(position)
    }
}

/// A boxed future: the shared layer's async calls into a dialect or a
/// store are boxed, since generic code awaiting `impl Future`s with
/// lifetime bounds cannot yet be proven `Send` (rust-lang/rust#100013).
pub(crate) type BoxFuture<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The rows of a dialect's database.
pub(crate) type RowOf<D> = <<D as Dialect>::Db as Database>::Row;

/// The connections of a dialect's database.
pub(crate) type ConnectionOf<D> = <<D as Dialect>::Db as Database>::Connection;

/// [`Dialect::fetch_all`], [`Dialect::execute`] and [`Dialect::script`]
/// for a dialect whose database is a concrete sqlx driver (generic code
/// over sqlx's executors would need higher-ranked bounds that async code
/// cannot prove `Send`).
macro_rules! impl_execute {
    () => {
        fn fetch_all<'c, 'q: 'c>(
            conn: &'c mut $crate::sql::ConnectionOf<Self>,
            mut qb: sqlx::QueryBuilder<'q, Self::Db>,
            persistent: bool,
        ) -> $crate::sql::BoxFuture<'c, Result<Vec<$crate::sql::RowOf<Self>>, sqlx::Error>> {
            Box::pin(async move { qb.build().persistent(persistent).fetch_all(conn).await })
        }

        fn for_each_row<'c, 'q: 'c>(
            conn: &'c mut $crate::sql::ConnectionOf<Self>,
            mut qb: sqlx::QueryBuilder<'q, Self::Db>,
            persistent: bool,
            each: &'c mut (dyn FnMut(&$crate::sql::RowOf<Self>) -> bool + Send),
        ) -> $crate::sql::BoxFuture<'c, Result<(), sqlx::Error>> {
            Box::pin(async move {
                use futures_util::TryStreamExt as _;
                let mut rows = qb.build().persistent(persistent).fetch(conn);
                while let Some(row) = rows.try_next().await? {
                    if !each(&row) {
                        break;
                    }
                }
                Ok(())
            })
        }

        fn execute<'c, 'q: 'c>(
            conn: &'c mut $crate::sql::ConnectionOf<Self>,
            mut qb: sqlx::QueryBuilder<'q, Self::Db>,
            persistent: bool,
        ) -> $crate::sql::BoxFuture<'c, Result<u64, sqlx::Error>> {
            Box::pin(async move { Ok(qb.build().persistent(persistent).execute(conn).await?.rows_affected()) })
        }

        fn script<'c>(
            conn: &'c mut $crate::sql::ConnectionOf<Self>,
            sql: &'static str,
        ) -> $crate::sql::BoxFuture<'c, Result<(), sqlx::Error>> {
            Box::pin(async move { sqlx::Executor::execute(conn, sql).await.map(drop) })
        }
    };
}

pub(crate) use impl_execute;

/// What one SQL database does differently; everything else is shared.
/// A new SQL store is a `Dialect` and its migrations: the shared write
/// path ([`write`](mod@write)) serves it until it wants a faster bulk path
/// of its own.
pub(crate) trait Dialect: Send + Sync + 'static {
    /// The sqlx database.
    type Db: Backend;

    /// The database's name in messages ("SQLite").
    const NAME: &'static str;
    /// The select list [`decode::activity`] reads: every column of the
    /// record, JSON as text, the ip as given.
    const COLUMNS: &'static str;
    /// Starts a read transaction in which every statement sees one snapshot.
    const BEGIN_SNAPSHOT: &'static str;
    /// Run in verification's snapshot transaction before it reads a chain
    /// (empty: nothing): settings for the duration of the transaction.
    const VERIFY_SETTINGS: &'static str = "";
    /// Chain positions verification reads per query (one index range
    /// each); a dialect whose [`Dialect::for_each_chain_row`] holds the
    /// calling task for a whole window keeps it small.
    const VERIFY_WINDOW: i64 = 100_000;
    /// Whether reads keep prepared statements by default (SQLite: yes,
    /// preparing is the cost; PostgreSQL: only on connections that plan
    /// every execution with its actual values, see
    /// [`SqlStore::prepared_reads`]).
    const PERSISTENT_READS: bool;

    /// Every migration, oldest first.
    const MIGRATIONS: &'static [Migration];
    /// `CREATE TABLE IF NOT EXISTS activity_log_migrations (version,
    /// description, applied_at)` in this database's types.
    const MIGRATIONS_TABLE: &'static str;
    /// Starts a write transaction (migrations, retention): where the
    /// database allows, one that takes the write lock at once.
    const BEGIN_WRITE: &'static str;
    /// Run first inside the migration transaction, if the begin alone does
    /// not serialise migrating instances (an advisory lock).
    const MIGRATION_LOCK: Option<&'static str>;

    /// The most values one statement may bind.
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))] // the shared write path
    const MAX_BIND_VARIABLES: usize;
    /// Ends an `INSERT` so that rows whose key exists are skipped.
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))] // the shared write path
    const SKIP_EXISTING: &'static str = " ON CONFLICT DO NOTHING";

    /// Ends the `SELECT` of the chain heads a batch extends: locks them
    /// until the write transaction ends, where the begin alone does not.
    const LOCK_ROWS: &'static str;

    /// Opens the retention gate for the current transaction only.
    const OPEN_RETENTION: &'static str;
    /// Closes it again before commit, where the gate is not
    /// transaction-local.
    const CLOSE_RETENTION: Option<&'static str>;
    /// One retention chunk around the selection of the doomed rows
    /// (`... WHERE` and what follows `LIMIT n`): rows are deleted by a key
    /// the selection yields, since DELETE takes no LIMIT everywhere.
    const DELETE_CHUNK: [&'static str; 2];

    /// Binds a time the way the `occurred_at` column stores it.
    fn bind_time(qb: &mut QueryBuilder<'_, Self::Db>, at: DateTime<Utc>);
    /// Binds an id the way the `id` column stores it.
    fn bind_id(qb: &mut QueryBuilder<'_, Self::Db>, id: Uuid);
    /// ` AND <column> is one of values` (two or more values).
    fn push_any_of<'a>(qb: &mut QueryBuilder<'a, Self::Db>, column: &'static str, values: &'a [String]);
    /// ` AND description_folded contains folded` (a literal substring).
    fn push_search(qb: &mut QueryBuilder<'_, Self::Db>, folded: String);
    /// ` AND the top-level metadata key equals value`.
    fn push_metadata<'a>(qb: &mut QueryBuilder<'a, Self::Db>, key: &'a str, value: &'a MetadataValue);

    /// Runs the statement built in `qb` and returns its rows. With
    /// `persistent`, the prepared statement is cached on the connection.
    /// (Implemented by [`impl_execute!`].)
    fn fetch_all<'c, 'q: 'c>(
        conn: &'c mut ConnectionOf<Self>,
        qb: QueryBuilder<'q, Self::Db>,
        persistent: bool,
    ) -> BoxFuture<'c, Result<Vec<RowOf<Self>>, sqlx::Error>>;
    /// Runs the statement built in `qb` and hands each row to `each` as
    /// it arrives (no more once `each` returns `false`): the caller works
    /// while the database sends the rest.
    fn for_each_row<'c, 'q: 'c>(
        conn: &'c mut ConnectionOf<Self>,
        qb: QueryBuilder<'q, Self::Db>,
        persistent: bool,
        each: &'c mut (dyn FnMut(&RowOf<Self>) -> bool + Send),
    ) -> BoxFuture<'c, Result<(), sqlx::Error>>;
    /// Runs the statement built in `qb`; returns how many rows it changed.
    fn execute<'c, 'q: 'c>(
        conn: &'c mut ConnectionOf<Self>,
        qb: QueryBuilder<'q, Self::Db>,
        persistent: bool,
    ) -> BoxFuture<'c, Result<u64, sqlx::Error>>;
    /// Runs fixed SQL (several statements allowed) without arguments.
    fn script<'c>(conn: &'c mut ConnectionOf<Self>, sql: &'static str) -> BoxFuture<'c, Result<(), sqlx::Error>>;

    /// Reads the chained rows of `tenant` at positions `(from, to]`,
    /// ordered by position (rows sharing one in any order), as borrowed
    /// values, handing each to `each` (no more once it returns `false`),
    /// in the snapshot transaction `conn` is in; the select list is
    /// [`verify::CHAIN_ROW_PREFIX`] and the record's columns in
    /// [`decode::NAMES`] order.
    fn for_each_chain_row<'c>(
        conn: &'c mut ConnectionOf<Self>,
        tenant: Option<&'c str>,
        from: i64,
        to: i64,
        each: &'c mut (dyn FnMut(&dyn verify::ChainRow) -> bool + Send),
    ) -> BoxFuture<'c, Result<(), sqlx::Error>>;

    /// Reads the `id` column, at `position`.
    fn id(row: &RowOf<Self>, position: usize) -> Result<Uuid, sqlx::Error>;
    /// Reads the time column `column`, at `position`.
    fn time(row: &RowOf<Self>, position: usize, column: &str) -> Result<DateTime<Utc>, sqlx::Error>;

    /// Whether retrying may succeed after this database error (busy,
    /// locked, connection lost, out of resources, a serialization failure).
    fn is_transient_code(e: &dyn DatabaseError) -> bool;
}

/// A SQL sink seen as a store: its pools, and its own part of retention.
/// [`impl_activity_store!`] implements
/// [`ActivityStore`](crate::query::ActivityStore) on top, with the
/// store's own `stats_of(&self, filter, request)` for the statistics
/// (grouping is where SQL dialects differ most).
pub(crate) trait SqlStore: Send + Sync + 'static {
    /// The store's dialect.
    type Dialect: Dialect;

    /// The pool reads and retention go through.
    fn readers(&self) -> &Pool<<Self::Dialect as Dialect>::Db>;

    /// Whether reads keep their prepared statements on the connection
    /// (saving a round trip and a parse per read): only where each
    /// execution is still planned with its actual values.
    fn prepared_reads(&self) -> bool {
        <Self::Dialect as Dialect>::PERSISTENT_READS
    }

    /// The pool retention deletes through.
    fn retention_pool(&self) -> &Pool<<Self::Dialect as Dialect>::Db> {
        self.readers()
    }

    /// Runs before retention deletes rows: e.g. drops whole partitions
    /// older than `cutoff`; returns how many rows went that way.
    fn expire_whole<'a>(
        &'a self,
        cutoff: DateTime<Utc>,
        tenant: Option<&'a str>,
    ) -> BoxFuture<'a, Result<u64, sqlx::Error>> {
        let _ = (cutoff, tenant);
        Box::pin(async { Ok(0) })
    }
}

/// Implements [`ActivityStore`](crate::query::ActivityStore) for a
/// [`SqlStore`], with the shared query layer.
macro_rules! impl_activity_store {
    ($store:ty, $name:literal) => {
        #[$crate::async_trait]
        impl $crate::query::ActivityStore for $store {
            async fn query(
                &self,
                filter: &$crate::query::ActivityFilter,
                page: &$crate::query::PageRequest,
            ) -> Result<$crate::query::Page, $crate::query::QueryError> {
                $crate::sql::query::page(self, filter, page).await
            }

            async fn count(&self, filter: &$crate::query::ActivityFilter) -> Result<u64, $crate::query::QueryError> {
                $crate::sql::query::count(self, filter).await
            }

            async fn get(
                &self,
                id: $crate::Uuid,
                tenant: Option<&str>,
            ) -> Result<Option<$crate::Activity>, $crate::query::QueryError> {
                $crate::sql::query::get(self, id, tenant).await
            }

            async fn stats(
                &self,
                filter: &$crate::query::ActivityFilter,
                request: &$crate::query::StatsRequest,
            ) -> Result<$crate::query::ActivityStats, $crate::query::QueryError> {
                let stats = $crate::sql::error::retry_broken!(
                    $crate::sql::SqlStore::readers(self),
                    self.stats_of(filter, request)
                );
                stats.map_err($crate::sql::error::query_error::<<$store as $crate::sql::SqlStore>::Dialect>)
            }

            async fn delete_before(
                &self,
                cutoff: chrono::DateTime<chrono::Utc>,
                tenant: Option<&str>,
            ) -> Result<u64, $crate::query::QueryError> {
                $crate::sql::retention::delete_before(self, cutoff, tenant).await
            }

            fn name(&self) -> &str {
                $name
            }
        }
    };
}

pub(crate) use impl_activity_store;
