-- The applied migrations, created before any migration runs (inside the
-- migration transaction, under its advisory lock). Checked first, so that
-- a role without CREATE on the schema (a writer, see migration 4) can
-- connect once the owner has migrated.
DO $$
BEGIN
    IF to_regclass('activity_log_migrations') IS NULL THEN
        CREATE TABLE activity_log_migrations (
            version     bigint      PRIMARY KEY,
            description text        NOT NULL,
            applied_at  timestamptz NOT NULL DEFAULT now()
        );
    END IF;
END
$$;
