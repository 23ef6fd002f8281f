//! Redis Streams as the transport between many application instances and
//! the store (feature `redis`).
//!
//! ```text
//! app instance ─log_async─▶ logger ─▶ RedisStreamSink ──XADD──▶ stream(s) in Redis
//!   (spool covers Redis being down)                                │
//!                       StreamDrainer × N (one consumer group) ◀───┘ XREADGROUP / XAUTOCLAIM
//!                         │ Sink::write_batch (idempotent by id), then XACK
//!                         ▼
//!                       PostgreSQL (or any Sink)      rejected records ─▶ <name>:dead
//! ```
//!
//! - [`RedisStreamSink`]: the logger's sink on each application instance.
//!   The instance needs no database connection. When Redis is down its
//!   writes fail as transient, and the logger spills to its spool and
//!   replays when Redis is back, exactly as with a database sink.
//! - [`StreamDrainer`]: any number of them, in the application or in
//!   processes of their own, share a consumer group and move entries into
//!   a [`Sink`](crate::Sink), acknowledging only what the store
//!   acknowledged. Delivery is at least once; the store's idempotence by
//!   id makes it exactly once in the table.
//! - [`RedisLiveFeed`]: the live tail of every instance, for the HTTP
//!   router (see [its docs](RedisLiveFeed) for why it reads the stream).
//! - [`StreamLayout`]: one stream, or partitions by tenant. Partitions
//!   spread the stream over a Redis Cluster's shards (each key lives on
//!   one shard); on a single Redis they change little.
//!
//! # Durability: configure Redis to keep what it accepted
//!
//! Once `XADD` succeeded, the producer forgets the activity: from then on
//! Redis is the only copy until a drainer has written it. A Redis with
//! default settings keeps the data in memory and at best in periodic RDB
//! snapshots, so a Redis crash loses everything since the last snapshot.
//! In production:
//!
//! - turn on the append-only file: `appendonly yes`;
//! - with `appendfsync everysec` (the usual choice), Redis fsyncs the AOF
//!   once per second in the background: a crash of the **Redis process**
//!   alone loses nothing (the writes are in the kernel's page cache), but a
//!   crash or power loss of the **machine** loses up to about the last one
//!   to two seconds of appended activities (and, if the disk stalls, Redis
//!   may delay writes further). At 50,000 activities/s that is up to
//!   ~100,000 activities;
//! - `appendfsync always` fsyncs before every reply: nothing acknowledged
//!   is lost, at the cost of an fsync per pipeline (the sink sends one
//!   `MULTI`/`EXEC` per batch, so per batch, not per activity);
//! - a replica (`min-replicas-to-write 1`) protects against losing the
//!   machine; Redis replication is asynchronous, so a failover can still
//!   lose the last writes unless producers use `WAIT`.
//! - Set `maxmemory-policy noeviction`: an evicting Redis would delete
//!   streams. With `noeviction`, a full Redis refuses `XADD`, which the
//!   sink reports as transient: producers spill to their spools.
//!
//! The drainers trim each stream (`XTRIM MINID`) only behind the oldest
//! entry some consumer group still needs, so Redis memory holds the
//! backlog, not the history. The dead-letter stream is never trimmed:
//! inspect it ([`StreamDrainer::dead_letters`]) and re-log what deserves
//! it.
//!
//! # Scale model
//!
//! Measured on the development machine (2 vCPU, Redis, PostgreSQL and the
//! benchmark on the same two cores, other builds running;
//! `cargo bench -p activity-log-benches --features redis --bench redis_e2e`):
//! end to end 6,800 activities/s with 1 drainer, 9,400 with 2, 9,600 with
//! 4, against 12,900 for the logger writing to PostgreSQL directly in the
//! same run (ratio 0.74); one sink appended 83,600 activities/s. On two
//! shared cores every drainer competes with PostgreSQL and Redis for the
//! same CPU, so these are floors. The model, for a service logging
//! **50,000 activities/s**:
//!
//! - **Producers.** A pipelined batch of 1,000 `XADD`s costs Redis a few
//!   milliseconds; one Redis core takes well over 100,000 appends/s of
//!   ~400-byte entries, so 50,000/s is half a Redis core or less, whatever
//!   the number of instances. The instances' `log_async` cost does not
//!   change (the sink runs on the logger's worker).
//! - **Drainers.** Each drainer is bound by its store writes: one
//!   PostgreSQL writer connection moves about 30,000–40,000 rows/s of this
//!   table (see the PostgreSQL sink's docs), so 50,000/s needs 2–3
//!   drainers, 4 for headroom and to ride out one's death (its entries are
//!   claimed after `claim_idle`). More drainers than the store can absorb
//!   only add lock and index contention.
//! - **Partitions.** One stream is enough on one Redis: a consumer group
//!   hands out disjoint batches to any number of drainers. Partition
//!   (4–8) when Redis runs as a cluster, so that the load spreads over its
//!   shards, or when per-tenant ordering through separate drainers matters.
//! - **The next limits.** First PostgreSQL's write rate: its index
//!   maintenance caps one server at roughly 50,000–65,000 rows/s of this
//!   shape on this class of machine; beyond that, fewer indexes, a faster
//!   disk, or sharding the store. Then Redis memory: a backlog costs about
//!   0.5 KB per entry, so a 10-minute store outage at 50,000/s holds
//!   30 million entries ≈ 15 GB: size `maxmemory` for the outage you want
//!   to ride out (beyond it producers spill to their local spools). The
//!   network: 50,000 × ~0.5 KB = ~25 MB/s into Redis and again out to the
//!   drainers, ~0.4 Gbit/s in total: fine on 10 Gbit, tight on 1 Gbit with
//!   several live feeds reading the same stream.

mod drainer;
mod entry;
mod error;
mod layout;
mod link;
mod live;
mod sink;
mod stats;
mod stop;
mod trim;

pub use drainer::{DeadLetter, DrainerHandle, GroupPending, StreamDrainer, StreamDrainerBuilder};
pub use error::StreamError;
pub use layout::{StreamLayout, MAX_PARTITIONS};
pub use live::{RedisLiveFeed, RedisLiveFeedBuilder};
pub use sink::{RedisSinkStats, RedisStreamSink, RedisStreamSinkBuilder};
pub use stats::DrainerStats;
