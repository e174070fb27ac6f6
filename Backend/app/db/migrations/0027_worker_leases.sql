-- Leases for worker loops that run in one process at a time (app/db/leases.py): rows,
-- not session advisory locks, so that they hold behind PgBouncer in transaction mode.
CREATE TABLE worker_leases (
    name        TEXT        PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9-]{1,62}$'),
    holder      TEXT        NOT NULL CHECK (length(holder) BETWEEN 1 AND 200),
    acquired_at TIMESTAMPTZ NOT NULL,
    renewed_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    CHECK (acquired_at <= renewed_at AND renewed_at < expires_at)
);
