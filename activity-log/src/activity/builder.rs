//! The chaining builder for [`Activity`].

use super::finite::{check_finite, CheckError};
use super::validate::json_kind;
use super::{diff::diff_values, validate, Activity, Actor, Change, Outcome, Severity, Target, ValidationError};
use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;
use serde_json::Value;
use std::fmt;
use std::time::Duration;
use uuid::Uuid;

/// Builds an [`Activity`]; made by [`Activity::new`].
///
/// Setters never fail; the first problem is remembered and reported by
/// [`build`](Self::build) (or by `log_async`, which refuses the activity and
/// counts it as rejected).
///
/// ```
/// use activity_log::{Activity, ValidationError};
///
/// let err = Activity::new("call_created").metadata(serde_json::json!([1, 2])).build().unwrap_err();
/// assert!(matches!(err, ValidationError::NotAnObject { .. }));
/// assert_eq!(err.to_string(), "activity field `metadata` must be a JSON object, but a JSON array was given");
/// ```
#[derive(Debug, Clone)]
#[must_use = "an activity builder does nothing until it is built or logged"]
pub struct ActivityBuilder {
    activity: Activity,
    error: Option<ValidationError>,
}

impl ActivityBuilder {
    pub(crate) fn from_activity(activity: Activity) -> Self {
        Self { activity, error: None }
    }

    fn fail(&mut self, err: ValidationError) {
        self.error.get_or_insert(err);
    }

    /// Validates and returns the activity.
    pub fn build(self) -> Result<Activity, ValidationError> {
        let activity = self.into_activity()?;
        validate(&activity)?;
        Ok(activity)
    }

