//! Streaming exports: CSV, a JSON array, NDJSON.

use super::{ActivityFilter, ActivityStore, PageRequest, QueryError, MAX_PAGE_SIZE};
use crate::Activity;
use chrono::SecondsFormat;
use std::borrow::Cow;
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// The format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExportFormat {
    /// Comma-separated values (RFC 4180, written by the `csv` crate) with a
    /// header row ([`CSV_COLUMNS`]) and `\r\n` line ends: fields holding
    /// commas, quotes or line breaks are quoted, quotes doubled; JSON fields
    /// (metadata, changes, tags) hold compact JSON; an empty field is an
    /// absent value.
    ///
    /// **Formula injection.** A text field (tenant, type, target, actor id
    /// and name, error, description, ip, user agent, request and trace id)
    /// that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is
    /// written with a `'` in front (`=HYPERLINK(..)` becomes `'=HYPERLINK(..)`),
    /// so that a spreadsheet opening the file shows it as text instead of
    /// running it. A field that is a plain decimal number (`-42`, `+1.5`) is
    /// written as it is, and so are the columns that cannot begin with such a
    /// character (id, time, outcome, severity, actor kind, the JSON columns,
    /// and `duration_us`, a non-negative number). A program reading the CSV
    /// back drops a leading `'` before those characters in the text columns.
    /// JSON and NDJSON exports are never changed.
    ///
    /// ```
    /// use activity_log::query::{export, ActivityFilter, ExportFormat};
    /// use activity_log::{Activity, MemorySink, Sink};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let store = MemorySink::new();
    /// let a = Activity::new("chat_ended").description(r#"=1+1, said "bye""#).target("call", -42).build()?;
    /// store.write_batch(&[a]).await?;
    ///
    /// let mut out: Vec<u8> = Vec::new();
    /// export::export_pages(&store, &ActivityFilter::new(), ExportFormat::Csv, &mut out).await?;
    /// let text = String::from_utf8(out)?;
    /// assert!(text.contains(r#","'=1+1, said ""bye""","#)); // quoted by RFC 4180, neutralised
    /// assert!(text.contains(",call,-42,")); // a number stays a number
    /// # Ok(()) }
    /// ```
    Csv,
    /// One JSON array of activities, in their stable JSON shape.
    Json,
    /// Newline-delimited JSON: one activity per line.
    Ndjson,
}

impl ExportFormat {
    /// The MIME type to serve the export with.
    pub const fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Json => "application/json",
            Self::Ndjson => "application/x-ndjson",
        }
    }

    /// The usual file extension.
    pub const fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Json => "json",
            Self::Ndjson => "ndjson",
        }
    }
}

/// The columns of a CSV export, in order.
pub const CSV_COLUMNS: [&str; 22] = [
    "id",
    "occurred_at",
    "tenant",
    "activity_type",
    "target_kind",
    "target_id",
    "target_name",
    "actor_kind",
    "actor_id",
    "actor_name",
    "outcome",
    "error",
    "severity",
    "description",
    "metadata",
    "changes",
    "ip",
    "user_agent",
    "request_id",
    "trace_id",
    "duration_us",
    "tags",
];

/// The string of a CSV cell, made safe to open in a spreadsheet: a cell
/// that begins with `=`, `+`, `-`, `@`, a tab or a carriage return would be
/// read as a formula (CSV injection), so it gets a `'` in front. A cell
/// that is a plain decimal number (`-42`, `+1.5`) is left alone: a
/// spreadsheet reads it as the number it is.
fn neutralise_formula(cell: &str) -> Cow<'_, str> {
    let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && !is_plain_number(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// `[+-]digits[.digits]`.
fn is_plain_number(cell: &str) -> bool {
    let unsigned = cell.strip_prefix(['+', '-']).unwrap_or(cell);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, "0"));
    !whole.is_empty()
        && !fraction.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

