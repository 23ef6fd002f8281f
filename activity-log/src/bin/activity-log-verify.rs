//! `activity-log-verify`: the auditor's tool. Checks a store's hash chain
//! against a signed checkpoint kept elsewhere, and says which records are
//! intact and where the first break is.
//!
//! ```text
//! activity-log-verify <database-url> <checkpoint.json> [--public-key <hex>]
//! ```
//!
//! `database-url` is `sqlite://path/to/activity.db` or
//! `postgres://user@host/db` (`?options=-csearch_path%3Daudit` for another
//! schema). With `--public-key`, the checkpoint must be signed by that key.
//! Exit status: 0 intact, 1 broken (or the signature does not verify),
//! 2 usage or connection error.

use activity_log::integrity::{ChainedStore, Checkpoint, IntegrityError};
use std::process::ExitCode;

const USAGE: &str = "usage: activity-log-verify <database-url> <checkpoint.json> [--public-key <hex>]";

struct Args {
    url: String,
    checkpoint: String,
    public_key: Option<String>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut positional = Vec::new();
    let mut public_key = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--public-key" => public_key = Some(args.next().ok_or("--public-key needs a value")?),
            "-h" | "--help" => return Err(USAGE.to_owned()),
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}\n{USAGE}")),
            _ => positional.push(arg),
        }
    }
    match <[String; 2]>::try_from(positional) {
        Ok([url, checkpoint]) => Ok(Args { url, checkpoint, public_key }),
        Err(_) => Err(USAGE.to_owned()),
    }
}

async fn open(url: &str) -> Result<Box<dyn ChainedStore>, String> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let file = path.split('?').next().unwrap_or(path);
        if !std::path::Path::new(file).exists() {
            return Err(format!("no SQLite database at {file}"));
        }
        let store = activity_log::sqlite::SqliteSink::connect(url).await.map_err(|e| e.to_string())?;
        Ok(Box::new(store))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = activity_log::postgres::PostgresSink::connect(url).await.map_err(|e| e.to_string())?;
        Ok(Box::new(store))
    } else {
        Err("the database URL must start with sqlite:// or postgres://".into())
    }
}

async fn run(args: Args) -> Result<bool, String> {
    let text = std::fs::read_to_string(&args.checkpoint)
        .map_err(|e| format!("cannot read the checkpoint {}: {e}", args.checkpoint))?;
    let checkpoint = Checkpoint::from_json(&text).map_err(|e| e.to_string())?;
    if let Err(e) = checkpoint.check_signature(args.public_key.as_deref()) {
        println!("checkpoint REJECTED: {e}");
        return Ok(false);
    }
    println!(
        "checkpoint: tenant {:?}, position {}, head {}, signed {} by {}",
        checkpoint.tenant,
        checkpoint.position,
        checkpoint.head,
        checkpoint.time.to_rfc3339(),
        checkpoint.public_key_hex()
    );
    let store = open(&args.url).await?;
    match store.verify(checkpoint.tenant.as_deref(), &checkpoint).await {
        Ok(report) => {
            println!("{report}");
            Ok(report.is_intact())
        }
        Err(IntegrityError::BadSignature) => {
            println!("checkpoint REJECTED: bad signature");
            Ok(false)
        }
        Err(e) => Err(e.to_string()),
    }
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("activity-log-verify: {e}");
            ExitCode::from(2)
        }
    }
}
