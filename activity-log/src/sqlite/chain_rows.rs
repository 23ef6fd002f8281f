//! Verification's reader of chained rows on SQLite: a prepared statement
//! stepped on the connection's own handle, by a thread of its own that
//! copies each row's values into batches (plain bytes, no allocation per
//! value), while the calling thread writes the canonical bytes and hashes
//! them. sqlx instead copies every column of every row into owned values
//! on its worker thread, which was most of the time a row took to verify;
//! and stepping SQLite (the table lookups, the page reads) is now done
//! beside the hashing rather than before it.
//!
//! This is the crate's only `unsafe` code: the SQLite C calls, and moving
//! the statement to the reader thread. Each call is made on the handle
//! sqlx lends while it holds the connection's lock
//! ([`LockedSqliteHandle`]), on a statement this module prepared and
//! finalizes, by one thread at a time; every slice read from a row is
//! copied before the next step.
//!
//! The read blocks the calling task for a window of positions, as the
//! hashing of the rows does.

#![allow(unsafe_code)]

use crate::sql::decode::{Fields, NAMES};
use crate::sql::verify::{ChainRow, CHAIN_ROW_PREFIX};
use libsqlite3_sys as ffi;
use sqlx::error::{DatabaseError, ErrorKind};
use sqlx::sqlite::LockedSqliteHandle;
use sqlx::SqliteConnection;
use std::borrow::Cow;
use std::ffi::{c_int, CStr, CString};
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::mpsc;

/// Where the record's columns start in a row.
const RECORD: c_int = 3;

/// The statement: the chain rows of one tenant (or of activities without
/// a tenant) at positions `(?1, ?2]`.
fn sql(tenanted: bool) -> CString {
    let tenant = if tenanted { "tenant = ?3" } else { "tenant IS NULL" };
    let text = format!(
        "SELECT {CHAIN_ROW_PREFIX}{} FROM activities WHERE chain_seq > ?1 AND chain_seq <= ?2 AND {tenant} \
         ORDER BY chain_seq",
        NAMES.join(", ")
    );
    // No NUL in the text above.
    CString::new(text).unwrap_or_default()
}

/// Rows per batch handed from the reader thread.
const BATCH: usize = 256;

/// Values per row: position, hash, search column, the record.
const VALUES: usize = RECORD as usize + NAMES.len();

/// Reads the chain rows of `tenant` at positions `(from, to]`, in
/// position order, and hands each to `each` until it returns `false`.
pub(crate) async fn for_each(
    conn: &mut SqliteConnection,
    tenant: Option<&str>,
    from: i64,
    to: i64,
    each: &mut (dyn FnMut(&dyn ChainRow) -> bool + Send),
) -> Result<(), sqlx::Error> {
    let mut handle = conn.lock_handle().await?;
    let mut statement = Statement::prepare(&mut handle, &sql(tenant.is_some()))?;
    statement.bind_int(1, from)?;
    statement.bind_int(2, to)?;
    if let Some(t) = tenant {
        statement.bind_text(3, t)?;
    }
    pipeline(Stepper(statement), each)
}

/// Steps the statement on a thread of its own, which sends batches of
/// rows, while this thread hands each row to `each`.
fn pipeline(stepper: Stepper<'_>, each: &mut (dyn FnMut(&dyn ChainRow) -> bool + Send)) -> Result<(), sqlx::Error> {
    let (full, batches) = mpsc::sync_channel::<Batch>(4);
    let (recycle, spare) = mpsc::channel::<Batch>();
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || stepper.run(&full, &spare));
        'batches: for batch in &batches {
            for row in batch.rows() {
                if !each(&row) {
                    break 'batches;
                }
            }
            let _ = recycle.send(batch);
        }
        // The reader stops at its next send.
        drop(batches);
        reader.join().unwrap_or_else(|_| Err(sqlx::Error::Protocol("the SQLite reader thread panicked".into())))
    })
}

/// The statement, moved to the reader thread.
struct Stepper<'h>(Statement<'h>);

// SAFETY: sqlx opens SQLite connections in multi-thread mode: a
// connection may be used from any thread, by one thread at a time. While
// the reader thread steps (and finally finalizes) the statement, the
// thread that lent the handle holds the connection's lock, so nothing
// else uses it, and makes no SQLite call itself until the reader thread,
// scoped, has ended.
unsafe impl Send for Stepper<'_> {}

