//! Walking a chain: each store reads one tenant's chained records in
//! position order and feeds them to a [`Walk`], which recomputes every
//! hash and reports the first position where the stored log departs from
//! the chain a checkpoint vouches for.

use super::chain::link_bytes;
use super::{ChainHash, ChainHead, Checkpoint};
use std::fmt;
use uuid::Uuid;

/// What verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyReport {
    /// The chain's tenant.
    pub tenant: Option<String>,
    /// The position the checkpoint covers.
    pub checkpoint_position: u64,
    /// The first position checked: 1, or the one after the retention cut
    /// (records before it were removed by retention; the chain hash at the
    /// cut is kept).
    pub from: u64,
    /// How many records, from `from` on, are intact: every position up to
    /// `from + intact - 1` holds exactly the record the chain says.
    pub intact: u64,
    /// Of those, how many lie after the checkpoint: they chain on
    /// correctly, but no signature covers them yet.
    pub beyond_checkpoint: u64,
    /// The first position where the log departs from the chain, if any.
    pub first_break: Option<ChainBreak>,
    /// Positions past `from` whose records retention removed (written late,
    /// after newer ones): stepped over with the chain hash retention kept.
    pub expired: u64,
    /// Rows of this tenant that have no chain position: written with
    /// chaining off, or inserted behind the store's back.
    pub unchained: u64,
}

impl VerifyReport {
    /// Whether everything the checkpoint covers is intact, nothing after
    /// it is broken, and no row lies outside the chain.
    pub fn is_intact(&self) -> bool {
        self.first_break.is_none() && self.unchained == 0
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tenant = self.tenant.as_deref().map_or_else(|| "(no tenant)".to_owned(), |t| format!("{t:?}"));
        let last = (self.from + self.intact).saturating_sub(1);
        match &self.first_break {
            None => write!(
                f,
                "tenant {tenant}: intact: positions {} to {last} ({} records, {} after the checkpoint at {})",
                self.from, self.intact, self.beyond_checkpoint, self.checkpoint_position
            )?,
            Some(b) => write!(
                f,
                "tenant {tenant}: BROKEN at position {}: {}; positions {} to {last} are intact",
                b.position, b.kind, self.from
            )?,
        }
        if self.unchained > 0 {
            write!(f, "; {} rows have no chain position", self.unchained)?;
        }
        Ok(())
    }
}

/// Where and how the log departs from its chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    /// The first position that does not verify.
    pub position: u64,
    /// What is wrong there.
    pub kind: BreakKind,
    /// The id of the record found there, if one was.
    pub id: Option<Uuid>,
}

/// What is wrong at a broken position.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BreakKind {
    /// No record holds this position: deleted, or the tail was cut off.
    Missing,
    /// More than one record claims this position: one was inserted.
    Duplicate,
    /// The record's contents (or its stored hash) do not match the chain:
    /// a field was edited, or records were swapped.
    Altered,
    /// A stored column derived from the record (named) does not match it.
    DerivedColumn(&'static str),
    /// The record could not be read back as an activity.
    Unreadable(String),
    /// Every record up to the checkpoint chains correctly, but the hash
    /// at its position is not the one signed: the chain was rebuilt.
    CheckpointMismatch,
    /// Retention removed the checkpoint's position, and the hash kept at
    /// the cut is not on the checkpoint's chain (or the cut lies beyond
    /// it): use a newer checkpoint.
    BeforeRetentionCut,
}

impl fmt::Display for BreakKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str("no record at this position (deleted, or the tail was cut off)"),
            Self::Duplicate => f.write_str("more than one record claims this position (an inserted record)"),
            Self::Altered => f.write_str("the record does not match its chain hash (edited or swapped)"),
            Self::DerivedColumn(c) => write!(f, "the stored `{c}` does not match the record"),
            Self::Unreadable(why) => write!(f, "the record cannot be read: {why}"),
            Self::CheckpointMismatch => {
                f.write_str("the chain hash differs from the signed checkpoint (rebuilt chain)")
            }
            Self::BeforeRetentionCut => f.write_str("the checkpoint's position was removed by retention"),
        }
    }
}

