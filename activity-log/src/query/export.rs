//! Streaming exports: CSV, a JSON array, NDJSON.

use super::{ActivityFilter, ActivityStore, PageRequest, QueryError, MAX_PAGE_SIZE};
use crate::Activity;
use chrono::SecondsFormat;
use std::future::poll_fn;
use std::pin::Pin;
use tokio::io::AsyncWrite;

/// The format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExportFormat {
    /// Comma-separated values with a header row ([`CSV_COLUMNS`]); fields
    /// holding commas, quotes or line breaks are quoted (RFC 4180); JSON
    /// fields (metadata, changes, tags) hold compact JSON; an empty field is
    /// an absent value.
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

/// Appends `field` to `out`, quoted when it holds a comma, a quote or a
/// line break (quotes doubled, as RFC 4180 says).
pub fn push_csv_field(out: &mut String, field: &str) {
    if field.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

/// Appends one CSV record (with its `\r\n`) for `a` to `out`.
///
/// ```
/// use activity_log::query::export::csv_record;
/// use activity_log::Activity;
///
/// let a = Activity::new("chat_ended").description("said \"bye\", then left").build()?;
/// let mut line = String::new();
/// csv_record(&mut line, &a);
/// assert!(line.contains(r#""said ""bye"", then left""#));
/// # Ok::<(), activity_log::ValidationError>(())
/// ```
pub fn csv_record(out: &mut String, a: &Activity) {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let target = a.target.as_ref();
    let actor = a.actor.as_ref();
    let fields: [String; 22] = [
        a.id.to_string(),
        a.occurred_at.to_rfc3339_opts(SecondsFormat::Micros, true),
        opt(&a.tenant),
        a.activity_type.clone(),
        target.map(|t| t.kind.clone()).unwrap_or_default(),
        target.and_then(|t| t.id.clone()).unwrap_or_default(),
        target.and_then(|t| t.name.clone()).unwrap_or_default(),
        actor.map(|x| x.kind.as_str().to_owned()).unwrap_or_default(),
        actor.and_then(|x| x.id.clone()).unwrap_or_default(),
        actor.and_then(|x| x.name.clone()).unwrap_or_default(),
        a.outcome.as_str().to_owned(),
        opt(&a.error),
        a.severity.as_str().to_owned(),
        opt(&a.description),
        to_json(&a.metadata),
        to_json(&a.changes),
        opt(&a.ip),
        opt(&a.user_agent),
        opt(&a.request_id),
        opt(&a.trace_id),
        a.duration.map(|d| d.as_micros().to_string()).unwrap_or_default(),
        to_json(&a.tags),
    ];
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_csv_field(out, f);
    }
    out.push_str("\r\n");
}

/// Compact JSON; serialising plain JSON data cannot fail.
fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Writes all of `buf` to `out`.
async fn write_all(out: &mut (dyn AsyncWrite + Send + Unpin), mut buf: &[u8]) -> Result<(), QueryError> {
    while !buf.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut *out).poll_write(cx, buf)).await?;
        if n == 0 {
            return Err(std::io::Error::from(std::io::ErrorKind::WriteZero).into());
        }
        buf = &buf[n..];
    }
    Ok(())
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
    let mut buf = String::new();
    match format {
        ExportFormat::Csv => {
            buf.push_str(&CSV_COLUMNS.join(","));
            buf.push_str("\r\n");
        }
        ExportFormat::Json => buf.push('['),
        ExportFormat::Ndjson => {}
    }
    let mut page_request = PageRequest::first(MAX_PAGE_SIZE);
    let mut written = 0u64;
    loop {
        let page = store.query(filter, &page_request).await?;
        for a in &page.items {
            match format {
                ExportFormat::Csv => csv_record(&mut buf, a),
                ExportFormat::Json => {
                    buf.push_str(if written == 0 { "\n" } else { ",\n" });
                    buf.push_str(&serde_json::to_string(a)?);
                }
                ExportFormat::Ndjson => {
                    buf.push_str(&serde_json::to_string(a)?);
                    buf.push('\n');
                }
            }
            written += 1;
        }
        write_all(out, buf.as_bytes()).await?;
        buf.clear();
        match page.next_cursor {
            Some(cursor) => page_request = page_request.after(cursor),
            None => break,
        }
    }
    if format == ExportFormat::Json {
        write_all(out, if written == 0 { b"]\n" } else { b"\n]\n" }).await?;
    }
    poll_fn(|cx| Pin::new(&mut *out).poll_flush(cx)).await?;
    Ok(written)
}