impl Stepper<'_> {
    /// Steps to the end (or until the receiver is gone), sending batches.
    fn run(mut self, full: &mpsc::SyncSender<Batch>, spare: &mpsc::Receiver<Batch>) -> Result<(), sqlx::Error> {
        loop {
            let mut batch = spare.try_recv().unwrap_or_default();
            batch.clear();
            let mut done = false;
            while batch.len() < BATCH {
                match self.0.step()? {
                    Some(row) => batch.push(&row),
                    None => {
                        done = true;
                        break;
                    }
                }
            }
            if !batch.values.is_empty() && full.send(batch).is_err() {
                return Ok(());
            }
            if done {
                return Ok(());
            }
        }
    }
}

/// One value of a row, as copied into a batch.
#[derive(Debug, Clone, Copy)]
enum Value {
    Null,
    Integer(i64),
    /// Text, at `bytes[start..end]` of the batch.
    Text(usize, usize),
    /// A blob, at `bytes[start..end]` of the batch.
    Blob(usize, usize),
    /// A real number, or a value that could not be read.
    Other,
}

/// Rows copied out of SQLite: their values, `VALUES` a row.
#[derive(Debug, Default)]
struct Batch {
    bytes: Vec<u8>,
    values: Vec<Value>,
}

impl Batch {
    fn len(&self) -> usize {
        self.values.len() / VALUES
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.values.clear();
    }

    fn push(&mut self, row: &Step<'_>) {
        for column in 0..VALUES as c_int {
            let value = match row.kind(column) {
                ffi::SQLITE_NULL => Value::Null,
                ffi::SQLITE_INTEGER => Value::Integer(row.int64(column)),
                kind @ (ffi::SQLITE_TEXT | ffi::SQLITE_BLOB) => match row.bytes(column, kind == ffi::SQLITE_TEXT) {
                    Some(b) => {
                        let start = self.bytes.len();
                        self.bytes.extend_from_slice(b);
                        let end = self.bytes.len();
                        if kind == ffi::SQLITE_TEXT {
                            Value::Text(start, end)
                        } else {
                            Value::Blob(start, end)
                        }
                    }
                    None => Value::Other,
                },
                _ => Value::Other,
            };
            self.values.push(value);
        }
    }

    fn rows(&self) -> impl Iterator<Item = Row<'_>> {
        self.values.chunks_exact(VALUES).map(|values| Row { bytes: &self.bytes, values })
    }
}

/// One row of a batch.
struct Row<'b> {
    bytes: &'b [u8],
    values: &'b [Value],
}

impl Row<'_> {
    fn text_at(&self, i: usize) -> Option<Option<&str>> {
        match self.values[i] {
            Value::Null => Some(None),
            Value::Text(start, end) => std::str::from_utf8(&self.bytes[start..end]).ok().map(Some),
            _ => None,
        }
    }

    fn int_at(&self, i: usize) -> Option<Option<i64>> {
        match self.values[i] {
            Value::Null => Some(None),
            Value::Integer(n) => Some(Some(n)),
            _ => None,
        }
    }

    fn blob_at(&self, i: usize) -> Option<Option<&[u8]>> {
        match self.values[i] {
            Value::Null => Some(None),
            Value::Blob(start, end) => Some(Some(&self.bytes[start..end])),
            _ => None,
        }
    }
}

impl Fields for Row<'_> {
    fn text(&self, column: usize) -> Option<Option<&str>> {
        self.text_at(RECORD as usize + column)
    }

    fn int(&self, column: usize) -> Option<Option<i64>> {
        self.int_at(RECORD as usize + column)
    }

    fn id(&self) -> Option<uuid::Uuid> {
        uuid::Uuid::from_slice(self.blob_at(RECORD as usize)??).ok()
    }

    fn micros(&self) -> Option<i64> {
        let us = self.int_at(RECORD as usize + 1)??;
        chrono::DateTime::from_timestamp_micros(us).map(|_| us)
    }
}

impl ChainRow for Row<'_> {
    fn position(&self) -> Option<i64> {
        self.int_at(0)?
    }

    fn hash(&self) -> Option<Option<&[u8]>> {
        self.blob_at(1)
    }

    fn folded(&self) -> Option<Option<&str>> {
        self.text_at(2)
    }
}

/// A prepared statement on a locked connection, finalized on drop.
struct Statement<'h> {
    db: NonNull<ffi::sqlite3>,
    stmt: NonNull<ffi::sqlite3_stmt>,
    /// The lock on the connection, held for as long as the statement lives.
    _handle: PhantomData<&'h mut ()>,
}

