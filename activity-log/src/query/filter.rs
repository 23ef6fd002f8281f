//! Which activities a query, a count, the stats or an export look at.

use crate::{Activity, Outcome, Severity};
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use serde_json::Value;

/// The order results come in. Ties on `occurred_at` are broken by `id`, so
/// the order is total and identical on every store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Order {
    /// Latest `occurred_at` first (the default).
    #[default]
    NewestFirst,
    /// Earliest `occurred_at` first.
    OldestFirst,
}

/// A scalar value a top-level metadata key must equal, see
/// [`ActivityFilter::metadata`].
///
/// Numbers compare numerically (`3` equals `3.0`); a string never equals a
/// number, and objects or arrays are not matched by value.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum MetadataValue {
    /// A JSON string.
    String(String),
    /// A JSON integer.
    Integer(i64),
    /// A JSON number with a fraction.
    Float(f64),
    /// `true` or `false`.
    Bool(bool),
    /// JSON `null` (an explicit null, not a missing key).
    Null,
}

impl MetadataValue {
    /// Whether a stored metadata value equals this one.
    pub fn matches(&self, stored: &Value) -> bool {
        match (self, stored) {
            (Self::String(s), Value::String(v)) => s == v,
            (Self::Bool(b), Value::Bool(v)) => b == v,
            (Self::Null, Value::Null) => true,
            (Self::Integer(i), Value::Number(n)) => match n.as_i64() {
                Some(v) => v == *i,
                None => n.as_f64() == Some(*i as f64),
            },
            (Self::Float(f), Value::Number(n)) => n.as_f64() == Some(*f),
            _ => false,
        }
    }
}

macro_rules! metadata_value_from {
    ($($ty:ty => |$v:ident| $e:expr),* $(,)?) => {
        $(impl From<$ty> for MetadataValue {
            fn from($v: $ty) -> Self {
                $e
            }
        })*
    };
}

metadata_value_from! {
    &str => |v| Self::String(v.to_owned()),
    String => |v| Self::String(v),
    i64 => |v| Self::Integer(v),
    i32 => |v| Self::Integer(v.into()),
    u32 => |v| Self::Integer(v.into()),
    f64 => |v| Self::Float(v),
    bool => |v| Self::Bool(v),
}

/// Which activities to look at: every condition set must hold (AND); an
/// unset condition matches everything.
///
/// Conditions are data, never SQL: stores bind every value as a parameter,
/// and field and sort names come from enums.
///
/// ```
/// use activity_log::query::{ActivityFilter, Order};
/// use activity_log::Outcome;
///
/// let filter = ActivityFilter::new()
///     .tenant("acme")
///     .activity_types(["call_created", "call_ended"])
///     .target("call", "42")
///     .outcome(Outcome::Failure)
///     .last_hours(24)
///     .search("voicemail")
///     .metadata("queue", "sales")
///     .order(Order::OldestFirst);
/// assert_eq!(filter.tenant.as_deref(), Some("acme"));
/// assert_eq!(filter.activity_types.len(), 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ActivityFilter {
    /// Only this tenant's activities. `None`: every tenant (an operator's
    /// view; scope user-facing queries to a tenant).
    pub tenant: Option<String>,
    /// Only these activity types (any of them); empty: every type.
    pub activity_types: Vec<String>,
    /// Only activities on targets of this kind.
    pub target_kind: Option<String>,
    /// Only activities on the target with this id.
    pub target_id: Option<String>,
    /// Only activities by the actor with this id.
    pub actor_id: Option<String>,
    /// Only activities with this outcome.
    pub outcome: Option<Outcome>,
    /// Only activities with this severity.
    pub severity: Option<Severity>,
    /// Only activities of this request or operation.
    pub request_id: Option<String>,
    /// Only activities that occurred at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Only activities that occurred strictly before this instant.
    pub until: Option<DateTime<Utc>>,
    /// Only activities whose description contains this text, compared
    /// case-insensitively (both sides lower-cased with
    /// [`str::to_lowercase`]).
    pub search: Option<String>,
    /// Only activities whose metadata has each of these top-level keys with
    /// the given value.
    pub metadata: Vec<(String, MetadataValue)>,
    /// The order of results (and of exports).
    pub order: Order,
}

