-- activity-log SQLite schema, version 2: the per-tenant hash chain.
--
-- Each chained row holds its position in its tenant's chain and the
-- SHA-256 chain hash there (see `activity_log::integrity`). Rows written
-- with chaining off (or before this version) have neither.
ALTER TABLE activities ADD COLUMN chain_seq INTEGER;
ALTER TABLE activities ADD COLUMN chain_hash BLOB;

-- Verification walks one tenant's chain in order.
CREATE INDEX activities_chain ON activities (tenant, chain_seq);

-- One row per chain: its head (the writer reads and advances it inside
-- the batch's write transaction) and the retention cut (the position and
-- hash of the last record retention removed: verification starts there).
-- `tenanted` = 0 is the chain of activities without a tenant.
CREATE TABLE activity_chains (
    tenanted      INTEGER NOT NULL CHECK (tenanted IN (0, 1)),
    tenant        TEXT    NOT NULL,
    head_position INTEGER NOT NULL,
    head_hash     BLOB    NOT NULL,
    cut_position  INTEGER NOT NULL DEFAULT 0,
    cut_hash      BLOB,
    PRIMARY KEY (tenanted, tenant)
);

-- Chain records removed by retention past the cut (written late, after
-- newer ones): their position and chain hash, so that verification steps
-- over them. Dropped once the cut passes them.
CREATE TABLE activity_chain_expired (
    tenanted INTEGER NOT NULL,
    tenant   TEXT    NOT NULL,
    position INTEGER NOT NULL,
    hash     BLOB    NOT NULL,
    PRIMARY KEY (tenanted, tenant, position)
);
