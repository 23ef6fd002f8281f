//! How an activity is stored in a stream entry: field `id` (the UUID, for
//! people reading the stream) and field `a` (the activity as JSON, the
//! same encoding as the spool).

use crate::Activity;
use ::redis::streams::StreamId;
use ::redis::Value;

/// The entry field holding the activity's JSON.
pub(crate) const ACTIVITY_FIELD: &str = "a";
/// The entry field holding the activity's id.
pub(crate) const ID_FIELD: &str = "id";

/// The JSON of `activity` (serialising an `Activity` cannot fail: every
/// field is plain data and maps have string keys).
pub(crate) fn encode(activity: &Activity) -> Vec<u8> {
    serde_json::to_vec(activity).unwrap_or_default()
}

/// The raw bytes of the activity field, if present.
pub(crate) fn payload(entry: &StreamId) -> Option<&[u8]> {
    match entry.map.get(ACTIVITY_FIELD)? {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

/// Why an entry holds no activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Undecodable {
    /// No `a` field.
    Missing,
    /// The field is not an activity's JSON; the parse error (no data).
    Invalid(String),
}

impl std::fmt::Display for Undecodable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing => write!(f, "the entry has no `{ACTIVITY_FIELD}` field"),
            Self::Invalid(e) => write!(f, "the `{ACTIVITY_FIELD}` field is not an activity: {e}"),
        }
    }
}

/// The activity an entry holds.
pub(crate) fn decode(entry: &StreamId) -> Result<Activity, Undecodable> {
    let bytes = payload(entry).ok_or(Undecodable::Missing)?;
    // The error's category and position only: its text may quote data.
    serde_json::from_slice(bytes)
        .map_err(|e| Undecodable::Invalid(format!("{:?} at line {} column {}", e.classify(), e.line(), e.column())))
}
