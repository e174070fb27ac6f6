"""Kenya's statutory deduction rules (migration 0034): every version, read as data."""

from __future__ import annotations

import psycopg2.extensions

from app.domain.wages import PayeBand, StatutoryRule


class WageRuleRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def rules(self) -> list[StatutoryRule]:
        """Every version of every item, oldest first (a handful of rows)."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT item, effective_from, employee_rate_bp, employer_rate_bp,
                       tax_deductible, minimum, lower_limit, upper_limit, relief
                FROM statutory_rules ORDER BY item, effective_from
                """
            )
            return [StatutoryRule(*row) for row in cur.fetchall()]

    def paye_bands(self) -> list[PayeBand]:
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT effective_from, band, upper_limit, rate_bp
                FROM paye_bands ORDER BY effective_from, band
                """
            )
            return [PayeBand(*row) for row in cur.fetchall()]
