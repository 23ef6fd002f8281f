use activity_log::log_activity;

#[log_activity(type = "call_created")]
struct Call;

fn main() {}
