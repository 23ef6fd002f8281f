//! Tamper evidence on PostgreSQL: a clean chained log written by two
//! sinks (two application instances) at once, with replays, verifies with
//! no false alarm; 1,000 random tamperings made directly in the database
//! as its owner with triggers bypassed (`session_replication_role =
//! replica`) are each found, at the position they were made.

use activity_log::integrity::{ChainHead, ChainedStore, CheckpointSigner};
use activity_log::postgres::PostgresSink;
use activity_log::{Activity, Sink};
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

/// Ip addresses in many forms: verification reads an IPv4 address in
/// binary and prints it itself, an IPv6 one as the server prints it; each
/// must give back the very text that was hashed. Given text the server
/// would print otherwise is kept as given (`ip_text`).
fn ip_forms(rng: &mut fastrand::Rng) -> Vec<String> {
    use std::net::{Ipv4Addr, Ipv6Addr};
    let mut ips: Vec<String> = [
        "0.0.0.0",
        "255.255.255.255",
        "127.0.0.1",
        "10.0.0.1",
        "::",
        "::1",
        "::2",
        "::0.0.0.2",
        "::1.2.3.4",
        "::ffff:1.2.3.4",
        "::ffff:0.0.0.0",
        "::ffff:0:0",
        "::ffff:102:304",
        "::102:304",
        "0:0:0:0:0:0:0:1",
        "2001:db8::1",
        "2001:DB8::1",
        "2001:db8:0:0:1:0:0:1",
        "2001:db8::1:0:0:1",
        "fe80::1%eth0",
        "1:0:0:1::",
        "01.2.3.4",
        "1.2.3",
        "not an ip",
        "203.0.113.7/24",
        "::ffff:1.2.3.4/128",
        "1::",
        "1:2:3:4:5:6:7:8",
        "64:ff9b::1.2.3.4",
        "::1:2:3:4:5",
        "0::ffff:1.2.3.4",
    ]
    .map(str::to_owned)
    .into();
    for _ in 0..400 {
        let v4 = Ipv4Addr::from(rng.u32(..));
        // IPv6 with runs of zero groups, IPv4-compatible and -mapped.
        let groups: [u16; 8] = std::array::from_fn(|_| if rng.bool() { 0 } else { rng.u16(..) });
        let v6 = Ipv6Addr::from(groups);
        let compatible = Ipv6Addr::from(u128::from(rng.u32(..)));
        let mapped = v4.to_ipv6_mapped();
        ips.push(v4.to_string());
        for a in [v6, compatible, mapped] {
            ips.push(a.to_string());
            ips.push(a.to_string().to_uppercase());
        }
        ips.push(format!("::{v4}"));
        ips.push(format!("::ffff:{v4}"));
    }
    ips
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_form_of_ip_and_metadata_verifies_and_an_ip_edit_is_found() {
    let Some(schema) = TestSchema::create("integrity_ip").await else { return };
    let store = schema.sink_with(PostgresSink::builder().chaining(true)).await;
    let mut rng = fastrand::Rng::with_seed(21);
    let metadata = [
        serde_json::json!({"queue": "sales", "attempt": 2}),
        serde_json::json!({"n": -7, "big": u64::MAX, "min": i64::MIN, "f": 2.5, "e": 1e21, "z": 0}),
        serde_json::json!({"é": "x", "\u{1F600}": 1, "\u{FB01}": 2, "a\"b": "c\\d\n", "on": true, "off": null}),
        serde_json::json!({"list": [1, {"y": 2.5, "x": "é"}], "nested": {"b": 1, "a": [true, null]}}),
    ];
    let tenant = "ips";
    let ips = ip_forms(&mut rng);
    let records: Vec<Activity> = ips
        .iter()
        .enumerate()
        .map(|(i, ip)| {
            let mut a = Activity::new("login").tenant(tenant).ip(ip.clone()).description("Ip form");
            for (k, v) in metadata[i % metadata.len()].as_object().expect("object") {
                a = a.meta(k.clone(), v.clone());
            }
            a.build().expect("valid")
        })
        .collect();
    for batch in records.chunks(500) {
        store.write_batch(batch).await.expect("write");
    }
    let mut raw = schema.options().connect().await.expect("raw connection");
    // Each path is taken: the given text, IPv4 and IPv6 printed back.
    let paths: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT COUNT(*) FILTER (WHERE ip_text IS NOT NULL), COUNT(*) FILTER (WHERE ip_text IS NULL AND family(ip) = 4), \
         COUNT(*) FILTER (WHERE ip_text IS NULL AND family(ip) = 6) FROM activities",
    )
    .fetch_all(&mut raw)
    .await
    .expect("paths");
    let (kept, v4, v6) = paths[0];
    assert!(kept > 100 && v4 > 100 && v6 > 100, "{kept} {v4} {v6}");

    let signer = CheckpointSigner::generate().expect("key");
    let checkpoint = store.checkpoint(Some(tenant), &signer).await.expect("checkpoint");
    let report = store.verify(Some(tenant), &checkpoint).await.expect("verify");
    assert!(report.is_intact(), "{report}");
    assert_eq!(report.intact, ips.len() as u64);

    // An IPv6 address moved by one bit is found where it was made.
    raw.execute("SET session_replication_role = replica").await.expect("bypass triggers");
    let at: i64 = sqlx::query_scalar(
        "SELECT chain_seq FROM activities WHERE ip_text IS NULL AND family(ip) = 6 ORDER BY chain_seq OFFSET 50 LIMIT 1",
    )
    .fetch_one(&mut raw)
    .await
    .expect("an IPv6 row");
    sqlx::query("UPDATE activities SET ip = ip + 1 WHERE chain_seq = $1")
        .bind(at)
        .execute(&mut raw)
        .await
        .expect("edit");
    let report = store.verify(Some(tenant), &checkpoint).await.expect("verify");
    assert_eq!(report.first_break.as_ref().map(|b| b.position), Some(at as u64), "{report}");
    raw.close().await.expect("close");
    store.close().await;
    drop(schema);
}
