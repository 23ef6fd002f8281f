use activity_log::log_activity;

#[log_activity(type = "call_created", target = "call", id = ret, on = "failure")]
fn create_call() -> Result<u64, String> {
    Ok(1)
}

fn main() {
    let _ = create_call();
}
