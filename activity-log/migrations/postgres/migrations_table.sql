-- The applied migrations, created before any migration runs (inside the
-- migration transaction, under its advisory lock).
CREATE TABLE IF NOT EXISTS activity_log_migrations (
    version     bigint      PRIMARY KEY,
    description text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);
