//! `unsafe fn` and `async unsafe fn`: the body keeps its unsafe context.

use activity_log::{log_activity, ActivityLogger};

#[log_activity(type = "raw_read", target = "ptr", id = offset)]
unsafe fn read_at(ptr: *const u32, offset: usize) -> u32 {
    *ptr.add(offset)
}

#[log_activity(type = "raw_read_async", target = "ptr", id = offset)]
async unsafe fn read_at_async(ptr: *const u32, offset: usize) -> u32 {
    *ptr.add(offset)
}

fn main() {
    let data = [1u32, 2, 3];
    let (logger, sink) = ActivityLogger::in_memory();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (a, b) = rt.block_on(logger.scope(async {
        let a = unsafe { read_at(data.as_ptr(), 1) };
        let b = unsafe { read_at_async(data.as_ptr(), 2) }.await;
        (a, b)
    }));
    assert_eq!((a, b), (2, 3));
    rt.block_on(logger.flush()).unwrap();
    assert_eq!(sink.assert_logged("raw_read").target.unwrap().id.as_deref(), Some("1"));
    assert_eq!(sink.assert_logged("raw_read_async").target.unwrap().id.as_deref(), Some("2"));
}
