//! [`MemorySink`] as an [`ActivityStore`]: the reference semantics, and a
//! store for users' tests.

use super::{ActivityFilter, ActivityStats, ActivityStore, Order, Page, PagePosition, PageRequest, QueryError};
use super::{Cursor, StatsRequest};
use crate::{Activity, MemorySink};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The matching activities of `all`, sorted in the filter's order.
fn matching<'a>(all: &'a [Activity], filter: &ActivityFilter) -> Vec<&'a Activity> {
    let mut rows: Vec<&Activity> = all.iter().filter(|a| filter.matches(a)).collect();
    rows.sort_unstable_by_key(|a| (a.occurred_at, a.id));
    if filter.order == Order::NewestFirst {
        rows.reverse();
    }
    rows
}

#[async_trait]
impl ActivityStore for MemorySink {
    async fn query(&self, filter: &ActivityFilter, page: &PageRequest) -> Result<Page, QueryError> {
        page.validate_for(filter.order)?;
        let take = page.limit() as usize + 1;
        Ok(self.with_activities(|all| {
            let rows = matching(all, filter);
            let total = page.wants_total().then_some(rows.len() as u64);
            let start = match page.position() {
                PagePosition::Start => 0,
                PagePosition::Offset(n) => usize::try_from(n).unwrap_or(usize::MAX).min(rows.len()),
                PagePosition::After(c) => after(&rows, &c),
            };
            let items = rows[start..].iter().take(take).map(|a| (*a).clone()).collect();
            Page::from_rows(items, page.limit(), filter.order, total)
        }))
    }

    async fn count(&self, filter: &ActivityFilter) -> Result<u64, QueryError> {
        Ok(self.with_activities(|all| all.iter().filter(|a| filter.matches(a)).count() as u64))
    }

    async fn get(&self, id: Uuid, tenant: Option<&str>) -> Result<Option<Activity>, QueryError> {
        Ok(self.with_activities(|all| {
            all.iter().find(|a| a.id == id && tenant.map_or(true, |t| a.tenant.as_deref() == Some(t))).cloned()
        }))
    }

    async fn stats(&self, filter: &ActivityFilter, request: &StatsRequest) -> Result<ActivityStats, QueryError> {
        Ok(self.with_activities(|all| ActivityStats::compute(all.iter().filter(|a| filter.matches(a)), request)))
    }

    async fn delete_before(&self, cutoff: DateTime<Utc>, tenant: Option<&str>) -> Result<u64, QueryError> {
        let gone =
            self.retain(|a| !(a.occurred_at < cutoff && tenant.map_or(true, |t| a.tenant.as_deref() == Some(t))));
        Ok(gone as u64)
    }

    fn name(&self) -> &str {
        "memory"
    }
}

/// The index of the first row after `cursor` in `rows` (sorted in the
/// cursor's order).
fn after(rows: &[&Activity], cursor: &Cursor) -> usize {
    rows.partition_point(|a| !cursor.precedes(a.occurred_at.timestamp_micros(), a.id))
}
