//! The live tail both stream transports share: an optional catch-up from
//! the store after a client's last event, then live activities, filtered.

use super::relay::{LiveEvent, Relayed};
use super::ApiState;
use crate::query::{ActivityFilter, Cursor, Order, PageRequest};
use crate::Activity;
use chrono::Utc;
use futures_util::Stream;
use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use tokio::sync::broadcast::{error::RecvError, Receiver};
use uuid::Uuid;

/// Rows read per catch-up query.
const CATCH_UP_PAGE: u32 = 500;

/// How far back a caught-up row may also still arrive live.
const OVERLAP: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// One event of a tail.
pub(crate) enum TailEvent {
    /// A matching activity (with its event id: resume after it with
    /// `Last-Event-ID`).
    Activity(Arc<LiveEvent>),
    /// The client fell behind and missed this many live activities; they
    /// can be read back by resuming from the last event id.
    Lagged(u64),
    /// The catch-up read failed.
    Failed(String),
}

/// The event id of an activity: a cursor in oldest-first order.
pub(crate) fn event_id(a: &Activity) -> String {
    Cursor::after(a, Order::OldestFirst).to_string()
}

/// Parses a client's last event id.
pub(crate) fn resume_point(text: &str) -> Option<Cursor> {
    text.parse::<Cursor>().ok().filter(|c| c.order() == Order::OldestFirst)
}

struct Tail {
    state: Arc<ApiState>,
    filter: ActivityFilter,
    rx: Receiver<Relayed>,
    catch_up: Option<Cursor>,
    pending: VecDeque<Activity>,
    /// Caught-up ids recent enough to also arrive live.
    caught_up: HashSet<Uuid>,
}

/// The tail: subscribed before the catch-up reads the store, so that
/// nothing logged in between is missed; a live activity already sent by the
/// catch-up is not sent twice.
pub(crate) fn tail(
    state: Arc<ApiState>,
    filter: ActivityFilter,
    rx: Receiver<Relayed>,
    resume: Option<Cursor>,
) -> impl Stream<Item = TailEvent> + Send {
    let filter = filter.order(Order::OldestFirst);
    let tail = Tail { state, filter, rx, catch_up: resume, pending: VecDeque::new(), caught_up: HashSet::new() };
    futures_util::stream::unfold(tail, |mut t| async move {
        loop {
            if let Some(activity) = t.pending.pop_front() {
                return Some((TailEvent::Activity(Arc::new(LiveEvent::new(activity))), t));
            }
            if let Some(cursor) = t.catch_up.take() {
                let request = PageRequest::first(CATCH_UP_PAGE).after(cursor);
                match t.state.api.store.query(&t.filter, &request).await {
                    Ok(page) => {
                        let recent = Utc::now() - OVERLAP;
                        t.caught_up.extend(page.items.iter().filter(|a| a.occurred_at >= recent).map(|a| a.id));
                        t.catch_up = page.next_cursor;
                        t.pending.extend(page.items);
                    }
                    Err(e) => return Some((TailEvent::Failed(e.to_string()), t)),
                }
                continue;
            }
            match t.rx.recv().await {
                Ok(Relayed::Activity(e)) if t.filter.matches(&e.activity) && !t.caught_up.remove(&e.activity.id) => {
                    return Some((TailEvent::Activity(e), t));
                }
                Ok(Relayed::Activity(_)) => {}
                Ok(Relayed::Lagged(n)) | Err(RecvError::Lagged(n)) => return Some((TailEvent::Lagged(n), t)),
                Err(RecvError::Closed) => return None,
            }
        }
    })
}
