//! A module named `activity_log` in the user's crate changes nothing.
use ::activity_log::log_activity;

mod activity_log {}

#[log_activity(type = "pinged", target = "host", id = host, description = "Pinged {host}")]
fn ping(host: &str) -> Result<(), std::io::Error> {
    let _ = host;
    Ok(())
}

fn main() {
    ping("localhost").unwrap();
}
