//! Batch writes: one `INSERT ... SELECT FROM UNNEST(...)` per batch (one
//! round trip, one statement prepared once per connection), idempotent on
//! the primary key (occurred_at, id).
//!
//! A plain insert is tried first: speculative insertion (`ON CONFLICT`)
//! costs the server extra work per row, and replays are rare. If any row
//! already exists the whole statement fails with a unique violation,
//! writing nothing, and the batch is written again with
//! `ON CONFLICT DO NOTHING`.

use crate::integrity::{ChainHash, ChainHead};
use crate::sql::chain::ChainKey;
use crate::sql::write::{json, micros};
use crate::Activity;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use std::collections::BTreeMap;
use std::net::IpAddr;
use uuid::Uuid;

/// The insert: every column arrives as one array parameter.
macro_rules! insert_sql {
    ($tail:literal) => {
        concat!("INSERT INTO activities (id, occurred_at, tenant, activity_type, target_kind, \
     target_id, target_name, actor_kind, actor_id, actor_name, outcome, error, severity, description, \
     description_folded, metadata, changes, ip, ip_text, user_agent, request_id, trace_id, duration_us, tags, chain_seq, chain_hash) \
     SELECT u.id, u.occurred_at, u.tenant, u.activity_type, u.target_kind, u.target_id, u.target_name, \
     u.actor_kind, u.actor_id, u.actor_name, u.outcome, u.error, u.severity, u.description, u.description_folded, \
     u.metadata::jsonb, u.changes::jsonb, \
     CASE WHEN u.ip_ok THEN u.ip::inet END, \
     CASE WHEN u.ip_ok AND host(u.ip::inet) = u.ip THEN NULL ELSE u.ip END, \
     u.user_agent, u.request_id, u.trace_id, u.duration_us, u.tags::jsonb, u.chain_seq, u.chain_hash \
     FROM UNNEST($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], \
     $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], \
     $16::text[], $17::text[], $18::text[], $19::bool[], $20::text[], $21::text[], $22::text[], $23::int8[], \
     $24::text[], $25::int8[], $26::bytea[]) AS u(id, occurred_at, tenant, activity_type, target_kind, target_id, \
     target_name, actor_kind, actor_id, actor_name, outcome, error, severity, description, description_folded, \
     metadata, changes, ip, ip_ok, user_agent, request_id, trace_id, duration_us, tags, chain_seq, chain_hash)", $tail)
    };
}

/// The fast path: fails as a whole if a row exists.
const INSERT: &str = insert_sql!("");

/// The replay path: skips rows that exist.
const INSERT_OR_SKIP: &str = insert_sql!(" ON CONFLICT DO NOTHING");

/// The chained fast path: the batch's chain heads (locked by the caller)
/// advanced in the same statement (one round trip fewer while they are
/// held); fails as a whole, heads included, if a row exists.
const INSERT_CHAINED: &str = concat!(
    "WITH heads AS (UPDATE activity_chains AS c SET head_position = h.position, head_hash = h.hash \
     FROM UNNEST($27::bool[], $28::text[], $29::int8[], $30::bytea[]) AS h(tenanted, tenant, position, hash) \
     WHERE c.tenanted = h.tenanted AND c.tenant = h.tenant) ",
    insert_sql!("")
);

/// A batch as column arrays, ready to bind.
#[derive(Default)]
pub(crate) struct Columns<'a> {
    id: Vec<Uuid>,
    occurred_at: Vec<DateTime<Utc>>,
    tenant: Vec<Option<&'a str>>,
    activity_type: Vec<&'a str>,
    target_kind: Vec<Option<&'a str>>,
    target_id: Vec<Option<&'a str>>,
    target_name: Vec<Option<&'a str>>,
    actor_kind: Vec<Option<&'static str>>,
    actor_id: Vec<Option<&'a str>>,
    actor_name: Vec<Option<&'a str>>,
    outcome: Vec<&'static str>,
    error: Vec<Option<&'a str>>,
    severity: Vec<&'static str>,
    description: Vec<Option<&'a str>>,
    description_folded: Vec<Option<String>>,
    metadata: Vec<Option<String>>,
    changes: Vec<Option<String>>,
    ip: Vec<Option<&'a str>>,
    ip_ok: Vec<bool>,
    user_agent: Vec<Option<&'a str>>,
    request_id: Vec<Option<&'a str>>,
    trace_id: Vec<Option<&'a str>>,
    duration_us: Vec<Option<i64>>,
    tags: Vec<Option<String>>,
    chain_seq: Vec<Option<i64>>,
    chain_hash: Vec<Option<Vec<u8>>>,
}

