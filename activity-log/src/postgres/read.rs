//! Reads: filters turned into SQL with bound parameters only (each served
//! by an index on tenant and time), and rows decoded back into activities.

use crate::query::{ActivityFilter, MetadataValue, Order};
use crate::{Activity, Actor, ActorKind, Change, Outcome, Severity, Target};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sqlx::postgres::PgRow;
use sqlx::{Postgres, QueryBuilder, Row};
use std::collections::BTreeMap;
use std::time::Duration;
use uuid::Uuid;

/// Every column, as decoded by [`decode`].
const COLUMNS: &str = "id, occurred_at, tenant, activity_type, target_kind, target_id, target_name, actor_kind, \
     actor_id, actor_name, outcome, error, severity, description, metadata::text AS metadata, \
     changes::text AS changes, COALESCE(ip_text, host(ip)) AS ip, user_agent, request_id, trace_id, duration_us, \
     tags::text AS tags";

/// `SELECT <every column> FROM activities`.
pub(crate) fn select<'a>() -> QueryBuilder<'a, Postgres> {
    let mut qb = QueryBuilder::new("SELECT ");
    qb.push(COLUMNS).push(" FROM activities");
    qb
}

/// Appends ` WHERE ...` for `filter`: every value is a bound parameter;
/// only fixed SQL text is pushed.
pub(crate) fn push_where<'a>(qb: &mut QueryBuilder<'a, Postgres>, filter: &'a ActivityFilter) {
    qb.push(" WHERE TRUE");
    if let Some(t) = &filter.tenant {
        qb.push(" AND tenant = ").push_bind(t.as_str());
    }
    match filter.activity_types.as_slice() {
        [] => {}
        [one] => {
            qb.push(" AND activity_type = ").push_bind(one.as_str());
        }
        many => {
            qb.push(" AND activity_type = ANY(").push_bind(many).push(")");
        }
    }
    let equal = |qb: &mut QueryBuilder<'a, Postgres>, column: &str, value: Option<&'a str>| {
        if let Some(v) = value {
            qb.push(" AND ").push(column).push(" = ").push_bind(v);
        }
    };
    equal(qb, "target_kind", filter.target_kind.as_deref());
    equal(qb, "target_id", filter.target_id.as_deref());
    equal(qb, "actor_id", filter.actor_id.as_deref());
    equal(qb, "outcome", filter.outcome.map(Outcome::as_str));
    equal(qb, "severity", filter.severity.map(Severity::as_str));
    equal(qb, "request_id", filter.request_id.as_deref());
    if let Some(v) = filter.since {
        qb.push(" AND occurred_at >= ").push_bind(v);
    }
    if let Some(v) = filter.until {
        qb.push(" AND occurred_at < ").push_bind(v);
    }
    if let Some(v) = &filter.search {
        // strpos: a literal substring, no LIKE wildcards.
        qb.push(" AND strpos(description_folded, ").push_bind(v.to_lowercase()).push(") > 0");
    }
    for (key, value) in &filter.metadata {
        match containment(key, value) {
            Some(json) => {
                qb.push(" AND metadata @> ").push_bind(json).push("::jsonb");
            }
            None => {
                qb.push(" AND FALSE");
            }
        }
    }
}

/// The JSON object `{key: value}` that a matching metadata contains, or
/// `None` when nothing can match (a NaN or infinite number). jsonb compares
/// numbers by value, so `3` matches a stored `3.0`.
fn containment(key: &str, value: &MetadataValue) -> Option<String> {
    let v = match value {
        MetadataValue::String(s) => Value::String(s.clone()),
        MetadataValue::Integer(i) => Value::from(*i),
        MetadataValue::Float(f) => Value::Number(serde_json::Number::from_f64(*f)?),
        MetadataValue::Bool(b) => Value::Bool(*b),
        MetadataValue::Null => Value::Null,
        #[allow(unreachable_patterns)]
        _ => return None,
    };
    let mut object = Map::new();
    object.insert(key.to_owned(), v);
    serde_json::to_string(&Value::Object(object)).ok()
}

/// ` ORDER BY ...` for `order` (fixed text per enum variant).
pub(crate) fn order_by(order: Order) -> &'static str {
    match order {
        Order::NewestFirst => " ORDER BY occurred_at DESC, id DESC",
        Order::OldestFirst => " ORDER BY occurred_at ASC, id ASC",
    }
}

/// The keyset condition after a cursor at (`at`, `id`).
pub(crate) fn push_after(qb: &mut QueryBuilder<'_, Postgres>, order: Order, at: DateTime<Utc>, id: Uuid) {
    let op = match order {
        Order::NewestFirst => " AND (occurred_at, id) < (",
        Order::OldestFirst => " AND (occurred_at, id) > (",
    };
    qb.push(op).push_bind(at).push(", ").push_bind(id).push(")");
}

/// A decoding failure: the table was written by something else.
fn corrupt(what: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("activity row has an invalid `{what}`").into())
}

fn json_or_default<T: serde::de::DeserializeOwned + Default>(row: &PgRow, col: &str) -> Result<T, sqlx::Error> {
    match row.try_get::<Option<&str>, _>(col)? {
        None => Ok(T::default()),
        Some(text) => serde_json::from_str(text).map_err(|_| corrupt(col)),
    }
}

/// Decodes a row selected with [`select`].
pub(crate) fn decode(row: &PgRow) -> Result<Activity, sqlx::Error> {
    let s = |col: &str| row.try_get::<Option<String>, _>(col);
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
        id: row.try_get("id")?,
        occurred_at: row.try_get("occurred_at")?,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_filters_become_containment_objects() {
        assert_eq!(containment("queue", &"sales".into()).as_deref(), Some(r#"{"queue":"sales"}"#));
        assert_eq!(containment("n", &MetadataValue::Integer(3)).as_deref(), Some(r#"{"n":3}"#));
        assert_eq!(containment("n", &MetadataValue::Float(2.5)).as_deref(), Some(r#"{"n":2.5}"#));
        assert_eq!(containment("x", &MetadataValue::Null).as_deref(), Some(r#"{"x":null}"#));
        assert_eq!(containment("n", &MetadataValue::Float(f64::NAN)), None);
    }
}
