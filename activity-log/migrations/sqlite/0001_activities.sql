-- activity-log SQLite schema, version 1.
--
-- Times are microseconds since the Unix epoch (UTC); ids are the 16 bytes
-- of the UUIDv7, so `ORDER BY occurred_at, id` is the crate's total order.
CREATE TABLE activities (
    id                 BLOB    NOT NULL PRIMARY KEY,
    occurred_at        INTEGER NOT NULL,
    tenant             TEXT,
    activity_type      TEXT    NOT NULL,
    target_kind        TEXT,
    target_id          TEXT,
    target_name        TEXT,
    actor_kind         TEXT,
    actor_id           TEXT,
    actor_name         TEXT,
    outcome            TEXT    NOT NULL,
    error              TEXT,
    severity           TEXT    NOT NULL,
    description        TEXT,
    -- The description lower-cased by Rust's `str::to_lowercase`, for
    -- Unicode case-insensitive search (SQLite's lower() is ASCII only).
    description_folded TEXT,
    metadata           TEXT,  -- JSON object; NULL when empty
    changes            TEXT,  -- JSON object; NULL when empty
    ip                 TEXT,
    user_agent         TEXT,
    request_id         TEXT,
    trace_id           TEXT,
    duration_us        INTEGER,
    tags               TEXT   -- JSON array; NULL when empty
);

-- Tenant and time first: every tenant-scoped query, newest or oldest first,
-- with keyset pagination on (occurred_at, id). The trailing columns make
-- it covering for stats over a time range (no table lookups).
CREATE INDEX activities_tenant_time
    ON activities (tenant, occurred_at, id, activity_type, outcome, target_kind, actor_id);
CREATE INDEX activities_tenant_type_time ON activities (tenant, activity_type, occurred_at);
CREATE INDEX activities_tenant_target_time ON activities (tenant, target_kind, target_id, occurred_at);
CREATE INDEX activities_tenant_actor_time ON activities (tenant, actor_id, occurred_at);
-- Unscoped (operator) queries and retention across tenants.
CREATE INDEX activities_time ON activities (occurred_at, id);
-- Everything of one request or operation.
CREATE INDEX activities_request ON activities (request_id) WHERE request_id IS NOT NULL;

-- Append-only: rows are never updated, and deleted only by retention,
-- which opens this gate inside its own write transaction (so no other
-- connection ever sees it open) and closes it before committing.
CREATE TABLE activity_retention_gate (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    open INTEGER NOT NULL CHECK (open IN (0, 1))
);
INSERT INTO activity_retention_gate (id, open) VALUES (1, 0);

CREATE TRIGGER activities_refuse_update BEFORE UPDATE ON activities
BEGIN
    SELECT RAISE(ABORT, 'activities are append-only: UPDATE is refused');
END;

CREATE TRIGGER activities_refuse_delete BEFORE DELETE ON activities
WHEN (SELECT open FROM activity_retention_gate WHERE id = 1) IS NOT 1
BEGIN
    SELECT RAISE(ABORT, 'activities are append-only: DELETE is refused outside retention');
END;

-- `INSERT OR REPLACE` would delete the existing row without firing the
-- delete trigger: a row whose id exists is skipped instead, which also
-- keeps every insert idempotent by id.
CREATE TRIGGER activities_refuse_replace BEFORE INSERT ON activities
WHEN EXISTS (SELECT 1 FROM activities WHERE id = NEW.id)
BEGIN
    SELECT RAISE(IGNORE);
END;
