//! `#[log_activity]` on methods of `#[async_trait]` impls: async-trait turns
//! each `async fn` into a `fn` returning `Pin<Box<dyn Future>>` whose body is
//! `Box::pin(async move { .. })` before our attribute runs; the attribute
//! instruments that future. Covered: `Send` and `?Send` traits, our
//! attribute before and after other attributes, and a hand-written
//! `Pin<Box<dyn Future>>` implementation of the same trait.

use activity_log::{log_activity, Activity, ActivityLogger, Outcome};
use async_trait::async_trait;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

#[derive(Debug, PartialEq)]
struct RepoError(&'static str);

impl std::fmt::Display for RepoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "repository error: {}", self.0)
    }
}

#[async_trait]
trait CallRepo {
    async fn create(&self, caller: &str) -> Result<u64, RepoError>;
    async fn delete(&mut self, id: u64) -> Result<(), RepoError>;
}

#[derive(Default)]
struct MemRepo {
    calls: Vec<u64>,
}

#[async_trait]
impl CallRepo for MemRepo {
    #[log_activity(type = "call_created", target = "call", id = ret, metadata(caller))]
    #[allow(clippy::needless_lifetimes)]
    async fn create(&self, caller: &str) -> Result<u64, RepoError> {
        tokio::task::yield_now().await;
        if caller.is_empty() {
            return Err(RepoError("caller is required"));
        }
        Ok(self.calls.len() as u64 + 100)
    }

    #[allow(clippy::needless_lifetimes)]
    #[log_activity(type = "call_deleted", target = "call", id = id)]
    async fn delete(&mut self, id: u64) -> Result<(), RepoError> {
        tokio::task::yield_now().await;
        let at = self.calls.iter().position(|c| *c == id).ok_or(RepoError("no such call"))?;
        self.calls.remove(at);
        Ok(())
    }
}

#[async_trait(?Send)]
trait LocalJob {
    async fn run(&self, n: u32) -> u32;
}

struct Doubler;

#[async_trait(?Send)]
impl LocalJob for Doubler {
    #[log_activity(type = "job_ran", target = "job", id = n)]
    async fn run(&self, n: u32) -> u32 {
        tokio::task::yield_now().await;
        n * 2
    }
}

/// The same shape written by hand, without async-trait.
trait Ping {
    fn ping<'a>(&'a self, host: &'a str) -> Pin<Box<dyn Future<Output = Result<Duration, RepoError>> + Send + 'a>>;
}

struct Pinger;

impl Ping for Pinger {
    #[log_activity(type = "host_pinged", target = "host", id = host)]
    fn ping<'a>(&'a self, host: &'a str) -> Pin<Box<dyn Future<Output = Result<Duration, RepoError>> + Send + 'a>> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            match host {
                "localhost" => Ok(Duration::from_millis(1)),
                _ => Err(RepoError("unreachable")),
            }
        })
    }
}

fn summary(all: &[Activity]) -> Vec<(&str, Outcome, Option<&str>, Option<&str>)> {
    all.iter()
        .map(|a| {
            (a.activity_type.as_str(), a.outcome, a.target.as_ref().and_then(|t| t.id.as_deref()), a.error.as_deref())
        })
        .collect()
}

#[tokio::test]
async fn async_trait_send_methods_log_from_inside_the_boxed_future() {
    let (logger, sink) = ActivityLogger::in_memory();
    let mut repo = MemRepo::default();
    let id = logger.scope(repo.create("Ada")).await.unwrap();
    repo.calls.push(id);
    // The futures are Send: they can be spawned.
    let repo = tokio::spawn(logger.scope(async move {
        assert!(repo.create("").await.is_err());
        repo.delete(id).await.unwrap();
        assert!(repo.delete(id).await.is_err());
        repo
    }))
    .await
    .unwrap();
    assert!(repo.calls.is_empty());
    logger.flush().await.unwrap();
    let all = sink.activities();
    assert_eq!(
        summary(&all),
        [
            ("call_created", Outcome::Success, Some("100"), None),
            ("call_created", Outcome::Failure, None, Some("repository error: caller is required")),
            ("call_deleted", Outcome::Success, Some("100"), None),
            ("call_deleted", Outcome::Failure, Some("100"), Some("repository error: no such call")),
        ]
    );
    assert_eq!(all[0].metadata["caller"], "Ada");
    assert!(all.iter().all(|a| a.duration.unwrap() > Duration::ZERO));
}

#[tokio::test]
async fn async_trait_not_send_methods() {
    let (logger, sink) = ActivityLogger::in_memory();
    assert_eq!(logger.scope(Doubler.run(21)).await, 42);
    logger.flush().await.unwrap();
    assert_eq!(summary(&sink.activities()), [("job_ran", Outcome::Success, Some("21"), None)]);
}

#[tokio::test]
async fn hand_written_boxed_futures() {
    let (logger, sink) = ActivityLogger::in_memory();
    logger
        .scope(async {
            assert!(Pinger.ping("localhost").await.is_ok());
            assert!(Pinger.ping("example.invalid").await.is_err());
        })
        .await;
    logger.flush().await.unwrap();
    assert_eq!(
        summary(&sink.activities()),
        [
            ("host_pinged", Outcome::Success, Some("localhost"), None),
            ("host_pinged", Outcome::Failure, Some("example.invalid"), Some("repository error: unreachable")),
        ]
    );
}
