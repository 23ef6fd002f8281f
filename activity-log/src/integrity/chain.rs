//! The per-tenant hash chain: position `n` of a tenant's chain holds
//! `hash(n) = SHA-256(hash(n - 1) || n as 8 big-endian bytes || canonical
//! bytes of record n)`, starting from a genesis hash that names the tenant.
//! Positions start at 1 and have no gaps; position 0 is the genesis.

use super::canonical::write_canonical;
use crate::Activity;
use sha2::{Digest, Sha256};
use std::fmt;

/// A SHA-256 hash in the chain.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChainHash(pub [u8; 32]);

impl ChainHash {
    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex digits; `None` if that is not what `s` is.
    pub fn from_hex(s: &str) -> Option<Self> {
        let mut bytes = [0; 32];
        hex::decode_to_slice(s, &mut bytes).ok()?;
        Some(Self(bytes))
    }

    /// The hash as stored: 32 bytes; `None` for any other length.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        Some(Self(bytes.try_into().ok()?))
    }
}

impl fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainHash({})", self.to_hex())
    }
}

impl fmt::Display for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Where a chain stands: its last position and the hash there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainHead {
    /// The last position (0: nothing chained yet).
    pub position: u64,
    /// The hash at `position` (the genesis hash at 0).
    pub hash: ChainHash,
}

impl ChainHead {
    /// The head of an empty chain for `tenant` (`None`: activities without
    /// a tenant, a chain of their own).
    pub fn genesis(tenant: Option<&str>) -> Self {
        let mut h = Sha256::new();
        h.update(b"activity-log/chain/v1/genesis\0");
        match tenant {
            None => h.update([0]),
            Some(t) => {
                h.update([1]);
                h.update(t.as_bytes());
            }
        }
        Self { position: 0, hash: ChainHash(h.finalize().into()) }
    }

    /// The head after appending `record` to this one: what a store
    /// computes when it writes the record (and an auditor when re-deriving
    /// a chain).
    ///
    /// ```
    /// use activity_log::integrity::ChainHead;
    /// use activity_log::Activity;
    ///
    /// let a = Activity::new("login").tenant("acme").build()?;
    /// let next = ChainHead::genesis(Some("acme")).append(&a);
    /// assert_eq!(next.position, 1);
    /// # Ok::<(), activity_log::ValidationError>(())
    /// ```
    pub fn append(&self, record: &Activity) -> ChainHead {
        let mut head = *self;
        Linker::default().append(&mut head, record)
    }
}

/// Links records onto chain heads, reusing one buffer for the canonical
/// bytes.
#[derive(Debug, Default)]
pub(crate) struct Linker {
    buffer: Vec<u8>,
}

impl Linker {
    /// The hash of `record` at `position`, after `prev`.
    pub(crate) fn link(&mut self, prev: &ChainHash, position: u64, record: &Activity) -> ChainHash {
        self.buffer.clear();
        write_canonical(record, &mut self.buffer);
        link_bytes(prev, position, &self.buffer)
    }

    /// Appends `record` to `head`; returns the new head.
    pub(crate) fn append(&mut self, head: &mut ChainHead, record: &Activity) -> ChainHead {
        let position = head.position + 1;
        let hash = self.link(&head.hash, position, record);
        *head = ChainHead { position, hash };
        *head
    }
}

/// `SHA-256(prev || position || canonical)`.
pub(crate) fn link_bytes(prev: &ChainHash, position: u64, canonical: &[u8]) -> ChainHash {
    let mut h = Sha256::new();
    h.update(prev.0);
    h.update(position.to_be_bytes());
    h.update(canonical);
    ChainHash(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genesis_names_the_tenant() {
        assert_ne!(ChainHead::genesis(None), ChainHead::genesis(Some("")));
        assert_ne!(ChainHead::genesis(Some("a")), ChainHead::genesis(Some("b")));
        assert_eq!(ChainHead::genesis(Some("a")), ChainHead::genesis(Some("a")));
    }

    #[test]
    fn every_link_depends_on_position_predecessor_and_record() {
        let a = Activity::new("x").build().expect("valid");
        let b = Activity::new("y").build().expect("valid");
        let mut l = Linker::default();
        let g = ChainHead::genesis(None);
        let h1 = l.link(&g.hash, 1, &a);
        assert_ne!(h1, l.link(&g.hash, 2, &a));
        assert_ne!(h1, l.link(&g.hash, 1, &b));
        assert_ne!(h1, l.link(&ChainHead::genesis(Some("t")).hash, 1, &a));
        assert_eq!(ChainHash::from_hex(&h1.to_hex()), Some(h1));
        assert_eq!(ChainHash::from_hex("zz"), None);
    }
}
