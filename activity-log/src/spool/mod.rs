//! The spool: an append-only local buffer on disk for activities the sink
//! could not take (queue full, sink down), replayed in order when it
//! recovers.
//!
//! A spool is a directory of segment files named by a growing sequence
//! number. Records are length-prefixed and checksummed ([`record`]); callers
//! append with one `write` per record (so a killed process loses nothing
//! that was appended), and the worker fsyncs in groups. The worker replays
//! sealed segments oldest first and deletes each once all its records are
//! written.

mod record;

use crate::Activity;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard};

/// Why an append did not happen.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SpoolError {
    #[error("the spool is full ({max} bytes)")]
    Full { max: u64 },
    #[error("the spool could not be written: {0}")]
    Io(#[from] io::Error),
    #[error("the activity could not be encoded: {0}")]
    Encode(#[from] serde_json::Error),
}

/// A sealed segment read back for replay.
#[derive(Debug)]
pub(crate) struct Segment {
    path: PathBuf,
    bytes: u64,
    pub(crate) activities: Vec<Activity>,
    pub(crate) corrupt: bool,
}

struct Writer {
    file: File,
    seq: u64,
    size: u64,
    dirty: bool,
    /// Rotated-out segments not yet fsynced.
    unsynced: Vec<File>,
    /// A segment was created since the directory was last fsynced.
    dir_dirty: bool,
}

pub(crate) struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    segment_bytes: u64,
    writer: Mutex<Writer>,
    /// Bytes in every segment on disk.
    disk_bytes: AtomicU64,
}

/// What was found on disk when the spool was opened.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Recovered {
    pub(crate) records: u64,
}

const SUFFIX: &str = "spool";

impl Spool {
    /// Opens (creating) the spool in `dir` and counts what a previous
    /// process left there.
    pub(crate) fn open(dir: &Path, max_bytes: u64, segment_bytes: u64) -> io::Result<(Self, Recovered)> {
        fs::create_dir_all(dir)?;
        let mut recovered = Recovered::default();
        let mut disk_bytes = 0;
        let mut last_seq = 0;
        for (seq, path) in list_segments(dir)? {
            let bytes = fs::read(&path)?;
            if bytes.is_empty() {
                fs::remove_file(&path)?;
                continue;
            }
            let decoded = record::decode_all(&bytes);
            recovered.records += decoded.activities.len() as u64;
            disk_bytes += bytes.len() as u64;
            last_seq = last_seq.max(seq);
        }
        let writer = Writer::create(dir, last_seq + 1)?;
        let spool = Self {
            dir: dir.to_owned(),
            max_bytes,
            segment_bytes,
            writer: Mutex::new(writer),
            disk_bytes: AtomicU64::new(disk_bytes),
        };
        Ok((spool, recovered))
    }

    fn writer(&self) -> MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends `activities` in one write. All or nothing: on error none of
    /// them is in the spool. Encoding happens before the lock is taken.
    pub(crate) fn append(&self, activities: &[Activity]) -> Result<(), SpoolError> {
        let mut buf = Vec::with_capacity(activities.len() * 512);
        for a in activities {
            record::encode(a, &mut buf)?;
        }
        let len = buf.len() as u64;
        let mut w = self.writer();
        if self.disk_bytes.load(Relaxed) + len > self.max_bytes {
            return Err(SpoolError::Full { max: self.max_bytes });
        }
        w.append(&buf, &self.dir, self.segment_bytes)?;
        self.disk_bytes.fetch_add(len, Relaxed);
        Ok(())
    }

    /// Makes every appended record durable (fsync), if any since the last.
    /// The fsyncs run outside the lock, on duplicated handles, so callers
    /// appending meanwhile never wait for the disk.
    pub(crate) fn sync(&self) -> io::Result<()> {
        let (mut files, dir_dirty) = {
            let mut w = self.writer();
            let mut files = std::mem::take(&mut w.unsynced);
            if w.dirty {
                files.push(w.file.try_clone()?);
                w.dirty = false;
            }
            (files, std::mem::take(&mut w.dir_dirty))
        };
        if dir_dirty {
            files.push(File::open(&self.dir)?);
        }
        for file in files {
            file.sync_all()?;
        }
        Ok(())
    }

    /// Whether anything is on disk.
    pub(crate) fn is_empty(&self) -> bool {
        self.disk_bytes.load(Relaxed) == 0
    }

    /// Reads the oldest segment for replay, sealing the active one first
    /// when it is the only one with data.
    pub(crate) fn oldest(&self) -> io::Result<Option<Segment>> {
        let active = {
            let mut w = self.writer();
            let sealed_exist = list_segments(&self.dir)?.iter().any(|(seq, _)| *seq < w.seq);
            if !sealed_exist && w.size > 0 {
                w.rotate(&self.dir)?;
            }
            w.seq
        };
        let Some((_, path)) = list_segments(&self.dir)?.into_iter().find(|(seq, _)| *seq < active) else {
            return Ok(None);
        };
        let bytes = fs::read(&path)?;
        let decoded = record::decode_all(&bytes);
        Ok(Some(Segment { path, bytes: bytes.len() as u64, activities: decoded.activities, corrupt: decoded.corrupt }))
    }

    /// Deletes a replayed segment.
    pub(crate) fn remove(&self, segment: &Segment) -> io::Result<()> {
        fs::remove_file(&segment.path)?;
        self.disk_bytes.fetch_sub(segment.bytes.min(self.disk_bytes.load(Relaxed)), Relaxed);
        Ok(())
    }
}

impl Segment {
    /// The segment's file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Writer {
    fn create(dir: &Path, seq: u64) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(segment_path(dir, seq))?;
        Ok(Self { file, seq, size: 0, dirty: false, unsynced: Vec::new(), dir_dirty: true })
    }

    fn append(&mut self, bytes: &[u8], dir: &Path, segment_bytes: u64) -> io::Result<()> {
        if self.size > 0 && self.size + bytes.len() as u64 > segment_bytes {
            self.rotate(dir)?;
        }
        self.file.write_all(bytes)?;
        self.size += bytes.len() as u64;
        self.dirty = true;
        Ok(())
    }

    /// Starts the next segment; the old one is fsynced by the next `sync`.
    fn rotate(&mut self, dir: &Path) -> io::Result<()> {
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
}

fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:016x}.{SUFFIX}"))
}

/// The segments in `dir`, oldest first.
fn list_segments(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
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
