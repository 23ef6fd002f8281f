use activity_log::log_activity;

#[log_activity(target = "call", id = call_id)]
fn delete_call(call_id: u64) -> u64 {
    call_id
}

fn main() {
    delete_call(1);
}
