use activity_log::log_activity;

#[log_activity(type = "call_created", target = "call", id = ret)]
fn create_call(caller: &str) -> Result<u64, String> {
    if caller.is_empty() {
        return Err("caller is required".to_owned());
    }
    Ok("not a number")
}

#[log_activity(type = "call_created_async", target = "call", id = ret)]
async fn create_call_async() -> Result<u64, String> {
    let n: u64 = "1".parse().map_err(|e: std::num::ParseIntError| e.to_string())?;
    Ok(n == 1)
}

fn main() {
    let _ = create_call("Ada");
    let _ = create_call_async();
}
