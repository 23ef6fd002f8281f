//! Verification's reader of chained rows on PostgreSQL: one `COPY (SELECT
//! ...) TO STDOUT (FORMAT binary)` per window, its tuples parsed in place
//! (each value a borrowed slice of the received bytes) instead of sqlx
//! decoding every column of every row through its type checks, which was
//! most of the client's time per row. The query orders by position only
//! (no sort of a position's rows by id on the server).
//!
//! `COPY` takes no parameters: the tenant travels in a transaction-local
//! setting (`activity_log.verify_tenant`), never spliced into the SQL.
//!
//! Two values are not sent as [`PgDialect::COLUMNS`] selects them, to
//! spare the server their output (verification is bound by the server on
//! two cores):
//! - `tenant`: every row read equals the tenant verified (byte-wise: the
//!   condition compares in the "C" collation), so it is not sent at all;
//! - the ip: `ip_text` and the binary `inet`, and `host(ip)` only for an
//!   IPv6 address. An IPv4 address is printed here as `host()` prints it
//!   (four decimal bytes); IPv6's textual forms (IPv4-compatible and
//!   -mapped addresses) are left to the server.

use super::dialect::PgDialect;
use crate::ip_text::{ipv4_text, IPV4_LEN};
use crate::sql::decode::{Fields, IP, NAMES, TENANT};
use crate::sql::verify::{ChainRow, CHAIN_ROW_PREFIX};
use crate::sql::Dialect;
use futures_util::TryStreamExt as _;
use sqlx::PgConnection;

/// The binary `COPY` signature, flags and header extension length.
const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

/// Values per tuple: position, hash, search column, then the record
/// without its tenant, its ip as three values ([`IP_VALUES`]).
const FIELDS: usize = 3 + NAMES.len() - 1 + 2;

/// The ip as [`PgDialect::COLUMNS`] selects it: the given text, else the
/// address as `host()` prints it (the writer keeps `ip_text` only when
/// that differs from what it was given).
const IP_COLUMN: &str = "COALESCE(ip_text, host(ip)) AS ip";

/// The ip as the `COPY` selects it: the given text, the address (binary
/// `inet`), and `host()` of an IPv6 address.
const IP_VALUES: &str = "ip_text, ip, CASE WHEN family(ip) = 6 THEN host(ip) END";

/// Where the tuple's values sit: before the record's, the position, hash
/// and search column; within it, the ip's three values.
const ID_AT: usize = 3;
const IP_TEXT_AT: usize = 2 + IP;
const INET_AT: usize = IP_TEXT_AT + 1;
const HOST_AT: usize = IP_TEXT_AT + 2;

/// The value index of record column `column` (not the tenant, not the ip).
const fn value_at(column: usize) -> usize {
    if column < TENANT {
        ID_AT + column
    } else if column < IP {
        ID_AT + column - 1
    } else {
        ID_AT + column + 1
    }
}

/// `inet`'s binary family of an IPv4 address (`PGSQL_AF_INET`).
const PGSQL_AF_INET: u8 = 2;

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
        record_columns()
    )
}