    /// Sets the tenant (subaccount).
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.activity.tenant = Some(tenant.into());
        self
    }

    /// Sets the target kind and id.
    pub fn target(mut self, kind: impl Into<String>, id: impl fmt::Display) -> Self {
        self.activity.target = Some(Target::new(kind, id.to_string()));
        self
    }

    /// Sets the target kind only (e.g. an action on a collection).
    pub fn target_kind(mut self, kind: impl Into<String>) -> Self {
        self.activity.target = Some(Target::kind(kind));
        self
    }

    /// Sets the target's display name (the target kind must be set first;
    /// otherwise the kind `unknown` is used).
    pub fn target_name(mut self, name: impl Into<String>) -> Self {
        self.activity.target.get_or_insert_with(|| Target::kind("unknown")).name = Some(name.into());
        self
    }

    /// Sets the whole target.
    pub fn with_target(mut self, target: Target) -> Self {
        self.activity.target = Some(target);
        self
    }

    /// Sets who did it.
    pub fn actor(mut self, actor: Actor) -> Self {
        self.activity.actor = Some(actor);
        self
    }

    /// Sets the outcome.
    pub fn outcome(mut self, outcome: Outcome) -> Self {
        self.activity.outcome = outcome;
        self
    }

    /// Marks the activity failed with the error's `Display` text.
    pub fn error(mut self, error: impl fmt::Display) -> Self {
        self.activity.outcome = Outcome::Failure;
        self.activity.error = Some(error.to_string());
        self
    }

    /// Marks the activity denied, with the reason.
    pub fn denied(mut self, reason: impl fmt::Display) -> Self {
        self.activity.outcome = Outcome::Denied;
        self.activity.error = Some(reason.to_string());
        self
    }

    /// Sets the severity.
    pub fn severity(mut self, severity: Severity) -> Self {
        self.activity.severity = severity;
        self
    }

    /// Sets the human-readable description.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.activity.description = Some(text.into());
        self
    }

    /// Replaces the metadata; it must be a JSON object.
    pub fn metadata(mut self, metadata: Value) -> Self {
        match metadata {
            Value::Object(map) => self.activity.metadata = map,
            other => self.fail(ValidationError::NotAnObject { field: "metadata".into(), found: json_kind(&other) }),
        }
        self
    }

    /// Adds one metadata entry from any serialisable value. NaN and infinite
    /// numbers are refused (JSON cannot carry them).
    pub fn meta(mut self, key: impl Into<String>, value: impl Serialize) -> Self {
        let key = key.into();
        match to_json(&value, || format!("metadata.{key}")) {
            Ok(v) => {
                self.activity.metadata.insert(key, v);
            }
            Err(e) => self.fail(e),
        }
        self
    }

    /// Records one field's change.
    pub fn change(mut self, field: impl Into<String>, before: impl Serialize, after: impl Serialize) -> Self {
        let field = field.into();
        let name = || format!("changes.{field}");
        match (to_json(&before, name), to_json(&after, name)) {
            (Ok(b), Ok(a)) => {
                self.activity.changes.insert(field, Change::new(b, a));
            }
            (Err(e), _) | (_, Err(e)) => self.fail(e),
        }
        self
    }

    /// Diffs two serialisable values (usually the same struct before and
    /// after an update) into `changes`: one entry per top-level field that
    /// differs.
    ///
    /// ```
    /// # use activity_log::Activity;
    /// # use serde_json::json;
    /// let a = Activity::new("agent_updated")
    ///     .diff(&json!({"name": "Ada", "status": "idle"}), &json!({"name": "Ada", "status": "busy"}))
    ///     .build()?;
    /// assert_eq!(a.changes.len(), 1);
    /// assert_eq!(a.changes["status"].after, "busy");
    /// # Ok::<(), activity_log::ValidationError>(())
    /// ```
    pub fn diff<B: Serialize + ?Sized, A: Serialize + ?Sized>(mut self, before: &B, after: &A) -> Self {
        let field = || "changes".to_owned();
        match (to_json(before, field), to_json(after, field)) {
            (Ok(b), Ok(a)) => self.activity.changes.extend(diff_values(b, a)),
            (Err(e), _) | (_, Err(e)) => self.fail(e),
        }
        self
    }

    /// Sets the client's IP address.
    pub fn ip(mut self, ip: impl Into<String>) -> Self {
        self.activity.ip = Some(ip.into());
        self
    }

    /// Sets the client's user agent.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.activity.user_agent = Some(user_agent.into());
        self
    }

    /// Sets the request (operation) id.
    pub fn request_id(mut self, id: impl Into<String>) -> Self {
        self.activity.request_id = Some(id.into());
        self
    }

    /// Sets the trace id.
    pub fn trace_id(mut self, id: impl Into<String>) -> Self {
        self.activity.trace_id = Some(id.into());
        self
    }

    /// Sets how long the action took. Durations are kept in whole
    /// microseconds, as every store keeps them, rounded up so that a measured
    /// duration is never recorded as zero.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let a = activity_log::Activity::new("cache_clear").duration(Duration::from_nanos(1_200)).build()?;
    /// assert_eq!(a.duration, Some(Duration::from_micros(2)));
    /// # Ok::<(), activity_log::ValidationError>(())
    /// ```
    pub fn duration(mut self, duration: Duration) -> Self {
        self.activity.duration = Some(whole_micros(duration));
        self
    }

    /// Adds a tag.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.activity.tags.push(tag.into());
        self
    }

    /// Sets when it happened (truncated to microseconds). Defaults to now.
    pub fn occurred_at(mut self, at: DateTime<Utc>) -> Self {
        self.activity.occurred_at = at.trunc_subsecs(6);
        self
    }

    /// Overrides the id, e.g. when importing records made elsewhere. Ids
    /// should be UUIDv7 so that they sort by time.
    pub fn id(mut self, id: Uuid) -> Self {
        self.activity.id = id;
        self
    }
}

/// `duration` in whole microseconds, rounded up.
pub(super) fn whole_micros(duration: Duration) -> Duration {
    let micros = duration.as_nanos().div_ceil(1_000);
    Duration::from_micros(u64::try_from(micros).unwrap_or(u64::MAX))
}

fn to_json<T: Serialize + ?Sized>(value: &T, field: impl FnOnce() -> String) -> Result<Value, ValidationError> {
    match check_finite(value) {
        Ok(()) => {}
        Err(CheckError::NonFinite) => return Err(ValidationError::NonFinite { field: field() }),
        Err(CheckError::Custom) => return Err(ValidationError::NotSerializable { field: field() }),
    }
    serde_json::to_value(value).map_err(|_| ValidationError::NotSerializable { field: field() })
}

/// Anything that can be logged: an [`Activity`] or an [`ActivityBuilder`].
///
/// The logger validates the activity after filling it from the ambient
/// [`ActivityContext`](crate::ActivityContext), so the context's fields are
/// held to the same limits.
pub trait IntoActivity {
    /// The activity, or the first error a builder setter met. Not yet
    /// validated against the limits.
    fn into_activity(self) -> Result<Activity, ValidationError>;
}

impl IntoActivity for Activity {
    fn into_activity(self) -> Result<Activity, ValidationError> {
        Ok(self)
    }
}

impl IntoActivity for ActivityBuilder {
    fn into_activity(self) -> Result<Activity, ValidationError> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.activity),
        }
    }
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<Activity>();
    is::<ActivityBuilder>();
}
