//! The spool: an append-only log on local disk for activities the sink
//! could not take yet (queue full, sink down) or, in write-ahead mode, for
//! every accepted activity before `log_async` returns.
//!
//! A spool is a directory of segment files named by a growing sequence
//! number ([`segment`]). Records are length-prefixed and checksummed
//! ([`record`]); callers append with one `write` per call (so a killed
//! process loses nothing that was appended), and the worker fsyncs in
//! groups. The worker reads records back from a [`Position`] (also in the
//! active segment, which is read up to its last whole record), delivers
//! them, and commits the position; a segment is deleted once read to its
//! end. Replay costs what is replayed: nothing is decoded twice, and
//! opening a spool only checks the checksums of what is left.
//!
//! One logger owns a directory at a time ([`lock`]).

mod cursor;
mod lock;
mod record;
mod segment;

use crate::Activity;
use cursor::CursorFile;
pub(crate) use cursor::Position;
use lock::{DirLock, LockError};
use segment::Writer;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
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
    #[error("the spool was closed when the logger shut down")]
    Closed,
}

/// Why a spool could not be opened.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// Another logger (this process or another) has the directory.
    Locked {
        pid: Option<u32>,
    },
    Io(io::Error),
}

impl From<io::Error> for OpenError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

/// Records read back for delivery.
#[derive(Debug)]
pub(crate) struct Batch {
    pub(crate) activities: Vec<Activity>,
    /// Where each record ends (parallel to `activities`).
    ends: Vec<Position>,
    /// Where the read ended: after the last record, or at the end of a
    /// segment whose rest is torn or corrupt.
    end: Position,
    /// The segment ended in a torn or corrupt record, skipped by this batch.
    pub(crate) corrupt: bool,
}

pub(crate) struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    segment_bytes: u64,
    writer: Mutex<Writer>,
    reader: Mutex<Reader>,
    /// Bytes in every segment on disk.
    disk_bytes: AtomicU64,
    /// Taken by [`close`](Self::close).
    lock: Mutex<Option<DirLock>>,
}

/// The worker's side: where replay stands, and the open segment it reads.
struct Reader {
    at: Position,
    file: Option<(u64, File)>,
    cursor: CursorFile,
    /// Bytes per record in the last read: sizes the next one, so that a
    /// batch reads about what it decodes.
    record_len: u64,
}

/// What was found on disk when the spool was opened.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Recovered {
    pub(crate) records: u64,
}

/// A read takes at most this many bytes at once (more for one larger record).
const READ_CHUNK: u64 = if cfg!(test) { 4 << 10 } else { 4 << 20 };

/// A fully replayed active segment this large is rotated out and deleted
/// (in write-ahead mode it would otherwise grow to `segment_bytes`).
const ROTATE_REPLAYED: u64 = 1 << 20;

impl Spool {
    /// Opens (creating) the spool in `dir`, takes its lock, and counts what
    /// a previous process left there.
    pub(crate) fn open(dir: &Path, max_bytes: u64, segment_bytes: u64) -> Result<(Self, Recovered), OpenError> {
        fs::create_dir_all(dir)?;
        let lock = DirLock::acquire(dir).map_err(|e| match e {
            LockError::Held { pid } => OpenError::Locked { pid },
            LockError::Io(e) => OpenError::Io(e),
        })?;
        let (cursor, saved) = CursorFile::open(dir)?;
        let mut recovered = Recovered::default();
        let mut disk_bytes = 0;
        let mut last_seq = 0;
        let mut start: Option<Position> = None;
        for (seq, path) in segment::list(dir)? {
            last_seq = last_seq.max(seq);
            let bytes = fs::read(&path)?;
            // Replayed to the end by the previous owner, or never written.
            if bytes.is_empty() || saved.is_some_and(|s| seq < s.seq) {
                fs::remove_file(&path)?;
                continue;
            }
            let from = match saved {
                Some(s) if s.seq == seq && at_record(&bytes, s.offset) => s.offset,
                _ => 0,
            };
            recovered.records += record::scan(&bytes[from as usize..]).records;
            disk_bytes += bytes.len() as u64;
            start.get_or_insert(Position { seq, offset: from });
        }
        // Past the saved position too, so that it never points ahead of new segments.
        let writer = Writer::create(dir, last_seq.max(saved.map_or(0, |s| s.seq)) + 1)?;
        let at = start.unwrap_or(Position { seq: writer.seq, offset: 0 });
        let spool = Self {
            dir: dir.to_owned(),
            max_bytes,
            segment_bytes,
            writer: Mutex::new(writer),
            reader: Mutex::new(Reader { at, file: None, cursor, record_len: 512 }),
            disk_bytes: AtomicU64::new(disk_bytes),
            lock: Mutex::new(Some(lock)),
        };
        Ok((spool, recovered))
    }

