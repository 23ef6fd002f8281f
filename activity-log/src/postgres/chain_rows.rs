//! Verification's reader of chained rows on PostgreSQL: one `COPY (SELECT
//! ...) TO STDOUT (FORMAT binary)` per window, its tuples parsed in place
//! (each value a borrowed slice of the received bytes) instead of sqlx
//! decoding every column of every row through its type checks, which was
//! most of the client's time per row. The query orders by position only
//! (no sort of a position's rows by id on the server).
//!
//! `COPY` takes no parameters: the tenant travels in a transaction-local
//! setting (`activity_log.verify_tenant`), never spliced into the SQL.

use super::dialect::PgDialect;
use crate::sql::decode::{Fields, NAMES};
use crate::sql::verify::{ChainRow, CHAIN_ROW_PREFIX};
use crate::sql::Dialect;
use futures_util::TryStreamExt as _;
use sqlx::PgConnection;

/// The binary `COPY` signature, flags and header extension length.
const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

/// Values per tuple: position, hash, search column, the record.
const FIELDS: usize = 3 + NAMES.len();

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01).
const PG_EPOCH_US: i64 = 946_684_800_000_000;

/// The `COPY` of the rows at positions `(from, to]`.
fn copy_sql(tenanted: bool, from: i64, to: i64) -> String {
    let tenant = if tenanted {
        "tenant = current_setting('activity_log.verify_tenant') COLLATE \"C\""
    } else {
        "tenant IS NULL"
    };
    format!(
        "COPY (SELECT {CHAIN_ROW_PREFIX}{} FROM activities WHERE chain_seq > {from} AND chain_seq <= {to} \
         AND {tenant} ORDER BY chain_seq) TO STDOUT (FORMAT binary)",
        PgDialect::COLUMNS
    )
}

/// Reads the chain rows of `tenant` at positions `(from, to]`, in
/// position order, and hands each to `each` until it returns `false`.
pub(crate) async fn for_each(
    conn: &mut PgConnection,
    tenant: Option<&str>,
    from: i64,
    to: i64,
    each: &mut (dyn FnMut(&dyn ChainRow) -> bool + Send),
) -> Result<(), sqlx::Error> {
    if let Some(t) = tenant {
        sqlx::query("SELECT set_config('activity_log.verify_tenant', $1, true)").bind(t).execute(&mut *conn).await?;
    }
    let mut stream = conn.copy_out_raw(&copy_sql(tenant.is_some(), from, to)).await?;
    let mut buffer: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut header = false;
    let mut going = true;
    // Read to the end even after `each` stops: the connection is only
    // usable again once the `COPY` is over.
    while let Some(chunk) = stream.try_next().await? {
        if !going {
            continue;
        }
        // The server sends a tuple per message, so a chunk is usually
        // whole tuples: they are parsed where they lie, and only the start
        // of a cut one is kept for the next chunk.
        let direct = header && buffer.is_empty();
        if !direct {
            buffer.extend_from_slice(&chunk);
        }
        let bytes: &[u8] = if direct { &chunk } else { &buffer };
        let mut at = 0;
        if !header {
            match header_len(bytes)? {
                Some(n) => {
                    at = n;
                    header = true;
                }
                None => continue,
            }
        }
        while going {
            match tuple(&bytes[at..])? {
                Tuple::Row(row, len) => {
                    going = each(&row);
                    at += len;
                }
                Tuple::End | Tuple::Partial => break,
            }
        }
        if direct {
            buffer.extend_from_slice(&chunk[at..]);
        } else {
            buffer.drain(..at);
        }
    }
    Ok(())
}

fn protocol(what: &str) -> sqlx::Error {
    sqlx::Error::Protocol(format!("binary COPY of the chain: {what}"))
}

/// The length of the binary `COPY` header at the start of `bytes`, once
/// it has all arrived.
fn header_len(bytes: &[u8]) -> Result<Option<usize>, sqlx::Error> {
    let fixed = SIGNATURE.len() + 8;
    if bytes.len() < fixed {
        return Ok(None);
    }
    if &bytes[..SIGNATURE.len()] != SIGNATURE {
        return Err(protocol("bad signature"));
    }
    let extension = u32::from_be_bytes(read4(&bytes[SIGNATURE.len() + 4..])) as usize;
    let len = fixed + extension;
    Ok((bytes.len() >= len).then_some(len))
}

fn read4(bytes: &[u8]) -> [u8; 4] {
    [bytes[0], bytes[1], bytes[2], bytes[3]]
}

