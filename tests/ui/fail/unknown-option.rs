use activity_log::log_activity;

#[log_activity(type = "call_deleted", targt = "call")]
fn delete_call(call_id: u64) -> u64 {
    call_id
}

fn main() {
    delete_call(1);
}
