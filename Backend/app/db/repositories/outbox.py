"""The transactional outbox: effects recorded with the change that causes them.

Row life cycle (the worker drives it; see app/worker/outbox.py for why):
pending -> sending -> done | failed | pending (retry, later) | unknown.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg2.extensions
from psycopg2.extras import Json

from app.domain.records.admin import OutboxRow

_COLUMNS = "id, kind, payload, attempts, dedupe_key, status, available_at, last_error, request_id"


@dataclass(frozen=True)
class OutboxMessage:
    """An effect to queue: written by `add`, or with a ledger posting in one statement."""

    kind: str
    payload: dict
    dedupe_key: str


class OutboxRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def add(self, *, kind: str, payload: dict, dedupe_key: str) -> int | None:
        """Queue an effect once per dedupe key; returns its id, or None if queued before."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                INSERT INTO outbox (kind, payload, dedupe_key)
                VALUES (%(kind)s, %(payload)s, %(key)s)
                ON CONFLICT (dedupe_key) DO NOTHING
                RETURNING id
                """,
                {"kind": kind, "payload": Json(payload), "key": dedupe_key},
            )
            row = cur.fetchone()
        return row[0] if row else None

    def get(self, outbox_id: int) -> OutboxRow | None:
        """One row by id (no lock)."""
        with self._conn.cursor() as cur:
            cur.execute(f"SELECT {_COLUMNS} FROM outbox WHERE id = %(id)s", {"id": outbox_id})
            row = cur.fetchone()
        return OutboxRow(*row) if row else None

    def claim(self, *, kinds: list[str], limit: int = 1) -> list[OutboxRow]:
        """Lock due pending rows of the given kinds; rows other workers hold are skipped."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                SELECT {_COLUMNS} FROM outbox
                WHERE status = 'pending' AND available_at <= now()
                  AND kind = ANY(%(kinds)s)
                ORDER BY available_at, id
                LIMIT %(limit)s
                FOR UPDATE SKIP LOCKED
                """,
                {"kinds": kinds, "limit": limit},
            )
            return [OutboxRow(*row) for row in cur.fetchall()]

    def mark_sending(self, outbox_id: int, *, worker: str, lease_s: float) -> int:
        """Take the row for one attempt under a lease; returns the attempt number."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE outbox
                SET status = 'sending', attempts = attempts + 1, claimed_by = %(worker)s,
                    lease_expires_at = now() + make_interval(secs => %(lease)s),
                    updated_at = now()
                WHERE id = %(id)s AND status = 'pending'
                RETURNING attempts
                """,
                {"id": outbox_id, "worker": worker, "lease": lease_s},
            )
            row = cur.fetchone()
        if row is None:
            raise LookupError(f"outbox row {outbox_id} is not pending")
        return row[0]

    def mark_done(self, outbox_id: int) -> bool:
        """The effect happened; False if the row was no longer ours to finish."""
        return self._finish(outbox_id, "done", None)

    def mark_failed(self, outbox_id: int, error: str) -> bool:
        """The effect will never happen; False if the row was no longer ours."""
        return self._finish(outbox_id, "failed", error)

    def mark_unknown(self, outbox_id: int, error: str) -> bool:
        """The effect may or may not have happened; an operator decides."""
        return self._finish(outbox_id, "unknown", error)

    def mark_retry(self, outbox_id: int, *, error: str, delay_s: float) -> bool:
        """The effect provably did not happen; try again after delay_s."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE outbox
                SET status = 'pending', last_error = %(error)s, claimed_by = NULL,
                    lease_expires_at = NULL,
                    available_at = now() + make_interval(secs => %(delay)s),
                    updated_at = now()
                WHERE id = %(id)s AND status = 'sending'
                """,
                {"id": outbox_id, "error": error[:500], "delay": delay_s},
            )
            return cur.rowcount == 1

    def reclaim_stale(
        self, *, resumable_kinds: list[str] | None = None, limit: int = 100
    ) -> list[OutboxRow]:
        """Move rows whose 'sending' lease ran out to 'unknown', or those of a resumable
        kind back to 'pending' (at once); returns them with their new status."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                UPDATE outbox
                SET status = CASE WHEN kind = ANY(%(resumable)s) THEN 'pending'
                                  ELSE 'unknown' END,
                    claimed_by = NULL, lease_expires_at = NULL, available_at = now(),
                    updated_at = now(),
                    last_error = 'lease expired while sending (worker '
                                 || coalesce(claimed_by, '?') || ' died mid-call?)'
                WHERE id IN (
                    SELECT id FROM outbox
                    WHERE status = 'sending' AND lease_expires_at < now()
                    ORDER BY lease_expires_at
                    LIMIT %(limit)s
                    FOR UPDATE SKIP LOCKED
                )
                RETURNING {_COLUMNS}
                """,
                {"limit": limit, "resumable": resumable_kinds or []},
            )
            return [OutboxRow(*row) for row in cur.fetchall()]

    def count_by_status(self) -> dict[str, int]:
        """How many rows are in each status (for health and tests)."""
        with self._conn.cursor() as cur:
            cur.execute("SELECT status, count(*) FROM outbox GROUP BY status")
            return dict(cur.fetchall())

    def _finish(self, outbox_id: int, status: str, error: str | None) -> bool:
        # Only a row still 'sending' is finished: if its lease ran out and it was
        # reclaimed as 'unknown', the operator's view wins over a late worker.
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE outbox
                SET status = %(status)s, last_error = %(error)s, lease_expires_at = NULL,
                    updated_at = now()
                WHERE id = %(id)s AND status = 'sending'
                """,
                {"id": outbox_id, "status": status, "error": error[:500] if error else None},
            )
            return cur.rowcount == 1