/// The cells of one CSV record for `a`, in the order of [`CSV_COLUMNS`].
/// Text cells are passed through [`neutralise_formula`]; the id, time,
/// enumerations, duration and JSON cells cannot begin with a formula
/// character and are written as they are.
fn csv_record(a: &Activity) -> [Cow<'_, str>; 22] {
    fn text(v: Option<&String>) -> Cow<'_, str> {
        v.map_or(Cow::Borrowed(""), |v| neutralise_formula(v))
    }
    let target = a.target.as_ref();
    let actor = a.actor.as_ref();
    [
        Cow::Owned(a.id.to_string()),
        Cow::Owned(a.occurred_at.to_rfc3339_opts(SecondsFormat::Micros, true)),
        text(a.tenant.as_ref()),
        neutralise_formula(&a.activity_type),
        text(target.map(|t| &t.kind)),
        text(target.and_then(|t| t.id.as_ref())),
        text(target.and_then(|t| t.name.as_ref())),
        Cow::Borrowed(actor.map(|x| x.kind.as_str()).unwrap_or_default()),
        text(actor.and_then(|x| x.id.as_ref())),
        text(actor.and_then(|x| x.name.as_ref())),
        Cow::Borrowed(a.outcome.as_str()),
        text(a.error.as_ref()),
        Cow::Borrowed(a.severity.as_str()),
        text(a.description.as_ref()),
        Cow::Owned(to_json(&a.metadata)),
        Cow::Owned(to_json(&a.changes)),
        text(a.ip.as_ref()),
        text(a.user_agent.as_ref()),
        text(a.request_id.as_ref()),
        text(a.trace_id.as_ref()),
        a.duration.map_or(Cow::Borrowed(""), |d| Cow::Owned(d.as_micros().to_string())),
        Cow::Owned(to_json(&a.tags)),
    ]
}

/// Compact JSON; serialising plain JSON data cannot fail.
fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Puts together one page of an export in `buf`: CSV records through the
/// `csv` crate, or JSON/NDJSON text. `written` counts the activities of
/// the earlier pages.
fn push_page(format: ExportFormat, items: &[Activity], written: u64, buf: &mut Vec<u8>) -> Result<(), QueryError> {
    match format {
        ExportFormat::Csv => {
            let mut w = csv_writer(buf);
            for a in items {
                w.write_record(csv_record(a).iter().map(|c| c.as_bytes())).map_err(csv_error)?;
            }
            w.flush()?;
        }
        ExportFormat::Json => {
            for (i, a) in items.iter().enumerate() {
                buf.extend_from_slice(if written == 0 && i == 0 { b"\n" } else { b",\n" });
                serde_json::to_writer(&mut *buf, a)?;
            }
        }
        ExportFormat::Ndjson => {
            for a in items {
                serde_json::to_writer(&mut *buf, a)?;
                buf.push(b'\n');
            }
        }
    }
    Ok(())
}

/// RFC 4180: quoted only where needed, `\r\n` line ends.
fn csv_writer(buf: &mut Vec<u8>) -> csv::Writer<&mut Vec<u8>> {
    csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(buf)
}

/// A CSV error while writing into memory can only be an I/O error of the
/// buffer, which never fails; mapped for completeness without its text.
fn csv_error(e: csv::Error) -> QueryError {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => e.into(),
        _ => std::io::Error::other("the CSV writer refused a record").into(),
    }
}

