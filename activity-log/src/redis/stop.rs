//! A shutdown future that can be checked without waiting and raced
//! against a sleep.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub(crate) struct Stop<F> {
    future: Pin<Box<F>>,
    fired: bool,
}

impl<F: Future<Output = ()>> Stop<F> {
    pub(crate) fn new(future: F) -> Self {
        Self { future: Box::pin(future), fired: false }
    }

    /// Whether the shutdown has completed (polled once, never waits).
    pub(crate) async fn check(&mut self) -> bool {
        if !self.fired {
            tokio::select! {
                biased;
                () = self.future.as_mut() => self.fired = true,
                () = std::future::ready(()) => {}
            }
        }
        self.fired
    }

    /// Sleeps `delay` unless the shutdown completes first; returns whether
    /// it did.
    pub(crate) async fn sleep(&mut self, delay: Duration) -> bool {
        if !self.fired {
            tokio::select! {
                () = self.future.as_mut() => self.fired = true,
                () = tokio::time::sleep(delay) => {}
            }
        }
        self.fired
    }
}
