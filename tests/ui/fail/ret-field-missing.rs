use activity_log::log_activity;

struct Call {
    id: u64,
}

#[log_activity(type = "call_created", target = "call", id = ret.number)]
fn create_call() -> Result<Call, String> {
    Ok(Call { id: 1 })
}

fn main() {
    let _ = create_call().map(|c| c.id);
}