/// [`PgDialect::COLUMNS`] as the `COPY` selects them: without the tenant,
/// the ip as [`IP_VALUES`].
fn record_columns() -> String {
    PgDialect::COLUMNS.replacen("occurred_at, tenant, ", "occurred_at, ", 1).replacen(IP_COLUMN, IP_VALUES, 1)
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
            match tuple(&bytes[at..], tenant)? {
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

/// Parses the tuple at the start of `bytes`, a row of `tenant`'s chain.
fn tuple<'b>(bytes: &'b [u8], tenant: Option<&'b str>) -> Result<Tuple<'b>, sqlx::Error> {
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
    let mut row = Row { values, tenant, ipv4: [0; IPV4_LEN], ipv4_len: 0 };
    if let (None, Some(&[PGSQL_AF_INET, _, _, 4, a, b, c, d])) = (row.values[IP_TEXT_AT], row.values[INET_AT]) {
        row.ipv4_len = ipv4_text([a, b, c, d], &mut row.ipv4);
    }
    Ok(Tuple::Row(row, at))
}

/// One tuple's values (`None`: NULL), in binary send format, and what the
/// reader knows of the row beyond them: its tenant, and the text of its
/// IPv4 address (`ipv4_len` 0: none).
struct Row<'b> {
    values: [Option<&'b [u8]>; FIELDS],
    tenant: Option<&'b str>,
    ipv4: [u8; IPV4_LEN],
    ipv4_len: usize,
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

    /// The ip as [`IP_COLUMN`] reads it: the given text, else the text of
    /// the address; `None` for an address of another form than IPv4 or
    /// IPv6 with its text.
    fn ip(&self) -> Option<Option<&str>> {
        if self.values[IP_TEXT_AT].is_some() {
            return self.text_at(IP_TEXT_AT);
        }
        if self.values[INET_AT].is_none() {
            return Some(None);
        }
        if self.ipv4_len > 0 {
            return std::str::from_utf8(&self.ipv4[..self.ipv4_len]).ok().map(Some);
        }
        // IPv6: as the server prints it (an address of no family has
        // no text, and is read through sqlx).
        self.values[HOST_AT]?;
        self.text_at(HOST_AT)
    }
}

impl Fields for Row<'_> {
    fn text(&self, column: usize) -> Option<Option<&str>> {
        match column {
            TENANT => Some(self.tenant),
            IP => self.ip(),
            _ => self.text_at(value_at(column)),
        }
    }

    fn int(&self, column: usize) -> Option<Option<i64>> {
        self.int_at(value_at(column))
    }

    fn id(&self) -> Option<uuid::Uuid> {
        uuid::Uuid::from_slice(self.values[ID_AT]?).ok()
    }

    fn micros(&self) -> Option<i64> {
        let us = self.int_at(ID_AT + 1)??.checked_add(PG_EPOCH_US)?;
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
        let columns = PgDialect::COLUMNS.replace(IP_COLUMN, "ip");
        let names: Vec<&str> = columns.split(", ").map(|c| c.rsplit(' ').next().unwrap_or(c)).collect();
        assert_eq!(names, NAMES);
        // The `COPY`'s: the tenant left out, the ip as three values.
        let copied = record_columns();
        assert_eq!(CHAIN_ROW_PREFIX.split(", ").count() - 1, ID_AT);
        assert_eq!(ID_AT + copied.split(", ").count(), FIELDS);
        assert!(!copied.contains("tenant") && copied.contains(IP_VALUES) && !copied.contains(IP_COLUMN));
        for (column, name) in NAMES.iter().enumerate() {
            if column != TENANT && column != IP {
                let at = value_at(column) - ID_AT;
                assert!(copied.split(", ").nth(at).is_some_and(|c| c.ends_with(name)), "{name}");
            }
        }
    }

    /// A tuple of `FIELDS` values: each an 8-byte integer (its index), but
    /// for those given.
    fn tuple_bytes(given: &[(usize, Option<&[u8]>)]) -> Vec<u8> {
        let mut bytes = vec![0, FIELDS as u8];
        for i in 0..FIELDS {
            match given.iter().find(|(at, _)| *at == i) {
                Some((_, None)) => bytes.extend_from_slice(&(-1i32).to_be_bytes()),
                Some((_, Some(v))) => {
                    bytes.extend_from_slice(&(v.len() as i32).to_be_bytes());
                    bytes.extend_from_slice(v);
                }
                None => {
                    bytes.extend_from_slice(&8i32.to_be_bytes());
                    bytes.extend_from_slice(&(i as i64).to_be_bytes());
                }
            }
        }
        bytes
    }

    #[test]
    fn tuples_are_parsed_in_place_and_cut_ones_wait_for_more() {
        let bytes = tuple_bytes(&[(value_at(5), None), (IP_TEXT_AT, Some(b"not an ip"))]);
        let Ok(Tuple::Row(row, len)) = tuple(&bytes, Some("acme")) else { panic!("a whole tuple") };
        assert_eq!(len, bytes.len());
        assert_eq!(row.position(), Some(0));
        assert_eq!(row.int(20), Some(Some(value_at(20) as i64)));
        assert_eq!(row.text(5), Some(None));
        assert_eq!(row.text(TENANT), Some(Some("acme")));
        assert_eq!(row.text(IP), Some(Some("not an ip")));
        assert!(matches!(tuple(&bytes[..bytes.len() - 1], None), Ok(Tuple::Partial)));
        assert!(matches!(tuple(&(-1i16).to_be_bytes(), None), Ok(Tuple::End)));
        assert!(tuple(&[0, 3], None).is_err());
    }

    #[test]
    fn the_ip_is_its_text_or_its_address_as_host_prints_it() {
        let ip = |inet: Option<&[u8]>, host: Option<&[u8]>| {
            let bytes = tuple_bytes(&[(IP_TEXT_AT, None), (INET_AT, inet), (HOST_AT, host)]);
            let Ok(Tuple::Row(row, _)) = tuple(&bytes, None) else { panic!("a whole tuple") };
            row.text(IP).map(|ip| ip.map(str::to_owned))
        };
        assert_eq!(ip(None, None), Some(None));
        assert_eq!(ip(Some(&[2, 32, 0, 4, 203, 0, 113, 7]), None), Some(Some("203.0.113.7".into())));
        assert_eq!(ip(Some(&[2, 24, 0, 4, 0, 10, 255, 100]), None), Some(Some("0.10.255.100".into())));
        assert_eq!(
            ip(Some(&[3, 128, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]), Some(b"::1")),
            Some(Some("::1".into()))
        );
        // An address without its text is read through sqlx.
        assert_eq!(ip(Some(&[3, 128, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]), None), None);
        assert_eq!(ip(Some(&[2, 32, 0, 3, 1, 2, 3]), None), None);
    }
}
