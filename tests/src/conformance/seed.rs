//! The seeded data set: deterministic, varied, written in batches.

use activity_log::{Activity, Actor, Outcome, Severity, Sink};
use chrono::{DateTime, Duration, DurationRound, TimeDelta, Utc};
use serde_json::json;

/// How many activities [`seed`] writes.
pub const SEED_SIZE: usize = 10_500;

/// The tenants of the data set (a few activities have no tenant).
pub const TENANTS: [&str; 3] = ["acme", "globex", "initech"];

/// The activity types, each with its target kind.
pub const ACTIVITY_TYPES: [(&str, &str); 16] = [
    ("agent_created", "agent"),
    ("agent_updated", "agent"),
    ("agent_deleted", "agent"),
    ("chat_agent_activated", "chat_agent"),
    ("chat_agent_deactivated", "chat_agent"),
    ("call_created", "call"),
    ("call_updated", "call"),
    ("call_ended", "call"),
    ("chat_created", "chat"),
    ("chat_message_sent", "chat"),
    ("chat_ended", "chat"),
    ("connector_added", "connector"),
    ("connector_updated", "connector"),
    ("connector_deleted", "connector"),
    ("user_login", "session"),
    ("user_login_failed", "session"),
];

const DESCRIPTIONS: [&str; 8] = [
    "Inbound call from +1 555 0100, queue \"Sales\"",
    "Agent Ada updated the greeting",
    "Chat ended by customer;\nrating 5/5",
    "Google Calendar connector connected",
    "Outbound call to VIP customer, routed to voicemail",
    "Ünïcode Çall transferred to Émile",
    "Login refused: too many attempts",
    "Webhook \"call.updated\" received, status=completed",
];

/// The data set a store was seeded with.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Every activity written, in write order.
    pub activities: Vec<Activity>,
    /// The instant the data set is relative to: every activity occurred in
    /// the 60 days before it, on whole minutes.
    pub base: DateTime<Utc>,
}

impl Dataset {
    /// The activities of one tenant.
    pub fn of_tenant<'a>(&'a self, tenant: &'a str) -> impl Iterator<Item = &'a Activity> + 'a {
        self.activities.iter().filter(move |a| a.tenant.as_deref() == Some(tenant))
    }
}

/// Makes the data set (deterministic but for ids and `base`) without
/// writing it.
pub fn make_dataset(size: usize) -> Dataset {
    let base = Utc::now().duration_trunc(TimeDelta::minutes(1)).expect("a minute-aligned now");
    let mut rng = fastrand::Rng::with_seed(0x5eed);
    let mut activities = Vec::with_capacity(size);
    let mut request = 0u32;
    while activities.len() < size {
        // A request groups 1–4 activities at the same instant, which also
        // makes ties on `occurred_at` for the id to break.
        request += 1;
        let at = base - Duration::minutes(rng.i64(1..60 * 24 * 60));
        let tenant = match rng.u8(0..100) {
            0..=1 => None,
            n => Some(TENANTS[usize::from(n) % 3]),
        };
        for _ in 0..rng.usize(1..=4) {
            activities.push(make_one(&mut rng, at, tenant, request));
        }
    }
    activities.truncate(size);
    Dataset { activities, base }
}

fn make_one(rng: &mut fastrand::Rng, at: DateTime<Utc>, tenant: Option<&str>, request: u32) -> Activity {
    let (activity_type, kind) = ACTIVITY_TYPES[rng.usize(..ACTIVITY_TYPES.len())];
    let mut b = Activity::new(activity_type).occurred_at(at).request_id(format!("req-{request}"));
    if let Some(t) = tenant {
        b = b.tenant(t);
    }
    if rng.u8(0..20) != 0 {
        b = b.target(kind, rng.u32(1..=60));
        if rng.bool() {
            b = b.target_name(format!("{kind} #{}", rng.u32(1..=9)));
        }
    }
    b = match rng.u8(0..20) {
        0 => b,
        1 => b.actor(Actor::system()),
        2 => b.actor(Actor::service("dialer")),
        3 => b.actor(Actor::api_key(format!("key-{}", rng.u8(1..=4)))),
        _ => b.actor(Actor::user(format!("agent-{}", rng.u8(1..=30))).with_name("Agent, \"Ada\"")),
    };
    b = match rng.u8(0..100) {
        0..=79 => b,
        80..=91 => b.outcome(Outcome::Failure).error("upstream timed out, retry later").severity(Severity::Error),
        _ => b.outcome(Outcome::Denied).severity(Severity::Warning),
    };
    if rng.u8(0..10) == 0 {
        b = b.severity(Severity::Warning);
    }
    if rng.u8(0..8) != 0 {
        b = b.description(DESCRIPTIONS[rng.usize(..DESCRIPTIONS.len())]);
    }
    b = b.meta("queue", ["sales", "support", "billing"][rng.usize(..3)]).meta("attempt", rng.u8(1..=3));
    if rng.bool() {
        b = b.meta("vip", rng.bool());
    }
    if rng.u8(0..4) == 0 {
        b = b.meta("score", f64::from(rng.u8(0..=20)) / 4.0);
    }
    if rng.u8(0..6) == 0 {
        b = b.meta("note", "said \"hi\",\nthen left").meta("nested", json!({"a": [1, 2, {"b": null}]}));
    }
    if activity_type.ends_with("_updated") {
        b = b.change("name", "Old, \"name\"", "New name").change("enabled", false, true);
    }
    if rng.bool() {
        b = b.ip(format!("203.0.113.{}", rng.u8(1..=254))).user_agent("Mozilla/5.0 (X11; Linux x86_64)");
    }
    if rng.u8(0..3) == 0 {
        b = b.trace_id(format!("{:032x}", rng.u128(..)));
    }
    if rng.bool() {
        b = b.duration(std::time::Duration::from_micros(rng.u64(1..5_000_000)));
    }
    for tag in ["voice", "beta", "eu"] {
        if rng.u8(0..5) == 0 {
            b = b.tag(tag);
        }
    }
    b.build().expect("seeded activities are valid")
}

/// Writes a fresh data set of [`SEED_SIZE`] activities to `sink`, in
/// batches of 1,000, and returns it.
pub async fn seed(sink: &dyn Sink) -> Dataset {
    let data = make_dataset(SEED_SIZE);
    for batch in data.activities.chunks(1000) {
        sink.write_batch(batch).await.expect("seeding the store");
    }
    data
}