impl<'h> Statement<'h> {
    fn prepare(handle: &'h mut LockedSqliteHandle<'_>, sql: &CStr) -> Result<Self, sqlx::Error> {
        let db = handle.as_raw_handle();
        let mut stmt = std::ptr::null_mut();
        // SAFETY: `db` is the open connection sqlx lends while `handle`
        // holds its lock (borrowed for `'h`, the statement's lifetime);
        // `sql` is NUL-terminated; `stmt` is a valid out-pointer.
        let rc = unsafe { ffi::sqlite3_prepare_v2(db.as_ptr(), sql.as_ptr(), -1, &mut stmt, std::ptr::null_mut()) };
        if rc != ffi::SQLITE_OK {
            return Err(error(db));
        }
        let stmt = NonNull::new(stmt).ok_or_else(|| error(db))?;
        Ok(Self { db, stmt, _handle: PhantomData })
    }

    fn bind_int(&mut self, index: c_int, value: i64) -> Result<(), sqlx::Error> {
        // SAFETY: a live statement of this connection; SQLite checks the
        // index.
        let rc = unsafe { ffi::sqlite3_bind_int64(self.stmt.as_ptr(), index, value) };
        self.check(rc)
    }

    fn bind_text(&mut self, index: c_int, value: &str) -> Result<(), sqlx::Error> {
        let len = c_int::try_from(value.len()).map_err(|_| sqlx::Error::Protocol("tenant too long".into()))?;
        // SAFETY: a live statement; `value` is `len` valid bytes, which
        // SQLite copies (SQLITE_TRANSIENT) before returning.
        let rc = unsafe {
            ffi::sqlite3_bind_text(self.stmt.as_ptr(), index, value.as_ptr().cast(), len, ffi::SQLITE_TRANSIENT())
        };
        self.check(rc)
    }

    /// The next row, borrowing the statement until the next step.
    fn step(&mut self) -> Result<Option<Step<'_>>, sqlx::Error> {
        // SAFETY: a live statement, stepped on the thread holding the
        // connection's lock; no slice of the previous row survives this
        // call (they borrow the `Step`, which borrows `self`).
        match unsafe { ffi::sqlite3_step(self.stmt.as_ptr()) } {
            ffi::SQLITE_ROW => Ok(Some(Step { stmt: self.stmt, _statement: PhantomData })),
            ffi::SQLITE_DONE => Ok(None),
            _ => Err(error(self.db)),
        }
    }

    fn check(&self, rc: c_int) -> Result<(), sqlx::Error> {
        if rc == ffi::SQLITE_OK {
            Ok(())
        } else {
            Err(error(self.db))
        }
    }
}

impl Drop for Statement<'_> {
    fn drop(&mut self) {
        // SAFETY: the statement was prepared here and is finalized once.
        unsafe { ffi::sqlite3_finalize(self.stmt.as_ptr()) };
    }
}

/// The current row of a statement.
struct Step<'s> {
    stmt: NonNull<ffi::sqlite3_stmt>,
    _statement: PhantomData<&'s mut ()>,
}

impl Step<'_> {
    fn kind(&self, column: c_int) -> c_int {
        // SAFETY: a row of a live statement; an out-of-range column is
        // SQLITE_NULL.
        unsafe { ffi::sqlite3_column_type(self.stmt.as_ptr(), column) }
    }

    /// The bytes of a TEXT or BLOB value, borrowed from the row.
    fn bytes(&self, column: c_int, text: bool) -> Option<&[u8]> {
        // SAFETY: a row of a live statement, the value's storage class is
        // the one asked for (no conversion, so the pointer stays valid
        // until the next step, which needs `&mut` of the statement this
        // `Step` borrows); the length is read after the pointer, as
        // SQLite asks.
        unsafe {
            let data: *const u8 = if text {
                ffi::sqlite3_column_text(self.stmt.as_ptr(), column)
            } else {
                ffi::sqlite3_column_blob(self.stmt.as_ptr(), column).cast()
            };
            let len = usize::try_from(ffi::sqlite3_column_bytes(self.stmt.as_ptr(), column)).ok()?;
            if data.is_null() {
                // An empty blob; anything else is out of memory.
                return (len == 0).then_some(&[]);
            }
            Some(std::slice::from_raw_parts(data, len))
        }
    }

    fn int64(&self, column: c_int) -> i64 {
        // SAFETY: a row of a live statement, an INTEGER value.
        unsafe { ffi::sqlite3_column_int64(self.stmt.as_ptr(), column) }
    }
}

