-- activity-log PostgreSQL schema, version 1.
--
-- Runs with `search_path` set to the target schema, inside one transaction
-- holding the migration advisory lock.

-- The log, partitioned by time: retention drops whole partitions instead of
-- deleting rows. The primary key of a partitioned table must include the
-- partition key: (occurred_at, id) keeps writes idempotent, since a replayed
-- record carries the same id and time, and doubles as the time index for
-- unscoped queries and keyset pagination.
--
-- Indexed text columns use the "C" collation: byte-wise comparisons are
-- several times cheaper to maintain than a linguistic collation, and the
-- byte order is the order every store sorts by.
CREATE TABLE activities (
    id                 uuid        NOT NULL,
    occurred_at        timestamptz NOT NULL,
    recorded_at        timestamptz NOT NULL DEFAULT now(),
    tenant             text COLLATE "C",
    activity_type      text COLLATE "C" NOT NULL,
    target_kind        text COLLATE "C",
    target_id          text COLLATE "C",
    target_name        text,
    actor_kind         text,
    actor_id           text COLLATE "C",
    actor_name         text,
    outcome            text        NOT NULL,
    error              text,
    severity           text        NOT NULL,
    description        text,
    -- The description lower-cased by Rust's `str::to_lowercase`, so that
    -- search is case-insensitive exactly as on every other store.
    description_folded text,
    metadata           jsonb,  -- NULL when empty
    changes            jsonb,  -- NULL when empty
    ip                 inet,   -- the address, when it parses as one
    -- The ip as given, when it is not an address `host(ip)` prints back
    -- identically (an unparsable ip is kept, never refused).
    ip_text            text,
    user_agent         text,
    request_id         text COLLATE "C",
    trace_id           text,
    duration_us        bigint,
    tags               jsonb,  -- JSON array; NULL when empty
    PRIMARY KEY (occurred_at, id)
) PARTITION BY RANGE (occurred_at);

-- Get by id (the id's own time may differ from occurred_at).
CREATE INDEX activities_id ON activities (id);
-- Every tenant-scoped query, newest or oldest first, keyset pagination.
CREATE INDEX activities_tenant_time ON activities (tenant, occurred_at, id);
-- Tenant + activity type(s) + time range, and stats over it.
CREATE INDEX activities_tenant_type_time ON activities (tenant, activity_type, occurred_at);
-- The history of one resource, and of one actor.
CREATE INDEX activities_tenant_target_time ON activities (tenant, target_kind, target_id, occurred_at);
CREATE INDEX activities_tenant_actor_time ON activities (tenant, actor_id, occurred_at);

-- The partitions the sink created, with their bounds (retention reads them
-- instead of parsing catalog expressions).
CREATE TABLE activity_log_partitions (
    name        text        PRIMARY KEY,
    lower_bound timestamptz NOT NULL,
    upper_bound timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Append-only: UPDATE and TRUNCATE are always refused, DELETE unless the
-- transaction set `activity_log.retention` to `on` (the retention path
-- does, with set_config(..., true), so no other transaction ever sees it).
CREATE FUNCTION activity_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('activity_log.retention', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'activities are append-only: % is refused outside retention', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

-- Row triggers on a partitioned table are cloned onto every partition.
CREATE TRIGGER activities_append_only BEFORE UPDATE OR DELETE ON activities
    FOR EACH ROW EXECUTE FUNCTION activity_log_refuse_change();
-- Statement triggers are not: each partition gets its own (see below).
CREATE TRIGGER activities_no_truncate BEFORE TRUNCATE ON activities
    FOR EACH STATEMENT EXECUTE FUNCTION activity_log_refuse_change();

-- Creates the partition [p_lower, p_upper) named `p_name` unless it exists or
-- its range is already covered (e.g. by a monthly partition when daily ones
-- are asked for). Serialised by an advisory lock so that several instances
-- can call it at once.
CREATE FUNCTION activity_log_create_partition(p_name text, p_lower timestamptz, p_upper timestamptz)
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext(current_schema() || '.activity_log_partitions'));
    IF EXISTS (SELECT 1 FROM activity_log_partitions p WHERE p.name = p_name) THEN
        RETURN false;
    END IF;
    BEGIN
        EXECUTE format('CREATE TABLE %I PARTITION OF activities FOR VALUES FROM (%L) TO (%L)',
                       p_name, p_lower, p_upper);
    EXCEPTION WHEN invalid_object_definition OR duplicate_table THEN
        RETURN false; -- overlaps an existing partition: the range is covered
    END;
    EXECUTE format('CREATE TRIGGER activities_no_truncate BEFORE TRUNCATE ON %I '
                   'FOR EACH STATEMENT EXECUTE FUNCTION activity_log_refuse_change()', p_name);
    INSERT INTO activity_log_partitions (name, lower_bound, upper_bound) VALUES (p_name, p_lower, p_upper);
    RETURN true;
END
$$;
