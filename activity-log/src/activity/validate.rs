//! Validation of an [`Activity`]: limits, and the typed error that names the
//! offending field without echoing its value.

use super::Activity;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// Documented limits every activity is checked against when it is built or
/// logged. The same limits apply to every sink, so a record accepted here is
/// accepted by every store.
pub mod limits {
    /// Longest `activity_type`, in bytes.
    pub const MAX_TYPE_LEN: usize = 128;
    /// Longest identifier (tenant, target kind and id, actor id, request and
    /// trace ids, ip), in bytes.
    pub const MAX_ID_LEN: usize = 256;
    /// Longest display name (actor or target name), in bytes.
    pub const MAX_NAME_LEN: usize = 512;
    /// Longest free text (description, error), in bytes.
    pub const MAX_TEXT_LEN: usize = 8 * 1024;
    /// Longest user agent, in bytes.
    pub const MAX_USER_AGENT_LEN: usize = 1024;
    /// Most tags on one activity.
    pub const MAX_TAGS: usize = 64;
    /// Longest tag, and longest metadata or change key, in bytes.
    pub const MAX_KEY_LEN: usize = 128;
    /// Deepest nesting of arrays and objects inside `metadata` or `changes`
    /// (the top-level object is depth 1).
    pub const MAX_DEPTH: usize = 16;
    /// Largest `metadata` plus `changes`, in approximate serialised bytes.
    pub const MAX_DATA_BYTES: usize = 64 * 1024;
    /// Earliest accepted `occurred_at` year.
    pub const MIN_YEAR: i32 = 1970;
    /// Latest accepted `occurred_at` year.
    pub const MAX_YEAR: i32 = 9999;
}

use limits::*;

