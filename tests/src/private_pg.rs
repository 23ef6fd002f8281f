//! A private PostgreSQL server for one test: `initdb` and `pg_ctl` into a
//! fresh temporary directory, on a free TCP port, so that a test may stop,
//! crash and restart its database without disturbing any other test (or
//! leaving the shared server down when it fails).
//!
//! The binaries come from `PG_BIN` if set, else from the newest
//! `/usr/lib/postgresql/<version>/bin` (Debian's layout). `initdb` refuses
//! to run as root, so as root every server command runs as the `postgres`
//! OS user (`runuser -u postgres --`); any other user runs them as itself.
//!
//! Without the binaries (or, as root, without `runuser` or a `postgres`
//! user) the test is skipped, saying so once, unless `CI=true`, where that
//! is a failure. Dropping the [`PrivatePostgres`] stops the server
//! (immediately) and removes its directory, also when the test panics.
//! Every server command runs under a timeout, so none can hang a test.

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, PgConnection};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The longest any one `initdb` / `pg_ctl` call may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// Skips (saying why, once per test binary) outside CI; fails in CI.
fn unavailable(why: &str) -> Option<PrivatePostgres> {
    assert!(!dev_env::in_ci(), "CI=true but a private PostgreSQL server cannot be started: {why}");
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "fault-injection tests skipped: no private PostgreSQL server ({why}); install postgresql \
             (initdb and pg_ctl in /usr/lib/postgresql/<version>/bin, or set PG_BIN) to run them"
        );
    });
    None
}

/// The directory holding `initdb` and `pg_ctl`.
fn find_bin() -> Option<PathBuf> {
    let usable = |bin: &Path| bin.join("initdb").is_file() && bin.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os("PG_BIN").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir)).filter(|bin| usable(bin));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, bin)| usable(bin))
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// A free TCP port on 127.0.0.1 (free now; the server binds it shortly).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// A PostgreSQL server of one test's own; see the module docs.
#[derive(Debug)]
pub struct PrivatePostgres {
    server: Server,
    running: AtomicBool,
}