/// One stored record, as a store read it (its canonical bytes are fed
/// beside it).
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
#[derive(Debug)]
pub(crate) struct StoredLink {
    pub(crate) position: u64,
    /// The stored id, if it could be read.
    pub(crate) id: Option<Uuid>,
    pub(crate) hash: Option<ChainHash>,
    /// The record's id, or why the record could not be decoded.
    pub(crate) record: Result<Uuid, String>,
    /// A derived column that does not match the record.
    pub(crate) derived_mismatch: Option<&'static str>,
}

/// The state of a verification in progress.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
#[derive(Debug)]
pub(crate) struct Walk {
    report: VerifyReport,
    checkpoint_head: ChainHash,
    prev: ChainHead,
}

#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
impl Walk {
    /// Starts at `start` (the genesis or the retention cut) towards
    /// `checkpoint`.
    pub(crate) fn new(checkpoint: &Checkpoint, start: ChainHead) -> Self {
        let mut report = VerifyReport {
            tenant: checkpoint.tenant.clone(),
            checkpoint_position: checkpoint.position,
            from: start.position + 1,
            intact: 0,
            beyond_checkpoint: 0,
            first_break: None,
            expired: 0,
            unchained: 0,
        };
        if start.position > checkpoint.position
            || (start.position == checkpoint.position && start.hash != checkpoint.head)
        {
            report.first_break =
                Some(ChainBreak { position: checkpoint.position, kind: BreakKind::BeforeRetentionCut, id: None });
        }
        Self { report, checkpoint_head: checkpoint.head, prev: start }
    }

    /// Whether a break was found (reading can stop).
    pub(crate) fn is_broken(&self) -> bool {
        self.report.first_break.is_some()
    }

    fn broken(&mut self, position: u64, kind: BreakKind, id: Option<Uuid>) {
        self.report.first_break = Some(ChainBreak { position, kind, id });
    }

    /// Checks the next record in position order, whose canonical bytes are
    /// `canonical` (ignored when the record could not be read); returns
    /// whether to go on.
    pub(crate) fn feed(&mut self, link: StoredLink, canonical: &[u8]) -> bool {
        if self.is_broken() {
            return false;
        }
        let expected = self.prev.position + 1;
        if link.position < expected {
            // Same position again (or earlier, after a break we stopped at).
            self.broken(link.position, BreakKind::Duplicate, link.id);
            return false;
        }
        if link.position > expected {
            self.broken(expected, BreakKind::Missing, None);
            return false;
        }
        let record_id = match link.record {
            Ok(id) => id,
            Err(why) => {
                self.broken(expected, BreakKind::Unreadable(why), link.id);
                return false;
            }
        };
        let hash = link_bytes(&self.prev.hash, expected, canonical);
        if Some(hash) != link.hash || link.id != Some(record_id) {
            self.broken(expected, BreakKind::Altered, link.id);
            return false;
        }
        if let Some(column) = link.derived_mismatch {
            self.broken(expected, BreakKind::DerivedColumn(column), link.id);
            return false;
        }
        if expected == self.report.checkpoint_position && hash != self.checkpoint_head {
            self.broken(expected, BreakKind::CheckpointMismatch, link.id);
            return false;
        }
        self.prev = ChainHead { position: expected, hash };
        self.report.intact += 1;
        if expected > self.report.checkpoint_position {
            self.report.beyond_checkpoint += 1;
        }
        true
    }

