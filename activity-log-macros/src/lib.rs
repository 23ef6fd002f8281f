//! Procedural macros for [`activity-log`](https://docs.rs/activity-log).
//!
//! Use them through the `activity_log` crate, which re-exports them:
//! `use activity_log::log_activity;`.
//!
//! Layout: `attr.rs` parses the attribute, `valid.rs` checks it against the
//! function, `expand.rs` generates the wrapper and `fallback.rs` emits the
//! error together with the unchanged function.

#![warn(missing_docs)]

mod attr;
mod expand;
mod fallback;
mod scope;
mod valid;

use proc_macro::TokenStream;

/// Records one activity per call of the annotated function.
///
/// ```
/// use activity_log::{log_activity, ActivityLogger, Outcome};
///
/// struct Store { calls: Vec<u64> }
///
/// #[derive(Debug)]
/// struct NotFound(u64);
/// impl std::fmt::Display for NotFound {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         write!(f, "call {} not found", self.0)
///     }
/// }
///
/// #[log_activity(type = "call_deleted", target = "call", id = call_id, description = "Call {call_id} deleted")]
/// fn delete_call(store: &mut Store, call_id: u64) -> Result<(), NotFound> {
///     let at = store.calls.iter().position(|c| *c == call_id).ok_or(NotFound(call_id))?;
///     store.calls.remove(at);
///     Ok(())
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let (logger, sink) = ActivityLogger::in_memory();
/// let mut store = Store { calls: vec![7] };
/// logger.sync_scope(|| {
///     assert!(delete_call(&mut store, 7).is_ok());
///     assert!(delete_call(&mut store, 7).is_err());
/// });
/// logger.flush().await.unwrap();
///
/// let [deleted, missing] = <[_; 2]>::try_from(sink.of_type("call_deleted")).unwrap();
/// assert_eq!(deleted.target.as_ref().and_then(|t| t.id.as_deref()), Some("7"));
/// assert_eq!(deleted.description.as_deref(), Some("Call 7 deleted"));
/// assert_eq!(missing.outcome, Outcome::Failure);
/// assert_eq!(missing.error.as_deref(), Some("call 7 not found"));
/// assert!(deleted.duration.is_some());
/// # }
/// ```
///
/// # What is recorded
///
/// - the activity `type`;
/// - the `target` kind, and its `id` and `name` when given;
/// - the outcome: a function returning `Result` (also through a type alias:
///   the returned value is classified by its type, not by how the signature
///   spells it) fails when it returns `Err`, and the error's `Display` text
///   (else its `Debug` text) is recorded; any other return value is a
///   success;
/// - how long the body took;
/// - `description`, `severity`, and the `metadata` entries you name;
/// - actor, tenant, ip, user agent, request and trace id from the ambient
///   [`ActivityContext`](https://docs.rs/activity-log/latest/activity_log/struct.ActivityContext.html),
///   unless `actor`/`tenant` say otherwise.
///
/// Arguments are **not** recorded unless an option names them: an audit log
/// must not capture a password by accident.
///
/// The activity is logged with `log_async` right after the body returns, in
/// the caller's task, so it goes to the logger of the current
/// `ActivityLogger::scope` (or the global one, or `logger = ..`). Logging
/// never awaits, never panics and never changes what the function returns.
/// A body that panics, or a future dropped before it completes, logs
/// nothing.
///
/// # Options
///
/// | option | value | meaning |
/// |---|---|---|
/// | `type` | `"call_created"` | the activity type (required) |
/// | `target` | `"call"` | the kind of resource acted on |
/// | `id` | expression | the target's id (any `Display`) |
/// | `name` | expression | the target's display name (any `Display`) |
/// | `description` | `"Call {call_id} deleted"` | text; `{param}` placeholders name parameters |
/// | `metadata(..)` | `key = expr, param, "key" = expr` | entries (any `Serialize`) |
/// | `severity` | `"info"`, `"warning"`, `"error"` | defaults to info |
/// | `actor` | expression | an `Actor` (or `&Actor`), replacing the ambient one |
/// | `tenant` | expression | the tenant (any `Display`), replacing the ambient one |
/// | `logger` | expression | an `ActivityLogger`, `&ActivityLogger` or `Arc<ActivityLogger>` to log to |
/// | `on` | `"success"`, `"failure"` | log only successful or only failed calls |
/// | `tx` | a parameter | the caller's sqlx transaction or connection (PostgreSQL, SQLite): the activity is written in it with `activity_log::log_in` after the body, instead of queued (async functions only) |
///
/// Expressions are evaluated **before the body runs** and may use only the
/// parameters (and `self`); they borrow, so the body can still move the
/// parameters. An expression that uses `ret` is evaluated **after a
/// successful call** instead, with `ret` a reference to the returned value
/// (for a `Result`, to the `Ok` value); when the call fails it is left out.
///
/// ```
/// use activity_log::{log_activity, ActivityLogger};
///
/// #[derive(Debug)]
/// struct Call { id: u64, queue: String }
///
/// #[log_activity(type = "call_created", target = "call", id = ret.id, metadata(queue = ret.queue, priority))]
/// async fn create_call(queue: &str, priority: u8) -> Result<Call, std::io::Error> {
///     Ok(Call { id: 42, queue: queue.to_owned() })
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let (logger, sink) = ActivityLogger::in_memory();
/// logger.scope(create_call("sales", 3)).await.unwrap();
/// logger.flush().await.unwrap();
/// let created = sink.assert_logged("call_created");
/// assert_eq!(created.target.unwrap().id.as_deref(), Some("42"));
/// assert_eq!(created.metadata["queue"], "sales");
/// assert_eq!(created.metadata["priority"], 3);
/// # }
/// ```
///
/// # Supported functions
///
/// Sync and `async` functions and methods (`&self`, `&mut self`, `self`,
/// `self: Arc<Self>`), generics, lifetimes, `impl Trait` arguments and
/// return types, `unsafe fn`, methods of `#[async_trait]` impls and other
/// functions whose body ends in `Box::pin(async move { .. })`. `const fn` is
/// refused. The wrapper refers to the library as `::activity_log`, so the
/// crate must be a dependency under that name.
///
/// # Errors
///
/// Mistakes in the attribute are reported at the offending token, and the
/// function is still emitted unchanged, so one mistake gives one error:
///
/// ```compile_fail
/// #[activity_log::log_activity(type = "call_deleted", target = "call", id = call)]
/// fn delete_call(call_id: u64) {}
/// ```
#[proc_macro_attribute]
pub fn log_activity(args: TokenStream, item: TokenStream) -> TokenStream {
    let original = proc_macro2::TokenStream::from(item.clone());
    match try_expand(args, item) {
        Ok(tokens) => tokens.into(),
        Err(error) => fallback::expand(error, original).into(),
    }
}

fn try_expand(args: TokenStream, item: TokenStream) -> syn::Result<proc_macro2::TokenStream> {
    let func: syn::ItemFn = syn::parse(item)
        .map_err(|e| syn::Error::new(e.span(), "#[log_activity] can only be applied to a function with a body"))?;
    let args: attr::Args = syn::parse(args)?;
    let plan = valid::check(args, &func)?;
    Ok(expand::expand(&plan, func))
}
