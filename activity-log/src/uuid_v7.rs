//! Fresh UUIDv7s from a context per thread.
//!
//! `Uuid::now_v7` orders every id of the process through one global lock,
//! which the threads of a busy service contend for on each activity. Here
//! each thread keeps its own context: ids are ordered by their millisecond
//! everywhere and strictly within a thread, and stay unique (a counter
//! seeded at random each millisecond, then random bits).

use chrono::{DateTime, Utc};
use uuid::timestamp::context::{ContextV7, ThreadLocalContext};
use uuid::{Timestamp, Uuid};

thread_local! {
    static CONTEXT: ContextV7 = const { ContextV7::new() };
}

/// A UUIDv7 for `time` (a time before 1970 counts as 1970).
pub(crate) fn at(time: DateTime<Utc>) -> Uuid {
    let seconds = u64::try_from(time.timestamp()).unwrap_or(0);
    let timestamp = Timestamp::from_unix(ThreadLocalContext::new(&CONTEXT), seconds, time.timestamp_subsec_nanos());
    Uuid::new_v7(timestamp)
}

/// A UUIDv7 for now.
#[cfg_attr(not(feature = "axum"), allow(dead_code))]
pub(crate) fn now() -> Uuid {
    Uuid::new_v7(Timestamp::now(ThreadLocalContext::new(&CONTEXT)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_v7_of_their_time_and_increase_within_a_thread() {
        let time = Utc::now();
        let ids: Vec<Uuid> = (0..10_000).map(|_| at(time)).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        for id in [ids[0], now()] {
            assert_eq!(id.get_version_num(), 7);
        }
        let (seconds, nanos) = ids[0].get_timestamp().unwrap().to_unix();
        assert_eq!(seconds as i64, time.timestamp());
        assert_eq!(nanos / 1_000_000, time.timestamp_subsec_millis());
    }

    #[test]
    fn threads_never_share_an_id() {
        let threads: Vec<_> =
            (0..4).map(|_| std::thread::spawn(|| (0..20_000).map(|_| now()).collect::<Vec<_>>())).collect();
        let mut all: Vec<Uuid> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
    }
}