/// Why an activity was refused. It names the field, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// A required field is empty.
    #[error("activity field `{field}` must not be empty")]
    Empty {
        /// The field.
        field: String,
    },
    /// A string contains a NUL byte, which no store accepts.
    #[error("activity field `{field}` contains a NUL byte; remove it before logging")]
    NulByte {
        /// The field.
        field: String,
    },
    /// A string or the data is longer than its documented limit.
    #[error("activity field `{field}` is {len} bytes long; the limit is {max}")]
    TooLong {
        /// The field.
        field: String,
        /// Its length in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// `metadata` was given something other than a JSON object.
    #[error("activity field `{field}` must be a JSON object, but a JSON {found} was given")]
    NotAnObject {
        /// The field.
        field: String,
        /// The JSON kind that was given (`array`, `string`, ...).
        found: &'static str,
    },
    /// Arrays or objects nest deeper than [`limits::MAX_DEPTH`].
    #[error("activity field `{field}` nests deeper than {max} levels")]
    TooDeep {
        /// The field.
        field: String,
        /// The limit.
        max: usize,
    },
    /// A number is NaN or infinite, which JSON cannot carry.
    #[error("activity field `{field}` holds a non-finite number (NaN or infinity)")]
    NonFinite {
        /// The field.
        field: String,
    },
    /// Too many entries (tags).
    #[error("activity field `{field}` has {count} entries; the limit is {max}")]
    TooMany {
        /// The field.
        field: String,
        /// How many were given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A value could not be serialised to JSON.
    #[error("activity field `{field}` could not be serialised to JSON")]
    NotSerializable {
        /// The field.
        field: String,
    },
    /// `occurred_at` is outside the supported range.
    #[error("activity field `occurred_at` is outside the supported range (years {min} to {max})", min = MIN_YEAR, max = MAX_YEAR)]
    TimestampOutOfRange,
}

impl ValidationError {
    /// The field at fault, as named in the message (`target.id`,
    /// `metadata.card`, `occurred_at`).
    pub fn field(&self) -> &str {
        match self {
            Self::Empty { field }
            | Self::NulByte { field }
            | Self::TooLong { field, .. }
            | Self::NotAnObject { field, .. }
            | Self::TooDeep { field, .. }
            | Self::NonFinite { field }
            | Self::TooMany { field, .. }
            | Self::NotSerializable { field } => field,
            Self::TimestampOutOfRange => "occurred_at",
        }
    }
}

pub(crate) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn check_str(field: &str, s: &str, max: usize) -> Result<usize, ValidationError> {
    if s.len() > max {
        return Err(ValidationError::TooLong { field: field.to_owned(), len: s.len(), max });
    }
    if s.as_bytes().contains(&0) {
        return Err(ValidationError::NulByte { field: field.to_owned() });
    }
    Ok(s.len())
}

fn check_opt(field: &str, s: &Option<String>, max: usize) -> Result<usize, ValidationError> {
    s.as_deref().map_or(Ok(0), |s| check_str(field, s, max))
}

/// Walks a JSON value, checking depth, keys and strings; returns an
/// approximate serialised size.
fn check_value(field: &str, v: &Value, depth: usize) -> Result<usize, ValidationError> {
    if depth > MAX_DEPTH {
        return Err(ValidationError::TooDeep { field: field.to_owned(), max: MAX_DEPTH });
    }
    match v {
        Value::Null | Value::Bool(_) => Ok(5),
        Value::Number(_) => Ok(8),
        Value::String(s) => check_str(field, s, MAX_DATA_BYTES).map(|n| n + 2),
        Value::Array(items) => {
            let mut size = 2;
            for item in items {
                size += check_value(field, item, depth + 1)? + 1;
            }
            Ok(size)
        }
        Value::Object(map) => check_map(field, map, depth + 1),
    }
}

fn check_map(field: &str, map: &Map<String, Value>, depth: usize) -> Result<usize, ValidationError> {
    if depth > MAX_DEPTH {
        return Err(ValidationError::TooDeep { field: field.to_owned(), max: MAX_DEPTH });
    }
    let mut size = 2;
    for (key, value) in map {
        size += check_key(field, key)? + 4;
        size += check_value(field, value, depth)?;
    }
    Ok(size)
}

/// Checks a map key; the field is named `<field> (key)`, formatted only on
/// error (this runs for every key of every activity).
fn check_key(field: &str, key: &str) -> Result<usize, ValidationError> {
    check_str("", key, MAX_KEY_LEN).map_err(|e| match e {
        ValidationError::TooLong { len, max, .. } => {
            ValidationError::TooLong { field: format!("{field} (key)"), len, max }
        }
        _ => ValidationError::NulByte { field: format!("{field} (key)") },
    })
}

fn check_time(t: &DateTime<Utc>) -> Result<(), ValidationError> {
    // The seconds from 1970-01-01 (MIN_YEAR) to the end of 9999 (MAX_YEAR):
    // comparing them is cheaper than working out the year.
    const LAST_SECOND: i64 = 253_402_300_799;
    const _: () = assert!(MIN_YEAR == 1970 && MAX_YEAR == 9999);
    if (0..=LAST_SECOND).contains(&t.timestamp()) {
        Ok(())
    } else {
        Err(ValidationError::TimestampOutOfRange)
    }
}

/// Validates `a` and returns its approximate size in bytes (used to bound
/// the queue by memory).
pub(crate) fn validate(a: &Activity) -> Result<usize, ValidationError> {
    let mut size = 160;
    if a.activity_type.is_empty() {
        return Err(ValidationError::Empty { field: "activity_type".into() });
    }
    size += check_str("activity_type", &a.activity_type, MAX_TYPE_LEN)?;
    check_time(&a.occurred_at)?;
    size += check_opt("tenant", &a.tenant, MAX_ID_LEN)?;
    if let Some(t) = &a.target {
        if t.kind.is_empty() {
            return Err(ValidationError::Empty { field: "target.kind".into() });
        }
        size += check_str("target.kind", &t.kind, MAX_ID_LEN)?;
        size += check_opt("target.id", &t.id, MAX_ID_LEN)?;
        size += check_opt("target.name", &t.name, MAX_NAME_LEN)?;
    }
    if let Some(actor) = &a.actor {
        size += check_opt("actor.id", &actor.id, MAX_ID_LEN)?;
        size += check_opt("actor.name", &actor.name, MAX_NAME_LEN)?;
    }
    size += check_opt("error", &a.error, MAX_TEXT_LEN)?;
    size += check_opt("description", &a.description, MAX_TEXT_LEN)?;
    size += check_opt("ip", &a.ip, MAX_ID_LEN)?;
    size += check_opt("user_agent", &a.user_agent, MAX_USER_AGENT_LEN)?;
    size += check_opt("request_id", &a.request_id, MAX_ID_LEN)?;
    size += check_opt("trace_id", &a.trace_id, MAX_ID_LEN)?;
    if a.tags.len() > MAX_TAGS {
        return Err(ValidationError::TooMany { field: "tags".into(), count: a.tags.len(), max: MAX_TAGS });
    }
    for tag in &a.tags {
        size += check_str("tags", tag, MAX_KEY_LEN)? + 3;
    }
    let mut data = check_map("metadata", &a.metadata, 1)?;
    for (key, change) in &a.changes {
        data += check_key("changes", key)?;
        data += check_value("changes", &change.before, 2)?;
        data += check_value("changes", &change.after, 2)?;
    }
    if data > MAX_DATA_BYTES {
        return Err(ValidationError::TooLong { field: "metadata and changes".into(), len: data, max: MAX_DATA_BYTES });
    }
    Ok(size + data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, Duration, TimeZone};

    #[test]
    fn the_time_range_is_the_years_it_names_to_the_microsecond() {
        let first = Utc.with_ymd_and_hms(MIN_YEAR, 1, 1, 0, 0, 0).unwrap();
        let next_after_last = Utc.with_ymd_and_hms(MAX_YEAR + 1, 1, 1, 0, 0, 0).unwrap();
        let micro = Duration::microseconds(1);
        for (t, ok) in
            [(first, true), (first - micro, false), (next_after_last - micro, true), (next_after_last, false)]
        {
            assert_eq!(check_time(&t).is_ok(), ok, "{t}");
            assert_eq!((MIN_YEAR..=MAX_YEAR).contains(&t.year()), ok, "{t}");
        }
    }
}
