//! Reads: filters turned into SQL with bound parameters only, and rows
//! decoded back into activities.

use super::write::COLUMNS;
use crate::query::{ActivityFilter, MetadataValue, Order};
use crate::{Activity, Actor, ActorKind, Change, Outcome, Severity, Target};
use chrono::DateTime;
use serde_json::{Map, Value};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite};
use std::collections::BTreeMap;
use std::time::Duration;
use uuid::Uuid;

/// `SELECT <every column> FROM activities`.
pub(crate) fn select<'a>() -> QueryBuilder<'a, Sqlite> {
    let mut qb = QueryBuilder::new("SELECT ");
    qb.push(COLUMNS).push(" FROM activities");
    qb
}

/// Appends ` WHERE ...` for `filter`: every value is a bound parameter;
/// only fixed SQL text is pushed.
pub(crate) fn push_where<'a>(qb: &mut QueryBuilder<'a, Sqlite>, filter: &'a ActivityFilter) {
    qb.push(" WHERE 1 = 1");
    if let Some(t) = &filter.tenant {
        qb.push(" AND tenant = ").push_bind(t.as_str());
    }
    match filter.activity_types.as_slice() {
        [] => {}
        [one] => {
            qb.push(" AND activity_type = ").push_bind(one.as_str());
        }
        many => {
            qb.push(" AND activity_type IN (");
            let mut list = qb.separated(", ");
            for t in many {
                list.push_bind(t.as_str());
            }
            qb.push(")");
        }
    }
    if let Some(v) = &filter.target_kind {
        qb.push(" AND target_kind = ").push_bind(v.as_str());
    }
    if let Some(v) = &filter.target_id {
        qb.push(" AND target_id = ").push_bind(v.as_str());
    }
    if let Some(v) = &filter.actor_id {
        qb.push(" AND actor_id = ").push_bind(v.as_str());
    }
    if let Some(v) = filter.outcome {
        qb.push(" AND outcome = ").push_bind(v.as_str());
    }
    if let Some(v) = filter.severity {
        qb.push(" AND severity = ").push_bind(v.as_str());
    }
    if let Some(v) = &filter.request_id {
        qb.push(" AND request_id = ").push_bind(v.as_str());
    }
    if let Some(v) = filter.since {
        qb.push(" AND occurred_at >= ").push_bind(v.timestamp_micros());
    }
    if let Some(v) = filter.until {
        qb.push(" AND occurred_at < ").push_bind(v.timestamp_micros());
    }
    if let Some(v) = &filter.search {
        qb.push(" AND instr(description_folded, ").push_bind(v.to_lowercase()).push(") > 0");
    }
    for (key, value) in &filter.metadata {
        qb.push(" AND EXISTS (SELECT 1 FROM json_each(activities.metadata) AS m WHERE m.key = ")
            .push_bind(key.as_str());
        match value {
            MetadataValue::String(s) => {
                qb.push(" AND m.type = 'text' AND m.atom = ").push_bind(s.as_str());
            }
            MetadataValue::Integer(i) => {
                qb.push(" AND m.type IN ('integer', 'real') AND m.atom = ").push_bind(*i);
            }
            MetadataValue::Float(f) => {
                qb.push(" AND m.type IN ('integer', 'real') AND m.atom = ").push_bind(*f);
            }
            MetadataValue::Bool(true) => {
                qb.push(" AND m.type = 'true'");
            }
            MetadataValue::Bool(false) => {
                qb.push(" AND m.type = 'false'");
            }
            MetadataValue::Null => {
                qb.push(" AND m.type = 'null'");
            }
        }
        qb.push(")");
    }
}

/// ` ORDER BY ...` for `order` (fixed text per enum variant).
pub(crate) fn order_by(order: Order) -> &'static str {
    match order {
        Order::NewestFirst => " ORDER BY occurred_at DESC, id DESC",
        Order::OldestFirst => " ORDER BY occurred_at ASC, id ASC",
    }
}

/// A decoding failure: the file was written by something else.
fn corrupt(what: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("activity row has an invalid `{what}`").into())
}

fn json_or_default<T: serde::de::DeserializeOwned + Default>(row: &SqliteRow, col: &str) -> Result<T, sqlx::Error> {
    match row.try_get::<Option<&str>, _>(col)? {
        None => Ok(T::default()),
        Some(text) => serde_json::from_str(text).map_err(|_| corrupt(col)),
    }
}

/// Decodes a row selected with [`select`].
pub(crate) fn decode(row: &SqliteRow) -> Result<Activity, sqlx::Error> {
    let s = |col: &str| row.try_get::<Option<String>, _>(col);
    let id = Uuid::from_slice(row.try_get::<&[u8], _>("id")?).map_err(|_| corrupt("id"))?;
    let occurred_at =
        DateTime::from_timestamp_micros(row.try_get::<i64, _>("occurred_at")?).ok_or_else(|| corrupt("occurred_at"))?;
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
    let outcome = Outcome::parse(row.try_get("outcome")?).ok_or_else(|| corrupt("outcome"))?;
    let severity = Severity::parse(row.try_get("severity")?).ok_or_else(|| corrupt("severity"))?;
    let duration = row.try_get::<Option<i64>, _>("duration_us")?.map(|us| Duration::from_micros(us.max(0) as u64));
    let metadata: Map<String, Value> = json_or_default(row, "metadata")?;
    let changes: BTreeMap<String, Change> = json_or_default(row, "changes")?;
    let tags: Vec<String> = json_or_default(row, "tags")?;
    Ok(Activity {
        id,
        occurred_at,
        tenant: s("tenant")?,
        activity_type: row.try_get("activity_type")?,
        target,
        actor,
        outcome,
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
