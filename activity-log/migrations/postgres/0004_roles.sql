-- activity-log PostgreSQL schema, version 4: writers that cannot rewrite
-- history, and readers confined to one tenant.
--
-- A writer role (activity_log_grant_writer) may only INSERT and SELECT
-- activities; it has no DELETE privilege, so setting
-- `activity_log.retention = on` opens nothing for it: retention runs with
-- the owner's rights only. It may advance chain heads (UPDATE of the head
-- columns) but not move a retention cut.
--
-- Partition upkeep runs with the owner's rights (SECURITY DEFINER, with a
-- fixed search_path), so that a writer without CREATE still gets the
-- partitions its batches need.
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION activity_log_create_partition(text, timestamptz, timestamptz) '
                   'SECURITY DEFINER SET search_path = %I, pg_temp', current_schema());
    EXECUTE format('ALTER FUNCTION activity_log_analyze_partition(timestamptz) '
                   'SECURITY DEFINER SET search_path = %I, pg_temp', current_schema());
END
$$;
REVOKE ALL ON FUNCTION activity_log_create_partition(text, timestamptz, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION activity_log_analyze_partition(timestamptz) FROM PUBLIC;

-- Grants `p_role` what the sink needs to write and read, and nothing that
-- deletes or rewrites: run it as the owner, e.g.
-- `SELECT activity_log_grant_writer('app_writer')`.
CREATE FUNCTION activity_log_grant_writer(p_role text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', current_schema(), p_role);
    EXECUTE format('GRANT SELECT, INSERT ON activities TO %I', p_role);
    EXECUTE format('GRANT SELECT ON activity_log_migrations, activity_log_partitions TO %I', p_role);
    EXECUTE format('GRANT SELECT, INSERT ON activity_chains TO %I', p_role);
    EXECUTE format('GRANT UPDATE (head_position, head_hash) ON activity_chains TO %I', p_role);
    EXECUTE format('GRANT EXECUTE ON FUNCTION activity_log_create_partition(text, timestamptz, timestamptz), '
                   'activity_log_analyze_partition(timestamptz) TO %I', p_role);
    -- Sees and writes every tenant when row-level security is on.
    EXECUTE format('DROP POLICY IF EXISTS %I ON activities', 'activity_log_writer_' || p_role);
    EXECUTE format('CREATE POLICY %I ON activities TO %I USING (true) WITH CHECK (true)',
                   'activity_log_writer_' || p_role, p_role);
END
$$;

-- Grants `p_role` SELECT on activities, confined by row-level security to
-- the tenant its session names with `SET activity_log.tenant = '...'` (no
-- rows while unset). Turns row-level security on for the table: roles
-- other than the owner then need a policy (writers get one from
-- activity_log_grant_writer).
CREATE FUNCTION activity_log_grant_tenant_reader(p_role text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', current_schema(), p_role);
    EXECUTE format('GRANT SELECT ON activities TO %I', p_role);
    ALTER TABLE activities ENABLE ROW LEVEL SECURITY;
    EXECUTE format('DROP POLICY IF EXISTS %I ON activities', 'activity_log_reader_' || p_role);
    EXECUTE format('CREATE POLICY %I ON activities FOR SELECT TO %I '
                   'USING (tenant = current_setting(''activity_log.tenant'', true))',
                   'activity_log_reader_' || p_role, p_role);
END
$$;
