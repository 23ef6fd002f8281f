//! Tamper evidence on PostgreSQL: a clean chained log written by two
//! sinks (two application instances) at once, with replays, verifies with
//! no false alarm; 1,000 random tamperings made directly in the database
//! as its owner with triggers bypassed (`session_replication_role =
//! replica`) are each found, at the position they were made.

use activity_log::integrity::ChainHead;
use activity_log::postgres::PostgresSink;
use activity_log::Activity;
use activity_log_tests::pg::TestSchema;
use activity_log_tests::tamper::{self, tenant, Tamper};
use sqlx::{ConnectOptions, Connection, Executor, PgConnection, Row};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_log_verifies_and_every_tampering_is_found_where_it_was_made() {
    let Some(schema) = TestSchema::create("integrity").await else { return };
    // Two sinks (two application instances) on the same schema at once.
    let store = schema.sink_with(PostgresSink::builder().chaining(true)).await;
    let other = schema.sink_with(PostgresSink::builder().chaining(true)).await;
    tamper::write_log(store.clone(), other.clone()).await;
    other.close().await;
    let checkpoints = tamper::checkpoints_of_a_clean_log(&store).await;

    // Tamper, as the owner, with the append-only triggers bypassed.
    let mut raw = schema.options().connect().await.expect("raw connection");
    raw.execute("SET session_replication_role = replica").await.expect("bypass triggers");
    let plan = tamper::plan();
    for (t, tamper) in &plan {
        apply(&mut raw, &tenant(*t), *tamper).await;
    }
    raw.close().await.expect("close");

    tamper::assert_every_tampering_found(&store, &checkpoints, &plan).await;
    store.close().await;
    drop(schema);
}

/// The SQL that changes one column of a row.
fn edit_sql(column: &str) -> &'static str {
    match column {
        "actor_kind" => "UPDATE activities SET actor_kind = CASE actor_kind WHEN 'user' THEN 'service' ELSE 'user' END",
        "outcome" => "UPDATE activities SET outcome = CASE outcome WHEN 'success' THEN 'failure' ELSE 'success' END",
        "severity" => "UPDATE activities SET severity = CASE severity WHEN 'info' THEN 'warning' ELSE 'info' END",
        "tenant" => "UPDATE activities SET tenant = 'moved-away'",
        "changes" => r#"UPDATE activities SET changes = '{"plan":{"before":1,"after":2}}'::jsonb"#,
        "tags" => r#"UPDATE activities SET tags = '["forged"]'::jsonb"#,
        "duration_us" => "UPDATE activities SET duration_us = COALESCE(duration_us, 0) + 1",
        "occurred_at" => "UPDATE activities SET occurred_at = occurred_at + interval '1 microsecond'",
        "id" => "UPDATE activities SET id = gen_random_uuid()",
        "chain_hash" => "UPDATE activities SET chain_hash = sha256(random()::text::bytea)",
        "activity_type" => "UPDATE activities SET activity_type = activity_type || 'x'",
        "target_kind" => "UPDATE activities SET target_kind = target_kind || 'x'",
        "target_id" => "UPDATE activities SET target_id = target_id || 'x'",
        "target_name" => "UPDATE activities SET target_name = COALESCE(target_name, '') || 'x'",
        "actor_id" => "UPDATE activities SET actor_id = actor_id || 'x'",
        "actor_name" => "UPDATE activities SET actor_name = actor_name || 'x'",
        "error" => "UPDATE activities SET error = COALESCE(error, '') || 'x'",
        "description" => {
            "UPDATE activities SET description = description || 'x', description_folded = description_folded || 'x'"
        }
        "ip" => "UPDATE activities SET ip = '198.51.100.1'::inet, ip_text = NULL",
        "user_agent" => "UPDATE activities SET user_agent = user_agent || 'x'",
        "request_id" => "UPDATE activities SET request_id = request_id || 'x'",
        "trace_id" => "UPDATE activities SET trace_id = trace_id || 'x'",
        other => panic!("no edit for {other}"),
    }
}

async fn apply(raw: &mut PgConnection, tenant: &str, tamper: Tamper) {
    let at = |p: u64| p as i64;
    match tamper {
        Tamper::Edit { position, column } => {
            let sql = format!("{} WHERE tenant = $1 AND chain_seq = $2", edit_sql(column));
            let done = sqlx::query(&sql).bind(tenant).bind(at(position)).execute(&mut *raw).await.expect("edit");
            assert_eq!(done.rows_affected(), 1, "{tamper:?}");
        }
        Tamper::MetadataKey { position } => {
            sqlx::query(
                "UPDATE activities SET metadata = jsonb_set(metadata, '{queue}', '\"support\"') \
                 WHERE tenant = $1 AND chain_seq = $2",
            )
            .bind(tenant)
            .bind(at(position))
            .execute(&mut *raw)
            .await
            .expect("metadata edit");
        }
        Tamper::Delete { position } => {
            sqlx::query("DELETE FROM activities WHERE tenant = $1 AND chain_seq = $2")
                .bind(tenant)
                .bind(at(position))
                .execute(&mut *raw)
                .await
                .expect("delete");
        }
        Tamper::Truncate { position } => {
            sqlx::query("DELETE FROM activities WHERE tenant = $1 AND chain_seq >= $2")
                .bind(tenant)
                .bind(at(position))
                .execute(&mut *raw)
                .await
                .expect("truncate");
        }
        Tamper::Reposition { position } => {
            sqlx::query("UPDATE activities SET chain_seq = chain_seq + 1000 WHERE tenant = $1 AND chain_seq = $2")
                .bind(tenant)
                .bind(at(position))
                .execute(&mut *raw)
                .await
                .expect("reposition");
        }
        Tamper::Swap { first, second } => {
            sqlx::query(
                "UPDATE activities SET chain_seq = CASE chain_seq WHEN $2 THEN $3 ELSE $2 END \
                 WHERE tenant = $1 AND chain_seq IN ($2, $3)",
            )
            .bind(tenant)
            .bind(at(first))
            .bind(at(second))
            .execute(&mut *raw)
            .await
            .expect("swap");
        }
        Tamper::Forge { position, well_hashed } => {
            let forged = Activity::new("forged").tenant(tenant).description("forged").build().expect("valid");
            let hash = if well_hashed {
                let prev = if position == 1 {
                    ChainHead::genesis(Some(tenant))
                } else {
                    let row = sqlx::query("SELECT chain_hash FROM activities WHERE tenant = $1 AND chain_seq = $2")
                        .bind(tenant)
                        .bind(at(position - 1))
                        .fetch_one(&mut *raw)
                        .await
                        .expect("previous hash");
                    let bytes: Vec<u8> = row.get(0);
                    let hash = activity_log::integrity::ChainHash::from_slice(&bytes).expect("32 bytes");
                    ChainHead { position: position - 1, hash }
                };
                prev.append(&forged).hash.0.to_vec()
            } else {
                vec![7; 32]
            };
            sqlx::query(
                "INSERT INTO activities (id, occurred_at, tenant, activity_type, outcome, severity, description, \
                 description_folded, chain_seq, chain_hash) VALUES ($1, $2, $3, 'forged', 'success', 'info', \
                 'forged', 'forged', $4, $5)",
            )
            .bind(forged.id)
            .bind(forged.occurred_at)
            .bind(tenant)
            .bind(at(position))
            .bind(hash)
            .execute(&mut *raw)
            .await
            .expect("forged insert");
        }
    }
}
