//! Child processes for crash tests: the test binary runs itself again with
//! one test selected — a child's body, which returns at once unless its
//! environment variables are set — and the child is killed when dropped, so
//! a failing test leaves no process behind.

use std::ffi::OsStr;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process running one test of this test binary.
#[derive(Debug)]
pub struct TestChild(Child);

impl TestChild {
    /// Runs the test named `test` (exactly) in a child process with `env`
    /// added to its environment.
    pub fn spawn<K, V>(test: &str, env: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        let child = Command::new(std::env::current_exe().expect("the test binary"))
            .args(["--exact", test, "--nocapture"])
            .envs(env)
            .stdout(Stdio::null())
            .spawn()
            .expect("start the child process");
        Self(child)
    }

    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.0.id()
    }

    /// Kills the child (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        self.0.kill().expect("SIGKILL");
        self.0.wait().expect("reaped");
    }

    /// Waits until the child has written something into `path` and returns
    /// it; fails if the child exits first or `limit` passes.
    pub async fn wait_for_file(&mut self, path: &Path, limit: Duration) -> String {
        let started = Instant::now();
        loop {
            if let Ok(text) = std::fs::read_to_string(path) {
                if !text.is_empty() {
                    return text;
                }
            }
            assert!(started.elapsed() < limit, "the child never wrote {}", path.display());
            if let Some(status) = self.0.try_wait().expect("child status") {
                panic!("the child exited early: {status}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for TestChild {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Writes `text` to `path` and fsyncs it: a report that survives the
/// writer being killed right after.
pub fn write_synced(path: &Path, text: &str) {
    let mut file = std::fs::File::create(path).expect("create a report file");
    file.write_all(text.as_bytes()).expect("write a report file");
    file.sync_all().expect("fsync a report file");
}
