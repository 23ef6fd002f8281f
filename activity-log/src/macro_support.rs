//! The runtime support of `#[log_activity]`: what its expansion calls.
//! Not public API: no stability promise.

use crate::{Activity, ActivityBuilder, ActivityLogger, Actor, Target};
use serde::Serialize;
use std::any::type_name;
use std::borrow::Borrow;
use std::fmt::{self, Debug, Display};
use std::time::Duration;

pub use std::time::Instant;

/// Starts the activity before the body runs.
#[inline]
pub fn begin(activity_type: &'static str) -> ActivityBuilder {
    Activity::new(activity_type)
}

/// `metadata(key = value)`.
#[inline]
pub fn meta<T: Serialize + ?Sized>(builder: ActivityBuilder, key: &'static str, value: &T) -> ActivityBuilder {
    builder.meta(key, value)
}

/// `actor = ..`: an `Actor`, `&Actor`, `Arc<Actor>`, ...
#[inline]
pub fn actor<A: Borrow<Actor>>(builder: ActivityBuilder, actor: &A) -> ActivityBuilder {
    builder.actor(actor.borrow().clone())
}

/// `tenant = ..`.
#[inline]
pub fn tenant<T: Display + ?Sized>(builder: ActivityBuilder, tenant: &T) -> ActivityBuilder {
    builder.tenant(tenant.to_string())
}

/// The text of an `id` or `name`.
#[inline]
pub fn text<T: Display + ?Sized>(value: &T) -> String {
    value.to_string()
}

/// `target = "kind"` with the id and name when known.
#[inline]
pub fn target(builder: ActivityBuilder, kind: &str, id: Option<String>, name: Option<String>) -> ActivityBuilder {
    let mut target = Target::kind(kind);
    target.id = id;
    target.name = name;
    builder.with_target(target)
}

/// `logger = ..`: an `ActivityLogger`, `&ActivityLogger`, `Arc<ActivityLogger>`, ...
#[inline]
pub fn logger<L: Borrow<ActivityLogger>>(logger: &L) -> ActivityLogger {
    logger.borrow().clone()
}

/// Logs the activity after the body returned; never panics, never awaits.
#[inline]
pub fn finish(logger: Option<&ActivityLogger>, builder: ActivityBuilder, elapsed: Duration, error: Option<String>) {
    let mut builder = builder.duration(elapsed);
    if let Some(error) = error {
        builder = builder.error(error);
    }
    match logger {
        Some(logger) => logger.log_async(builder),
        None => crate::log_async(builder),
    }
}

/// The type of a return edge that is never taken.
#[doc(hidden)]
pub fn unreachable_return<T>() -> T {
    unreachable!("#[log_activity] type hint is never called")
}

/// The returned value, to be split into success and failure by
/// `(&&Returned(&value)).__activity_log_split()`: a `Result` by its variant
/// ([`SplitResult`]), anything else as a success ([`SplitValue`]).
#[derive(Debug)]
pub struct Returned<'a, R: ?Sized>(pub &'a R);

/// Splits a `Result`; chosen first by method resolution.
pub trait SplitResult {
    /// `Result<&T, &E>`.
    type Split;
    /// Ok or Err.
    fn __activity_log_split(&self) -> Self::Split;
}

impl<'a, T, E> SplitResult for &Returned<'a, Result<T, E>> {
    type Split = Result<&'a T, &'a E>;
    #[inline]
    fn __activity_log_split(&self) -> Self::Split {
        self.0.as_ref()
    }
}

/// Any other value is a success.
pub trait SplitValue {
    /// `Result<&R, &Never>`.
    type Split;
    /// Always Ok.
    fn __activity_log_split(&self) -> Self::Split;
}

impl<'a, R: ?Sized> SplitValue for Returned<'a, R> {
    type Split = Result<&'a R, &'a Never>;
    #[inline]
    fn __activity_log_split(&self) -> Self::Split {
        Ok(self.0)
    }
}

/// The error of a value that cannot fail.
#[derive(Debug)]
pub enum Never {}

impl Display for Never {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {}
    }
}

/// An error, to be turned into text by
/// `(&&&ErrText(err)).__activity_log_err_text()`: its `Display` text, else
/// its `Debug` text, else its type name.
#[derive(Debug)]
pub struct ErrText<'a, E: ?Sized>(pub &'a E);

/// `Display`, chosen first.
pub trait ErrDisplay {
    /// The text.
    fn __activity_log_err_text(&self) -> String;
}

impl<E: Display + ?Sized> ErrDisplay for &&ErrText<'_, E> {
    fn __activity_log_err_text(&self) -> String {
        self.0.to_string()
    }
}

/// `Debug`, when there is no `Display`.
pub trait ErrDebug {
    /// The text.
    fn __activity_log_err_text(&self) -> String;
}

impl<E: Debug + ?Sized> ErrDebug for &ErrText<'_, E> {
    fn __activity_log_err_text(&self) -> String {
        format!("{:?}", self.0)
    }
}

/// Neither: the type's name.
pub trait ErrOpaque {
    /// The text.
    fn __activity_log_err_text(&self) -> String;
}

impl<E: ?Sized> ErrOpaque for ErrText<'_, E> {
    fn __activity_log_err_text(&self) -> String {
        format!("error of type `{}`", type_name::<E>())
    }
}

/// What `tx = ..` may name: a sqlx transaction or connection of a store
/// that [`log_in`](crate::log_in) writes to, or a `&mut` to one.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub trait TxConn {
    /// The connection the transaction is open on.
    fn tx_conn(&mut self) -> &mut dyn crate::InTransaction;
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl<T: TxConn + ?Sized> TxConn for &mut T {
    fn tx_conn(&mut self) -> &mut dyn crate::InTransaction {
        (**self).tx_conn()
    }
}

#[cfg(feature = "postgres")]
impl TxConn for sqlx::PgConnection {
    fn tx_conn(&mut self) -> &mut dyn crate::InTransaction {
        self
    }
}

#[cfg(feature = "postgres")]
impl TxConn for sqlx::Transaction<'_, sqlx::Postgres> {
    fn tx_conn(&mut self) -> &mut dyn crate::InTransaction {
        &mut **self
    }
}

#[cfg(feature = "sqlite")]
impl TxConn for sqlx::SqliteConnection {
    fn tx_conn(&mut self) -> &mut dyn crate::InTransaction {
        self
    }
}

#[cfg(feature = "sqlite")]
impl TxConn for sqlx::Transaction<'_, sqlx::Sqlite> {
    fn tx_conn(&mut self) -> &mut dyn crate::InTransaction {
        &mut **self
    }
}

/// Writes the activity in the caller's transaction (`tx = ..`), with the
/// given logger's redaction or the one in effect. The function already
/// ran, and its value is returned untouched: a failed write is reported
/// (`tracing`, error level); on PostgreSQL it also leaves the transaction
/// unable to commit, so the change and its activity still go together.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub async fn finish_in<C: TxConn + ?Sized>(
    logger: Option<&ActivityLogger>,
    conn: &mut C,
    builder: ActivityBuilder,
    elapsed: Duration,
    error: Option<String>,
) {
    let mut builder = builder.duration(elapsed);
    if let Some(error) = error {
        builder = builder.error(error);
    }
    let written = match logger {
        Some(logger) => logger.log_in(conn.tx_conn(), builder).await,
        None => crate::log_in(conn.tx_conn(), builder).await,
    };
    if let Err(e) = written {
        tracing::error!(error = %e, "#[log_activity(tx = ..)]: the activity could not be written in the transaction");
    }
}
