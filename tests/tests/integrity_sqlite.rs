//! Tamper evidence on SQLite: a clean chained log verifies with no false
//! alarm; 1,000 random tamperings made directly in the file (triggers
//! dropped, as the file's owner can) are each found, at the position
//! they were made. A chain longer than one window of verification's
//! reads is found intact, and broken where it was tampered with, past
//! the first window.

use activity_log::integrity::ChainHead;
use activity_log::sqlite::SqliteSink;
use activity_log::Activity;
use activity_log_tests::tamper::{self, tenant, Tamper};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, Executor, Row, SqliteConnection};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_log_verifies_and_every_tampering_is_found_where_it_was_made() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("chain.db");
    let url = format!("sqlite://{}", path.display());
    // Two sinks on the same file at once.
    let store = SqliteSink::connect(&url).await.expect("connect").with_chaining(true);
    let other = SqliteSink::connect(&url).await.expect("second writer").with_chaining(true);
    tamper::write_log(store.clone(), other.clone()).await;
    other.close().await;
    let checkpoints = tamper::checkpoints_of_a_clean_log(&store).await;

    // Tamper, as the file's owner, with the append-only triggers dropped.
    let mut raw = SqliteConnectOptions::new().filename(&path).connect().await.expect("raw connection");
    for trigger in ["activities_refuse_update", "activities_refuse_delete", "activities_refuse_replace"] {
        raw.execute(format!("DROP TRIGGER {trigger}").as_str()).await.expect("drop trigger");
    }
    let plan = tamper::plan();
    for (t, tamper) in &plan {
        apply(&mut raw, &tenant(*t), *tamper).await;
    }
    raw.close().await.expect("close");

    tamper::assert_every_tampering_found(&store, &checkpoints, &plan).await;
    store.close().await;
}

/// Verification reads a chain in windows of positions: a chain of several
/// windows verifies intact, and a tampering in a later window (a field
/// edited, then a second record claiming a position) is found there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_of_several_windows_verifies_and_breaks_where_tampered() {
    use activity_log::integrity::{BreakKind, ChainedStore, CheckpointSigner};
    use activity_log::Sink;
    const N: usize = 40_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("long.db");
    let store =
        SqliteSink::connect(&format!("sqlite://{}", path.display())).await.expect("connect").with_chaining(true);
    let records: Vec<Activity> = (0..N).map(|i| tamper::record("long", i)).collect();
    for batch in records.chunks(5_000) {
        store.write_batch(batch).await.expect("write");
    }
    let checkpoint =
        store.checkpoint(Some("long"), &CheckpointSigner::generate().expect("key")).await.expect("checkpoint");
    let report = store.verify(Some("long"), &checkpoint).await.expect("verify");
    assert!(report.is_intact(), "{report}");
    assert_eq!(report.intact, N as u64);

    let mut raw = SqliteConnectOptions::new().filename(&path).connect().await.expect("raw connection");
    raw.execute("DROP TRIGGER activities_refuse_update").await.expect("drop trigger");
    raw.execute("UPDATE activities SET duration_us = duration_us + 1 WHERE tenant = 'long' AND chain_seq = 33000")
        .await
        .expect("edit");
    let report = store.verify(Some("long"), &checkpoint).await.expect("verify");
    let found = report.first_break.as_ref().map(|b| (b.position, b.kind.clone()));
    assert_eq!(found, Some((33_000, BreakKind::Altered)), "{report}");
    assert_eq!(report.intact, 32_999);

    // A copy of the record at 20,000 (another id) claims position 20,000
    // too: a duplicate, found before the edit.
    raw.execute(
        "INSERT INTO activities SELECT randomblob(16), occurred_at, tenant, activity_type, target_kind, target_id, \
         target_name, actor_kind, actor_id, actor_name, outcome, error, severity, description, description_folded, \
         metadata, changes, ip, user_agent, request_id, trace_id, duration_us, tags, chain_seq, chain_hash \
         FROM activities WHERE tenant = 'long' AND chain_seq = 20000",
    )
    .await
    .expect("duplicate");
    raw.close().await.expect("close");
    let report = store.verify(Some("long"), &checkpoint).await.expect("verify");
    let found = report.first_break.as_ref().map(|b| b.position);
    assert_eq!(found, Some(20_000), "{report}");
    assert!(
        matches!(report.first_break.as_ref().map(|b| &b.kind), Some(BreakKind::Duplicate | BreakKind::Altered)),
        "{report}"
    );
    store.close().await;
}