    fn writer(&self) -> MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn reader(&self) -> MutexGuard<'_, Reader> {
        self.reader.lock().unwrap_or_else(|e| e.into_inner())
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
        if w.closed {
            return Err(SpoolError::Closed);
        }
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
        let (mut files, dir_dirty) = self.writer().take_unsynced()?;
        if dir_dirty {
            files.push(File::open(&self.dir)?);
        }
        for file in files {
            file.sync_all()?;
        }
        Ok(())
    }

    /// Refuses further appends and releases the directory for the next
    /// logger. What is left stays on disk for it.
    pub(crate) fn close(&self) {
        self.writer().closed = true;
        let _ = self.sync();
        self.lock.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    /// Where the next append will go: replaying up to here covers
    /// everything appended so far.
    pub(crate) fn end(&self) -> Position {
        let w = self.writer();
        Position { seq: w.seq, offset: w.size }
    }

    /// Whether everything appended has been replayed.
    pub(crate) fn is_empty(&self) -> bool {
        let at = self.reader().at;
        at >= self.end()
    }

    /// Reads up to `max` records from the replay position, not past
    /// `until`. `None` when there is nothing (more) to read.
    pub(crate) fn read(&self, max: usize, until: Position) -> io::Result<Option<Batch>> {
        let mut r = self.reader();
        loop {
            let end = self.end();
            let at = r.at;
            if at >= until.min(end) {
                return Ok(None);
            }
            let file = r.open(&self.dir)?;
            let segment_end = if at.seq == end.seq { end.offset } else { file.metadata()?.len() };
            if at.offset >= segment_end {
                // A sealed segment read to its end (or emptied): the next one.
                self.finish_segment(&mut r)?;
                continue;
            }
            // About `max` records' worth, a little more to spare.
            let want = (max as u64).saturating_mul(r.record_len + r.record_len / 4).clamp(4 << 10, READ_CHUNK);
            let file = r.open(&self.dir)?;
            let batch = read_records(file, at, segment_end.min(at.offset + want), segment_end, max)?;
            if let Some(last) = batch.ends.last() {
                r.record_len = (last.offset - at.offset) / batch.ends.len() as u64;
            }
            return Ok(Some(batch));
        }
    }

    /// Records that the first `done` records of `batch` were delivered (all
    /// of them: also skips a corrupt tail), deleting what is fully replayed.
    pub(crate) fn commit(&self, batch: &Batch, done: usize) -> io::Result<()> {
        let at = match done {
            n if n >= batch.activities.len() => batch.end,
            0 => return Ok(()),
            n => batch.ends[n - 1],
        };
        let mut r = self.reader();
        r.at = at;
        r.cursor.save(at)?;
        let end = self.end();
        if at.seq < end.seq {
            let len = fs::metadata(segment::segment_path(&self.dir, at.seq))?.len();
            if at.offset >= len {
                self.finish_segment(&mut r)?;
            }
        } else if at == end && end.offset >= ROTATE_REPLAYED {
            let mut w = self.writer();
            if w.seq == at.seq && w.size == at.offset {
                w.rotate(&self.dir)?;
                drop(w);
                self.finish_segment(&mut r)?;
            }
        }
        Ok(())
    }

    /// Deletes the segment the reader is at and moves it to the next one.
    fn finish_segment(&self, r: &mut Reader) -> io::Result<()> {
        let seq = r.at.seq;
        r.file = None;
        let path = segment::segment_path(&self.dir, seq);
        match fs::metadata(&path) {
            Ok(meta) => {
                fs::remove_file(&path)?;
                self.disk_bytes.fetch_sub(meta.len().min(self.disk_bytes.load(Relaxed)), Relaxed);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let active = self.writer().seq;
        let next = segment::list(&self.dir)?.into_iter().map(|(s, _)| s).find(|&s| s > seq).unwrap_or(active);
        r.at = Position { seq: next.min(active), offset: 0 };
        r.cursor.save(r.at)
    }
}

impl Reader {
    /// The segment file the reader is at, opened once.
    fn open(&mut self, dir: &Path) -> io::Result<&mut File> {
        let seq = self.at.seq;
        if self.file.as_ref().map_or(true, |(s, _)| *s != seq) {
            self.file = Some((seq, File::open(segment::segment_path(dir, seq))?));
        }
        match &mut self.file {
            Some((_, file)) => Ok(file),
            None => Err(io::Error::other("spool segment not open")),
        }
    }
}

/// Whether `offset` is the end of `bytes` or the start of an intact record.
fn at_record(bytes: &[u8], offset: u64) -> bool {
    match bytes.get(offset as usize..) {
        Some([]) => true,
        Some(rest) => matches!(record::next(rest), record::Next::Record { .. }),
        None => false,
    }
}

/// Reads and decodes up to `max` whole records of the segment `file` from
/// `at`, reading up to `read_end` (more for one larger record), not past
/// `segment_end`.
fn read_records(file: &mut File, at: Position, read_end: u64, segment_end: u64, max: usize) -> io::Result<Batch> {
    let mut want = read_end - at.offset;
    loop {
        let mut buf = Vec::with_capacity(want as usize);
        file.seek(SeekFrom::Start(at.offset))?;
        (&mut *file).take(want).read_to_end(&mut buf)?;
        if (buf.len() as u64) < want {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "a spool segment is shorter than written"));
        }
        let mut batch = Batch { activities: Vec::new(), ends: Vec::new(), end: at, corrupt: false };
        let mut offset = 0;
        let mut grow = false;
        while batch.activities.len() < max && offset < buf.len() {
            match record::next(&buf[offset..]) {
                record::Next::Record { payload, len } => match record::decode(payload) {
                    Some(activity) => {
                        offset += len;
                        batch.activities.push(activity);
                        batch.ends.push(Position { seq: at.seq, offset: at.offset + offset as u64 });
                    }
                    None => batch.corrupt = true,
                },
                record::Next::Incomplete { len } => {
                    if at.offset + (offset + len) as u64 > segment_end {
                        batch.corrupt = true; // torn: the segment ends inside it
                    } else if offset == 0 {
                        (want, grow) = (len as u64, true); // larger than a chunk: read it whole
                    }
                    break; // else the chunk cut it: the next read starts with it
                }
                record::Next::Corrupt => batch.corrupt = true,
            }
            if batch.corrupt {
                break;
            }
        }
        if grow {
            continue;
        }
        batch.end = match batch.corrupt {
            true => Position { seq: at.seq, offset: segment_end },
            false => Position { seq: at.seq, offset: at.offset + offset as u64 },
        };
        return Ok(batch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn activities(range: std::ops::Range<u64>) -> Vec<Activity> {
        range.map(|i| Activity::new("call_created").target("call", i).build().unwrap()).collect()
    }

    fn ids(batch: &Batch) -> Vec<String> {
        batch.activities.iter().map(|a| a.target.clone().unwrap().id.unwrap()).collect()
    }

    fn replay_all(spool: &Spool, max: usize) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(batch) = spool.read(max, spool.end()).unwrap() {
            out.extend(ids(&batch));
            spool.commit(&batch, batch.activities.len()).unwrap();
        }
        out
    }

    #[test]
    fn replays_in_order_across_segments_and_deletes_them() {
        let dir = tempfile::tempdir().unwrap();
        let (spool, recovered) = Spool::open(dir.path(), 1 << 30, 4_096).unwrap();
        assert_eq!(recovered.records, 0);
        for a in activities(0..200) {
            spool.append(std::slice::from_ref(&a)).unwrap();
        }
        assert!(segment::list(dir.path()).unwrap().len() > 3, "small segments rotate");
        let got = replay_all(&spool, 7);
        assert_eq!(got, (0..200).map(|i| i.to_string()).collect::<Vec<_>>());
        assert!(spool.is_empty());
        assert_eq!(segment::list(dir.path()).unwrap().len(), 1, "only the active segment is left");
    }

    #[test]
    fn a_partial_commit_resumes_where_it_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let (spool, _) = Spool::open(dir.path(), 1 << 30, 1 << 20).unwrap();
        spool.append(&activities(0..10)).unwrap();
        let batch = spool.read(10, spool.end()).unwrap().unwrap();
        spool.commit(&batch, 4).unwrap();
        assert_eq!(replay_all(&spool, 100), (4..10).map(|i| i.to_string()).collect::<Vec<_>>());
    }

    #[test]
    fn the_next_owner_starts_at_the_saved_position() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (spool, _) = Spool::open(dir.path(), 1 << 30, 1 << 20).unwrap();
            spool.append(&activities(0..10)).unwrap();
            let batch = spool.read(6, spool.end()).unwrap().unwrap();
            spool.commit(&batch, 6).unwrap();
        }
        let (spool, recovered) = Spool::open(dir.path(), 1 << 30, 1 << 20).unwrap();
        assert_eq!(recovered.records, 4);
        assert_eq!(replay_all(&spool, 100), (6..10).map(|i| i.to_string()).collect::<Vec<_>>());
    }

    #[test]
    fn a_second_owner_is_refused_with_the_holders_pid() {
        let dir = tempfile::tempdir().unwrap();
        let (_spool, _) = Spool::open(dir.path(), 1 << 30, 1 << 20).unwrap();
        match Spool::open(dir.path(), 1 << 30, 1 << 20) {
            Err(OpenError::Locked { pid }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("expected a lock error, got {:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn reads_cut_by_the_chunk_size_resume_at_the_cut_record() {
        let dir = tempfile::tempdir().unwrap();
        let (spool, _) = Spool::open(dir.path(), 1 << 30, 64 << 20).unwrap();
        spool.append(&activities(0..100)).unwrap();
        let first = spool.read(1_000, spool.end()).unwrap().unwrap();
        assert!(first.activities.len() < 100, "a 4 KiB chunk holds only part of 100 records");
        assert_eq!(replay_all(&spool, 1_000).len(), 100);
    }

    #[test]
    fn a_record_larger_than_a_read_chunk_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let (spool, _) = Spool::open(dir.path(), 1 << 30, 64 << 20).unwrap();
        let big = Activity::new("note").meta("blob", "x".repeat(READ_CHUNK as usize + 10)).build().unwrap();
        spool.append(std::slice::from_ref(&big)).unwrap();
        spool.append(&activities(0..3)).unwrap();
        let batch = spool.read(10, spool.end()).unwrap().unwrap();
        assert_eq!(batch.activities, vec![big]);
        spool.commit(&batch, 1).unwrap();
        assert_eq!(replay_all(&spool, 10), vec!["0", "1", "2"]);
    }
}
