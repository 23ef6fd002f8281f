//! The process-wide logger and the free functions (one per process, so this
//! file is its own test binary).

use activity_log::{Activity, ActivityLogger, Error};

#[tokio::test]
async fn free_functions_use_the_global_logger_and_scopes_win() {
    assert!(matches!(activity_log::try_log_async(Activity::new("before")), Err(Error::NoLogger)));
    activity_log::log_async(Activity::new("before"));
    assert_eq!(activity_log::unlogged_count(), 2);

    let (global, global_sink) = ActivityLogger::in_memory();
    activity_log::set_global(global.clone()).expect("first install");
    assert!(matches!(activity_log::set_global(global.clone()), Err(Error::GlobalAlreadySet)));
    activity_log::log_async(Activity::new("system_startup"));
    activity_log::log(Activity::new("system_ready")).await.expect("log");

    let (scoped, scoped_sink) = ActivityLogger::in_memory();
    scoped.scope(async { activity_log::log_async(Activity::new("in_scope")) }).await;

    global.flush().await.expect("flush");
    scoped.flush().await.expect("flush");
    global_sink.assert_logged("system_startup");
    global_sink.assert_logged("system_ready");
    global_sink.assert_not_logged("in_scope");
    scoped_sink.assert_logged("in_scope");
    let report = global.shutdown(std::time::Duration::from_secs(1)).await;
    assert!(report.is_complete());
}