/// What the bytes at a tuple boundary hold.
// A row is its values' slices, returned by value once per row: boxing it
// would allocate for each.
#[allow(clippy::large_enum_variant)]
enum Tuple<'b> {
    /// A whole tuple, and its length in bytes.
    Row(Row<'b>, usize),
    /// The trailer: no more tuples.
    End,
    /// Not all of the next tuple has arrived.
    Partial,
}

/// Parses the tuple at the start of `bytes`.
fn tuple(bytes: &[u8]) -> Result<Tuple<'_>, sqlx::Error> {
    let Some(count) = bytes.get(..2) else { return Ok(Tuple::Partial) };
    let count = i16::from_be_bytes([count[0], count[1]]);
    if count == -1 {
        return Ok(Tuple::End);
    }
    if usize::try_from(count).ok() != Some(FIELDS) {
        return Err(protocol("unexpected number of columns"));
    }
    let mut values = [None; FIELDS];
    let mut at = 2;
    for value in &mut values {
        let Some(len) = bytes.get(at..at + 4) else { return Ok(Tuple::Partial) };
        let len = i32::from_be_bytes(read4(len));
        at += 4;
        if len < 0 {
            continue;
        }
        let len = len as usize;
        let Some(v) = bytes.get(at..at + len) else { return Ok(Tuple::Partial) };
        *value = Some(v);
        at += len;
    }
    Ok(Tuple::Row(Row { values }, at))
}

/// One tuple's values (`None`: NULL), in binary send format.
struct Row<'b> {
    values: [Option<&'b [u8]>; FIELDS],
}

impl Row<'_> {
    fn text_at(&self, i: usize) -> Option<Option<&str>> {
        match self.values[i] {
            None => Some(None),
            Some(bytes) => std::str::from_utf8(bytes).ok().map(Some),
        }
    }

    fn int_at(&self, i: usize) -> Option<Option<i64>> {
        match self.values[i] {
            None => Some(None),
            Some(bytes) => Some(Some(i64::from_be_bytes(bytes.try_into().ok()?))),
        }
    }
}

impl Fields for Row<'_> {
    fn text(&self, column: usize) -> Option<Option<&str>> {
        self.text_at(3 + column)
    }

    fn int(&self, column: usize) -> Option<Option<i64>> {
        self.int_at(3 + column)
    }

    fn id(&self) -> Option<uuid::Uuid> {
        uuid::Uuid::from_slice(self.values[3]?).ok()
    }

    fn micros(&self) -> Option<i64> {
        let us = self.int_at(4)??.checked_add(PG_EPOCH_US)?;
        chrono::DateTime::from_timestamp_micros(us).map(|_| us)
    }
}

impl ChainRow for Row<'_> {
    fn position(&self) -> Option<i64> {
        self.int_at(0)?
    }

    fn hash(&self) -> Option<Option<&[u8]>> {
        Some(self.values[1])
    }

    fn folded(&self) -> Option<Option<&str>> {
        self.text_at(2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_select_list_is_the_record_in_the_order_verification_reads() {
        let columns = PgDialect::COLUMNS.replace("COALESCE(ip_text, host(ip)) AS ip", "ip");
        let names: Vec<&str> = columns.split(", ").map(|c| c.rsplit(' ').next().unwrap_or(c)).collect();
        assert_eq!(names, NAMES);
    }

    #[test]
    fn tuples_are_parsed_in_place_and_cut_ones_wait_for_more() {
        let mut bytes = vec![0, FIELDS as u8];
        for i in 0..FIELDS {
            if i == 5 {
                bytes.extend_from_slice(&(-1i32).to_be_bytes());
            } else {
                bytes.extend_from_slice(&8i32.to_be_bytes());
                bytes.extend_from_slice(&(i as i64).to_be_bytes());
            }
        }
        let Ok(Tuple::Row(row, len)) = tuple(&bytes) else { panic!("a whole tuple") };
        assert_eq!(len, bytes.len());
        assert_eq!(row.position(), Some(0));
        assert_eq!(row.int(20), Some(Some(23)));
        assert_eq!(row.text(2), Some(None));
        assert!(matches!(tuple(&bytes[..bytes.len() - 1]), Ok(Tuple::Partial)));
        assert!(matches!(tuple(&(-1i16).to_be_bytes()), Ok(Tuple::End)));
        assert!(tuple(&[0, 3]).is_err());
    }
}
