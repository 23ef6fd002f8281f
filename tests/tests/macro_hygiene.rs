//! The expansion survives user code named like its internals: a module
//! named `activity_log`, parameters named like the wrapper's locals, and
//! functions named like its helpers.

use ::activity_log::{log_activity, ActivityLogger};

#[allow(dead_code)]
mod activity_log {
    pub mod __macro_support {
        pub fn begin(_: &str) {}
    }
    pub fn log_async() {}
}

fn begin(_: &str) -> ! {
    panic!("the expansion must not call a user fn named like its helpers")
}

#[log_activity(type = "shadowed", target = "x", id = __activity_log_ret, metadata(__activity_log_builder))]
fn named_like_internals(__activity_log_ret: u32, __activity_log_builder: &str, __activity_log_start: u8) -> u32 {
    let __activity_log_err = 1;
    __activity_log_ret + u32::from(__activity_log_start) + __activity_log_err
}

#[log_activity(type = "shadowed_async", target = "x", id = ret)]
async fn async_named_like_internals(__activity_log_elapsed: u32) -> u32 {
    let __activity_log_logger = 2;
    __activity_log_elapsed * __activity_log_logger
}

#[test]
fn user_names_do_not_clash_with_the_expansion() {
    let _ = begin as fn(&str) -> !;
    let (logger, sink) = ActivityLogger::in_memory();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (a, b) =
        rt.block_on(logger.scope(async { (named_like_internals(40, "b", 1), async_named_like_internals(21).await) }));
    assert_eq!((a, b), (42, 42));
    rt.block_on(logger.flush()).unwrap();
    let shadowed = sink.assert_logged("shadowed");
    assert_eq!(shadowed.target.unwrap().id.as_deref(), Some("40"));
    assert_eq!(shadowed.metadata["__activity_log_builder"], "b");
    assert_eq!(sink.assert_logged("shadowed_async").target.unwrap().id.as_deref(), Some("42"));
}
