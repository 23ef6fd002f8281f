-- The applied migrations, created before any migration runs.
CREATE TABLE IF NOT EXISTS activity_log_migrations (
    version     INTEGER PRIMARY KEY,
    description TEXT    NOT NULL,
    applied_at  INTEGER NOT NULL  -- microseconds since the Unix epoch
);
