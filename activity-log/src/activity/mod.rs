//! The activity record and its builder.

mod builder;
mod diff;
mod duration_us;
mod finite;
mod kinds;
mod presets;
mod validate;

pub use builder::{ActivityBuilder, IntoActivity};
pub use kinds::{Actor, ActorKind, Change, Outcome, Severity, Target};
pub use validate::{limits, ValidationError};

pub(crate) use validate::validate;

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use uuid::Uuid;

/// One record of who did what to which resource, when, from where, and with
/// what outcome.
///
/// Build one with [`Activity::new`], which returns an [`ActivityBuilder`];
/// the builder validates when it is built or logged. The JSON shape (all
/// fields, always present, `null` when unset) is stable:
///
/// ```
/// use activity_log::{Activity, Actor};
///
/// let a = Activity::new("call_created")
///     .target("call", "42")
///     .actor(Actor::user("agent-7"))
///     .meta("queue", "sales")
///     .build()?;
/// let json = serde_json::to_value(&a)?;
/// assert_eq!(json["activity_type"], "call_created");
/// assert_eq!(json["target"]["id"], "42");
/// assert_eq!(json["metadata"]["queue"], "sales");
/// assert_eq!(a.id.get_version_num(), 7);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "axum", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub struct Activity {
    /// A UUIDv7 made when the activity is built: ordered by its millisecond
    /// (and strictly among the ids one thread makes), and the idempotency
    /// key of every write.
    pub id: Uuid,
    /// When it happened (UTC, microsecond precision).
    pub occurred_at: DateTime<Utc>,
    /// The tenant (subaccount) the activity belongs to.
    #[serde(default)]
    pub tenant: Option<String>,
    /// What happened, e.g. `call_created`, `user_login`.
    pub activity_type: String,
    /// On what.
    #[serde(default)]
    pub target: Option<Target>,
    /// Who did it.
    #[serde(default)]
    pub actor: Option<Actor>,
    /// How it ended.
    #[serde(default)]
    pub outcome: Outcome,
    /// The error text of a failure.
    #[serde(default)]
    pub error: Option<String>,
    /// How much it matters.
    #[serde(default)]
    pub severity: Severity,
    /// Human-readable words.
    #[serde(default)]
    pub description: Option<String>,
    /// Free-form data; always a JSON object.
    #[serde(default)]
    #[cfg_attr(feature = "axum", schema(value_type = Object))]
    pub metadata: Map<String, Value>,
    /// Before/after values per changed field.
    #[serde(default)]
    pub changes: BTreeMap<String, Change>,
    /// The client's IP address.
    #[serde(default)]
    pub ip: Option<String>,
    /// The client's user agent.
    #[serde(default)]
    pub user_agent: Option<String>,
    /// The request or operation id that groups related activities.
    #[serde(default)]
    pub request_id: Option<String>,
    /// A distributed trace id.
    #[serde(default)]
    pub trace_id: Option<String>,
    /// How long the action took.
    #[serde(default, rename = "duration_us", with = "duration_us")]
    #[cfg_attr(feature = "axum", schema(value_type = Option<u64>))]
    pub duration: Option<Duration>,
    /// Labels.
    #[serde(default)]
    pub tags: Vec<String>,
}

impl Activity {
    /// Starts an activity of the given type, with a fresh UUIDv7 id and the
    /// current time.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(activity_type: impl Into<String>) -> ActivityBuilder {
        ActivityBuilder::from_activity(Self::bare(activity_type.into()))
    }

    fn bare(activity_type: String) -> Self {
        let now = Utc::now();
        Self {
            id: crate::uuid_v7::at(now),
            occurred_at: now.trunc_subsecs(6),
            tenant: None,
            activity_type,
            target: None,
            actor: None,
            outcome: Outcome::Success,
            error: None,
            severity: Severity::Info,
            description: None,
            metadata: Map::new(),
            changes: BTreeMap::new(),
            ip: None,
            user_agent: None,
            request_id: None,
            trace_id: None,
            duration: None,
            tags: Vec::new(),
        }
    }

    /// Checks this activity against the documented [`limits`].
    pub fn validate(&self) -> Result<(), ValidationError> {
        validate(self).map(|_| ())
    }

    /// Turns this activity back into a builder, e.g. to adjust a copy.
    pub fn into_builder(self) -> ActivityBuilder {
        ActivityBuilder::from_activity(self)
    }
}