/// What it takes to run the server's commands (cheap to clone into a
/// blocking thread).
#[derive(Debug, Clone)]
struct Server {
    bin: PathBuf,
    /// The temporary directory: `data/`, the socket and the logs.
    root: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl PrivatePostgres {
    /// Creates and starts a server, or returns `None` (after saying why)
    /// when that is impossible here and `CI` is not `true`. Takes a few
    /// seconds (initdb); runs on a blocking thread.
    pub async fn create(label: &str) -> Option<Self> {
        let label = label.to_owned();
        blocking(move || Self::create_blocking(&label)).await
    }

    fn create_blocking(label: &str) -> Option<Self> {
        let Some(bin) = find_bin() else {
            return unavailable("no initdb and pg_ctl in PG_BIN or /usr/lib/postgresql/<version>/bin");
        };
        let as_postgres = is_root();
        if as_postgres {
            let has_user = Command::new("id").args(["-u", "postgres"]).output().is_ok_and(|o| o.status.success());
            if !has_user {
                return unavailable("running as root, and there is no `postgres` OS user to run initdb as");
            }
            if !Path::new("/usr/sbin/runuser").exists() && !Path::new("/sbin/runuser").exists() {
                return unavailable("running as root, and `runuser` is missing");
            }
        }
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let label: String = label.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(24).collect();
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        // Short: the socket path (root + "/.s.PGSQL.<port>") must fit in 107 bytes.
        let root = std::env::temp_dir().join(format!(
            "alpg-{label}-{}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed),
            nanos % 1_000_000
        ));
        std::fs::create_dir_all(&root).expect("create the server's directory");
        let mut server = Server { bin, root, port: 0, as_postgres };
        if as_postgres {
            use std::os::unix::fs::PermissionsExt;
            // The postgres user creates data/, the socket and the logs here.
            std::fs::set_permissions(&server.root, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        }
        let data = server.data_dir();
        server
            .run(
                "initdb",
                &["-D", path_str(&data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"],
            )
            .unwrap_or_else(|e| {
                let _ = std::fs::remove_dir_all(&server.root);
                panic!("initdb failed: {e}")
            });
        // Another process may take the port between the probe and the bind:
        // try a few.
        let mut last = String::new();
        for _ in 0..3 {
            server.port = free_port();
            server.write_config();
            match server.start_blocking() {
                Ok(()) => return Some(Self { server, running: AtomicBool::new(true) }),
                Err(e) => last = e,
            }
        }
        let _ = std::fs::remove_dir_all(&server.root);
        panic!("the private PostgreSQL server did not start: {last}");
    }

    /// Starts the (stopped) server again on the same port and data, and
    /// waits until it accepts connections.
    pub async fn start(&self) {
        let server = self.server.clone();
        blocking(move || server.start_blocking())
            .await
            .unwrap_or_else(|e| panic!("restarting the private PostgreSQL server: {e}"));
        self.running.store(true, Ordering::SeqCst);
    }

    /// Stops the server the way a crash would (`pg_ctl stop -m immediate`):
    /// every connection is cut at once, committed data survives.
    pub async fn stop(&self) {
        self.stop_mode("immediate").await;
    }

    /// Stops the server with `pg_ctl stop -m <mode>` (`smart`, `fast` or
    /// `immediate`).
    pub async fn stop_mode(&self, mode: &str) {
        let server = self.server.clone();
        let mode = mode.to_owned();
        blocking(move || server.stop_blocking(&mode))
            .await
            .unwrap_or_else(|e| panic!("stopping the private PostgreSQL server: {e}"));
        self.running.store(false, Ordering::SeqCst);
    }

    /// The server's TCP port.
    pub fn port(&self) -> u16 {
        self.server.port
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.server.port)
    }

    /// Connect options for [`url`](Self::url).
    pub fn options(&self) -> PgConnectOptions {
        PgConnectOptions::from_str(&self.url()).expect("a valid URL")
    }

    /// A single connection (e.g. to count rows or terminate backends),
    /// outside every pool.
    pub async fn admin(&self) -> PgConnection {
        tokio::time::timeout(Duration::from_secs(30), self.options().application_name("test-admin").connect())
            .await
            .expect("connecting to the private server timed out")
            .expect("connect to the private server")
    }

    /// The server's log so far (errors and warnings only).
    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.server.root.join("server.log")).unwrap_or_default()
    }

    /// A pool of at most `n` connections.
    pub async fn pool(&self, n: u32) -> PgPool {
        PgPoolOptions::new()
            .max_connections(n)
            .connect_with(self.options())
            .await
            .expect("connect to the private server")
    }

    /// Terminates every backend whose `application_name` is
    /// `application_name` every 5-40 ms, from an admin connection, until
    /// [`ConnectionKiller::stop`].
    pub async fn kill_connections(&self, application_name: &str) -> ConnectionKiller {
        let (stop, mut admin) = (Arc::new(AtomicBool::new(false)), self.admin().await);
        let name = application_name.to_owned();
        let task = tokio::spawn({
            let stop = stop.clone();
            async move {
                let mut killed = 0_i64;
                while !stop.load(Ordering::Relaxed) {
                    let terminated: Result<i64, _> = sqlx::query_scalar(
                        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                         WHERE application_name = $1 AND pid <> pg_backend_pid()) AS t",
                    )
                    .bind(&name)
                    .fetch_one(&mut admin)
                    .await;
                    // A failed round (the server restarting) kills nothing.
                    killed += terminated.unwrap_or(0);
                    tokio::time::sleep(Duration::from_millis(fastrand::u64(5..40))).await;
                }
                killed
            }
        });
        ConnectionKiller { stop, task }
    }
}

