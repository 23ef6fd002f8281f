//! `#[log_activity]` on generic functions: type and lifetime parameters,
//! bounds and where clauses, `impl Trait` arguments and return types
//! (including `Result<impl Iterator<Item = T>, E>`), inner attributes,
//! `#[must_use]` and doc comments, recursion.

use activity_log::{log_activity, Activity, ActivityLogger, Outcome};
use std::fmt::{Debug, Display};

fn scoped<R>(f: impl FnOnce() -> R) -> (R, Vec<Activity>) {
    let (logger, sink) = ActivityLogger::in_memory();
    let out = logger.sync_scope(f);
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(logger.flush()).unwrap();
    (out, sink.activities())
}

fn target_id(a: &Activity) -> Option<&str> {
    a.target.as_ref().and_then(|t| t.id.as_deref())
}

#[log_activity(type = "item_stored", target = "item", id = key)]
fn store<K: Display, V>(key: K, value: V) -> (K, V)
where
    V: Clone + Debug,
{
    (key, value)
}

#[log_activity(type = "name_read", target = "item", id = ret)]
fn longest<'a, 'b: 'a>(a: &'a str, b: &'b str) -> &'a str {
    if a.len() >= b.len() {
        a
    } else {
        b
    }
}

#[log_activity(type = "items_listed", target = "queue", id = queue, metadata(limit))]
fn list<'a, T: Clone + 'static>(
    queue: &str,
    items: &'a [T],
    limit: usize,
) -> Result<impl Iterator<Item = T> + 'a, String> {
    if limit == 0 {
        return Err(format!("limit must be positive, queue {queue}"));
    }
    Ok(items.iter().take(limit).cloned())
}

#[log_activity(type = "words_counted", metadata(count = ret))]
fn count_words(text: impl AsRef<str>) -> usize {
    text.as_ref().split_whitespace().count()
}

#[log_activity(type = "range_built")]
fn evens(up_to: u32) -> impl Iterator<Item = u32> {
    (0..up_to).filter(|n| n % 2 == 0)
}

/// Computes a factorial (this doc comment is kept).
#[must_use = "the factorial is the point"]
#[log_activity(type = "factorial", target = "n", id = n)]
fn factorial(n: u64) -> u64 {
    #![allow(clippy::needless_return)]
    if n <= 1 {
        return 1;
    }
    return n * factorial(n - 1);
}

#[log_activity(type = "async_generic", target = "item", id = item)]
async fn async_generic<T>(item: T) -> Result<T, std::io::Error>
where
    T: Display + Send,
{
    tokio::task::yield_now().await;
    Ok(item)
}

#[test]
fn type_parameters_bounds_and_where_clauses() {
    let ((k, v), all) = scoped(|| store("call-1", vec![1, 2]));
    assert_eq!((k, v), ("call-1", vec![1, 2]));
    assert_eq!(target_id(&all[0]), Some("call-1"));
}

#[test]
fn lifetimes_are_kept_and_ret_can_be_the_id() {
    let (s, all) = scoped(|| longest("alpha", "be"));
    assert_eq!(s, "alpha");
    assert_eq!(target_id(&all[0]), Some("alpha"));
}

#[test]
fn result_of_impl_iterator_is_classified_by_variant() {
    let items = [1, 2, 3];
    let ((ok, err), all) =
        scoped(|| (list("sales", &items, 2).map(|i| i.collect::<Vec<_>>()), list("sales", &items, 0).is_err()));
    assert_eq!(ok.unwrap(), [1, 2]);
    assert!(err);
    assert_eq!((all[0].outcome, all[0].metadata["limit"].as_u64()), (Outcome::Success, Some(2)));
    assert_eq!(
        (all[1].outcome, all[1].error.as_deref()),
        (Outcome::Failure, Some("limit must be positive, queue sales"))
    );
}

#[test]
fn impl_trait_arguments_and_returns() {
    let ((n, e), all) = scoped(|| (count_words(String::from("a b c")), evens(5).collect::<Vec<_>>()));
    assert_eq!((n, e), (3, vec![0, 2, 4]));
    assert_eq!(all[0].metadata["count"], 3);
    assert_eq!((all[1].activity_type.as_str(), all[1].outcome), ("range_built", Outcome::Success));
}

#[test]
fn recursion_with_inner_attributes_and_must_use() {
    let (f, all) = scoped(|| factorial(4));
    assert_eq!(f, 24);
    let ids: Vec<_> = all.iter().map(|a| target_id(a).unwrap()).collect();
    assert_eq!(ids, ["1", "2", "3", "4"]);
}

#[tokio::test]
async fn async_generic_with_where_clause() {
    let (logger, sink) = ActivityLogger::in_memory();
    assert_eq!(logger.scope(async_generic(7u8)).await.unwrap(), 7);
    logger.flush().await.unwrap();
    assert_eq!(target_id(&sink.assert_logged("async_generic")), Some("7"));
}
