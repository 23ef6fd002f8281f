//! Writers that cannot rewrite history, and readers confined to a tenant:
//! a writer role inserts (through the sink, chained) and reads, but its
//! `SET activity_log.retention = on; DELETE ...` is refused, as are
//! UPDATE, TRUNCATE and moving a retention cut; a tenant reader sees only
//! the tenant its session names.

use activity_log::postgres::PostgresSink;
use activity_log::{Activity, Sink};
use activity_log_tests::pg::TestSchema;
use sqlx::{ConnectOptions, Connection, Executor, PgConnection, Row};

/// A login role for this test, dropped at the end.
struct Role {
    name: String,
}

impl Role {
    async fn create(admin: &mut PgConnection, schema: &TestSchema, kind: &str) -> Self {
        let name = format!("{}_{kind}", schema.name);
        admin.execute(format!("CREATE ROLE \"{name}\" LOGIN").as_str()).await.expect("create role");
        Self { name }
    }

    async fn drop(self, admin: &mut PgConnection) {
        let _ = admin.execute(format!("DROP OWNED BY \"{}\"", self.name).as_str()).await;
        let _ = admin.execute(format!("DROP ROLE \"{}\"", self.name).as_str()).await;
    }
}

/// How many rows the session sees, and how many of another tenant.
async fn count(conn: &mut PgConnection) -> (i64, i64) {
    let row = sqlx::query(
        "SELECT count(*), count(*) FILTER (WHERE tenant IS DISTINCT FROM current_setting('activity_log.tenant', true)) \
         FROM activities",
    )
    .fetch_one(conn)
    .await
    .expect("select");
    (row.get(0), row.get(1))
}

fn refused(result: Result<sqlx::postgres::PgQueryResult, sqlx::Error>) -> String {
    match result {
        Err(sqlx::Error::Database(e)) => e.code().map(|c| c.into_owned()).unwrap_or_default(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_writer_role_cannot_delete_even_with_the_retention_setting() {
    let Some(schema) = TestSchema::create("roles_writer").await else { return };
    let owner = schema.sink_with(PostgresSink::builder().chaining(true)).await;
    let mut admin = schema.admin().await;
    let role = Role::create(&mut admin, &schema, "w").await;
    owner.grant_writer(&role.name).await.expect("grant");

    // The application connects as the writer: migrations are found
    // applied, partitions made by the owner's functions, batches chained.
    let writer = PostgresSink::builder()
        .chaining(true)
        .connect_with(schema.options().username(&role.name))
        .await
        .expect("the writer role connects");
    let batch: Vec<Activity> =
        (0..10).map(|i| Activity::new("x").tenant("acme").target("t", i).build().expect("valid")).collect();
    writer.write_batch(&batch).await.expect("the writer role writes");
    writer.write_batch(&batch).await.expect("and replays");

    let mut conn = schema.options().username(&role.name).connect().await.expect("connect as writer");
    let n: i64 = sqlx::query("SELECT count(*) FROM activities").fetch_one(&mut conn).await.expect("select").get(0);
    assert_eq!(n, 10);
    conn.execute("SET activity_log.retention = on").await.expect("the setting itself is anyone's");
    assert_eq!(refused(conn.execute("DELETE FROM activities").await), "42501");
    let mut tx = conn.begin().await.expect("begin");
    tx.execute("SELECT set_config('activity_log.retention', 'on', true)").await.expect("set");
    assert_eq!(refused(tx.execute("DELETE FROM activities").await), "42501");
    tx.rollback().await.expect("rollback");
    assert_eq!(refused(conn.execute("UPDATE activities SET description = 'x'").await), "42501");
    assert_eq!(refused(conn.execute("TRUNCATE activities").await), "42501");
    assert_eq!(refused(conn.execute("UPDATE activity_chains SET cut_position = 5").await), "42501");
    assert_eq!(refused(conn.execute("ALTER TABLE activities DISABLE TRIGGER ALL").await), "42501");
    let n: i64 = sqlx::query("SELECT count(*) FROM activities").fetch_one(&mut conn).await.expect("select").get(0);
    assert_eq!(n, 10, "nothing was deleted");
    let _ = conn.close().await;
    writer.close().await;
    owner.close().await;
    role.drop(&mut admin).await;
}

#[tokio::test]
async fn a_tenant_reader_sees_only_the_tenant_its_session_names() {
    let Some(schema) = TestSchema::create("roles_reader").await else { return };
    let owner = schema.sink_with(PostgresSink::builder().chaining(true)).await;
    let mut admin = schema.admin().await;
    let reader = Role::create(&mut admin, &schema, "r").await;
    let writer = Role::create(&mut admin, &schema, "w").await;
    owner.grant_writer(&writer.name).await.expect("grant writer");
    owner.grant_tenant_reader(&reader.name).await.expect("grant reader");

    // A writer role still writes every tenant with row-level security on.
    let sink = PostgresSink::builder()
        .chaining(true)
        .connect_with(schema.options().username(&writer.name))
        .await
        .expect("connect");
    let batch: Vec<Activity> =
        ["acme", "acme", "globex"].into_iter().map(|t| Activity::new("x").tenant(t).build().expect("valid")).collect();
    sink.write_batch(&batch).await.expect("write");
    sink.close().await;

    let mut conn = schema.options().username(&reader.name).connect().await.expect("connect as reader");
    assert_eq!(count(&mut conn).await, (0, 0), "no tenant named: no rows");
    conn.execute("SET activity_log.tenant = 'acme'").await.expect("set tenant");
    assert_eq!(count(&mut conn).await, (2, 0));
    conn.execute("SET activity_log.tenant = 'globex'").await.expect("set tenant");
    assert_eq!(count(&mut conn).await, (1, 0));
    assert_eq!(refused(conn.execute("INSERT INTO activities (id, occurred_at, activity_type, outcome, severity) VALUES (gen_random_uuid(), now(), 'x', 'success', 'info')").await), "42501");
    let _ = conn.close().await;
    owner.close().await;
    reader.drop(&mut admin).await;
    writer.drop(&mut admin).await;
}