    /// Steps over a record retention removed past the cut (its position
    /// and chain hash were noted); returns whether to go on.
    pub(crate) fn step_over(&mut self, position: u64, hash: Option<ChainHash>) -> bool {
        if self.is_broken() {
            return false;
        }
        let expected = self.prev.position + 1;
        if position != expected {
            let kind = if position < expected { BreakKind::Duplicate } else { BreakKind::Missing };
            self.broken(position.min(expected), kind, None);
            return false;
        }
        let Some(hash) = hash else {
            self.broken(expected, BreakKind::Unreadable("the expired record's hash is not 32 bytes".into()), None);
            return false;
        };
        if expected == self.report.checkpoint_position && hash != self.checkpoint_head {
            self.broken(expected, BreakKind::CheckpointMismatch, None);
            return false;
        }
        self.prev = ChainHead { position: expected, hash };
        self.report.expired += 1;
        true
    }

    /// The report, once every record was fed (or a break found), with the
    /// count of rows outside the chain.
    pub(crate) fn finish(mut self, unchained: u64) -> VerifyReport {
        if !self.is_broken() && self.prev.position < self.report.checkpoint_position {
            self.broken(self.prev.position + 1, BreakKind::Missing, None);
        }
        self.report.unchained = unchained;
        self.report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integrity::{canonical_bytes, CheckpointSigner};
    use crate::Activity;

    /// A stored record: its link and the record itself.
    type Stored = (StoredLink, Activity);

    fn chain(n: usize) -> (Vec<Stored>, Checkpoint) {
        let mut head = ChainHead::genesis(Some("t"));
        let mut links = Vec::new();
        for i in 0..n {
            let a = Activity::new("x").tenant("t").meta("i", i).build().expect("valid");
            let h = head.append(&a);
            head = h;
            let link = StoredLink {
                position: h.position,
                id: Some(a.id),
                hash: Some(h.hash),
                record: Ok(a.id),
                derived_mismatch: None,
            };
            links.push((link, a));
        }
        let cp = CheckpointSigner::from_secret([1; 32]).sign(Some("t"), head, chrono::Utc::now());
        (links, cp)
    }

    fn walk(links: Vec<Stored>, cp: &Checkpoint) -> VerifyReport {
        let mut w = Walk::new(cp, ChainHead::genesis(Some("t")));
        for (l, a) in links {
            if !w.feed(l, &canonical_bytes(&a)) {
                break;
            }
        }
        w.finish(0)
    }

    #[test]
    fn a_clean_chain_is_intact() {
        let (links, cp) = chain(10);
        let r = walk(links, &cp);
        assert!(r.is_intact(), "{r}");
        assert_eq!(r.intact, 10);
    }

    #[test]
    fn edits_deletions_insertions_and_truncation_are_found_where_they_are() {
        let (links, cp) = chain(10);
        let r = walk(links.into_iter().filter(|l| l.0.position != 4).collect(), &cp);
        assert_eq!(r.first_break.map(|b| (b.position, b.kind)), Some((4, BreakKind::Missing)));

        let (mut links, cp) = chain(10);
        links[6].1.metadata.insert("i".into(), 99.into());
        let r = walk(links, &cp);
        assert_eq!(r.first_break.map(|b| (b.position, b.kind)), Some((7, BreakKind::Altered)));
        assert_eq!(r.intact, 6);

        let (links, cp) = chain(10);
        let r = walk(links.into_iter().take(8).collect(), &cp);
        assert_eq!(r.first_break.map(|b| (b.position, b.kind)), Some((9, BreakKind::Missing)));

        let (mut links, cp) = chain(10);
        let copy = (StoredLink { record: links[2].0.record.clone(), ..links[2].0 }, links[2].1.clone());
        links.insert(3, copy);
        let r = walk(links, &cp);
        assert_eq!(r.first_break.map(|b| (b.position, b.kind)), Some((3, BreakKind::Duplicate)));
    }

    #[test]
    fn a_rebuilt_chain_fails_at_the_checkpoint() {
        let (_, cp) = chain(5);
        let (links, _) = chain(5);
        let r = walk(links, &cp);
        assert_eq!(r.first_break.map(|b| (b.position, b.kind)), Some((5, BreakKind::CheckpointMismatch)));
    }
}
