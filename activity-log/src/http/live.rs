//! Where the live tail's activities come from.

use crate::{Activity, ActivityLogger};
use tokio::sync::broadcast;

/// A source of live activities for the router's stream endpoints: each
/// call to [`subscribe`](Self::subscribe) is one client's receiver.
///
/// [`ActivityLogger`] is one (the activities this process logs); a feed
/// that spans instances (for example one reading a shared Redis stream)
/// is another.
pub trait LiveFeed: Send + Sync + 'static {
    /// A receiver of every activity published from now on. A receiver that
    /// falls behind gets `RecvError::Lagged` and never slows the feed.
    fn subscribe(&self) -> broadcast::Receiver<Activity>;
}

impl LiveFeed for ActivityLogger {
    fn subscribe(&self) -> broadcast::Receiver<Activity> {
        ActivityLogger::subscribe(self)
    }
}

impl LiveFeed for broadcast::Sender<Activity> {
    fn subscribe(&self) -> broadcast::Receiver<Activity> {
        broadcast::Sender::subscribe(self)
    }
}