impl ActivityFilter {
    /// Matches every activity of every tenant, newest first.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only `tenant`'s activities.
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Adds one accepted activity type.
    pub fn activity_type(mut self, activity_type: impl Into<String>) -> Self {
        self.activity_types.push(activity_type.into());
        self
    }

    /// Adds several accepted activity types.
    pub fn activity_types<I, S>(mut self, types: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.activity_types.extend(types.into_iter().map(Into::into));
        self
    }

    /// Only targets of `kind`.
    pub fn target_kind(mut self, kind: impl Into<String>) -> Self {
        self.target_kind = Some(kind.into());
        self
    }

    /// Only the target of `kind` with `id`.
    pub fn target(mut self, kind: impl Into<String>, id: impl std::fmt::Display) -> Self {
        self.target_kind = Some(kind.into());
        self.target_id = Some(id.to_string());
        self
    }

    /// Only targets with this id (of any kind).
    pub fn target_id(mut self, id: impl std::fmt::Display) -> Self {
        self.target_id = Some(id.to_string());
        self
    }

    /// Only this actor's activities.
    pub fn actor_id(mut self, id: impl Into<String>) -> Self {
        self.actor_id = Some(id.into());
        self
    }

    /// Only this outcome.
    pub fn outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = Some(outcome);
        self
    }

    /// Only this severity.
    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = Some(severity);
        self
    }

    /// Only this request or operation.
    pub fn request_id(mut self, id: impl Into<String>) -> Self {
        self.request_id = Some(id.into());
        self
    }

    /// Only at or after `since`.
    pub fn since(mut self, since: DateTime<Utc>) -> Self {
        self.since = Some(since);
        self
    }

    /// Only strictly before `until`.
    pub fn until(mut self, until: DateTime<Utc>) -> Self {
        self.until = Some(until);
        self
    }

    /// Only in `[since, until)`.
    pub fn between(self, since: DateTime<Utc>, until: DateTime<Utc>) -> Self {
        self.since(since).until(until)
    }

    /// Only the last `hours` hours, counted from now (the time this method
    /// is called), with no upper bound.
    pub fn last_hours(mut self, hours: u32) -> Self {
        self.since = Some(Utc::now() - ChronoDuration::hours(hours.into()));
        self.until = None;
        self
    }

    /// Only descriptions containing `text`, case-insensitively.
    pub fn search(mut self, text: impl Into<String>) -> Self {
        self.search = Some(text.into());
        self
    }

    /// Only metadata where the top-level `key` equals `value`; several
    /// calls must all hold.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<MetadataValue>) -> Self {
        self.metadata.push((key.into(), value.into()));
        self
    }

    /// The order of results.
    pub fn order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }

    /// The reference semantics of the filter (the order aside): whether one
    /// activity matches. Stores must agree with it exactly.
    pub fn matches(&self, a: &Activity) -> bool {
        fn eq(want: &Option<String>, have: Option<&str>) -> bool {
            want.as_deref().map_or(true, |w| have == Some(w))
        }
        eq(&self.tenant, a.tenant.as_deref())
            && (self.activity_types.is_empty() || self.activity_types.contains(&a.activity_type))
            && eq(&self.target_kind, a.target.as_ref().map(|t| t.kind.as_str()))
            && eq(&self.target_id, a.target.as_ref().and_then(|t| t.id.as_deref()))
            && eq(&self.actor_id, a.actor.as_ref().and_then(|x| x.id.as_deref()))
            && self.outcome.map_or(true, |o| o == a.outcome)
            && self.severity.map_or(true, |s| s == a.severity)
            && eq(&self.request_id, a.request_id.as_deref())
            && self.since.map_or(true, |s| a.occurred_at >= s)
            && self.until.map_or(true, |u| a.occurred_at < u)
            && self.search.as_deref().map_or(true, |needle| {
                a.description.as_deref().is_some_and(|d| d.to_lowercase().contains(&needle.to_lowercase()))
            })
            && self.metadata.iter().all(|(k, v)| a.metadata.get(k).is_some_and(|stored| v.matches(stored)))
    }
}
