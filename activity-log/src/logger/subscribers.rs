//! The live tail's broadcast channel, and a flag that spares every logged
//! activity a look at it while nobody subscribes: asking the channel how
//! many receivers it has takes its lock, which the callers of every thread
//! would otherwise contend for on each activity.

use crate::Activity;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use tokio::sync::broadcast;

pub(crate) struct Subscribers {
    sender: broadcast::Sender<Activity>,
    /// False only when the channel was seen without receivers and none was
    /// added since: [`subscribe`](Self::subscribe) sets it after adding one.
    maybe_some: AtomicBool,
}

impl Subscribers {
    pub(crate) fn new(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity.max(1));
        Self { sender, maybe_some: AtomicBool::new(false) }
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Activity> {
        let receiver = self.sender.subscribe();
        self.maybe_some.store(true, SeqCst);
        receiver
    }

    /// Sends a copy of `activity` to the subscribers, if there are any.
    pub(crate) fn send(&self, activity: &Activity) {
        if !self.maybe_some.load(SeqCst) {
            return;
        }
        if self.sender.receiver_count() == 0 {
            // Cleared, then looked at again: a receiver added in between
            // is seen here, and one added after sets the flag itself.
            self.maybe_some.store(false, SeqCst);
            if self.sender.receiver_count() == 0 {
                return;
            }
            self.maybe_some.store(true, SeqCst);
        }
        let _ = self.sender.send(activity.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_live_subscribers_get_copies() {
        let subscribers = Subscribers::new(8);
        subscribers.send(&Activity::new("before").build().unwrap());
        let mut first = subscribers.subscribe();
        subscribers.send(&Activity::new("one").build().unwrap());
        assert_eq!(first.try_recv().unwrap().activity_type, "one");
        drop(first);
        subscribers.send(&Activity::new("nobody").build().unwrap());
        assert!(!subscribers.maybe_some.load(SeqCst));
        let mut second = subscribers.subscribe();
        subscribers.send(&Activity::new("two").build().unwrap());
        assert_eq!(second.try_recv().unwrap().activity_type, "two");
        assert!(second.try_recv().is_err());
    }
}
