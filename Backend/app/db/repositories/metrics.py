"""What /metrics reads from PostgreSQL: cheap queries on indexed, open rows only."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OutboxDepth:
    kind: str
    pending: int
    oldest_age_s: float  # since the oldest pending row became due


@dataclass(frozen=True)
class Backlog:
    open: int  # settlements not yet settled
    oldest_age_s: float


class MetricsRepository:
    def __init__(self, conn) -> None:
        self._conn = conn

    def outbox_depth(self) -> list[OutboxDepth]:
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT kind, count(*),
                       coalesce(extract(epoch FROM now() - min(available_at)), 0)
                FROM outbox WHERE status = 'pending' AND available_at <= now()
                GROUP BY kind ORDER BY kind
                """
            )
            return [OutboxDepth(k, int(n), max(0.0, float(age))) for k, n, age in cur.fetchall()]

    def outbox_stuck(self) -> dict[str, int]:
        """Rows an operator must look at ('unknown', 'failed'), by kind."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT kind, count(*) FROM outbox WHERE status IN ('unknown', 'failed')"
                " GROUP BY kind ORDER BY kind"
            )
            return {kind: int(n) for kind, n in cur.fetchall()}

    def settlement_backlog(self) -> Backlog:
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)
                FROM stellar_settlements WHERE status <> 'settled'
                """
            )
            n, age = cur.fetchone()
            return Backlog(int(n), max(0.0, float(age)))

    def latest_reconciliation(self) -> tuple[int, float] | None:
        """(accounts that drifted, age in seconds) of the latest report, if any."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT drifts, extract(epoch FROM now() - finished_at)"
                " FROM reconciliation_reports ORDER BY id DESC LIMIT 1"
            )
            row = cur.fetchone()
            return (int(row[0]), float(row[1])) if row else None
