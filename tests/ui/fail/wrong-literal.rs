use activity_log::log_activity;

#[log_activity(type = call_deleted)]
fn delete_call(call_id: u64) -> u64 {
    call_id
}

#[log_activity(type = "call_deleted", severity = 3)]
fn delete_call_again(call_id: u64) -> u64 {
    call_id
}

fn main() {
    delete_call(1);
    delete_call_again(1);
}
