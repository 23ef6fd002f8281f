//! Diffing two serialisable values into per-field changes.

use super::Change;
use serde_json::Value;
use std::collections::BTreeMap;

/// Compares two JSON values field by field. Objects are compared by their
/// top-level keys (a nested object that differs is one change); anything
/// else is compared whole and recorded under the key `value`.
pub(crate) fn diff_values(before: Value, after: Value) -> BTreeMap<String, Change> {
    let mut changes = BTreeMap::new();
    match (before, after) {
        (Value::Object(mut old), Value::Object(new)) => {
            for (key, new_value) in new {
                let old_value = old.remove(&key).unwrap_or(Value::Null);
                if old_value != new_value {
                    changes.insert(key, Change::new(old_value, new_value));
                }
            }
            for (key, old_value) in old {
                changes.insert(key, Change::new(old_value, Value::Null));
            }
        }
        (old, new) => {
            if old != new {
                changes.insert("value".to_owned(), Change::new(old, new));
            }
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diffs_objects_by_top_level_field() {
        let d = diff_values(
            json!({"name": "John", "age": 30, "gone": 1}),
            json!({"name": "John Doe", "age": 30, "new": true}),
        );
        assert_eq!(d.len(), 3);
        assert_eq!(d["name"], Change::new(json!("John"), json!("John Doe")));
        assert_eq!(d["gone"], Change::new(json!(1), Value::Null));
        assert_eq!(d["new"], Change::new(Value::Null, json!(true)));
        assert!(diff_values(json!(1), json!(1)).is_empty());
        assert_eq!(diff_values(json!(1), json!(2))["value"], Change::new(json!(1), json!(2)));
    }
}
