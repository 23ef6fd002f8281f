//! Segment files (`{seq:016x}.spool`, oldest first) and the appending side.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

const SUFFIX: &str = "spool";

pub(crate) fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:016x}.{SUFFIX}"))
}

/// The segments in `dir`, oldest first.
pub(crate) fn list(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut segments = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some(SUFFIX) {
            continue;
        }
        if let Some(seq) = path.file_stem().and_then(|s| s.to_str()).and_then(|s| u64::from_str_radix(s, 16).ok()) {
            segments.push((seq, path));
        }
    }
    segments.sort();
    Ok(segments)
}

/// The active segment, appended to under the spool's writer lock.
pub(crate) struct Writer {
    file: File,
    /// The active segment's sequence number.
    pub(crate) seq: u64,
    /// Bytes in the active segment: every one of them a whole record.
    pub(crate) size: u64,
    dirty: bool,
    /// Rotated-out segments not yet fsynced.
    unsynced: Vec<File>,
    /// A segment was created since the directory was last fsynced.
    dir_dirty: bool,
    /// The spool was closed: no more appends.
    pub(crate) closed: bool,
}

impl Writer {
    pub(crate) fn create(dir: &Path, seq: u64) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(segment_path(dir, seq))?;
        Ok(Self { file, seq, size: 0, dirty: false, unsynced: Vec::new(), dir_dirty: true, closed: false })
    }

    /// Appends whole records in one `write`. On failure nothing of them
    /// stays in the segment (a torn record would hide every later one).
    pub(crate) fn append(&mut self, bytes: &[u8], dir: &Path, segment_bytes: u64) -> io::Result<()> {
        if self.size > 0 && self.size + bytes.len() as u64 > segment_bytes {
            self.rotate(dir)?;
        }
        if let Err(e) = self.file.write_all(bytes) {
            if self.file.set_len(self.size).is_err() {
                let _ = self.rotate(dir);
            }
            return Err(e);
        }
        self.size += bytes.len() as u64;
        self.dirty = true;
        Ok(())
    }

    /// Starts the next segment; the old one is fsynced by the next `sync`.
    pub(crate) fn rotate(&mut self, dir: &Path) -> io::Result<()> {
        let next = Self::create(dir, self.seq + 1)?;
        let old = std::mem::replace(&mut self.file, next.file);
        if self.dirty {
            self.unsynced.push(old);
        }
        self.seq = next.seq;
        self.size = 0;
        self.dirty = false;
        self.dir_dirty = true;
        Ok(())
    }

    /// The files (and whether the directory) to fsync for everything
    /// appended so far; the fsyncs themselves run outside the lock.
    pub(crate) fn take_unsynced(&mut self) -> io::Result<(Vec<File>, bool)> {
        let mut files = std::mem::take(&mut self.unsynced);
        if self.dirty {
            files.push(self.file.try_clone()?);
            self.dirty = false;
        }
        Ok((files, std::mem::take(&mut self.dir_dirty)))
    }
}
