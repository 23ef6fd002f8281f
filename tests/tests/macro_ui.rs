//! Compile-time behaviour of `#[log_activity]`: shapes that must compile
//! (`tests/ui/pass`, also run) and mistakes that must give one clear error
//! at the offending token (`tests/ui/fail`, compared with `.stderr`).
//!
//! Regenerate the snapshots with `TRYBUILD=overwrite cargo test -p activity-log-tests --test macro_ui`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("ui/pass/*.rs");
    t.compile_fail("ui/fail/*.rs");
}
