//! Tamper evidence: every activity a SQL store writes (unless chaining is
//! turned off with `PostgresSinkBuilder::chaining(false)` or
//! `SqliteSink::with_chaining(false)`; `log_in` always chains) is linked
//! into its tenant's hash chain, over the
//! [canonical bytes](canonical_bytes) of the logical record; signed
//! [checkpoints](Checkpoint) vouch for a chain's head; `verify` walks the
//! stored chain and names the first position that departs from it.
//!
//! - **Chain**: position `n` of a tenant's chain stores `hash(n) =
//!   SHA-256(hash(n-1) || n || canonical(record n))` ([`ChainHead`]).
//!   Positions are assigned inside the store's write transaction, under a
//!   lock on the tenant's chain head, so that any number of writer
//!   connections and application instances extend one chain and never
//!   fork it; a record whose id is already stored (a retry, an idempotent
//!   replay, a spool replay) is skipped and does not advance the chain.
//! - **Checkpoints**: an ed25519 signature over (tenant, position, head
//!   hash, time) ([`CheckpointSigner`]), exported as JSON.
//! - **Verification**: [`VerifyReport`] says which positions are intact
//!   and where the first break is ([`BreakKind`]): a missing, duplicated,
//!   altered or unreadable record, or a chain rebuilt from scratch (its
//!   hash at the checkpoint is not the one signed).
//!
//! The SQL stores implement [`ChainedStore`]: `chain_head`, `checkpoint`,
//! `verify`; [`spawn_checkpoints`] signs on a schedule.

pub(crate) mod canonical;
mod chain;
mod checkpoint;
mod error;
mod store;
mod verify;

pub use canonical::canonical_bytes;
pub use chain::{ChainHash, ChainHead};
pub use checkpoint::{Checkpoint, CheckpointSigner};
pub use error::IntegrityError;
pub use store::{spawn_checkpoints, ChainedStore};
pub use verify::{BreakKind, ChainBreak, VerifyReport};

#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(unused_imports))]
pub(crate) use canonical::write_canonical;
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(unused_imports))]
pub(crate) use chain::link_bytes;
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(unused_imports))]
pub(crate) use verify::{StoredLink, Walk};
