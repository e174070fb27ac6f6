"""Employers, their workers, pay runs and their lines (migration 0035).

Lock order, for every caller: a line's row, then its run's row, then ledger accounts
(in the lock order, LedgerRepository.accounts): approving and paying lines never wait on
each other the other way round.
"""

from __future__ import annotations

from app.db.repositories.wage_pay_lines import PayRunLineRepository
from app.db.repositories.wage_pay_runs import PayRunRepository
from app.db.repositories.wage_workers import EmployerWorkerRepository


class WageRepository(EmployerWorkerRepository, PayRunRepository, PayRunLineRepository):
    """uow.wages: employers and workers (wage_workers.py), pay runs (wage_pay_runs.py)
    and their lines (wage_pay_lines.py), on one connection, and wages' system accounts."""

    def open_accounts(self, kind: str, codes: list[str]) -> None:
        """Wages' system accounts (kind wage_hold or wage_dues), opened on first use."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                INSERT INTO ledger_accounts (kind, code)
                SELECT %(kind)s, code FROM unnest(%(codes)s::text[]) AS code
                ON CONFLICT (code) DO NOTHING
                """,
                {"kind": kind, "codes": codes},
            )
