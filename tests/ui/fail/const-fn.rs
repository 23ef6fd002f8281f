use activity_log::log_activity;

#[log_activity(type = "answer_computed")]
const fn answer() -> u32 {
    42
}

fn main() {
    // The function is still emitted: this line type-checks.
    let _: u32 = answer();
}
