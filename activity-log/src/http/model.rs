//! The JSON bodies the router reads and writes (besides [`Activity`]).

use crate::query::{ActivityStats, Page};
use crate::{Activity, Actor, Change, Outcome, Severity, Target};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use uuid::Uuid;

/// One page of `GET /activities`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ActivityPage {
    /// The activities, in the requested order.
    pub items: Vec<Activity>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
    /// Every matching row, when asked for with `total=true`.
    pub total: Option<u64>,
}

impl From<Page> for ActivityPage {
    fn from(page: Page) -> Self {
        Self { items: page.items, next_cursor: page.next_cursor.map(|c| c.to_string()), total: page.total }
    }
}

/// `GET /activities/stats`: exact counts over the matching activities.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StatsBody {
    /// How many matched.
    pub total: u64,
    /// Per activity type.
    pub by_type: BTreeMap<String, u64>,
    /// Per target kind.
    pub by_target_kind: BTreeMap<String, u64>,
    /// Per outcome (`success`, `failure`, `denied`); zeros left out.
    pub by_outcome: BTreeMap<String, u64>,
    /// The most active actors, most first.
    pub top_actors: Vec<ActorCount>,
    /// Activities per bucket, earliest first; empty buckets left out.
    pub histogram: Vec<BucketCount>,
}

/// One actor's count.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ActorCount {
    /// The actor's id.
    pub actor: String,
    /// Its activities.
    pub count: u64,
}

/// One histogram bucket.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BucketCount {
    /// The bucket's start (UTC).
    pub start: DateTime<Utc>,
    /// Its activities.
    pub count: u64,
}

impl From<ActivityStats> for StatsBody {
    fn from(s: ActivityStats) -> Self {
        Self {
            total: s.total,
            by_type: s.by_type,
            by_target_kind: s.by_target_kind,
            by_outcome: s.by_outcome.into_iter().map(|(o, n)| (o.as_str().to_owned(), n)).collect(),
            top_actors: s.top_actors.into_iter().map(|(actor, count)| ActorCount { actor, count }).collect(),
            histogram: s.histogram.into_iter().map(|(start, count)| BucketCount { start, count }).collect(),
        }
    }
}

/// An activity sent to `POST /activities` (one, or an array of them).
/// Only `activity_type` is required; `id` (a UUID, the idempotency key)
/// and `occurred_at` default to new ones, `tenant` to the principal's.
/// Unknown fields are refused.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct IngestActivity {
    pub id: Option<Uuid>,
    pub occurred_at: Option<DateTime<Utc>>,
    pub tenant: Option<String>,
    #[schema(min_length = 1, max_length = 128)]
    pub activity_type: String,
    pub target: Option<Target>,
    pub actor: Option<Actor>,
    pub outcome: Option<Outcome>,
    pub error: Option<String>,
    pub severity: Option<Severity>,
    pub description: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    pub changes: Option<BTreeMap<String, Change>>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub trace_id: Option<String>,
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    #[serde(default, deserialize_with = "integral::option_u64")]
    pub duration_us: Option<u64>,
    pub tags: Option<Vec<String>>,
}

impl IngestActivity {
    /// The activity, with defaults filled in, validated.
    pub(crate) fn into_activity(self) -> Result<Activity, crate::ValidationError> {
        use crate::IntoActivity;
        let mut b = Activity::new(self.activity_type);
        if let Some(id) = self.id {
            b = b.id(id);
        }
        if let Some(at) = self.occurred_at {
            b = b.occurred_at(at);
        }
        let mut a = b.into_activity()?;
        a.tenant = self.tenant;
        a.target = self.target;
        a.actor = self.actor;
        a.outcome = self.outcome.unwrap_or_default();
        a.error = self.error;
        a.severity = self.severity.unwrap_or_default();
        a.description = self.description;
        a.metadata = self.metadata.unwrap_or_default();
        a.changes = self.changes.unwrap_or_default();
        a.ip = self.ip;
        a.user_agent = self.user_agent;
        a.request_id = self.request_id;
        a.trace_id = self.trace_id;
        a.duration = self.duration_us.map(std::time::Duration::from_micros);
        a.tags = self.tags.unwrap_or_default();
        a.validate()?;
        Ok(a)
    }
}

/// What `POST /activities` accepted.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IngestReceipt {
    /// How many were accepted (all of them: a request is accepted whole or
    /// refused whole).
    pub accepted: usize,
    /// Their ids, in the order sent.
    pub ids: Vec<Uuid>,
}

/// `POST /activities/retention`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionRequest {
    /// Delete activities older than this many days (1 to 36500).
    #[schema(minimum = 1, maximum = 36500)]
    #[serde(deserialize_with = "integral::u32")]
    pub older_than_days: u32,
    /// Only count what would be deleted.
    #[serde(default)]
    pub dry_run: bool,
    /// Only this tenant's (a tenant-scoped admin: only its own, the default).
    pub tenant: Option<String>,
}

/// What retention did (or, in a dry run, would do).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RetentionResult {
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Activities that occurred before this instant were (or would be) deleted.
    pub cutoff: DateTime<Utc>,
    /// How many were deleted, or in a dry run would be.
    pub count: u64,
}

/// Whole numbers as JSON Schema sees them: `2.0` is the integer 2.
mod integral {
    use serde::de::{Deserializer, Error};
    use serde::Deserialize;

    /// A whole number from 0 to `i64::MAX` (what the stores keep).
    fn whole<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let n = serde_json::Number::deserialize(d)?;
        let whole = match (n.as_u64(), n.as_f64()) {
            (Some(u), _) => Some(u),
            (None, Some(f)) if f >= 0.0 && f.fract() == 0.0 && f < i64::MAX as f64 => Some(f as u64),
            _ => None,
        };
        whole
            .filter(|u| i64::try_from(*u).is_ok())
            .ok_or_else(|| D::Error::custom("expected a whole number from 0 to 9223372036854775807"))
    }

    pub(super) fn u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        u32::try_from(whole(d)?).map_err(|_| D::Error::custom("expected a whole number from 1 to 36500"))
    }

    pub(super) fn option_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        Option::<serde_json::Number>::deserialize(d)?
            .map(|n| whole(serde_json::Value::Number(n)).map_err(D::Error::custom))
            .transpose()
    }
}