/// The connection's last error, as sqlx reports SQLite's (the extended
/// result code in decimal), so that it is classified the same way.
fn error(db: NonNull<ffi::sqlite3>) -> sqlx::Error {
    // SAFETY: the open connection this module was lent; the message is
    // copied before any other call on it.
    let (code, message) = unsafe {
        let code = ffi::sqlite3_extended_errcode(db.as_ptr());
        let message = ffi::sqlite3_errmsg(db.as_ptr());
        let message =
            if message.is_null() { String::new() } else { CStr::from_ptr(message).to_string_lossy().into_owned() };
        (code, message)
    };
    sqlx::Error::Database(Box::new(RawError { code: code.to_string(), message }))
}

/// A SQLite error met by this reader.
#[derive(Debug)]
struct RawError {
    code: String,
    message: String,
}

impl std::fmt::Display for RawError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "(code: {}) {}", self.code, self.message)
    }
}

impl std::error::Error for RawError {}

impl DatabaseError for RawError {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(&self.code))
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> ErrorKind {
        ErrorKind::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::{Connection, Executor};

    fn column(name: &str) -> usize {
        NAMES.iter().position(|n| *n == name).expect("a record column")
    }

    /// What a test reads of a row.
    type Seen = (Option<i64>, Option<usize>, Option<Option<String>>, Option<Option<i64>>, Option<Option<String>>, bool);

    #[tokio::test]
    async fn values_are_read_by_storage_class_in_position_order_until_told_to_stop() {
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.expect("connect");
        let create = format!("CREATE TABLE activities ({CHAIN_ROW_PREFIX}{})", NAMES.join(", "));
        conn.execute(create.as_str()).await.expect("create");
        // 1,000 rows, inserted in reverse: a real number as duration at
        // position 7, text that is not UTF-8 as metadata at 8, a text id
        // at 9; a row of another tenant and one without.
        conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1000 UNION ALL SELECT i - 1 FROM n WHERE i > 1) \
             INSERT INTO activities (chain_seq, chain_hash, description_folded, id, occurred_at, tenant, \
             duration_us, metadata) SELECT i, zeroblob(32), 'd' || i, CASE i WHEN 9 THEN 'not a blob' ELSE \
             randomblob(16) END, i, 't', CASE i WHEN 7 THEN 1.5 ELSE i END, CASE i WHEN 8 THEN CAST(x'ff' AS \
             TEXT) ELSE '{}' END FROM n; \
             INSERT INTO activities (chain_seq, tenant) VALUES (3, 'other'), (4, NULL)",
        )
        .await
        .expect("rows");
        let mut seen: Vec<Seen> = Vec::new();
        let mut each = |row: &dyn ChainRow| {
            seen.push((
                row.position(),
                row.hash().flatten().map(<[u8]>::len),
                row.folded().map(|f| f.map(str::to_owned)),
                row.int(column("duration_us")),
                row.text(column("metadata")).map(|m| m.map(str::to_owned)),
                row.id().is_some(),
            ));
            true
        };
        for_each(&mut conn, Some("t"), 1, 1_000, &mut each).await.expect("read");
        assert_eq!(seen.len(), 999, "positions (1, 1000]");
        assert!(seen.iter().zip(2..).all(|(s, p)| s.0 == Some(p)), "in position order");
        let at = |p: usize| &seen[p - 2];
        assert_eq!(at(2), &(Some(2), Some(32), Some(Some("d2".into())), Some(Some(2)), Some(Some("{}".into())), true));
        assert_eq!(at(7).3, None, "a real number is not an integer");
        assert_eq!(at(8).4, None, "not UTF-8");
        assert!(!at(9).5, "a text id is not read as one");
        assert_eq!(at(10).1, Some(32));

        let mut positions = Vec::new();
        let mut each = |row: &dyn ChainRow| {
            positions.push(row.position());
            false
        };
        for_each(&mut conn, None, 0, 10, &mut each).await.expect("read");
        assert_eq!(positions, [Some(4)], "activities without a tenant");

        // Told to stop well inside the rows: the reader thread stops too,
        // and the connection is usable again.
        let mut n = 0;
        let mut each = |_: &dyn ChainRow| {
            n += 1;
            n < 300
        };
        for_each(&mut conn, Some("t"), 0, 1_000, &mut each).await.expect("read");
        assert_eq!(n, 300);
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM activities").fetch_one(&mut conn).await.expect("query");
        assert_eq!(count, 1_002);
    }

    #[tokio::test]
    async fn an_error_of_the_statement_is_a_database_error() {
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.expect("connect");
        let mut each = |_: &dyn ChainRow| true;
        let err = for_each(&mut conn, Some("t"), 0, 10, &mut each).await.expect_err("no table");
        assert!(matches!(&err, sqlx::Error::Database(db) if db.message().contains("no such table")), "{err}");
    }
}
