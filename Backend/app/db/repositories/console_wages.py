"""The console's wages report: per employer and month, what its paid lines came to and
what is due to each authority, read from the pay run lines (the payslips as paid, whose
shares are what `wage_payment` posted to the `wage_dues` accounts).

A month is the runs' pay dates (a pay date is a Nairobi day), as the CSV report's.
"""

from __future__ import annotations

from datetime import date

import psycopg2.extensions

from app.domain.records.wages import EmployerMonth, ItemDue
from app.domain.wages import ITEMS

_PAID = """
    SELECT r.employer_user_id, r.id AS run_id, l.phone, l.gross, l.net, l.deductions
    FROM pay_runs r JOIN pay_run_lines l ON l.pay_run_id = r.id
    WHERE r.pay_date BETWEEN %(first)s AND %(last)s AND l.status = 'paid'
      AND (%(employer)s::bigint IS NULL OR r.employer_user_id = %(employer)s)
      AND (%(after)s::bigint IS NULL OR r.employer_user_id > %(after)s)
"""


class ConsoleWagesRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def employer_months(
        self,
        first: date,
        last: date,
        *,
        employer_user_id: int | None = None,
        after_id: int | None = None,
        limit: int,
    ) -> list[EmployerMonth]:
        """Employers with a line paid in runs dated first..last (only employer_user_id's,
        when given; those above after_id), by user id, up to limit; each with its dues
        per item in ITEMS order."""
        params = {
            "first": first,
            "last": last,
            "employer": employer_user_id,
            "after": after_id,
            "limit": limit,
        }
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                WITH paid AS ({_PAID}),
                heads AS (
                    SELECT employer_user_id, count(DISTINCT run_id) AS runs,
                           count(DISTINCT phone) AS workers, sum(gross) AS gross,
                           sum(net) AS net
                    FROM paid GROUP BY employer_user_id
                    ORDER BY employer_user_id LIMIT %(limit)s
                )
                SELECT h.employer_user_id, u.paytrace_id, u.phone, u.full_name, h.runs,
                       h.workers, h.gross, h.net
                FROM heads h JOIN users u ON u.id = h.employer_user_id
                ORDER BY h.employer_user_id
                """,
                params,
            )
            heads = cur.fetchall()
            if not heads:
                return []
            cur.execute(
                f"""
                WITH paid AS ({_PAID})
                SELECT p.employer_user_id, part->>'item',
                       sum((part->>'employee')::bigint), sum((part->>'employer')::bigint)
                FROM paid p CROSS JOIN jsonb_array_elements(p.deductions) AS part
                WHERE p.employer_user_id = ANY(%(ids)s)
                GROUP BY 1, 2
                """,
                {**params, "ids": [row[0] for row in heads]},
            )
            parts: dict[int, dict[str, ItemDue]] = {}
            for employer, item, employee, employer_share in cur.fetchall():
                parts.setdefault(employer, {})[item] = ItemDue(
                    item, int(employee), int(employer_share)
                )
        return [
            EmployerMonth(
                employer_user_id=row[0],
                paytrace_id=row[1],
                phone=row[2],
                full_name=row[3],
                runs=row[4],
                workers=row[5],
                gross=int(row[6]),
                net=int(row[7]),
                dues=tuple(
                    sorted(parts.get(row[0], {}).values(), key=lambda d: ITEMS.index(d.item))
                ),
            )
            for row in heads
        ]

    def balances(self, codes: list[str]) -> dict[str, int]:
        """The balances of the ledger accounts with these codes (those opened)."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT code, balance FROM ledger_accounts WHERE code = ANY(%(codes)s)",
                {"codes": codes},
            )
            return {code: int(balance) for code, balance in cur.fetchall()}
