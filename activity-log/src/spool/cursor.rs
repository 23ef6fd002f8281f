//! The replay position, and where it is kept on disk (`dir/cursor`) so that
//! the next process does not replay what this one already delivered.
//!
//! The file is rewritten in place after every delivered batch and never
//! fsynced: a stale position only replays a few records again, which every
//! sink takes idempotently (by id).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// A byte position in the spool: segment and offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Position {
    pub(crate) seq: u64,
    pub(crate) offset: u64,
}

pub(crate) struct CursorFile {
    file: File,
}

impl CursorFile {
    /// Opens the cursor file and reads the position saved in it, if any.
    pub(crate) fn open(dir: &Path) -> io::Result<(Self, Option<Position>)> {
        let mut file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(dir.join("cursor"))?;
        let mut bytes = [0; 16];
        let saved = match file.read_exact(&mut bytes) {
            Ok(()) => {
                let (seq, offset) = bytes.split_at(8);
                let word = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
                Some(Position { seq: word(seq), offset: word(offset) })
            }
            Err(_) => None,
        };
        Ok((Self { file }, saved))
    }

    pub(crate) fn save(&mut self, at: Position) -> io::Result<()> {
        let mut bytes = [0; 16];
        bytes[..8].copy_from_slice(&at.seq.to_le_bytes());
        bytes[8..].copy_from_slice(&at.offset.to_le_bytes());
        self.file.seek(SeekFrom::Start(0))?;
        self.file.write_all(&bytes)
    }
}