/// A task terminating one application's connections (see
/// [`PrivatePostgres::kill_connections`]).
#[derive(Debug)]
pub struct ConnectionKiller {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<i64>,
}

impl ConnectionKiller {
    /// Stops the killing; returns how many backends were terminated.
    pub async fn stop(self) -> i64 {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("the connection killer task")
    }
}

impl Server {
    fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    /// Appends the test settings (later lines win, so a retry with another
    /// port just appends again).
    fn write_config(&self) {
        let mut conf = std::fs::OpenOptions::new()
            .append(true)
            .open(self.data_dir().join("postgresql.conf"))
            .expect("open postgresql.conf");
        writeln!(
            conf,
            "\n# activity-log private test server\nlisten_addresses = '127.0.0.1'\nport = {}\n\
             unix_socket_directories = '{}'\nfsync = off\nfull_page_writes = off\nshared_buffers = 32MB\n\
             max_connections = 60\nlog_min_messages = warning\n",
            self.port,
            self.root.display()
        )
        .expect("write postgresql.conf");
    }

    /// Runs one of the server's binaries (as `postgres` when root), with
    /// [`COMMAND_TIMEOUT`]; its output goes to `<root>/<tool>.out`.
    fn run(&self, tool: &str, args: &[&str]) -> Result<(), String> {
        let program = self.bin.join(tool);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        let out_path = self.root.join(format!("{tool}.out"));
        let out = std::fs::File::create(&out_path).map_err(|e| format!("{}: {e}", out_path.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        command.args(args).current_dir(&self.root).stdin(Stdio::null()).stdout(out).stderr(err);
        let mut child = command.spawn().map_err(|e| format!("{tool}: {e}"))?;
        let started = Instant::now();
        let status = loop {
            match child.try_wait().map_err(|e| e.to_string())? {
                Some(status) => break status,
                None if started.elapsed() > COMMAND_TIMEOUT => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!("{tool} {args:?} timed out after {COMMAND_TIMEOUT:?}"));
                }
                None => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        if status.success() {
            Ok(())
        } else {
            let output = std::fs::read_to_string(&out_path).unwrap_or_default();
            let log = std::fs::read_to_string(self.root.join("server.log")).unwrap_or_default();
            Err(format!("{tool} {args:?}: {status}\n{output}\nserver log:\n{log}"))
        }
    }

    fn start_blocking(&self) -> Result<(), String> {
        let data = self.data_dir();
        let log = self.root.join("server.log");
        self.run("pg_ctl", &["-D", path_str(&data), "-l", path_str(&log), "-w", "-t", "50", "start"])
    }

    fn stop_blocking(&self, mode: &str) -> Result<(), String> {
        let data = self.data_dir();
        self.run("pg_ctl", &["-D", path_str(&data), "-m", mode, "-w", "-t", "50", "stop"])
    }
}

impl Drop for PrivatePostgres {
    /// Stops the server (immediately; a stuck `pg_ctl` is followed by
    /// SIGKILL of the postmaster) and removes its directory.
    fn drop(&mut self) {
        let server = &self.server;
        if self.running.load(Ordering::SeqCst) || server.data_dir().join("postmaster.pid").exists() {
            if let Err(e) = server.stop_blocking("immediate") {
                let pid = std::fs::read_to_string(server.data_dir().join("postmaster.pid"))
                    .ok()
                    .and_then(|s| s.lines().next().map(str::to_owned));
                if let Some(pid) = pid {
                    let _ = Command::new("kill").args(["-KILL", pid.trim()]).status();
                }
                let _ = writeln!(std::io::stderr(), "warning: stopping the private PostgreSQL server: {e}");
            }
        }
        if let Err(e) = std::fs::remove_dir_all(&server.root) {
            let _ = writeln!(std::io::stderr(), "warning: could not remove {}: {e}", server.root.display());
        }
    }
}

/// Runs `f` on a blocking thread, passing its panic on.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(f).await {
        Ok(value) => value,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("blocking thread: {e}"),
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}
