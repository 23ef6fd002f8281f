//! Bad input gets a typed error naming the field, never the value, and
//! nothing is queued for it.

use activity_log::{limits, Activity, ActivityContext, ActivityLogger, Error, ValidationError};
use chrono::TimeZone;
use serde_json::json;

fn nested(depth: usize) -> serde_json::Value {
    (0..depth).fold(json!("leaf"), |inner, _| json!({ "k": inner }))
}

#[tokio::test]
async fn each_bad_input_gets_its_typed_error_and_nothing_is_enqueued() {
    let (logger, sink) = ActivityLogger::in_memory();
    let secret = "s3cr3t-value";
    let bad = vec![
        (Activity::new(""), "activity_type"),
        (Activity::new("login\0"), "activity_type"),
        (Activity::new("x".repeat(limits::MAX_TYPE_LEN + 1)), "activity_type"),
        (Activity::new("t").description(format!("{secret}\0")), "description"),
        (Activity::new("t").description(secret.repeat(limits::MAX_TEXT_LEN)), "description"),
        (Activity::new("t").tenant(format!("{secret}\0")), "tenant"),
        (Activity::new("t").target("call", format!("{secret}\0")), "target.id"),
        (Activity::new("t").metadata(json!([secret])), "metadata"),
        (Activity::new("t").metadata(json!(secret)), "metadata"),
        (Activity::new("t").metadata(json!({ "deep": nested(limits::MAX_DEPTH + 1) })), "metadata"),
        (Activity::new("t").meta("latency", f64::NAN), "metadata.latency"),
        (Activity::new("t").meta("ratio", vec![1.0, f64::INFINITY]), "metadata.ratio"),
        (Activity::new("t").change("score", 1.0, f64::NEG_INFINITY), "changes.score"),
        (Activity::new("t").meta("blob", secret.repeat(limits::MAX_DATA_BYTES)), "metadata"),
        (Activity::new("t").meta(format!("k\0{secret}"), 1), "metadata (key)"),
        (Activity::new("t").occurred_at(chrono::Utc.with_ymd_and_hms(1900, 1, 1, 0, 0, 0).unwrap()), "occurred_at"),
        ((0..=limits::MAX_TAGS).fold(Activity::new("t"), |a, i| a.tag(format!("tag{i}"))), "tags"),
    ];
    let total = bad.len() as u64;
    for (builder, field) in bad {
        let err = match logger.try_log_async(builder) {
            Err(Error::Invalid(e)) => e,
            other => panic!("{field}: expected a validation error, got {other:?}"),
        };
        let message = err.to_string();
        assert!(message.contains(field), "`{message}` names `{field}`");
        assert!(!message.contains(secret), "`{message}` must not echo the value");
    }
    // The context is held to the same limits.
    let from_ctx =
        ActivityContext::new().ip("1.2.3.4\0").scope(async { logger.try_log_async(Activity::new("t")) }).await;
    assert!(matches!(from_ctx, Err(Error::Invalid(ValidationError::NulByte { ref field })) if field == "ip"));
    logger.log_async(Activity::new("")); // refused quietly, counted
    logger.flush().await.expect("flush");
    let s = logger.stats();
    assert_eq!((s.logged, s.rejected), (0, total + 2), "{s:?}");
    assert!(sink.is_empty());
}

#[test]
fn errors_are_specific() {
    let e = Activity::new("t").meta("x", f64::NAN).build().unwrap_err();
    assert_eq!(e, ValidationError::NonFinite { field: "metadata.x".into() });
    let e = Activity::new("t").metadata(json!(1)).build().unwrap_err();
    assert_eq!(e, ValidationError::NotAnObject { field: "metadata".into(), found: "number" });
    let e = Activity::new("t").metadata(json!({ "a": nested(20) })).build().unwrap_err();
    assert_eq!(e, ValidationError::TooDeep { field: "metadata".into(), max: limits::MAX_DEPTH });
    let ok = Activity::new("t").metadata(json!({ "a": nested(limits::MAX_DEPTH - 2) })).build();
    assert!(ok.is_ok(), "{ok:?}");
}

#[test]
fn json_shape_is_stable_and_round_trips() {
    let a = Activity::new("call_created")
        .tenant("acme")
        .target("call", 42)
        .actor(activity_log::Actor::user("agent-7").with_name("Ada"))
        .description("Inbound call")
        .meta("queue", "sales")
        .change("status", "ringing", "answered")
        .ip("203.0.113.9")
        .duration(std::time::Duration::from_micros(1500))
        .tag("voice")
        .build()
        .expect("valid");
    let v = serde_json::to_value(&a).expect("serialise");
    let keys: Vec<_> = v.as_object().expect("object").keys().cloned().collect();
    assert_eq!(
        keys,
        [
            "activity_type",
            "actor",
            "changes",
            "description",
            "duration_us",
            "error",
            "id",
            "ip",
            "metadata",
            "occurred_at",
            "outcome",
            "request_id",
            "severity",
            "tags",
            "target",
            "tenant",
            "trace_id",
            "user_agent"
        ]
    );
    assert_eq!(v["actor"], json!({"id": "agent-7", "kind": "user", "name": "Ada"}));
    assert_eq!(v["changes"]["status"], json!({"before": "ringing", "after": "answered"}));
    assert_eq!(
        (v["duration_us"].clone(), v["outcome"].clone(), v["severity"].clone()),
        (json!(1500), json!("success"), json!("info"))
    );
    let back: Activity = serde_json::from_value(v).expect("deserialise");
    assert_eq!(back, a);
}
