//! Rows decoded back into activities, identically on every store: a value
//! this crate could not have written is a decode error naming the column
//! (never echoing the value).

use super::{Backend, Dialect, RowOf};
use crate::{Activity, Actor, ActorKind, Change, Outcome, Severity, Target};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// A decoding failure: the row was written by something else.
pub(crate) fn corrupt(column: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("activity row has an invalid `{column}`").into())
}

/// Parses a stored outcome; anything else is corrupt (the stats read the
/// same way, so a row can never count as a success yet fail to load).
pub(crate) fn outcome(text: &str) -> Result<Outcome, sqlx::Error> {
    Outcome::parse(text).ok_or_else(|| corrupt("outcome"))
}

fn required<D: Dialect>(row: &RowOf<D>, column: &str) -> Result<String, sqlx::Error> {
    D::Db::text(row, column)?.ok_or_else(|| corrupt(column))
}

fn json_or_default<D: Dialect, T: serde::de::DeserializeOwned + Default>(
    row: &RowOf<D>,
    column: &str,
) -> Result<T, sqlx::Error> {
    match D::Db::text(row, column)? {
        None => Ok(T::default()),
        Some(text) => serde_json::from_str(&text).map_err(|_| corrupt(column)),
    }
}

/// Decodes a row selected with [`Dialect::COLUMNS`].
pub(crate) fn activity<D: Dialect>(row: &RowOf<D>) -> Result<Activity, sqlx::Error> {
    let s = |column: &str| D::Db::text(row, column);
    let target = match s("target_kind")? {
        Some(kind) => Some(Target { kind, id: s("target_id")?, name: s("target_name")? }),
        None => None,
    };
    let actor = match s("actor_kind")? {
        Some(kind) => Some(Actor {
            kind: ActorKind::parse(&kind).ok_or_else(|| corrupt("actor_kind"))?,
            id: s("actor_id")?,
            name: s("actor_name")?,
        }),
        None => None,
    };
    let severity = Severity::parse(&required::<D>(row, "severity")?).ok_or_else(|| corrupt("severity"))?;
    let duration = D::Db::int(row, "duration_us")?.map(|us| Duration::from_micros(us.max(0) as u64));
    let metadata: Map<String, Value> = json_or_default::<D, _>(row, "metadata")?;
    let changes: BTreeMap<String, Change> = json_or_default::<D, _>(row, "changes")?;
    let tags: Vec<String> = json_or_default::<D, _>(row, "tags")?;
    Ok(Activity {
        id: D::id(row)?,
        occurred_at: D::time(row, "occurred_at")?,
        tenant: s("tenant")?,
        activity_type: required::<D>(row, "activity_type")?,
        target,
        actor,
        outcome: outcome(&required::<D>(row, "outcome")?)?,
        error: s("error")?,
        severity,
        description: s("description")?,
        metadata,
        changes,
        ip: s("ip")?,
        user_agent: s("user_agent")?,
        request_id: s("request_id")?,
        trace_id: s("trace_id")?,
        duration,
        tags,
    })
}
