//! Independent expectations, and helpers that read a store completely.

use activity_log::query::{ActivityFilter, ActivityStore, Order, PageRequest};
use activity_log::Activity;
use uuid::Uuid;

/// The ids of `data` for which `pred` holds, in `order`, computed here
/// without the crate's filter code.
pub fn expected_ids<'a>(
    data: impl IntoIterator<Item = &'a Activity>,
    pred: impl Fn(&Activity) -> bool,
    order: Order,
) -> Vec<Uuid> {
    let mut rows: Vec<&Activity> = data.into_iter().filter(|a| pred(a)).collect();
    rows.sort_by(|a, b| (a.occurred_at, a.id.as_bytes()).cmp(&(b.occurred_at, b.id.as_bytes())));
    if order == Order::NewestFirst {
        rows.reverse();
    }
    rows.into_iter().map(|a| a.id).collect()
}

/// Every activity matching `filter`, following cursors with pages of
/// `page_size`.
pub async fn read_all(store: &dyn ActivityStore, filter: &ActivityFilter, page_size: u32) -> Vec<Activity> {
    let mut out = Vec::new();
    let mut request = PageRequest::first(page_size);
    loop {
        let page = store.query(filter, &request).await.expect("query");
        assert!(page.items.len() <= page_size as usize, "a page holds at most its limit");
        assert_eq!(page.has_more, page.next_cursor.is_some(), "has_more goes with next_cursor");
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => {
                // The cursor survives a round trip through a client.
                let text = c.to_string();
                request = PageRequest::first(page_size).after_str(Some(&text)).expect("cursor parses");
            }
            None => return out,
        }
    }
}

/// The ids of `activities`.
pub fn ids(activities: &[Activity]) -> Vec<Uuid> {
    activities.iter().map(|a| a.id).collect()
}

/// Asserts that `filter` returns exactly `expected` (in order) through
/// cursor pages, and that `count` agrees.
pub async fn assert_filter(store: &dyn ActivityStore, filter: &ActivityFilter, expected: &[Uuid], what: &str) {
    let got = ids(&read_all(store, filter, 1000).await);
    assert_eq!(got.len(), expected.len(), "{what}: number of rows");
    assert!(got == expected, "{what}: rows or their order differ");
    assert_eq!(store.count(filter).await.expect("count"), expected.len() as u64, "{what}: count");
}
