//! A private `redis-server` for one test: its own temporary directory, a
//! free port, `appendonly yes`, so that a test may stop and restart it
//! without disturbing any other test. Dropping it kills the server and
//! removes the directory, also when the test panics.
//!
//! Without a `redis-server` on the PATH the test is skipped (saying so
//! once) unless `CI=true`, where that is a failure.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A Redis server of one test's own; see the module docs.
#[derive(Debug)]
pub struct PrivateRedis {
    dir: tempfile::TempDir,
    port: u16,
    child: Mutex<Option<Child>>,
}

fn unavailable(why: &str) -> Option<PrivateRedis> {
    assert!(!dev_env::in_ci(), "CI=true but a private Redis server cannot be started: {why}");
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = writeln!(std::io::stderr(), "Redis tests skipped: {why}; install redis-server to run them");
    });
    None
}

impl PrivateRedis {
    /// Starts a server, or returns `None` (after saying why) when there is
    /// no `redis-server` and `CI` is not `true`.
    pub fn start() -> Option<Self> {
        if Command::new("redis-server").arg("--version").stdout(Stdio::null()).status().is_err() {
            return unavailable("no redis-server on the PATH");
        }
        let mut last = String::new();
        for _ in 0..3 {
            let dir = tempfile::Builder::new().prefix("alredis-").tempdir().expect("a temporary directory");
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .expect("a free port");
            let server = Self { dir, port, child: Mutex::new(None) };
            // Another process may take the port between the probe and the
            // bind: try a few (a failed server is killed by its Drop).
            match server.launch() {
                Ok(()) => return Some(server),
                Err(e) => last = e,
            }
        }
        panic!("the private Redis server did not start: {last}");
    }

    fn launch(&self) -> Result<(), String> {
        let dir = self.dir.path();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--dir"])
            .arg(dir)
            .args(["--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--daemonize", "no"])
            .args(["--logfile"])
            .arg(dir.join("redis.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("redis-server: {e}"))?;
        *self.child.lock().expect("child") = Some(child);
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(15) {
            if self.ping() {
                return Ok(());
            }
            if let Some(status) = self.child.lock().expect("child").as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                return Err(format!("redis-server exited: {status}\n{}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!("redis-server did not answer PING within 15 s\n{}", self.log()))
    }

    /// Whether the server answers `PING` with `PONG` (not `LOADING`).
    fn ping(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else { return false };
        let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
        let mut reply = [0u8; 7];
        s.write_all(b"PING\r\n").is_ok() && s.read(&mut reply).is_ok_and(|n| reply[..n].starts_with(b"+PONG"))
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default()
    }

    /// Stops the server gracefully (SIGTERM: Redis writes and fsyncs its
    /// append-only file, then exits) and waits for it to exit.
    pub fn stop(&self) {
        let mut child = self.child.lock().expect("child");
        let Some(mut c) = child.take() else { return };
        let _ = Command::new("kill").args(["-TERM", &c.id().to_string()]).status();
        let started = Instant::now();
        while c.try_wait().ok().flatten().is_none() {
            if started.elapsed() > Duration::from_secs(15) {
                let _ = c.kill();
                let _ = c.wait();
                panic!("redis-server did not stop within 15 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Starts the stopped server again on the same port and directory (it
    /// reloads its append-only file), and waits until it answers.
    pub fn restart(&self) {
        self.launch().unwrap_or_else(|e| panic!("restarting the private Redis server: {e}"));
    }

    /// Runs `redis-cli` against the server and returns its output.
    pub fn cli(&self, args: &[&str]) -> String {
        let out =
            Command::new("redis-cli").args(["-p", &self.port.to_string()]).args(args).output().expect("run redis-cli");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// The directory holding the server's files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.get_mut().map(Option::take).unwrap_or_else(|e| e.into_inner().take()) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}
