//! The small enums that classify an activity: who acted, how it ended, how
//! much it matters.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What kind of principal performed an activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "axum", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ActorKind {
    /// A human user.
    #[default]
    User,
    /// The system itself (cron jobs, maintenance); usually has no id.
    System,
    /// Another service calling this one.
    Service,
    /// A caller authenticated by an API key.
    ApiKey,
}

/// How an activity ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "axum", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// The action succeeded.
    #[default]
    Success,
    /// The action was attempted and failed.
    Failure,
    /// The action was refused (authorisation, rate limit, ...).
    Denied,
}

/// How much an activity matters to an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "axum", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Severity {
    /// Normal operations.
    #[default]
    Info,
    /// Important events, slow requests.
    Warning,
    /// Failures and exceptions.
    Error,
}

macro_rules! impl_as_str {
    ($ty:ident { $($variant:ident => $s:literal),* $(,)? }) => {
        impl $ty {
            /// The stable lower-case name used in JSON and in the stores.
            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $s),* }
            }

            /// Parses the name produced by [`as_str`](Self::as_str).
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some(Self::$variant),)* _ => None }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

impl_as_str!(ActorKind { User => "user", System => "system", Service => "service", ApiKey => "api_key" });
impl_as_str!(Outcome { Success => "success", Failure => "failure", Denied => "denied" });
impl_as_str!(Severity { Info => "info", Warning => "warning", Error => "error" });

/// Who performed an activity.
///
/// ```
/// use activity_log::{Actor, ActorKind};
/// let agent = Actor::user("agent-7").with_name("Ada");
/// assert_eq!(agent.kind, ActorKind::User);
/// assert_eq!(Actor::system().id, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "axum", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub struct Actor {
    /// The principal's id; `None` for system actions.
    #[serde(default)]
    pub id: Option<String>,
    /// What kind of principal this is.
    #[serde(default)]
    pub kind: ActorKind,
    /// A display name.
    #[serde(default)]
    pub name: Option<String>,
}

impl Actor {
    /// An actor of any kind.
    pub fn new(kind: ActorKind, id: impl Into<String>) -> Self {
        Self { id: Some(id.into()), kind, name: None }
    }

    /// A human user.
    pub fn user(id: impl Into<String>) -> Self {
        Self::new(ActorKind::User, id)
    }

    /// Another service.
    pub fn service(id: impl Into<String>) -> Self {
        Self::new(ActorKind::Service, id)
    }

    /// A caller identified by an API key id (never the key itself).
    pub fn api_key(key_id: impl Into<String>) -> Self {
        Self::new(ActorKind::ApiKey, key_id)
    }

    /// The system itself: no id.
    pub fn system() -> Self {
        Self { id: None, kind: ActorKind::System, name: None }
    }

    /// Sets the display name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

/// The resource an activity was about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "axum", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub struct Target {
    /// The kind of resource, e.g. `call`, `agent`, `connector`.
    pub kind: String,
    /// The resource's id.
    #[serde(default)]
    pub id: Option<String>,
    /// A display name.
    #[serde(default)]
    pub name: Option<String>,
}

impl Target {
    /// A target of `kind` with an id.
    pub fn new(kind: impl Into<String>, id: impl Into<String>) -> Self {
        Self { kind: kind.into(), id: Some(id.into()), name: None }
    }

    /// A target kind with no particular id (e.g. a collection).
    pub fn kind(kind: impl Into<String>) -> Self {
        Self { kind: kind.into(), id: None, name: None }
    }
}

/// A field's value before and after a data change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "axum", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub struct Change {
    /// The old value (`null` when the field was created).
    pub before: serde_json::Value,
    /// The new value (`null` when the field was removed).
    pub after: serde_json::Value,
}

impl Change {
    /// A change from `before` to `after`.
    pub fn new(before: serde_json::Value, after: serde_json::Value) -> Self {
        Self { before, after }
    }
}
