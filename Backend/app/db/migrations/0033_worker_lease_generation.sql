-- Fencing for worker leases (app/db/leases.py): every acquisition numbers the lease anew
-- (generation + 1), and a renewal or a release names the generation its holder took, so
-- a holder whose lease lapsed and was taken by another meanwhile (even if it has lapsed
-- again since) is refused and stops acting as holder. A release leaves the row, lapsed
-- (expires_at = renewed_at), so that the number never goes back.
ALTER TABLE worker_leases
    ADD COLUMN generation BIGINT NOT NULL DEFAULT 1 CHECK (generation >= 1),
    DROP CONSTRAINT worker_leases_check,
    ADD CONSTRAINT worker_leases_check
        CHECK (acquired_at <= renewed_at AND renewed_at <= expires_at);
ALTER TABLE worker_leases ALTER COLUMN generation DROP DEFAULT;