impl<'a> Columns<'a> {
    pub(crate) fn new(batch: impl ExactSizeIterator<Item = &'a Activity>) -> Self {
        let mut c = Self::default();
        let n = batch.len();
        macro_rules! reserve {
            ($($f:ident),*) => { $(c.$f.reserve_exact(n);)* };
        }
        reserve!(id, occurred_at, tenant, activity_type, target_kind, target_id, target_name, actor_kind, actor_id);
        reserve!(actor_name, outcome, error, severity, description, description_folded, metadata, changes, ip, ip_ok);
        reserve!(user_agent, request_id, trace_id, duration_us, tags);
        for a in batch {
            let target = a.target.as_ref();
            let actor = a.actor.as_ref();
            c.id.push(a.id);
            c.occurred_at.push(a.occurred_at);
            c.tenant.push(a.tenant.as_deref());
            c.activity_type.push(&a.activity_type);
            c.target_kind.push(target.map(|t| t.kind.as_str()));
            c.target_id.push(target.and_then(|t| t.id.as_deref()));
            c.target_name.push(target.and_then(|t| t.name.as_deref()));
            c.actor_kind.push(actor.map(|x| x.kind.as_str()));
            c.actor_id.push(actor.and_then(|x| x.id.as_deref()));
            c.actor_name.push(actor.and_then(|x| x.name.as_deref()));
            c.outcome.push(a.outcome.as_str());
            c.error.push(a.error.as_deref());
            c.severity.push(a.severity.as_str());
            c.description.push(a.description.as_deref());
            c.description_folded.push(a.description.as_deref().map(str::to_lowercase));
            c.metadata.push(json(a.metadata.is_empty(), &a.metadata));
            c.changes.push(json(a.changes.is_empty(), &a.changes));
            c.ip.push(a.ip.as_deref());
            c.ip_ok.push(a.ip.as_deref().is_some_and(|ip| ip.parse::<IpAddr>().is_ok()));
            c.user_agent.push(a.user_agent.as_deref());
            c.request_id.push(a.request_id.as_deref());
            c.trace_id.push(a.trace_id.as_deref());
            c.duration_us.push(a.duration.map(micros));
            c.tags.push(json(a.tags.is_empty(), &a.tags));
            c.chain_seq.push(None);
            c.chain_hash.push(None);
        }
        c
    }

    /// Sets the chain position and hash of every row, in order.
    pub(crate) fn set_chain(&mut self, links: Vec<(i64, ChainHash)>) {
        self.chain_seq = links.iter().map(|l| Some(l.0)).collect();
        self.chain_hash = links.iter().map(|l| Some(l.1 .0.to_vec())).collect();
    }

    /// Sets the chain position and hash of every row, in order.
    pub(crate) fn with_chain(mut self, links: Vec<(i64, ChainHash)>) -> Self {
        self.set_chain(links);
        self
    }

    /// Inserts the rows inside the caller's transaction, failing as a whole
    /// (unique violation) if one exists; returns how many were written.
    pub(crate) async fn insert_in(&self, conn: &mut PgConnection) -> Result<u64, sqlx::Error> {
        self.insert_with(conn, INSERT).await
    }

    /// Inserts the rows on one connection of `pool` (one implicit
    /// transaction); returns how many were new.
    pub(crate) async fn insert(&self, pool: &PgPool) -> Result<u64, sqlx::Error> {
        let mut conn = pool.acquire().await?;
        match self.insert_with(&mut conn, INSERT).await {
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("23505") => {
                self.insert_with(&mut conn, INSERT_OR_SKIP).await
            }
            other => other,
        }
    }

    /// Inserts the rows inside the caller's transaction and stores `heads`
    /// (of chains whose rows exist and the caller locked) as the new chain
    /// heads, in one statement; fails as a whole (unique violation) if a
    /// row exists. Returns how many rows were written.
    pub(crate) async fn insert_chained_in(
        &self,
        conn: &mut PgConnection,
        heads: &BTreeMap<ChainKey, ChainHead>,
    ) -> Result<u64, sqlx::Error> {
        let tenanted: Vec<bool> = heads.keys().map(|k| k.0).collect();
        let tenant: Vec<&str> = heads.keys().map(|k| k.1.as_str()).collect();
        let position: Vec<i64> = heads.values().map(|h| i64::try_from(h.position).unwrap_or(i64::MAX)).collect();
        let hash: Vec<&[u8]> = heads.values().map(|h| &h.hash.0[..]).collect();
        let done = self
            .bind_all(sqlx::query(INSERT_CHAINED))
            .bind(&tenanted)
            .bind(&tenant)
            .bind(&position)
            .bind(&hash)
            .execute(conn)
            .await?;
        Ok(done.rows_affected())
    }

    async fn insert_with(&self, conn: &mut PgConnection, sql: &'static str) -> Result<u64, sqlx::Error> {
        let done = self.bind_all(sqlx::query(sql)).execute(conn).await?;
        Ok(done.rows_affected())
    }

    /// The query with every column array bound, in order.
    fn bind_all<'q>(
        &'q self,
        query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
        query
            .bind(&self.id)
            .bind(&self.occurred_at)
            .bind(&self.tenant)
            .bind(&self.activity_type)
            .bind(&self.target_kind)
            .bind(&self.target_id)
            .bind(&self.target_name)
            .bind(&self.actor_kind)
            .bind(&self.actor_id)
            .bind(&self.actor_name)
            .bind(&self.outcome)
            .bind(&self.error)
            .bind(&self.severity)
            .bind(&self.description)
            .bind(&self.description_folded)
            .bind(&self.metadata)
            .bind(&self.changes)
            .bind(&self.ip)
            .bind(&self.ip_ok)
            .bind(&self.user_agent)
            .bind(&self.request_id)
            .bind(&self.trace_id)
            .bind(&self.duration_us)
            .bind(&self.tags)
            .bind(&self.chain_seq)
            .bind(&self.chain_hash)
    }
}
