//! PostgreSQL connects and writes fail within bounded times, saying where
//! and why: a closed port at once, a server that never answers within the
//! connect timeout, an unknown database by name, a write stuck behind a
//! lock within the write timeout; while the server is down every write
//! fails fast (so that the logger spills within `spill_after`), and the
//! sink writes again once it is back. Messages never contain the password.

use activity_log::postgres::PostgresSink;
use activity_log::{Activity, DatabaseErrorKind, Error, Sink};
use activity_log_tests::pg::TestSchema;
use sqlx::Executor;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const PASSWORD: &str = "pw-never-echoed-7731";

/// A port on 127.0.0.1 nobody listens on (bound, then released).
async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("addr").port()
}

fn database_error(result: Result<PostgresSink, Error>) -> activity_log::DatabaseError {
    match result {
        Err(Error::Database(db)) => db,
        Err(other) => panic!("expected a database error, got {other}"),
        Ok(_) => panic!("expected connect to fail"),
    }
}

fn batch(n: u64) -> Vec<Activity> {
    (0..n).map(|i| Activity::new("call_created").tenant("acme").target("call", i).build().expect("valid")).collect()
}

#[tokio::test]
async fn a_closed_port_fails_at_once_naming_host_and_port() {
    let port = closed_port().await;
    let started = Instant::now();
    let err = database_error(PostgresSink::connect(&format!("postgres://app:{PASSWORD}@127.0.0.1:{port}/app")).await);
    let took = started.elapsed();
    println!("postgres_connect: closed port failed in {took:?}: {err}");
    assert_eq!(err.kind(), DatabaseErrorKind::Refused, "{err}");
    assert!(err.is_transient());
    assert!(err.to_string().contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(err.to_string().contains("refused"), "{err}");
    assert!(!err.to_string().contains(PASSWORD), "{err}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_within_the_connect_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    // Accepts, then says nothing.
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let started = Instant::now();
    let result = PostgresSink::builder()
        .connect_timeout(Duration::from_millis(300))
        .connect(&format!("postgres://app:{PASSWORD}@127.0.0.1:{port}/app"))
        .await;
    let took = started.elapsed();
    let err = database_error(result);
    println!("postgres_connect: silent server failed in {took:?}: {err}");
    assert_eq!(err.kind(), DatabaseErrorKind::TimedOut, "{err}");
    assert!(err.to_string().contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(!err.to_string().contains(PASSWORD), "{err}");
    assert!(took >= Duration::from_millis(300) && took < Duration::from_millis(1500), "took {took:?}");
    silent.abort();
}

#[tokio::test]
async fn an_unknown_database_is_named() {
    let Some(schema) = TestSchema::create("unknown_db").await else { return };
    let options = schema.options().database("activity_log_no_such_database").password(PASSWORD);
    let started = Instant::now();
    let err = database_error(PostgresSink::builder().connect_with(options).await);
    let took = started.elapsed();
    println!("postgres_connect: unknown database failed in {took:?}: {err}");
    assert_eq!(err.kind(), DatabaseErrorKind::UnknownDatabase, "{err}");
    assert!(!err.is_transient());
    assert!(err.to_string().contains("`activity_log_no_such_database` does not exist"), "{err}");
    assert!(!err.to_string().contains(PASSWORD), "{err}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_stuck_behind_a_lock_fails_within_the_write_timeout_then_succeeds() {
    let Some(schema) = TestSchema::create("write_timeout").await else { return };
    let sink = schema.sink_with(PostgresSink::builder().write_timeout(Duration::from_millis(500))).await;
    sink.write_batch(&batch(10)).await.expect("a first write");
    let mut blocker = schema.pool().await.acquire().await.expect("a connection");
    blocker.execute("BEGIN").await.expect("begin");
    blocker.execute("LOCK TABLE activities IN ACCESS EXCLUSIVE MODE").await.expect("lock");
    let started = Instant::now();
    let err = sink.write_batch(&batch(10)).await.expect_err("the table is locked");
    let took = started.elapsed();
    println!("postgres_connect: write behind a lock failed in {took:?}: {err}");
    assert!(err.is_transient(), "{err}");
    assert!(took < Duration::from_millis(2000), "took {took:?}");
    blocker.execute("ROLLBACK").await.expect("rollback");
    sink.write_batch(&batch(10)).await.expect("the retry writes (idempotently)");
    sink.close().await;
}

/// Forwards 127.0.0.1:`port` to `target`; aborting the handle closes the
/// port and cuts every forwarded connection (a server going away).
fn proxy(listener: TcpListener, target: String) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut links = tokio::task::JoinSet::new();
        while let Ok((mut client, _)) = listener.accept().await {
            let target = target.clone();
            links.spawn(async move {
                if let Ok(mut server) = TcpStream::connect(&target).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_fail_fast_while_the_server_is_away_and_resume_when_it_is_back() {
    let Some(schema) = TestSchema::create("outage").await else { return };
    let real = schema.options();
    let target = format!("{}:{}", real.get_host(), real.get_port());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let running = proxy(listener, target.clone());
    let sink = PostgresSink::builder()
        .reader_connections(1)
        .connect_with(real.clone().host("127.0.0.1").port(port).password(PASSWORD))
        .await
        .expect("connects through the proxy");
    sink.write_batch(&batch(100)).await.expect("written while up");

    // The server goes away: the port closes and connections are cut.
    running.abort();
    let _ = running.await;
    let mut took = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let err = sink.write_batch(&batch(100)).await.expect_err("the server is away");
        took.push(started.elapsed());
        assert!(err.is_transient(), "{err}");
        assert!(err.to_string().contains(&format!("127.0.0.1:{port}")), "{err}");
        assert!(err.to_string().contains("refused"), "{err}");
        assert!(!err.to_string().contains(PASSWORD), "{err}");
    }
    println!("postgres_connect: writes while away failed in {took:?}");
    // The first finds the pooled connections dead and the pool retrying the
    // refused connection until its acquire timeout (2 s); then at once.
    assert!(took[0] < Duration::from_millis(3000), "{took:?}");
    assert!(took[1] < Duration::from_millis(500) && took[2] < Duration::from_millis(500), "{took:?}");

    // Back on the same port: the next write goes through.
    let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("rebind the port");
    let running = proxy(listener, target);
    let started = Instant::now();
    sink.write_batch(&batch(100)).await.expect("written once the server is back");
    println!("postgres_connect: first write after the outage took {:?}", started.elapsed());
    sink.close().await;
    running.abort();
}
