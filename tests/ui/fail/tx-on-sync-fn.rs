use activity_log::log_activity;

#[log_activity(type = "plan_changed", tx = conn)]
fn change_plan(conn: &mut sqlx::SqliteConnection) {
    let _ = conn;
}

fn main() {}
