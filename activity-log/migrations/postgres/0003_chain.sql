-- activity-log PostgreSQL schema, version 3: the per-tenant hash chain.
--
-- Each chained row holds its position in its tenant's chain and the
-- SHA-256 chain hash there (see `activity_log::integrity`). Rows written
-- with chaining off (or before this version) have neither.
ALTER TABLE activities ADD COLUMN chain_seq bigint, ADD COLUMN chain_hash bytea;

-- Verification walks one tenant's chain in order.
CREATE INDEX activities_chain ON activities (tenant, chain_seq);

-- One row per chain: its head (the writer locks it with SELECT ... FOR
-- UPDATE inside the batch's transaction and advances it, so that writers
-- on any number of connections and instances extend one chain, never
-- fork it) and the retention cut (the position and hash of the last
-- record retention removed: verification starts there).
-- `tenanted` = false is the chain of activities without a tenant.
CREATE TABLE activity_chains (
    tenanted      boolean NOT NULL,
    tenant        text COLLATE "C" NOT NULL,
    head_position bigint  NOT NULL,
    head_hash     bytea   NOT NULL,
    cut_position  bigint  NOT NULL DEFAULT 0,
    cut_hash      bytea,
    PRIMARY KEY (tenanted, tenant)
);

-- Chain records removed by retention past the cut (written late, after
-- newer ones): their position and chain hash, so that verification steps
-- over them. Dropped once the cut passes them.
CREATE TABLE activity_chain_expired (
    tenanted boolean NOT NULL,
    tenant   text COLLATE "C" NOT NULL,
    position bigint  NOT NULL,
    hash     bytea   NOT NULL,
    PRIMARY KEY (tenanted, tenant, position)
);