/// The SQL that changes one column of a row.
fn edit_sql(column: &str) -> &'static str {
    match column {
        "actor_kind" => "UPDATE activities SET actor_kind = CASE actor_kind WHEN 'user' THEN 'service' ELSE 'user' END",
        "outcome" => "UPDATE activities SET outcome = CASE outcome WHEN 'success' THEN 'failure' ELSE 'success' END",
        "severity" => "UPDATE activities SET severity = CASE severity WHEN 'info' THEN 'warning' ELSE 'info' END",
        "tenant" => "UPDATE activities SET tenant = 'moved-away'",
        "changes" => r#"UPDATE activities SET changes = '{"plan":{"before":1,"after":2}}'"#,
        "tags" => r#"UPDATE activities SET tags = '["forged"]'"#,
        "duration_us" => "UPDATE activities SET duration_us = COALESCE(duration_us, 0) + 1",
        "occurred_at" => "UPDATE activities SET occurred_at = occurred_at + 1",
        "id" => "UPDATE activities SET id = randomblob(16)",
        "chain_hash" => "UPDATE activities SET chain_hash = randomblob(32)",
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
        "ip" => "UPDATE activities SET ip = '198.51.100.1'",
        "user_agent" => "UPDATE activities SET user_agent = user_agent || 'x'",
        "request_id" => "UPDATE activities SET request_id = request_id || 'x'",
        "trace_id" => "UPDATE activities SET trace_id = trace_id || 'x'",
        other => panic!("no edit for {other}"),
    }
}

async fn apply(raw: &mut SqliteConnection, tenant: &str, tamper: Tamper) {
    let at = |p: u64| p as i64;
    match tamper {
        Tamper::Edit { position, column } => {
            let sql = format!("{} WHERE tenant = ?1 AND chain_seq = ?2", edit_sql(column));
            let done = sqlx::query(&sql).bind(tenant).bind(at(position)).execute(&mut *raw).await.expect("edit");
            assert_eq!(done.rows_affected(), 1, "{tamper:?}");
        }
        Tamper::MetadataKey { position } => {
            sqlx::query(
                "UPDATE activities SET metadata = json_set(metadata, '$.queue', 'support') \
                 WHERE tenant = ?1 AND chain_seq = ?2",
            )
            .bind(tenant)
            .bind(at(position))
            .execute(&mut *raw)
            .await
            .expect("metadata edit");
        }
        Tamper::Delete { position } => {
            sqlx::query("DELETE FROM activities WHERE tenant = ?1 AND chain_seq = ?2")
                .bind(tenant)
                .bind(at(position))
                .execute(&mut *raw)
                .await
                .expect("delete");
        }
        Tamper::Truncate { position } => {
            sqlx::query("DELETE FROM activities WHERE tenant = ?1 AND chain_seq >= ?2")
                .bind(tenant)
                .bind(at(position))
                .execute(&mut *raw)
                .await
                .expect("truncate");
        }
        Tamper::Reposition { position } => {
            sqlx::query("UPDATE activities SET chain_seq = chain_seq + 1000 WHERE tenant = ?1 AND chain_seq = ?2")
                .bind(tenant)
                .bind(at(position))
                .execute(&mut *raw)
                .await
                .expect("reposition");
        }
        Tamper::Swap { first, second } => {
            sqlx::query(
                "UPDATE activities SET chain_seq = CASE chain_seq WHEN ?2 THEN ?3 ELSE ?2 END \
                 WHERE tenant = ?1 AND chain_seq IN (?2, ?3)",
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
                    let row = sqlx::query("SELECT chain_hash FROM activities WHERE tenant = ?1 AND chain_seq = ?2")
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
                 description_folded, chain_seq, chain_hash) VALUES (?1, ?2, ?3, 'forged', 'success', 'info', \
                 'forged', 'forged', ?4, ?5)",
            )
            .bind(forged.id.as_bytes().to_vec())
            .bind(forged.occurred_at.timestamp_micros())
            .bind(tenant)
            .bind(at(position))
            .bind(hash)
            .execute(&mut *raw)
            .await
            .expect("forged insert");
        }
    }
}
