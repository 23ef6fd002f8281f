//! One process (one logger) owns a spool directory at a time: an exclusive
//! advisory lock on `dir/lock`, holding the owner's pid for the error the
//! next one gets.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// Held for the life of the spool; the operating system releases it when
/// the file is closed, also when the process is killed.
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: File,
}

/// Why the lock could not be taken.
#[derive(Debug)]
pub(crate) enum LockError {
    /// Another logger holds it; its pid, when it wrote one.
    Held {
        pid: Option<u32>,
    },
    Io(io::Error),
}

impl DirLock {
    pub(crate) fn acquire(dir: &Path) -> Result<Self, LockError> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join("lock"))
            .map_err(LockError::Io)?;
        match fs4::FileExt::try_lock(&file) {
            Ok(()) => {}
            Err(fs4::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let pid = file.read_to_string(&mut text).ok().and_then(|_| text.trim().parse().ok());
                return Err(LockError::Held { pid });
            }
            Err(fs4::TryLockError::Error(e)) => return Err(LockError::Io(e)),
        }
        let write_pid = |file: &mut File| -> io::Result<()> {
            file.set_len(0)?;
            file.seek(SeekFrom::Start(0))?;
            write!(file, "{}", std::process::id())
        };
        write_pid(&mut file).map_err(LockError::Io)?;
        Ok(Self { _file: file })
    }
}
