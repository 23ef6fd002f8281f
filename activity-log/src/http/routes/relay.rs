//! One subscription to the live source, shared by every stream client of a
//! router: each live activity is taken from the source once and encoded at
//! most once per transport, however many clients tail it.

use crate::Activity;
use axum::body::Bytes;
use axum::extract::ws::Utf8Bytes;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use tokio::sync::broadcast::{self, error::RecvError, Receiver, Sender};

/// An activity on its way to stream clients, with its encodings made on
/// first use and shared from then on.
pub(crate) struct LiveEvent {
    pub(crate) activity: Activity,
    event_id: OnceLock<String>,
    sse: OnceLock<Bytes>,
    ws: OnceLock<Utf8Bytes>,
}

impl LiveEvent {
    pub(crate) fn new(activity: Activity) -> Self {
        Self { activity, event_id: OnceLock::new(), sse: OnceLock::new(), ws: OnceLock::new() }
    }

    /// The event id: a cursor in oldest-first order, so a client resumes
    /// after it with `Last-Event-ID`.
    pub(crate) fn event_id(&self) -> &str {
        self.event_id.get_or_init(|| super::tail::event_id(&self.activity))
    }

    /// The whole Server-Sent Events frame (`event`, `id`, `data`, blank
    /// line).
    pub(crate) fn sse_frame(&self) -> Bytes {
        self.sse
            .get_or_init(|| match serde_json::to_string(&self.activity) {
                // serde_json escapes every line break, so the JSON is one
                // `data:` line.
                Ok(json) => format!("event: activity\nid: {}\ndata: {json}\n\n", self.event_id()).into(),
                Err(e) => sse_error(&format!("could not encode an activity: {e}")),
            })
            .clone()
    }

    /// The WebSocket message text: `{"type":"activity","id":..,"activity":{..}}`.
    pub(crate) fn ws_text(&self) -> Utf8Bytes {
        self.ws
            .get_or_init(|| {
                let message =
                    serde_json::json!({"type": "activity", "id": self.event_id(), "activity": &self.activity});
                message.to_string().into()
            })
            .clone()
    }
}

/// An SSE `error` event.
pub(crate) fn sse_error(detail: &str) -> Bytes {
    // One `data:` line per line of the detail, as the format requires.
    let data: String = detail.lines().map(|l| format!("data: {l}\n")).collect();
    format!("event: error\n{data}\n").into()
}

/// What the relay passes on: an activity, or how many the relay itself
/// missed from the source.
#[derive(Clone)]
pub(crate) enum Relayed {
    Activity(Arc<LiveEvent>),
    Lagged(u64),
}

/// Fans the source out to the router's stream clients. Runs only while it
/// has clients: with none, it lets go of the source (so the logger stops
/// copying activities for it) and the next client starts it again.
pub(crate) struct Relay {
    out: Mutex<Option<Sender<Relayed>>>,
    capacity: usize,
}

impl Relay {
    /// A relay whose clients may fall `capacity` events behind before they
    /// are told they lagged.
    pub(crate) fn new(capacity: usize) -> Self {
        Self { out: Mutex::new(None), capacity: capacity.max(1) }
    }

    /// A receiver of every live event from now on; `source` is asked for a
    /// subscription when the relay is not running. `None` when there is no
    /// source.
    pub(crate) fn subscribe(
        self: &Arc<Self>,
        source: impl FnOnce() -> Option<Receiver<Activity>>,
    ) -> Option<Receiver<Relayed>> {
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(tx) = out.as_ref() {
            return Some(tx.subscribe());
        }
        let from = source()?;
        let (tx, rx) = broadcast::channel(self.capacity);
        *out = Some(tx.clone());
        tokio::spawn(Arc::clone(self).run(from, tx));
        Some(rx)
    }

    async fn run(self: Arc<Self>, mut from: Receiver<Activity>, to: Sender<Relayed>) {
        loop {
            let event = match from.recv().await {
                Ok(activity) => Relayed::Activity(Arc::new(LiveEvent::new(activity))),
                Err(RecvError::Lagged(n)) => Relayed::Lagged(n),
                Err(RecvError::Closed) => break,
            };
            // No receiver: the last client left. Stop, unless one has just
            // subscribed (under the lock `subscribe` takes).
            if to.send(event).is_err() && self.stop_if_unused(&to) {
                return;
            }
        }
        // The source ended: drop every sender so the clients' tails end.
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        if out.as_ref().is_some_and(|tx| tx.same_channel(&to)) {
            *out = None;
        }
    }

    /// Forgets `to` if nobody receives from it; whether it did.
    fn stop_if_unused(&self, to: &Sender<Relayed>) -> bool {
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        let unused = to.receiver_count() == 0;
        if unused && out.as_ref().is_some_and(|tx| tx.same_channel(to)) {
            *out = None;
        }
        unused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_client_shares_one_encoding_and_the_relay_stops_without_clients() {
        let (source, _) = broadcast::channel::<Activity>(16);
        let relay = Arc::new(Relay::new(16));
        let mut a = relay.subscribe(|| Some(source.subscribe())).expect("a source");
        let mut b = relay.subscribe(|| unreachable!("the relay is running")).expect("running");
        assert_eq!(source.receiver_count(), 1, "one subscription to the source");

        source.send(Activity::new("call_created").tenant("acme").build().expect("valid")).expect("sent");
        let (Relayed::Activity(x), Relayed::Activity(y)) = (a.recv().await.expect("a"), b.recv().await.expect("b"))
        else {
            panic!("activities expected")
        };
        assert!(Arc::ptr_eq(&x, &y), "one event shared");
        let frame = x.sse_frame();
        assert!(frame.starts_with(b"event: activity\nid: ") && frame.ends_with(b"\n\n"));
        assert_eq!(frame.as_ptr(), y.sse_frame().as_ptr(), "encoded once");
        let ws: serde_json::Value = serde_json::from_str(y.ws_text().as_str()).expect("json");
        assert_eq!((ws["type"].as_str(), ws["id"].as_str()), (Some("activity"), Some(x.event_id())));

        drop((a, b));
        source.send(Activity::new("call_ended").tenant("acme").build().expect("valid")).expect("sent");
        for _ in 0..100 {
            if source.receiver_count() == 0 {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(source.receiver_count(), 0, "the relay let go of the source");
        let mut c = relay.subscribe(|| Some(source.subscribe())).expect("restarted");
        source.send(Activity::new("call_ended").tenant("acme").build().expect("valid")).expect("sent");
        assert!(matches!(c.recv().await, Ok(Relayed::Activity(_))));
        drop(source);
        assert!(matches!(c.recv().await, Err(RecvError::Closed)), "the tail ends with the source");
    }

    #[test]
    fn an_error_event_keeps_every_line_in_data() {
        assert_eq!(&sse_error("a\nb")[..], b"event: error\ndata: a\ndata: b\n\n");
    }
}