/// Streams every activity matching `filter` from `store` to `out`, one
/// keyset page at a time, so memory stays constant however many rows there
/// are; returns how many were written. This is the default
/// [`ActivityStore::export`].
///
/// ```
/// use activity_log::query::{export, ActivityFilter, ExportFormat};
/// use activity_log::{Activity, MemorySink, Sink};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = MemorySink::new();
/// store.write_batch(&[Activity::new("agent_created").tenant("acme").build()?]).await?;
///
/// let mut out: Vec<u8> = Vec::new();
/// let n = export::export_pages(&store, &ActivityFilter::new().tenant("acme"), ExportFormat::Ndjson, &mut out).await?;
/// assert_eq!(n, 1);
/// assert_eq!(String::from_utf8(out)?.lines().count(), 1);
/// # Ok(()) }
/// ```
pub async fn export_pages<S: ActivityStore + ?Sized>(
    store: &S,
    filter: &ActivityFilter,
    format: ExportFormat,
    out: &mut (dyn AsyncWrite + Send + Unpin),
) -> Result<u64, QueryError> {
    let mut buf = Vec::new();
    match format {
        ExportFormat::Csv => {
            let mut w = csv_writer(&mut buf);
            w.write_record(CSV_COLUMNS).map_err(csv_error)?;
            w.flush()?;
        }
        ExportFormat::Json => buf.push(b'['),
        ExportFormat::Ndjson => {}
    }
    let mut request = PageRequest::first(MAX_PAGE_SIZE);
    let mut page = store.query(filter, &request).await?;
    let mut written = 0u64;
    loop {
        // The next page is asked for before this one is encoded and
        // written, so the store reads it meanwhile.
        let next = page.next_cursor.take().map(|cursor| request.after(cursor));
        let encode_and_write = async {
            push_page(format, &page.items, written, &mut buf)?;
            out.write_all(&buf).await?;
            buf.clear();
            Ok::<_, QueryError>(page.items.len() as u64)
        };
        let Some(next) = next else {
            written += encode_and_write.await?;
            break;
        };
        let (read, done) = tokio::join!(store.query(filter, &next), encode_and_write);
        written += done?;
        page = read?;
        request = next;
    }
    if format == ExportFormat::Json {
        out.write_all(if written == 0 { b"]\n" } else { b"\n]\n" }).await?;
    }
    out.flush().await?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Actor, MemorySink, Sink};

    async fn csv_of(activities: &[Activity]) -> Vec<csv::StringRecord> {
        let store = MemorySink::new();
        store.write_batch(activities).await.unwrap();
        let mut out = Vec::new();
        let filter = ActivityFilter::new().order(super::super::Order::OldestFirst);
        let n = export_pages(&store, &filter, ExportFormat::Csv, &mut out).await.unwrap();
        assert_eq!(n, activities.len() as u64);
        assert!(out.ends_with(b"\r\n"));
        let mut reader = csv::Reader::from_reader(out.as_slice());
        assert_eq!(reader.headers().unwrap().iter().collect::<Vec<_>>(), CSV_COLUMNS);
        reader.records().map(|r| r.unwrap()).collect()
    }

    fn col(name: &str) -> usize {
        CSV_COLUMNS.iter().position(|c| *c == name).unwrap()
    }

    #[test]
    fn formula_characters_get_a_quote_in_front() {
        for risky in
            ["=1+1", "+1 555 0100", "-2+3+cmd|' /C calc'!A0", "@SUM(A1:A2)", "\tx", "\rx", "=", "-", "+.5", "-1e3"]
        {
            assert_eq!(neutralise_formula(risky), format!("'{risky}"), "{risky:?}");
        }
        for safe in ["-42", "+1.5", "-0.25", "7", "plain", "a=b", " =x", "'=already", ""] {
            assert_eq!(neutralise_formula(safe), safe, "{safe:?}");
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn every_text_column_is_neutralised_and_numbers_are_not() {
        let a = Activity::new("=type")
            .tenant("+tenant")
            .target("-kind", "@id")
            .target_name("\tname")
            .actor(Actor::user("=actor").with_name("\rname"))
            .error("=err")
            .description("=HYPERLINK(\"http://evil\", \"click, \"\"now\"\"\")")
            .ip("@ip")
            .user_agent("-ua")
            .request_id("=req")
            .trace_id("+trace")
            .meta("formula", "=1+1")
            .duration(std::time::Duration::from_micros(1250))
            .build()
            .unwrap();
        let b = Activity::new("call_created").target("call", -42).build().unwrap();
        let rows = csv_of(&[a, b]).await;
        let r = &rows[0];
        for (column, value) in [
            ("activity_type", "'=type"),
            ("tenant", "'+tenant"),
            ("target_kind", "'-kind"),
            ("target_id", "'@id"),
            ("target_name", "'\tname"),
            ("actor_id", "'=actor"),
            ("actor_name", "'\rname"),
            ("error", "'=err"),
            ("description", "'=HYPERLINK(\"http://evil\", \"click, \"\"now\"\"\")"),
            ("ip", "'@ip"),
            ("user_agent", "'-ua"),
            ("request_id", "'=req"),
            ("trace_id", "'+trace"),
            ("duration_us", "1250"),
            ("metadata", r#"{"formula":"=1+1"}"#),
        ] {
            assert_eq!(&r[col(column)], value, "{column}");
        }
        assert_eq!(&rows[1][col("target_id")], "-42", "a number stays a number");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn quoting_by_rfc_4180_and_streamed_across_pages() {
        let tricky = "said \"bye\", then\r\nleft";
        let many: Vec<Activity> = (0..(MAX_PAGE_SIZE as u64 + 3))
            .map(|i| Activity::new("chat_ended").target("chat", i).description(tricky).build().unwrap())
            .collect();
        let rows = csv_of(&many).await;
        assert_eq!(rows.len(), many.len());
        assert!(rows.iter().all(|r| &r[col("description")] == tricky));
    }
}
