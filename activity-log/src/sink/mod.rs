//! Where activities go: the [`Sink`] trait and the sinks shipped in the crate.

mod error;
mod fanout;
mod memory;
mod null;

pub use error::{SinkError, SinkErrorKind};
pub use fanout::FanoutSink;
pub use memory::MemorySink;
pub use null::NullSink;

use crate::Activity;
use async_trait::async_trait;
use std::sync::Arc;

/// A destination for batches of activities.
///
/// Implementations must be idempotent by [`Activity::id`]: the logger
/// retries a batch after a transient error, and a retried batch must not
/// duplicate what an earlier attempt already wrote. A failed call means
/// "assume nothing of this batch was written".
///
/// Return [`SinkError::transient`] for errors worth retrying (connection
/// lost, database busy) and [`SinkError::permanent`] for records that can
/// never be written; the logger then splits the batch to write the good
/// records and quarantines only the bad one.
///
/// ```
/// use activity_log::{async_trait, Activity, Sink, SinkError};
///
/// struct Stdout;
///
/// #[async_trait]
/// impl Sink for Stdout {
///     async fn write_batch(&self, batch: &[Activity]) -> Result<(), SinkError> {
///         for a in batch {
///             println!("{} {}", a.occurred_at, a.activity_type);
///         }
///         Ok(())
///     }
/// }
/// ```
#[async_trait]
pub trait Sink: Send + Sync + 'static {
    /// Writes every activity of `batch`, or fails as a whole.
    async fn write_batch(&self, batch: &[Activity]) -> Result<(), SinkError>;

    /// A short name for logs and errors.
    fn name(&self) -> &str {
        std::any::type_name::<Self>()
    }

    /// The batch size this sink writes best, used when the logger's
    /// `batch_size` is not set explicitly. Stores whose cost is per
    /// transaction (SQLite rewrites every touched page per commit) want
    /// large batches; the batch timeout still bounds the latency.
    fn preferred_batch_size(&self) -> Option<usize> {
        None
    }

    /// Whether the logger should hand batches over by value with
    /// [`write_owned`](Self::write_owned). Only for sinks that keep the
    /// activities and never block for long (the call is not cancelled at
    /// the shutdown deadline): e.g. [`MemorySink`].
    fn prefers_owned(&self) -> bool {
        false
    }

    /// Writes a batch the logger hands over by value, saving a copy for
    /// sinks that keep activities. On error the batch comes back so that
    /// the logger can retry or split it. The default borrows it for
    /// [`write_batch`](Self::write_batch).
    async fn write_owned(&self, batch: Vec<Activity>) -> Result<(), (SinkError, Vec<Activity>)> {
        match self.write_batch(&batch).await {
            Ok(()) => Ok(()),
            Err(e) => Err((e, batch)),
        }
    }
}

/// Implements [`Sink`] for a type by forwarding every method to the sink
/// an expression of `self` names, so that no method is forgotten when the
/// trait grows: `forward_sink!(impl<S> for Arc<S> => |this| **this)`, or
/// `forward_sink!(impl for Wrapper => |this| this.inner)`.
macro_rules! forward_sink {
    (impl$(<$generic:ident>)? for $ty:ty => |$this:ident| $inner:expr) => {
        #[::async_trait::async_trait]
        impl$(<$generic: $crate::Sink + ?Sized>)? $crate::Sink for $ty {
            async fn write_batch(&self, batch: &[$crate::Activity]) -> Result<(), $crate::SinkError> {
                let $this = self;
                let inner = &$inner;
                inner.write_batch(batch).await
            }

            fn name(&self) -> &str {
                let $this = self;
                let inner = &$inner;
                inner.name()
            }

            fn prefers_owned(&self) -> bool {
                let $this = self;
                let inner = &$inner;
                inner.prefers_owned()
            }

            fn preferred_batch_size(&self) -> Option<usize> {
                let $this = self;
                let inner = &$inner;
                inner.preferred_batch_size()
            }

            async fn write_owned(
                &self,
                batch: Vec<$crate::Activity>,
            ) -> Result<(), ($crate::SinkError, Vec<$crate::Activity>)> {
                let $this = self;
                let inner = &$inner;
                inner.write_owned(batch).await
            }
        }
    };
}
pub(crate) use forward_sink;

// `Arc<S>` and `Box<S>` are sinks that forward every method to `S`.
forward_sink!(impl<S> for Arc<S> => |this| **this);
forward_sink!(impl<S> for Box<S> => |this| **this);
