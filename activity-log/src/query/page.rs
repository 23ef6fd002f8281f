//! Pages of results: keyset cursors, limit/offset, totals.

use super::{Order, QueryError};
use crate::Activity;
use chrono::{DateTime, Utc};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// The largest page a store returns; a larger request is refused with
/// [`QueryError::PageSize`].
pub const MAX_PAGE_SIZE: u32 = 1000;

/// The default page size of [`PageRequest::default`].
pub const DEFAULT_PAGE_SIZE: u32 = 50;

/// An opaque position in a result set: "after this row, in this order".
///
/// Give the string from [`Page::next_cursor`] back to a client and take it
/// back with `str::parse`; its content is not part of the API. A cursor
/// made for one order is refused for the other.
///
/// ```
/// use activity_log::query::Cursor;
/// let text = format!("n{}", "0".repeat(48));
/// let cursor: Cursor = text.parse()?;
/// assert_eq!(cursor.to_string(), text);
/// assert!("not a cursor".parse::<Cursor>().is_err());
/// # Ok::<(), activity_log::query::QueryError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cursor {
    order: Order,
    occurred_at_us: i64,
    id: Uuid,
}

impl Cursor {
    /// The position just after `activity` when reading in `order`.
    pub fn after(activity: &Activity, order: Order) -> Self {
        Self { order, occurred_at_us: activity.occurred_at.timestamp_micros(), id: activity.id }
    }

    /// The order the cursor was made for.
    pub fn order(&self) -> Order {
        self.order
    }

    /// The `occurred_at` of the last row seen, in microseconds since the
    /// Unix epoch.
    pub fn occurred_at_micros(&self) -> i64 {
        self.occurred_at_us
    }

    /// The `occurred_at` of the last row seen.
    pub fn occurred_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.occurred_at_us).unwrap_or_default()
    }

    /// The id of the last row seen.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// Whether a row at (`occurred_at_us`, `id`) comes after the cursor.
    pub fn precedes(&self, occurred_at_us: i64, id: Uuid) -> bool {
        let key = (occurred_at_us, id);
        let at = (self.occurred_at_us, self.id);
        match self.order {
            Order::NewestFirst => key < at,
            Order::OldestFirst => key > at,
        }
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = match self.order {
            Order::NewestFirst => 'n',
            Order::OldestFirst => 'o',
        };
        // Flip the sign bit so that the hex digits sort like the numbers.
        write!(f, "{tag}{:016x}{}", (self.occurred_at_us as u64) ^ (1 << 63), self.id.simple())
    }
}

impl FromStr for Cursor {
    type Err = QueryError;

    fn from_str(s: &str) -> Result<Self, QueryError> {
        let order = match s.as_bytes().first() {
            Some(b'n') => Order::NewestFirst,
            Some(b'o') => Order::OldestFirst,
            _ => return Err(QueryError::InvalidCursor),
        };
        if s.len() != 49 || !s.is_char_boundary(17) {
            return Err(QueryError::InvalidCursor);
        }
        let time = u64::from_str_radix(&s[1..17], 16).map_err(|_| QueryError::InvalidCursor)?;
        let id = Uuid::try_parse(&s[17..]).map_err(|_| QueryError::InvalidCursor)?;
        Ok(Self { order, occurred_at_us: (time ^ (1 << 63)) as i64, id })
    }
}

/// Where a page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PagePosition {
    /// At the first row.
    #[default]
    Start,
    /// Just after a cursor (keyset pagination: stable and fast at any depth).
    After(Cursor),
    /// After skipping this many rows (for clients that want pages by
    /// number; slower the deeper it goes).
    Offset(u64),
}

/// Which page of results to return.
///
/// ```
/// use activity_log::query::{PageRequest, PagePosition, MAX_PAGE_SIZE};
///
/// let first = PageRequest::first(100).with_total();
/// assert_eq!(first.limit(), 100);
/// assert!(first.validate().is_ok());
/// let third = PageRequest::first(100).offset(200);
/// assert_eq!(third.position(), PagePosition::Offset(200));
/// assert!(PageRequest::first(MAX_PAGE_SIZE + 1).validate().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    limit: u32,
    position: PagePosition,
    with_total: bool,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self::first(DEFAULT_PAGE_SIZE)
    }
}

impl PageRequest {
    /// The first `limit` rows.
    pub fn first(limit: u32) -> Self {
        Self { limit, position: PagePosition::Start, with_total: false }
    }

    /// The `limit` rows after `cursor`.
    pub fn after(mut self, cursor: Cursor) -> Self {
        self.position = PagePosition::After(cursor);
        self
    }

    /// The `limit` rows after a cursor string a client sent back, or the
    /// first page when it is `None`.
    pub fn after_str(self, cursor: Option<&str>) -> Result<Self, QueryError> {
        Ok(match cursor {
            Some(c) => self.after(c.parse()?),
            None => self,
        })
    }

    /// The `limit` rows after skipping `offset`.
    pub fn offset(mut self, offset: u64) -> Self {
        self.position = PagePosition::Offset(offset);
        self
    }

    /// Also count every matching row ([`Page::total`]); costs one more query.
    pub fn with_total(mut self) -> Self {
        self.with_total = true;
        self
    }

    /// The most rows on the page.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// Where the page starts.
    pub fn position(&self) -> PagePosition {
        self.position
    }

    /// Whether the exact total was asked for.
    pub fn wants_total(&self) -> bool {
        self.with_total
    }

    /// Checks the page size (1 to [`MAX_PAGE_SIZE`]) and that a cursor was
    /// made for `order`. Stores call this before querying.
    pub fn validate_for(&self, order: Order) -> Result<(), QueryError> {
        self.validate()?;
        match self.position {
            PagePosition::After(c) if c.order() != order => Err(QueryError::InvalidCursor),
            _ => Ok(()),
        }
    }

    /// Checks the page size (1 to [`MAX_PAGE_SIZE`]).
    pub fn validate(&self) -> Result<(), QueryError> {
        if self.limit == 0 || self.limit > MAX_PAGE_SIZE {
            return Err(QueryError::PageSize { requested: self.limit, max: MAX_PAGE_SIZE });
        }
        Ok(())
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Page {
    /// The activities, in the filter's order.
    pub items: Vec<Activity>,
    /// Whether more rows follow this page.
    pub has_more: bool,
    /// The cursor of the next page, when `has_more`.
    pub next_cursor: Option<Cursor>,
    /// The exact number of matching rows, when asked for.
    pub total: Option<u64>,
}

impl Page {
    /// Assembles a page from up to `limit + 1` rows fetched in `order`: the
    /// extra row only says that more follow. For store implementations.
    pub fn from_rows(mut rows: Vec<Activity>, limit: u32, order: Order, total: Option<u64>) -> Self {
        let has_more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_cursor = if has_more { rows.last().map(|a| Cursor::after(a, order)) } else { None };
        Self { items: rows, has_more, next_cursor, total }
    }
}
