//! Ready-made activities for the kinds of events the systems this library
//! replaces record: authentication, data changes, API requests, calls to
//! external APIs and system events.

use super::builder::whole_micros;
use super::{Activity, ActivityBuilder, Actor, Outcome, Severity, Target};
use serde::Serialize;
use serde_json::{Map, Value};
use std::time::Duration;

/// Requests slower than this are logged with [`Severity::Warning`].
pub const SLOW_REQUEST: Duration = Duration::from_secs(2);

impl Activity {
    /// A successful login (`user_login`).
    ///
    /// ```
    /// use activity_log::{Activity, Actor, Outcome};
    /// let a = Activity::login(Actor::user("u-1")).meta("method", "password").build()?;
    /// assert_eq!((a.activity_type.as_str(), a.outcome), ("user_login", Outcome::Success));
    /// # Ok::<(), activity_log::ValidationError>(())
    /// ```
    pub fn login(actor: Actor) -> ActivityBuilder {
        Self::new("user_login").actor(actor)
    }

    /// A logout (`user_logout`).
    pub fn logout(actor: Actor) -> ActivityBuilder {
        Self::new("user_logout").actor(actor)
    }

    /// A failed login (`login_failed`), with the reason (never the password).
    /// Outcome [`Outcome::Failure`], severity [`Severity::Warning`].
    pub fn login_failed(attempted_user: impl Into<String>, reason: impl std::fmt::Display) -> ActivityBuilder {
        Self::new("login_failed").actor(Actor::user(attempted_user)).error(reason).severity(Severity::Warning)
    }

    /// A data change on `target`, with the before/after values of every
    /// top-level field that differs.
    ///
    /// ```
    /// use activity_log::{Activity, Target};
    /// # use serde_json::json;
    /// let a = Activity::data_change("user_updated", Target::new("user", "456"),
    ///     &json!({"name": "John"}), &json!({"name": "John Doe"})).build()?;
    /// assert_eq!(a.changes["name"].before, "John");
    /// # Ok::<(), activity_log::ValidationError>(())
    /// ```
    pub fn data_change<B: Serialize + ?Sized, A: Serialize + ?Sized>(
        activity_type: impl Into<String>,
        target: Target,
        before: &B,
        after: &A,
    ) -> ActivityBuilder {
        Self::new(activity_type).with_target(target).diff(before, after)
    }

    /// An HTTP request served by this service (`api_request`). The outcome
    /// follows the status (401/403: denied, 4xx/5xx: failure), the severity
    /// is `error` for 5xx and `warning` for 4xx or requests slower than
    /// 2 seconds.
    pub fn api_request(method: &str, path: &str, status: u16, duration: Duration) -> ActivityBuilder {
        Self::api_request_record(method, path, status, duration).into_builder()
    }

    /// [`api_request`](Self::api_request) as an activity, built without
    /// the builder: the HTTP layer logs one for every request.
    pub(crate) fn api_request_record(method: &str, path: &str, status: u16, duration: Duration) -> Activity {
        let (outcome, severity) = http_outcome(status, duration);
        let mut metadata = Map::new();
        metadata.insert("method".to_owned(), Value::from(method));
        metadata.insert("path".to_owned(), Value::from(path));
        metadata.insert("status".to_owned(), Value::from(status));
        Self {
            outcome,
            severity,
            duration: Some(whole_micros(duration)),
            metadata,
            ..Self::bare("api_request".to_owned())
        }
    }

    /// A call this service made to an external API (`external_api_call`);
    /// the target is the service. `status` is `None` when no response came.
    pub fn external_api(
        service: &str,
        method: &str,
        endpoint: &str,
        status: Option<u16>,
        duration: Duration,
    ) -> ActivityBuilder {
        let (outcome, severity) = match status {
            Some(status) => http_outcome(status, duration),
            None => (Outcome::Failure, Severity::Error),
        };
        Self::new("external_api_call")
            .with_target(Target::kind("external_service").with_id(service))
            .actor(Actor::system())
            .outcome(outcome)
            .severity(severity)
            .duration(duration)
            .meta("method", method)
            .meta("endpoint", endpoint)
            .meta("status", status)
    }

    /// A system event (e.g. `system_startup`, `cache_clear`): the actor is
    /// the system, with the given severity.
    pub fn system(activity_type: impl Into<String>, severity: Severity) -> ActivityBuilder {
        Self::new(activity_type).actor(Actor::system()).severity(severity)
    }
}

fn http_outcome(status: u16, duration: Duration) -> (Outcome, Severity) {
    let outcome = match status {
        401 | 403 => Outcome::Denied,
        400..=599 => Outcome::Failure,
        _ => Outcome::Success,
    };
    let severity = match status {
        500..=599 => Severity::Error,
        400..=499 => Severity::Warning,
        _ if duration > SLOW_REQUEST => Severity::Warning,
        _ => Severity::Info,
    };
    (outcome, severity)
}

impl Target {
    /// Sets the id.
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Sets the display name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_request_outcomes() {
        let ok = Activity::api_request("GET", "/calls", 200, Duration::from_millis(5)).build().unwrap();
        assert_eq!((ok.outcome, ok.severity), (Outcome::Success, Severity::Info));
        assert_eq!(ok.metadata["status"], 200);
        let slow = Activity::api_request("GET", "/calls", 200, Duration::from_secs(3)).build().unwrap();
        assert_eq!(slow.severity, Severity::Warning);
        let denied = Activity::api_request("GET", "/admin", 403, Duration::ZERO).build().unwrap();
        assert_eq!(denied.outcome, Outcome::Denied);
        let boom = Activity::api_request("POST", "/calls", 503, Duration::ZERO).build().unwrap();
        assert_eq!((boom.outcome, boom.severity), (Outcome::Failure, Severity::Error));
        let ext = Activity::external_api("stripe", "POST", "/v1/charges", None, Duration::ZERO).build().unwrap();
        assert_eq!(ext.target.unwrap().id.as_deref(), Some("stripe"));
        assert_eq!(ext.outcome, Outcome::Failure);
    }

    #[test]
    fn failed_login_has_reason_and_warning() {
        let a = Activity::login_failed("bob", "bad password").build().unwrap();
        assert_eq!(a.error.as_deref(), Some("bad password"));
        assert_eq!((a.outcome, a.severity), (Outcome::Failure, Severity::Warning));
    }
}
